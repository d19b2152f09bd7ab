package proxy

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	wire "github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// tokenIsUser authenticates every bearer token as the user of that name.
type tokenIsUser struct{}

func (tokenIsUser) Authenticate(_ context.Context, token string, _ auth.Target) (*auth.User, error) {
	return &auth.User{Name: token}, nil
}

func (tokenIsUser) Authorize(context.Context, *auth.User, auth.Attributes) (bool, error) {
	return true, nil
}

// gatewayWithUsers is a gateway replica behind auth, each bearer token
// being its caller's name.
func (h *harness) gatewayWithUsers() string {
	p := New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(),
		Transport: NewTransport(time.Second, 10*time.Second)})
	g := &auth.Guard{Auth: tokenIsUser{}, Log: discardLog()}
	return serve(h.t, g.Handler(func(*http.Request) auth.Attributes { return auth.Attributes{} },
		func(w http.ResponseWriter, _ *http.Request, status int, msg string) { http.Error(w, msg, status) }, p))
}

// headerLog records the response headers a client got.
type headerLog struct {
	mu   sync.Mutex
	got  []http.Header
	next http.RoundTripper
}

func (l *headerLog) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil {
		l.mu.Lock()
		l.got = append(l.got, resp.Header.Clone())
		l.mu.Unlock()
	}
	return resp, err
}

func (l *headerLog) sessionIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, h := range l.got {
		if v := h.Get(api.HeaderSessionID); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// The MCP Go SDK v1.8 client with its defaults speaks 2026-07-28 to a
// stateless server through the gateway: one server/discover, no
// initialize, no session id either way; then tools, listed and called.
func TestModernClientThroughGateway(t *testing.T) {
	t.Parallel()
	for _, jsonResponse := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", jsonResponse), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			pod := mcptest.NewStatelessBackend(t, "pod-a", jsonResponse)
			h.addPod(pod, "ns", "srv", nil)
			ctx := context.Background()
			log := &headerLog{next: http.DefaultTransport}
			cs, err := mcptest.ConnectWith(ctx, h.gateway()+"/mcp/ns/srv", &http.Client{Transport: log}, nil)
			require.NoError(t, err)
			defer cs.Close()

			assert.Equal(t, api.MCPVersion20260728, cs.InitializeResult().ProtocolVersion)
			assert.Equal(t, "pod-a", cs.InitializeResult().ServerInfo.Name, "server/discover is answered by the server")
			assert.Empty(t, cs.ID(), "no session")
			tools, err := cs.ListTools(ctx, nil)
			require.NoError(t, err)
			assert.Len(t, tools.Tools, 5)
			out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": "hi"})
			require.NoError(t, err)
			assert.Equal(t, "pod-a: hi", out)

			assert.Equal(t, []string{"server/discover", "tools/list", "tools/call"}, pod.SeenMCP(), "one request each, no handshake")
			for _, s := range pod.Seen() {
				assert.Empty(t, s.Header.Get(api.HeaderSessionID))
				assert.Equal(t, api.MCPVersion20260728, s.Header.Get(api.HeaderProtocolVersion))
			}
			assert.Empty(t, log.sessionIDs(), "the gateway mints no session id")
			// Counted once the handler returns, which may be after the
			// client has read the answer.
			assert.Eventually(t, func() bool {
				return h.counter(t, "mcp_gateway_requests_total", "200", "tools/call", "ns/srv", "echo") == 1
			}, 2*time.Second, 5*time.Millisecond, "the call is counted under its method and tool")
		})
	}
}

// The same default client in front of a legacy (session) server: the
// server's discover answer names no modern version, so the client falls
// back to initialize and a session, which the gateway keeps as before.
func TestModernClientLegacyServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pod := mcptest.NewBackend(t, "legacy")
	h.addPod(pod, "ns", "srv", nil)
	ctx := context.Background()
	cs := connect(t, h.gateway()+"/mcp/ns/srv")
	assert.NotEqual(t, api.MCPVersion20260728, cs.InitializeResult().ProtocolVersion)
	assert.NotEmpty(t, cs.ID(), "a legacy session")
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 5)
	out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": "hi"})
	require.NoError(t, err)
	assert.Equal(t, "legacy: hi", out)
	assert.Equal(t, "server/discover", pod.SeenMCP()[0], "the client tried the modern era first")
}

