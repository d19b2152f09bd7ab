package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/transport/caller"
	"github.com/archestra-ai/mcp-orchestrator/transport/gatewayauth"
)

// authSidecar stands in for a sidecar with caller authentication: the
// sidecar's own TLS and verifier (transport/gatewayauth) in front of a
// handler that records the caller and the client certificate's subject
// serial, and answers a JSON-RPC result.
type authSidecar struct {
	url     string
	mu      sync.Mutex
	callers []api.Caller
	serials []string
	conns   atomic.Int64
	resumed atomic.Int64
}

func newAuthSidecar(t testing.TB, bundle []byte) *authSidecar {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.crt")
	require.NoError(t, os.WriteFile(path, bundle, 0o600))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &authSidecar{}
	v := &gatewayauth.Verifier{Bundle: gatewayauth.NewBundle(path, log), Log: log}
	srv := httptest.NewUnstartedServer(v.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := caller.From(r.Context())
		s.mu.Lock()
		s.callers = append(s.callers, c)
		s.serials = append(s.serials, r.TLS.PeerCertificates[0].SerialNumber.String())
		s.mu.Unlock()
		if r.TLS.DidResume {
			s.resumed.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})))
	cfg, err := gatewayauth.ServerTLS()
	require.NoError(t, err)
	srv.TLS = cfg
	srv.Config.ConnContext = gatewayauth.ConnContext
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func clientPair(t testing.TB, ca *certs.CA) *tls.Certificate {
	t.Helper()
	p, err := ca.IssueClient(certs.GatewayClientName, time.Hour)
	require.NoError(t, err)
	c, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	require.NoError(t, err)
	return &c
}

func serialOf(t testing.TB, c *tls.Certificate) string {
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	require.NoError(t, err)
	return leaf.SerialNumber.String()
}

// The gateway reaches a caller-auth pod over HTTPS with its certificate
// and tells it who the caller is; whatever the client claimed is replaced.
func TestCallerReachesTheSidecar(t *testing.T) {
	t.Parallel()
	ca, err := certs.NewCA("gateway-ca", time.Hour)
	require.NoError(t, err)
	side := newAuthSidecar(t, ca.PEM)
	cert := clientPair(t, ca)
	h := newHarness(t)
	port := side.url[strings.LastIndexByte(side.url, ':')+1:]
	b := &mcptest.Backend{Name: "auth-pod"}
	pod := b.Pod("ns", "srv", "auth-pod", map[string]string{api.PodAnnCallerAuth: api.CallerAuthMTLS, api.PodAnnEndpointPort: port})
	pod.UID = "uid-auth-pod"
	_, err = h.client.CoreV1().Pods("ns").Create(h.ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.registry.Lookup("ns", "srv", "uid-auth-pod") != nil }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, "https", h.registry.Lookup("ns", "srv", "uid-auth-pod").URL.Scheme)

	px := New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(),
		Transport: NewUpstreamTransport(time.Second, 10*time.Second, func() (*tls.Certificate, error) { return cert, nil })})
	guard := &auth.Guard{Auth: staticUser{&auth.User{Name: "alice@example.com", Groups: []string{"dev", "a,b"}}}, Log: discardLog()}
	mux := http.NewServeMux()
	mux.Handle("/mcp/{namespace}/{server}", guard.Handler(func(*http.Request) auth.Attributes { return auth.Attributes{} },
		func(w http.ResponseWriter, _ *http.Request, status int, msg string) { http.Error(w, msg, status) }, px))
	gw := httptest.NewServer(mux)
	t.Cleanup(gw.Close)

	req, err := http.NewRequest(http.MethodPost, gw.URL+"/mcp/ns/srv", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderCallerUser, "system:admin") // forged by the client
	req.Header.Set(api.HeaderCallerGroups, "system:masters")
	resp, err := gw.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	side.mu.Lock()
	defer side.mu.Unlock()
	assert.Equal(t, []api.Caller{{User: "alice@example.com", Groups: []string{"dev", "a,b"}}}, side.callers)
}

type staticUser struct{ u *auth.User }

func (s staticUser) Authenticate(context.Context, string, auth.Target) (*auth.User, error) {
	return s.u, nil
}
func (staticUser) Authorize(context.Context, *auth.User, auth.Attributes) (bool, error) {
	return true, nil
}

