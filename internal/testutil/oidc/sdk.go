package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
)

// This file adapts the provider to the MCP Go SDK's OAuth client,
// auth.AuthorizationCodeHandler.

// CodeFetcher is an auth.AuthorizationCodeFetcher that performs the browser
// step with Authorize.
func (p *Provider) CodeFetcher() auth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		q, err := p.Authorize(ctx, args.URL)
		if err != nil {
			return nil, err
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
}

// SDKHTTPClient is an http.Client for AuthorizationCodeHandlerConfig.Client
// when the SDK registers itself dynamically: go-sdk v1.8.0 decodes the
// registration response's "jwks" as a string, while RFC 7591 and Hydra make
// it an object (Hydra always sends "jwks":{}), so the registration fails.
// This client drops an object "jwks" from registration responses.
func (p *Provider) SDKHTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: dropJWKS{p.publicURL + "/oauth2/register", p.transport()}}
}

type dropJWKS struct {
	registerURL string
	next        http.RoundTripper
}

func (d dropJWKS) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || req.URL.String() != d.registerURL || resp.StatusCode != http.StatusCreated {
		return resp, err
	}
	defer resp.Body.Close()
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding registration response: %w", err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(doc["jwks"]), []byte("{")) {
		delete(doc, "jwks")
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}
