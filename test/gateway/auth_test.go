package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// serviceAccountToken creates a ServiceAccount and a real token for it
// (TokenRequest API).
func serviceAccountToken(t *testing.T, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	_, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	exp := int64(3600)
	tr, err := client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

// grant binds a Role with rules on servers.mcp.archestra.io to a
// ServiceAccount, as an operator would.
func grant(t *testing.T, ns, sa string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	_, err := client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: sa}, Rules: rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: sa},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

func rawPost(t *testing.T, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestKubernetesAuth(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.NewKubernetes(client, nil, 5*time.Second))
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-1", nil))
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "gitlab"), ns, "gitlab", "gitlab-1", nil))

	allowed := serviceAccountToken(t, ns, "agent")
	other := serviceAccountToken(t, ns, "stranger")
	colleague := serviceAccountToken(t, ns, "colleague")
	useGithub := rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{api.RBACResource}, Verbs: []string{api.VerbUse}, ResourceNames: []string{"github"}}
	grant(t, ns, "agent", useGithub)
	grant(t, ns, "colleague", useGithub)
	ctx := context.Background()

	// Allowed: a whole SDK session with the ServiceAccount's token.
	cs := connect(t, url+"/mcp/"+ns+"/github", allowed, nil)
	out, err := mcptest.Call(ctx, cs, "whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, "github", out)

	// A session id is bound to its caller: another caller allowed on the
	// same server cannot use it.
	req, err := http.NewRequest(http.MethodPost, url+"/mcp/"+ns+"/github", strings.NewReader(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("Authorization", "Bearer "+colleague)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	req.Header.Set("Authorization", "Bearer "+allowed)
	req.Body = io.NopCloser(strings.NewReader(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	tests := []struct {
		name, server, token string
		status              int
		contains            string
	}{
		{"allowed", "github", allowed, http.StatusOK, ""},
		{"other server", "gitlab", allowed, http.StatusForbidden, `may not use servers.mcp.archestra.io gitlab in namespace ` + ns},
		{"no role", "github", other, http.StatusForbidden, `system:serviceaccount:` + ns + `:stranger`},
		{"invalid token", "github", allowed[:len(allowed)-4] + "AAAA", http.StatusUnauthorized, "valid bearer token"},
		{"no token", "github", "", http.StatusUnauthorized, "valid bearer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawPost(t, url+"/mcp/"+ns+"/"+tt.server, tt.token)
			assert.Equal(t, tt.status, resp.StatusCode, body)
			assert.Contains(t, body, tt.contains)
			if tt.status == http.StatusUnauthorized {
				assert.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="mcp-gateway"`), resp.Header.Get("WWW-Authenticate"))
			}
			if tt.status != http.StatusOK {
				assert.Contains(t, body, `"jsonrpc":"2.0"`, "MCP clients get a JSON-RPC error body")
			}
		})
	}
}
