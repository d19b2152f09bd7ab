package stdio

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// A TypeScript SDK v2 stdio server (tools/mcpclients/server-v2.mjs: the
// SDK's serveStdio, whose server/discover lists 2026-07-28 only) behind the
// bridge: the Go SDK client of each era lists and calls its tools, and its
// input request (MRTR) reaches the client as the client's era has it, an
// InputRequiredResult round or an elicitation in the session.
func TestTypeScriptV2Server(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the TypeScript SDK (Node.js)")
	}
	t.Parallel()
	server := typeScriptServer(t)
	b := newBridge(t, func(c *Config) { c.Starter = &ExecStarter{Command: server, Stderr: io.Discard} })
	elicit := &sdk.ClientOptions{ElicitationHandler: func(context.Context, *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
		return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"name": "ada"}}, nil
	}}
	for _, version := range []string{api.MCPVersion20260728, api.MCPVersion20251125} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			cs, err := dial(t, b.URL, version, elicit)
			require.NoError(t, err)
			assert.Equal(t, version, cs.InitializeResult().ProtocolVersion)
			assert.Equal(t, version == api.MCPVersion20251125, cs.ID() != "", "a session only in 2025-11-25")
			tools, err := cs.ListTools(context.Background(), nil)
			require.NoError(t, err)
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
			}
			assert.ElementsMatch(t, []string{"echo", "ask-name", "region"}, names)
			out, err := call(cs, "echo", map[string]any{"text": "hi"})
			require.NoError(t, err)
			assert.Equal(t, "echo: hi", out)
			out, err = call(cs, "ask-name", map[string]any{})
			require.NoError(t, err)
			assert.Equal(t, "hello, ada", out)
		})
	}
	t.Run("Mcp-Param checked", func(t *testing.T) {
		t.Parallel()
		c := &rawClient{url: b.URL, header: http.Header{"Mcp-Param-Region": {"us"}}}
		a := c.post(t, "tools/call", map[string]any{"name": "region", "arguments": map[string]any{"region": "eu"}})
		assert.Equal(t, http.StatusBadRequest, a.status, a.body)
		assert.Equal(t, "-32020", a.field("error", "code"))
	})
}

// typeScriptServer is the command of server-v2.mjs on the pinned Node.
func typeScriptServer(t *testing.T) []string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := filepath.Join(root, "tools/mcpclients")
	cmd := exec.Command(filepath.Join(root, "hack/npm-ci.sh"), dir)
	cmd.Stderr = os.Stderr
	node, err := cmd.Output()
	require.NoError(t, err, "hack/npm-ci.sh tools/mcpclients")
	return []string{strings.TrimSpace(string(node)), filepath.Join(dir, "server-v2.mjs")}
}
