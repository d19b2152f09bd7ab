package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// OIDC authenticates JWT access tokens (or ID tokens) of the configured
// issuers, verified locally against each issuer's JWKS. A token goes to the
// issuer its iss names; tokens of other issuers, and anything that is not a
// JWT, are left to the next mode.
type OIDC struct {
	issuers map[string]*oidcIssuer
	order   []string
	cache   *tokenCache
}

// NewOIDC prepares the issuers; discovery happens on first use (and is
// retried), so a gateway starts while an identity provider is down.
func NewOIDC(issuers []IssuerConfig, ttl time.Duration, log *slog.Logger) *OIDC {
	o := &OIDC{issuers: map[string]*oidcIssuer{}, cache: newTokenCache(ttl)}
	for _, ic := range issuers {
		o.issuers[ic.URL] = &oidcIssuer{cfg: ic, client: issuerClient(ic), log: log}
		o.order = append(o.order, ic.URL)
	}
	return o
}

// Issuers are the issuer URLs, in the file's order: the authorization
// servers of the protected resource metadata.
func (o *OIDC) Issuers() []string { return slices.Clone(o.order) }

// Discover runs discovery for every issuer now, to log problems at start.
func (o *OIDC) Discover(ctx context.Context) error {
	var errs []error
	for _, iss := range o.order {
		if _, err := o.issuers[iss].verifier(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// AuthenticateToken implements Authenticator.
func (o *OIDC) AuthenticateToken(ctx context.Context, token string, target Target) (*User, error) {
	vt, key := o.cache.get(token)
	if vt != nil {
		return vt.check(target)
	}
	h, iss, ok := peek(token)
	if !ok {
		return nil, unknown("the token is not a JWT")
	}
	is := o.issuers[iss]
	if is == nil {
		return nil, unknown("the token's issuer is not trusted")
	}
	v, err := is.verifier(ctx)
	if err != nil {
		return nil, err
	}
	if vt, err = v.verify(ctx, token, h); err != nil {
		return nil, err
	}
	o.cache.add(key, vt)
	return vt.check(target)
}

// oidcIssuer is one issuer; its verifier exists once discovery succeeded.
type oidcIssuer struct {
	cfg    IssuerConfig
	client *http.Client
	log    *slog.Logger

	mu      sync.Mutex
	v       *jwtVerifier
	lastErr error
	lastTry time.Time
	flight  singleflight.Group
}

// rediscoverAfter spaces discovery attempts of an issuer that failed.
const rediscoverAfter = 5 * time.Second

func (is *oidcIssuer) verifier(ctx context.Context) (*jwtVerifier, error) {
	is.mu.Lock()
	v, lastErr, lastTry := is.v, is.lastErr, is.lastTry
	is.mu.Unlock()
	if v != nil {
		return v, nil
	}
	if lastErr != nil && time.Since(lastTry) < rediscoverAfter {
		return nil, lastErr
	}
	r, err, _ := is.flight.Do("", func() (any, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		v, err := is.discover(dctx)
		is.mu.Lock()
		defer is.mu.Unlock()
		is.lastTry = time.Now()
		if err != nil {
			is.lastErr = err
			is.log.Warn("OIDC discovery failed", "issuer", is.cfg.URL, "error", err.Error())
			return nil, err
		}
		is.v, is.lastErr = v, nil
		is.log.Info("OIDC issuer ready", "issuer", is.cfg.URL, "audiences", is.cfg.Audiences)
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*jwtVerifier), nil
}

func (is *oidcIssuer) discover(ctx context.Context) (*jwtVerifier, error) {
	docURL := is.cfg.DiscoveryURL
	if docURL == "" {
		docURL = strings.TrimSuffix(is.cfg.URL, "/") + "/.well-known/openid-configuration"
	}
	jwksURL, err := discover(ctx, is.client, docURL, is.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", is.cfg.URL, err)
	}
	if err := validateIssuerURL(field.NewPath("jwks_uri"), jwksURL); err != nil {
		return nil, fmt.Errorf("issuer %s: jwks_uri %s must use https", is.cfg.URL, jwksURL)
	}
	return newJWTVerifier(is.cfg.URL, newKeySet(jwksURL, is.client), is.cfg.Audiences, is.mapUser), nil
}

// discover reads an OpenID Connect discovery document and returns its
// jwks_uri; the document must name wantIssuer exactly (OIDC Discovery 4.3).
func discover(ctx context.Context, client *http.Client, docURL, wantIssuer string) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, client, docURL, &doc); err != nil {
		return "", err
	}
	if doc.Issuer != wantIssuer {
		return "", fmt.Errorf("discovery %s names issuer %q, want %q", docURL, doc.Issuer, wantIssuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery %s has no jwks_uri", docURL)
	}
	return doc.JWKSURI, nil
}

// getJSON fetches a small JSON document. JWKS are asked for with their own
// media type too, which the API server insists on.
func getJSON(ctx context.Context, client *http.Client, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("GET %s: reading: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &discoveryStatusError{url: u, status: resp.StatusCode}
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: decoding: %w", u, err)
	}
	return nil
}

type discoveryStatusError struct {
	url    string
	status int
}

func (e *discoveryStatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d", e.url, e.status)
}

// mapUser applies the claim mappings and validation rules of the file.
func (is *oidcIssuer) mapUser(c *claims) (*User, error) {
	cfg := is.cfg
	for _, r := range cfg.Rules {
		if v, ok := c.raw[r.Claim].(string); !ok || v != r.Value {
			return nil, refused("the claim %q does not have the required value", r.Claim)
		}
	}
	name, ok := c.raw[cfg.Username.Claim].(string)
	if !ok || name == "" {
		return nil, refused("the token has no string claim %q to name the user", cfg.Username.Claim)
	}
	if cfg.Username.Claim == "email" {
		// As the API server does: an unverified address names no one.
		if v, present := c.raw["email_verified"]; present && v != true {
			return nil, refused("the token's email is not verified")
		}
	}
	u := &User{Name: cfg.Username.Prefix + name, Scopes: c.scopes, OAuth: true, Via: "oidc"}
	if cfg.Groups.Claim != "" {
		groups, err := stringOrList(c.raw[cfg.Groups.Claim])
		if err != nil {
			return nil, refused("the token's claim %q is not a string or a list of strings", cfg.Groups.Claim)
		}
		for _, g := range groups {
			u.Groups = append(u.Groups, cfg.Groups.Prefix+g)
		}
	}
	if cfg.UIDClaim != "" {
		if u.UID, ok = c.raw[cfg.UIDClaim].(string); !ok {
			return nil, refused("the token has no string claim %q for the user's uid", cfg.UIDClaim)
		}
	}
	// Every authenticated user is in this group, as in the API server.
	u.Groups = append(u.Groups, "system:authenticated")
	return u, nil
}

// issuerClient talks to an identity provider: its own CA if configured.
func issuerClient(ic IssuerConfig) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if ic.CA != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: ic.CA, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 10 * time.Second}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
