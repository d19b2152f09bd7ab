// Package oidc runs a real OAuth 2.1 / OpenID Connect provider, Ory Hydra
// (built by hack/build-hydra.sh), on loopback for tests, with a login and
// consent app that accepts every request as a configured user. Tests use it
// to exercise the gateway as an MCP authorization resource server against
// tokens it did not mint itself. Test code only: nothing outside _test.go
// files and test helpers may import it.
package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

// accessTokenKeySet is the JSON Web Key set Hydra signs JWT access tokens
// with; it is published in the issuer's JWKS next to the ID-token set.
const accessTokenKeySet = "hydra.jwt.access-token"

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
// itself ignores, so that tokens for MCP clients carry the server's URL in aud.
func WithoutResourceAudience() Option {
	return func(c *config) { c.resourceAsAudience = false }
}

// Start runs Hydra on two free loopback ports, waits until it is ready and
// stops it when the test ends. It skips the test under -short, and fails it
// when the binary cannot be had: $HYDRA, else hack/build-hydra.sh.
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

	// A port picked free can be taken before Hydra binds it; try again then.
	for attempt := 1; ; attempt++ {
		err = p.run(t, bin, cfg)
		if err == nil || attempt == 3 || !strings.Contains(p.logs.String(), "address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("oidc: starting hydra: %v\n%s", err, p.logs.String())
	}
	return p
}

// run starts one Hydra process and waits for its readiness.
func (p *Provider) run(t testing.TB, bin string, cfg config) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	p.publicURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	p.adminURL = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	file := filepath.Join(t.TempDir(), "hydra.json")
	conf, err := json.Marshal(p.hydraConfig(ports, cfg))
	if err != nil {
		return fmt.Errorf("encoding config: %w", err)
	}
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	// --dev allows the http issuer on loopback; --sqa-opt-out keeps Hydra
	// from reporting usage to Ory over the network.
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "-c", file)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	if err := p.waitReady(exited); err != nil {
		stop()
		return err
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("hydra output:\n%s", p.logs.String())
		}
	})
	return nil
}

// hydraConfig is Hydra's configuration file (JSON is YAML).
func (p *Provider) hydraConfig(ports []int, cfg config) map[string]any {
	conf := map[string]any{
		"dsn": "memory",
		"log": map[string]any{"level": "warn"},
		"serve": map[string]any{
			"public": map[string]any{"host": "127.0.0.1", "port": ports[0]},
			"admin":  map[string]any{"host": "127.0.0.1", "port": ports[1]},
		},
		"urls": map[string]any{
			"self":    map[string]any{"issuer": p.publicURL, "public": p.publicURL, "admin": p.adminURL},
			"login":   p.app.URL + "/login",
			"consent": p.app.URL + "/consent",
			"error":   p.app.URL + "/error",
		},
		// Only this process's memory holds data encrypted with it.
		"secrets":    map[string]any{"system": []string{"oidc-test-provider-system-secret"}},
		"strategies": map[string]any{"access_token": "jwt", "jwt": map[string]any{"scope_claim": "both"}},
		"oauth2": map[string]any{
			// The consent app's session claims go to the top level of the
			// access token instead of only under "ext".
			"allowed_top_level_claims": topLevelClaims,
			"mirror_top_level_claims":  false,
			"pkce":                     map[string]any{"enforced_for_public_clients": true},
		},
	}
	if cfg.dynamicClients {
		conf["oidc"] = map[string]any{"dynamic_client_registration": map[string]any{
			"enabled":       true,
			"default_scope": append([]string{"openid", "offline_access", "offline"}, cfg.dynamicScopes...),
		}}
		// Hydra advertises the endpoint only when told its URL.
		conf["webfinger"] = map[string]any{"oidc_discovery": map[string]any{
			"client_registration_url": p.publicURL + "/oauth2/register",
		}}
	}
	if cfg.accessTokenTTL > 0 {
		conf["ttl"] = map[string]any{"access_token": cfg.accessTokenTTL.String()}
	}
	return conf
}

// waitReady polls both listeners' readiness until they answer 200 or Hydra
// exits; Hydra has no other signal that it serves.
func (p *Provider) waitReady(exited <-chan struct{}) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		if p.ready(p.adminURL) && p.ready(p.publicURL) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("hydra exited before it was ready")
		case <-deadline:
			return errors.New("hydra not ready after 30s")
		case <-tick.C:
		}
	}
}

func (p *Provider) ready(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health/ready", nil)
	if err != nil {
		return false
	}
	resp, err := p.admin.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
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

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
