package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/oidc"
)

// oauthGateway is a gateway replica in process with a real identity
// provider as its OIDC issuer, its public URL its own loopback address,
// and its log kept to be searched for tokens.
type oauthGateway struct {
	URL  string // the public URL
	GW   *gateway.Gateway
	Logs *testutil.Buffer
	// Tokens are the bearer tokens clients sent it, recorded by their
	// transports (recorder), for the log search.
	tokens *tokenSet
}

// oidcConfigFor is the AuthenticationConfiguration the tests use: the
// provider's access tokens, user sub, groups, both prefixed "oidc:".
func oidcConfigFor(issuers ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n")
	for _, iss := range issuers {
		fmt.Fprintf(&b, "- issuer:\n    url: %s\n    audiences: [mcp-gateway-wide]\n", iss)
		b.WriteString("  claimMappings:\n    username: {claim: sub, prefix: \"oidc:\"}\n    groups: {claim: groups, prefix: \"oidc:\"}\n")
	}
	return b.String()
}

// startOAuthGateway runs a gateway whose --auth is modes, with p (if any)
// as the OIDC issuer and the scope "mcp" required.
func startOAuthGateway(t *testing.T, p *oidc.Provider, modes ...string) *oauthGateway {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the apiserver")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	og := &oauthGateway{URL: "http://" + l.Addr().String(), Logs: &testutil.Buffer{}, tokens: &tokenSet{}}
	log := slog.New(slog.NewJSONHandler(og.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res, err := auth.NewResources([]string{og.URL})
	require.NoError(t, err)
	sar := auth.NewAccessReview(client, 5*time.Second)
	var chain []auth.Mode
	for _, m := range modes {
		switch m {
		case "oidc":
			file := filepath.Join(t.TempDir(), "authn.yaml")
			require.NoError(t, os.WriteFile(file, []byte(oidcConfigFor(p.Issuer())), 0o600))
			issuers, err := auth.LoadOIDCConfig(file)
			require.NoError(t, err)
			o := auth.NewOIDC(issuers, 5*time.Second, log)
			res.AuthorizationServers, res.ScopesSupported = o.Issuers(), []string{"mcp"}
			chain = append(chain, auth.Mode{Name: m, Authenticator: o, Decider: sar})
		case "serviceaccount":
			sa, err := auth.NewServiceAccounts(restConfig, nil, true, 5*time.Second, log)
			require.NoError(t, err)
			require.NoError(t, sa.Discover(context.Background()))
			chain = append(chain, auth.Mode{Name: m, Authenticator: sa, Decider: sar})
		case "kubernetes":
			chain = append(chain, auth.Mode{Name: m, Authenticator: auth.NewTokenReview(client, nil, true, 5*time.Second), Decider: sar})
		}
	}
	c, err := auth.NewChain(chain...)
	require.NoError(t, err)
	codec, err := session.NewCodec(sessionKey)
	require.NoError(t, err)
	og.GW, err = gateway.New(gateway.Config{
		Client: client, Codec: codec, Auth: c, Log: log, Resources: res, RequiredScopes: []string{"mcp"},
		DialTimeout: time.Second, HeaderTimeout: 10 * time.Second, CallerCredentials: true,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	og.GW.Start(ctx)
	require.True(t, og.GW.WaitForSync(ctx))
	srv := &http.Server{Handler: og.GW, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	t.Cleanup(func() { og.assertNoTokenLogged(t) })
	return og
}

// server is the URL of ns/server behind the gateway.
func (og *oauthGateway) server(ns, name string) string { return og.URL + "/mcp/" + ns + "/" + name }

// recorder is an HTTP client that records the bearer tokens it sends.
func (og *oauthGateway) recorder() *http.Client {
	return &http.Client{Transport: recordingTransport{og.tokens, http.DefaultTransport}, Timeout: 30 * time.Second}
}

// assertNoTokenLogged searches the gateway's log for every token a client
// sent it, and for each token's signature alone.
func (og *oauthGateway) assertNoTokenLogged(t *testing.T) {
	logs := og.Logs.String()
	for _, tok := range og.tokens.all() {
		assert.NotContains(t, logs, tok, "a bearer token is in the gateway's log")
		if i := strings.LastIndexByte(tok, '.'); i > 0 && len(tok)-i > 16 {
			assert.NotContains(t, logs, tok[i+1:], "a token's signature is in the gateway's log")
		}
	}
	// Tokens the test did not see (the TypeScript client's): no JWT at all.
	assert.NotRegexp(t, `eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`, logs, "a JWT is in the gateway's log")
	assert.NotEmpty(t, logs, "the gateway logged something (the search is not vacuous)")
}

type tokenSet struct {
	mu  sync.Mutex
	set map[string]bool
}

func (s *tokenSet) add(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[string]bool{}
	}
	s.set[tok] = true
}

func (s *tokenSet) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.set {
		out = append(out, t)
	}
	return out
}

type recordingTransport struct {
	set  *tokenSet
	next http.RoundTripper
}

func (r recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		r.set.add(tok)
	}
	return r.next.RoundTrip(req)
}

// addResource is the RFC 8707 resource parameter the MCP Go SDK's client
// credentials handler (v1.8.0) leaves out of its token request, though the
// MCP spec requires it there; Hydra calls it audience. Without it the
// token has no audience and the gateway rightly refuses it.
type addResource struct {
	tokenURL, resource string
	next               http.RoundTripper
}

func (a addResource) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.String() != a.tokenURL || req.Body == nil {
		return a.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	if form.Get("resource") == "" {
		form.Set("resource", a.resource)
		form.Set("audience", a.resource)
	}
	enc := form.Encode()
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(strings.NewReader(enc))
	req.ContentLength = int64(len(enc))
	return a.next.RoundTrip(req)
}

// grantGroup lets an identity provider's group (with the oidc: prefix)
// use the named servers of ns, with a Role and a RoleBinding as an
// operator would write them.
func grantGroup(t testing.TB, ns, name string, subject rbacv1.Subject, verbs []string, servers ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{api.RBACGroup}, Resources: []string{api.RBACResource}, Verbs: verbs, ResourceNames: servers,
	}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{subject},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: name}
}
