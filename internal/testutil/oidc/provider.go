// Package oidc runs a real OAuth 2.1 / OpenID Connect provider, Ory Hydra
// (built by hack/build-hydra.sh), on loopback for tests, with a login and
// consent app that accepts every request as a configured user. Tests use it
// to exercise the gateway as an MCP authorization resource server against
// tokens it did not mint itself. Test code only: nothing outside _test.go
// files and test helpers may import it.
package oidc

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

// The JSON Web Key sets Hydra signs JWT access tokens and ID tokens with;
// both are published in the issuer's JWKS.
const (
	accessTokenKeySet = "hydra.jwt.access-token"
	idTokenKeySet     = "hydra.openid.id-token"
)

// topLevelClaims are the user claims that appear at the top level of access
// tokens; Hydra puts every other consented claim only under "ext".
var topLevelClaims = []string{"groups", "email", "name", "roles"}

// Provider is a running Hydra with its login and consent app.
type Provider struct {
	publicURL string // issuer: authorize, token, discovery, JWKS
	adminURL  string // clients, keys, login and consent decisions
	app       *httptest.Server
	admin     *http.Client
	logs      *testutil.Buffer

	resourceAsAudience bool
	caPEM              []byte         // WithPublicAddress
	caPool             *x509.CertPool // WithPublicAddress

	mu    sync.Mutex
	user  string          // subject the next login is accepted as
	users map[string]User // claims by subject
}

// User is who the login app says the browser is, and the claims its consent
// puts into access and ID tokens.
type User struct {
	Subject string
	Groups  []string
	Email   string
	// Claims are further claims for the tokens; they win over Groups and
	// Email. In access tokens, those not in topLevelClaims are under "ext".
	Claims map[string]any
}

// Option configures Start.
type Option func(*config)

type config struct {
	accessTokenTTL     time.Duration
	dynamicClients     bool
	dynamicScopes      []string
	resourceAsAudience bool
	publicIP           string
}

// WithAccessTokenTTL sets the lifetime of access tokens (Hydra's default: 1h).
func WithAccessTokenTTL(d time.Duration) Option {
	return func(c *config) { c.accessTokenTTL = d }
}

// WithDynamicClientRegistration enables RFC 7591 registration at
// <issuer>/oauth2/register and advertises it in the discovery document.
// Registered clients that name no scope may ask for scopes, besides openid
// and offline_access.
func WithDynamicClientRegistration(scopes ...string) Option {
	return func(c *config) {
		c.dynamicClients = true
		c.dynamicScopes = scopes
	}
}

// WithoutResourceAudience makes the consent app grant only the audience a
// client asked for with Hydra's "audience" parameter. By default it also
// grants each RFC 8707 "resource" of the authorization request, which Hydra
// itself ignores, so that tokens for MCP clients carry the server's URL in
// aud, and allows the client that audience, which Hydra checks on refresh.
func WithoutResourceAudience() Option {
	return func(c *config) { c.resourceAsAudience = false }
}

// Start runs Hydra with an in-memory database of its own, waits until it is
// ready and stops it when the test ends. It skips the test under -short, and
// fails it when the binary cannot be had: $HYDRA, else hack/build-hydra.sh.
func Start(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	if testing.Short() {
		t.Skip("oidc: Hydra is not started in -short mode")
	}
	bin, err := hydraBin()
	if err != nil {
		t.Fatalf("oidc: %v", err)
	}
	cfg := config{resourceAsAudience: true}
	for _, o := range opts {
		o(&cfg)
	}
	p := &Provider{
		admin:              &http.Client{Timeout: 10 * time.Second},
		logs:               &testutil.Buffer{},
		resourceAsAudience: cfg.resourceAsAudience,
	}
	p.SetUser("alice", []string{"engineering"})
	p.app = httptest.NewServer(p.appHandler())
	t.Cleanup(p.app.Close)
	if err := p.start(t, bin, cfg); err != nil {
		t.Fatalf("oidc: starting hydra: %v\n%s", err, p.logs.String())
	}
	return p
}

// Issuer is the issuer URL, also the base of discovery
// (/.well-known/openid-configuration), authorize and token endpoints.
func (p *Provider) Issuer() string { return p.publicURL }

// JWKSURL is where the signing keys of ID and access tokens are published.
func (p *Provider) JWKSURL() string { return p.publicURL + "/.well-known/jwks.json" }

// TokenURL is the token endpoint.
func (p *Provider) TokenURL() string { return p.publicURL + "/oauth2/token" }

// AuthURL is the authorization endpoint.
func (p *Provider) AuthURL() string { return p.publicURL + "/oauth2/auth" }

// AdminURL is Hydra's admin API, for what the helpers here do not cover.
func (p *Provider) AdminURL() string { return p.adminURL }

// CallbackURL is the redirect URI clients get by default: the login app
// answers it, though the flows here stop at the redirect and never fetch it.
func (p *Provider) CallbackURL() string { return p.app.URL + "/callback" }

// SetUser makes the next logins subject, member of groups, with the email
// subject@example.test.
func (p *Provider) SetUser(subject string, groups []string) {
	p.SetUserClaims(User{Subject: subject, Groups: groups, Email: subject + "@example.test"})
}

// SetUserClaims makes the next logins u.
func (p *Provider) SetUserClaims(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == nil {
		p.users = map[string]User{}
	}
	p.users[u.Subject] = u
	p.user = u.Subject
}

// hydraBin is $HYDRA, else the build script's output: it returns at once
// when the binary of tools/hydra's version is cached.
var hydraBin = sync.OnceValues(func() (string, error) {
	if h := os.Getenv("HYDRA"); h != "" {
		return h, nil
	}
	script, err := findUp(filepath.Join("hack", "build-hydra.sh"))
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", script, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
})

// findUp looks for rel in the working directory (a test's package) and its
// parents, up to the repository root.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above the working directory; set $HYDRA", rel)
		}
		dir = parent
	}
}
