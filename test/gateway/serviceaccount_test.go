package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// audienceToken is a TokenRequest token for sa with the given audiences
// (none: the API server's own).
func audienceToken(t testing.TB, c kubernetes.Interface, ns, sa string, audiences ...string) string {
	t.Helper()
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: ptr.To(int64(3600))},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

// The cluster's own ServiceAccount issuer as a JWT issuer: tokens verified
// with the keys the API server publishes, no TokenReview (the chain has
// none); a token of another cluster that uses the same issuer name is
// refused for its unknown key, also when TokenReview comes after.
func TestServiceAccountIssuer(t *testing.T) {
	t.Parallel()
	og := startOAuthGateway(t, nil, "serviceaccount")
	ns := namespace(t)
	routable(t, og.GW, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-1", nil))
	_, err := client.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "agent"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	grantGroup(t, ns, "agent-uses-github", serviceAccount(ns, "agent"), []string{api.VerbUse}, "github")
	github := og.server(ns, "github")

	forGithub := audienceToken(t, client, ns, "agent", github)
	og.tokens.add(forGithub)
	cs, err := mcptest.ConnectWith(context.Background(), github, og.bearer(forGithub), nil)
	require.NoError(t, err, "a token for the server's URL, verified locally")
	defer cs.Close()
	out, err := mcptest.Call(context.Background(), cs, "whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, "github", out)

	other := otherCluster(t, issuerOf(t))
	_, err = other.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = other.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "agent"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	foreign := audienceToken(t, other, ns, "agent", github)

	withTokenReview := startOAuthGateway(t, nil, "serviceaccount", "kubernetes")
	routable(t, withTokenReview.GW, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-2", nil))
	const invalid = "a valid bearer token is required: "
	tests := []struct {
		name    string
		gw      *oauthGateway
		token   string
		message string
	}{
		{"the API server's audience", og, audienceToken(t, client, ns, "agent"), invalid + "the token's audience is not this resource (want " + github + ")"},
		{"another server's URL", og, audienceToken(t, client, ns, "agent", og.server(ns, "gitlab")), invalid + "the token's audience is not this resource"},
		{"another cluster, same issuer name", og, foreign, invalid + "the token's signing key is not among the issuer's keys"},
		{"another cluster, then TokenReview", withTokenReview, foreign, invalid + "the token's signing key is not among the issuer's keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.gw.tokens.add(tt.token)
			resp, body := rawPost(t, tt.gw.server(ns, "github"), tt.token)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
			assert.Contains(t, rpcErrorMessage(t, body), tt.message)
		})
	}
}

// issuerOf is the envtest API server's ServiceAccount issuer.
func issuerOf(t *testing.T) string {
	t.Helper()
	sa, err := auth.NewServiceAccounts(restConfig, []string{"x"}, false, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, sa.Discover(context.Background()))
	return sa.Issuer()
}

// otherCluster starts a second API server and etcd whose ServiceAccount
// issuer has the same name as the suite's (as two clusters both named
// https://kubernetes.default.svc would), with keys of its own.
func otherCluster(t *testing.T, issuer string) kubernetes.Interface {
	t.Helper()
	e := &envtest.Environment{BinaryAssetsDirectory: os.Getenv("KUBEBUILDER_ASSETS")}
	e.ControlPlane.GetAPIServer().Configure().Set("service-account-issuer", issuer)
	cfg, err := e.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Stop() })
	c, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

func serviceAccount(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "ServiceAccount", Name: name, Namespace: ns}
}
