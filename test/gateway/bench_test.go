//go:build linux

package gateway

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

const (
	// benchClientCPU runs this process: the SDK clients, the SDK backend
	// and the envtest apiserver and etcd (children, they inherit it).
	benchClientCPU = 0
	// benchGatewayCPU runs the mcp-gateway binary and nothing else of ours.
	benchGatewayCPU = 1
)

// BenchmarkToolsCallGatewayOwnCore measures tools/call through the gateway
// on a core of its own, as in a cluster where the gateway is its own pod:
// the real mcp-gateway binary (--auth=none, envtest kubeconfig, one Ready
// pod created through the API) pinned to CPU 1 with GOMAXPROCS=1, while
// this process -- the MCP Go SDK clients and the SDK backend, plus the
// envtest apiserver and etcd, which are idle during the calls -- is
// confined to CPU 0. Both paths run on CPU 0's client and backend; the
// gateway path also gets CPU 1, which the direct path cannot use. So the
// ratio says whether one extra hop through a gateway with its own core
// costs throughput and latency; it does not say what the gateway's CPU
// costs (gateway/proxy's BenchmarkToolsCall, with everything on the same
// two cores, is closer to that).
//
// Method as in gateway/proxy's BenchmarkToolsCall: 64 concurrent client
// sessions (the target) and 1 (the latency of the hop), straight
// to the backend and through the gateway, alternating in chunks, b.N calls
// per side; it reports both throughputs, their ratio and p50/p99 of each.
// It also reports the CPU time per call on CPU 0 for each side and the
// gateway's CPU time per call and busy fraction of CPU 1, from the
// scheduler's counters (no profiler runs on the binary).
//
// Confinement: Go sets CPU affinity per thread, and threads the runtime
// has already started keep their mask, so pinning this process from inside
// the benchmark is racy; instead the test binary is started under taskset
// and the benchmark checks every thread of this process and of the gateway,
// before and after the calls, and fails if either is not confined:
//
//	KUBEBUILDER_ASSETS=$(hack/build-envtest-bins.sh) go test -exec 'taskset -c 0' \
//	    ./test/gateway -run '^$' -bench ToolsCallGatewayOwnCore -benchtime 20000x
func BenchmarkToolsCallGatewayOwnCore(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the apiserver")
	}
	require.NoError(b, confinedTo(os.Getpid(), benchClientCPU),
		"BenchmarkToolsCallGatewayOwnCore needs this process on CPU %d only, so that CPU %d is the gateway's alone: "+
			"run it with go test -exec 'taskset -c %d' ...", benchClientCPU, benchGatewayCPU, benchClientCPU)

	ns := namespace(b)
	gw := startPinnedGateway(b, ns)
	gatewayURL, gatewayPid := gw.url, gw.pid
	backend := mcptest.NewBackend(b, "bench")
	createPod(b, backend, ns, "srv", "srv-1", nil)
	endpoint := gatewayURL + "/mcp/" + ns + "/srv"
	ctx := context.Background()
	require.Eventually(b, func() bool {
		cs, err := mcptest.Connect(ctx, endpoint, "", nil)
		if err != nil {
			return false
		}
		defer cs.Close()
		got, err := mcptest.Call(ctx, cs, "whoami", nil)
		return err == nil && got == "bench"
	}, 10*time.Second, 20*time.Millisecond, "the gateway does not route to the backend")

	for _, sessions := range []int{64, 1} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			benchOwnCore(b, backend.URL, endpoint, gatewayPid, sessions)
		})
	}
	// Threads started during the run inherit the mask of the thread that
	// made them, so this holds unless something changed a mask meanwhile.
	require.NoError(b, confinedTo(os.Getpid(), benchClientCPU), "this process after the calls")
	require.NoError(b, confinedTo(gatewayPid, benchGatewayCPU), "the gateway after the calls")
}

