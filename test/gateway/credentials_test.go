package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// Per-caller credentials: the server sees the headers of the caller's own
// credential Secret, and never the caller's bearer token.
func TestCallerCredentials(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	ctx := context.Background()
	url, gw := startGatewayWith(t, gateway.Config{Auth: auth.NewKubernetes(client, nil, 5*time.Second), CallerCredentials: true})
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-1", nil))

	alice := serviceAccountToken(t, ns, "alice")
	bob := serviceAccountToken(t, ns, "bob")
	use := rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{api.RBACResource}, Verbs: []string{api.VerbUse}}
	grant(t, ns, "alice", use)
	grant(t, ns, "bob", use)
	_, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-github",
			Labels:      map[string]string{api.CredentialsForLabel: "github"},
			Annotations: map[string]string{api.CredentialsSubjectAnnot: "system:serviceaccount:" + ns + ":alice"}},
		StringData: map[string]string{"Authorization": "Bearer alice-github-pat", "X-GitHub-Org": "archestra"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return gw.Credentials.Headers(ns, "github", "system:serviceaccount:"+ns+":alice") != nil
	}, 5*time.Second, 10*time.Millisecond)

	header := func(token, name string) string {
		cs := connect(t, url+"/mcp/"+ns+"/github", token, nil)
		out, err := mcptest.Call(ctx, cs, "header", map[string]any{"text": name})
		require.NoError(t, err)
		return out
	}
	assert.Equal(t, "Bearer alice-github-pat", header(alice, "Authorization"))
	assert.Equal(t, "archestra", header(alice, "X-GitHub-Org"))
	assert.Empty(t, header(bob, "Authorization"), "bob has no credentials, and his own token is not forwarded")
	assert.Empty(t, header(bob, "X-GitHub-Org"))
}
