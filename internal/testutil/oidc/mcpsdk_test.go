package oidc

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resourceServer is a minimal MCP server protected as RFC 9728 and the MCP
// authorization spec want: 401 with resource_metadata, a PRM document naming
// the provider, and JWTs checked for issuer, audience, expiry and scope.
type resourceServer struct {
	*httptest.Server
	resource string // the MCP endpoint's URL, the tokens' audience
	prmURL   string
	calls    atomic.Int32 // MCP requests that reached the handler
}

const mcpPath = "/mcp/ns/server"

func startResourceServer(t *testing.T, p *Provider) *resourceServer {
	rs := &resourceServer{}
	mux := http.NewServeMux()
	rs.Server = httptest.NewServer(mux)
	t.Cleanup(rs.Close)
	rs.resource = rs.URL + mcpPath
	rs.prmURL = rs.URL + "/.well-known/oauth-protected-resource" + mcpPath

	mux.Handle("GET /.well-known/oauth-protected-resource"+mcpPath, auth.ProtectedResourceMetadataHandler(
		&oauthex.ProtectedResourceMetadata{
			Resource:             rs.resource,
			AuthorizationServers: []string{p.Issuer()},
			ScopesSupported:      []string{"mcp"},
		}))

	server := mcp.NewServer(&mcp.Implementation{Name: "protected", Version: "v0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		ti := req.Extra.TokenInfo
		text := fmt.Sprintf("%s %v", ti.UserID, ti.Extra["groups"])
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
	})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	protect := auth.RequireBearerToken(rs.verifier(t, p), &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: rs.prmURL,
		Scopes:              []string{"mcp"},
	})
	mux.Handle(mcpPath, protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.calls.Add(1)
		handler.ServeHTTP(w, r)
	})))
	return rs
}

// verifier checks a JWT access token as the gateway will have to.
func (rs *resourceServer) verifier(t *testing.T, p *Provider) auth.TokenVerifier {
	return func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		if strings.Count(token, ".") != 2 {
			return nil, fmt.Errorf("%w: not a JWT", auth.ErrInvalidToken)
		}
		// verifyJWT fails the test on a bad signature: Hydra's tokens must verify.
		_, claims := verifyJWT(t, fetchJWKS(t, p), token)
		if claims["iss"] != p.Issuer() {
			return nil, fmt.Errorf("%w: issuer %v", auth.ErrInvalidToken, claims["iss"])
		}
		if !slices.Contains(strs(claims["aud"]), rs.resource) {
			return nil, fmt.Errorf("%w: audience %v", auth.ErrInvalidToken, claims["aud"])
		}
		exp, _ := claims["exp"].(float64)
		sub, _ := claims["sub"].(string)
		return &auth.TokenInfo{
			Scopes:     strs(claims["scp"]),
			Expiration: time.Unix(int64(exp), 0),
			UserID:     sub,
			Extra:      map[string]any{"groups": strs(claims["groups"])},
		}, nil
	}
}

// TestMCPSDKClient has the MCP Go SDK's OAuth client (auth.AuthorizationCodeHandler)
// find the provider through the resource server's 401 and PRM, get a token
// for the server's URL with the automated browser step, and call a tool.
func TestMCPSDKClient(t *testing.T) {
	p := Start(t, WithDynamicClientRegistration("mcp"))
	rs := startResourceServer(t, p)
	public, err := p.RegisterClient(context.Background(), ClientSpec{Public: true, Scopes: []string{"mcp"}})
	require.NoError(t, err)

	tests := []struct {
		name string
		cfg  auth.AuthorizationCodeHandlerConfig
	}{
		{"preregistered public client", auth.AuthorizationCodeHandlerConfig{
			PreregisteredClient: &oauthex.ClientCredentials{ClientID: public.ID, Issuer: p.Issuer()},
			RedirectURL:         public.RedirectURL,
		}},
		{"dynamic client registration", auth.AuthorizationCodeHandlerConfig{
			DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
				Metadata: &oauthex.ClientRegistrationMetadata{
					RedirectURIs:            []string{p.CallbackURL()},
					TokenEndpointAuthMethod: "none",
					GrantTypes:              []string{"authorization_code", "refresh_token"},
					ClientName:              "mcp sdk test",
				},
			},
			Client: p.SDKHTTPClient(),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var fetches atomic.Int32
			cfg := tt.cfg
			cfg.AuthorizationCodeFetcher = func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
				fetches.Add(1)
				return p.CodeFetcher()(ctx, args)
			}
			handler, err := auth.NewAuthorizationCodeHandler(&cfg)
			require.NoError(t, err)
			client := mcp.NewClient(&mcp.Implementation{Name: "sdk-client", Version: "v0"}, nil)
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: rs.resource, OAuthHandler: handler}, nil)
			require.NoError(t, err)
			defer cs.Close()

			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
			require.NoError(t, err)
			require.False(t, res.IsError)
			assert.Equal(t, "alice [engineering]", res.Content[0].(*mcp.TextContent).Text)
			assert.Equal(t, int32(1), fetches.Load(), "one browser round for the whole session")
		})
	}
}

// The unauthenticated request is answered as the SDK client expects.
func TestResourceServerChallenge(t *testing.T) {
	p := Start(t)
	rs := startResourceServer(t, p)
	resp, err := http.Post(rs.resource, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Bearer resource_metadata="`+rs.prmURL+`", scope="mcp"`, resp.Header.Get("WWW-Authenticate"))
	assert.Zero(t, rs.calls.Load())
}

// Hydra alone ignores the SDK's resource parameter: its token has no
// audience, and a resource server that checks aud turns the client away.
func TestMCPSDKClientWithoutResourceAudience(t *testing.T) {
	p := Start(t, WithoutResourceAudience())
	rs := startResourceServer(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	public, err := p.RegisterClient(ctx, ClientSpec{Public: true, Scopes: []string{"mcp"}})
	require.NoError(t, err)
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient:      &oauthex.ClientCredentials{ClientID: public.ID},
		RedirectURL:              public.RedirectURL,
		AuthorizationCodeFetcher: p.CodeFetcher(),
	})
	require.NoError(t, err)
	client := mcp.NewClient(&mcp.Implementation{Name: "sdk-client", Version: "v0"}, nil)
	_, err = client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: rs.resource, OAuthHandler: handler}, nil)
	require.Error(t, err)
	t.Logf("connect: %v", err)
	assert.Zero(t, rs.calls.Load())
}