func benchOwnCore(b *testing.B, directURL, gatewayURL string, gatewayPid, sessions int) {
	direct := mcptest.OpenSessions(b, directURL, sessions)
	gateway := mcptest.OpenSessions(b, gatewayURL, sessions)
	chunk := mcptest.ChunkPerSession * sessions

	var sides mcptest.Sides
	// CPU used by this process (CPU 0) and by the gateway (CPU 1) while
	// each side ran: no profiler runs on the binary, this shows which core
	// limits the gateway side.
	var selfCPU, gatewayCPU [2]time.Duration
	self := os.Getpid()
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for side, sessions := range [][]*mcp.ClientSession{direct, gateway} {
			s0, g0 := testutil.CPUTime(self), testutil.CPUTime(gatewayPid)
			l, d := mcptest.CallChunk(b, sessions, n)
			selfCPU[side] += testutil.CPUTime(self) - s0
			gatewayCPU[side] += testutil.CPUTime(gatewayPid) - g0
			sides.Add(side, l, d)
		}
	}
	b.StopTimer()
	if len(sides.Lat[0]) == 0 || len(sides.Lat[1]) == 0 {
		return
	}
	sides.Report(b)
	perCall := func(cpu [2]time.Duration, side int) float64 {
		return float64(cpu[side].Microseconds()) / float64(len(sides.Lat[side]))
	}
	b.ReportMetric(perCall(selfCPU, 0), "cpu0-µs/direct-call")
	b.ReportMetric(perCall(selfCPU, 1), "cpu0-µs/gateway-call")
	b.ReportMetric(perCall(gatewayCPU, 1), "gateway-cpu-µs/call")
	b.ReportMetric(gatewayCPU[1].Seconds()/sides.Elapsed[1].Seconds(), "gateway-cpu-busy")
}

// BenchmarkToolsCallErasOwnCore is BenchmarkToolsCallGatewayOwnCore for
// both protocol eras in one run, with the MCP Go SDK v1.8 client's
// defaults: 2026-07-28 against a stateless SDK server and a legacy
// session against a stateful one, each straight to the server and through
// the pinned gateway binary, alternating in chunks. Besides each side's
// figures and the ratios (gateway/direct per era, modern/legacy), it
// reports the gateway's CPU time per call of each era: what the modern
// path costs the gateway against the legacy one, whatever the servers cost.
// The gateway reaches the pods as it does sidecars with caller
// authentication (mTLS). The floor is a reverse proxy in net/http with the
// gateway's own upstream transport that does nothing else
// (test/gateway/testdata/floorproxy), pinned the same way, in the same
// alternation: what any gateway on net/http costs per call.
//
//	KUBEBUILDER_ASSETS=$(hack/build-envtest-bins.sh) go test -exec 'taskset -c 0' \
//	    ./test/gateway -run '^$' -bench ToolsCallErasOwnCore -benchtime 10000x
func BenchmarkToolsCallErasOwnCore(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the apiserver")
	}
	require.NoError(b, confinedTo(os.Getpid(), benchClientCPU),
		"run it with go test -exec 'taskset -c %d' ... (see BenchmarkToolsCallGatewayOwnCore)", benchClientCPU)
	ns := namespace(b)
	pki := newHopPKI(b)
	gw := startPinnedGateway(b, ns, pki.gatewayArgs...)
	modern := mcptest.NewStatelessBackend(b, "modern", false)
	legacy := mcptest.NewBackend(b, "legacy")
	// The pods are reached as sidecars with caller authentication are:
	// TLS, the gateway's client certificate verified (the sidecar's own
	// gatewayauth code), the same SDK server behind it.
	modernPod, legacyPod := pki.sidecar(b, "modern", &mcp.StreamableHTTPOptions{Stateless: true}), pki.sidecar(b, "legacy", nil)
	createPod(b, modernPod, ns, "modern", "modern-1", pki.podAnnotations)
	createPod(b, legacyPod, ns, "legacy", "legacy-1", pki.podAnnotations)
	ctx := context.Background()
	for _, server := range []string{"modern", "legacy"} {
		require.Eventually(b, func() bool {
			cs, err := mcptest.Connect(ctx, gw.url+"/mcp/"+ns+"/"+server, "", nil)
			if err != nil {
				return false
			}
			defer cs.Close()
			got, err := mcptest.Call(ctx, cs, "whoami", nil)
			return err == nil && got == server
		}, 10*time.Second, 20*time.Millisecond, "the gateway does not route to %s", server)
	}
	floor := startPinnedFloor(b, pki, map[string]string{"modern": modernPod.URL, "legacy": legacyPod.URL})
	sides := []eraSide{
		{"modern-direct", modern.URL, 0}, {"modern-gateway", gw.url + "/mcp/" + ns + "/modern", gw.pid},
		{"legacy-direct", legacy.URL, 0}, {"legacy-gateway", gw.url + "/mcp/" + ns + "/legacy", gw.pid},
		{"modern-floor", floor.url + "/mcp/modern", floor.pid}, {"legacy-floor", floor.url + "/mcp/legacy", floor.pid},
	}
	for _, sessions := range []int{64, 1} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) { benchErasOwnCore(b, sides, gw, sessions) })
	}
	require.NoError(b, confinedTo(os.Getpid(), benchClientCPU), "this process after the calls")
	require.NoError(b, confinedTo(gw.pid, benchGatewayCPU), "the gateway after the calls")
}

