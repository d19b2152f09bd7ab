package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// testIssuer is an OpenID provider for unit tests: discovery and a JWKS
// on loopback, keys made here, tokens signed with go-jose.
type testIssuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []*testKey // published in the JWKS
	fetches atomic.Int32
	down    atomic.Bool
}

type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newTestIssuer(t testing.TB) *testIssuer {
	ti := &testIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ti.URL(), "jwks_uri": ti.URL() + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		ti.fetches.Add(1)
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ti.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range ti.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
		ti.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	ti.publish(newRSAKey(t, "k1"))
	return ti
}

func (ti *testIssuer) URL() string { return ti.srv.URL }

func (ti *testIssuer) publish(k *testKey) *testKey {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.keys = append(ti.keys, k)
	return k
}

func (ti *testIssuer) key(i int) *testKey {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.keys[i]
}

func newRSAKey(t testing.TB, kid string) *testKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return &testKey{kid: kid, alg: jose.RS256, priv: k}
}

func newECKey(t testing.TB, kid string) *testKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &testKey{kid: kid, alg: jose.ES256, priv: k}
}

// sign makes a compact JWS of claims with k.
func sign(t testing.TB, k *testKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := s.Sign(payload)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

// rawJWT assembles a token from a header and claims and a signature of
// the caller's choice, for the attacks signers refuse to make.
func rawJWT(t testing.TB, header, claims map[string]any, sig []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString(sig)
}

// claimsFor are the claims of a good token of ti for the resource.
func (ti *testIssuer) claimsFor(resource string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": ti.URL(), "sub": "user-1", "aud": []string{resource},
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Add(-time.Second).Unix(),
		"email": "alice@example.test", "email_verified": true,
		"groups": []string{"engineering", "oncall"}, "scope": "mcp openid",
	}
}

// issuerConfig is the usual jwt entry for ti.
func (ti *testIssuer) config(audiences ...string) IssuerConfig {
	return IssuerConfig{
		URL: ti.URL(), Audiences: audiences,
		Username: PrefixedClaim{Claim: "email", Prefix: "oidc:"},
		Groups:   PrefixedClaim{Claim: "groups", Prefix: "oidc:"},
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
