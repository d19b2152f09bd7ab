package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

func connect(t *testing.T, url, token string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := mcptest.Connect(ctx, url, token, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func TestMCPThroughGateway(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "pod-a"), ns, "everything", "everything-a", nil))
	ctx := context.Background()

	var progress atomic.Int64
	cs := connect(t, url+"/mcp/"+ns+"/everything", "", &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) },
	})
	assert.Equal(t, "pod-a", cs.InitializeResult().ServerInfo.Name)
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 5)
	out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": "hello"})
	require.NoError(t, err)
	assert.Equal(t, "pod-a: hello", out)

	params := &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{"steps": 10}}
	params.SetProgressToken("p1")
	out, err = mcptest.Text(cs.CallTool(ctx, params))
	require.NoError(t, err)
	assert.Equal(t, "10 steps", out)
	require.Eventually(t, func() bool { return progress.Load() == 10 }, 2*time.Second, 5*time.Millisecond)
}

func TestSessionsSpreadOverPodsAndStay(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "pod-a"), ns, "srv", "srv-a", nil))
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "pod-b"), ns, "srv", "srv-b", nil))
	ctx := context.Background()

	seen := map[string]int{}
	for range 8 {
		cs := connect(t, url+"/mcp/"+ns+"/srv", "", nil)
		first, err := mcptest.Call(ctx, cs, "whoami", nil)
		require.NoError(t, err)
		seen[first]++
		for range 3 {
			again, err := mcptest.Call(ctx, cs, "whoami", nil)
			require.NoError(t, err)
			require.Equal(t, first, again)
		}
	}
	// Fewest in-flight requests first, then fewest sessions: an even split
	// unless a pod was still finishing a response when a session started.
	assert.Len(t, seen, 2, "both pods get sessions: %v", seen)
	assert.GreaterOrEqual(t, min(seen["pod-a"], seen["pod-b"]), 3, "sessions spread: %v", seen)
}

func TestTwoGatewaysServeOneSession(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url1, gw1 := startGateway(t, auth.None{})
	url2, gw2 := startGateway(t, auth.None{})
	for _, name := range []string{"a", "b"} {
		pod := createPod(t, mcptest.NewBackend(t, "pod-"+name), ns, "srv", "srv-"+name, nil)
		routable(t, gw1, pod)
		routable(t, gw2, pod)
	}
	ctx := context.Background()
	cs := connect(t, url1+"/mcp/"+ns+"/srv", "", nil)
	first, err := mcptest.Call(ctx, cs, "whoami", nil)
	require.NoError(t, err)

	// The same session id, alternately through each replica.
	for i := range 6 {
		url := []string{url1, url2}[i%2] + "/mcp/" + ns + "/srv"
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"whoami"}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", cs.ID())
		req.Header.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		assert.Contains(t, string(body), `"text":"`+first+`"`, "replica %d routed to the session's pod", i%2+1)
	}
}

func TestPodDeletedMidSession(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	podA := createPod(t, mcptest.NewBackend(t, "pod-a"), ns, "srv", "srv-a", nil)
	routable(t, gw, podA)
	ctx := context.Background()
	cs := connect(t, url+"/mcp/"+ns+"/srv", "", nil)
	_, err := mcptest.Call(ctx, cs, "whoami", nil)
	require.NoError(t, err)

	podB := createPod(t, mcptest.NewBackend(t, "pod-b"), ns, "srv", "srv-b", nil)
	routable(t, gw, podB)
	require.NoError(t, client.CoreV1().Pods(ns).Delete(ctx, podA.Name, metav1.DeleteOptions{}))
	deleted := time.Now()

	// The session's pod is gone: 404 (the SDK reports a missing session).
	require.Eventually(t, func() bool {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
		return err != nil
	}, 2*time.Second, 10*time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, url+"/mcp/"+ns+"/srv", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"session not found: its pod is gone"}}`, string(body))

	// A new session works, on the remaining pod, within 2 s of the delete.
	require.Eventually(t, func() bool {
		c, err := mcptest.Connect(ctx, url+"/mcp/"+ns+"/srv", "", nil)
		if err != nil {
			return false
		}
		defer c.Close()
		out, err := mcptest.Call(ctx, c, "whoami", nil)
		return err == nil && out == "pod-b"
	}, 2*time.Second, 10*time.Millisecond)
	assert.Less(t, time.Since(deleted), 2*time.Second)
}

func TestToolFiltering(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "pod-a"), ns, "srv", "srv-a", map[string]string{api.PodAnnAllowedTools: "echo,progress"}))
	ctx := context.Background()
	cs := connect(t, url+"/mcp/"+ns+"/srv", "", nil)

	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	assert.ElementsMatch(t, []string{"echo", "progress"}, names)
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "secret"})
	require.ErrorContains(t, err, `tool "secret" is not allowed on server `+ns+"/srv")
	out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": "x"})
	require.NoError(t, err)
	assert.Equal(t, "pod-a: x", out)
}

func TestNoReadyPod(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, _ := startGateway(t, auth.None{})
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, url+"/mcp/"+ns+"/nothing", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), `"code":-32000`)
	assert.Less(t, time.Since(start), time.Second)
}

func TestPodBecomesReady(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "pod-a"), ns, "srv", "srv-a", nil))
	b := mcptest.NewBackend(t, "pod-b")
	podB := createPod(t, b, ns, "srv", "srv-b", nil)
	podB.Status.Conditions[0].Status = corev1.ConditionFalse
	podB, err := client.CoreV1().Pods(ns).UpdateStatus(context.Background(), podB, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		e := gw.Registry.Lookup(ns, "srv", string(podB.UID))
		return e != nil && !e.Ready
	}, 5*time.Second, 10*time.Millisecond)
	ctx := context.Background()
	for range 3 {
		out, err := mcptest.Call(ctx, connect(t, url+"/mcp/"+ns+"/srv", "", nil), "whoami", nil)
		require.NoError(t, err)
		require.Equal(t, "pod-a", out, "a pod that is not ready takes no sessions")
	}

	podB.Status.Conditions[0].Status = corev1.ConditionTrue
	_, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, podB, metav1.UpdateOptions{})
	require.NoError(t, err)
	ready := time.Now()
	// pod-a holds three sessions, pod-b none: the next session goes to b.
	require.Eventually(t, func() bool {
		c, err := mcptest.Connect(ctx, url+"/mcp/"+ns+"/srv", "", nil)
		if err != nil {
			return false
		}
		defer c.Close()
		out, err := mcptest.Call(ctx, c, "whoami", nil)
		return err == nil && out == "pod-b"
	}, time.Second, 10*time.Millisecond)
	assert.Less(t, time.Since(ready), time.Second)
}
