package transport_test

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

// idleStreams is how many standing streams BenchmarkIdleStreams opens.
const idleStreams = 10000

// BenchmarkIdleStreams opens 10,000 standing streams on one sidecar binary
// in shared mode, with caller authentication, as the gateway holds them:
// over HTTP/2 with its client certificate. Either 2025-11-25 sessions,
// each with its GET stream, or 2026-07-28 subscriptions/listen (of a
// modern stdio server, which the sidecar passes on to the server; and of a
// legacy one, whose subscriptions the sidecar serves itself). Reported:
// the sidecar's resident memory with the streams open (rss-MiB) and per
// stream over an idle sidecar, and its goroutines per stream (what the
// HTTP/2 server runs per stream, one, and nothing of ours). The figure
// does not depend on b.N: run it once.
//
//	go test ./transport -run '^$' -bench IdleStreams -benchtime 1x
func BenchmarkIdleStreams(b *testing.B) {
	pki := newHopPKI(b)
	for _, tt := range []struct{ name, kind, era string }{
		{"legacy-get", testutil.StreamLegacyGET, ""},
		{"modern-listen/modern-server", testutil.StreamModernListen, ""},
		{"modern-listen/legacy-server", testutil.StreamModernListen, "legacy"},
	} {
		b.Run(tt.name, func(b *testing.B) { benchIdleStreams(b, pki, tt.kind, tt.era) })
	}
}

func benchIdleStreams(b *testing.B, pki hopPKI, kind, era string) {
	h := &hop{client: &http.Client{Transport: pki.client}}
	defer h.close(b)
	sock := filepath.Join(benchDir(b, h), "launcher.sock")
	startProc(b, h, transportBin, "launch", "--socket", sock, "--", stdioServer)
	args := []string{"serve", "--listen", "127.0.0.1:0", "--client-ca-file", pki.bundle, "--mode", "stdio",
		"--launcher-socket", sock, "--sessions", "shared", "--shutdown-grace", "1s"}
	if era != "" {
		args = append(args, "--stdio-era", era)
	}
	side := startProc(b, h, transportBin, args...)
	h.side, h.base = side.cmd, "https://"+side.addr(b)
	require.Eventually(b, func() bool {
		resp, err := h.client.Get(h.base + api.ReadyPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 20*time.Millisecond, "the sidecar did not become ready")
	rss0, g0 := idleFigures(b, h)

	// The gateway's hop for standing streams: HTTP/2, its certificate.
	h2 := pki.client.Clone()
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetHTTP1(true)
	h2.Protocols.SetHTTP2(true)
	b.ResetTimer()
	start := time.Now()
	streams, err := testutil.OpenStreams(context.Background(), &http.Client{Transport: h2}, h.base+"/mcp", kind, idleStreams, 64, nil)
	require.NoError(b, err)
	opened := time.Since(start)
	defer streams.Close()
	runtime.GC()
	time.Sleep(time.Second) // let the sidecar settle (its GC, the streams' first writes)
	b.StopTimer()
	rss, g := idleFigures(b, h)
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(rss-rss0)/(1<<10)/idleStreams, "rss-KiB/stream")
	b.ReportMetric((g-g0)/idleStreams, "goroutines/stream")
	b.ReportMetric(opened.Seconds(), "open-s")
	b.Logf("%d %s streams: sidecar RSS %d MiB (idle %d MiB), goroutines %.0f (idle %.0f)", idleStreams, kind, rss>>20, rss0>>20, g, g0)
}

// idleFigures are the sidecar's resident memory and goroutines.
func idleFigures(b *testing.B, h *hop) (int64, float64) {
	rss, err := testutil.RSS(h.side.Process.Pid)
	require.NoError(b, err)
	g, err := testutil.Metric(h.client, h.base+api.MetricsPath, "go_goroutines")
	require.NoError(b, err)
	return rss, g
}
