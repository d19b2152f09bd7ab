package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"k8s.io/apimachinery/pkg/util/cache"
)

// clockSkew is how far the gateway's clock may be off the issuer's: a
// token is good from nbf-skew to exp+skew (the API server's ServiceAccount
// authenticator allows the same minute).
const clockSkew = time.Minute

// jwtHeader is the part of a JOSE header read before verification, to pick
// the issuer and refuse bad algorithms with a clear reason.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// peek decodes a compact JWS's header and its payload's iss without
// verifying anything: only to route the token to its issuer. ok is false
// for anything that is not shaped like a JWT.
func peek(token string) (h jwtHeader, iss string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return h, "", false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil {
		return h, "", false
	}
	var p struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(pb, &p) != nil {
		return h, "", false
	}
	return h, p.Iss, true
}

// jwtVerifier verifies an issuer's tokens locally: the signature with the
// issuer's JWKS (go-oidc's verifier over our key set), iss, exp and nbf
// with clockSkew, and aud against the target; then mapUser turns the claims
// into a user.
type jwtVerifier struct {
	issuer    string
	keys      *keySet
	verifier  *oidc.IDTokenVerifier
	audiences []string // gateway-wide
	mapUser   func(c *claims) (*User, error)
	now       func() time.Time
}

// verified is a token whose signature and claims were checked; what
// depends on the time and the request is checked on each use.
type verified struct {
	v        *jwtVerifier
	user     *User
	aud      []string // canonical where a URL
	exp, nbf time.Time
}

func newJWTVerifier(issuer string, keys *keySet, audiences []string, mapUser func(*claims) (*User, error)) *jwtVerifier {
	v := &jwtVerifier{issuer: issuer, keys: keys, audiences: audiences, mapUser: mapUser, now: time.Now}
	algs := make([]string, len(allowedAlgs))
	for i, a := range allowedAlgs {
		algs[i] = string(a)
	}
	// Expiry, nbf and aud are checked here, with our skew and the
	// request's target; go-oidc checks the signature and iss.
	v.verifier = oidc.NewVerifier(issuer, keySetVerifier{keys}, &oidc.Config{
		SkipClientIDCheck: true, SkipExpiryCheck: true, SupportedSigningAlgs: algs,
	})
	return v
}

// verify checks token (whose header the caller peeked) and maps its user.
func (v *jwtVerifier) verify(ctx context.Context, token string, h jwtHeader) (*verified, error) {
	if !algAllowed(h.Alg) {
		return nil, refused("the signature algorithm %q is not allowed (asymmetric algorithms only)", truncate(h.Alg, 16))
	}
	res := &verifyResult{}
	idt, err := v.verifier.Verify(context.WithValue(ctx, verifyResultKey{}, res), token)
	if err != nil {
		return nil, v.classify(err, res.err)
	}
	var c claims
	if err := idt.Claims(&c.raw); err != nil {
		return nil, refused("the token's claims are not a JSON object")
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	u, err := v.mapUser(&c)
	if err != nil {
		return nil, err
	}
	return &verified{v: v, user: u, aud: canonicalAudiences(c.aud), exp: c.exp, nbf: c.nbf}, nil
}

// canonicalAudiences puts the URLs among aud in canonical form, once per
// token rather than on every request.
func canonicalAudiences(aud []string) []string {
	out := make([]string, len(aud))
	for i, a := range aud {
		if cu, ok := canonicalURL(a); ok {
			a = cu
		}
		out[i] = a
	}
	return out
}

// check applies the checks that depend on the time and the request.
func (vt *verified) check(target Target) (*User, error) {
	now := vt.v.now()
	if now.After(vt.exp.Add(clockSkew)) {
		return nil, refused("the token expired at %s", vt.exp.UTC().Format(time.RFC3339))
	}
	if !vt.nbf.IsZero() && now.Before(vt.nbf.Add(-clockSkew)) {
		return nil, refused("the token is not valid before %s", vt.nbf.UTC().Format(time.RFC3339))
	}
	if !vt.audienceOK(target) {
		return nil, refused("the token's audience is not this resource (want %s)", describeAudiences(target, vt.v.audiences))
	}
	u := *vt.user
	return &u, nil
}

// audienceOK: the token's aud names one of the target's resources (in
// canonical form, RFC 8707) or a gateway-wide audience (exactly).
func (vt *verified) audienceOK(target Target) bool {
	for _, a := range vt.aud {
		if slices.Contains(target.Resources, a) || slices.Contains(vt.v.audiences, a) {
			return true
		}
	}
	return false
}

// tokenCache keeps verified tokens by hash (never the token itself), for
// ttl and never past exp, in an LRU bounded like the other caches.
type tokenCache struct {
	ttl   time.Duration
	cache *cache.LRUExpireCache
}

func newTokenCache(ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, cache: cache.NewLRUExpireCache(cacheSize)}
}

