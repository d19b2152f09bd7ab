package stdio

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

func initBody(version string) string {
	return `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + version +
		`","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
}

// rawSession initializes a session with plain HTTP and returns its id.
func rawSession(t *testing.T, url, version string) string {
	t.Helper()
	r := rawPost(t, url, "", "", initBody(version))
	require.Equal(t, http.StatusOK, r.status, r.body)
	sid := r.header.Get("Mcp-Session-Id")
	require.True(t, mcp.ValidSessionID(sid))
	require.Equal(t, http.StatusAccepted, rawPost(t, url, sid, version, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).status)
	return sid
}

func errorCode(t *testing.T, body string) int {
	t.Helper()
	var r struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &r), body)
	return r.Error.Code
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	sid := rawSession(t, b.URL, api.MCPVersion20250618)
	v := api.MCPVersion20250618
	tests := []struct {
		name    string
		sid     string
		version string
		body    string
		hdr     []string
		status  int
		code    int // JSON-RPC error code in the body, if any
	}{
		{"malformed JSON", sid, v, `{"jsonrpc":`, nil, 400, mcp.CodeParseError},
		{"not JSON-RPC", sid, v, `{"hello":1}`, nil, 400, mcp.CodeInvalidRequest},
		{"batch after 2025-03-26", sid, v, `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, nil, 400, mcp.CodeInvalidRequest},
		{"unsupported protocol version", sid, "1999-01-01", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil, 400, 0},
		{"unknown session", "nope", v, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil, 404, -32001},
		{"missing session", "", v, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil, 400, 0},
		{"oversized body", sid, v, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 70*1024) + `"}}`, nil, 413, 0},
		{"foreign origin", sid, v, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, []string{"Origin", "https://evil.example"}, 403, 0},
		{"allowed origin", sid, v, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, []string{"Origin", "https://allowed.example"}, 200, 0},
		{"no origin is fine", sid, v, `{"jsonrpc":"2.0","id":2,"method":"ping"}`, nil, 200, 0},
		{"wrong content type", sid, v, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, []string{"Content-Type", "text/plain"}, 415, 0},
		{"initialize inside a session", sid, v, initBody(v), nil, 400, mcp.CodeInvalidRequest},
		{"notification only", sid, v, `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`, nil, 202, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawPost(t, b.URL, tt.sid, tt.version, tt.body, tt.hdr...)
			assert.Equal(t, tt.status, r.status, r.body)
			if tt.code != 0 {
				assert.Equal(t, tt.code, errorCode(t, r.body))
			}
		})
	}
}

func TestBatchIn20250326(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	sid := rawSession(t, b.URL, api.MCPVersion20250326)
	r := rawPost(t, b.URL, sid, api.MCPVersion20250326,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x","progress":1}},{"jsonrpc":"2.0","id":"two","method":"tools/list"}]`,
		"Accept", "application/json")
	require.Equal(t, http.StatusOK, r.status, r.body)
	var out []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &out), r.body)
	require.Len(t, out, 2)
	ids := []any{out[0]["id"], out[1]["id"]}
	assert.ElementsMatch(t, []any{float64(1), "two"}, ids)
}

func TestDuplicateRequestIDRejected(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	sid := rawSession(t, b.URL, api.MCPVersion20250618)
	done := make(chan int, 1)
	slow := mustPost(t, b.URL, sid, api.MCPVersion20250618, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":500}}}`)
	go func() {
		resp, err := http.DefaultClient.Do(slow)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return pendingCount(b.Manager, sid) == 1 }, 5*time.Second, time.Millisecond)
	r := rawPost(t, b.URL, sid, api.MCPVersion20250618, `{"jsonrpc":"2.0","id":5,"method":"ping"}`)
	assert.Equal(t, mcp.CodeInvalidRequest, errorCode(t, r.body))
	assert.Equal(t, http.StatusOK, <-done)
}

func TestDeleteEndsSessionAndProcess(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.WarmPool = 0 })
	sid := rawSession(t, b.URL, api.MCPVersion20251125)
	require.Equal(t, 1, b.Manager.SessionCount())
	req, _ := http.NewRequest(http.MethodDelete, b.URL, nil)
	req.Header.Set("Mcp-Session-Id", sid)
	assert.Equal(t, http.StatusNoContent, do(t, req).status)
	assert.Equal(t, 0, b.Manager.SessionCount())
	assert.Equal(t, 404, rawPost(t, b.URL, sid, api.MCPVersion20251125, `{"jsonrpc":"2.0","id":1,"method":"ping"}`).status)
	assert.Equal(t, 404, do(t, req).status)
	require.Eventually(t, func() bool {
		return metricValue(t, b, "mcp_transport_process_exits_total", `reason="stopped"`) >= 1
	}, 10*time.Second, 10*time.Millisecond)
}

func TestIdleTimeoutReclaimsProcess(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.IdleTimeout = 200 * time.Millisecond; c.WarmPool = 0 })
	// A client that vanished: no request, no open stream.
	sid := rawSession(t, b.URL, api.MCPVersion20250618)
	require.Eventually(t, func() bool { return b.Manager.lookup(sid) == nil }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 404, rawPost(t, b.URL, sid, api.MCPVersion20250618, `{"jsonrpc":"2.0","id":1,"method":"ping"}`).status)
	require.Eventually(t, func() bool {
		return metricValue(t, b, "mcp_transport_process_exits_total", `reason="stopped"`) >= 1
	}, 10*time.Second, 10*time.Millisecond)
}

