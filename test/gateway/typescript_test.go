package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/oidc"
)

// tsClient is the TypeScript SDK client script; `make setup` installs its
// pinned SDK (npm ci).
const tsClient = "testdata/ts-oauth/client.mjs"

type tsResult struct {
	Tools                       []string `json:"tools"`
	Whoami                      string   `json:"whoami"`
	AuthorizationHeaderAtServer string   `json:"authorizationHeaderAtServer"`
	Registered                  bool     `json:"registered"`
	AuthorizationURL            string   `json:"authorizationUrl"`
}

// The TypeScript SDK's OAuth client provider through the gateway, against
// a real Hydra: authorization code (registered dynamically, and
// pre-registered) and client credentials, everything discovered from the
// 401; then tools listed and called.
func TestTypeScriptOAuthClient(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs node and Hydra")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is needed (Node.js, part of the machine setup)")
	_, err = os.Stat(filepath.Join(filepath.Dir(tsClient), "node_modules", "@modelcontextprotocol", "sdk"))
	require.NoError(t, err, "the TypeScript SDK is not installed: run `make setup` (npm ci --prefix test/gateway/testdata/ts-oauth)")

	p := oidc.Start(t, oidc.WithDynamicClientRegistration("mcp"))
	og := startOAuthGateway(t, p, "oidc")
	ns := namespace(t)
	routable(t, og.GW, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-1", nil))
	grantGroup(t, ns, "engineering-uses-github", group("oidc:engineering"), []string{api.VerbUse}, "github")
	ctx := context.Background()
	browser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := io.ReadAll(r.Body)
		q, err := p.Authorize(r.Context(), string(u))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"code": q.Get("code"), "state": q.Get("state")})
	}))
	t.Cleanup(browser.Close)

	public, err := p.RegisterClient(ctx, oidc.ClientSpec{Public: true, Scopes: []string{"mcp"}})
	require.NoError(t, err)
	svc, err := p.RegisterClient(ctx, oidc.ClientSpec{Scopes: []string{"mcp"}, Audience: []string{og.URL + "/mcp"}})
	require.NoError(t, err)
	grantGroup(t, ns, "client-uses-github", rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "oidc:" + svc.ID}, []string{api.VerbUse}, "github")
	github := og.server(ns, "github")
	tests := []struct {
		name       string
		env        []string
		registered bool
	}{
		{"authorization code, dynamic registration", []string{"MODE=authorization_code"}, true},
		{"authorization code, pre-registered client", []string{"MODE=authorization_code", "CLIENT_ID=" + public.ID}, false},
		{"client credentials", []string{"MODE=client_credentials", "CLIENT_ID=" + svc.ID, "CLIENT_SECRET=" + svc.Secret, "ISSUER=" + p.Issuer(), "SCOPE=mcp"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, tsClient)
			cmd.Env = append(os.Environ(), append(tt.env, "MCP_URL="+github, "REDIRECT_URL="+p.CallbackURL(), "BROWSER_URL="+browser.URL)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "node %s: %s\ngateway log:\n%s", tsClient, stderr.String(), og.Logs.String())
			var res tsResult
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
			assert.Contains(t, res.Tools, "whoami")
			assert.Equal(t, "github", res.Whoami)
			assert.Empty(t, res.AuthorizationHeaderAtServer, "the caller's token is never forwarded")
			assert.Equal(t, tt.registered, res.Registered)
			if res.AuthorizationURL != "" {
				u, err := url.Parse(res.AuthorizationURL)
				require.NoError(t, err)
				assert.Equal(t, github, u.Query().Get("resource"), "RFC 8707 resource = the server's URL from the metadata")
				assert.Equal(t, "mcp", u.Query().Get("scope"), "the scope of the challenge")
				assert.Equal(t, "S256", u.Query().Get("code_challenge_method"))
			}
		})
	}
}