// A new client certificate is used from the next request on, on a new
// connection: the old certificate's kept-alive connections are not reused.
// Plain-HTTP pods are reached by the same transport.
func TestUpstreamTransportFollowsTheCertificate(t *testing.T) {
	t.Parallel()
	oldCA, err := certs.NewCA("old", time.Hour)
	require.NoError(t, err)
	newCA, err := certs.NewCA("new", time.Hour)
	require.NoError(t, err)
	side := newAuthSidecar(t, append(append([]byte{}, oldCA.PEM...), newCA.PEM...))
	first, second := clientPair(t, oldCA), clientPair(t, newCA)
	var current atomic.Pointer[tls.Certificate]
	current.Store(first)
	rt := NewUpstreamTransport(time.Second, 10*time.Second, func() (*tls.Certificate, error) { return current.Load(), nil })
	get := func(url string) int {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		require.Equal(t, http.StatusOK, get(side.url))
	}
	assert.Equal(t, int64(1), side.conns.Load(), "kept alive")
	current.Store(second)
	for range 3 {
		require.Equal(t, http.StatusOK, get(side.url))
	}
	assert.Equal(t, int64(2), side.conns.Load(), "one new connection for the new certificate")
	side.mu.Lock()
	assert.Equal(t, []string{serialOf(t, first), serialOf(t, first), serialOf(t, first), serialOf(t, second), serialOf(t, second), serialOf(t, second)}, side.serials)
	side.mu.Unlock()

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { assert.Nil(t, r.TLS) }))
	t.Cleanup(plain.Close)
	assert.Equal(t, http.StatusOK, get(plain.URL), "pods injected before caller authentication: plain HTTP")

	current.Store(nil)
	assert.Equal(t, http.StatusForbidden, get(side.url), "no certificate: the sidecar refuses, the transport does not fail")
}

// A new connection to a pod resumes the TLS session of the last one, and
// the sidecar still sees and verifies the client certificate.
func TestNewConnectionsResumeTheSession(t *testing.T) {
	t.Parallel()
	ca, err := certs.NewCA("gateway-ca", time.Hour)
	require.NoError(t, err)
	side := newAuthSidecar(t, ca.PEM)
	cert := clientPair(t, ca)
	rt := NewUpstreamTransport(time.Second, 10*time.Second, func() (*tls.Certificate, error) { return cert, nil })
	for range 3 {
		req, err := http.NewRequest(http.MethodPost, side.url, strings.NewReader("{}"))
		require.NoError(t, err)
		req.Close = true // a new connection each time
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, int64(3), side.conns.Load())
	assert.Equal(t, int64(2), side.resumed.Load(), "the second and third connection resume")
	side.mu.Lock()
	defer side.mu.Unlock()
	assert.Equal(t, []string{serialOf(t, cert), serialOf(t, cert), serialOf(t, cert)}, side.serials, "the certificate is there on resumed sessions")
}

// Calls keep working while the gateway's certificate changes under load:
// every swap of the inner transport leaves requests in flight alone.
func TestCertificateChangesUnderLoad(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pair := newHopPair(t, mcptest.Handler("swap", nil))
	certsInUse := []*tls.Certificate{clientPair(t, pair.ca), clientPair(t, pair.ca), clientPair(t, pair.ca)}
	var current atomic.Pointer[tls.Certificate]
	current.Store(certsInUse[0])
	pair.transport = NewUpstreamTransport(time.Second, 10*time.Second, func() (*tls.Certificate, error) { return current.Load(), nil })
	pod := (&mcptest.Backend{Name: "swap"}).Pod("ns", "srv", "swap", map[string]string{
		api.PodAnnEndpointPort: pair.mtls[strings.LastIndexByte(pair.mtls, ':')+1:], api.PodAnnCallerAuth: api.CallerAuthMTLS})
	pod.UID = "uid-swap"
	_, err := h.client.CoreV1().Pods("ns").Create(h.ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.registry.Lookup("ns", "srv", "uid-swap") != nil }, 5*time.Second, 5*time.Millisecond)
	gw := serve(t, New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(), Transport: pair.transport}))
	sessions := mcptest.OpenSessions(t, gw+"/mcp/ns/srv", 8)

	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
				current.Store(certsInUse[i%len(certsInUse)])
			}
		}
	}()
	deadline := time.Now().Add(3 * time.Second)
	var calls int
	for time.Now().Before(deadline) {
		lat, _ := mcptest.CallChunk(t, sessions, 64)
		for _, l := range lat {
			require.Less(t, l, 5*time.Second, "no call hangs")
		}
		calls += len(lat)
	}
	close(stop)
	t.Logf("%d calls across certificate changes every 15 ms", calls)
	assert.Greater(t, calls, 100)
}
