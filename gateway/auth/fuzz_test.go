package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzAuthenticateToken feeds any bearer token to the chain the gateway
// runs (OIDC issuer, then static tokens): it never panics, every refusal is
// a *TokenError, and nothing is accepted but a token this test signed,
// header and payload byte for byte (a re-encoded signature may differ).
func FuzzAuthenticateToken(f *testing.F) {
	ti := newTestIssuer(f)
	k1 := ti.key(0)
	k2 := ti.publish(newECKey(f, "k2"))
	o := NewOIDC([]IssuerConfig{ti.config("mcp-gateway")}, time.Minute, discardLog())
	v, err := o.issuers[ti.URL()].verifier(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	v.keys.minInterval = 0 // unknown kids fetch at once: the fuzzer must not wait
	tokens, err := ParseTokens([]byte("static " + HashToken("static-token") + " ns/*\n"))
	if err != nil {
		f.Fatal(err)
	}
	chain, err := NewChain(Mode{Name: "oidc", Authenticator: o, Decider: allowAll{}}, tokens.Mode())
	if err != nil {
		f.Fatal(err)
	}
	signed := map[string]bool{}
	add := func(tok string) {
		i := strings.LastIndexByte(tok, '.')
		signed[tok[:i]] = true
		f.Add(tok)
	}
	add(sign(f, k1, ti.claimsFor(resource)))
	add(sign(f, k2, ti.claimsFor(resource)))
	c := ti.claimsFor(resource)
	c["aud"] = "mcp-gateway"
	add(sign(f, k1, c))
	f.Add(rawJWT(f, map[string]any{"alg": "none"}, ti.claimsFor(resource), nil))
	f.Add(rawJWT(f, map[string]any{"alg": "HS256", "kid": "k1"}, ti.claimsFor(resource), []byte("sig")))
	f.Add("static-token")
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.")

	f.Fuzz(func(t *testing.T, token string) {
		u, err := chain.Authenticate(context.Background(), token, target)
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) && !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("a refusal must be a TokenError, got %T %v", err, err)
			}
			if token != "" && len(token) > 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("the reason quotes the token: %v", err)
			}
			return
		}
		if token == "static-token" {
			return
		}
		i := strings.LastIndexByte(token, '.')
		if i < 0 || !signed[token[:i]] {
			t.Fatalf("accepted a token this test did not sign: %q as %s", token, u.Name)
		}
	})
}
