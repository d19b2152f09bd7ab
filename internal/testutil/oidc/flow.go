package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TokenRequest is what a token is asked for.
type TokenRequest struct {
	Scopes []string
	// Resource is the RFC 8707 resource, e.g. an MCP server's URL, sent as
	// "resource" in the authorization and token requests. Hydra ignores that
	// parameter; the flows here make it the token's aud all the same: the
	// consent app grants it (authorization code), or it is also sent as
	// Hydra's "audience" (client credentials, where the client must be
	// allowed it: ClientSpec.Audience).
	Resource string
	// Audience is sent as Hydra's own "audience" parameter; the client must
	// be allowed each value.
	Audience []string
}

func (r TokenRequest) params() url.Values {
	v := url.Values{}
	if r.Resource != "" {
		v.Set("resource", r.Resource)
	}
	if len(r.Audience) > 0 {
		v.Set("audience", strings.Join(r.Audience, " "))
	}
	return v
}

// ClientCredentialsToken gets a token for a confidential client with the
// client_credentials grant; its sub is the client ID.
func (p *Provider) ClientCredentialsToken(ctx context.Context, c *Client, req TokenRequest) (*oauth2.Token, error) {
	params := req.params()
	if req.Resource != "" {
		params.Set("audience", strings.TrimSpace(params.Get("audience")+" "+req.Resource))
	}
	cfg := clientcredentials.Config{
		ClientID:       c.ID,
		ClientSecret:   c.Secret,
		TokenURL:       p.TokenURL(),
		Scopes:         req.Scopes,
		EndpointParams: params,
		AuthStyle:      c.authStyle,
	}
	tok, err := cfg.Token(p.clientContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("client credentials token: %w", err)
	}
	return tok, nil
}

// AuthCodeToken runs the authorization code flow with PKCE (S256) as the
// current user (SetUser): the login and consent app accepts, and the code
// is exchanged for tokens, the ID token in tok.Extra("id_token").
func (p *Provider) AuthCodeToken(ctx context.Context, c *Client, req TokenRequest) (*oauth2.Token, error) {
	cfg := &oauth2.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL(), TokenURL: p.TokenURL(), AuthStyle: c.authStyle},
		RedirectURL:  c.RedirectURL,
		Scopes:       req.Scopes,
	}
	verifier := oauth2.GenerateVerifier()
	state := rand.Text()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for k, vs := range req.params() {
		opts = append(opts, oauth2.SetAuthURLParam(k, vs[0]))
	}
	back, err := p.Authorize(ctx, cfg.AuthCodeURL(state, opts...))
	if err != nil {
		return nil, err
	}
	if back.Get("state") != state {
		return nil, errors.New("authorization: state mismatch")
	}
	opts[0] = oauth2.VerifierOption(verifier)
	tok, err := cfg.Exchange(p.clientContext(ctx), back.Get("code"), opts...)
	if err != nil {
		return nil, fmt.Errorf("exchanging code: %w", err)
	}
	return tok, nil
}

// Refresh exchanges tok's refresh token (scope offline_access) for new tokens.
func (p *Provider) Refresh(ctx context.Context, c *Client, tok *oauth2.Token) (*oauth2.Token, error) {
	cfg := &oauth2.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		Endpoint:     oauth2.Endpoint{TokenURL: p.TokenURL(), AuthStyle: c.authStyle},
	}
	old := *tok
	old.Expiry = time.Unix(1, 0) // make the token source refresh now
	nt, err := cfg.TokenSource(p.clientContext(ctx), &old).Token()
	if err != nil {
		return nil, fmt.Errorf("refreshing token: %w", err)
	}
	return nt, nil
}

// Authorize plays the browser for an authorization URL built by any client:
// it follows Hydra's redirects through the login and consent app and
// returns the query of the redirect to the client (code, state, scope, and
// iss if Hydra sends it). The redirect itself is not fetched.
func (p *Provider) Authorize(ctx context.Context, authURL string) (url.Values, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	browser := &http.Client{
		Jar:       jar,
		Transport: p.transport(),
		Timeout:   30 * time.Second,
		// Follow the provider and the app; stop at the client's redirect URI.
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if p.ownsURL(r.URL) {
				return nil
			}
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, fmt.Errorf("authorization URL: %w", err)
	}
	resp, err := browser.Do(req)
	if err != nil {
		return nil, fmt.Errorf("authorization: %w", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("authorization ended at %s with %s, not a redirect to the client", resp.Request.URL.Redacted(), resp.Status)
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("authorization: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		return nil, fmt.Errorf("authorization: redirect to %s has no code", loc.Redacted())
	}
	return q, nil
}

// ownsURL tells the provider's and the app's pages from a client's.
func (p *Provider) ownsURL(u *url.URL) bool {
	origin := u.Scheme + "://" + u.Host
	if origin == p.publicURL {
		return true
	}
	return origin == p.app.URL && u.Path != "/callback"
}

// clientContext makes oauth2 use a client with a timeout.
func (p *Provider) clientContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.admin)
}
