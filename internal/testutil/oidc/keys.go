package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
)

// RotateKeys adds a new RSA key to the set that signs access tokens and
// returns its kid. Hydra signs with the newest key from then on and keeps
// publishing the old ones, so tokens issued before stay verifiable.
//
// Hydra reads the key for a token's kid and the key that signs it
// separately, so a token issued across a rotation could name the old kid
// with the new key's signature; Hydra's one-request-at-a-time queue (see
// start) keeps a rotation out of any token request.
func (p *Provider) RotateKeys(ctx context.Context) (string, error) {
	kid := "rotated-" + rand.Text()
	if err := p.addKey(ctx, accessTokenKeySet, kid); err != nil {
		return "", fmt.Errorf("rotating access-token key: %w", err)
	}
	return kid, nil
}

// addKey uploads a 2048-bit RSA key made here to a key set. Left alone,
// Hydra makes 4096-bit keys itself, when a set is first used and on each
// rotation, which takes up to seconds on a busy machine.
func (p *Provider) addKey(ctx context.Context, set, kid string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating RSA key: %w", err)
	}
	path := "/keys/" + set + "/" + kid
	return p.adminJSON(ctx, http.MethodPut, path, nil, privateJWK(kid, key), nil)
}

// privateJWK is key as an RFC 7518 section 6.3 private JWK.
func privateJWK(kid string, key *rsa.PrivateKey) map[string]string {
	b64 := func(i *big.Int) string { return base64.RawURLEncoding.EncodeToString(i.Bytes()) }
	return map[string]string{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": b64(key.N), "e": b64(big.NewInt(int64(key.E))), "d": b64(key.D),
		"p": b64(key.Primes[0]), "q": b64(key.Primes[1]),
		"dp": b64(key.Precomputed.Dp), "dq": b64(key.Precomputed.Dq), "qi": b64(key.Precomputed.Qinv),
	}
}
