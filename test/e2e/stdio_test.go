//go:build e2e

package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scenario 1: a stdio server on the base image (command annotation only,
// the npm server pre-installed in the image, run with npx) and a stdio
// server in its own image: pods Running and Ready with the sidecar; an MCP
// client through the gateway lists and calls their tools.
const stdioServers = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: everything
  labels: {mcp.archestra.io/server: everything}
  annotations:
    mcp.archestra.io/command: npx -y @modelcontextprotocol/server-everything
spec:
  replicas: 1
  selector: {matchLabels: {app: everything}}
  template:
    metadata: {labels: {app: everything}}
    spec:
      containers:
      - name: server
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: custom
  labels: {mcp.archestra.io/server: custom}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
spec:
  replicas: 1
  selector: {matchLabels: {app: custom}}
  template:
    metadata: {labels: {app: custom}}
    spec:
      containers:
      - name: custom
        image: localhost/mcp-e2e/stdio-server:v1
`

func TestStdioServers(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-stdio")
	apply(t, ns, stdioServers)

	t.Run("base image with npx", func(t *testing.T) {
		t.Parallel()
		pods := waitReady(t, ns, "everything", 1)
		require.Equal(t, "ghcr.io/archestra-ai/mcp-orchestrator/mcp-base:v0.1.0", serverImage(pods[0].Spec.Containers, "server"))
		s := connect(t, ns, "everything")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tools, err := s.ListTools(ctx, nil)
		require.NoError(t, err)
		assert.Contains(t, toolNames(tools), "echo")
		text, err := callText(ctx, s, "echo", map[string]any{"message": "hello e2e"})
		require.NoError(t, err)
		assert.Contains(t, text, "hello e2e")
	})

	t.Run("custom image", func(t *testing.T) {
		t.Parallel()
		waitReady(t, ns, "custom", 1)
		s := connect(t, ns, "custom")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tools, err := s.ListTools(ctx, nil)
		require.NoError(t, err)
		assert.Subset(t, toolNames(tools), []string{"echo", "hostname", "env"})
		var out struct{ Text string }
		require.NoError(t, structured(ctx, s, "echo", map[string]any{"text": "custom hello"}, &out))
		assert.Equal(t, "custom hello", out.Text)
	})
}

func toolNames(res *mcp.ListToolsResult) []string {
	var names []string
	for _, t := range res.Tools {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return names
}
