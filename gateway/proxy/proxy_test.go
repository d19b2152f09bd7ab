package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/gateway/metrics"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
)

var testKey = []byte(strings.Repeat("k", 32))

// harness is a proxy on a fake cluster: pods are created in a fake
// clientset and found by the real registry.
type harness struct {
	t        testing.TB
	ctx      context.Context
	client   *fake.Clientset
	registry *discovery.Registry
	codec    *session.Codec
	metrics  *metrics.Metrics
	promReg  *prometheus.Registry
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, client: fake.NewClientset()}
	var err error
	h.registry, err = discovery.NewRegistry(h.client, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	h.registry.Start(ctx)
	require.True(t, h.registry.WaitForSync(ctx))
	h.codec, err = session.NewCodec(testKey)
	require.NoError(t, err)
	h.promReg = prometheus.NewRegistry()
	h.metrics = metrics.New(h.promReg)
	return h
}

// gateway starts one gateway instance (a replica) over the harness.
func (h *harness) gateway() string {
	return serve(h.t, New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(),
		Transport: NewTransport(time.Second, 10*time.Second)}))
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve runs p as /mcp/{namespace}/{server} and returns the base URL.
func serve(t testing.TB, p http.Handler) string {
	r := http.NewServeMux()
	r.Handle("/mcp/{namespace}/{server}", p)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

var podSeq atomic.Int64

// addPod registers backend b as a pod of ns/server and waits until the
// registry routes to it.
func (h *harness) addPod(b *mcptest.Backend, ns, server string, ann map[string]string) *corev1.Pod {
	h.t.Helper()
	pod := b.Pod(ns, server, b.Name, ann)
	pod.UID = types.UID("uid-" + b.Name + "-" + string(rune('a'+podSeq.Add(1)%26)))
	_, err := h.client.CoreV1().Pods(ns).Create(h.ctx, pod, metav1.CreateOptions{})
	require.NoError(h.t, err)
	require.Eventually(h.t, func() bool { return h.registry.Lookup(ns, server, string(pod.UID)) != nil }, 5*time.Second, 5*time.Millisecond)
	return pod
}

func (h *harness) deletePod(pod *corev1.Pod) {
	h.t.Helper()
	require.NoError(h.t, h.client.CoreV1().Pods(pod.Namespace).Delete(h.ctx, pod.Name, metav1.DeleteOptions{}))
	require.Eventually(h.t, func() bool {
		return h.registry.Lookup(pod.Namespace, pod.Labels[api.ServerLabel], string(pod.UID)) == nil
	}, 5*time.Second, 5*time.Millisecond)
}

func connect(t testing.TB, url string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := mcptest.Connect(ctx, url, "", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func TestSessionsSpreadAndStick(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addPod(mcptest.NewBackend(t, "pod-a"), "ns", "srv", nil)
	h.addPod(mcptest.NewBackend(t, "pod-b"), "ns", "srv", nil)
	gw := h.gateway() + "/mcp/ns/srv"
	ctx := context.Background()

	seen := map[string]int{}
	for range 6 {
		cs := connect(t, gw)
		first, err := mcptest.Call(ctx, cs, "whoami", nil)
		require.NoError(t, err)
		seen[first]++
		for range 3 {
			again, err := mcptest.Call(ctx, cs, "whoami", nil)
			require.NoError(t, err)
			assert.Equal(t, first, again, "a session stays on its pod")
		}
	}
	assert.Len(t, seen, 2, "both pods get sessions: %v", seen)
	assert.GreaterOrEqual(t, min(seen["pod-a"], seen["pod-b"]), 2, "new sessions spread over ready pods: %v", seen)
}

func TestToolsListCallAndProgress(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addPod(mcptest.NewBackend(t, "pod-a"), "ns", "srv", nil)
	ctx := context.Background()

	var progress atomic.Int64
	cs, err := mcptest.Connect(ctx, h.gateway()+"/mcp/ns/srv", "", &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) },
	})
	require.NoError(t, err)
	defer cs.Close()

	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 5)
	out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": "hi"})
	require.NoError(t, err)
	assert.Equal(t, "pod-a: hi", out)

	params := &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{"steps": 5}}
	params.SetProgressToken("tok")
	out, err = mcptest.Text(cs.CallTool(ctx, params))
	require.NoError(t, err)
	assert.Equal(t, "5 steps", out)
	require.Eventually(t, func() bool { return progress.Load() == 5 }, 2*time.Second, 5*time.Millisecond, "every progress event passes through")
}

