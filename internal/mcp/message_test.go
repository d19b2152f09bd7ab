package mcp

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeOneClassifies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		kind    Kind
		method  string
		id      string
		isError bool
	}{
		{"request int id", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, KindRequest, "tools/list", "1", false},
		{"request string id", `{"jsonrpc":"2.0","id":"a","method":"ping","params":{}}`, KindRequest, "ping", `"a"`, false},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, KindNotification, "notifications/initialized", "", false},
		{"result", `{"jsonrpc":"2.0","id":7,"result":{}}`, KindResponse, "", "7", false},
		{"error", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}`, KindResponse, "", "null", true},
		{"surrounding space", " \n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":1}\n", KindResponse, "", "2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := DecodeOne([]byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.kind, m.Kind)
			assert.Equal(t, tt.method, m.Method)
			assert.Equal(t, tt.id, string(m.ID))
			assert.Equal(t, tt.isError, m.IsError)
			if tt.id == "null" {
				return // the SDK refuses null ids, which JSON-RPC allows in error responses
			}
			// The SDK must agree on what kind of message this is.
			sdk, err := jsonrpc.DecodeMessage(m.Raw)
			require.NoError(t, err)
			_, isReq := sdk.(*jsonrpc.Request)
			assert.Equal(t, tt.kind != KindResponse, isReq)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		batch bool
		code  int
		id    string
	}{
		{"empty", ``, false, CodeParseError, ""},
		{"garbage", `{"jsonrpc":`, false, CodeParseError, ""},
		{"not object", `42`, false, CodeInvalidRequest, ""},
		{"wrong version", `{"jsonrpc":"1.0","id":1,"method":"x"}`, false, CodeInvalidRequest, "1"},
		{"no version", `{"id":1,"method":"x"}`, false, CodeInvalidRequest, "1"},
		{"null request id", `{"jsonrpc":"2.0","id":null,"method":"x"}`, false, CodeInvalidRequest, "null"},
		{"object id", `{"jsonrpc":"2.0","id":{},"method":"x"}`, false, CodeInvalidRequest, ""},
		{"method and result", `{"jsonrpc":"2.0","id":1,"method":"x","result":{}}`, false, CodeInvalidRequest, "1"},
		{"result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, false, CodeInvalidRequest, "1"},
		{"nothing", `{"jsonrpc":"2.0","id":1}`, false, CodeInvalidRequest, "1"},
		{"scalar params", `{"jsonrpc":"2.0","id":1,"method":"x","params":3}`, false, CodeInvalidRequest, "1"},
		{"method not string", `{"jsonrpc":"2.0","id":1,"method":3}`, false, CodeInvalidRequest, ""},
		{"batch not allowed", `[{"jsonrpc":"2.0","id":1,"method":"x"}]`, false, CodeInvalidRequest, ""},
		{"empty batch", `[]`, true, CodeInvalidRequest, ""},
		{"bad batch member", `[{"jsonrpc":"2.0","id":1,"method":"x"},{"jsonrpc":"2.0"}]`, true, CodeInvalidRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Decode([]byte(tt.in), tt.batch)
			require.Error(t, err)
			var de *DecodeError
			require.True(t, errors.As(err, &de))
			assert.Equal(t, tt.code, de.Code)
			assert.Equal(t, tt.id, string(de.ID))
			// The error response is itself a valid JSON-RPC response.
			resp, err := DecodeOne(DecodeErrorResponse(err))
			require.NoError(t, err)
			assert.Equal(t, KindResponse, resp.Kind)
			assert.True(t, resp.IsError)
		})
	}
}

func TestDecodeBatch(t *testing.T) {
	t.Parallel()
	msgs, batch, err := Decode([]byte(`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]`), true)
	require.NoError(t, err)
	assert.True(t, batch)
	require.Len(t, msgs, 2)
	assert.Equal(t, KindRequest, msgs[0].Kind)
	assert.Equal(t, KindNotification, msgs[1].Kind)
	assert.JSONEq(t, `{"jsonrpc":"2.0","method":"b"}`, string(msgs[1].Raw))
}

func TestIDKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`1`: "1", `1.0`: "1", `1e0`: "1", `-3`: "-3", `-0`: "0",
		`9007199254740993`: "9007199254740993", `-9007199254740993`: "-9007199254740993",
		`123456789012345678901234567890`: "123456789012345678901234567890", `"1"`: `"1"`, `"a\u0062"`: `"ab"`, ``: "", `null`: "null",
	} {
		assert.Equal(t, want, IDKey(json.RawMessage(in)), in)
	}
}

func TestErrorResponse(t *testing.T) {
	t.Parallel()
	b := ErrorResponse(json.RawMessage(`"x"`), CodeInternalError, "boom", map[string]int{"a": 1})
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":"x","error":{"code":-32603,"message":"boom","data":{"a":1}}}`, string(b))
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: bad"}}`, string(ParseError("bad")))
	// Undecodable data is dropped, not fatal.
	b = ErrorResponse(nil, api.CodeServerError, "gone", func() {})
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"gone"}}`, string(b))
	m, err := jsonrpc.DecodeMessage(ServerGone(json.RawMessage(`3`), "exit status 2"))
	require.NoError(t, err)
	resp := m.(*jsonrpc.Response)
	require.Error(t, resp.Error)
	assert.Contains(t, resp.Error.Error(), "exit status 2")
}

func TestVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"", api.MCPVersion20250326, true},
		{"2025-03-26", "2025-03-26", true},
		{"2025-06-18", "2025-06-18", true},
		{"2025-11-25", "2025-11-25", true},
		{"2024-11-05", "2024-11-05", false},
		{"garbage", "garbage", false},
	}
	for _, tt := range tests {
		got, ok := HeaderVersion(tt.header)
		assert.Equal(t, tt.want, got)
		assert.Equal(t, tt.ok, ok, tt.header)
	}
	assert.True(t, AllowsBatch(api.MCPVersion20250326))
	assert.False(t, AllowsBatch(api.MCPVersion20250618))
	assert.True(t, WantsPriming(api.MCPVersion20251125))
	assert.False(t, WantsPriming(api.MCPVersion20250618))
	assert.Equal(t, LatestVersion, SupportedVersions()[0])
}

func TestSessionID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := NewSessionID()
		require.True(t, ValidSessionID(id), id)
		require.False(t, seen[id])
		seen[id] = true
	}
	assert.False(t, ValidSessionID(""))
	assert.False(t, ValidSessionID("a b"))
	assert.False(t, ValidSessionID("é"))
}

func TestFieldRewrites(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"p"}}}`)
	assert.Equal(t, `"p"`, string(ProgressToken(json.RawMessage(`{"name":"x","_meta":{"progressToken":"p"}}`))))
	out, err := Set(raw, json.RawMessage(`"s1:1"`), "id")
	require.NoError(t, err)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":"s1:1","method":"tools/call","params":{"name":"x","_meta":{"progressToken":"p"}}}`, string(out))
	out, err = Set(out, json.RawMessage(`7`), "params", "_meta", "progressToken")
	require.NoError(t, err)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":"s1:1","method":"tools/call","params":{"name":"x","_meta":{"progressToken":7}}}`, string(out))

	n := []byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7,"progress":1}}`)
	assert.Equal(t, "7", string(NotificationProgressToken(json.RawMessage(`{"progressToken":7,"progress":1}`))))
	out, err = Set(n, json.RawMessage(`"p"`), "params", "progressToken")
	require.NoError(t, err)
	assert.JSONEq(t, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}`, string(out))

	assert.Equal(t, "2025-06-18", InitializeVersion([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`)))
	assert.Equal(t, "2025-03-26", InitializeVersion([]byte(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-03-26"}}`)))
	_, err = Set([]byte(`[`), json.RawMessage(`1`), "id")
	require.Error(t, err)
}
