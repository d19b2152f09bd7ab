package stdio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client's notifications/cancelled for a request in flight (per-session
// mode) drops it from the bookkeeping: its POST stream finishes (or, in a
// batch, stops waiting for it), and a later server request goes to the GET
// stream instead of the cancelled request's stream.
func TestClientCancellationPerSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version string
		body    string
		// answer is the id the server still answers after the cancellation
		// ("" if the POST held only the cancelled request).
		answer string
	}{
		{"single request", api.MCPVersion20250618,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"p1"}}}`, ""},
		{"batch with one cancelled", api.MCPVersion20250326,
			`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"y"}}]`, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proc := newFakeProcess()
			lines := fakeServer(proc)
			var started bool
			b := newBridge(t, func(c *Config) {
				c.WarmPool = 0
				c.Health.Succeeded() // no readiness probe
				c.Starter = StarterFunc(func(context.Context, string) (Process, error) {
					if started {
						return nil, errors.New("one process expected")
					}
					started = true
					return proc, nil
				})
			})
			sid := rawSession(t, b.URL, tt.version)
			type answer struct {
				status int
				body   string
			}
			answered := make(chan answer, 1)
			go func() {
				resp, err := http.DefaultClient.Do(mustPost(t, b.URL, sid, tt.version, tt.body))
				if err != nil {
					answered <- answer{}
					return
				}
				defer resp.Body.Close()
				out, _ := io.ReadAll(resp.Body)
				answered <- answer{resp.StatusCode, string(out)}
			}()
			first := nextLine(t, lines)
			if tt.answer != "" {
				nextLine(t, lines)
			}
			require.Equal(t, "1", string(first.ID))

			require.Equal(t, http.StatusAccepted, rawPost(t, b.URL, sid, tt.version,
				`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"bored"}}`).status)
			assert.Equal(t, "notifications/cancelled", nextLine(t, lines).Method, "the cancellation is forwarded")
			want := 0
			if tt.answer != "" {
				want = 1
			}
			require.Eventually(t, func() bool { return pendingCount(b.Manager, sid) == want }, 10*time.Second, time.Millisecond)

			if tt.answer != "" {
				// A late answer to the cancelled request is dropped; the
				// other one still arrives.
				_, _ = io.WriteString(proc.stdoutW, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`+"\n")
				_, _ = io.WriteString(proc.stdoutW, `{"jsonrpc":"2.0","id":`+tt.answer+`,"result":{"content":[]}}`+"\n")
			}
			select {
			case a := <-answered:
				require.NotZero(t, a.status, "the POST failed")
				if tt.answer != "" {
					assert.Contains(t, a.body, `"id":2`)
					assert.NotContains(t, a.body, `"id":1`)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the cancelled request's POST stream did not finish")
			}

			// A server request now travels on the GET stream.
			get, _ := http.NewRequest(http.MethodGet, b.URL, nil)
			get.Header.Set("Accept", "text/event-stream")
			get.Header.Set("Mcp-Session-Id", sid)
			get.Header.Set("MCP-Protocol-Version", tt.version)
			resp, err := http.DefaultClient.Do(get)
			require.NoError(t, err)
			defer resp.Body.Close()
			events := sseEvents(t, resp)
			_, _ = io.WriteString(proc.stdoutW, `{"jsonrpc":"2.0","id":"s1","method":"roots/list"}`+"\n")
			assert.Contains(t, next(t, events)[1], `"roots/list"`)
		})
	}
}
