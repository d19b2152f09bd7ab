package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// allowedAlgs are the signature algorithms a token may use: asymmetric
// only. Never "none", and never HMAC, whose key would be the issuer's
// public key in the classic confusion attack.
var allowedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

func algAllowed(alg string) bool {
	for _, a := range allowedAlgs {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// Errors of signature verification, told apart so that the caller learns
// which check failed.
var (
	errUnknownKey   = errors.New("the token's signing key is not among the issuer's keys")
	errBadSignature = errors.New("the token's signature does not verify")
)

// keySet is an issuer's JWKS, fetched on first use, again when a token
// names a key it does not have (rotation), and in the background when the
// keys are older than maxAge (a removed key stops verifying). Fetches are
// at least minInterval apart, so tokens with made-up key ids cannot turn
// the gateway against the issuer; a token that needs a fetch waits for the
// next allowed one instead of failing, so a rotation fails no call.
type keySet struct {
	url         string
	client      *http.Client
	minInterval time.Duration
	maxAge      time.Duration

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // when the current keys were asked for
	lastTry time.Time
	flight  singleflight.Group
}

func newKeySet(url string, client *http.Client) *keySet {
	return &keySet{url: url, client: client, minInterval: time.Second, maxAge: 15 * time.Minute}
}

// verify checks jws's one signature against the key it names and returns
// the payload.
func (k *keySet) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("the token must have exactly one signature")
	}
	h := jws.Signatures[0].Header
	asked := time.Now()
	keys, fetched := k.current(ctx)
	for attempt := 0; ; attempt++ {
		payload, found, err := verifyWith(keys, jws, h.KeyID, h.Algorithm)
		if err == nil || found {
			return payload, err
		}
		// Unknown key: fetch, and once more if the keys we got were asked
		// for before this token arrived (a rotation racing a fetch).
		if attempt == 2 || (attempt == 1 && !fetched.Before(asked)) {
			return nil, errUnknownKey
		}
		if keys, fetched, err = k.refresh(ctx); err != nil {
			return nil, err
		}
	}
}

// verifyWith tries the keys that match kid (all, when the token names
// none). found reports that a key with that kid exists, so that a bad
// signature is not mistaken for a rotation.
func verifyWith(keys []jose.JSONWebKey, jws *jose.JSONWebSignature, kid, alg string) (payload []byte, found bool, err error) {
	for i := range keys {
		key := &keys[i]
		if kid != "" && key.KeyID != kid {
			continue
		}
		if kid != "" {
			found = true
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue // a key is used with its own algorithm only
		}
		if p, err := jws.Verify(key); err == nil {
			return p, true, nil
		}
	}
	if found {
		return nil, true, errBadSignature
	}
	return nil, false, errUnknownKey
}

// current returns the cached keys, fetching them the first time, and
// starts a background fetch when they are old.
func (k *keySet) current(ctx context.Context) ([]jose.JSONWebKey, time.Time) {
	k.mu.Lock()
	keys, fetched := k.keys, k.fetched
	stale := !fetched.IsZero() && time.Since(fetched) > k.maxAge && time.Since(k.lastTry) > k.minInterval
	k.mu.Unlock()
	if fetched.IsZero() {
		if keys, fetched, err := k.refresh(ctx); err == nil {
			return keys, fetched
		}
		return nil, time.Time{}
	}
	if stale {
		go func() { _, _, _ = k.refresh(context.WithoutCancel(ctx)) }()
	}
	return keys, fetched
}

// refresh fetches the keys, one fetch at a time and at most one per
// minInterval; concurrent callers share it.
func (k *keySet) refresh(ctx context.Context) ([]jose.JSONWebKey, time.Time, error) {
	ch := k.flight.DoChan("", func() (any, error) {
		k.mu.Lock()
		wait := k.minInterval - time.Since(k.lastTry)
		k.mu.Unlock()
		if wait > 0 {
			time.Sleep(wait) // the rate limit itself: callers wait, none fails
		}
		start := time.Now()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		keys, err := k.fetch(fctx)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.lastTry = time.Now()
		if err != nil {
			return nil, err
		}
		k.keys, k.fetched = keys, start
		return keys, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, time.Time{}, r.Err
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		return r.Val.([]jose.JSONWebKey), k.fetched, nil
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
}

// fetch reads the JWKS. Keys of unknown types or algorithms are skipped
// (RFC 7517 section 5), and so are symmetric and encryption keys: only
// public signature keys verify tokens.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, k.client, k.url, &raw); err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(r); err != nil {
			continue
		}
		if !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") || (key.Algorithm != "" && !algAllowed(key.Algorithm)) {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s has no usable signature key", k.url)
	}
	return keys, nil
}
