//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scenario 2: a streamable-http server behind the sidecar with
// request-headers-secret: every key of the Secret arrives as a header.
const httpServer = `
apiVersion: v1
kind: Secret
metadata: {name: remote-headers}
stringData:
  Authorization: Bearer e2e-upstream-token
  X-Tenant: archestra-e2e
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: remote
  labels: {mcp.archestra.io/server: remote}
  annotations:
    mcp.archestra.io/transport: streamable-http
    mcp.archestra.io/port: "3001"
    mcp.archestra.io/path: /mcp
    mcp.archestra.io/request-headers-secret: remote-headers
spec:
  selector: {matchLabels: {app: remote}}
  template:
    metadata: {labels: {app: remote}}
    spec:
      containers:
      - name: remote
        image: localhost/mcp-e2e/http-server:v1
        ports:
        - {name: http, containerPort: 3001}
`

func TestStreamableHTTPHeaders(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-http")
	apply(t, ns, httpServer)
	waitReady(t, ns, "remote", 1)

	s := connect(t, ns, "remote")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out struct {
		Headers map[string]string `json:"headers"`
	}
	require.NoError(t, structured(ctx, s, "headers", nil, &out))
	assert.Equal(t, "archestra-e2e", out.Headers["X-Tenant"])
	// Who called, as the gateway authenticated it (never the token).
	assert.Equal(t, "system:serviceaccount:default:e2e-client", out.Headers["Mcp-Orchestrator-Caller"])
	// The Secret's Authorization reaches the server, never the client's
	// own gateway token.
	assert.Equal(t, "Bearer e2e-upstream-token", out.Headers["Authorization"])
}
