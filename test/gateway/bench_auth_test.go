package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	mcpapi "github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
)

// BenchmarkAuthorization is what auth costs one request at the Guard
// (authenticate, scope check, authorize) against the envtest API server,
// per authenticator, with its caches on and off: a cached token and
// decision; the token verified or reviewed on every request (its cache
// off) with the decision cached; and nothing cached, a SubjectAccessReview
// on every request too. The OIDC tokens are RS256 with a 2048-bit RSA key
// (Hydra's kind), from a JWKS on loopback; ServiceAccount tokens are the
// API server's own, verified locally (serviceaccount) or by TokenReview
// (kubernetes).
func BenchmarkAuthorization(b *testing.B) {
	ns := namespace(b)
	ctx := context.Background()
	issuer, oidcToken := benchIssuer(b, ns)
	_, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{})
	require.NoError(b, err)
	res, err := auth.NewResources([]string{"https://gw.bench"})
	require.NoError(b, err)
	resource := "https://gw.bench/mcp/" + ns + "/github"
	saToken := audienceToken(b, client, ns, "bench", resource)
	grantGroup(b, ns, "bench-oidc", rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "oidc:bench"}, []string{mcpapi.VerbUse}, "github")
	grantGroup(b, ns, "bench-sa", serviceAccount(ns, "bench"), []string{mcpapi.VerbUse}, "github")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// No client-side rate limit: the API server's own cost is measured
	// (the suite's client would pace the uncached variants at its QPS).
	cfg := rest.CopyConfig(restConfig)
	cfg.QPS = -1
	api, err := kubernetes.NewForConfig(cfg)
	require.NoError(b, err)

	type variant struct {
		name             string
		tokenTTL, sarTTL time.Duration
	}
	const cached = 10 * time.Second
	variants := []variant{{"cached", cached, cached}, {"token-uncached", 0, cached}, {"nothing-cached", 0, 0}}
	modes := []struct {
		name  string
		token string
		make  func(ttl time.Duration) auth.Authenticator
	}{
		{"oidc", oidcToken, func(ttl time.Duration) auth.Authenticator {
			return auth.NewOIDC([]auth.IssuerConfig{{URL: issuer, Username: auth.PrefixedClaim{Claim: "sub", Prefix: "oidc:"}}}, ttl, log)
		}},
		{"serviceaccount", saToken, func(ttl time.Duration) auth.Authenticator {
			sa, err := auth.NewServiceAccounts(cfg, nil, true, ttl, log)
			require.NoError(b, err)
			return sa
		}},
		{"kubernetes-tokenreview", saToken, func(ttl time.Duration) auth.Authenticator {
			return auth.NewTokenReview(api, nil, true, ttl)
		}},
	}
	for _, m := range modes {
		for _, v := range variants {
			b.Run(m.name+"/"+v.name, func(b *testing.B) {
				chain, err := auth.NewChain(auth.Mode{Name: m.name, Authenticator: m.make(v.tokenTTL), Decider: auth.NewAccessReview(api, v.sarTTL)})
				require.NoError(b, err)
				g := &auth.Guard{Auth: chain, Log: log, Resources: res}
				a := auth.Attributes{Verb: mcpapi.VerbUse, Namespace: ns, Name: "github"}
				req := httptest.NewRequest(http.MethodPost, resource, nil)
				req.Header.Set("Authorization", "Bearer "+m.token)
				check := func() {
					rec := httptest.NewRecorder()
					if _, ok := g.Check(rec, req, a, func(w http.ResponseWriter, _ *http.Request, status int, msg string) { http.Error(w, msg, status) }); !ok {
						b.Fatalf("refused: %d %s", rec.Code, rec.Body.String())
					}
				}
				check() // discovery, first JWKS fetch
				b.ResetTimer()
				for b.Loop() {
					check()
				}
			})
		}
	}
}

// benchIssuer serves a JWKS of one RSA-2048 key and returns the issuer and
// a token of it for gw.bench's github server, valid for an hour.
func benchIssuer(b *testing.B, ns string) (string, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(b, err)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	require.NoError(b, err)
	payload, err := json.Marshal(map[string]any{
		"iss": srv.URL, "sub": "bench", "aud": "https://gw.bench/mcp/" + ns + "/github",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "groups": []string{"engineering"},
	})
	require.NoError(b, err)
	jws, err := signer.Sign(payload)
	require.NoError(b, err)
	tok, err := jws.CompactSerialize()
	require.NoError(b, err)
	return srv.URL, tok
}
