package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// The MCP Go SDK v1.8 client with its defaults, through the gateway, to a
// stateless 2026-07-28 server and to a legacy (session) server of the same
// namespace: each connects, lists and calls tools, concurrently.
func TestBothErasThroughGateway(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	modern := mcptest.NewStatelessBackend(t, "modern", false)
	routable(t, gw, createPod(t, modern, ns, "modern", "modern-1", nil))
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "legacy"), ns, "legacy", "legacy-1", nil))
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := range 8 {
		for _, server := range []string{"modern", "legacy"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cs, err := mcptest.Connect(ctx, url+"/mcp/"+ns+"/"+server, "", nil)
				if !assert.NoError(t, err) {
					return
				}
				defer cs.Close()
				if server == "modern" {
					assert.Equal(t, api.MCPVersion20260728, cs.InitializeResult().ProtocolVersion)
					assert.Empty(t, cs.ID(), "no session")
				} else {
					assert.NotEmpty(t, cs.ID(), "a legacy session")
				}
				tools, err := cs.ListTools(ctx, nil)
				if assert.NoError(t, err) {
					assert.Len(t, tools.Tools, 5)
				}
				for j := range 5 {
					text := fmt.Sprintf("%d-%d", i, j)
					out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": text})
					assert.NoError(t, err)
					assert.Equal(t, server+": "+text, out)
				}
			}()
		}
	}
	wg.Wait()
	for _, s := range modern.Seen() {
		assert.Empty(t, s.Header.Get(api.HeaderSessionID), "no session id reaches a modern pod")
	}
}

// In the modern era the allow-list is kept from Mcp-Name, and headers that
// contradict the body are refused by the gateway: neither reaches the pod.
func TestModernRefusedAtGateway(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	pod := mcptest.NewStatelessBackend(t, "pod-a", true)
	routable(t, gw, createPod(t, pod, ns, "srv", "srv-1", map[string]string{api.PodAnnAllowedTools: "echo"}))
	endpoint := url + "/mcp/" + ns + "/srv"
	ctx := context.Background()
	cs := connect(t, endpoint, "", nil)
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "secret"})
	require.ErrorContains(t, err, `tool "secret" is not allowed on server `+ns+"/srv")
	before := len(pod.Seen())

	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"secret",`+meta+`}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(api.HeaderProtocolVersion, api.MCPVersion20260728)
	req.Header.Set(api.HeaderMethod, "tools/call")
	req.Header.Set(api.HeaderName, "echo") // what a router would read
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":5,"error":{"code":-32020,"message":"Header mismatch: Mcp-Name header value 'echo' does not match body value 'secret'"}}`, string(body))
	assert.Len(t, pod.Seen(), before, "the pod saw nothing of either")
	for _, s := range pod.Seen() {
		assert.NotEqual(t, "secret", s.Header.Get(api.HeaderName))
	}
}

// Per-session stdio pods with real callers (ServiceAccount tokens, the
// gateway's kubernetes auth): each caller keeps its pod, request after
// request, with no session and no shared store.
func TestModernCallersKeepTheirPod(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.NewKubernetes(client, nil, 5*time.Second))
	stdio := map[string]string{api.PodAnnTransport: api.TransportStdio}
	for _, name := range []string{"a", "b", "c"} {
		routable(t, gw, createPod(t, mcptest.NewStatelessBackend(t, "pod-"+name, true), ns, "srv", "srv-"+name, stdio))
	}
	ctx := context.Background()
	seen := map[string]int{}
	for i := range 6 {
		sa := fmt.Sprintf("agent-%d", i)
		token := serviceAccountToken(t, ns, sa)
		grant(t, ns, sa, rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{api.RBACResource}, Verbs: []string{api.VerbUse}})
		var first string
		require.Eventually(t, func() bool { // the RoleBinding takes effect
			cs, err := mcptest.Connect(ctx, url+"/mcp/"+ns+"/srv", token, nil)
			if err != nil {
				return false
			}
			defer cs.Close()
			first, err = mcptest.Call(ctx, cs, "whoami", nil)
			return err == nil
		}, 5*time.Second, 50*time.Millisecond)
		seen[first]++
		for range 3 {
			cs := connect(t, url+"/mcp/"+ns+"/srv", token, nil)
			again, err := mcptest.Call(ctx, cs, "whoami", nil)
			require.NoError(t, err)
			require.Equal(t, first, again, "%s keeps its pod", sa)
		}
	}
	assert.GreaterOrEqual(t, len(seen), 2, "callers spread over the pods: %v", seen)
}
