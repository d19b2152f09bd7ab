package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const resource = "https://mcp.example.test/mcp/team/github"

var target = Target{Resources: []string{resource}}

// Every refusal the issue lists, and what must still pass, against an
// issuer whose JWKS has one RSA key (k1) and one EC key (k2).
func TestOIDCTokens(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t)
	k1 := ti.key(0)
	k2 := ti.publish(newECKey(t, "k2"))
	other := newTestIssuer(t)      // an issuer the gateway does not trust
	stranger := newRSAKey(t, "k1") // same kid, another key: never published
	chain := Single(Mode{Name: "oidc", Authenticator: NewOIDC([]IssuerConfig{ti.config("mcp-gateway")}, time.Minute, discardLog()), Decider: allowAll{}})

	with := func(change func(map[string]any)) map[string]any {
		c := ti.claimsFor(resource)
		change(c)
		return c
	}
	good := sign(t, k1, ti.claimsFor(resource))
	parts := strings.Split(good, ".")
	pubDER, err := x509.MarshalPKIXPublicKey(k1.priv.Public())
	require.NoError(t, err)
	hs256 := func(key []byte) string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"})
		c, _ := json.Marshal(ti.claimsFor(resource))
		in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, with(func(c map[string]any) { c["groups"] = []string{"admins"} }))) + "." + parts[2]

	tests := []struct {
		name, token string
		target      Target
		want        string // "" accepted, else part of the reason
	}{
		{"valid RS256", good, target, ""},
		{"valid ES256", sign(t, k2, ti.claimsFor(resource)), target, ""},
		{"audience in other case", sign(t, k1, with(func(c map[string]any) { c["aud"] = "HTTPS://MCP.Example.TEST:443/mcp/team/github/" })), target, ""},
		{"gateway-wide audience", sign(t, k1, with(func(c map[string]any) { c["aud"] = "mcp-gateway" })), target, ""},
		{"expired within the skew", sign(t, k1, with(func(c map[string]any) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() })), target, ""},
		{"expired", sign(t, k1, with(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })), target, "expired"},
		{"no exp", sign(t, k1, with(func(c map[string]any) { delete(c, "exp") })), target, "no valid exp"},
		{"not yet valid", sign(t, k1, with(func(c map[string]any) { c["nbf"] = time.Now().Add(5 * time.Minute).Unix() })), target, "not valid before"},
		{"another server's audience", sign(t, k1, with(func(c map[string]any) { c["aud"] = "https://mcp.example.test/mcp/team/gitlab" })), target, "audience is not this resource"},
		{"no audience", sign(t, k1, with(func(c map[string]any) { delete(c, "aud") })), target, "audience"},
		{"audience of the right server on another host", sign(t, k1, with(func(c map[string]any) { c["aud"] = "https://evil.example.test/mcp/team/github" })), target, "audience"},
		{"wrong issuer", sign(t, other.key(0), other.claimsFor(resource)), target, "issuer is not trusted"},
		{"iss claim of ours, signed by another", sign(t, other.key(0), ti.claimsFor(resource)), target, "signature does not verify"},
		{"unknown kid", sign(t, &testKey{kid: "k9", alg: k1.alg, priv: stranger.priv}, ti.claimsFor(resource)), target, "signing key is not among"},
		{"known kid, another key", sign(t, stranger, ti.claimsFor(resource)), target, "signature does not verify"},
		{"alg none", rawJWT(t, map[string]any{"alg": "none", "typ": "JWT"}, ti.claimsFor(resource), nil), target, `algorithm "none" is not allowed`},
		{"HMAC with the public key (DER)", hs256(pubDER), target, `algorithm "HS256" is not allowed`},
		{"HMAC with the public key (modulus)", hs256(k1.priv.Public().(*rsa.PublicKey).N.Bytes()), target, `"HS256"`},
		{"tampered payload", tampered, target, "signature does not verify"},
		{"key of the right kid used with another alg", rawJWT(t, map[string]any{"alg": "PS256", "kid": "k1"}, ti.claimsFor(resource), []byte("x")), target, "signature does not verify"},
		{"not a JWT", "opaque-token", target, "not a JWT"},
		{"email not verified", sign(t, k1, with(func(c map[string]any) { c["email_verified"] = false })), target, "email is not verified"},
		{"no username claim", sign(t, k1, with(func(c map[string]any) { delete(c, "email") })), target, `no string claim "email"`},
		{"groups not strings", sign(t, k1, with(func(c map[string]any) { c["groups"] = []any{1, 2} })), target, `claim "groups"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := chain.Authenticate(context.Background(), tt.token, tt.target)
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, "oidc:alice@example.test", u.Name)
				assert.Equal(t, []string{"oidc:engineering", "oidc:oncall", "system:authenticated"}, u.Groups)
				assert.Equal(t, []string{"mcp", "openid"}, u.Scopes)
				assert.True(t, u.OAuth)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrUnauthenticated)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), tt.token, "the reason never quotes the token")
		})
	}
}

type allowAll struct{}

func (allowAll) Decide(context.Context, *User, Attributes) (bool, error) { return true, nil }

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// A new signing key is fetched when the first token names it, and a
// flood of tokens with made-up key ids makes at most one fetch per
// interval between them, each token waiting rather than failing.
func TestJWKSRotationAndRateLimit(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t)
	o := NewOIDC([]IssuerConfig{ti.config()}, 0, discardLog())
	ctx := context.Background()
	_, err := o.AuthenticateToken(ctx, sign(t, ti.key(0), ti.claimsFor(resource)), target)
	require.NoError(t, err)
	require.EqualValues(t, 1, ti.fetches.Load())

	k2 := ti.publish(newRSAKey(t, "rotated"))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := o.AuthenticateToken(ctx, sign(t, k2, ti.claimsFor(resource)), target)
			assert.NoError(t, err, "a token of the new key is accepted at once")
		})
	}
	wg.Wait()
	assert.EqualValues(t, 2, ti.fetches.Load(), "20 first uses of a new key: one fetch")

	v, err := o.issuers[ti.URL()].verifier(ctx)
	require.NoError(t, err)
	v.keys.minInterval = 100 * time.Millisecond
	start, before := time.Now(), ti.fetches.Load()
	for i := range 5 {
		_, err := o.AuthenticateToken(ctx, sign(t, &testKey{kid: fmt.Sprint("bogus-", i), alg: k2.alg, priv: k2.priv}, ti.claimsFor(resource)), target)
		assert.ErrorContains(t, err, "signing key is not among")
	}
	fetches := ti.fetches.Load() - before
	assert.LessOrEqual(t, float64(fetches), 2+time.Since(start).Seconds()/0.1, "fetches spaced by the interval")
	assert.GreaterOrEqual(t, time.Since(start), time.Duration(fetches-1)*100*time.Millisecond)
}

// An unreachable identity provider is an outage (503), not a bad token.
func TestOIDCIssuerDown(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t)
	tok := sign(t, ti.key(0), ti.claimsFor(resource))
	ti.down.Store(true)
	chain := Single(Mode{Name: "oidc", Authenticator: NewOIDC([]IssuerConfig{ti.config()}, 0, discardLog()), Decider: allowAll{}})
	_, err := chain.Authenticate(context.Background(), tok, target)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnauthenticated)
	ti.down.Store(false)
	_, err = chain.Authenticate(context.Background(), tok, target)
	assert.NoError(t, err, "the next fetch succeeds")
}

// Several issuers at once: each token goes to the issuer its iss names and
// is mapped with that issuer's claims and prefixes.
func TestSeveralIssuers(t *testing.T) {
	t.Parallel()
	a, b := newTestIssuer(t), newTestIssuer(t)
	cb := b.config()
	cb.Username, cb.Groups = PrefixedClaim{Claim: "sub", Prefix: "partner:"}, PrefixedClaim{}
	o := NewOIDC([]IssuerConfig{a.config(), cb}, time.Minute, discardLog())
	ua, err := o.AuthenticateToken(context.Background(), sign(t, a.key(0), a.claimsFor(resource)), target)
	require.NoError(t, err)
	assert.Equal(t, "oidc:alice@example.test", ua.Name)
	ub, err := o.AuthenticateToken(context.Background(), sign(t, b.key(0), b.claimsFor(resource)), target)
	require.NoError(t, err)
	assert.Equal(t, "partner:user-1", ub.Name)
	assert.Equal(t, []string{"system:authenticated"}, ub.Groups)
	assert.Equal(t, []string{a.URL(), b.URL()}, o.Issuers())
	// b's key does not sign for a.
	_, err = o.AuthenticateToken(context.Background(), sign(t, b.key(0), a.claimsFor(resource)), target)
	assert.ErrorContains(t, err, "signature does not verify")
}
