package mcp

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

const validMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}`

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func mustDecode(t *testing.T, s string) *Message {
	t.Helper()
	m, err := DecodeOne([]byte(s))
	require.NoError(t, err)
	return m
}

func TestRequestEra(t *testing.T) {
	t.Parallel()
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x",` + validMeta + `}}`
	for _, tt := range []struct {
		name string
		h    http.Header
		body string
		want Era
	}{
		{"modern header", headers(api.HeaderProtocolVersion, "2026-07-28"), call, EraModern},
		{"modern body, no header", headers(), call, EraModern},
		{"modern body, unknown header", headers(api.HeaderProtocolVersion, "v999"), call, EraModern},
		{"initialize", headers(), `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`, EraLegacy},
		{"a session's request", headers(api.HeaderSessionID, "s", api.HeaderProtocolVersion, "2025-11-25"), call, EraLegacy},
		{"legacy request, no session", headers(api.HeaderProtocolVersion, "2025-11-25"), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, EraLegacy},
	} {
		assert.Equal(t, tt.want, RequestEra(tt.h, mustDecode(t, tt.body)), tt.name)
	}
}

func TestValidateModern(t *testing.T) {
	t.Parallel()
	modern := func(kv ...string) http.Header {
		return headers(append([]string{api.HeaderProtocolVersion, "2026-07-28"}, kv...)...)
	}
	call := func(name string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":` + name + `,` + validMeta + `}}`
	}
	for _, tt := range []struct {
		name   string
		h      http.Header
		body   string
		code   int
		status int
	}{
		{"valid", modern(api.HeaderMethod, "tools/call", api.HeaderName, "echo"), call(`"echo"`), 0, 0},
		{"base64 name", modern(api.HeaderMethod, "tools/call", api.HeaderName, "=?base64?SGVsbG8sIOS4lueVjA==?="), call(`"Hello, 世界"`), 0, 0},
		{"wrong name", modern(api.HeaderMethod, "tools/call", api.HeaderName, "echo"), call(`"other"`), api.CodeHeaderMismatch, 400},
		{"missing name", modern(api.HeaderMethod, "tools/call"), call(`"echo"`), api.CodeHeaderMismatch, 400},
		{"bad base64", modern(api.HeaderMethod, "tools/call", api.HeaderName, "=?base64?***?="), call(`"echo"`), api.CodeHeaderMismatch, 400},
		{"wrong method", modern(api.HeaderMethod, "tools/list", api.HeaderName, "echo"), call(`"echo"`), api.CodeHeaderMismatch, 400},
		{"missing method", modern(api.HeaderName, "echo"), call(`"echo"`), api.CodeHeaderMismatch, 400},
		{"missing version header", headers(api.HeaderMethod, "tools/call", api.HeaderName, "echo"), call(`"echo"`), api.CodeHeaderMismatch, 400},
		{"version mismatch", headers(api.HeaderProtocolVersion, "v999.0.0", api.HeaderMethod, "tools/call", api.HeaderName, "echo"), call(`"echo"`), api.CodeHeaderMismatch, 400},
		{"no _meta", modern(api.HeaderMethod, "tools/list"), `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`, CodeInvalidParams, 400},
		{"no capabilities", modern(api.HeaderMethod, "tools/list"),
			`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, CodeInvalidParams, 400},
		{"bad log level", modern(api.HeaderMethod, "tools/list"),
			`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"loud"}}}`, CodeInvalidParams, 400},
		{"param header with a newline", modern(api.HeaderMethod, "tools/call", api.HeaderName, "echo", "Mcp-Param-Region", "a\nb"), call(`"echo"`), api.CodeHeaderMismatch, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, v := ValidateModern(tt.h, mustDecode(t, tt.body))
			if tt.code == 0 {
				require.Nil(t, v)
				return
			}
			require.NotNil(t, v)
			assert.Equal(t, tt.code, v.Code)
			assert.Equal(t, tt.status, v.Status)
			assert.True(t, json.Valid(v.Response(json.RawMessage(`1`))))
		})
	}
}

func TestUnsupportedVersionNamesWhatWeSpeak(t *testing.T) {
	t.Parallel()
	h := headers(api.HeaderProtocolVersion, "v999.0.0", api.HeaderMethod, "server/discover")
	m := mustDecode(t, `{"jsonrpc":"2.0","id":"x","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"v999.0.0","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	_, v := ValidateModern(h, m)
	require.NotNil(t, v)
	var resp struct {
		ID    string `json:"id"`
		Error struct {
			Code int `json:"code"`
			Data struct {
				Supported []string `json:"supported"`
				Requested string   `json:"requested"`
			} `json:"data"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(v.Response(m.ID), &resp))
	assert.Equal(t, "x", resp.ID)
	assert.Equal(t, api.CodeUnsupportedProtocolVersion, resp.Error.Code)
	assert.Equal(t, "v999.0.0", resp.Error.Data.Requested)
	assert.Equal(t, []string{"2026-07-28"}, resp.Error.Data.Supported, "what a stateless request can switch to")
}

func TestDecodeHeaderValue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"us-west1", "us-west1", true},
		{"=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, 世界", true},
		{"=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?=", true},
		{"=?BASE64?abc?=", "=?BASE64?abc?=", true}, // case-sensitive markers: plain text
		{"=?base64?not base64?=", "", false},
		{"tab\tok", "tab\tok", true},
		{"non-ascii é", "", false},
		{"cr\r", "", false},
	} {
		got, ok := DecodeHeaderValue(tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

// FuzzValidateModern: any headers and body get either a pass or a
// violation with a prescribed code and status 400, whose response is JSON;
// never a panic.
func FuzzValidateModern(f *testing.F) {
	f.Add(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",`+validMeta+`}}`, "2026-07-28", "tools/call", "echo")
	f.Add(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a",`+validMeta+`}}`, "2026-07-28", "resources/read", "=?base64?ZmlsZTovLy9h?=")
	f.Add(`{"jsonrpc":"2.0","id":"s","method":"x","params":{"_meta":{}}}`, "", "", "")
	f.Fuzz(func(t *testing.T, body, version, method, name string) {
		m, err := DecodeOne([]byte(body))
		if err != nil || m.Kind != KindRequest {
			return
		}
		h := http.Header{}
		for k, v := range map[string]string{api.HeaderProtocolVersion: version, api.HeaderMethod: method, api.HeaderName: name} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		_ = RequestEra(h, m)
		meta, v := ValidateModern(h, m)
		if v == nil {
			if !IsModernVersion(meta.ProtocolVersion) || h.Get(api.HeaderMethod) != m.Method {
				t.Fatalf("accepted an invalid request: %+v", meta)
			}
			return
		}
		switch v.Code {
		case CodeInvalidParams, api.CodeHeaderMismatch, api.CodeUnsupportedProtocolVersion:
		default:
			t.Fatalf("unexpected code %d", v.Code)
		}
		if v.Status != http.StatusBadRequest || !json.Valid(v.Response(m.ID)) {
			t.Fatalf("bad violation %+v", v)
		}
	})
}
