package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/oidc"
)

// connectOAuth opens an MCP session with an SDK OAuth handler: the client
// knows only the server's URL and learns the rest from the gateway's 401.
func connectOAuth(t *testing.T, og *oauthGateway, endpoint string, h auth.OAuthHandler) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "oauth-test", Version: "v1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, OAuthHandler: h, HTTPClient: og.recorder(), MaxRetries: -1}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// listAndCall lists the tools and calls whoami and header: the server's
// name, and proof that the caller's token did not reach the server.
func listAndCall(t *testing.T, cs *mcp.ClientSession, want string) {
	t.Helper()
	ctx := context.Background()
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	assert.Contains(t, names, "whoami")
	out, err := mcptest.Call(ctx, cs, "whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, want, out)
	out, err = mcptest.Call(ctx, cs, "header", map[string]any{"text": "Authorization"})
	require.NoError(t, err)
	assert.Empty(t, out, "the caller's token is never forwarded")
}

// The MCP Go SDK's OAuth clients through the gateway, against a real
// Hydra: authorization code with PKCE and automated consent (a
// pre-registered client, and one registered dynamically) and client
// credentials; a RoleBinding for the IdP group (or the client's user)
// grants the server.
func TestOAuthSDKClients(t *testing.T) {
	t.Parallel()
	p := oidc.Start(t, oidc.WithDynamicClientRegistration("mcp"))
	og := startOAuthGateway(t, p, "oidc", "serviceaccount", "kubernetes")
	ns := namespace(t)
	routable(t, og.GW, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-1", nil))
	grantGroup(t, ns, "engineering-uses-github", group("oidc:engineering"), []string{api.VerbUse}, "github")
	ctx := context.Background()

	t.Run("authorization code, pre-registered client", func(t *testing.T) {
		public, err := p.RegisterClient(ctx, oidc.ClientSpec{Public: true, Scopes: []string{"mcp"}})
		require.NoError(t, err)
		h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
			PreregisteredClient:      &oauthex.ClientCredentials{ClientID: public.ID, Issuer: p.Issuer()},
			RedirectURL:              public.RedirectURL,
			AuthorizationCodeFetcher: p.CodeFetcher(),
		})
		require.NoError(t, err)
		listAndCall(t, connectOAuth(t, og, og.server(ns, "github"), h), "github")
	})
	t.Run("authorization code, dynamic client registration", func(t *testing.T) {
		h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
			DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
				RedirectURIs: []string{p.CallbackURL()}, TokenEndpointAuthMethod: "none",
				GrantTypes: []string{"authorization_code", "refresh_token"}, ClientName: "gateway test",
			}},
			AuthorizationCodeFetcher: p.CodeFetcher(),
			Client:                   p.SDKHTTPClient(), // the SDK's DCR jwks bug, see the oidc package
		})
		require.NoError(t, err)
		listAndCall(t, connectOAuth(t, og, og.server(ns, "github"), h), "github")
	})
	t.Run("client credentials", func(t *testing.T) {
		svc, err := p.RegisterClient(ctx, oidc.ClientSpec{Scopes: []string{"mcp"}, Audience: []string{og.URL + "/mcp"}, SecretPost: true})
		require.NoError(t, err)
		grantGroup(t, ns, "client-uses-github", rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "oidc:" + svc.ID}, []string{api.VerbUse}, "github")
		h, err := extauth.NewClientCredentialsHandler(&extauth.ClientCredentialsHandlerConfig{
			Credentials: &oauthex.ClientCredentials{ClientID: svc.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: svc.Secret}},
			HTTPClient:  &http.Client{Transport: addResource{p.TokenURL(), og.server(ns, "github"), http.DefaultTransport}, Timeout: 30 * time.Second},
		})
		require.NoError(t, err)
		listAndCall(t, connectOAuth(t, og, og.server(ns, "github"), h), "github")
	})
	t.Run("per-caller credentials by the mapped user name", func(t *testing.T) {
		_, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-github",
				Labels:      map[string]string{api.CredentialsForLabel: "github"},
				Annotations: map[string]string{api.CredentialsSubjectAnnot: "oidc:alice"}},
			StringData: map[string]string{"X-GitHub-Token": "alice-pat"},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return og.GW.Credentials.Headers(ns, "github", "oidc:alice") != nil }, 5*time.Second, 10*time.Millisecond)
		public, err := p.RegisterClient(ctx, oidc.ClientSpec{Public: true, Scopes: []string{"mcp"}})
		require.NoError(t, err)
		tok, err := p.AuthCodeToken(ctx, public, oidc.TokenRequest{Scopes: []string{"mcp"}, Resource: og.server(ns, "github")})
		require.NoError(t, err)
		cs, err := mcptest.ConnectWith(ctx, og.server(ns, "github"), og.bearer(tok.AccessToken), nil)
		require.NoError(t, err)
		defer cs.Close()
		out, err := mcptest.Call(ctx, cs, "header", map[string]any{"text": "X-GitHub-Token"})
		require.NoError(t, err)
		assert.Equal(t, "alice-pat", out)
	})
}