// Concurrent modern clients over two stateless pods: every call answered,
// and the load spread (least loaded, no affinity for streamable-http).
func TestModernConcurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a, b := mcptest.NewStatelessBackend(t, "pod-a", false), mcptest.NewStatelessBackend(t, "pod-b", false)
	h.addPod(a, "ns", "srv", nil)
	h.addPod(b, "ns", "srv", nil)
	url := h.gateway() + "/mcp/ns/srv"
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	served := map[string]int{}
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := mcptest.Connect(ctx, url, "", nil)
			if !assert.NoError(t, err) {
				return
			}
			defer cs.Close()
			for i := range 20 {
				text := fmt.Sprintf("c%d-%d", c, i)
				out, err := mcptest.Call(ctx, cs, "echo", map[string]any{"text": text})
				if !assert.NoError(t, err) {
					return
				}
				pod, rest, _ := strings.Cut(out, ": ")
				assert.Equal(t, text, rest)
				mu.Lock()
				served[pod]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 16*20, served["pod-a"]+served["pod-b"])
	assert.Positive(t, served["pod-a"], "both pods serve: %v", served)
	assert.Positive(t, served["pod-b"], "both pods serve: %v", served)
}

// The allow-list in the modern era: tools/list filtered (JSON and event
// streams), a hidden tool refused at the gateway, never sent to the pod.
func TestModernToolAllowList(t *testing.T) {
	t.Parallel()
	for _, jsonResponse := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", jsonResponse), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			pod := mcptest.NewStatelessBackend(t, "pod-a", jsonResponse)
			h.addPod(pod, "ns", "srv", map[string]string{api.PodAnnAllowedTools: "echo, whoami"})
			ctx := context.Background()
			cs := connect(t, h.gateway()+"/mcp/ns/srv")
			require.Equal(t, api.MCPVersion20260728, cs.InitializeResult().ProtocolVersion)
			assertAllowList(ctx, t, cs)
			for _, s := range pod.Seen() {
				assert.NotEqual(t, "secret", s.Header.Get(api.HeaderName), "the hidden tool's call never reached the pod")
			}
		})
	}
}

// modernPost sends a raw 2026-07-28 POST with the given headers.
func modernPost(t *testing.T, url string, hdr map[string]string, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	return do(t, req)
}

const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

func modernCall(tool string) string {
	return `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"` + tool + `","arguments":{"text":"x"},` + modernMeta + `}}`
}

func modernHeaders(method, name string) map[string]string {
	return map[string]string{api.HeaderProtocolVersion: api.MCPVersion20260728, api.HeaderMethod: method, api.HeaderName: name}
}

