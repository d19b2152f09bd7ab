package stdio

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// The SDK client's defaults (it first probes a newer, stateless revision
// with server/discover) must fall back to a supported revision.
func TestSDKDefaultClientNegotiates(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	cs := connect(t, b.URL, "", nil)
	assert.True(t, mcp.IsSupportedVersion(cs.InitializeResult().ProtocolVersion), cs.InitializeResult().ProtocolVersion)
	assert.Equal(t, "x", callText(t, cs, "echo", map[string]any{"text": "x"}))
}
