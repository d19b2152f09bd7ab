package stdio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// When the process ends, each request in flight is answered with exactly
// "MCP server process ended: <exit status>" and with its id as the client
// sent it: integers beyond 2^53 must not be rounded through float64.
func TestProcessEndAnswersPendingWithRawIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ids  []string
	}{
		{"small integer", []string{`7`}},
		{"integer above 2^53", []string{`9007199254740993`}},
		{"two ids equal as float64", []string{`9007199254740993`, `9007199254740992`}},
		{"huge and negative integers", []string{`123456789012345678901234567890`, `-9007199254740995`}},
		{"string id", []string{`"req-1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proc := newFakeProcess()
			lines := fakeServer(proc)
			b := newBridge(t, func(c *Config) {
				c.WarmPool = 0
				c.Health.Succeeded() // no readiness probe
				c.Starter = StarterFunc(func(context.Context, string) (Process, error) { return proc, nil })
			})
			v := api.MCPVersion20250326 // batches
			sid := rawSession(t, b.URL, v)
			reqs := make([]string, len(tt.ids))
			for i, id := range tt.ids {
				reqs[i] = `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"x"}}`
			}
			answered := make(chan rawResp, 1)
			go func() {
				resp, err := http.DefaultClient.Do(mustPost(t, b.URL, sid, v, "["+strings.Join(reqs, ",")+"]"))
				if err != nil {
					answered <- rawResp{}
					return
				}
				defer resp.Body.Close()
				out, _ := io.ReadAll(resp.Body)
				answered <- rawResp{status: resp.StatusCode, body: string(out)}
			}()
			for range tt.ids {
				nextLine(t, lines)
			}
			require.Eventually(t, func() bool { return pendingCount(b.Manager, sid) == len(tt.ids) }, 10*time.Second, time.Millisecond)
			proc.Stop() // the process ends ("exit status 0")

			var r rawResp
			select {
			case r = <-answered:
			case <-time.After(10 * time.Second):
				t.Fatal("no answer after the process ended")
			}
			require.Equal(t, http.StatusOK, r.status, r.body)
			var out []struct {
				ID    json.RawMessage `json:"id"`
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			d := json.NewDecoder(strings.NewReader(r.body))
			d.UseNumber()
			require.NoError(t, d.Decode(&out), r.body)
			got := make([]string, 0, len(out))
			for _, e := range out {
				got = append(got, string(e.ID))
				assert.Equal(t, api.CodeServerError, e.Error.Code)
				assert.Equal(t, "MCP server process ended: exit status 0", e.Error.Message)
			}
			assert.ElementsMatch(t, tt.ids, got)
		})
	}
}
