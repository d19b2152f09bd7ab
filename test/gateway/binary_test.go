package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

// The real binary, as deployed: flags, key file, kubeconfig, JSON logs,
// readiness, one MCP session, clean exit on SIGTERM.
func TestBinary(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	bin, args := gatewayCommand(t, "mcp-gateway", ns)
	addr, metricsAddr := args[0][len("--listen="):], args[1][len("--metrics-listen="):]
	args = append(args, "--public-url=https://mcp.example.com")

	var stderr testutil.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POD_NAMESPACE=mcp-system")
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("gateway log:\n%s", stderr.String())
		}
	})
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, stderr.String(), `"level":"WARN","msg":"AUTH IS DISABLED`)

	createPod(t, mcptest.NewBackend(t, "from-binary"), ns, "srv", "srv-1", nil)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		cs, err := mcptest.Connect(ctx, base+"/mcp/"+ns+"/srv", "", nil)
		if err != nil {
			return false
		}
		defer cs.Close()
		got, err := mcptest.Call(ctx, cs, "whoami", nil)
		return err == nil && got == "from-binary"
	}, 5*time.Second, 20*time.Millisecond)
	binaryModern(t, base, ns)
	binaryHosts(t, base+"/mcp/"+ns+"/srv")

	binaryMetrics(t, base, metricsAddr)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		assert.NoError(t, err, "clean exit on SIGTERM")
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	assert.Contains(t, stderr.String(), `"msg":"shutting down"`)
}

func TestBinaryRefusesBadFlags(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := goBuild(t, "mcp-gateway")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "short"), []byte("short\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key"), sessionKey, 0o600))
	// A kubeconfig that loads (no API call is made before the auth check).
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600))
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--session-key-file is required"},
		{[]string{"--auth=open"}, `--auth: unknown mode \"open\": want a comma list of [oidc serviceaccount kubernetes tokens none]`},
		{[]string{"--auth=kubernetes,serviceaccount"}, "serviceaccount must come before kubernetes"},
		{[]string{"--auth=oidc", "--session-key-file=" + filepath.Join(dir, "key"), "--kubeconfig=" + filepath.Join(dir, "kubeconfig")}, "--auth=oidc needs --oidc-config"},
		{[]string{"--auth=oidc", "--oidc-config=" + filepath.Join(dir, "key"), "--session-key-file=" + filepath.Join(dir, "key"), "--kubeconfig=" + filepath.Join(dir, "kubeconfig")}, "--auth=oidc needs --public-url"},
		{[]string{"--auth=oidc", "--public-url=https://gw.test", "--oidc-config=" + filepath.Join(dir, "key"), "--session-key-file=" + filepath.Join(dir, "key"), "--kubeconfig=" + filepath.Join(dir, "kubeconfig")}, "OIDC configuration " + filepath.Join(dir, "key")},
		{[]string{"--auth=tokens", "--session-key-file=" + filepath.Join(dir, "key"), "--kubeconfig=" + filepath.Join(dir, "kubeconfig")}, "--auth=tokens needs --tokens-file"},
		{[]string{"--session-key-file=" + filepath.Join(dir, "short")}, "at least 32"},
		{[]string{"--session-key-file=" + filepath.Join(dir, "key"), "--public-url=mcp.example.com"}, `--public-url \"mcp.example.com\": want an absolute http or https URL`},
		{[]string{"--session-key-file=" + filepath.Join(dir, "key"), "--kubeconfig=" + filepath.Join(dir, "missing")}, "kubeconfig " + filepath.Join(dir, "missing")},
		{[]string{"--session-key-file=" + filepath.Join(dir, "key"), "--hibernate-after-default=1m"}, "--hibernate-after-default=1m0s is shorter than --hibernate-min-window=2m0s"},
		{[]string{"--session-key-file=" + filepath.Join(dir, "key"), "--hibernate-after-default=soon"}, `--hibernate-after-default=\"soon\": must be a duration`},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, tt.args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		require.Error(t, err, fmt.Sprint(tt.args))
		assert.Contains(t, stderr.String(), tt.want)
	}
}

// binaryMetrics: metrics name servers and tools, so they are on their own
// port, not the clients'.
func binaryMetrics(t *testing.T, base, metricsAddr string) {
	t.Helper()
	assert.Equal(t, http.StatusNotFound, call(t, http.MethodGet, base+"/metrics", "", nil))
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `mcp_gateway_requests_total{code="200",method="tools/call"`)
}

// binaryModern: the default SDK client speaks 2026-07-28 through the binary
// to a stateless server, with no session.
func binaryModern(t *testing.T, base, ns string) {
	t.Helper()
	createPod(t, mcptest.NewStatelessBackend(t, "modern", false), ns, "modern", "modern-1", nil)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		cs, err := mcptest.Connect(ctx, base+"/mcp/"+ns+"/modern", "", nil)
		if err != nil {
			return false
		}
		defer cs.Close()
		got, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": "hi"})
		return err == nil && got == "modern: hi" && cs.ID() == "" && cs.InitializeResult().ProtocolVersion == api.MCPVersion20260728
	}, 5*time.Second, 20*time.Millisecond)
}

// binaryHosts: against DNS rebinding, the binary accepts its addresses,
// localhost, its Service's names (POD_NAMESPACE) and --public-url in Host,
// and refuses other names and other origins with 403 and a JSON-RPC body.
func binaryHosts(t *testing.T, endpoint string) {
	t.Helper()
	tests := []struct {
		host, origin string
		want         int
	}{
		{"", "", http.StatusOK}, // the URL's 127.0.0.1:port
		{"localhost", "", http.StatusOK},
		{"mcp-gateway.mcp-system.svc", "", http.StatusOK},
		{"mcp.example.com", "https://mcp.example.com", http.StatusOK},
		{"evil.example.com", "http://evil.example.com", http.StatusForbidden},
		{"", "http://evil.example.com", http.StatusForbidden},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tt.host != "" {
			req.Host = tt.host
		}
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tt.want, resp.StatusCode, "Host %q Origin %q: %s", tt.host, tt.origin, body)
		if tt.want == http.StatusForbidden {
			assert.Contains(t, string(body), `"error":{"code":-32000,"message":"Forbidden: `)
		}
	}
}

// gatewayCommand builds mcp-gateway and returns it with the arguments of a
// replica serving ns with --auth=none, as user (in system:masters): first
// --listen, then --metrics-listen, on free loopback ports.
func gatewayCommand(t testing.TB, user, ns string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	bin := goBuild(t, "mcp-gateway")
	u, err := env.ControlPlane.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, nil)
	require.NoError(t, err)
	kc, err := u.KubeConfig()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubeconfig"), kc, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "session-key"), append(sessionKey, '\n'), 0o600))
	return bin, []string{"--listen=" + freeAddr(t), "--metrics-listen=" + freeAddr(t), "--kubeconfig=" + filepath.Join(dir, "kubeconfig"),
		"--session-key-file=" + filepath.Join(dir, "session-key"), "--auth=none", "--namespaces=" + ns, "--lease-namespace=" + ns}
}

// freeAddr is a loopback address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
