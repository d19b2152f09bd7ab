package stdio

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// BenchmarkToolsCall compares tools/call through the sidecar (SDK client ->
// streamable HTTP -> bridge -> stdio process, one process per session) with
// the physical limit: the SDK client writing to the same stdio server
// directly over its pipes. Reported: calls/s, p50 and p99 latency.
//
//	go test ./transport/stdio -run '^$' -bench ToolsCall -benchtime 3000x
func BenchmarkToolsCall(b *testing.B) {
	for _, n := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("sidecar/sessions=%d", n), func(b *testing.B) {
			br := newBenchBridge(b, n)
			sessions := make([]*sdk.ClientSession, n)
			for i := range sessions {
				sessions[i] = benchConnect(b, &sdk.StreamableClientTransport{Endpoint: br.URL, DisableStandaloneSSE: true})
			}
			runCalls(b, sessions)
		})
		b.Run(fmt.Sprintf("direct/sessions=%d", n), func(b *testing.B) {
			sessions := make([]*sdk.ClientSession, n)
			for i := range sessions {
				sessions[i] = benchConnect(b, &sdk.CommandTransport{Command: exec.Command(stdioServer)})
			}
			runCalls(b, sessions)
		})
	}
}

// BenchmarkNewSession measures initialize latency (process start included)
// with and without a warm pool.
func BenchmarkNewSession(b *testing.B) {
	servers := []struct {
		name string
		cmd  func(b *testing.B) []string
	}{
		{"go-sdk", func(*testing.B) []string { return []string{stdioServer} }},
		// npx + node: the startup cost the warm pool exists for.
		{"server-everything", func(b *testing.B) []string {
			return []string{"npx", "--no-install", "--prefix", npmPrefix(b), "mcp-server-everything", "stdio"}
		}},
	}
	for _, srv := range servers {
		for _, pool := range []int{0, 2} {
			b.Run(fmt.Sprintf("%s/warm-pool=%d", srv.name, pool), func(b *testing.B) {
				cmd := srv.cmd(b)
				br := newBridge(b, func(c *Config) {
					c.WarmPool = pool
					c.Starter = &ExecStarter{Command: cmd, Stderr: io.Discard}
				})
				newSessions(b, br, pool)
			})
		}
	}
}

func newSessions(b *testing.B, br *bridge, pool int) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		if pool > 0 {
			// Let the pool refill, as between real session arrivals.
			b.StopTimer()
			waitPoolFull(br.Manager)
			b.StartTimer()
		}
		t0 := time.Now()
		cs := benchConnect(b, &sdk.StreamableClientTransport{Endpoint: br.URL, DisableStandaloneSSE: true})
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		_ = cs.Close()
		b.StartTimer()
	}
	report(b, lat, 0)
}

func waitPoolFull(m *Manager) {
	if m.pool == nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for !m.pool.full() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

func newBenchBridge(b *testing.B, warm int) *bridge {
	b.Helper()
	return newBridge(b, func(c *Config) { c.WarmPool = warm })
}

func benchConnect(b *testing.B, tr sdk.Transport) *sdk.ClientSession {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
	cs, err := c.Connect(ctx, tr, &sdk.ClientSessionOptions{ProtocolVersion: mcp.LatestVersion})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	return cs
}

func runCalls(b *testing.B, sessions []*sdk.ClientSession) {
	var next atomic.Int64
	lats := make([][]time.Duration, len(sessions))
	var wg sync.WaitGroup
	args := map[string]any{"text": "benchmark payload"}
	// One unmeasured call per session: a 2026-07-28 caller's process
	// starts at its first request (BenchmarkNewSession measures that).
	for _, cs := range sessions {
		if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "echo", Arguments: args}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i, cs := range sessions {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "echo", Arguments: args}); err != nil {
					b.Error(err)
					return
				}
				lats[i] = append(lats[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	report(b, slices.Concat(lats...), elapsed)
}

func report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	if elapsed > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "calls/s")
	}
}

// BenchmarkEras compares tools/call of 2026-07-28 clients (no session, one
// process per caller) with legacy sessions (one process per session), the
// same number of each, in one run.
//
//	go test ./transport/stdio -run '^$' -bench Eras -benchtime 3000x
func BenchmarkEras(b *testing.B) {
	for _, n := range []int{1, 16, 64} {
		for _, era := range []string{"legacy", "modern"} {
			b.Run(fmt.Sprintf("%s/clients=%d", era, n), func(b *testing.B) {
				br := newBenchBridge(b, n)
				sessions := make([]*sdk.ClientSession, n)
				for i := range sessions {
					sessions[i] = eraConnect(b, br.URL, era, fmt.Sprintf("caller-%d", i))
				}
				runCalls(b, sessions)
			})
		}
	}
}

