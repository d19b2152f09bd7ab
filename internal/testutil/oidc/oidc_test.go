package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mcpBase stands for the gateway: clients are allowed audiences under it and
// ask for a token for one MCP server's URL below it.
const (
	mcpBase     = "http://127.0.0.1:8080/mcp"
	mcpResource = mcpBase + "/ns/server"
)

func TestProvider(t *testing.T) {
	p := Start(t)
	ctx := context.Background()

	t.Run("discovery", func(t *testing.T) {
		t.Parallel()
		var doc map[string]any
		getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &doc)
		assert.Equal(t, p.Issuer(), doc["issuer"])
		assert.Equal(t, p.AuthURL(), doc["authorization_endpoint"])
		assert.Equal(t, p.TokenURL(), doc["token_endpoint"])
		assert.Equal(t, p.JWKSURL(), doc["jwks_uri"])
		assert.Contains(t, strs(doc["code_challenge_methods_supported"]), "S256")
		assert.Contains(t, strs(doc["grant_types_supported"]), "client_credentials")
		assert.NotContains(t, doc, "registration_endpoint", "dynamic registration is off by default")
	})

	t.Run("jwks", func(t *testing.T) {
		t.Parallel()
		set := fetchJWKS(t, p)
		require.NotEmpty(t, set.Keys)
		for _, k := range set.Keys {
			assert.Equal(t, "RSA", k.Kty, k.Kid)
			assert.Equal(t, "sig", k.Use, k.Kid)
		}
	})

	t.Run("client credentials", func(t *testing.T) {
		t.Parallel()
		c, err := p.RegisterClient(ctx, ClientSpec{Scopes: []string{"mcp"}, Audience: []string{mcpBase}})
		require.NoError(t, err)
		require.NotEmpty(t, c.Secret)
		tok, err := p.ClientCredentialsToken(ctx, c, TokenRequest{Scopes: []string{"mcp"}, Resource: mcpResource})
		require.NoError(t, err)
		_, claims := verifyJWT(t, fetchJWKS(t, p), tok.AccessToken)
		assert.Equal(t, p.Issuer(), claims["iss"])
		assert.Equal(t, []string{mcpResource}, strs(claims["aud"]))
		assert.Equal(t, c.ID, claims["sub"])
		assert.Equal(t, c.ID, claims["client_id"])
		assert.Equal(t, "mcp", claims["scope"])
		assertExpiresIn(t, claims, time.Hour)
	})

	t.Run("client credentials audience not allowed", func(t *testing.T) {
		t.Parallel()
		c, err := p.RegisterClient(ctx, ClientSpec{Audience: []string{mcpBase}})
		require.NoError(t, err)
		_, err = p.ClientCredentialsToken(ctx, c, TokenRequest{Resource: "http://127.0.0.1:8080/other"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "invalid_request")
	})

	t.Run("authorization code", func(t *testing.T) {
		t.Parallel()
		c, err := p.RegisterClient(ctx, ClientSpec{Public: true, Scopes: []string{"mcp"}})
		require.NoError(t, err)
		assert.Empty(t, c.Secret)
		tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Scopes: []string{"openid", "mcp"}, Resource: mcpResource})
		require.NoError(t, err)
		set := fetchJWKS(t, p)
		_, claims := verifyJWT(t, set, tok.AccessToken)
		assert.Equal(t, p.Issuer(), claims["iss"])
		assert.Equal(t, []string{mcpResource}, strs(claims["aud"]))
		assert.Equal(t, "alice", claims["sub"])
		assert.Equal(t, c.ID, claims["client_id"])
		assert.Equal(t, []string{"engineering"}, strs(claims["groups"]))
		assert.Equal(t, "alice@example.test", claims["email"])
		assert.Equal(t, "openid mcp", claims["scope"])
		assertExpiresIn(t, claims, time.Hour)

		idToken, _ := tok.Extra("id_token").(string)
		require.NotEmpty(t, idToken, "openid scope gives an ID token")
		_, id := verifyJWT(t, set, idToken)
		assert.Equal(t, []string{c.ID}, strs(id["aud"]))
		assert.Equal(t, "alice", id["sub"])
		assert.Equal(t, []string{"engineering"}, strs(id["groups"]))
	})

	t.Run("authorization code with audience parameter", func(t *testing.T) {
		t.Parallel()
		c, err := p.RegisterClient(ctx, ClientSpec{Public: true, Audience: []string{mcpBase}})
		require.NoError(t, err)
		tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Audience: []string{mcpResource}})
		require.NoError(t, err)
		_, claims := verifyJWT(t, fetchJWKS(t, p), tok.AccessToken)
		assert.Equal(t, []string{mcpResource}, strs(claims["aud"]))
	})

	t.Run("rotate keys", func(t *testing.T) {
		// Not parallel: an authorization code flow across the rotation gets
		// a token that does not verify (see RotateKeys).
		c, err := p.RegisterClient(ctx, ClientSpec{Audience: []string{mcpBase}})
		require.NoError(t, err)
		req := TokenRequest{Resource: mcpResource}
		before, err := p.ClientCredentialsToken(ctx, c, req)
		require.NoError(t, err)
		oldHeader, _ := verifyJWT(t, fetchJWKS(t, p), before.AccessToken)

		kid, err := p.RotateKeys(ctx)
		require.NoError(t, err)
		require.NotEqual(t, oldHeader.Kid, kid)
		set := fetchJWKS(t, p)
		assert.Contains(t, set.kids(), kid)
		after, err := p.ClientCredentialsToken(ctx, c, req)
		require.NoError(t, err)
		newHeader, _ := verifyJWT(t, set, after.AccessToken)
		assert.Equal(t, kid, newHeader.Kid, "new tokens are signed with the new key")
		verifyJWT(t, set, before.AccessToken) // and the old key is still published
	})

	t.Run("refresh keeps the resource audience", func(t *testing.T) {
		t.Parallel()
		c, err := p.RegisterClient(ctx, ClientSpec{Public: true})
		require.NoError(t, err)
		tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Scopes: []string{"offline_access"}, Resource: mcpResource})
		require.NoError(t, err)
		require.NotEmpty(t, tok.RefreshToken)
		refreshed, err := p.Refresh(ctx, c, tok)
		require.NoError(t, err)
		require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
		_, claims := verifyJWT(t, fetchJWKS(t, p), refreshed.AccessToken)
		assert.Equal(t, []string{mcpResource}, strs(claims["aud"]))
		assert.Equal(t, []string{"engineering"}, strs(claims["groups"]))
	})

	t.Run("set user", func(t *testing.T) {
		// Not parallel: SetUser changes who the other flows log in as.
		c, err := p.RegisterClient(ctx, ClientSpec{Public: true})
		require.NoError(t, err)
		p.SetUser("bob", []string{"admins", "dev"})
		t.Cleanup(func() { p.SetUser("alice", []string{"engineering"}) })
		tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Resource: mcpResource})
		require.NoError(t, err)
		_, claims := verifyJWT(t, fetchJWKS(t, p), tok.AccessToken)
		assert.Equal(t, "bob", claims["sub"])
		assert.Equal(t, []string{"admins", "dev"}, strs(claims["groups"]))
	})
}

