package proxy

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// benchChunkPerSession: each side makes this many calls per session
// before the other takes its turn. Alternating in small chunks makes both
// sides see the same machine load, which on a shared box drifts by 2x
// within seconds.
const benchChunkPerSession = 20

// BenchmarkToolsCall measures tools/call from concurrent SDK client
// sessions (64: the target; 1: the latency one hop adds on an idle
// machine) straight to an MCP Go SDK server and through the gateway (one
// pod), alternating in chunks, and reports both throughputs, their ratio
// and p50/p99 of each. b.N calls per side.
//
//	go test ./gateway/proxy -run '^$' -bench ToolsCall -benchtime 20000x
func BenchmarkToolsCall(b *testing.B) {
	for _, sessions := range []int{64, 1} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) { benchToolsCall(b, sessions) })
	}
}

func benchToolsCall(b *testing.B, sessions int) {
	h := newHarness(b)
	backend := mcptest.NewBackend(b, "bench")
	h.addPod(backend, "ns", "srv", nil)
	direct := openSessions(b, backend.URL, sessions)
	gateway := openSessions(b, h.gateway()+"/mcp/ns/srv", sessions)
	benchChunk := benchChunkPerSession * sessions

	var lat [2][]time.Duration
	var elapsed [2]time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += benchChunk {
		n := min(benchChunk, b.N-done)
		for side, sessions := range [][]*mcp.ClientSession{direct, gateway} {
			l, d := callChunk(b, sessions, n)
			lat[side] = append(lat[side], l...)
			elapsed[side] += d
		}
	}
	b.StopTimer()
	if len(lat[0]) == 0 || len(lat[1]) == 0 {
		return
	}
	rate := func(side int) float64 { return float64(len(lat[side])) / elapsed[side].Seconds() }
	pct := func(side int, p int) time.Duration {
		slices.Sort(lat[side])
		return lat[side][len(lat[side])*p/100]
	}
	b.ReportMetric(rate(0), "direct-calls/s")
	b.ReportMetric(rate(1), "gateway-calls/s")
	b.ReportMetric(rate(1)/rate(0), "ratio")
	b.ReportMetric(float64(pct(0, 50).Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(pct(1, 50).Microseconds()), "gateway-p50-µs")
	b.ReportMetric(float64(pct(0, 99).Microseconds()), "direct-p99-µs")
	b.ReportMetric(float64(pct(1, 99).Microseconds()), "gateway-p99-µs")
}

func openSessions(b *testing.B, url string, n int) []*mcp.ClientSession {
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * n, MaxIdleConnsPerHost: 4 * n}}
	sessions := make([]*mcp.ClientSession, n)
	for i := range sessions {
		cs, err := mcptest.ConnectWith(ctx, url, hc, nil)
		require.NoError(b, err)
		b.Cleanup(func() { _ = cs.Close() })
		sessions[i] = cs
	}
	return sessions
}

// callChunk makes n calls spread over the sessions, all concurrently, and
// returns each call's latency and the wall time.
func callChunk(b *testing.B, sessions []*mcp.ClientSession, n int) ([]time.Duration, time.Duration) {
	ctx := context.Background()
	args := map[string]any{"text": "hello"}
	lat := make([][]time.Duration, len(sessions))
	var wg sync.WaitGroup
	start := time.Now()
	for i, cs := range sessions {
		k := n / len(sessions)
		if i < n%len(sessions) {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range k {
				t := time.Now()
				if _, err := mcptest.Call(ctx, cs, "echo", args); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		}()
	}
	wg.Wait()
	return slices.Concat(lat...), time.Since(start)
}
