package transport_test

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

var (
	hopProfiles = flag.String("hop.profiles", "", "BenchmarkSidecarHop: write a CPU and an allocation profile of the sidecar binary per sub-benchmark into this directory (its --pprof)")
	hopSeconds  = flag.Int("hop.profile-seconds", 10, "BenchmarkSidecarHop: length of each CPU profile; the calls go on until it is taken")
	hopProcs    = flag.Int("hop.max-procs", 0, "BenchmarkSidecarHop: the sidecar's and the floors' --max-procs (GOMAXPROCS); 0: the sidecar's default, 1")
)

// BenchmarkSidecarHop measures what the sidecar binary costs a tools/call,
// as in a pod: the real mcp-transport serve as a process of its own, with
// caller authentication (TLS, the gateway's client certificate, the caller
// stated per client as the gateway does), in front of stdio servers started
// by the real launcher (sessions per-session and shared) or of a
// streamable-http server (proxy mode); and the floor: a server of both
// eras in net/http behind the same TLS and caller authentication that
// answers at once from a canned result (transport/testdata/floorserver),
// what a sidecar on net/http costs before it does anything of its own;
// and the relay floor: the same server relaying each call, as it is, to
// one stdio process over its pipes (one client), what any bridge on
// net/http and pipes costs. Against it, the same SDK clients
// straight to the same kind of server: over its pipes (stdio, one process
// per client) or over HTTP (proxy). Both protocol eras (2026-07-28
// stateless, and legacy sessions), 1, 16 and 64 concurrent clients,
// alternating in chunks so both sides see the same load; b.N calls per
// side. Reported: calls/s, p50 and p99 of both sides, their ratio, the
// p50 the hop adds, and the sidecar's CPU time and heap allocations per
// call (the scheduler's counters of its threads and the Go runtime's
// counters on its /metrics: no profiler runs unless -hop.profiles).
//
//	go test ./transport -run '^$' -bench SidecarHop -benchtime 2000x
func BenchmarkSidecarHop(b *testing.B) {
	pki := newHopPKI(b)
	for _, mode := range []string{"per-session", "shared", "proxy", "floor", "relay"} {
		for _, era := range []string{"legacy", "modern"} {
			for _, n := range hopSizes(mode) {
				name := fmt.Sprintf("%s/%s/sessions=%d", mode, era, n)
				// b.Run's body runs twice (b.N=1 first), and 2×64
				// processes are worth starting once: set up on the first.
				var h *hop
				parent := b
				b.Run(name, func(b *testing.B) {
					if h == nil {
						h = startHop(b, parent, pki, mode, era, n)
					}
					h.run(b, strings.ReplaceAll(name, "/", "_"))
				})
				if h != nil {
					h.close(b)
				}
			}
		}
	}
}

// hopSizes are the numbers of concurrent clients a mode is measured at:
// the relay floor carries one client's calls in turn, so only 1.
func hopSizes(mode string) []int {
	if mode == "relay" {
		return []int{1}
	}
	return []int{1, 16, 64}
}

// hopPKI is the gateway's CA bundle (for the sidecar) and a client
// certificate of it (for the clients, standing in for the gateway).
type hopPKI struct {
	bundle string
	client *http.Transport
}

func newHopPKI(b *testing.B) hopPKI {
	bundle, cert := gatewayPKI(b)
	return hopPKI{bundle: bundle, client: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}, //nolint:gosec // the sidecar's certificate is ephemeral
		MaxIdleConns:    512, MaxIdleConnsPerHost: 512,
	}}
}

// hop is one configuration: a sidecar and its server, and the clients of
// both sides.
type hop struct {
	side    *exec.Cmd
	base    string // https://addr of the sidecar
	pprof   string // its profiler's address
	client  *http.Client
	direct  []*sdk.ClientSession
	sidecar []*sdk.ClientSession
	closers []func(b *testing.B)
}

func (h *hop) close(b *testing.B) {
	for _, s := range slices.Concat(h.direct, h.sidecar) {
		_ = s.Close()
	}
	for _, c := range slices.Backward(h.closers) {
		c(b)
	}
}