// BenchmarkFirstResult is a new client's time to its first tool result:
// connect (server/discover, or initialize and initialized) plus one call,
// with a warm pool, per era.
//
//	go test ./transport/stdio -run '^$' -bench FirstResult -benchtime 50x
func BenchmarkFirstResult(b *testing.B) {
	for _, era := range []string{"legacy", "modern"} {
		b.Run(era, func(b *testing.B) {
			br := newBenchBridge(b, 2)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				waitPoolFull(br.Manager)
				b.StartTimer()
				t0 := time.Now()
				cs := eraConnect(b, br.URL, era, fmt.Sprintf("new-%d", i))
				if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				b.StopTimer()
				_ = cs.Close()
				b.StartTimer()
			}
			report(b, lat, 0)
		})
	}
}

// eraConnect connects an SDK client in one era; caller is what the gateway
// would state for it.
func eraConnect(b *testing.B, url, era, caller string) *sdk.ClientSession {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	version := mcp.LatestVersion
	if era == "modern" {
		version = api.MCPVersion20260728
	}
	hc := &http.Client{Transport: callerHeader{caller: caller, next: http.DefaultTransport}}
	c := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc, DisableStandaloneSSE: true},
		&sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	return cs
}

type callerHeader struct {
	caller string
	next   http.RoundTripper
}

func (c callerHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(api.HeaderCallerUser, c.caller)
	return c.next.RoundTrip(r)
}

// BenchmarkNewSessionBurst is many clients arriving at once: 64 concurrent
// new clients of the Go SDK stdio server with a warm pool of the default
// size (1), each timed from connect to its first tool result (a legacy
// session: initialize, initialized, one call; a 2026-07-28 client of a
// caller the sidecar has no process for: server/discover, one call). b.N
// bursts, each once the previous clients are gone and the pool had 2 s to
// refill, as between real bursts. The pool may grow after a burst that
// found it empty up to warm-pool-max: 1 (no growth: every burst finds one
// process), the binary's default, or the burst's size. The floor is the
// same burst without any process to start: sessions shared (one process,
// initialize answered from the first), what the clients and the bridge
// cost the two cores. Reported: p50 and p99 of the first burst (what the
// pool held) and of the later ones (what it kept after the first).
//
//	go test ./transport/stdio -run '^$' -bench NewSessionBurst -benchtime 3x
func BenchmarkNewSessionBurst(b *testing.B) {
	const clients = 64
	for _, era := range []string{"legacy", "modern"} {
		for _, ceiling := range []int{1, defaultWarmPoolMax, clients, 0} {
			name := fmt.Sprintf("%s/warm-pool-max=%d", era, ceiling)
			if ceiling == 0 {
				name = era + "/floor-shared"
			}
			b.Run(name, func(b *testing.B) {
				br := newBridge(b, func(c *Config) { c.WarmPool, c.WarmPoolMax, c.Shared = 1, ceiling, ceiling == 0 })
				waitPoolFull(br.Manager)
				var first, later []time.Duration
				for burst := range b.N {
					lat := sessionBurst(b, br.URL, era, burst, clients)
					if burst == 0 {
						first = lat
					} else {
						later = append(later, lat...)
					}
					time.Sleep(2 * time.Second)
				}
				reportBurst(b, "first", first)
				reportBurst(b, "later", later)
			})
		}
	}
}

// defaultWarmPoolMax is mcp-transport's --warm-pool-max default.
const defaultWarmPoolMax = 16

// sessionBurst connects n new clients at once, each making one call, and
// returns each one's time to its result.
func sessionBurst(b *testing.B, url, era string, burst, n int) []time.Duration {
	lat := make([]time.Duration, n)
	sessions := make([]*sdk.ClientSession, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			t0 := time.Now()
			cs := eraConnect(b, url, era, fmt.Sprintf("burst-%d-%d", burst, i))
			if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(t0)
			sessions[i] = cs
		})
	}
	wg.Wait()
	for _, cs := range sessions {
		if cs != nil {
			_ = cs.Close()
		}
	}
	return lat
}

func reportBurst(b *testing.B, name string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, name+"-p99-ms")
}
