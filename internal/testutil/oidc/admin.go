package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// adminJSON sends body (if any) as JSON to Hydra's admin API and decodes the
// answer into out (if any). Hydra's error bodies are small and hold no secret.
func (p *Provider) adminJSON(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := p.adminURL + "/admin" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.admin.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

// ClientSpec describes a client to register.
type ClientSpec struct {
	// Public clients have no secret and use the authorization code flow
	// with PKCE; confidential ones authenticate with client_secret_basic and
	// may also use client_credentials.
	Public bool
	// RedirectURIs default to CallbackURL.
	RedirectURIs []string
	// Scopes the client may ask for, besides openid and offline_access.
	Scopes []string
	// Audience the client may ask for with the "audience" parameter; a URL
	// also allows every URL below its path (Hydra's matching).
	Audience []string
	// SecretPost makes a confidential client authenticate with
	// client_secret_post instead of client_secret_basic (the MCP Go SDK's
	// client credentials handler prefers it when the provider offers it).
	SecretPost bool
}

// Client is a registered client.
type Client struct {
	ID     string
	Secret string // empty for public clients
	// RedirectURL is the first redirect URI, which the flows here use.
	RedirectURL string
	authStyle   oauth2.AuthStyle
}

// hydraClient is the part of Hydra's client document this package uses.
type hydraClient struct {
	ID                      string   `json:"client_id,omitempty"`
	Secret                  string   `json:"client_secret,omitempty"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	RedirectURIs            []string `json:"redirect_uris"`
	Scope                   string   `json:"scope"`
	Audience                []string `json:"audience"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

// RegisterClient registers a client through the admin API; Hydra picks its
// ID and secret.
func (p *Provider) RegisterClient(ctx context.Context, spec ClientSpec) (*Client, error) {
	redirects := spec.RedirectURIs
	if len(redirects) == 0 {
		redirects = []string{p.CallbackURL()}
	}
	hc := hydraClient{
		GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypes:           []string{"code"},
		RedirectURIs:            redirects,
		Scope:                   strings.Join(append([]string{"openid", "offline_access"}, spec.Scopes...), " "),
		Audience:                spec.Audience,
		TokenEndpointAuthMethod: "client_secret_basic",
	}
	style := oauth2.AuthStyleInHeader
	switch {
	case spec.Public:
		hc.GrantTypes = []string{"authorization_code", "refresh_token"}
		hc.TokenEndpointAuthMethod = "none"
	case spec.SecretPost:
		hc.TokenEndpointAuthMethod = "client_secret_post"
		style = oauth2.AuthStyleInParams
	}
	var out hydraClient
	if err := p.adminJSON(ctx, http.MethodPost, "/clients", nil, hc, &out); err != nil {
		return nil, fmt.Errorf("registering client: %w", err)
	}
	return &Client{ID: out.ID, Secret: out.Secret, RedirectURL: redirects[0], authStyle: style}, nil
}
