package stdio

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// A client that disconnects before the initialize answer never learns its
// session id: the session and its process end at once instead of waiting for
// the idle timeout. A delivered answer keeps the session.
func TestAbandonedInitializeEndsSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		accept      string
		answer      bool // the server answers initialize before the client leaves
		wantSession bool
	}{
		{"JSON client leaves before the answer", "application/json, text/event-stream", false, false},
		{"SSE-only client leaves before the answer", "text/event-stream", false, false},
		{"JSON client got the answer", "application/json, text/event-stream", true, true},
		{"SSE-only client got the answer", "text/event-stream", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proc := newFakeProcess()
			gotInit := make(chan *mcp.Message, 1)
			go func() {
				sc := bufio.NewScanner(proc.stdinR)
				for sc.Scan() {
					m, err := mcp.DecodeOne(append([]byte(nil), sc.Bytes()...)) // the scanner reuses its buffer
					if err != nil || m.Method != "initialize" {
						continue
					}
					if tt.answer {
						_, _ = io.WriteString(proc.stdoutW, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"fake","version":"1"}}}`+"\n")
					}
					gotInit <- m
				}
			}()
			b := newBridge(t, func(c *Config) {
				c.WarmPool = 0
				c.Health.Succeeded() // no readiness probe
				c.Starter = StarterFunc(func(context.Context, string) (Process, error) { return proc, nil })
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.URL, strings.NewReader(initBody(api.MCPVersion20251125)))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", tt.accept)
			done := make(chan struct{})
			go func() {
				defer close(done)
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
			}()
			select {
			case <-gotInit:
			case <-time.After(10 * time.Second):
				t.Fatal("the server got no initialize")
			}
			if tt.answer {
				<-done // the answer was read completely
			}
			cancel()
			<-done
			if tt.wantSession {
				require.Never(t, func() bool { return b.Manager.SessionCount() == 0 }, 300*time.Millisecond, 10*time.Millisecond)
				assert.False(t, isDone(proc))
				return
			}
			require.Eventually(t, func() bool { return b.Manager.SessionCount() == 0 }, 10*time.Second, 10*time.Millisecond)
			select {
			case <-proc.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the abandoned session's process was not stopped")
			}
		})
	}
}