func TestMaxSessions(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.MaxSessions = 2 })
	rawSession(t, b.URL, api.MCPVersion20250618)
	sid2 := rawSession(t, b.URL, api.MCPVersion20250618)
	r := rawPost(t, b.URL, "", "", initBody(api.MCPVersion20250618))
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "5", r.header.Get("Retry-After"))
	// Freeing a slot admits a new session.
	req, _ := http.NewRequest(http.MethodDelete, b.URL, nil)
	req.Header.Set("Mcp-Session-Id", sid2)
	require.Equal(t, http.StatusNoContent, do(t, req).status)
	rawSession(t, b.URL, api.MCPVersion20250618)
}

// sseEvents reads SSE events (id, data) from a streaming response.
func sseEvents(t *testing.T, resp *http.Response) <-chan [2]string {
	t.Helper()
	ch := make(chan [2]string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var id, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "data:"):
				data = strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			case line == "":
				ch <- [2]string{id, data}
				id, data = "", ""
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan [2]string) [2]string {
	t.Helper()
	select {
	case e, ok := <-ch:
		require.True(t, ok, "stream ended")
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return [2]string{}
}

// The client loses the POST stream while the server waits for a sampling
// answer; it resumes with Last-Event-ID, answers, and gets the tool result
// on the resumed stream.
func TestResumeWithLastEventID(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	v := api.MCPVersion20251125
	r := rawPost(t, b.URL, "", "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"sampling":{}},"clientInfo":{"name":"raw","version":"1"}}}`)
	require.Equal(t, 200, r.status)
	sid := r.header.Get("Mcp-Session-Id")
	require.Equal(t, 202, rawPost(t, b.URL, sid, v, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).status)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.URL, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sample","arguments":{"text":"q"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", v)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := sseEvents(t, resp)
	prime := next(t, events)
	assert.Equal(t, "", prime[1], "priming event has empty data")
	ev := next(t, events)
	var sampling struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	require.NoError(t, json.Unmarshal([]byte(ev[1]), &sampling))
	require.Equal(t, "sampling/createMessage", sampling.Method)
	cancel() // connection lost
	resp.Body.Close()

	get, _ := http.NewRequest(http.MethodGet, b.URL, nil)
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set("Mcp-Session-Id", sid)
	get.Header.Set("MCP-Protocol-Version", v)
	get.Header.Set("Last-Event-ID", ev[0])
	gresp, err := http.DefaultClient.Do(get)
	require.NoError(t, err)
	defer gresp.Body.Close()
	require.Equal(t, 200, gresp.StatusCode)
	resumed := sseEvents(t, gresp)

	answer := `{"jsonrpc":"2.0","id":` + string(sampling.ID) + `,"result":{"model":"m","role":"assistant","content":{"type":"text","text":"A"}}}`
	require.Equal(t, 202, rawPost(t, b.URL, sid, v, answer).status)
	final := next(t, resumed)
	assert.Contains(t, final[1], "sampled: A")
	assert.Contains(t, final[1], `"id":1`)
	_, more := <-resumed
	assert.False(t, more, "the resumed stream ends after the response")
}

func TestSSEKeepAlive(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.KeepAlive = 20 * time.Millisecond })
	sid := rawSession(t, b.URL, api.MCPVersion20250618)
	req, _ := http.NewRequest(http.MethodGet, b.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, ": keep-alive\n", line)
}

// Messages for the GET stream are buffered while no GET is open, delivered
// when one opens, and a reconnect with Last-Event-ID gets only what it
// missed.
func TestStandaloneStreamBufferingAndResumption(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	v := api.MCPVersion20250618
	sid := rawSession(t, b.URL, v)
	require.Equal(t, 200, rawPost(t, b.URL, sid, v, `{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}`).status)
	logLater := func(id int, text string) {
		r := rawPost(t, b.URL, sid, v, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"log-later","arguments":{"text":%q}}}`, id, text))
		require.Equal(t, 200, r.status, r.body)
	}
	standaloneEvents := func() int {
		evs, _, _ := b.Manager.lookup(sid).getStandalone().after(0)
		return len(evs)
	}
	openGET := func(last string) (*http.Response, <-chan [2]string) {
		req, _ := http.NewRequest(http.MethodGet, b.URL, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("MCP-Protocol-Version", v)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		return resp, sseEvents(t, resp)
	}

	logLater(2, "one")
	require.Eventually(t, func() bool { return standaloneEvents() == 1 }, 10*time.Second, 5*time.Millisecond)
	resp, events := openGET("")
	first := next(t, events)
	assert.Contains(t, first[1], `"one"`)
	resp.Body.Close()

	logLater(3, "two")
	require.Eventually(t, func() bool { return standaloneEvents() == 2 }, 10*time.Second, 5*time.Millisecond)
	resp, events = openGET(first[0])
	defer resp.Body.Close()
	second := next(t, events)
	assert.Contains(t, second[1], `"two"`)
	assert.NotEqual(t, first[0], second[0])
}
