package proxy

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// fakeWaker plays the hibernation manager: wake runs when asked (a pod
// appears, or not), and the calls are counted.
type fakeWaker struct {
	calls   atomic.Int64
	wake    func() (bool, time.Duration, error)
	mu      sync.Mutex
	touched map[string]int
}

func (f *fakeWaker) Wake(ctx context.Context, ns, server string) (bool, time.Duration, error) {
	f.calls.Add(1)
	return f.wake()
}

func (f *fakeWaker) Touch(ns, server string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.touched == nil {
		f.touched = map[string]int{}
	}
	f.touched[ns+"/"+server]++
}

func (h *harness) gatewayWithWaker(f *fakeWaker) string {
	return serve(h.t, New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(),
		Transport: NewTransport(time.Second, 10*time.Second), Activity: f, Waker: f}))
}

func TestWakeHoldsTheRequestUntilAPodIsReady(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	f := &fakeWaker{}
	f.wake = func() (bool, time.Duration, error) {
		h.addPod(mcptest.NewBackend(t, "pod-a"), "ns", "srv", nil) // the scale up
		return true, 0, nil
	}
	url := h.gatewayWithWaker(f) + "/mcp/ns/srv"
	cs := connect(t, url) // initialize: no pod yet
	out, err := mcptest.Call(context.Background(), cs, "echo", map[string]any{"text": "awake"})
	require.NoError(t, err)
	assert.Equal(t, "pod-a: awake", out)
	assert.Equal(t, int64(1), f.calls.Load(), "only the request that found no pod waits for the wake")
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.GreaterOrEqual(t, f.touched["ns/srv"], 3, "every MCP request is activity (initialize, initialized, tools/call)")
}

func TestWakePastTheBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	f := &fakeWaker{wake: func() (bool, time.Duration, error) { return false, 1500 * time.Millisecond, nil }}
	status, hdr, body := post(t, h.gatewayWithWaker(f)+"/mcp/ns/srv", "", listReq)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "2", hdr.Get("Retry-After"), "rounded up to whole seconds")
	rpcErr := body["error"].(map[string]any)
	assert.Contains(t, rpcErr["message"], "server ns/srv is starting")
	assert.Contains(t, rpcErr["message"], "retry the same request")
	assert.Equal(t, map[string]any{"reason": "starting", "retryAfterSeconds": float64(2)}, rpcErr["data"])
	assert.Equal(t, float64(7), body["id"], "the error answers the request's id")
}

func TestWakeNothingToWake(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	f := &fakeWaker{wake: func() (bool, time.Duration, error) { return false, 0, errors.New("not hibernated") }}
	status, hdr, body := post(t, h.gatewayWithWaker(f)+"/mcp/ns/srv", "", listReq)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "1", hdr.Get("Retry-After"))
	assert.Contains(t, body["error"].(map[string]any)["message"], "has no ready pod", "the usual answer")
}

// A session on a pod that is gone (hibernated) gets 404 at once: the client
// starts a new session, and that one wakes the server.
func TestWakeNotForLostSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	f := &fakeWaker{wake: func() (bool, time.Duration, error) { return false, time.Second, nil }}
	url := h.gatewayWithWaker(f) + "/mcp/ns/srv"
	pod := h.addPod(mcptest.NewBackend(t, "pod-a"), "ns", "srv", nil)
	cs := connect(t, url)
	h.deletePod(pod)
	status, _, _ := post(t, url, cs.ID(), listReq)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Zero(t, f.calls.Load(), "a ready pod or a session: no wake")
}
