//go:build linux

package gateway

import (
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
	"github.com/archestra-ai/mcp-orchestrator/transport/gatewayauth"
)

// hopPKI is the gateway's client CA for a benchmark: the gateway binary
// presents a certificate of it, the sidecar stand-ins trust it.
type hopPKI struct {
	bundle            string
	certFile, keyFile string
	gatewayArgs       []string
	podAnnotations    map[string]string
}

func newHopPKI(b *testing.B) hopPKI {
	b.Helper()
	ca, err := certs.NewCA("bench-gateway-ca", time.Hour)
	require.NoError(b, err)
	pair, err := ca.IssueClient(certs.GatewayClientName, time.Hour)
	require.NoError(b, err)
	dir := b.TempDir()
	p := hopPKI{bundle: filepath.Join(dir, "ca.crt")}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for file, data := range map[string][]byte{p.bundle: ca.PEM, certFile: pair.CertPEM, keyFile: pair.KeyPEM} {
		require.NoError(b, os.WriteFile(file, data, 0o600))
	}
	p.certFile, p.keyFile = certFile, keyFile
	p.gatewayArgs = []string{"--upstream-client-cert=" + certFile, "--upstream-client-key=" + keyFile}
	p.podAnnotations = map[string]string{api.PodAnnCallerAuth: api.CallerAuthMTLS}
	return p
}

// sidecar serves an SDK server (NewBackend's tools, opts) as a sidecar
// with caller authentication does: TLS with an ephemeral certificate, the
// client certificate verified against the bundle; the returned backend
// names its port for a pod.
func (p hopPKI) sidecar(b *testing.B, name string, opts *mcp.StreamableHTTPOptions) *mcptest.Backend {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	v := &gatewayauth.Verifier{Bundle: gatewayauth.NewBundle(p.bundle, log), Log: log}
	srv := httptest.NewUnstartedServer(v.Wrap(mcptest.Handler(name, opts)))
	var err error
	srv.TLS, err = gatewayauth.ServerTLS()
	require.NoError(b, err)
	srv.Config.ConnContext = gatewayauth.ConnContext
	srv.StartTLS()
	b.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(b, err)
	n, _ := strconv.Atoi(port)
	return &mcptest.Backend{Name: name, Port: n, URL: srv.URL + "/mcp"}
}

// mallocCounter reads a binary's count of heap allocations from its
// /metrics, minus what reading it costs the binary (the scrape itself
// allocates there), measured once at the start.
type mallocCounter struct {
	url    string
	scrape float64
}

func newMallocCounter(b *testing.B, url string) *mallocCounter {
	c := &mallocCounter{url: url}
	first := c.now(b)
	c.scrape = c.now(b) - first
	return c
}

func (c *mallocCounter) now(b *testing.B) float64 {
	v, err := testutil.Metric(nil, c.url, "go_memstats_mallocs_total")
	require.NoError(b, err)
	return v
}

// since is the allocations since the reading before, the scrapes excluded.
func (c *mallocCounter) since(b *testing.B, before float64) float64 {
	return max(0, c.now(b)-before-c.scrape)
}

// pinnedFloor is the floor proxy of a benchmark.
type pinnedFloor struct {
	url string
	pid int
}

// startPinnedFloor builds and starts test/gateway/testdata/floorproxy on
// CPU 1 like the gateway, with pki's client certificate, forwarding
// /mcp/<name> to each of routes.
func startPinnedFloor(b *testing.B, pki hopPKI, routes map[string]string) pinnedFloor {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "floorproxy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/archestra-ai/mcp-orchestrator/test/gateway/testdata/floorproxy").CombinedOutput()
	require.NoError(b, err, string(out))
	addr := freeAddr(b)
	args := []string{"--listen", addr, "--cert", pki.certFile, "--key", pki.keyFile}
	for name, u := range routes {
		args = append(args, "--route", name+"="+u)
	}
	return pinnedFloor{url: "http://" + addr, pid: startPinned(b, "floor proxy", "http://"+addr, bin, args...)}
}
