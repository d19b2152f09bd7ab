package gateway

import (
	"context"
	"encoding/json"
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
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
	"github.com/archestra-ai/mcp-orchestrator/gateway/hibernate"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// An idle server is scaled to 0 after its window and not before, its
// replica count recorded; the next client wakes it with one scale-up and
// never sees an error.
func TestHibernateWhenIdleWakeOnRequest(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	createServer(t, ns, "sleepy", "2s", 2, nil)
	c := runController(t, ns, "sleepy", b)
	gw := startReplica(t, ns, leases, "gw-a")
	url := gw.url + "/mcp/" + ns + "/sleepy"
	ctx := context.Background()

	out, err := callTool(ctx, url, "hi")
	require.NoError(t, err)
	require.Equal(t, "pod: hi", out)
	last := time.Now()
	d := waitState(t, ns, "sleepy", api.HibernationHibernated, 0, 15*time.Second)
	assert.GreaterOrEqual(t, time.Since(last), 2*time.Second, "not before the window")
	_, rec := getDeployment(t, ns, "sleepy")
	assert.Equal(t, int32(2), rec.Replicas, "the replica count to restore")
	assert.Equal(t, api.CauseIdle, rec.Cause)
	assert.Equal(t, "gw-a", rec.By)
	lease, err := client.CoordinationV1().Leases(leases).Get(ctx, api.ActivityLeaseName(ns, "sleepy"), metav1.GetOptions{})
	require.NoError(t, err)
	assert.WithinDuration(t, last, lease.Spec.RenewTime.Time, time.Second, "the activity Lease holds the last request")
	podsGone(t, gw, ns, "sleepy")

	out, err = callTool(ctx, url, "again")
	require.NoError(t, err, "the request that wakes the server is held, then answered")
	assert.Equal(t, "pod: again", out)
	d = waitState(t, ns, "sleepy", "", 2, 5*time.Second)
	assert.Equal(t, 1, c.scaleUps(), "exactly one scale-up")
	assert.Eventually(t, func() bool {
		return assert.ObjectsAreEqual([]string{"Hibernated", "Woken"}, sorted(eventReasons(t, d)))
	}, 5*time.Second, 50*time.Millisecond, "one event each: %v", eventReasons(t, d))
}

// A session open on a pod (the sidecar's gauge) keeps the server up for as
// long as it is open, and a window after.
func TestOpenSessionBlocksHibernation(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	b.Open.Store(1)
	createServer(t, ns, "busy", "1s", 1, nil)
	runController(t, ns, "busy", b)
	startReplica(t, ns, leases, "gw-a")
	// Four windows with the session open: never hibernated.
	never := assert.Never(t, func() bool {
		_, r := getDeployment(t, ns, "busy")
		return r != nil
	}, 4*time.Second, 100*time.Millisecond)
	require.True(t, never, "an open session keeps the server up")
	closed := time.Now()
	b.Open.Store(0)
	waitState(t, ns, "busy", api.HibernationHibernated, 0, 10*time.Second)
	assert.GreaterOrEqual(t, time.Since(closed), time.Second, "a window after the session closed")
}

// Twenty clients on two replicas call a hibernated server at once: all
// succeed, and the Deployment is scaled up exactly once.
func TestConcurrentClientsOneScaleUp(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	createServer(t, ns, "popular", "30m", 0, map[string]string{api.AnnHibernation: hibernatedRecord(3)})
	c := runController(t, ns, "popular", b)
	c.readyDelay.Store(int64(500 * time.Millisecond))
	gws := []*replica{startReplica(t, ns, leases, "gw-a"), startReplica(t, ns, leases, "gw-b")}

	errs := make(chan error, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := callTool(ctx, gws[i%2].url+"/mcp/"+ns+"/popular", "x")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	d := waitState(t, ns, "popular", "", 3, 5*time.Second)
	assert.Equal(t, 1, c.scaleUps(), "one scale-up")
	assert.Eventually(t, func() bool { return strings.Join(eventReasons(t, d), ",") == "Woken" }, 5*time.Second, 50*time.Millisecond)
}

// podsGone waits until the replica knows no pod of the server.
func podsGone(t *testing.T, r *replica, ns, server string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.gw.Registry.Endpoints(ns, server)) == 0 }, 5*time.Second, 20*time.Millisecond)
}

