package stdio

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dyingProcess has exited before its session is registered; SetSession (the
// last step before the read loop starts) runs hook.
type dyingProcess struct {
	*fakeProcess
	hook func()
}

func (p *dyingProcess) SetSession(string) { p.hook() }

// A process that ends while its session is being created: the exit path ends
// the session before newSession registers it, and the closed session must not
// be put into the map (where it would linger, answering nothing).
func TestSessionEndedDuringStartIsNotRegistered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version string
	}{
		{"2025-06-18", api.MCPVersion20250618},
		{"2025-11-25", api.MCPVersion20251125},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b *bridge
			proc := &dyingProcess{fakeProcess: newFakeProcess()}
			proc.hook = func() {
				// Hold the manager's lock so registration waits until the
				// exit path has ended the session.
				b.Manager.mu.Lock()
				go func() {
					defer b.Manager.mu.Unlock()
					require.Eventually(t, func() bool {
						return metricValue(t, b, "mcp_transport_process_exits_total", "") >= 1
					}, 10*time.Second, time.Millisecond)
				}()
			}
			proc.stdoutW.Close() // already gone: stdout at EOF
			b = newBridge(t, func(c *Config) {
				c.WarmPool = 0
				c.Health.Succeeded() // no readiness probe
				c.Starter = StarterFunc(func(context.Context, string) (Process, error) { return proc, nil })
			})
			r := rawPost(t, b.URL, "", "", initBody(tt.version))
			assert.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
			assert.Empty(t, r.header.Get("Mcp-Session-Id"))
			assert.Equal(t, 0, b.Manager.SessionCount(), "a closed session was registered")
		})
	}
}