// Headers that contradict the body (or are missing) are answered by the
// gateway with the spec's status and JSON-RPC error; the pod sees nothing.
func TestModernValidationAtGateway(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pod := mcptest.NewStatelessBackend(t, "pod-a", true)
	h.addPod(pod, "ns", "srv", nil)
	url := h.gateway() + "/mcp/ns/srv"
	unsupported := `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}`
	tests := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		code   int
		msg    string
	}{
		{"name mismatch", modernHeaders("tools/call", "echo"), modernCall("secret"), 400, api.CodeHeaderMismatch, "Mcp-Name header value 'echo' does not match body value 'secret'"},
		{"method mismatch", modernHeaders("tools/list", "echo"), modernCall("echo"), 400, api.CodeHeaderMismatch, "Mcp-Method"},
		{"no Mcp-Name", modernHeaders("tools/call", ""), modernCall("echo"), 400, api.CodeHeaderMismatch, "Mcp-Name header is required"},
		{"Base64 name decoded, still wrong", modernHeaders("tools/call", "=?base64?ZWNobw==?="), modernCall("secret"), 400, api.CodeHeaderMismatch, "'echo' does not match body value 'secret'"},
		{"version mismatch", map[string]string{api.HeaderProtocolVersion: api.MCPVersion20260728, api.HeaderMethod: "tools/list"}, unsupported, 400, api.CodeHeaderMismatch, "Mcp-Protocol-Version"},
		{"unsupported version", map[string]string{api.HeaderProtocolVersion: "2099-01-01", api.HeaderMethod: "tools/list"}, unsupported, 400, api.CodeUnsupportedProtocolVersion, "Unsupported protocol version"},
		{"no _meta", modernHeaders("tools/list", ""), `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, 400, wire.CodeInvalidParams, "_meta"},
		{"batch", modernHeaders("tools/list", ""), `[{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{` + modernMeta + `}}]`, 400, wire.CodeInvalidRequest, "not a batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := modernPost(t, url, tt.hdr, tt.body)
			assert.Equal(t, tt.status, code)
			require.NotNil(t, body)
			e := body["error"].(map[string]any)
			assert.EqualValues(t, tt.code, e["code"])
			assert.Contains(t, e["message"], tt.msg)
		})
	}
	assert.Empty(t, pod.Seen(), "no refused request reached the pod")

	// A mismatch on a tool the allow-list would hide is still a mismatch:
	// the headers are checked before anything reads them.
	code, _, _ := modernPost(t, url, modernHeaders("tools/call", "echo"), modernCall("echo"))
	assert.Equal(t, http.StatusOK, code)
	assert.Len(t, pod.Seen(), 1)
}

// GET and DELETE of a modern client: 405 (no stream, no session); a
// session id on a modern POST is ignored, never answered 404 nor echoed.
func TestModernNoSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pod := mcptest.NewStatelessBackend(t, "pod-a", true)
	h.addPod(pod, "ns", "srv", nil)
	url := h.gateway() + "/mcp/ns/srv"
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		req, err := http.NewRequest(method, url, nil)
		require.NoError(t, err)
		req.Header.Set(api.HeaderProtocolVersion, api.MCPVersion20260728)
		req.Header.Set(api.HeaderSessionID, "left-over")
		code, hdr, body := do(t, req)
		assert.Equal(t, http.StatusMethodNotAllowed, code, method)
		assert.Equal(t, http.MethodPost, hdr.Get("Allow"))
		assert.EqualValues(t, wire.CodeInvalidRequest, body["error"].(map[string]any)["code"])
	}
	assert.Empty(t, pod.Seen())

	hdr := modernHeaders("tools/call", "whoami")
	hdr[api.HeaderSessionID] = "left-over"
	hdr[api.HeaderLastEventID] = "7"
	code, respHdr, body := modernPost(t, url, hdr, strings.Replace(modernCall("whoami"), `"arguments":{"text":"x"},`, "", 1))
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Empty(t, respHdr.Get(api.HeaderSessionID))
	require.Len(t, pod.Seen(), 1)
	assert.Empty(t, pod.Seen()[0].Header.Get(api.HeaderSessionID), "not passed on")
	assert.Empty(t, pod.Seen()[0].Header.Get(api.HeaderLastEventID), "a modern stream is never resumed")

	// A pod that hands out a session id anyway: not minted into one of the
	// gateway's, not echoed.
	h2 := newHarness(t)
	h2.rawPod("sessionful", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(api.HeaderSessionID, "pod-session")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":3,"result":{"resultType":"complete","content":[]}}`))
	})
	code, respHdr, _ = modernPost(t, h2.gateway()+"/mcp/ns/srv", modernHeaders("tools/call", "whoami"), modernCall("whoami"))
	assert.Equal(t, http.StatusOK, code)
	assert.Empty(t, respHdr.Get(api.HeaderSessionID))
}

