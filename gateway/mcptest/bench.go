package mcptest

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// ChunkPerSession: in the gateway benchmarks each side makes this many
// calls per session before the other takes its turn. Alternating in small
// chunks makes both sides see the same machine load, which on a shared box
// drifts by 2x within seconds.
const ChunkPerSession = 20

// OpenSessions opens n SDK client sessions to url over one HTTP client
// that keeps enough idle connections for n concurrent calls.
func OpenSessions(tb testing.TB, url string, n int) []*mcp.ClientSession {
	tb.Helper()
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * n, MaxIdleConnsPerHost: 4 * n}}
	sessions := make([]*mcp.ClientSession, n)
	for i := range sessions {
		cs, err := ConnectWith(ctx, url, hc, nil)
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = cs.Close() })
		sessions[i] = cs
	}
	return sessions
}

// CallChunk makes n echo calls spread over the sessions, all concurrently,
// and returns each call's latency and the wall time.
func CallChunk(tb testing.TB, sessions []*mcp.ClientSession, n int) ([]time.Duration, time.Duration) {
	ctx := context.Background()
	args := map[string]any{"text": "hello"}
	return RunChunk(tb, sessions, n, func(cs *mcp.ClientSession) error {
		_, err := Call(ctx, cs, "echo", args)
		return err
	})
}

// RunChunk makes n operations spread over the sessions, all concurrently,
// and returns each one's latency and the wall time.
func RunChunk(tb testing.TB, sessions []*mcp.ClientSession, n int, op func(*mcp.ClientSession) error) ([]time.Duration, time.Duration) {
	lat := make([][]time.Duration, len(sessions))
	var wg sync.WaitGroup
	start := time.Now()
	for i, cs := range sessions {
		k := n / len(sessions)
		if i < n%len(sessions) {
			k++
		}
		wg.Go(func() {
			for range k {
				t := time.Now()
				if err := op(cs); err != nil {
					tb.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	return slices.Concat(lat...), time.Since(start)
}

// Sides collects the latencies and wall time of the two sides of a
// benchmark: 0 straight to the backend, 1 through the gateway (or as
// Names says).
type Sides struct {
	Lat     [2][]time.Duration
	Elapsed [2]time.Duration
	// Names of the sides in the reported metrics; empty: direct, gateway.
	Names [2]string
}

// Add records one chunk of a side.
func (s *Sides) Add(side int, lat []time.Duration, d time.Duration) {
	s.Lat[side] = append(s.Lat[side], lat...)
	s.Elapsed[side] += d
}

// Report reports both throughputs, their ratio and p50/p99 of each.
func (s *Sides) Report(b *testing.B) {
	if len(s.Lat[0]) == 0 || len(s.Lat[1]) == 0 {
		return
	}
	rate := func(side int) float64 { return float64(len(s.Lat[side])) / s.Elapsed[side].Seconds() }
	pct := func(side int, p int) float64 {
		slices.Sort(s.Lat[side])
		return float64(s.Lat[side][len(s.Lat[side])*p/100].Microseconds())
	}
	names := s.Names
	if names[0] == "" {
		names = [2]string{"direct", "gateway"}
	}
	b.ReportMetric(rate(0), names[0]+"-calls/s")
	b.ReportMetric(rate(1), names[1]+"-calls/s")
	b.ReportMetric(rate(1)/rate(0), "ratio")
	b.ReportMetric(pct(0, 50), names[0]+"-p50-µs")
	b.ReportMetric(pct(1, 50), names[1]+"-p50-µs")
	b.ReportMetric(pct(0, 99), names[0]+"-p99-µs")
	b.ReportMetric(pct(1, 99), names[1]+"-p99-µs")
}

// Compare collects the latencies and wall time of a benchmark with any
// number of named sides (for example each protocol era, straight to the
// backend and through the gateway), run in alternating chunks.
type Compare struct {
	names   []string
	lat     [][]time.Duration
	elapsed []time.Duration
}

// NewCompare returns a Compare of the sides named names, in that order.
func NewCompare(names ...string) *Compare {
	return &Compare{names: names, lat: make([][]time.Duration, len(names)), elapsed: make([]time.Duration, len(names))}
}

// Add records one chunk of side.
func (c *Compare) Add(side int, lat []time.Duration, d time.Duration) {
	c.lat[side] = append(c.lat[side], lat...)
	c.elapsed[side] += d
}

func (c *Compare) rate(side int) float64 {
	return float64(len(c.lat[side])) / c.elapsed[side].Seconds()
}

// Calls is the number of calls side made.
func (c *Compare) Calls(side int) int { return len(c.lat[side]) }

// Percentile is side's p-th percentile latency in µs.
func (c *Compare) Percentile(side, p int) float64 { return c.percentile(side, p) }

func (c *Compare) percentile(side, p int) float64 {
	slices.Sort(c.lat[side])
	return float64(c.lat[side][len(c.lat[side])*p/100].Microseconds())
}

// Report reports each side's calls/s, p50 and p99, and for each pair
// {a, b} of ratios the throughput ratio a/b as "<a>/<b>".
func (c *Compare) Report(b *testing.B, ratios ...[2]int) {
	for _, l := range c.lat {
		if len(l) == 0 {
			return
		}
	}
	for i, name := range c.names {
		b.ReportMetric(c.rate(i), name+"-calls/s")
		b.ReportMetric(c.percentile(i, 50), name+"-p50-µs")
		b.ReportMetric(c.percentile(i, 99), name+"-p99-µs")
	}
	for _, r := range ratios {
		b.ReportMetric(c.rate(r[0])/c.rate(r[1]), c.names[r[0]]+"/"+c.names[r[1]])
	}
}