// Hydra itself ignores RFC 8707's resource parameter: without the consent
// app's mapping, a token asked for with resource alone has no audience.
func TestHydraIgnoresResource(t *testing.T) {
	p := Start(t, WithoutResourceAudience(), WithAccessTokenTTL(5*time.Minute))
	ctx := context.Background()
	c, err := p.RegisterClient(ctx, ClientSpec{Audience: []string{mcpBase}})
	require.NoError(t, err)

	tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Resource: mcpResource})
	require.NoError(t, err)
	_, claims := verifyJWT(t, fetchJWKS(t, p), tok.AccessToken)
	assert.Empty(t, strs(claims["aud"]), "authorization code with resource only")
	assertExpiresIn(t, claims, 5*time.Minute)

	// client_credentials with resource and no audience, bypassing the helper.
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpResource}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	_, claims = verifyJWT(t, fetchJWKS(t, p), out.AccessToken)
	assert.Empty(t, strs(claims["aud"]), "client credentials with resource only")
}

func TestDynamicClientRegistration(t *testing.T) {
	p := Start(t, WithDynamicClientRegistration("mcp"))
	ctx := context.Background()
	var doc map[string]any
	getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &doc)
	assert.Equal(t, p.Issuer()+"/oauth2/register", doc["registration_endpoint"])

	// An RFC 7591 registration as an MCP client sends it: no scope, no
	// secret, unknown fields such as application_type.
	reg := `{"redirect_uris":["` + p.CallbackURL() + `"],"token_endpoint_auth_method":"none",` +
		`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],` +
		`"client_name":"test client","application_type":"native"}`
	resp, err := http.Post(p.Issuer()+"/oauth2/register", "application/json", strings.NewReader(reg))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var out struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
		Scope  string `json:"scope"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	assert.Empty(t, out.Secret, "a public client gets no secret")
	assert.Equal(t, "openid offline_access offline mcp", out.Scope)

	c := &Client{ID: out.ID, RedirectURL: p.CallbackURL()}
	tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Scopes: []string{"mcp"}, Resource: mcpResource})
	require.NoError(t, err)
	_, claims := verifyJWT(t, fetchJWKS(t, p), tok.AccessToken)
	assert.Equal(t, []string{mcpResource}, strs(claims["aud"]))
	assert.Equal(t, out.ID, claims["client_id"])
}

// Hydra v2.3.0 fixes a token's kid when the authorization is granted, and
// signs with the newest key when the token is issued: a token refreshed
// after a rotation names the old key yet carries the new key's signature.
// When this test fails, Hydra has fixed that; drop the caveat in RotateKeys.
func TestHydraRefreshAfterRotationHasStaleKid(t *testing.T) {
	p := Start(t)
	ctx := context.Background()
	c, err := p.RegisterClient(ctx, ClientSpec{Public: true})
	require.NoError(t, err)
	tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Scopes: []string{"offline_access"}})
	require.NoError(t, err)
	kid, err := p.RotateKeys(ctx)
	require.NoError(t, err)
	refreshed, err := p.Refresh(ctx, c, tok)
	require.NoError(t, err)

	parts := strings.Split(refreshed.AccessToken, ".")
	var h jwtHeader
	decodePart(t, parts[0], &h)
	assert.Equal(t, "initial", h.Kid, "refreshed token names the old key")
	key, err := fetchJWKS(t, p).rsaKey(kid)
	require.NoError(t, err)
	require.NoError(t, verifyRS256(key, parts), "signed with the new key")
}

// Hydra v2.3.0 has no RFC 8693 token exchange, though its v2.0 changelog
// says so: fosite v0.49.0 has no handler for the grant, and Hydra answers it
// as it answers a made-up one.
func TestHydraHasNoTokenExchange(t *testing.T) {
	p := Start(t)
	ctx := context.Background()
	c, err := p.RegisterClient(ctx, ClientSpec{Audience: []string{mcpBase}})
	require.NoError(t, err)
	tok, err := p.ClientCredentialsToken(ctx, c, TokenRequest{Resource: mcpResource})
	require.NoError(t, err)
	exchange := func(grant string) (int, map[string]any) {
		form := url.Values{
			"grant_type":         {grant},
			"subject_token":      {tok.AccessToken},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
			"audience":           {mcpBase + "/ns/other"},
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL(), strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	code, out := exchange("urn:ietf:params:oauth:grant-type:token-exchange")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.NotContains(t, out, "access_token")
	bogusCode, bogus := exchange("urn:example:no-such-grant")
	assert.Equal(t, bogusCode, code)
	assert.Equal(t, bogus, out)
}

func assertExpiresIn(t *testing.T, claims map[string]any, ttl time.Duration) {
	t.Helper()
	exp, ok := claims["exp"].(float64)
	require.True(t, ok, "exp is a number")
	left := time.Until(time.Unix(int64(exp), 0))
	assert.InDelta(t, ttl.Seconds(), left.Seconds(), 30, "exp")
}
