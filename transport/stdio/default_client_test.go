package stdio

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// The SDK client's defaults (2026-07-28, server/discover first) connect
// without falling back: the sidecar answers discovery for the server.
func TestSDKDefaultClientIsStateless(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	cs := connect(t, b.URL, "", nil)
	assert.Equal(t, api.MCPVersion20260728, cs.InitializeResult().ProtocolVersion)
	assert.Empty(t, cs.ID(), "no session")
	assert.Equal(t, "x", callText(t, cs, "echo", map[string]any{"text": "x"}))
}
