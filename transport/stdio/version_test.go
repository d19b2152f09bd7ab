package stdio

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// A client and a server that share a revision newer than this binary
// knows keep talking through the bridge: the session's negotiated version
// is accepted in MCP-Protocol-Version, other unknown ones are not.
func TestNegotiatedVersionUnknownToTheBridge(t *testing.T) {
	t.Parallel()
	const future = "2099-01-01"
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "per session", true: "shared"}[shared], func(t *testing.T) {
			t.Parallel()
			b := newBridge(t, func(c *Config) {
				c.Shared = shared
				c.WarmPool = 0
				c.Health.Succeeded()
				c.Starter = StarterFunc(func(context.Context, string) (Process, error) {
					p := newFakeProcess()
					fakeServerVersion(p, future)
					return p, nil
				})
			})
			r := rawPost(t, b.URL, "", "", initBody(future))
			require.Equal(t, http.StatusOK, r.status, r.body)
			assert.Equal(t, future, mcp.InitializeVersion([]byte(r.body)))
			sid := r.header.Get("Mcp-Session-Id")
			require.NotEmpty(t, sid)

			ok := rawPost(t, b.URL, sid, future, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			assert.Equal(t, http.StatusAccepted, ok.status, ok.body)
			ping := rawPost(t, b.URL, sid, future, `{"jsonrpc":"2.0","id":7,"method":"ping"}`)
			assert.Equal(t, http.StatusOK, ping.status, ping.body)
			assert.Contains(t, ping.body, `"id":7`)

			other := rawPost(t, b.URL, sid, "2098-01-01", `{"jsonrpc":"2.0","id":8,"method":"ping"}`)
			assert.Equal(t, http.StatusBadRequest, other.status)
			assert.Contains(t, other.body, "unsupported MCP-Protocol-Version; supported: ")
			gone := rawPost(t, b.URL, "0123456789abcdef0123456789abcdef", future, `{"jsonrpc":"2.0","id":9,"method":"ping"}`)
			assert.Equal(t, http.StatusNotFound, gone.status, "a session that is gone gets 404 (start over), whatever its version")
			noSession := rawPost(t, b.URL, "", future, initBody(future))
			assert.Equal(t, http.StatusBadRequest, noSession.status, "an unknown version needs the session that negotiated it")
		})
	}
}
