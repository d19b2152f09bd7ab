package oidc

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The tests verify tokens with the standard library only, so that they check
// Hydra's output rather than a JWT library's reading of it.

type jwks struct {
	Keys []struct {
		Kid string `json:"kid"`
		Kty string `json:"kty"`
		Alg string `json:"alg"`
		Use string `json:"use"`
		N   string `json:"n"`
		E   string `json:"e"`
	} `json:"keys"`
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

func fetchJWKS(t *testing.T, p *Provider) jwks {
	t.Helper()
	var set jwks
	getJSON(t, p.JWKSURL(), &set)
	return set
}

func (s jwks) kids() []string {
	var kids []string
	for _, k := range s.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func (s jwks) rsaKey(kid string) (*rsa.PublicKey, error) {
	for _, k := range s.Keys {
		if k.Kid != kid {
			continue
		}
		if k.Kty != "RSA" {
			return nil, fmt.Errorf("key %s is %s, not RSA", kid, k.Kty)
		}
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		if err != nil {
			return nil, err
		}
		e, err := base64.RawURLEncoding.DecodeString(k.E)
		if err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("no key %s in JWKS", kid)
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// verifyJWT checks token's RS256 signature against set and returns its
// header and claims.
func verifyJWT(t *testing.T, set jwks, token string) (jwtHeader, map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "not a JWS compact serialization")
	var h jwtHeader
	decodePart(t, parts[0], &h)
	require.Equal(t, "RS256", h.Alg)
	key, err := set.rsaKey(h.Kid)
	require.NoError(t, err)
	require.NoError(t, verifyRS256(key, parts), "signature")
	var claims map[string]any
	decodePart(t, parts[1], &claims)
	return h, claims
}

// verifyRS256 checks the signature of a JWT split at its dots.
func verifyRS256(key *rsa.PublicKey, parts []string) error {
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig)
}

func decodePart(t *testing.T, part string, out any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, out))
}

// strs turns a JSON array claim into strings.
func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, a := range arr {
		s, _ := a.(string)
		out = append(out, s)
	}
	return out
}