// Refusals with tokens a real provider issued, each answered as the MCP
// authorization spec says, with the reason.
func TestOAuthRefusals(t *testing.T) {
	t.Parallel()
	p := oidc.Start(t)
	untrusted := oidc.Start(t)
	og := startOAuthGateway(t, p, "oidc", "kubernetes")
	ns := namespace(t)
	routable(t, og.GW, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-1", nil))
	grantGroup(t, ns, "engineering-uses-github", group("oidc:engineering"), []string{api.VerbUse}, "github")
	ctx := context.Background()
	github, gitlab := og.server(ns, "github"), og.server(ns, "gitlab")

	svc, err := p.RegisterClient(ctx, oidc.ClientSpec{Scopes: []string{"mcp"}, Audience: []string{og.URL + "/mcp"}})
	require.NoError(t, err)
	ccToken := func(p *oidc.Provider, c *oidc.Client, scopes []string, resource string) string {
		tok, err := p.ClientCredentialsToken(ctx, c, oidc.TokenRequest{Scopes: scopes, Resource: resource})
		require.NoError(t, err)
		og.tokens.add(tok.AccessToken)
		return tok.AccessToken
	}
	public, err := p.RegisterClient(ctx, oidc.ClientSpec{Public: true, Scopes: []string{"mcp"}})
	require.NoError(t, err)
	p.SetUser("bob", []string{"sales"})
	bob, err := p.AuthCodeToken(ctx, public, oidc.TokenRequest{Scopes: []string{"mcp"}, Resource: github})
	require.NoError(t, err)
	og.tokens.add(bob.AccessToken)
	p.SetUser("alice", []string{"engineering"})
	alice, err := p.AuthCodeToken(ctx, public, oidc.TokenRequest{Scopes: []string{"mcp"}, Resource: github})
	require.NoError(t, err)
	og.tokens.add(alice.AccessToken)
	otherSvc, err := untrusted.RegisterClient(ctx, oidc.ClientSpec{Scopes: []string{"mcp"}, Audience: []string{og.URL + "/mcp"}})
	require.NoError(t, err)

	const invalid = "a valid bearer token is required: "
	prm := `resource_metadata="` + og.URL + `/.well-known/oauth-protected-resource/mcp/` + ns + `/github"`
	tests := []struct {
		name, token string
		status      int
		message     string // of the JSON-RPC error
		challenge   string // part of WWW-Authenticate
	}{
		{"allowed", alice.AccessToken, http.StatusOK, "", ""},
		{"no token", "", http.StatusUnauthorized, "a valid bearer token is required", `Bearer realm="mcp-gateway", scope="mcp", ` + prm},
		{"a token for another server", ccToken(p, svc, []string{"mcp"}, gitlab), http.StatusUnauthorized,
			invalid + "the token's audience is not this resource (want " + github + " or mcp-gateway-wide)", `error="invalid_token"`},
		{"a token of an untrusted issuer", ccToken(untrusted, otherSvc, []string{"mcp"}, github), http.StatusUnauthorized,
			invalid + "the token's issuer is not trusted; the API server does not accept the token for this resource", `error="invalid_token"`},
		{"a tampered token", tamper(t, alice.AccessToken, func(c map[string]any) { c["groups"] = []any{"admins"} }), http.StatusUnauthorized, invalid + "the token's signature does not verify", prm},
		{"a token without the required scope", ccToken(p, svc, nil, github), http.StatusForbidden, "the token lacks the scope mcp",
			`Bearer realm="mcp-gateway", error="insufficient_scope", error_description="the token lacks the scope mcp", scope="mcp", ` + prm},
		{"a user without the group", bob.AccessToken, http.StatusForbidden,
			`user "oidc:bob" may not use servers.mcp.archestra.io github in namespace ` + ns + ` (groups ["oidc:sales"])`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawPost(t, github, tt.token)
			require.Equal(t, tt.status, resp.StatusCode, body)
			if tt.message != "" {
				assert.Equal(t, tt.message, rpcErrorMessage(t, body))
			}
			if tt.challenge != "" {
				assert.Contains(t, resp.Header.Get("WWW-Authenticate"), tt.challenge)
			}
		})
	}

	// The metadata the challenge points at.
	resp, err := http.Get(og.URL + "/.well-known/oauth-protected-resource/mcp/" + ns + "/github")
	require.NoError(t, err)
	defer resp.Body.Close()
	var md oauthex.ProtectedResourceMetadata
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&md))
	assert.Equal(t, github, md.Resource)
	assert.Equal(t, []string{p.Issuer()}, md.AuthorizationServers)
	assert.Equal(t, []string{"mcp"}, md.ScopesSupported)
}