// get returns the cached token, or its key to add it under.
func (c *tokenCache) get(token string) (*verified, string) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if vt, ok := c.cache.Get(key); ok {
		return vt.(*verified), key
	}
	return nil, key
}

func (c *tokenCache) add(key string, vt *verified) {
	if ttl := min(c.ttl, time.Until(vt.exp)); ttl > 0 {
		c.cache.Add(key, vt, ttl)
	}
}

func describeAudiences(t Target, gatewayWide []string) string {
	all := append(append([]string{}, t.Resources...), gatewayWide...)
	if len(all) == 0 {
		return "an audience configured for the gateway"
	}
	return strings.Join(all, " or ")
}

// classify turns a verification failure into the reason the caller sees;
// a key set that could not be fetched is an outage, not a bad token.
func (v *jwtVerifier) classify(err, keyErr error) error {
	switch {
	case errors.Is(keyErr, errUnknownKey):
		return refused("%s", errUnknownKey.Error())
	case errors.Is(keyErr, errBadSignature):
		return refused("%s", errBadSignature.Error())
	case keyErr != nil:
		return &keysUnavailableError{issuer: v.issuer, err: keyErr}
	case strings.Contains(err.Error(), "different provider"):
		return refused("the token was not issued by %s", v.issuer)
	}
	return refused("the token is malformed")
}

// keysUnavailableError means the issuer's keys could not be had.
type keysUnavailableError struct {
	issuer string
	err    error
}

func (e *keysUnavailableError) Error() string {
	return fmt.Sprintf("keys of issuer %s unavailable: %v", e.issuer, e.err)
}
func (e *keysUnavailableError) Unwrap() error { return e.err }

// keySetVerifier is the oidc.KeySet go-oidc's verifier calls; it hands the
// typed error of our key set back through the context, since go-oidc
// flattens it into a string.
type keySetVerifier struct{ keys *keySet }

type verifyResultKey struct{}

type verifyResult struct{ err error }

func (k keySetVerifier) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSigned(token, allowedAlgs)
	if err == nil {
		var payload []byte
		if payload, err = k.keys.verify(ctx, jws); err == nil {
			return payload, nil
		}
	}
	if res, ok := ctx.Value(verifyResultKey{}).(*verifyResult); ok {
		res.err = err
	}
	return nil, err
}

// claims are a verified token's payload, with the registered claims parsed.
type claims struct {
	raw      map[string]any
	sub      string
	aud      []string
	exp, nbf time.Time
	scopes   []string
}

func (c *claims) parse() error {
	var ok bool
	if c.exp, ok = numericDate(c.raw["exp"]); !ok {
		return refused("the token has no valid exp claim")
	}
	if _, present := c.raw["nbf"]; present {
		if c.nbf, ok = numericDate(c.raw["nbf"]); !ok {
			return refused("the token's nbf claim is not a date")
		}
	}
	c.sub, _ = c.raw["sub"].(string)
	var err error
	if c.aud, err = stringOrList(c.raw["aud"]); err != nil {
		return refused("the token's aud claim is not a string or a list of strings")
	}
	// "scope" (RFC 9068, space separated) or "scp" (a list, or a string).
	if s, ok := c.raw["scope"].(string); ok {
		c.scopes = strings.Fields(s)
	} else if scp, err := stringOrList(c.raw["scp"]); err == nil {
		for _, s := range scp {
			c.scopes = append(c.scopes, strings.Fields(s)...)
		}
	}
	return nil
}

// numericDate reads a JWT NumericDate (seconds, possibly fractional).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)), true
}

// stringOrList reads a claim that is a string or a list of strings.
func stringOrList(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("not a string")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("not a string or list")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