func TestToolAllowList(t *testing.T) {
	t.Parallel()
	for _, jsonResponse := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", jsonResponse), func(t *testing.T) {
			t.Parallel()
			testToolAllowList(t, jsonResponse)
		})
	}
}

// testToolAllowList runs over event-stream or JSON responses.
func testToolAllowList(t *testing.T, jsonResponse bool) {
	h := newHarness(t)
	b := mcptest.NewBackendWith(t, "pod-a", &mcp.StreamableHTTPOptions{JSONResponse: jsonResponse})
	h.addPod(b, "ns", "srv", map[string]string{api.PodAnnAllowedTools: "echo, whoami"})
	ctx := context.Background()
	cs := connect(t, h.gateway()+"/mcp/ns/srv")
	assertAllowList(ctx, t, cs)
}

// assertAllowList checks what ns/srv allowing "echo, whoami" gives a
// client of either era: the list filtered, a hidden tool refused by name,
// an allowed one answered by pod-a.
func assertAllowList(ctx context.Context, t *testing.T, cs *mcp.ClientSession) {
	t.Helper()
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	assert.ElementsMatch(t, []string{"echo", "whoami"}, names)

	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "secret"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `tool "secret" is not allowed on server ns/srv`)
	out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": "ok"})
	require.NoError(t, err)
	assert.Equal(t, "pod-a: ok", out)
}

// post sends one raw JSON-RPC POST and returns status and decoded body.
func post(t testing.TB, url, sid, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		req.Header.Set(api.HeaderSessionID, sid)
	}
	return do(t, req)
}

// do sends req and returns status, headers and the decoded JSON body.
func do(t testing.TB, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Less(t, time.Since(start), 3*time.Second, "never a hang")
	var m map[string]any
	data, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(data, &m), string(data))
	}
	return resp.StatusCode, resp.Header, m
}

const listReq = `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`

func TestLostSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bA := mcptest.NewBackend(t, "pod-a")
	podA := h.addPod(bA, "ns", "srv", nil)
	url := h.gateway() + "/mcp/ns/srv"
	other, err := session.NewCodec([]byte(strings.Repeat("o", 32)))
	require.NoError(t, err)

	cs := connect(t, url)
	sid := cs.ID()
	ref, err := h.codec.Decode(session.Scope{Namespace: "ns", Server: "srv"}, sid)
	require.NoError(t, err)
	assert.Equal(t, string(podA.UID), ref.PodUID)

	tests := []struct{ name, url, sid string }{
		{"garbage", url, "nonsense"},
		{"tampered", url, sid[:5] + flip(sid[5]) + sid[6:]},
		{"other key", url, other.Encode(session.Scope{Namespace: "ns", Server: "srv"}, ref)},
		{"other server", strings.Replace(url, "/srv", "/srv2", 1), sid},
		{"unknown pod", url, h.codec.Encode(session.Scope{Namespace: "ns", Server: "srv"}, session.Ref{PodUID: "gone", Upstream: ref.Upstream})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := post(t, tt.url, tt.sid, listReq)
			assert.NotContains(t, fmt.Sprint(body), ref.Upstream, "the pod's own session id never leaks")
			assert.Equal(t, http.StatusNotFound, code)
			assert.EqualValues(t, 7, body["id"])
			assert.EqualValues(t, api.CodeSessionNotFound, body["error"].(map[string]any)["code"])
		})
	}

	// The pod goes away: its session is lost, a new one lands on the new pod.
	h.addPod(mcptest.NewBackend(t, "pod-b"), "ns", "srv", nil)
	h.deletePod(podA)
	_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
	require.Error(t, err)
	code, _, _ := post(t, url, sid, listReq)
	assert.Equal(t, http.StatusNotFound, code)
	out, err := mcptest.Call(context.Background(), connect(t, url), "whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, "pod-b", out)

	assert.EqualValues(t, 3, h.counter(t, "mcp_gateway_lost_sessions_total", "invalid", "ns/srv"))
	assert.GreaterOrEqual(t, h.counter(t, "mcp_gateway_lost_sessions_total", "pod_gone", "ns/srv"), 2.0)
	assert.EqualValues(t, 1, h.counter(t, "mcp_gateway_lost_sessions_total", "invalid", metrics.Unknown), "an unknown server is not a label value")
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	url := h.gateway() + "/mcp/ns/srv"
	const initReq = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

	code, hdr, body := post(t, url, "", initReq)
	assert.Equal(t, http.StatusServiceUnavailable, code, "no pod")
	assert.Equal(t, "1", hdr.Get("Retry-After"))
	assert.Contains(t, body["error"].(map[string]any)["message"], "has no ready pod")

	dead := mcptest.NewBackend(t, "dead")
	h.addPod(dead, "ns", "srv", nil)
	dead.Close()
	code, _, body = post(t, url, "", initReq)
	assert.Equal(t, http.StatusServiceUnavailable, code, "only a dead pod")
	assert.Contains(t, body["error"].(map[string]any)["message"], "is reachable")

	// A live pod next to the dead one: the dead one is skipped.
	h.addPod(mcptest.NewBackend(t, "alive"), "ns", "srv", nil)
	for range 4 {
		out, err := mcptest.Call(context.Background(), connect(t, url), "whoami", nil)
		require.NoError(t, err)
		assert.Equal(t, "alive", out)
	}

	// Not-ready pods take no new sessions.
	h2 := newHarness(t)
	pod := mcptest.NewBackend(t, "unready").Pod("ns", "srv", "unready", nil)
	pod.UID = "uid-unready"
	pod.Status.Conditions[0].Status = corev1.ConditionFalse
	_, err := h2.client.CoreV1().Pods("ns").Create(h2.ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h2.registry.Known("ns", "srv") }, 5*time.Second, 5*time.Millisecond)
	code, _, _ = post(t, h2.gateway()+"/mcp/ns/srv", "", initReq)
	assert.Equal(t, http.StatusServiceUnavailable, code)
}

func TestTwoReplicasShareSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addPod(mcptest.NewBackend(t, "pod-a"), "ns", "srv", nil)
	h.addPod(mcptest.NewBackend(t, "pod-b"), "ns", "srv", nil)
	gw1, gw2 := h.gateway(), h.gateway()
	ctx := context.Background()

	cs := connect(t, gw1+"/mcp/ns/srv")
	first, err := mcptest.Call(ctx, cs, "whoami", nil)
	require.NoError(t, err)
	// Raw requests on the same session alternate between replicas.
	for i := range 4 {
		gw := []string{gw1, gw2}[i%2]
		code, _, _ := post(t, gw+"/mcp/ns/srv", cs.ID(), `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami"}}`)
		assert.Equal(t, http.StatusOK, code)
	}
	again, err := mcptest.Call(ctx, cs, "whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, first, again)
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	req, err := http.NewRequest(http.MethodPut, h.gateway()+"/mcp/ns/srv", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// counter returns the value of the counter name whose label values are
// labels, given in the order of the sorted label names.
func (h *harness) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.promReg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			if slices.Equal(vals, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