func hibernatedRecord(replicas int32) string {
	return api.EncodeHibernation(api.Hibernation{State: api.HibernationHibernated, Replicas: replicas,
		Since: time.Now().Add(-time.Hour), Cause: api.CauseIdle, Reason: "no MCP traffic for 30m", By: "gw-old"})
}

// The replica that started a wake dies right after recording it: the
// clients of the other replica are answered, one scale-up in all.
func TestReplicaKilledDuringWake(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	createServer(t, ns, "srv", "30m", 0, map[string]string{api.AnnHibernation: hibernatedRecord(1)})
	c := runController(t, ns, "srv", b)
	c.readyDelay.Store(int64(time.Second))
	a, other := startReplica(t, ns, leases, "gw-a"), startReplica(t, ns, leases, "gw-b")

	w, err := client.AppsV1().Deployments(ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=srv"})
	require.NoError(t, err)
	defer w.Stop()
	go func() { _, _ = callTool(context.Background(), a.url+"/mcp/"+ns+"/srv", "lost") }()
	waitFor(t, w, func(d *appsv1.Deployment) bool {
		return strings.Contains(d.Annotations[api.AnnHibernation], api.HibernationWaking)
	})
	a.stop()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := callTool(ctx, other.url+"/mcp/"+ns+"/srv", "survivor")
	require.NoError(t, err)
	assert.Equal(t, "pod: survivor", out)
	waitState(t, ns, "srv", "", 1, 10*time.Second)
	assert.Equal(t, 1, c.scaleUps(), "one scale-up")
}

func waitFor(t *testing.T, w watch.Interface, cond func(*appsv1.Deployment) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if d, ok := ev.Object.(*appsv1.Deployment); ok && cond(d) {
				return
			}
		case <-timeout:
			t.Fatal("the Deployment never got there")
		}
	}
}

// A replica that died between two API calls leaves a state any replica
// continues from.
func TestHalfDoneStatesAreFinished(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	record := func(state string, replicas int32) map[string]string {
		return map[string]string{api.AnnHibernation: api.EncodeHibernation(api.Hibernation{State: state, Replicas: replicas,
			Since: time.Now().Add(-time.Hour), Cause: api.CauseRequest, Reason: "an MCP request arrived", By: "gw-dead"})}
	}
	// Woken but not scaled: the next request scales it up.
	createServer(t, ns, "recorded", "30m", 0, record(api.HibernationWaking, 2))
	// Scaled up, the record not dropped: the leader drops it.
	createServer(t, ns, "scaled", "30m", 2, record(api.HibernationWaking, 2))
	// Scaled to 0, hibernated not recorded: the leader records it.
	createServer(t, ns, "down", "30m", 0, map[string]string{api.AnnHibernation: api.EncodeHibernation(api.Hibernation{
		State: api.HibernationHibernating, Replicas: 2, Since: time.Now().Add(-time.Hour), Cause: api.CauseIdle, Reason: "idle", By: "gw-dead"})})
	cs := map[string]*controller{}
	for _, name := range []string{"recorded", "scaled", "down"} {
		cs[name] = runController(t, ns, name, mcptest.NewBackend(t, name))
	}
	gw := startReplica(t, ns, leases, "gw-a")

	out, err := callTool(context.Background(), gw.url+"/mcp/"+ns+"/recorded", "x")
	require.NoError(t, err)
	assert.Equal(t, "recorded: x", out)
	waitState(t, ns, "recorded", "", 2, 5*time.Second)
	assert.Equal(t, 1, cs["recorded"].scaleUps())
	waitState(t, ns, "scaled", "", 2, 5*time.Second)
	assert.Zero(t, cs["scaled"].scaleUps())
	waitState(t, ns, "down", api.HibernationHibernated, 0, 5*time.Second)
}

// Activity writes are bounded: many requests through two replicas make a
// handful of Lease writes.
func TestActivityWritesAreBounded(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	createServer(t, ns, "hot", "30m", 1, nil)
	runController(t, ns, "hot", b)
	interval := 500 * time.Millisecond
	slow := func(o *hibernate.Options) { o.ActivityInterval = interval }
	gws := []*replica{startReplica(t, ns, leases, "gw-a", slow), startReplica(t, ns, leases, "gw-b", slow)}
	w, err := client.CoordinationV1().Leases(leases).Watch(context.Background(), metav1.ListOptions{
		FieldSelector: "metadata.name=" + api.ActivityLeaseName(ns, "hot")})
	require.NoError(t, err)
	defer w.Stop()

	var writes atomic.Int64
	go func() {
		for ev := range w.ResultChan() {
			if _, ok := ev.Object.(*coordinationv1.Lease); ok {
				writes.Add(1)
			}
		}
	}()
	ctx := context.Background()
	sessions := []*mcp.ClientSession{}
	for _, gw := range gws {
		cs, err := mcptest.Connect(ctx, gw.url+"/mcp/"+ns+"/hot", "", nil)
		require.NoError(t, err)
		defer cs.Close()
		sessions = append(sessions, cs)
	}
	start, calls := time.Now(), 0
	for time.Since(start) < 3*time.Second {
		_, err := mcptest.Call(ctx, sessions[calls%2], "echo", map[string]any{"text": "x"})
		require.NoError(t, err)
		calls++
	}
	elapsed := time.Since(start)
	time.Sleep(3 * interval) // the trailing writes land
	n := int(writes.Load())
	bound := 2 * (int(elapsed/interval) + 2)
	t.Logf("%d requests in %s through 2 replicas: %d activity Lease writes (bound %d)", calls, elapsed.Round(time.Millisecond), n, bound)
	assert.Greater(t, calls, 100)
	assert.GreaterOrEqual(t, n, int(elapsed/interval)/2, "the Lease keeps up with the traffic")
	assert.LessOrEqual(t, n, bound, "at most one write per interval and replica")
}

// An HPA's Deployment is never hibernated (said once); one scaled to 0 by
// hand is never woken; one scaled up by someone else after each of two
// hibernations is left alone.
func TestOthersOwnTheReplicas(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	createServer(t, ns, "autoscaled", "1s", 1, nil)
	_, err := client.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(context.Background(), &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "autoscaled"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To(int32(1)), MaxReplicas: 3,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "autoscaled"}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	createServer(t, ns, "byhand", "1s", 0, nil)
	createServer(t, ns, "gitops", "1s", 1, nil)
	for _, name := range []string{"autoscaled", "byhand", "gitops"} {
		runController(t, ns, name, mcptest.NewBackend(t, name))
	}
	gw := startReplica(t, ns, leases, "gw-a")

	// Scaled to 0 by hand: a request is answered at once, nothing woken.
	start := time.Now()
	resp, body := rawPost(t, gw.url+"/mcp/"+ns+"/byhand", "")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, body, "has no ready pod")
	assert.Less(t, time.Since(start), time.Second, "not held")

	// GitOps: scaled back up after each hibernation.
	for round := 1; round <= 2; round++ {
		waitState(t, ns, "gitops", api.HibernationHibernated, 0, 15*time.Second)
		scaleTo(t, ns, "gitops", 1)
		want := api.HibernationAwake
		if round == 2 {
			want = api.HibernationUnmanaged
		}
		waitState(t, ns, "gitops", want, 1, 5*time.Second)
	}
	d, _ := getDeployment(t, ns, "autoscaled")
	never := assert.Never(t, func() bool {
		for _, name := range []string{"autoscaled", "gitops", "byhand"} {
			if d, r := getDeployment(t, ns, name); (r != nil && r.State != api.HibernationUnmanaged) || *d.Spec.Replicas != map[string]int32{"autoscaled": 1, "gitops": 1, "byhand": 0}[name] {
				return true
			}
		}
		return false
	}, 3*time.Second, 100*time.Millisecond)
	assert.True(t, never, "left alone")
	assert.Equal(t, []string{"HibernationSkipped"}, eventReasons(t, d), "said once")
	g, _ := getDeployment(t, ns, "gitops")
	assert.Eventually(t, func() bool {
		return assert.ObjectsAreEqual([]string{"Hibernated", "Hibernated", "HibernationDisabled", "HibernationOverridden"}, sorted(eventReasons(t, g)))
	}, 5*time.Second, 50*time.Millisecond, "%v", eventReasons(t, g))
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

func scaleTo(t *testing.T, ns, name string, n int32) {
	t.Helper()
	_, err := client.AppsV1().Deployments(ns).UpdateScale(context.Background(), name, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: n}}, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// Past the wake timeout the caller gets 503, Retry-After and a JSON-RPC
// error to retry; the wake goes on and the retry is answered.
func TestWakeTimeout(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	createServer(t, ns, "slow", "30m", 0, map[string]string{api.AnnHibernation: hibernatedRecord(1)})
	c := runController(t, ns, "slow", b)
	c.readyDelay.Store(int64(3 * time.Second))
	gw := startReplica(t, ns, leases, "gw-a", func(o *hibernate.Options) { o.WakeTimeout = time.Second })
	url := gw.url + "/mcp/" + ns + "/slow"

	start := time.Now()
	resp, body := rawPost(t, url, "")
	var err error
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	assert.InDelta(t, time.Second.Seconds(), time.Since(start).Seconds(), 0.5, "held for the wake timeout")
	var rpc struct {
		Error struct {
			Code    int            `json:"code"`
			Message string         `json:"message"`
			Data    map[string]any `json:"data"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rpc), body)
	assert.Equal(t, api.CodeServerError, rpc.Error.Code)
	assert.Contains(t, rpc.Error.Message, "is starting")
	assert.Contains(t, rpc.Error.Message, "retry the same request")
	assert.Equal(t, "starting", rpc.Error.Data["reason"])

	// A client that retries as told is answered once the pod is ready.
	var out string
	retries := 0
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if out, err = callTool(ctx, url, "later"); err != nil {
			retries++
			return false
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "pod: later", out)
	assert.Positive(t, retries, "the pod takes 3 s, each wait 1 s")
	assert.Equal(t, 1, c.scaleUps(), "the retries joined the wake under way")
}

// A woken pod whose sidecar says it is ready takes requests before the
// kubelet's next probe reports it Ready.
func TestWakeUsesTheSidecarsReadiness(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	createServer(t, ns, "quick", "30m", 0, map[string]string{api.AnnHibernation: hibernatedRecord(1)})
	c := runController(t, ns, "quick", b)
	c.readyDelay.Store(int64(10 * time.Second))
	c.sidecarFirst.Store(true)
	gw := startReplica(t, ns, leases, "gw-a")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	out, err := callTool(ctx, gw.url+"/mcp/"+ns+"/quick", "early")
	require.NoError(t, err)
	assert.Equal(t, "pod: early", out)
	assert.Less(t, time.Since(start), 5*time.Second, "well before the kubelet's report")
}

// Another replica's client, right after a wake: the server is awake but
// this replica does not see its pod Ready until the kubelet's next probe.
// The request waits for the pod (asking its sidecar, as the waking replica
// did) instead of getting 503.
func TestOtherReplicaWaitsForTheWokenPod(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	b := mcptest.NewBackend(t, "pod")
	createServer(t, ns, "woken", "30m", 0, map[string]string{api.AnnHibernation: hibernatedRecord(1)})
	c := runController(t, ns, "woken", b)
	c.readyDelay.Store(int64(10 * time.Second))
	c.sidecarFirst.Store(true)
	a, other := startReplica(t, ns, leases, "gw-a"), startReplica(t, ns, leases, "gw-b")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	_, err := callTool(ctx, a.url+"/mcp/"+ns+"/woken", "first")
	require.NoError(t, err)
	waitState(t, ns, "woken", "", 1, 5*time.Second) // the wake is over: no record
	out, err := callTool(ctx, other.url+"/mcp/"+ns+"/woken", "second")
	require.NoError(t, err, "the other replica's client")
	assert.Equal(t, "pod: second", out)
	assert.Less(t, time.Since(start), 8*time.Second, "before the kubelet's report")
	assert.Equal(t, 1, c.scaleUps())
}

// Operators: mcpctl's API hibernates and wakes a server, and its status
// says Hibernated / Waking with since when.
func TestOperatorsHibernateAndWake(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	createServer(t, ns, "ops", "", 2, nil)
	c := runController(t, ns, "ops", mcptest.NewBackend(t, "pod"))
	gw := startReplica(t, ns, leases, "gw-a")
	api1 := &admin.Client{BaseURL: gw.url}
	ctx := context.Background()

	res, err := api1.Hibernate(ctx, ns, "ops")
	require.NoError(t, err)
	assert.Equal(t, "Hibernated", res.Hibernation.State)
	assert.Equal(t, int32(2), res.Hibernation.Replicas)
	st, err := api1.Status(ctx, ns, "ops")
	require.NoError(t, err)
	require.NotNil(t, st.Hibernation)
	assert.Equal(t, "Hibernated", st.Hibernation.State)
	assert.Contains(t, st.Hibernation.Reason, "hibernated by system:anonymous")
	since, err := time.Parse(time.RFC3339, st.Hibernation.Since)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), since, 5*time.Second)
	assert.Equal(t, "off", st.Hibernation.After, "an operator hibernates servers without a window too")
	podsGone(t, gw, ns, "ops")

	res, err = api1.Wake(ctx, ns, "ops")
	require.NoError(t, err)
	assert.Equal(t, "Waking", res.Hibernation.State)
	waitState(t, ns, "ops", "", 2, 5*time.Second)
	assert.Equal(t, 1, c.scaleUps())

	_, err = api1.Wake(ctx, ns, "ops")
	require.NoError(t, err, "awake: nothing to do")
	scaleTo(t, ns, "ops", 0)
	podsGone(t, gw, ns, "ops")
	_, err = api1.Wake(ctx, ns, "ops")
	var apiErr *admin.APIError
	require.ErrorAs(t, err, &apiErr, "scaled to 0 by hand: not woken")
	assert.Equal(t, http.StatusConflict, apiErr.Status)
	assert.Contains(t, apiErr.Message, "not hibernated")
	d, _ := getDeployment(t, ns, "ops")
	assert.Equal(t, int32(0), *d.Spec.Replicas)
}

// The gateway's metrics count what happened.
func TestHibernationMetrics(t *testing.T) {
	t.Parallel()
	ns, leases := namespace(t), namespace(t)
	createServer(t, ns, "m", "30m", 0, map[string]string{api.AnnHibernation: hibernatedRecord(1)})
	runController(t, ns, "m", mcptest.NewBackend(t, "pod"))
	gw := startReplica(t, ns, leases, "gw-a")
	_, err := callTool(context.Background(), gw.url+"/mcp/"+ns+"/m", "x")
	require.NoError(t, err)
	scrape := func() string {
		resp, err := http.Get(gw.url + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	server := `server="` + ns + `/m"`
	for _, want := range []string{
		`mcp_gateway_wakes_total{cause="request",` + server + `} 1`,
		`mcp_gateway_wake_duration_seconds_count{` + server + `} 1`,
		`mcp_gateway_wake_held_requests_total{result="ready",` + server + `} 1`,
		`mcp_gateway_requests_total{code="200",method="initialize",` + server + `,tool=""} 1`,
	} {
		// The wake records its duration as the held request goes on.
		assert.Eventually(t, func() bool { return strings.Contains(scrape(), want) }, 5*time.Second, 20*time.Millisecond, want)
	}
}