// eraSide is one side of BenchmarkToolsCallErasOwnCore: where its
// clients go and the pinned process whose CPU it costs (0: none).
type eraSide struct {
	name, url string
	pid       int
}

func benchErasOwnCore(b *testing.B, sides []eraSide, gw pinnedGateway, sessions int) {
	const modernDirect, modernGateway, legacyDirect, legacyGateway, modernFloor, legacyFloor = 0, 1, 2, 3, 4, 5
	clients := make([][]*mcp.ClientSession, len(sides))
	names := make([]string, len(sides))
	for i, s := range sides {
		clients[i], names[i] = mcptest.OpenSessions(b, s.url, sessions), s.name
	}
	require.Empty(b, clients[modernGateway][0].ID(), "the modern side has no session")
	require.NotEmpty(b, clients[legacyGateway][0].ID(), "the legacy side has a session")
	c := mcptest.NewCompare(names...)
	cpu := make([]time.Duration, len(sides))
	allocs := make([]float64, len(sides))
	chunk := mcptest.ChunkPerSession * sessions
	mallocs := newMallocCounter(b, gw.metrics)
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for i, s := range sides {
			// The scrapes are outside the CPU window: they cost the gateway.
			m0 := mallocs.now(b)
			t0 := testutil.CPUTime(s.pid)
			lat, d := mcptest.CallChunk(b, clients[i], n)
			cpu[i] += testutil.CPUTime(s.pid) - t0
			allocs[i] += mallocs.since(b, m0)
			c.Add(i, lat, d)
		}
	}
	b.StopTimer()
	c.Report(b, [2]int{modernGateway, modernDirect}, [2]int{legacyGateway, legacyDirect},
		[2]int{modernGateway, legacyGateway}, [2]int{modernDirect, legacyDirect},
		[2]int{modernFloor, modernDirect}, [2]int{legacyFloor, legacyDirect})
	for i, s := range sides {
		if s.pid != 0 && c.Calls(i) > 0 {
			b.ReportMetric(float64(cpu[i].Microseconds())/float64(c.Calls(i)), s.name+"-cpu-µs/call")
		}
	}
	for _, i := range []int{modernGateway, legacyGateway} {
		b.ReportMetric(allocs[i]/float64(c.Calls(i)), sides[i].name+"-allocs/call")
	}
}

// gatewayPprof serves the benchmarked gateway binary's profiler, for
// profiles taken while a benchmark runs (go tool pprof
// http://ADDR/debug/pprof/profile?seconds=10).
var gatewayPprof = flag.String("gateway.pprof", "", "benchmarks: the --pprof address of the gateway binary (e.g. 127.0.0.1:6061); empty: none")

