//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/oidc"
)

// bridgeIP is the host's address on the cluster's bridge: pods reach a
// process of this host there (hack/cluster/lib/net.sh lets the bridge in).
const bridgeIP = "198.18.0.1"

const oauthServer = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: custom
  labels: {mcp.archestra.io/server: custom}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
spec:
  replicas: 1
  selector: {matchLabels: {app: custom}}
  template:
    metadata: {labels: {app: custom}}
    spec:
      containers:
      - name: custom
        image: localhost/mcp-e2e/stdio-server:v1
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: use-custom}
rules:
- {apiGroups: [mcp.archestra.io], resources: [servers], verbs: [use], resourceNames: [custom]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: engineering-uses-custom}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: use-custom}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "oidc:engineering"}
- {kind: ServiceAccount, name: agent}
`

// Scenario 9: standard MCP authorization on the real cluster: Hydra runs on this host
// as the company's identity provider, reached by the gateway pod over the
// bridge (https, its CA in the gateway's AuthenticationConfiguration); a
// second gateway Deployment is installed from the product's own, with
// --auth=oidc,serviceaccount,kubernetes. MCP SDK clients on this host know
// only the server's URL (the gateway's public URL, a loopback port
// forwarded to its Service: the SDK wants https or loopback) and discover
// the rest from the 401; a RoleBinding for the IdP group grants the server.
func TestOAuthOnTheCluster(t *testing.T) {
	t.Parallel()
	p := oidc.Start(t, oidc.WithPublicAddress(bridgeIP))
	fwd := startForwarder(t)
	public := "http://" + fwd.addr()
	installOAuthGateway(t, p, public)
	ns := namespace(t, "e2e-oauth")
	apply(t, ns, oauthServer)
	waitReady(t, ns, "custom", 1)
	svc, err := client.CoreV1().Services("mcp-system").Get(context.Background(), "mcp-gateway-oauth", metav1.GetOptions{})
	require.NoError(t, err)
	fwd.target.Store(net.JoinHostPort(svc.Spec.ClusterIP, "80"))
	server := public + "/mcp/" + ns + "/custom"
	ctx := context.Background()
	tokens := &seenTokens{}

	t.Run("authorization code with PKCE", func(t *testing.T) {
		c, err := p.RegisterClient(ctx, oidc.ClientSpec{Public: true, Scopes: []string{"mcp"}})
		require.NoError(t, err)
		h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
			PreregisteredClient:      &oauthex.ClientCredentials{ClientID: c.ID, Issuer: p.Issuer()},
			RedirectURL:              c.RedirectURL,
			AuthorizationCodeFetcher: p.CodeFetcher(),
			Client:                   p.HTTPClient(),
		})
		require.NoError(t, err)
		echoThrough(t, server, h, tokens)
	})
	t.Run("client credentials", func(t *testing.T) {
		c, err := p.RegisterClient(ctx, oidc.ClientSpec{Scopes: []string{"mcp"}, Audience: []string{public + "/mcp"}, SecretPost: true})
		require.NoError(t, err)
		apply(t, ns, fmt.Sprintf(`
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: client-uses-custom}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: use-custom}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "oidc:%s"}]
`, c.ID))
		h, err := extauth.NewClientCredentialsHandler(&extauth.ClientCredentialsHandlerConfig{
			Credentials: &oauthex.ClientCredentials{ClientID: c.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: c.Secret}},
			// The SDK's client credentials handler sends no RFC 8707
			// resource; Hydra wants it as audience.
			HTTPClient: &http.Client{Transport: withAudience{p.TokenURL(), server, p.HTTPClient().Transport}, Timeout: 30 * time.Second},
		})
		require.NoError(t, err)
		echoThrough(t, server, h, tokens)

		// A new signing key: the next token is signed with it, and works.
		_, err = p.RotateKeys(ctx)
		require.NoError(t, err)
		tok, err := p.ClientCredentialsToken(ctx, c, oidc.TokenRequest{Scopes: []string{"mcp"}, Resource: server})
		require.NoError(t, err)
		tokens.add(tok.AccessToken)
		status, _ := post(t, server, tok.AccessToken)
		assert.Equal(t, http.StatusOK, status, "a token of the rotated key")
	})
	t.Run("a user without the group", func(t *testing.T) {
		c, err := p.RegisterClient(ctx, oidc.ClientSpec{Public: true, Scopes: []string{"mcp"}})
		require.NoError(t, err)
		p.SetUser("bob", []string{"sales"})
		defer p.SetUser("alice", []string{"engineering"})
		tok, err := p.AuthCodeToken(ctx, c, oidc.TokenRequest{Scopes: []string{"mcp"}, Resource: server})
		require.NoError(t, err)
		tokens.add(tok.AccessToken)
		status, body := post(t, server, tok.AccessToken)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Contains(t, body, `user \"oidc:bob\" may not use servers.mcp.archestra.io custom in namespace `+ns+` (groups [\"oidc:sales\"])`)
	})
	t.Run("ServiceAccount tokens verified in the gateway", func(t *testing.T) {
		forServer := saToken(t, ns, "agent", server)
		tokens.add(forServer)
		status, body := post(t, server, forServer)
		assert.Equal(t, http.StatusOK, status, body)
		apiServers := saToken(t, ns, "agent")
		tokens.add(apiServers)
		status, body = post(t, server, apiServers)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, body, "the token's audience is not this resource")
	})
	t.Run("the gateway logged no token", func(t *testing.T) {
		logs, err := kubectl("-n", "mcp-system", "logs", "deployment/mcp-gateway-oauth")
		require.NoError(t, err, logs)
		assert.Contains(t, logs, "ServiceAccount tokens are verified locally")
		assert.Contains(t, logs, `"msg":"OIDC issuer ready"`)
		for _, tok := range tokens.all() {
			assert.NotContains(t, logs, tok)
		}
		assert.NotRegexp(t, regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ`), logs)
	})
}

// echoThrough connects with an OAuth handler, lists the tools and calls one.
func echoThrough(t *testing.T, server string, h auth.OAuthHandler, tokens *seenTokens) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hc := &http.Client{Transport: recordTokens{tokens, noProxy()}, Timeout: 60 * time.Second}
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-oauth", Version: "v1"}, nil)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: server, OAuthHandler: h, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	require.NoError(t, err)
	defer s.Close()
	tools, err := s.ListTools(ctx, nil)
	require.NoError(t, err)
	assert.Contains(t, toolNames(tools), "echo")
	var out struct{ Text string }
	require.NoError(t, structured(ctx, s, "echo", map[string]any{"text": "hello oauth"}, &out))
	assert.Equal(t, "hello oauth", out.Text)
}

// installOAuthGateway installs a second gateway from the live one: same
// image, ServiceAccount and session key, with the OIDC issuer p.
func installOAuthGateway(t *testing.T, p *oidc.Provider, public string) {
	t.Helper()
	ctx := context.Background()
	authn, err := yaml.Marshal(map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration",
		"jwt": []any{map[string]any{
			"issuer": map[string]any{"url": p.Issuer(), "audiences": []string{}, "certificateAuthority": string(p.CACertPEM())},
			"claimMappings": map[string]any{
				"username": map[string]string{"claim": "sub", "prefix": "oidc:"},
				"groups":   map[string]string{"claim": "groups", "prefix": "oidc:"},
			},
		}},
	})
	require.NoError(t, err)
	_, err = client.CoreV1().ConfigMaps("mcp-system").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mcp-gateway-oauth"}, Data: map[string]string{"authn.yaml": string(authn)},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	live, err := client.AppsV1().Deployments("mcp-system").Get(ctx, "mcp-gateway", metav1.GetOptions{})
	require.NoError(t, err)
	d := oauthGatewayDeployment(live, public)
	_, err = client.AppsV1().Deployments("mcp-system").Create(ctx, d, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = client.CoreV1().Services("mcp-system").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name},
		Spec: corev1.ServiceSpec{Selector: d.Spec.Selector.MatchLabels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = client.AppsV1().Deployments("mcp-system").Delete(ctx, d.Name, metav1.DeleteOptions{})
		_ = client.CoreV1().Services("mcp-system").Delete(ctx, d.Name, metav1.DeleteOptions{})
		_ = client.CoreV1().ConfigMaps("mcp-system").Delete(ctx, d.Name, metav1.DeleteOptions{})
	})
	out, err := kubectl("-n", "mcp-system", "rollout", "status", "deployment/"+d.Name, "--timeout=120s")
	if err != nil {
		logs, _ := kubectl("-n", "mcp-system", "logs", "deployment/"+d.Name, "--tail=50")
		require.NoError(t, err, "%s\n%s", out, logs)
	}
}

func oauthGatewayDeployment(live *appsv1.Deployment, public string) *appsv1.Deployment {
	const name = "mcp-gateway-oauth"
	labels := map[string]string{"app.kubernetes.io/name": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: *live.Spec.DeepCopy()}
	d.Spec.Replicas = ptr.To(int32(1))
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	d.Spec.Template.Labels = labels
	d.Spec.Template.Spec.Affinity = nil
	c := &d.Spec.Template.Spec.Containers[0]
	var args []string
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "--auth=") {
			args = append(args, a)
		}
	}
	c.Args = append(args, "--auth=oidc,serviceaccount,kubernetes", "--oidc-config=/etc/mcp-gateway/oidc/authn.yaml",
		"--public-url="+public, "--required-scopes=mcp", "--log-level=debug")
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "oidc", MountPath: "/etc/mcp-gateway/oidc", ReadOnly: true})
	d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "oidc",
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}})
	return d
}

// saToken is a TokenRequest token of ns/sa for the audiences (none: the
// API server's).
func saToken(t *testing.T, ns, sa string, audiences ...string) string {
	t.Helper()
	tr, err := client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: ptr.To(int64(3600))},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

// post sends an initialize with token and returns the status and body.
func post(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: noProxy(), Timeout: 60 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// forwarder is the gateway's public URL on this host's loopback, passing
// connections to target (the Service's ClusterIP, through kube-proxy).
type forwarder struct {
	l      net.Listener
	target atomic.Value // host:port
}

func startForwarder(t *testing.T) *forwarder {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &forwarder{l: l}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.pass(c)
		}
	}()
	return f
}

func (f *forwarder) addr() string { return f.l.Addr().String() }

func (f *forwarder) pass(c net.Conn) {
	defer c.Close()
	target, _ := f.target.Load().(string)
	if target == "" {
		return
	}
	u, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}

// withAudience adds RFC 8707 resource and Hydra's audience to token
// requests that have neither.
type withAudience struct {
	tokenURL, resource string
	next               http.RoundTripper
}

func (a withAudience) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.String() != a.tokenURL {
		return a.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	if form.Get("resource") == "" {
		form.Set("resource", a.resource)
		form.Set("audience", a.resource)
	}
	enc := form.Encode()
	req = req.Clone(req.Context())
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader(enc)), int64(len(enc))
	return a.next.RoundTrip(req)
}

type seenTokens struct {
	mu  sync.Mutex
	set []string
}

func (s *seenTokens) add(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set = append(s.set, tok)
}

func (s *seenTokens) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.set...)
}

type recordTokens struct {
	set  *seenTokens
	next http.RoundTripper
}

func (r recordTokens) RoundTrip(req *http.Request) (*http.Response, error) {
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		r.set.add(tok)
	}
	return r.next.RoundTrip(req)
}
