package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// rawPod serves handler as the MCP endpoint of a pod of ns/srv.
func (h *harness) rawPod(name string, handler http.HandlerFunc) {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(h.t, err)
	srv := &http.Server{Handler: handler}
	go func() { _ = srv.Serve(ln) }()
	h.t.Cleanup(func() { _ = srv.Close() })
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-raw-" + name),
			Labels:      map[string]string{api.ServerLabel: "srv"},
			Annotations: map[string]string{api.PodAnnEndpointPort: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	_, err = h.client.CoreV1().Pods("ns").Create(h.ctx, pod, metav1.CreateOptions{})
	require.NoError(h.t, err)
	require.Eventually(h.t, func() bool { return h.registry.Pick("ns", "srv", nil) != nil }, 5*time.Second, 5*time.Millisecond)
}

// An event stream passes event by event (the pod holds the stream open
// after the first event, so a buffering proxy would never deliver it), and
// a client that goes away cancels the pod's request.
func TestStreamUnbufferedAndCancelled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cancelled := make(chan struct{})
	next := make(chan struct{})
	h.rawPod("stream", func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.Header.Get("Authorization"), "the caller's token is never forwarded")
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i := 1; i <= 2; i++ {
			fmt.Fprintf(w, "id: %d\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":%d}}\n\n", i, i)
			http.NewResponseController(w).Flush()
			if i == 1 {
				<-next
			}
		}
		<-r.Context().Done()
		close(cancelled)
	})
	url := h.gateway() + "/mcp/ns/srv"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer caller-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	br := bufio.NewReader(resp.Body)
	readEvent := func() string {
		var ev []string
		for {
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			if line == "\n" {
				return strings.Join(ev, "")
			}
			ev = append(ev, line)
		}
	}
	assert.Contains(t, readEvent(), `"progress":1`, "first event arrives while the stream stays open")
	close(next)
	assert.Contains(t, readEvent(), "id: 2\n")
	cancel()
	select {
	case <-cancelled:
	case <-time.After(3 * time.Second):
		t.Fatal("the pod's request was not cancelled when the client went away")
	}
}

// A pod that accepts connections but never answers costs the header
// timeout, not a hang.
func TestHungPodTimesOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	h.rawPod("hung", func(http.ResponseWriter, *http.Request) { <-block })
	p := New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(),
		Transport: NewTransport(time.Second, 300*time.Millisecond)})
	url := serve(t, p) + "/mcp/ns/srv"
	start := time.Now()
	code, _, body := post(t, url, "", listReq)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.EqualValues(t, 7, body["id"])
	assert.Less(t, time.Since(start), 2*time.Second)
}
