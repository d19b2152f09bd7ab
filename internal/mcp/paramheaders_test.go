package mcp

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParamHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schema string
		want         []ParamHeader
		err          string
	}{
		{"none", `{"type":"object","properties":{"q":{"type":"string"}}}`, nil, ""},
		{"top level and nested", `{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},` +
			`"opts":{"type":"object","properties":{"n":{"type":"integer","x-mcp-header":"N"}}}}}`,
			[]ParamHeader{{"N", []string{"opts", "n"}}, {"Region", []string{"region"}}}, ""},
		{"a property named x-mcp-header is a property", `{"properties":{"x-mcp-header":{"type":"boolean","x-mcp-header":"Flag"}}}`,
			[]ParamHeader{{"Flag", []string{"x-mcp-header"}}}, ""},
		{"number type", `{"properties":{"f":{"type":"number","x-mcp-header":"F"}}}`, nil, "must be string, integer or boolean"},
		{"not a token", `{"properties":{"f":{"type":"string","x-mcp-header":"a b"}}}`, nil, "not an HTTP header name token"},
		{"empty", `{"properties":{"f":{"type":"string","x-mcp-header":""}}}`, nil, "not an HTTP header name token"},
		{"twice ignoring case", `{"properties":{"a":{"type":"string","x-mcp-header":"R"},"b":{"type":"string","x-mcp-header":"r"}}}`, nil, "used twice"},
		{"under items", `{"properties":{"a":{"type":"array","items":{"type":"string","x-mcp-header":"A"}}}}`, nil, "only properties reached"},
		{"under oneOf", `{"properties":{"a":{"oneOf":[{"type":"string","x-mcp-header":"A"}]}}}`, nil, "only properties reached"},
		{"at the root", `{"type":"string","x-mcp-header":"Root"}`, nil, "only properties reached"},
		{"not JSON", `{"x-mcp-header":`, nil, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParamHeaders(json.RawMessage(tt.schema))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestCheckParamHeaders(t *testing.T) {
	t.Parallel()
	ps := []ParamHeader{{"Region", []string{"region"}}, {"N", []string{"opts", "n"}}}
	tests := []struct {
		name, args string
		headers    map[string]string
		err        string
	}{
		{"all mirrored", `{"region":"us-west1","opts":{"n":42}}`, map[string]string{"Mcp-Param-Region": "us-west1", "mcp-param-n": "42.0"}, ""},
		{"base64", `{"region":"Hello, 世界"}`, map[string]string{"Mcp-Param-Region": "=?base64?SGVsbG8sIOS4lueVjA==?="}, ""},
		{"absent and null need no header", `{"region":null}`, nil, ""},
		{"mismatch", `{"region":"eu"}`, map[string]string{"Mcp-Param-Region": "us"}, "header value 'us' does not match body value '\"eu\"'"},
		{"missing header", `{"region":"eu"}`, nil, "the Mcp-Param-Region header is required"},
		{"header without value", `{}`, map[string]string{"Mcp-Param-Region": "eu"}, "no value at /region"},
		{"invalid characters", `{"region":"eu"}`, map[string]string{"Mcp-Param-Region": "e\x01u"}, "not a valid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			v := CheckParamHeaders(h, json.RawMessage(tt.args), ps)
			if tt.err == "" {
				assert.Nil(t, v)
				return
			}
			require.NotNil(t, v)
			assert.Equal(t, http.StatusBadRequest, v.Status)
			assert.Equal(t, -32020, v.Code)
			assert.Contains(t, v.Message, tt.err)
		})
	}
}

func TestSameParamValue(t *testing.T) {
	t.Parallel()
	assert.True(t, SameParamValue("42", json.RawMessage(`42.0`)), "integers compare numerically")
	assert.True(t, SameParamValue("-7", json.RawMessage(`-7`)))
	assert.True(t, SameParamValue("true", json.RawMessage(`true`)))
	assert.True(t, SameParamValue("a b", json.RawMessage(`"a b"`)))
	assert.False(t, SameParamValue("42", json.RawMessage(`"43"`)))
	assert.False(t, SameParamValue("x", json.RawMessage(`null`)))
}

// Any schema: no panic; what is accepted names header tokens on
// properties paths, unique ignoring case.
func FuzzParamHeaders(f *testing.F) {
	for _, s := range []string{`{"properties":{"a":{"type":"string","x-mcp-header":"A"}}}`,
		`{"properties":{"a":{"items":{"x-mcp-header":"A"}}}}`, `[]`, `{"x-mcp-header":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, schema []byte) {
		ps, err := ParamHeaders(schema)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range ps {
			require.True(t, isToken(p.Name), "%q", p.Name)
			require.NotEmpty(t, p.Path)
			require.False(t, seen[strings.ToLower(p.Name)])
			seen[strings.ToLower(p.Name)] = true
		}
	})
}
