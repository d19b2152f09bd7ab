package mcp

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	msg := []byte(` {"jsonrpc":"2.0","id":7,"params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","a\u0062":[1,{"x":"}"}]}}} `)
	for _, tt := range []struct {
		path []string
		want string
	}{
		{[]string{"id"}, `7`},
		{[]string{"params", "name"}, `"echo"`},
		{[]string{"params", "_meta", "io.modelcontextprotocol/protocolVersion"}, `"2026-07-28"`},
		{[]string{"params", "_meta", "ab"}, `[1,{"x":"}"}]`},
		{[]string{"params", "missing"}, ``},
		{[]string{"id", "deeper"}, ``},
	} {
		assert.Equal(t, tt.want, string(Lookup(msg, tt.path...)), "%v", tt.path)
	}
	assert.Equal(t, `2`, string(Lookup([]byte(`{"a":1,"a":2}`), "a")), "the last duplicate wins, as in encoding/json")
}

func TestSetAndDelete(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, val string
		path          []string
		want          string
	}{
		{"replace id", `{"jsonrpc":"2.0","id":"abc","result":{}}`, `42`, []string{"id"}, `{"jsonrpc":"2.0","id":42,"result":{}}`},
		{"add member", `{"result":{"tools":[]}}`, `"complete"`, []string{"result", "resultType"}, `{"result":{"tools":[],"resultType":"complete"}}`},
		{"add to empty object", `{"result":{}}`, `0`, []string{"result", "ttlMs"}, `{"result":{"ttlMs":0}}`},
		{"create objects on the way", `{"params":{}}`, `"1"`, []string{"params", "_meta", "k"}, `{"params":{"_meta":{"k":"1"}}}`},
		{"keep spacing elsewhere", `{ "id" : 1 , "x" : [ 1 ] }`, `"r"`, []string{"id"}, `{ "id" : "r" , "x" : [ 1 ] }`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Set([]byte(tt.in), []byte(tt.val), tt.path...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
	for _, tt := range []struct{ in, want string }{
		{`{"a":1,"b":2,"c":3}`, `{"a":1,"c":3}`},
		{`{"a":1,"b":2}`, `{"a":1}`},
		{`{"b":2,"a":1}`, `{"a":1}`},
		{`{"b":2}`, `{}`},
		{`{"a":1}`, `{"a":1}`},
	} {
		got, err := Delete([]byte(tt.in), "b")
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(got), tt.in)
	}
	_, err := Set([]byte(`[1]`), []byte(`1`), "a")
	assert.Error(t, err)
}

// FuzzSet: on any valid JSON object, Set gives valid JSON whose value at
// the path is the new one and whose other members are unchanged, exactly
// what decoding, assigning and re-encoding would give.
func FuzzSet(f *testing.F) {
	for _, s := range []string{`{"id":1}`, `{}`, `{"a":{"b":[1,2,{"c":"}"}]}}`, `{"x\"y":"\\"}`, ` { "k" : null } `} {
		f.Add([]byte(s), "a", "b", []byte(`"v"`))
	}
	f.Fuzz(func(t *testing.T, doc []byte, k1, k2 string, val []byte) {
		var before map[string]any
		if json.Unmarshal(doc, &before) != nil || before == nil || !json.Valid(val) || !utf8.ValidString(k1) || !utf8.ValidString(k2) {
			return // invalid UTF-8 keys change in any encoder
		}
		got, err := Set(doc, val, k1, k2)
		if err != nil {
			// Only when the first step exists and is not an object.
			if _, isObj := before[k1].(map[string]any); isObj || before[k1] == nil && !hasKey(before, k1) {
				t.Fatalf("Set failed on a settable path: %v", err)
			}
			return
		}
		var after map[string]any
		require.NoError(t, json.Unmarshal(got, &after), "result is not JSON: %s", got)
		var want any
		require.NoError(t, json.Unmarshal(val, &want))
		inner, _ := after[k1].(map[string]any)
		require.NotNil(t, inner, "no object at %q in %s", k1, got)
		assert.Equal(t, want, inner[k2])
		for k, v := range before {
			if k != k1 {
				assert.Equal(t, v, after[k], "member %q changed", k)
			}
		}
	})
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }
