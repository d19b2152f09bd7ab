//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
)

// Scenario 8: hibernation. Servers with a short hibernate-after (the test
// overlay lowers the floor to 1 s) on the real cluster, two gateway
// replicas, real pods with the sidecar, the MCP Go SDK client.
func hibernatingServer(name, window string, replicas int) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {mcp.archestra.io/server: %[1]s}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
    mcp.archestra.io/hibernate-after: %[2]s
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/stdio-server:v1
`, name, window, replicas)
}

// echo calls the test server's echo tool and returns its text.
func echo(ctx context.Context, s *mcp.ClientSession, text string) (string, error) {
	var out struct{ Text string }
	err := structured(ctx, s, "echo", map[string]any{"text": text}, &out)
	return out.Text, err
}

// operators is the operators' API of the gateway, as the e2e client.
func operators() *admin.Client {
	return &admin.Client{BaseURL: gatewayURL, Token: clientToken, HTTP: &http.Client{Transport: noProxy(), Timeout: 60 * time.Second}}
}

// A server with a 15 s window: up while a session is open, hibernated a
// window after the last request and not before, woken by the next client
// without an error it sees; then wake latency over 10 wakes, and 20
// clients at once during a wake with one scale-up.
func TestHibernation(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-hibernate")
	apply(t, ns, hibernatingServer("sleepy", "15s", 1))
	waitReady(t, ns, "sleepy", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// A (2025-11-25) session open for two windows with no traffic keeps it up.
	s := connectLegacy(t, ns, "sleepy")
	_, err := echo(ctx, s, "hi")
	require.NoError(t, err)
	require.Never(t, func() bool {
		d, rec := deployment(t, ns, "sleepy")
		return rec != nil || *d.Spec.Replicas != 1
	}, 35*time.Second, time.Second, "hibernated with a session open")
	require.NoError(t, s.Close())
	closed := time.Now()

	waitHibernated(t, ns, "sleepy", 2*time.Minute)
	idle := time.Since(closed)
	t.Logf("hibernated %s after the session closed (window 15 s)", idle.Round(100*time.Millisecond))
	assert.GreaterOrEqual(t, idle, 15*time.Second, "not before the window")
	_, rec := deployment(t, ns, "sleepy")
	assert.Equal(t, int32(1), rec.Replicas)
	podsGone(t, ns, "sleepy")

	// The next client is a stateless 2026-07-28 one.
	scaleUps := watchScaleUps(t, ns, "sleepy")
	s = connect(t, ns, "sleepy")
	out, err := echo(ctx, s, "awake")
	require.NoError(t, err, "the client's next tools/call succeeds")
	assert.Equal(t, "awake", out)
	require.NoError(t, s.Close())
	assert.Equal(t, 1, scaleUps())

	t.Run("wake latency", func(t *testing.T) { wakeLatency(t, ns, "sleepy", 10) })
	t.Run("20 clients during a wake", func(t *testing.T) { concurrentWake(t, ns, "sleepy", 20) })
}

// wakeLatency hibernates the server n times (operators' API) and measures
// a client's cold start each time: its first request to its first result
// (server/discover), and to its first tools/call result.
func wakeLatency(t *testing.T, ns, name string, n int) {
	var first, call []time.Duration
	for i := range n {
		hibernateNow(t, ns, name)
		start := time.Now()
		s, err := tryConnect(t, ns, name)
		require.NoError(t, err, "wake %d", i)
		first = append(first, time.Since(start))
		out, err := echo(context.Background(), s, "x")
		require.NoError(t, err, "wake %d", i)
		require.Equal(t, "x", out)
		call = append(call, time.Since(start))
		require.NoError(t, s.Close())
	}
	t.Logf("wake latency over %d wakes, client request to first result (server/discover): p50 %s, p95 %s, max %s",
		n, pct(first, 50), pct(first, 95), pct(first, 100))
	t.Logf("wake latency over %d wakes, client request to its first tools/call result: p50 %s, p95 %s, max %s",
		n, pct(call, 50), pct(call, 95), pct(call, 100))
	fmt.Printf("E2E-WAKE-LATENCY n=%d connect p50=%s p95=%s tools/call p50=%s p95=%s all=%v\n",
		n, pct(first, 50), pct(first, 95), pct(call, 50), pct(call, 95), round(first))
}

// concurrentWake: n clients at once for a hibernated server, all answered,
// one scale-up, one Woken event.
func concurrentWake(t *testing.T, ns, name string, n int) {
	hibernateNow(t, ns, name)
	scaleUps := watchScaleUps(t, ns, name)
	woken := countEvents(t, ns, name, "Woken")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			s, err := tryConnect(t, ns, name)
			if err == nil {
				_, err = echo(context.Background(), s, "x")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 1, scaleUps(), "scaled up exactly once")
	assert.Eventually(t, func() bool { return countEvents(t, ns, name, "Woken") == woken+1 }, 10*time.Second, 200*time.Millisecond,
		"one Woken event")
}

// A gateway replica is killed in the middle of a wake (the one that wrote
// the record): the clients of the other replica are answered, one
// scale-up in all. Not parallel: it kills a gateway pod.
func TestHibernationGatewayKilledDuringWake(t *testing.T) {
	ns := namespace(t, "e2e-hibernate-kill")
	apply(t, ns, hibernatingServer("victim", "30m", 1))
	waitReady(t, ns, "victim", 1)
	hibernateNow(t, ns, "victim")
	scaleUps := watchScaleUps(t, ns, "victim")

	// Requests go on through the Service until one is answered; the
	// killed replica's are cut and retried, as a client does.
	var answered atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if s, err := tryConnect(t, ns, "victim"); err == nil {
					if _, err := echo(context.Background(), s, "x"); err == nil {
						answered.Add(1)
					}
					_ = s.Close()
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	var by string
	require.Eventually(t, func() bool {
		_, rec := deployment(t, ns, "victim")
		if rec != nil && rec.State == api.HibernationWaking {
			by = rec.By
		}
		return by != ""
	}, 30*time.Second, 20*time.Millisecond, "the wake is recorded")
	require.NoError(t, client.CoreV1().Pods("mcp-system").Delete(context.Background(), by, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}))
	t.Logf("killed gateway pod %s, which recorded the wake", by)

	require.Eventually(t, func() bool { return answered.Load() >= 3 }, 90*time.Second, 100*time.Millisecond, "clients are answered")
	close(done)
	wg.Wait()
	assert.Equal(t, 1, scaleUps(), "scaled up exactly once")
	waitState(t, ns, "victim", "", time.Minute)
	out, err := kubectl("-n", "mcp-system", "rollout", "status", "deployment/mcp-gateway", "--timeout=120s")
	require.NoError(t, err, out)
}

// An HPA's Deployment is never hibernated, and says so once; a Deployment
// scaled to 0 by hand is not woken; one scaled back up by hand after a
// hibernation is left as it is, and after two is left alone for good.
func TestHibernationLeavesOthersReplicasAlone(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-hibernate-others")
	apply(t, ns, hibernatingServer("autoscaled", "10s", 1)+`
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: autoscaled}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: autoscaled}
  minReplicas: 1
  maxReplicas: 2
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
---`+hibernatingServer("byhand", "10s", 0)+"---"+hibernatingServer("gitops", "10s", 1))
	waitReady(t, ns, "autoscaled", 1)
	waitReady(t, ns, "gitops", 1)

	start := time.Now()
	resp, body := rawPost(t, ns, "byhand")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, body, "has no ready pod")
	assert.Less(t, time.Since(start), 5*time.Second, "answered at once, not held for a wake")

	for round := 1; round <= 2; round++ {
		waitHibernated(t, ns, "gitops", 2*time.Minute)
		out, err := kubectl("-n", ns, "scale", "deployment/gitops", "--replicas=1")
		require.NoError(t, err, out)
		want := api.HibernationAwake
		if round == 2 {
			want = api.HibernationUnmanaged
		}
		waitState(t, ns, "gitops", want, time.Minute)
	}
	waitReady(t, ns, "gitops", 1)
	// Three windows more: nothing moves.
	require.Never(t, func() bool {
		for name, want := range map[string]int32{"autoscaled": 1, "gitops": 1, "byhand": 0} {
			d, rec := deployment(t, ns, name)
			if *d.Spec.Replicas != want || (name != "gitops" && rec != nil) {
				t.Logf("%s moved: replicas %d, record %+v", name, *d.Spec.Replicas, rec)
				return true
			}
		}
		return false
	}, 36*time.Second, time.Second, "left alone")
	assert.Equal(t, 1, countEvents(t, ns, "autoscaled", "HibernationSkipped"), "said once")
	assert.Equal(t, 1, countEvents(t, ns, "gitops", "HibernationDisabled"), "said once")
}

// deployment reads ns/name and its hibernation record (nil: none).
func deployment(t *testing.T, ns, name string) (*appsv1.Deployment, *api.Hibernation) {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	v, ok := d.Annotations[api.AnnHibernation]
	if !ok {
		return d, nil
	}
	r, err := api.ParseHibernation(v)
	require.NoError(t, err)
	return d, &r
}

// waitState waits until the record of ns/name is in state ("" for none).
func waitState(t *testing.T, ns, name, state string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, rec := deployment(t, ns, name)
		return (rec == nil && state == "") || (rec != nil && rec.State == state)
	}, within, 200*time.Millisecond, "%s/%s never %q", ns, name, state)
}

func waitHibernated(t *testing.T, ns, name string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		d, rec := deployment(t, ns, name)
		return rec != nil && rec.State == api.HibernationHibernated && *d.Spec.Replicas == 0
	}, within, 200*time.Millisecond, "%s/%s never hibernated", ns, name)
}

// hibernateNow hibernates through the operators' API and waits until the
// server's pods are gone.
func hibernateNow(t *testing.T, ns, name string) {
	t.Helper()
	res, err := operators().Hibernate(context.Background(), ns, name)
	require.NoError(t, err)
	require.Equal(t, "Hibernated", res.Hibernation.State)
	podsGone(t, ns, name)
}

func podsGone(t *testing.T, ns, name string) {
	t.Helper()
	require.Eventually(t, func() bool {
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
		return err == nil && len(pods.Items) == 0
	}, 2*time.Minute, 100*time.Millisecond, "the pods of %s/%s are gone", ns, name)
}

// watchScaleUps counts, from now on, the times spec.replicas of ns/name
// goes from 0 to more: every write of the Deployment is a watch event.
func watchScaleUps(t *testing.T, ns, name string) func() int {
	t.Helper()
	d, _ := deployment(t, ns, name)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := client.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: d.ResourceVersion})
	require.NoError(t, err)
	var mu sync.Mutex
	last, ups, seen := *d.Spec.Replicas, 0, d.ResourceVersion
	go func() {
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok {
				mu.Lock()
				if last == 0 && *d.Spec.Replicas > 0 {
					ups++
				}
				last, seen = *d.Spec.Replicas, d.ResourceVersion
				mu.Unlock()
			}
		}
	}()
	return func() int {
		// Every write up to now delivered: the watch has seen the
		// Deployment's current version, read again each time (a write
		// that lands meanwhile, such as the wake's record being dropped,
		// moves the watch past a version read once).
		require.Eventually(t, func() bool {
			now, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			return seen == now.ResourceVersion
		}, 10*time.Second, 20*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return ups
	}
}

// countEvents sums the counts of the events with reason about ns/name.
func countEvents(t *testing.T, ns, name, reason string) int {
	t.Helper()
	list, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Deployment,involvedObject.name=" + name + ",reason=" + reason})
	require.NoError(t, err)
	n := 0
	for _, e := range list.Items {
		n += int(max(e.Count, 1))
	}
	return n
}

// rawPost sends an initialize to ns/server through the gateway.
func rawPost(t *testing.T, ns, server string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, gatewayURL+"/mcp/"+ns+"/"+server, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp, string(body)
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))].Round(time.Millisecond)
}

func round(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}
