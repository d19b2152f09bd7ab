package stdio

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deafServer answers initialize, then never reads stdin again.
var deafServer = []string{"sh", "-c", `read -r line; printf '%s\n' '{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"deaf","version":"1"}}}'; exec sleep 3600`}

// A server that stops reading stdin fills the pipe: the write times out, the
// session ends and every request in flight gets a JSON-RPC error instead of
// hanging with the write lock held.
func TestServerThatStopsReadingEndsSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		requests int
		size     int // bytes of argument text per request
	}{
		{"two requests larger than the pipe together", 2, 60 << 10},
		{"many concurrent requests", 6, 30 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBridge(t, func(c *Config) {
				c.WarmPool = 0
				c.WriteTimeout = 200 * time.Millisecond
				c.Starter = &ExecStarter{Command: deafServer, Stderr: io.Discard}
				c.Health.Succeeded() // no readiness probe with the deaf server
			})
			v := api.MCPVersion20250618
			sid := rawSession(t, b.URL, v)
			type answer struct {
				status int
				body   string
				err    error
			}
			answers := make(chan answer, tt.requests)
			client := &http.Client{Timeout: 20 * time.Second}
			for i := range tt.requests {
				body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":%q}}}`, i+1, strings.Repeat("a", tt.size))
				req := mustPost(t, b.URL, sid, v, body)
				go func() {
					resp, err := client.Do(req)
					if err != nil {
						answers <- answer{err: err}
						return
					}
					defer resp.Body.Close()
					out, _ := io.ReadAll(resp.Body)
					answers <- answer{status: resp.StatusCode, body: string(out)}
				}()
			}
			stalled := 0
			for range tt.requests {
				a := <-answers
				require.NoError(t, a.err, "a request hung on the stalled pipe")
				if a.status == http.StatusNotFound {
					continue // arrived after the session ended
				}
				require.Equal(t, http.StatusOK, a.status, a.body)
				var r struct {
					Error struct {
						Code    int    `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				}
				require.NoError(t, json.Unmarshal([]byte(a.body), &r), a.body)
				assert.Equal(t, api.CodeServerError, r.Error.Code)
				assert.Contains(t, r.Error.Message, "stopped reading its input")
				stalled++
			}
			assert.Positive(t, stalled, "the requests in flight are answered with the reason")
			require.Eventually(t, func() bool { return b.Manager.lookup(sid) == nil }, 10*time.Second, 10*time.Millisecond)
			assert.Equal(t, http.StatusNotFound, rawPost(t, b.URL, sid, v, `{"jsonrpc":"2.0","id":99,"method":"ping"}`).status)
			require.Eventually(t, func() bool {
				return metricValue(t, b, "mcp_transport_process_exits_total", `reason="stopped"`) >= 1
			}, 10*time.Second, 10*time.Millisecond)
		})
	}
}
