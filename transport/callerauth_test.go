package transport_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport"
)

// toolsUpstream is a streamable-http MCP server with tools echo, secret
// and whoami (the caller identity header it received).
func toolsUpstream(t *testing.T) string {
	t.Helper()
	s := sdk.NewServer(&sdk.Implementation{Name: "tools", Version: "1"}, nil)
	text := func(s string) *sdk.CallToolResult {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
	}
	for _, name := range []string{"echo", "secret"} {
		sdk.AddTool(s, &sdk.Tool{Name: name}, func(_ context.Context, _ *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			return text(name + " ran"), nil, nil
		})
	}
	sdk.AddTool(s, &sdk.Tool{Name: "whoami"}, func(_ context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		return text(req.Extra.Header.Get(api.HeaderCallerUser) + "|" + req.Extra.Header.Get(api.HeaderCallerGroups)), nil, nil
	})
	srv := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp"
}

// gatewayPKI writes a gateway CA bundle and returns its path and a client
// certificate of that CA.
func gatewayPKI(t *testing.T) (bundle string, cert tls.Certificate) {
	t.Helper()
	ca, err := certs.NewCA("test-gateway-ca", time.Hour)
	require.NoError(t, err)
	pair, err := ca.IssueClient("mcp-gateway", time.Hour)
	require.NoError(t, err)
	cert, err = tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	require.NoError(t, err)
	bundle = filepath.Join(t.TempDir(), "ca.crt")
	require.NoError(t, os.WriteFile(bundle, ca.PEM, 0o600))
	return bundle, cert
}

// asCaller is the gateway's hop: its client certificate (or none) and the
// caller identity headers.
type asCaller struct {
	base        http.RoundTripper
	user, group string
}

func (a asCaller) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if a.user != "" {
		u, g := api.EncodeCaller(api.Caller{User: a.user, Groups: []string{a.group}})
		r.Header.Set(api.HeaderCallerUser, u)
		r.Header.Set(api.HeaderCallerGroups, g)
	}
	return a.base.RoundTrip(r)
}

func tlsClient(cert *tls.Certificate, user string) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the sidecar's certificate is ephemeral
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: asCaller{base: &http.Transport{TLSClientConfig: cfg}, user: user, group: "team-a"}, Timeout: 30 * time.Second}
}

// The sidecar with caller authentication and an allow-list: only the
// gateway's certificate gets MCP, with its caller identity passed on; the
// hidden tool is neither listed nor callable; probes stay open.
func TestSidecarAuthenticatesTheGateway(t *testing.T) {
	t.Parallel()
	bundle, cert := gatewayPKI(t)
	base := serveInProcess(t, transport.Options{Mode: api.TransportStreamableHTTP, Upstream: toolsUpstream(t),
		ClientCAFile: bundle, AllowedTools: []string{"echo", "whoami"}})
	probe := tlsClient(nil, "")
	require.Eventually(t, func() bool {
		resp, err := probe.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "readiness over HTTPS without a client certificate (the kubelet)")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "gw", Version: "1"}, nil).Connect(ctx,
		&sdk.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: tlsClient(&cert, "alice")}, &sdk.ClientSessionOptions{ProtocolVersion: mcp.LatestVersion})
	require.NoError(t, err)
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	assert.ElementsMatch(t, []string{"echo", "whoami"}, names, "the hidden tool is not listed")
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "whoami"})
	require.NoError(t, err)
	assert.Equal(t, "alice|team-a", res.Content[0].(*sdk.TextContent).Text, "the verified caller reaches the server")
	_, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "secret"})
	require.ErrorContains(t, err, `tool "secret" is not allowed on this server`)

	// Anyone else: 403 with a JSON-RPC body, forged identity or not.
	for _, user := range []string{"", "system:admin"} {
		req, err := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := tlsClient(nil, user).Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.True(t, json.Valid(body), string(body))
		assert.Contains(t, string(body), "only the MCP gateway may call this server")
	}
	resp, err := probe.Get(base + "/metrics")
	require.NoError(t, err)
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(m), `mcp_transport_refused_total{reason="no_client_certificate"} 2`)
	assert.Contains(t, string(m), `mcp_transport_refused_total{reason="tool_not_allowed"} 1`)

	// Plain HTTP to the TLS port gets an answer, not a hang.
	plain, err := (&http.Client{Timeout: 10 * time.Second}).Get(strings.Replace(base, "https:", "http:", 1) + "/mcp")
	require.NoError(t, err)
	plain.Body.Close()
	assert.Equal(t, http.StatusBadRequest, plain.StatusCode)
}

// Without caller authentication (no CA bundle) nothing a client says about
// its caller reaches the server.
func TestSidecarWithoutCallerAuthDropsIdentity(t *testing.T) {
	t.Parallel()
	base := serveInProcess(t, transport.Options{Mode: api.TransportStreamableHTTP, Upstream: toolsUpstream(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &http.Client{Transport: asCaller{base: http.DefaultTransport, user: "system:admin", group: "system:masters"}}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "x", Version: "1"}, nil).Connect(ctx,
		&sdk.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: client}, nil)
	require.NoError(t, err)
	defer cs.Close()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "whoami"})
	require.NoError(t, err)
	assert.Equal(t, "|", res.Content[0].(*sdk.TextContent).Text)
}

// The preStop hook is `mcp-transport drain`, run in the pod: it reaches
// the sidecar's /drain on loopback over TLS and returns once drained.
func TestDrainCommand(t *testing.T) {
	t.Parallel()
	bundle, _ := gatewayPKI(t)
	base := serveInProcess(t, transport.Options{Mode: api.TransportStreamableHTTP, Upstream: toolsUpstream(t), ClientCAFile: bundle})
	out, err := exec.Command(transportBin, "drain", "--url", base+api.DrainPath, "--timeout", "20s").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "drained")
	resp, err := tlsClient(nil, "").Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "draining: not ready")

	out, err = exec.Command(transportBin, "drain", "--url", "https://127.0.0.1:1/drain", "--timeout", "5s").CombinedOutput()
	assert.Error(t, err, "a sidecar that is not there is an error of the hook")
	assert.Contains(t, string(out), "drain:")
}