// The JWKS rotated three times while four clients call tools, each call
// with a new token: no call fails, and tokens of every key were used.
func TestOAuthKeyRotationDuringCalls(t *testing.T) {
	t.Parallel()
	p := oidc.Start(t)
	og := startOAuthGateway(t, p, "oidc")
	ns := namespace(t)
	routable(t, og.GW, createPod(t, mcptest.NewBackend(t, "github"), ns, "github", "github-1", nil))
	ctx := context.Background()
	svc, err := p.RegisterClient(ctx, oidc.ClientSpec{Scopes: []string{"mcp"}, Audience: []string{og.URL + "/mcp"}})
	require.NoError(t, err)
	grantGroup(t, ns, "client-uses-github", rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "oidc:" + svc.ID}, []string{api.VerbUse}, "github")

	kids := &tokenSet{}
	fresh := og.withToken(func() (string, error) {
		tok, err := p.ClientCredentialsToken(ctx, svc, oidc.TokenRequest{Scopes: []string{"mcp"}, Resource: og.server(ns, "github")})
		if err != nil {
			return "", err
		}
		kids.add(kidOf(tok.AccessToken))
		return tok.AccessToken, nil
	})
	// Workers call until told to stop; the keys rotate while they do, each
	// rotation after another 20 calls, and 20 more follow the last one.
	const workers, between, rotations = 4, 20, 3
	done := make(chan error)
	stop := make(chan struct{})
	for range workers {
		go func() {
			cs, err := mcptest.ConnectWith(ctx, og.server(ns, "github"), fresh, nil)
			if err == nil {
				defer cs.Close()
			}
			for {
				if err == nil {
					_, err = mcptest.Call(ctx, cs, "whoami", nil)
				}
				select {
				case done <- err:
				case <-stop:
					return
				}
			}
		}()
	}
	var failed []error
	calls := 0
	for r := 0; r <= rotations; r++ {
		for range between {
			if err := <-done; err != nil {
				failed = append(failed, err)
			}
			calls++
		}
		if r < rotations {
			_, err := p.RotateKeys(ctx)
			require.NoError(t, err)
		}
	}
	close(stop)
	assert.Empty(t, failed, "calls failed across key rotations")
	assert.GreaterOrEqual(t, len(kids.all()), rotations+1, "tokens of every key were used")
	t.Logf("%d calls, %d signing keys", calls, len(kids.all()))
}

// freshToken sets a newly issued token on every request.
type freshToken struct {
	get  func() (string, error)
	next http.RoundTripper
}

func (f freshToken) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := f.get()
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	return f.next.RoundTrip(req)
}

// bearer is a client that sends tok, recorded for the log search.
func (og *oauthGateway) bearer(tok string) *http.Client {
	return og.withToken(func() (string, error) { return tok, nil })
}

// withToken is a client that sends get's token, recorded.
func (og *oauthGateway) withToken(get func() (string, error)) *http.Client {
	return &http.Client{Transport: freshToken{get: get, next: recordingTransport{og.tokens, http.DefaultTransport}}, Timeout: 30 * time.Second}
}

// kidOf is the key id in a JWT's header.
func kidOf(tok string) string {
	h, _, _ := strings.Cut(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(h)
	var hdr struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(b, &hdr)
	return hdr.Kid
}

// tamper changes a JWT's payload and keeps its signature.
func tamper(t *testing.T, tok string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(b, &c))
	change(c)
	b, err = json.Marshal(c)
	require.NoError(t, err)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// rpcErrorMessage is the message of a JSON-RPC error body.
func rpcErrorMessage(t *testing.T, body string) string {
	t.Helper()
	var m struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.NewDecoder(io.LimitReader(strings.NewReader(body), 1<<20)).Decode(&m), body)
	return m.Error.Message
}
