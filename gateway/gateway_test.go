package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
)

func newGateway(t *testing.T, a auth.Authorizer, namespaces ...string) (*Gateway, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset()
	codec, err := session.NewCodec([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	gw, err := New(Config{Client: client, Namespaces: namespaces, Codec: codec, Auth: a, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return gw, client
}

func status(t *testing.T, h http.Handler, method, path, token string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Host = "127.0.0.1:8080" // not httptest's example.com, which is no name of the gateway
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestReadyAfterSync(t *testing.T) {
	t.Parallel()
	gw, _ := newGateway(t, auth.None{})
	code, _, _ := status(t, gw, http.MethodGet, "/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "not ready before the informer synced")
	code, _, _ = status(t, gw, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, code)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw.Start(ctx)
	require.Eventually(t, func() bool {
		code, _, _ := status(t, gw, http.MethodGet, "/readyz", "")
		return code == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)
	code, body, _ := status(t, gw, http.MethodGet, "/metrics", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "go_goroutines")
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	assert.ErrorContains(t, err, "required")
}

// Static tokens through the whole handler: MCP traffic and the operators'
// API each need their own grant.
func TestTokensMode(t *testing.T) {
	t.Parallel()
	tokens, err := auth.ParseTokens([]byte(
		"agent " + auth.HashToken("agent-token") + " team/github\n" +
			"ops " + auth.HashToken("ops-token") + " ops:team/*\n"))
	require.NoError(t, err)
	gw, client := newGateway(t, auth.Single(tokens.Mode()), "team")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw.Start(ctx)
	require.True(t, gw.Registry.WaitForSync(ctx))
	b := mcptest.NewBackend(t, "github")
	pod := b.Pod("team", "github", "github-1", nil)
	pod.UID = "uid-github-1"
	_, err = client.CoreV1().Pods("team").Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	other := b.Pod("elsewhere", "github", "github-2", nil)
	other.UID = "uid-github-2"
	_, err = client.CoreV1().Pods("elsewhere").Create(ctx, other, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return gw.Registry.Known("team", "github") }, 5*time.Second, 10*time.Millisecond)
	assert.False(t, gw.Registry.Known("elsewhere", "github"), "--namespaces limits discovery")

	srv := httptest.NewServer(gw)
	defer srv.Close()
	cs, err := mcptest.Connect(ctx, srv.URL+"/mcp/team/github", "agent-token", nil)
	require.NoError(t, err)
	defer cs.Close()
	out, err := mcptest.Call(ctx, cs, "whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, "github", out)

	tests := []struct {
		name, method, path, token string
		code                      int
		contains                  string
	}{
		{"no token", http.MethodPost, "/mcp/team/github", "", http.StatusUnauthorized, `"code":-32000`},
		{"wrong token", http.MethodPost, "/mcp/team/github", "nope", http.StatusUnauthorized, "valid bearer token"},
		{"other server", http.MethodPost, "/mcp/team/gitlab", "agent-token", http.StatusForbidden, `user \"token:agent\" may not use`},
		{"agent has no ops grant", http.MethodGet, "/api/v1/namespaces/team/servers/github", "agent-token", http.StatusForbidden, "may not get"},
		{"ops has no use grant", http.MethodPost, "/mcp/team/github", "ops-token", http.StatusForbidden, "may not use"},
		{"ops lists its namespace", http.MethodGet, "/api/v1/namespaces/team/servers", "ops-token", http.StatusOK, "[]"},
		{"ops may not list the cluster", http.MethodGet, "/api/v1/servers", "ops-token", http.StatusForbidden, "may not list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, hdr := status(t, gw, tt.method, tt.path, tt.token)
			assert.Equal(t, tt.code, code, body)
			assert.Contains(t, body, tt.contains)
			if code == http.StatusUnauthorized {
				assert.True(t, strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="mcp-gateway"`), hdr.Get("WWW-Authenticate"))
			}
		})
	}
	code, body, _ := status(t, gw, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `mcp_gateway_auth_denials_total{reason="unauthenticated"} 2`)
	assert.Contains(t, body, `mcp_gateway_auth_denials_total{reason="forbidden"} 4`)
}

// DNS rebinding is refused on the MCP endpoint before auth (no token
// review for it), with a JSON-RPC body; the Service's names, addresses and
// the public URL pass.
func TestHostAndOrigin(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	codec, err := session.NewCodec([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	public, err := url.Parse("https://mcp.example.com")
	require.NoError(t, err)
	gw, err := New(Config{Client: client, Codec: codec, Auth: auth.None{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicURLs: []*url.URL{public}, AllowedHosts: api.ServiceDNSNames("mcp-gateway", "mcp-system")})
	require.NoError(t, err)
	// 503: let through, and no pod of ns/srv.
	tests := []struct {
		host, origin string
		want         int
		refusal      string
	}{
		{"evil.example.com", "http://evil.example.com", http.StatusForbidden, `host \"evil.example.com\" is not a name of this gateway`},
		{"127.0.0.1:8080", "http://evil.example.com", http.StatusForbidden, `origin \"http://evil.example.com\" may not use this gateway`},
		{"mcp.example.com", "https://mcp.example.com", http.StatusServiceUnavailable, ""},
		{"mcp-gateway.mcp-system.svc.cluster.local", "", http.StatusServiceUnavailable, ""},
		{"10.96.0.1", "", http.StatusServiceUnavailable, ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/mcp/ns/srv", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Host = tt.host
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		assert.Equal(t, tt.want, rec.Code, "%s %s: %s", tt.host, tt.origin, rec.Body.String())
		if tt.refusal != "" {
			assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Forbidden: `+tt.refusal+`"}}`, rec.Body.String())
		}
	}
	// Probes and the operators' API are not MCP: the kubelet probes by address anyway.
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
}
