//go:build linux

package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

// idleStreams is how many standing streams BenchmarkIdleStreamsGateway
// opens.
const idleStreams = 10000

// BenchmarkIdleStreamsGateway opens 10,000 standing streams through one
// gateway replica (the binary, --auth=none) to one pod: the real
// mcp-transport sidecar binary in shared mode with caller authentication,
// in front of the Go SDK stdio test server started by its launcher. Each
// client holds its own HTTP/1.1 connection to the gateway, as MCP clients
// do; the gateway reaches the sidecar as it does in a cluster (mTLS, the
// streams over HTTP/2). Either 2025-11-25 sessions with their GET streams
// or 2026-07-28 subscriptions/listen. Reported: the resident memory of the
// gateway and of the sidecar with the streams open, per stream, and the
// goroutines per stream of each. The figures do not depend on b.N: run it
// once.
//
//	KUBEBUILDER_ASSETS=$(hack/build-envtest-bins.sh) go test ./test/gateway \
//	    -run '^$' -bench IdleStreamsGateway -benchtime 1x
func BenchmarkIdleStreamsGateway(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the apiserver")
	}
	for _, kind := range []string{testutil.StreamLegacyGET, testutil.StreamModernListen} {
		b.Run(kind, func(b *testing.B) { benchIdleGateway(b, kind) })
	}
}

func benchIdleGateway(b *testing.B, kind string) {
	ns := namespace(b)
	pki := newHopPKI(b)
	side := startSidecarBinary(b, pki.bundle)
	createPod(b, &mcptest.Backend{Name: "idle", Port: side.port}, ns, "idle", "idle-1", pki.podAnnotations)
	gw := startGatewayBinary(b, ns, pki.gatewayArgs...)
	endpoint := gw.url + "/mcp/" + ns + "/idle"
	require.Eventually(b, func() bool {
		streams, err := testutil.OpenStreams(context.Background(), http.DefaultClient, endpoint, kind, 1, 1, nil)
		if err == nil {
			streams.Close()
		}
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "the gateway does not route to the sidecar")
	gwRSS0, gwG0 := processFigures(b, gw.pid, gw.metrics)
	sideRSS0, sideG0 := processFigures(b, side.pid, side.metrics)

	// HTTP/1.1: every standing stream holds a connection of its own.
	clients := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	b.ResetTimer()
	start := time.Now()
	streams, err := testutil.OpenStreams(context.Background(), clients, endpoint, kind, idleStreams, 64, nil)
	require.NoError(b, err)
	defer streams.Close()
	opened := time.Since(start)
	time.Sleep(time.Second) // let both settle
	b.StopTimer()
	gwRSS, gwG := processFigures(b, gw.pid, gw.metrics)
	sideRSS, sideG := processFigures(b, side.pid, side.metrics)
	b.ReportMetric(float64(gwRSS)/(1<<20), "gateway-rss-MiB")
	b.ReportMetric(float64(gwRSS-gwRSS0)/(1<<10)/idleStreams, "gateway-rss-KiB/stream")
	b.ReportMetric((gwG-gwG0)/idleStreams, "gateway-goroutines/stream")
	b.ReportMetric(float64(sideRSS)/(1<<20), "sidecar-rss-MiB")
	b.ReportMetric(float64(sideRSS-sideRSS0)/(1<<10)/idleStreams, "sidecar-rss-KiB/stream")
	b.ReportMetric((sideG-sideG0)/idleStreams, "sidecar-goroutines/stream")
	b.ReportMetric(opened.Seconds(), "open-s")
}

// processFigures are a binary's resident memory and goroutines.
func processFigures(b *testing.B, pid int, metrics string) (int64, float64) {
	rss, err := testutil.RSS(pid)
	require.NoError(b, err)
	g, err := testutil.Metric(sidecarClient, metrics, "go_goroutines")
	require.NoError(b, err)
	return rss, g
}

// sidecarClient reads a sidecar's /metrics (its serving certificate is
// ephemeral; /metrics needs no client certificate).
var sidecarClient = &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}}

func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the sidecar's certificate is ephemeral
}

// sidecarBinary is a running mcp-transport serve.
type sidecarBinary struct {
	port    int
	pid     int
	metrics string
}

// startSidecarBinary starts the launcher (with the Go SDK stdio test
// server) and the sidecar in shared mode, trusting the gateway CA bundle.
func startSidecarBinary(b *testing.B, bundle string) sidecarBinary {
	b.Helper()
	bin := goBuild(b, "mcp-transport")
	server := filepath.Join(b.TempDir(), "stdioserver")
	out, err := exec.Command("go", "build", "-o", server, "github.com/archestra-ai/mcp-orchestrator/transport/testdata/stdioserver").CombinedOutput()
	require.NoError(b, err, string(out))
	dir, err := os.MkdirTemp("", "idle") // a unix socket path must be short
	require.NoError(b, err)
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "launcher.sock")
	startLogged(b, bin, "launch", "--socket", sock, "--", server)
	logs := startLogged(b, bin, "serve", "--listen", "127.0.0.1:0", "--client-ca-file", bundle, "--mode", "stdio",
		"--launcher-socket", sock, "--sessions", "shared", "--shutdown-grace", "1s")
	var addr string
	require.Eventually(b, func() bool { addr = servingAddr(logs.buf.String()); return addr != "" }, 20*time.Second, 10*time.Millisecond)
	port, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	require.NoError(b, err)
	return sidecarBinary{port: port, pid: logs.cmd.Process.Pid, metrics: "https://" + addr + api.MetricsPath}
}

type loggedProc struct {
	cmd *exec.Cmd
	buf *testutil.Buffer
}

func startLogged(b *testing.B, bin string, args ...string) loggedProc {
	p := loggedProc{cmd: exec.Command(bin, args...), buf: &testutil.Buffer{}}
	p.cmd.Stderr = p.buf
	require.NoError(b, p.cmd.Start())
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-done
		if b.Failed() {
			b.Logf("%s log:\n%s", args[0], p.buf.String())
		}
	})
	return p
}

// servingAddr is the address in the sidecar's "serving" log line.
func servingAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "mcp-transport serving" {
			return l.Addr
		}
	}
	return ""
}

// startGatewayBinary starts the mcp-gateway binary serving ns, unpinned.
func startGatewayBinary(b *testing.B, ns string, extra ...string) pinnedGateway {
	b.Helper()
	bin, args := gatewayCommand(b, "mcp-gateway-idle", ns)
	addr, metricsAddr := args[0][len("--listen="):], args[1][len("--metrics-listen="):]
	p := startLogged(b, bin, append(args, extra...)...)
	base := "http://" + addr
	require.Eventually(b, func() bool {
		resp, err := http.Get(base + api.ReadyPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "the gateway did not become ready")
	return pinnedGateway{url: base, metrics: "http://" + metricsAddr + api.MetricsPath, pid: p.cmd.Process.Pid}
}
