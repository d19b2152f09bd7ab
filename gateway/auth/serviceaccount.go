package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/client-go/rest"
)

// The paths the API server publishes its ServiceAccount issuer at
// (ServiceAccountIssuerDiscovery); the gateway reads both through the API
// server with its own credentials, whatever host the document names, since
// the issuer's public name may not resolve inside the cluster.
const (
	saDiscoveryPath = "/.well-known/openid-configuration"
	saJWKSPath      = "/openid/v1/jwks"
)

// ServiceAccounts verifies the cluster's own ServiceAccount tokens locally,
// with the keys the API server publishes, and maps them to the user the API
// server would (system:serviceaccount:<ns>:<name> and its groups): no
// TokenReview round trip. Unlike TokenReview it cannot see that a bound
// pod or secret was deleted; such a token stays good until it expires.
// Tokens of another issuer, and all tokens while the cluster does not
// publish its issuer, are left to the next mode (TokenReview).
type ServiceAccounts struct {
	client    *http.Client
	host      string
	audiences []string
	resource  bool
	cache     *tokenCache
	log       *slog.Logger

	mu      sync.Mutex
	v       *jwtVerifier
	lastTry time.Time
	flight  singleflight.Group
}

// NewServiceAccounts returns the serviceaccount mode's authenticator for the
// cluster cfg reaches. audiences are gateway-wide; with resource, a token
// for the target's URL is accepted too. A token must name one or the other:
// never the API server's own audience.
func NewServiceAccounts(cfg *rest.Config, audiences []string, resource bool, ttl time.Duration, log *slog.Logger) (*ServiceAccounts, error) {
	if len(audiences) == 0 && !resource {
		return nil, errors.New("serviceaccount: needs --public-url or --token-audiences: without an audience of its own the gateway would accept tokens meant for the API server")
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("serviceaccount: API server client: %w", err)
	}
	hc.Timeout = 10 * time.Second
	host, err := apiServerBase(cfg)
	if err != nil {
		return nil, err
	}
	return &ServiceAccounts{client: hc, host: host, audiences: audiences, resource: resource, cache: newTokenCache(ttl), log: log}, nil
}

func apiServerBase(cfg *rest.Config) (string, error) {
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return "", fmt.Errorf("serviceaccount: API server URL: %w", err)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// Discover fetches the issuer now, to log the outcome at start.
func (s *ServiceAccounts) Discover(ctx context.Context) error {
	_, err := s.verifier(ctx)
	return err
}

// Issuer is the cluster's issuer URL, once discovered.
func (s *ServiceAccounts) Issuer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v == nil {
		return ""
	}
	return s.v.issuer
}

// AuthenticateToken implements Authenticator.
func (s *ServiceAccounts) AuthenticateToken(ctx context.Context, token string, target Target) (*User, error) {
	if !s.resource {
		target = Target{} // gateway-wide audiences only
	}
	vt, key := s.cache.get(token)
	if vt != nil {
		return vt.check(target)
	}
	h, iss, ok := peek(token)
	if !ok {
		return nil, unknown("the token is not a JWT")
	}
	v, err := s.verifier(ctx)
	if err != nil || iss != v.issuer {
		return nil, unknown("the token's issuer is not trusted")
	}
	vt, err = v.verify(ctx, token, h)
	var kerr *keysUnavailableError
	if errors.As(err, &kerr) {
		// The API server is up enough to be asked: let TokenReview decide.
		s.log.Warn("ServiceAccount keys unavailable, falling back to TokenReview", "error", err.Error())
		return nil, unknown("the cluster's keys are unavailable")
	}
	if err != nil {
		return nil, err
	}
	s.cache.add(key, vt)
	return vt.check(target)
}

// rediscoverSA spaces discovery attempts while the issuer is not published.
const rediscoverSA = 30 * time.Second

func (s *ServiceAccounts) verifier(ctx context.Context) (*jwtVerifier, error) {
	s.mu.Lock()
	v, lastTry := s.v, s.lastTry
	s.mu.Unlock()
	if v != nil {
		return v, nil
	}
	if !lastTry.IsZero() && time.Since(lastTry) < rediscoverSA {
		return nil, errors.New("serviceaccount: issuer not discovered")
	}
	r, err, _ := s.flight.Do("", func() (any, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		v, err := s.discover(dctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lastTry = time.Now()
		if err != nil {
			s.log.Warn("the cluster's ServiceAccount issuer is not available: its tokens go to TokenReview", "error", err.Error())
			return nil, err
		}
		s.v = v
		s.log.Info("ServiceAccount tokens are verified locally", "issuer", v.issuer, "audiences", s.audiences, "resource", s.resource)
		return v, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*jwtVerifier), nil
}

func (s *ServiceAccounts) discover(ctx context.Context) (*jwtVerifier, error) {
	// The issuer is whatever the document says; its identity is vouched
	// for by the API server connection itself.
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := getJSON(ctx, s.client, s.host+saDiscoveryPath, &doc); err != nil {
		return nil, err
	}
	if doc.Issuer == "" {
		return nil, errors.New("the discovery document names no issuer")
	}
	return newJWTVerifier(doc.Issuer, newKeySet(s.host+saJWKSPath, s.client), s.audiences, mapServiceAccount), nil
}

// mapServiceAccount maps a ServiceAccount token's claims as the API server
// does: the user system:serviceaccount:<ns>:<name>, the ServiceAccount's
// UID, its groups, and the bound pod and node as extra.
func mapServiceAccount(c *claims) (*User, error) {
	k8s, _ := c.raw["kubernetes.io"].(map[string]any)
	ns, _ := k8s["namespace"].(string)
	sa, _ := k8s["serviceaccount"].(map[string]any)
	name, _ := sa["name"].(string)
	uid, _ := sa["uid"].(string)
	if ns == "" || name == "" || c.sub != "system:serviceaccount:"+ns+":"+name {
		return nil, refused("the token is not a ServiceAccount token of this cluster")
	}
	u := &User{
		Name: c.sub, UID: uid, Via: "serviceaccount",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	extra := map[string][]string{}
	for _, ref := range []string{"pod", "node"} {
		obj, _ := k8s[ref].(map[string]any)
		if n, _ := obj["name"].(string); n != "" {
			extra["authentication.kubernetes.io/"+ref+"-name"] = []string{n}
		}
		if id, _ := obj["uid"].(string); id != "" {
			extra["authentication.kubernetes.io/"+ref+"-uid"] = []string{id}
		}
	}
	if jti, _ := c.raw["jti"].(string); jti != "" {
		extra["authentication.kubernetes.io/credential-id"] = []string{"JTI=" + jti}
	}
	if len(extra) > 0 {
		u.Extra = extra
	}
	return u, nil
}