// startHop starts a configuration; what outlives the first b.Run (b.N=1)
// registers its cleanup with parent.
func startHop(b, parent *testing.B, pki hopPKI, mode, era string, n int) *hop {
	b.Helper()
	h := &hop{client: &http.Client{Transport: pki.client}, pprof: freeLoopback(b)}
	procs := 1
	if *hopProcs > 0 {
		procs = *hopProcs
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--client-ca-file", pki.bundle, "--pprof", h.pprof, "--shutdown-grace", "1s",
		"--max-procs", strconv.Itoa(procs)}
	var directURL string
	floor := mode == "floor" || mode == "relay"
	switch mode {
	case "floor", "relay":
		args = []string{"--listen", "127.0.0.1:0", "--client-ca-file", pki.bundle}
		if mode == "relay" {
			args = append(args, "--relay", stdioServer)
		}
		h.pprof = "" // the floor has no profiler
	case "proxy":
		backend := proxyBackend(parent, era)
		h.closers = append(h.closers, func(*testing.B) { backend.Close() })
		directURL = backend.URL
		args = append(args, "--mode", "streamable-http", "--upstream", backend.URL)
	default:
		sock := filepath.Join(benchDir(b, h), "launcher.sock")
		startProc(b, h, transportBin, "launch", "--socket", sock, "--", stdioServer)
		args = append(args, "--mode", "stdio", "--launcher-socket", sock, "--sessions", mode, "--warm-pool", "4", "--idle-timeout", "0")
	}
	var side *proc
	if floor {
		// The floors, on as many threads as the sidecar.
		side = startProcEnv(b, h, []string{"GOMAXPROCS=" + strconv.Itoa(procs)}, floorServer, args...)
	} else {
		side = startProc(b, h, transportBin, args...)
	}
	h.side = side.cmd
	h.base = "https://" + side.addr(b)
	require.Eventually(b, func() bool {
		resp, err := h.client.Get(h.base + api.ReadyPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 20*time.Millisecond, "the sidecar did not become ready")
	for i := range n {
		h.sidecar = append(h.sidecar, hopConnect(b, h.sidecarTransport(fmt.Sprintf("caller-%d", i)), era))
		if mode == "proxy" {
			h.direct = append(h.direct, hopConnect(b, &sdk.StreamableClientTransport{Endpoint: directURL, HTTPClient: &http.Client{Transport: pki.client}, MaxRetries: -1}, era))
		} else {
			// stdio has no session id: the era is the client's choice alone.
			h.direct = append(h.direct, hopConnect(b, &sdk.CommandTransport{Command: exec.Command(stdioServer)}, era))
		}
	}
	// A call per client before any is measured: a 2026-07-28 caller's
	// process starts at its first request (a legacy session's at
	// initialize), which BenchmarkNewSession measures, not this; without
	// it the starts of all but the first caller's were in the p99.
	mcptest.CallChunk(b, h.sidecar, len(h.sidecar))
	mcptest.CallChunk(b, h.direct, len(h.direct))
	return h
}

// sidecarTransport is a client's way to the sidecar, as the gateway's hop:
// the client certificate and the caller the gateway states.
func (h *hop) sidecarTransport(caller string) sdk.Transport {
	hc := &http.Client{Transport: asCaller{base: h.client.Transport, user: caller, group: "bench"}}
	return &sdk.StreamableClientTransport{Endpoint: h.base + "/mcp", HTTPClient: hc, MaxRetries: -1}
}

// proxyBackend is the streamable-http server of proxy mode: stateless for
// 2026-07-28, with sessions for the legacy era.
func proxyBackend(b *testing.B, era string) *mcptest.Backend {
	if era == "modern" {
		return mcptest.NewStatelessBackend(b, "bench", false)
	}
	return mcptest.NewBackend(b, "bench")
}

func hopConnect(b *testing.B, tr sdk.Transport, era string) *sdk.ClientSession {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	version := mcp.LatestVersion
	if era == "modern" {
		version = api.MCPVersion20260728
	}
	c := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
	cs, err := c.Connect(ctx, tr, &sdk.ClientSessionOptions{ProtocolVersion: version})
	require.NoError(b, err)
	if _, http := tr.(*sdk.StreamableClientTransport); http && (cs.ID() == "") != (era == "modern") {
		b.Fatalf("the client speaks the wrong era (session id %q)", cs.ID())
	}
	return cs
}

// run alternates chunks of calls of both sides and reports.
func (h *hop) run(b *testing.B, name string) {
	c := mcptest.NewCompare("direct", "sidecar")
	pid := h.side.Process.Pid
	var cpu time.Duration
	profile := h.startProfile(b, name)
	mallocs0 := h.mallocs(b)
	chunk := mcptest.ChunkPerSession * len(h.direct)
	b.ResetTimer()
	for done := 0; done < b.N || !profile.taken(); done += chunk {
		n := chunk
		if done < b.N {
			n = min(chunk, b.N-done)
		}
		for side, sessions := range [][]*sdk.ClientSession{h.direct, h.sidecar} {
			cpu0 := testutil.CPUTime(pid)
			lat, d := mcptest.CallChunk(b, sessions, n)
			if side == 1 {
				cpu += testutil.CPUTime(pid) - cpu0
			}
			c.Add(side, lat, d)
		}
	}
	b.StopTimer()
	mallocs := h.mallocs(b) - mallocs0
	profile.finish(b)
	calls := c.Calls(1)
	if b.Failed() || calls == 0 || c.Calls(0) == 0 {
		return
	}
	c.Report(b, [2]int{1, 0})
	b.ReportMetric(c.Percentile(1, 50)-c.Percentile(0, 50), "added-p50-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(calls), "sidecar-cpu-µs/call")
	b.ReportMetric(mallocs/float64(calls), "sidecar-allocs/call")
}

// mallocs is the sidecar's count of heap allocations so far.
func (h *hop) mallocs(b *testing.B) float64 {
	v, err := testutil.Metric(h.client, h.base+api.MetricsPath, "go_memstats_mallocs_total")
	require.NoError(b, err)
	return v
}

// hopProfile is a CPU profile of the sidecar being taken over its
// profiler, when -hop.profiles asks for one.
type hopProfile struct {
	h    *hop
	name string
	done chan []byte
}

func (h *hop) startProfile(b *testing.B, name string) *hopProfile {
	p := &hopProfile{h: h, name: name}
	if *hopProfiles == "" || h.pprof == "" || b.N == 1 { // not for the first, one-call run
		return p
	}
	p.done = make(chan []byte, 1)
	go func() {
		p.done <- fetch(b, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.pprof, *hopSeconds))
	}()
	return p
}

func (p *hopProfile) taken() bool { return p.done == nil || len(p.done) > 0 }

func (p *hopProfile) finish(b *testing.B) {
	if p.done == nil {
		return
	}
	require.NoError(b, os.MkdirAll(*hopProfiles, 0o755))
	cpu := filepath.Join(*hopProfiles, p.name+".cpu.pprof")
	require.NoError(b, os.WriteFile(cpu, <-p.done, 0o644))
	allocs := filepath.Join(*hopProfiles, p.name+".allocs.pprof")
	require.NoError(b, os.WriteFile(allocs, fetch(b, "http://"+p.h.pprof+"/debug/pprof/allocs"), 0o644))
	b.Logf("profiles of the sidecar: %s %s (go tool pprof -top %s)", cpu, allocs, cpu)
}

func fetch(b *testing.B, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		b.Error(err)
		return nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Errorf("%s: %s %v", url, resp.Status, err)
	}
	return data
}

// startProc starts bin with args; h stops it.
func startProc(b *testing.B, h *hop, bin string, args ...string) *proc {
	b.Helper()
	return startProcEnv(b, h, nil, bin, args...)
}

// startProcEnv starts bin with env added to the test's environment.
func startProcEnv(b *testing.B, h *hop, env []string, bin string, args ...string) *proc {
	b.Helper()
	p := &proc{cmd: exec.Command(bin, args...), logs: &testutil.Buffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.logs
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	require.NoError(b, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	h.closers = append(h.closers, func(b *testing.B) {
		_ = p.cmd.Process.Kill()
		<-p.done
		if b.Failed() {
			b.Logf("%s logs:\n%s", args[0], p.logs.String())
		}
	})
	return p
}

func benchDir(b *testing.B, h *hop) string {
	dir, err := os.MkdirTemp("", "hop")
	require.NoError(b, err)
	h.closers = append(h.closers, func(*testing.B) { _ = os.RemoveAll(dir) })
	return dir
}

func freeLoopback(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer l.Close()
	return l.Addr().String()
}