// pinnedGateway is the gateway binary of a benchmark.
type pinnedGateway struct {
	url     string // of its clients' port
	metrics string // its /metrics
	pid     int
}

// startPinnedGateway builds and starts the mcp-gateway binary on CPU 1
// with GOMAXPROCS=1, serving namespace ns (more flags in extra), and
// returns it once ready.
func startPinnedGateway(b *testing.B, ns string, extra ...string) pinnedGateway {
	b.Helper()
	bin, args := gatewayCommand(b, "mcp-gateway-bench", ns)
	addr := args[0][len("--listen="):]
	metricsAddr := args[1][len("--metrics-listen="):]
	args = append(args, extra...)
	if *gatewayPprof != "" {
		args = append(args, "--pprof="+*gatewayPprof)
	}
	pid := startPinned(b, "gateway", "http://"+addr, bin, args...)
	return pinnedGateway{url: "http://" + addr, metrics: "http://" + metricsAddr + api.MetricsPath, pid: pid}
}

// startPinned starts bin on CPU 1 with GOMAXPROCS=1 and returns its pid
// once base answers /readyz.
func startPinned(b *testing.B, what, base, bin string, args ...string) int {
	b.Helper()
	// taskset sets the mask before exec, so every thread the Go runtime
	// starts inherits it. Without taskset the mask is set on the running
	// child's threads below, before it serves anything.
	taskset, lookErr := exec.LookPath("taskset")
	var cmd *exec.Cmd
	if lookErr == nil {
		cmd = exec.Command(taskset, append([]string{"-c", strconv.Itoa(benchGatewayCPU), bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1") // the last value wins
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	require.NoError(b, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if b.Failed() {
			b.Logf("%s log:\n%s", what, stderr.String())
		}
	})
	how := "taskset"
	if lookErr != nil {
		how = "sched_setaffinity on its threads (no taskset)"
		require.NoError(b, pinThreads(cmd.Process.Pid, benchGatewayCPU))
	}
	b.Logf("%s pid %d on CPU %d by %s, GOMAXPROCS=1; this process on CPU %d", what, cmd.Process.Pid, benchGatewayCPU, how, benchClientCPU)
	require.Eventually(b, func() bool {
		select {
		case err := <-exited:
			exited <- err
			b.Fatalf("the %s exited: %v\n%s", what, err, stderr.String())
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "the %s did not become ready", what)
	require.NoError(b, confinedTo(cmd.Process.Pid, benchGatewayCPU), what)
	return cmd.Process.Pid
}

// confinedTo reports an error unless every thread of process pid may run
// on cpu only.
func confinedTo(pid, cpu int) error {
	var want unix.CPUSet
	want.Set(cpu)
	tids, err := testutil.Threads(pid)
	if err != nil {
		return err
	}
	for _, tid := range tids {
		var got unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &got); err != nil {
			if errors.Is(err, unix.ESRCH) { // the thread has exited
				continue
			}
			return fmt.Errorf("affinity of thread %d of %d: %w", tid, pid, err)
		}
		if got != want {
			return fmt.Errorf("thread %d of process %d may run on %d CPUs, want CPU %d only", tid, pid, got.Count(), cpu)
		}
	}
	return nil
}

// pinThreads sets the mask of every thread of process pid to cpu, until a
// pass over the threads changes none: then every thread has the mask, and
// every thread started later inherits it from one that had it.
func pinThreads(pid, cpu int) error {
	var want unix.CPUSet
	want.Set(cpu)
	for range 100 {
		tids, err := testutil.Threads(pid)
		if err != nil {
			return err
		}
		changed := false
		for _, tid := range tids {
			var got unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &got); err != nil {
				if errors.Is(err, unix.ESRCH) {
					continue
				}
				return err
			}
			if got == want {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &want); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pinning thread %d of %d to CPU %d: %w", tid, pid, cpu, err)
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return fmt.Errorf("the threads of %d did not settle on CPU %d", pid, cpu)
}
