package oidc

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// start runs Hydra behind two loopback proxies, public and admin, that pass
// it one request at a time. Hydra's in-memory database is SQLite with a
// shared cache, where concurrent writes fail ("Unable to serialize access
// due to a concurrent update") and a file database with a busy timeout
// stalls instead: Hydra writes outside its open transaction, and SQLite has
// one writer. Hydra never calls back into a test while it handles a request
// (the login and consent app runs between requests), so the queue cannot
// deadlock. Hydra listens on unix sockets: no port can be taken from it.
func (p *Provider) start(t testing.TB, bin string, cfg config) error {
	// Socket paths have ~100 bytes: t.TempDir() with a long test name is too long.
	dir, err := os.MkdirTemp("", "oidc")
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	one := &sync.Mutex{}
	public, err := p.publicServer(cfg, serialized(one, filepath.Join(dir, "public.sock")))
	if err != nil {
		return err
	}
	admin := httptest.NewServer(serialized(one, filepath.Join(dir, "admin.sock")))
	t.Cleanup(public.Close)
	t.Cleanup(admin.Close)
	p.publicURL, p.adminURL = public.URL, admin.URL

	file := filepath.Join(dir, "hydra.json")
	conf, err := json.Marshal(p.hydraConfig(dir, cfg))
	if err != nil {
		return fmt.Errorf("encoding config: %w", err)
	}
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	// --dev allows the http issuer; --sqa-opt-out keeps Hydra from reporting
	// usage to Ory over the network.
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
	for set, kid := range map[string]string{accessTokenKeySet: "initial", idTokenKeySet: "initial-id"} {
		if err := p.addKey(context.Background(), set, kid); err != nil {
			stop()
			return fmt.Errorf("adding the first key of %s: %w", set, err)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("hydra output:\n%s", p.logs.String())
		}
	})
	return nil
}

// publicServer is the issuer's listener: loopback http, or https on the
// public address.
func (p *Provider) publicServer(cfg config, h http.Handler) (*httptest.Server, error) {
	if cfg.publicIP == "" {
		return httptest.NewServer(h), nil
	}
	cert, caPEM, pool, err := issuerCert(cfg.publicIP)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(cfg.publicIP, "0"))
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.publicIP, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	p.caPEM, p.caPool = caPEM, pool
	p.admin.Transport = p.transport()
	return srv, nil
}

// serialized proxies to the unix socket, one request at a time under mu.
func serialized(mu *sync.Mutex, socket string) http.Handler {
	target := &url.URL{Scheme: "http", Host: "hydra"}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", socket)
			},
		},
		// Until Hydra listens, readiness polls end here; say nothing.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "hydra: "+err.Error(), http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		proxy.ServeHTTP(w, r)
	})
}

// hydraConfig is Hydra's configuration file (JSON is YAML).
func (p *Provider) hydraConfig(dir string, cfg config) map[string]any {
	conf := map[string]any{
		"dsn": "memory",
		"log": map[string]any{"level": "warn"},
		"serve": map[string]any{
			"public": map[string]any{"host": "unix:" + filepath.Join(dir, "public.sock")},
			"admin":  map[string]any{"host": "unix:" + filepath.Join(dir, "admin.sock")},
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
