package proxy

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/transport/gatewayauth"
)

// hopPair is a plain sidecar stand-in and one that authenticates its
// caller with the sidecar's own code (gatewayauth: TLS with an ephemeral
// certificate, the client certificate verified against the bundle), both
// in front of the same handler, and the gateway's upstream transport with
// its client certificate.
type hopPair struct {
	plain, mtls string
	transport   http.RoundTripper
	ca          *certs.CA // the gateway's, trusted by the mTLS stand-in
}

func newHopPair(b testing.TB, h http.Handler) hopPair {
	b.Helper()
	plain := httptest.NewServer(gatewayauth.WithoutIdentity(h))
	b.Cleanup(plain.Close)
	mtls, ca := newSidecarStandIn(b, h)
	cert := clientPair(b, ca)
	return hopPair{plain: plain.URL, mtls: mtls, ca: ca,
		transport: NewUpstreamTransport(5*time.Second, 10*time.Second, func() (*tls.Certificate, error) { return cert, nil })}
}

// newSidecarStandIn serves h as a sidecar with caller authentication
// does (gatewayauth's TLS, the client certificate verified against a
// gateway CA made here); it returns the server's URL and that CA.
func newSidecarStandIn(tb testing.TB, h http.Handler) (string, *certs.CA) {
	tb.Helper()
	ca, err := certs.NewCA("test-gateway-ca", time.Hour)
	require.NoError(tb, err)
	bundle := filepath.Join(tb.TempDir(), "ca.crt")
	require.NoError(tb, os.WriteFile(bundle, ca.PEM, 0o600))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	v := &gatewayauth.Verifier{Bundle: gatewayauth.NewBundle(bundle, log), Log: log}
	srv := httptest.NewUnstartedServer(v.Wrap(h))
	srv.TLS, err = gatewayauth.ServerTLS()
	require.NoError(tb, err)
	srv.Config.ConnContext = gatewayauth.ConnContext
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv.URL, ca
}

// BenchmarkUpstreamHop measures the gateway-to-sidecar hop alone: the
// gateway's upstream transport posting a tools/call to a sidecar stand-in
// that answers at once, over plain HTTP (pods injected before caller
// authentication) and over TLS with the client certificate verified (the
// sidecar's gatewayauth code), alternating in chunks so both sides see the
// same load. "kept-alive" reuses connections as the gateway does;
// "new-connection" opens one per request, resuming the TLS session as the
// gateway does after its first connection to a pod; "full-handshake" opens
// one per request without resumption (the first connection to a pod, or
// the first after a certificate change). b.N requests per side.
//
//	go test ./gateway/proxy -run '^$' -bench UpstreamHop -benchtime 5000x
func BenchmarkUpstreamHop(b *testing.B) {
	answer := []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		_, _ = w.Write(answer)
	})
	for _, conns := range []string{"kept-alive", "new-connection", "full-handshake"} {
		for _, workers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/workers=%d", conns, workers), func(b *testing.B) {
				pair := newHopPair(b, h)
				pair.transport.(*upstream).fullHandshakes = conns == "full-handshake"
				benchHop(b, pair, workers, conns != "kept-alive")
			})
		}
	}
}

func benchHop(b *testing.B, pair hopPair, workers int, fresh bool) {
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`
	one := func(url string) time.Duration {
		req, err := http.NewRequest(http.MethodPost, url+"/mcp", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Close = fresh
		start := time.Now()
		resp, err := pair.transport.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %s", url, resp.Status)
		}
		return time.Since(start)
	}
	chunk := 50 * workers
	sides := mcptest.Sides{Names: [2]string{"plain", "mtls"}}
	for _, url := range []string{pair.plain, pair.mtls} { // warm both pools
		one(url)
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for side, url := range []string{pair.plain, pair.mtls} {
			lat, d := hopChunk(workers, n, func() time.Duration { return one(url) })
			sides.Add(side, lat, d)
		}
	}
	b.StopTimer()
	sides.Report(b)
}

// hopChunk runs n requests on workers goroutines and returns every
// latency and the wall time.
func hopChunk(workers, n int, one func() time.Duration) ([]time.Duration, time.Duration) {
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		k := n / workers
		if w < n%workers {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range k {
				lat[w] = append(lat[w], one())
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return all, time.Since(start)
}

// BenchmarkCallerAuthHop is BenchmarkToolsCall's tools/call
// with the Go SDK client through the gateway, once to a pod reached over
// plain HTTP and once to a pod whose sidecar authenticates the gateway
// (the same SDK server behind gatewayauth), alternating: what caller
// authentication costs a client. b.N calls per side.
//
//	go test ./gateway/proxy -run '^$' -bench CallerAuthHop -benchtime 5000x
func BenchmarkCallerAuthHop(b *testing.B) {
	for _, sessions := range []int{16, 1} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			h := newHarness(b)
			pair := newHopPair(b, mcptest.Handler("bench", nil))
			for i, url := range []string{pair.plain, pair.mtls} {
				ann := map[string]string{api.PodAnnEndpointPort: url[strings.LastIndexByte(url, ':')+1:]}
				if i == 1 {
					ann[api.PodAnnCallerAuth] = api.CallerAuthMTLS
				}
				server := []string{"plain", "mtls"}[i]
				pod := (&mcptest.Backend{Name: server}).Pod("ns", server, server, ann)
				pod.UID = types.UID("uid-" + server)
				_, err := h.client.CoreV1().Pods("ns").Create(h.ctx, pod, metav1.CreateOptions{})
				require.NoError(b, err)
				require.Eventually(b, func() bool { return h.registry.Lookup("ns", server, string(pod.UID)) != nil }, 5*time.Second, 5*time.Millisecond)
			}
			gw := serve(b, New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(), Transport: pair.transport}))
			sets := [2][]*mcp.ClientSession{
				mcptest.OpenSessions(b, gw+"/mcp/ns/plain", sessions),
				mcptest.OpenSessions(b, gw+"/mcp/ns/mtls", sessions),
			}
			chunk := mcptest.ChunkPerSession * sessions
			sides := mcptest.Sides{Names: [2]string{"plain", "mtls"}}
			b.ResetTimer()
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				for side, sessions := range sets {
					lat, d := mcptest.CallChunk(b, sessions, n)
					sides.Add(side, lat, d)
				}
			}
			b.StopTimer()
			sides.Report(b)
		})
	}
}
