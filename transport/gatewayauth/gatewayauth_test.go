package gatewayauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/transport/caller"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a certificate valid from notBefore to notAfter.
func (ca *testCA) client(t *testing.T, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "mcp-gateway"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) valid(t *testing.T) tls.Certificate {
	return ca.client(t, x509.ExtKeyUsageClientAuth, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
}

type sidecar struct {
	url     string
	bundle  string
	b       *Bundle
	mu      sync.Mutex
	refused []string
	callers []string
}

// newSidecar serves an MCP stand-in behind the Verifier, and /healthz
// open, as transport.Serve wires them.
func newSidecar(t *testing.T, bundle []byte) *sidecar {
	t.Helper()
	s := &sidecar{bundle: filepath.Join(t.TempDir(), "ca.crt")}
	if bundle != nil {
		require.NoError(t, os.WriteFile(s.bundle, bundle, 0o600))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s.b = NewBundle(s.bundle, log)
	v := &Verifier{Bundle: s.b, Log: log, Refused: func(r string) { s.mu.Lock(); s.refused = append(s.refused, r); s.mu.Unlock() }}
	mux := http.NewServeMux()
	mux.Handle("/mcp", v.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := caller.From(r.Context())
		s.mu.Lock()
		s.callers = append(s.callers, c.User)
		s.mu.Unlock()
		_, _ = io.WriteString(w, "mcp "+r.Header.Get(api.HeaderCallerUser))
	})))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := httptest.NewUnstartedServer(mux)
	cfg, err := ServerTLS()
	require.NoError(t, err)
	srv.TLS = cfg
	srv.Config.ConnContext = ConnContext
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// call sends a request with cert (nil: none) and the caller headers.
func call(t *testing.T, client *http.Client, url, user string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	require.NoError(t, err)
	if user != "" {
		u, g := api.EncodeCaller(api.Caller{User: user, Groups: []string{"g"}})
		req.Header.Set(api.HeaderCallerUser, u)
		req.Header.Set(api.HeaderCallerGroups, g)
	}
	resp, err := client.Do(req)
	require.NoError(t, err, "never a failed handshake or a hang: an HTTP answer")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func clientWith(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the sidecar's certificate is ephemeral
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

func TestOnlyTheGatewayCertificatePasses(t *testing.T) {
	t.Parallel()
	gw, other := newTestCA(t, "gateway-ca"), newTestCA(t, "other-ca")
	s := newSidecar(t, gw.pem)
	valid := gw.valid(t)
	expired := gw.client(t, x509.ExtKeyUsageClientAuth, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	serverOnly := gw.client(t, x509.ExtKeyUsageServerAuth, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	foreign := other.valid(t)
	tests := []struct {
		name   string
		cert   *tls.Certificate
		user   string
		status int
		reason string
	}{
		{"gateway certificate", &valid, "alice", http.StatusOK, ""},
		{"no certificate", nil, "", http.StatusForbidden, ReasonNoCertificate},
		{"no certificate, forged identity", nil, "system:admin", http.StatusForbidden, ReasonNoCertificate},
		{"certificate of another CA", &foreign, "alice", http.StatusForbidden, ReasonUntrusted},
		{"expired certificate of the gateway CA", &expired, "alice", http.StatusForbidden, ReasonExpired},
		{"gateway CA, but not a client certificate", &serverOnly, "alice", http.StatusForbidden, ReasonUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, clientWith(tt.cert), s.url+"/mcp", tt.user)
			assert.Equal(t, tt.status, status, body)
			if tt.status != http.StatusOK {
				var msg struct {
					ID    any `json:"id"`
					Error struct {
						Code    int    `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				}
				require.NoError(t, json.Unmarshal([]byte(body), &msg), "a JSON-RPC error body")
				assert.Equal(t, api.CodeServerError, msg.Error.Code)
				assert.Contains(t, msg.Error.Message, "Forbidden")
			}
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Equal(t, []string{ReasonNoCertificate, ReasonNoCertificate, ReasonUntrusted, ReasonExpired, ReasonUntrusted}, s.refused)
	assert.Equal(t, []string{"alice"}, s.callers, "only the verified request reached MCP, with its caller")
}

// The kubelet probes without a client certificate.
func TestProbesNeedNoCertificate(t *testing.T) {
	t.Parallel()
	s := newSidecar(t, newTestCA(t, "ca").pem)
	resp, err := clientWith(nil).Get(s.url + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A rotated bundle applies to connections already open: the old CA's
// certificate stops passing on a kept-alive connection, the new one passes.
func TestBundleRotation(t *testing.T) {
	t.Parallel()
	oldCA, newCA := newTestCA(t, "old"), newTestCA(t, "new")
	s := newSidecar(t, oldCA.pem)
	oldCert, newCert := oldCA.valid(t), newCA.valid(t)
	oldClient, newClient := clientWith(&oldCert), clientWith(&newCert)
	status, _ := call(t, oldClient, s.url+"/mcp", "u")
	require.Equal(t, http.StatusOK, status)
	status, _ = call(t, newClient, s.url+"/mcp", "u")
	require.Equal(t, http.StatusForbidden, status, "not trusted before it is in the bundle")

	// Overlap: both CAs.
	require.NoError(t, os.WriteFile(s.bundle, append(append([]byte{}, oldCA.pem...), newCA.pem...), 0o600))
	s.b.reload()
	for _, c := range []*http.Client{oldClient, newClient} {
		status, _ = call(t, c, s.url+"/mcp", "u")
		assert.Equal(t, http.StatusOK, status)
	}
	// The old CA retired.
	require.NoError(t, os.WriteFile(s.bundle, newCA.pem, 0o600))
	s.b.reload()
	status, _ = call(t, oldClient, s.url+"/mcp", "u")
	assert.Equal(t, http.StatusForbidden, status, "re-verified on the kept-alive connection")
	status, _ = call(t, newClient, s.url+"/mcp", "u")
	assert.Equal(t, http.StatusOK, status)
}

func TestBundleLoading(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	path := filepath.Join(dir, "ca.crt")
	b := NewBundle(path, log)
	assert.ErrorContains(t, b.Ready(), "no gateway CA bundle in "+path)
	require.NoError(t, os.WriteFile(path, []byte("not pem"), 0o600))
	b.reload()
	assert.ErrorContains(t, b.Ready(), "no PEM certificate")

	ca := newTestCA(t, "ca")
	require.NoError(t, os.WriteFile(path, ca.pem, 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Watch(ctx, 10*time.Millisecond)
	require.Eventually(t, func() bool { return b.Ready() == nil }, 5*time.Second, 10*time.Millisecond, "picked up by Watch")
	_, gen := b.Pool()

	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	b.reload()
	pool, gen2 := b.Pool()
	assert.NotNil(t, pool, "a broken update keeps the last good bundle")
	assert.Equal(t, gen, gen2)
	require.NoError(t, os.Remove(path))
	b.reload()
	assert.NoError(t, b.Ready())
}

func TestWithoutIdentityStripsHeaders(t *testing.T) {
	t.Parallel()
	var got http.Header
	h := WithoutIdentity(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set(api.HeaderCallerUser, "system:admin")
	req.Header.Set(api.HeaderCallerGroups, "system:masters")
	req.Header.Set("X-Other", "kept")
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Empty(t, got.Get(api.HeaderCallerUser))
	assert.Empty(t, got.Get(api.HeaderCallerGroups))
	assert.Equal(t, "kept", got.Get("X-Other"))
}

func TestFromPod(t *testing.T) {
	t.Parallel()
	var reasons []string
	h := FromPod(func(r string) { reasons = append(reasons, r) }, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "drained") }))
	for addr, want := range map[string]int{
		"127.0.0.1:40000":        http.StatusOK,
		"[::1]:40000":            http.StatusOK,
		"[::ffff:127.0.0.1]:400": http.StatusOK,
		"10.0.0.7:40000":         http.StatusForbidden,
		"198.18.0.1:40000":       http.StatusForbidden,
		"garbage":                http.StatusForbidden,
	} {
		req := httptest.NewRequest(http.MethodGet, api.DrainPath, nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, want, rec.Code, addr)
	}
	assert.Len(t, reasons, 3)
}