// Per-session stdio pods keep a process per caller: each caller's
// requests keep reaching one pod, callers spread over the pods, and pods
// coming and going move only the callers they must. Two gateway replicas
// agree without sharing anything.
func TestModernCallerAffinity(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stdio := map[string]string{api.PodAnnTransport: api.TransportStdio} // sessions: per-session by default
	pods := map[string]*mcptest.Backend{}
	for _, name := range []string{"pod-a", "pod-b", "pod-c"} {
		pods[name] = mcptest.NewStatelessBackend(t, name, true)
		h.addPod(pods[name], "ns", "srv", stdio)
	}
	gw1, gw2 := h.gatewayWithUsers()+"/mcp/ns/srv", h.gatewayWithUsers()+"/mcp/ns/srv"
	ctx := context.Background()
	podOf := func(gw, caller string) string {
		cs, err := mcptest.Connect(ctx, gw, caller, nil)
		require.NoError(t, err)
		defer cs.Close()
		first, err := mcptest.Call(ctx, cs, "whoami", nil)
		require.NoError(t, err)
		for range 3 {
			again, err := mcptest.Call(ctx, cs, "whoami", nil)
			require.NoError(t, err)
			require.Equal(t, first, again, "a caller stays on its pod")
		}
		return first
	}
	var callers []string
	for i := range 12 {
		callers = append(callers, fmt.Sprintf("user-%d", i))
	}
	before := map[string]string{}
	spread := map[string]int{}
	for _, c := range callers {
		before[c] = podOf(gw1, c)
		spread[before[c]]++
		assert.Equal(t, before[c], podOf(gw2, c), "the other replica agrees")
	}
	// The sidecar tells callers apart by what the gateway states.
	for c, pod := range before {
		assert.True(t, slices.ContainsFunc(pods[pod].Seen(), func(s mcptest.Seen) bool { return s.Header.Get(api.HeaderCallerUser) == c }), c)
	}
	assert.GreaterOrEqual(t, len(spread), 2, "callers spread over the pods: %v", spread)

	// A fourth pod: a caller either keeps its pod or moves to the new one.
	h.addPod(mcptest.NewStatelessBackend(t, "pod-d", true), "ns", "srv", stdio)
	for _, c := range callers {
		if got := podOf(gw1, c); got != before[c] {
			assert.Equal(t, "pod-d", got, "%s moved between old pods", c)
		}
	}
}

// subscriptions/listen is a long-lived stream: passed event by event, not
// counted as load on its pod, and cancelled at the pod when the client
// goes away.
func TestModernListenStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ack := `{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":1},"notifications":{"toolsListChanged":true}}}`
	cancelled := make(chan struct{})
	h.rawPod("listen", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "data: %s\n\n", ack)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		close(cancelled)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},` + modernMeta + `}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.gateway()+"/mcp/ns/srv", strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range modernHeaders("subscriptions/listen", "") {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	buf := make([]byte, 4096)
	n, err := resp.Body.Read(buf)
	require.NoError(t, err)
	assert.Contains(t, string(buf[:n]), "notifications/subscriptions/acknowledged", "the first event arrives while the stream stays open")
	// The requests before it may still be releasing their count.
	assert.Eventually(t, func() bool { return h.registry.Pick("ns", "srv", nil).InFlight() == 0 }, 2*time.Second, 5*time.Millisecond,
		"an open listen stream is not load")
	cancel()
	select {
	case <-cancelled:
	case <-time.After(3 * time.Second):
		t.Fatal("the pod's listen request was not cancelled when the client went away")
	}
}

// The SDK client opens subscriptions/listen when it wants list changes:
// the stream stays open through the gateway and carries the pod's change
// notification, and while open it is not load.
func TestModernListenSDK(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pod := mcptest.NewStatelessBackend(t, "pod-a", false)
	h.addPod(pod, "ns", "srv", nil)
	ctx := context.Background()
	changed := make(chan struct{}, 1)
	cs, err := mcptest.Connect(ctx, h.gateway()+"/mcp/ns/srv", "", &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	require.NoError(t, err)
	defer cs.Close()
	require.Equal(t, []string{"server/discover", "subscriptions/listen"}, pod.SeenMCP())
	// The requests before it may still be releasing their count.
	assert.Eventually(t, func() bool { return h.registry.Pick("ns", "srv", nil).InFlight() == 0 }, 2*time.Second, 5*time.Millisecond,
		"an open listen stream is not load")

	mcp.AddTool(pod.Server, &mcp.Tool{Name: "late", Description: "added while the client listens"},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("notifications/tools/list_changed did not arrive on the listen stream")
	}
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 6)
}
