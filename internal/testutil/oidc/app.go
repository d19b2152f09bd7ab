package oidc

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// appHandler is the login and consent app Hydra redirects browsers to: it
// accepts every login as the current user and every consent with all that
// was asked, then sends the browser back to Hydra.
func (p *Provider) appHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", p.handleLogin)
	mux.HandleFunc("GET /consent", p.handleConsent)
	// Hydra shows its errors here; the flows surface them from the URL.
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, r.URL.Query().Get("error")+": "+r.URL.Query().Get("error_description"), http.StatusBadRequest)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "authorization done")
	})
	return mux
}

type redirect struct {
	To string `json:"redirect_to"`
}

func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	p.mu.Lock()
	subject := p.user
	p.mu.Unlock()
	body := map[string]any{"subject": subject, "remember": false}
	var out redirect
	q := url.Values{"login_challenge": {challenge}}
	if err := p.adminJSON(r.Context(), http.MethodPut, "/oauth2/auth/requests/login/accept", q, body, &out); err != nil {
		http.Error(w, "accepting login: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.To, http.StatusFound)
}

// consentRequest is the part of Hydra's consent request the app reads.
type consentRequest struct {
	Client struct {
		ID       string   `json:"client_id"`
		Audience []string `json:"audience"`
	} `json:"client"`
	Subject           string   `json:"subject"`
	RequestedScope    []string `json:"requested_scope"`
	RequestedAudience []string `json:"requested_access_token_audience"`
	RequestURL        string   `json:"request_url"`
}

func (p *Provider) handleConsent(w http.ResponseWriter, r *http.Request) {
	q := url.Values{"consent_challenge": {r.URL.Query().Get("consent_challenge")}}
	var req consentRequest
	if err := p.adminJSON(r.Context(), http.MethodGet, "/oauth2/auth/requests/consent", q, nil, &req); err != nil {
		http.Error(w, "reading consent request: "+err.Error(), http.StatusBadGateway)
		return
	}
	body, err := p.consent(r.Context(), &req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var out redirect
	if err := p.adminJSON(r.Context(), http.MethodPut, "/oauth2/auth/requests/consent/accept", q, body, &out); err != nil {
		http.Error(w, "accepting consent: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.To, http.StatusFound)
}

// consent is the decision for req: every requested scope, the requested
// audience plus (unless disabled) each RFC 8707 resource of the original
// authorization request, and the user's claims in both tokens.
func (p *Provider) consent(ctx context.Context, req *consentRequest) (map[string]any, error) {
	audience := slices.Clone(req.RequestedAudience)
	if p.resourceAsAudience {
		u, err := url.Parse(req.RequestURL)
		if err != nil {
			return nil, fmt.Errorf("parsing request_url: %w", err)
		}
		for _, res := range u.Query()["resource"] {
			if !slices.Contains(audience, res) {
				audience = append(audience, res)
			}
			if err := p.allowAudience(ctx, req.Client.ID, req.Client.Audience, res); err != nil {
				return nil, err
			}
		}
	}
	claims := p.claims(req.Subject)
	return map[string]any{
		"grant_scope":                 req.RequestedScope,
		"grant_access_token_audience": audience,
		"remember":                    false,
		"session":                     map[string]any{"access_token": claims, "id_token": claims},
	}, nil
}

// allowAudience adds aud to the client's allowed audiences unless there.
// Hydra grants a consented audience without checking it against the
// client's, but checks it again on refresh: without this, tokens with a
// resource as audience could not be refreshed.
func (p *Provider) allowAudience(ctx context.Context, clientID string, allowed []string, aud string) error {
	if slices.Contains(allowed, aud) {
		return nil
	}
	patch := []map[string]any{{"op": "add", "path": "/audience/-", "value": aud}}
	if allowed == nil {
		patch = []map[string]any{{"op": "add", "path": "/audience", "value": []string{aud}}}
	}
	if err := p.adminJSON(ctx, http.MethodPatch, "/clients/"+url.PathEscape(clientID), nil, patch, nil); err != nil {
		return fmt.Errorf("allowing client audience %s: %w", aud, err)
	}
	return nil
}

// claims are the token claims of subject's user.
func (p *Provider) claims(subject string) map[string]any {
	p.mu.Lock()
	u, ok := p.users[subject]
	p.mu.Unlock()
	claims := map[string]any{}
	if !ok {
		return claims
	}
	if u.Groups != nil {
		claims["groups"] = u.Groups
	}
	if u.Email != "" {
		claims["email"] = u.Email
	}
	maps.Copy(claims, u.Claims)
	return claims
}
