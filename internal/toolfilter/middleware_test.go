package toolfilter

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend answers like an MCP endpoint: tools/list with two tools (JSON or
// SSE by the Accept header), everything else with an empty result. It
// records the bodies it was given.
type backend struct{ got []string }

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.got = append(b.got, string(body))
	list := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"secret"}],"ttlMs":1000,"cacheScope":"public","resultType":"complete"}}`
	switch {
	case r.URL.Query().Get("status") != "":
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, list)
	case r.Method == http.MethodGet || strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		// In pieces, flushed between, as the stdio bridge writes.
		for _, part := range []string{"id: s-1\nevent: message\ndata: ", list[:40], list[40:], "\n\n", ": keep-alive\n\n"} {
			_, _ = io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	case strings.Contains(string(body), `"tools/list"`):
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(list)))
		_, _ = io.WriteString(w, list)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	// Only the tools array changes: the rest passes as the server wrote it.
	const filtered = `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}],"ttlMs":1000,"cacheScope":"public","resultType":"complete"}}`
	tests := []struct {
		name, method, target, accept, body string
		wantStatus                         int
		wantBody                           string
		wantPassed                         bool   // the backend saw the request
		wantRefused                        string // reason told to the metric
	}{
		{name: "allowed call passes", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`,
			wantStatus: 200, wantBody: `{"jsonrpc":"2.0","id":1,"result":{}}`, wantPassed: true},
		{name: "hidden tool refused", method: "POST", body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"secret"}}`,
			wantStatus: 200, wantBody: `{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"tool \"secret\" is not allowed on this server"}}`, wantRefused: "tool_not_allowed"},
		{name: "hidden tool in a batch refuses the batch", method: "POST",
			body:       `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"secret"}}]`,
			wantStatus: 200, wantBody: `[{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"tool \"secret\" is not allowed on this server"}},{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"tool \"secret\" is not allowed on this server"}}]`,
			wantRefused: "tool_not_allowed"},
		{name: "keys that parsers read differently", method: "POST", body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"secret","Name":"echo"}}`,
			wantStatus: 400, wantBody: `{"jsonrpc":"2.0","id":3,"error":{"code":-32600,"message":"Invalid Request: keys differing only in case (\"Name\")"}}`, wantRefused: "ambiguous"},
		{name: "malformed body not passed on", method: "POST", body: `{"jsonrpc":"2.0","id":3,"method":`,
			wantStatus: 400, wantBody: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: invalid JSON"}}`, wantRefused: "malformed"},
		{name: "JSON tools/list filtered", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			wantStatus: 200, wantBody: filtered, wantPassed: true},
		{name: "SSE tools/list filtered", method: "POST", accept: "application/json, text/event-stream", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			wantStatus: 200, wantBody: "id: s-1\nevent: message\ndata: " + filtered + "\n\n: keep-alive\n\n", wantPassed: true},
		{name: "resumed GET stream filtered", method: "GET",
			wantStatus: 200, wantBody: "id: s-1\nevent: message\ndata: " + filtered + "\n\n: keep-alive\n\n", wantPassed: true},
		{name: "error status passes untouched", method: "POST", target: "/?status=404", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			wantStatus: 404, wantBody: `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"secret"}],"ttlMs":1000,"cacheScope":"public","resultType":"complete"}}`, wantPassed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &backend{}
			var reasons []string
			h := Middleware(New([]string{"echo"}), "this server", func(r string) { reasons = append(reasons, r) }, b)
			target := tt.target
			if target == "" {
				target = "/"
			}
			req := httptest.NewRequest(tt.method, target, strings.NewReader(tt.body))
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.wantStatus, rec.Code)
			assert.Equal(t, tt.wantBody, rec.Body.String())
			if rec.Header().Get("Content-Length") != "" {
				assert.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))
			}
			if tt.wantPassed {
				require.Len(t, b.got, 1)
				assert.Equal(t, tt.body, b.got[0], "the backend gets the body byte for byte")
			} else {
				assert.Empty(t, b.got, "refused requests never reach the server")
			}
			if tt.wantRefused != "" {
				assert.Equal(t, []string{tt.wantRefused}, reasons)
			} else {
				assert.Empty(t, reasons)
			}
			if strings.HasPrefix(tt.wantBody, "{") || strings.HasPrefix(tt.wantBody, "[") {
				assert.True(t, json.Valid(rec.Body.Bytes()))
			}
		})
	}
}

func TestMiddlewareWithoutPolicyIsTheEndpoint(t *testing.T) {
	t.Parallel()
	b := &backend{}
	assert.Same(t, http.Handler(b), Middleware(nil, "x", nil, b))
}

// A JSON answer too large to hold is not passed on unfiltered.
func TestMiddlewareTooLargeToFilter(t *testing.T) {
	t.Parallel()
	h := Middleware(New([]string{"echo"}), "x", nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := strings.Repeat(" ", 1<<20)
		for range MaxFilteredBody/len(chunk) + 1 {
			_, _ = io.WriteString(w, chunk)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusBadGateway, rec.Code)
	assert.Contains(t, rec.Body.String(), "too large to filter")
}
