package virtual_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

var eras = []struct {
	name   string
	legacy bool
}{{"2026-07-28", false}, {"2025-11-25", true}}

// A member that is slow, one with no ready pod and one that does not exist
// are left out of the list, within the list timeout; the others keep
// working; the missing ones' calls fail naming them.
func TestPartialFailure(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	h := newHarness(t, timeout)
	h.memberAt(serve(t, statelessHandler(sdkServer("alpha"))), "ns", "alpha", true)
	h.memberAt(serve(t, slow(statelessHandler(sdkServer("beta")), "tools/list", 5*time.Second)), "ns", "beta", true)
	h.memberAt(serve(t, statelessHandler(sdkServer("gamma"))), "ns", "gamma", false)
	h.define("ns", "vs", "vs", "members:\n- server: alpha\n- server: beta\n- server: gamma\n- server: delta\n")
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			cs := h.connect("ns", "vs", era.legacy, nil)
			start := time.Now()
			assert.Equal(t, []string{"alpha__ask", "alpha__echo"}, toolNames(t, cs))
			assert.Less(t, time.Since(start), timeout+time.Second, "a slow member does not hold the list")
			ctx := context.Background()
			got, err := mcptest.Call(ctx, cs, "beta__echo", map[string]any{"text": "x"})
			require.NoError(t, err, "slow to list, not to call")
			assert.Equal(t, "beta: x", got)
			_, err = mcptest.Call(ctx, cs, "gamma__echo", map[string]any{"text": "x"})
			require.ErrorContains(t, err, "server ns/gamma has no ready pod")
			_, err = mcptest.Call(ctx, cs, "delta__echo", map[string]any{"text": "x"})
			require.ErrorContains(t, err, "server ns/delta has no ready pod")
		})
	}
	for member, reason := range map[string]string{"beta": "timeout", "gamma": "unavailable", "delta": "unavailable"} {
		c := counter(t, h, "mcp_gateway_virtual_members_left_out_total", map[string]string{"virtual": "ns/vs", "member": member, "reason": reason})
		assert.GreaterOrEqual(t, c, 2.0, "%s left out for %s, once per era", member, reason)
	}
	st, ok := h.gw.Virtual.VirtualStatus("ns", "vs")
	require.True(t, ok)
	states := map[string]string{}
	for _, m := range st.Members {
		states[m.Server] = m.State
	}
	assert.Equal(t, map[string]string{"alpha": admin.MemberReady, "beta": admin.MemberReady, "gamma": admin.MemberNotReady, "delta": admin.MemberMissing}, states)
	require.NotNil(t, st.Members[1].LeftOut)
	assert.Equal(t, "timeout", st.Members[1].LeftOut.Reason)
}

// Resources are routed by URI (templates too), with no list asked first;
// a URI two members have is the first member's; the assignment hides the
// rest. Prompts are prefixed like tools.
func TestResourcesAndPrompts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2*time.Second)
	h.memberAt(serve(t, statelessHandler(sdkServer("alpha"))), "ns", "alpha", true)
	h.memberAt(serve(t, statelessHandler(sdkServer("beta"))), "ns", "beta", true)
	h.define("ns", "vs", "vs", "members:\n- server: alpha\n  prompts: []\n- server: beta\n  resources: [\"test://beta/*\"]\n")
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			cs := h.connect("ns", "vs", era.legacy, nil)
			ctx := context.Background()
			for uri, want := range map[string]string{
				"test://beta/doc":      "beta has test://beta/doc",
				"test://shared/doc":    "alpha has test://shared/doc",
				"test://beta/items/5":  "beta item test://beta/items/5",
				"test://alpha/items/x": "alpha item test://alpha/items/x",
			} {
				res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
				require.NoError(t, err, uri)
				assert.Equal(t, want, res.Contents[0].Text)
			}
			_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://nowhere"})
			require.ErrorContains(t, err, "Resource not found")
			list, err := cs.ListResources(ctx, nil)
			require.NoError(t, err)
			var uris []string
			for _, r := range list.Resources {
				uris = append(uris, r.URI)
			}
			assert.ElementsMatch(t, []string{"test://alpha/doc", "test://shared/doc", "test://beta/doc"}, uris)
			tl, err := cs.ListResourceTemplates(ctx, nil)
			require.NoError(t, err)
			assert.Len(t, tl.ResourceTemplates, 2)
			pl, err := cs.ListPrompts(ctx, nil)
			require.NoError(t, err)
			require.Len(t, pl.Prompts, 1)
			assert.Equal(t, "beta__greet", pl.Prompts[0].Name)
			p, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "beta__greet"})
			require.NoError(t, err)
			assert.Equal(t, "hello from beta", p.Messages[0].Content.(*mcp.TextContent).Text)
			_, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "alpha__greet"})
			require.Error(t, err, "not assigned")
		})
	}
}

// An invalid definition serves nothing and says why (status, event); a
// real server keeps its name; a member may not be virtual itself.
func TestInvalidShadowedAndVirtualMembers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Second)
	h.member(mcptest.NewStatelessBackend(t, "alpha", false), "ns", "alpha", nil)
	h.define("ns", "broken", "broken", "members:\n- server: alpha\n  tool: [echo]\n")
	code, answer := h.rpc(t, "ns", "broken", "tools/list", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, answer["error"].(map[string]any)["message"], "virtual server ns/broken is not served: its definition has problems")
	st, _ := h.gw.Virtual.VirtualStatus("ns", "broken")
	assert.Equal(t, admin.VirtualInvalid, st.State)
	assert.Equal(t, []string{"members[0].tool: unknown field (did you mean tools?); known: server, prefix, tools, prompts, resources"}, st.Problems)
	require.Eventually(t, func() bool { return hasEvent(h, "ns", "broken", "VirtualServerInvalid") }, 5*time.Second, 20*time.Millisecond)

	h.define("ns", "shadow", "alpha", "members:\n- server: alpha\n")
	cs := h.connect("ns", "alpha", false, nil)
	assert.Contains(t, toolNames(t, cs), "echo", "the real server, names unprefixed")
	st, _ = h.gw.Virtual.VirtualStatus("ns", "alpha")
	assert.Equal(t, admin.VirtualShadowed, st.State)
	require.Eventually(t, func() bool { return hasEvent(h, "ns", "shadow", "VirtualServerShadowed") }, 5*time.Second, 20*time.Millisecond)

	h.define("ns", "outer", "outer", "members:\n- server: broken\n")
	st, _ = h.gw.Virtual.VirtualStatus("ns", "outer")
	assert.Equal(t, []string{"members[0].server: broken is a virtual server: members must be MCP servers"}, st.Problems)
	h.define("ns", "twice", "outer", "members:\n- server: alpha\n")
	require.Eventually(t, func() bool {
		st, _ = h.gw.Virtual.VirtualStatus("ns", "outer")
		return len(st.ConfigMaps) == 2
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"defined by 2 ConfigMaps (outer, twice): exactly one may carry mcp.archestra.io/virtual-server=outer"}, st.Problems)
}

func hasEvent(h *harness, ns, cm, reason string) bool {
	evs, err := h.client.CoreV1().Events(ns).List(h.ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == cm && e.Reason == reason {
			return true
		}
	}
	return false
}

// A connected client of either era is told when the definition changes
// and when a member goes away, as the virtual server's list_changed.
func TestListChanged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Second)
	h.memberAt(serve(t, statelessHandler(sdkServer("alpha"))), "ns", "alpha", true)
	beta := h.memberAt(serve(t, statelessHandler(sdkServer("beta"))), "ns", "beta", true)
	h.define("ns", "vs", "vs", "members:\n- server: alpha\n  tools: [echo]\n- server: beta\n  tools: [echo]\n")
	type client struct {
		cs      *mcp.ClientSession
		changes *atomic.Int64
	}
	var clients []client
	for _, era := range eras {
		n := &atomic.Int64{}
		cs := h.connect("ns", "vs", era.legacy, &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { n.Add(1) }})
		if era.legacy {
			openGetStream(t, cs)
		}
		assert.Equal(t, []string{"alpha__echo", "beta__echo"}, toolNames(t, cs))
		clients = append(clients, client{cs, n})
	}
	h.define("ns", "vs", "vs", "members:\n- server: alpha\n- server: beta\n  tools: [echo]\n")
	for i, c := range clients {
		require.Eventually(t, func() bool { return c.changes.Load() >= 1 }, 5*time.Second, 10*time.Millisecond, eras[i].name)
		assert.Equal(t, []string{"alpha__ask", "alpha__echo", "beta__echo"}, toolNames(t, c.cs), eras[i].name)
	}
	require.NoError(t, h.client.CoreV1().Pods("ns").Delete(h.ctx, beta.Name, metav1.DeleteOptions{}))
	for i, c := range clients {
		require.Eventually(t, func() bool { return c.changes.Load() >= 2 }, 5*time.Second, 10*time.Millisecond, eras[i].name)
		assert.Equal(t, []string{"alpha__ask", "alpha__echo"}, toolNames(t, c.cs), eras[i].name)
	}
}

// openGetStream waits until the legacy session's GET stream is open (the
// SDK client opens it in the background).
func openGetStream(t *testing.T, cs *mcp.ClientSession) {
	t.Helper()
	// A ping round trip orders after the client's connect; the stream's
	// subscriptions take a moment more.
	require.NoError(t, cs.Ping(context.Background(), nil))
	time.Sleep(300 * time.Millisecond)
}

// A member's InputRequiredResult reaches a 2026-07-28 client as it is (its
// SDK answers and retries), and a legacy client as a server request on the
// call's stream, whose answer is routed back to the replica that asked
// even when it reaches another one.
func TestInputAcrossReplicas(t *testing.T) {
	t.Parallel()
	a := newHarness(t, time.Second)
	b := newReplica(t, a.client, time.Second)
	a.memberAt(serve(t, statelessHandler(sdkServer("alpha"))), "ns", "alpha", true)
	a.define("ns", "vs", "vs", "members:\n- server: alpha\n")
	require.Eventually(t, func() bool { _, ok := b.gw.Virtual.VirtualStatus("ns", "vs"); return ok }, 5*time.Second, 10*time.Millisecond)
	var answersToB atomic.Int64
	hc := &http.Client{Transport: answersTo(b.url, &answersToB)}
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "t"}, &mcp.ClientOptions{
				ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
				}})
			var so *mcp.ClientSessionOptions
			if era.legacy {
				so = &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"}
			}
			cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: a.url + "/mcp/ns/vs", HTTPClient: hc, MaxRetries: -1}, so)
			require.NoError(t, err)
			defer cs.Close()
			got, err := mcptest.Call(context.Background(), cs, "alpha__ask", nil)
			require.NoError(t, err)
			assert.Equal(t, "alpha met Ada", got)
		})
	}
	assert.Equal(t, int64(1), answersToB.Load(), "the legacy client's answer went to the other replica")
}

// answersTo sends every POST that carries a JSON-RPC response (a legacy
// client's answer to a server request) to the replica at other.
func answersTo(other string, n *atomic.Int64) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && r.GetBody != nil {
			body, _ := r.GetBody()
			b := make([]byte, 4096)
			k, _ := body.Read(b)
			if s := string(b[:k]); strings.Contains(s, `"result"`) && !strings.Contains(s, `"method"`) {
				n.Add(1)
				r = r.Clone(r.Context())
				r.URL.Host = strings.TrimPrefix(other, "http://")
				r.Host = r.URL.Host
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A member that speaks only the session revisions (a streamable-http
// server the sidecar proxies as it is: here the Go SDK's stateful handler,
// which refuses 2026-07-28) is reached in a session of the replica's own,
// opened once per caller and reused; clients of both eras see it as any
// other member.
func TestLegacyMember(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2*time.Second)
	h.memberAt(serve(t, statelessHandler(sdkServer("alpha"))), "ns", "alpha", true)
	old := mcptest.NewBackend(t, "old")
	h.member(old, "ns", "old", nil)
	h.define("ns", "vs", "vs", "members:\n- server: alpha\n  tools: [echo]\n- server: old\n  tools: [echo, whoami, progress]\n")
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			cs := h.connect("ns", "vs", era.legacy, nil)
			assert.Equal(t, []string{"alpha__echo", "old__echo", "old__progress", "old__whoami"}, toolNames(t, cs))
			ctx := context.Background()
			got, err := mcptest.Call(ctx, cs, "old__echo", map[string]any{"text": "hi"})
			require.NoError(t, err)
			assert.Equal(t, "old: hi", got)
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "old__progress", Arguments: map[string]any{"steps": 3},
				Meta: mcp.Meta{"progressToken": "p1"}})
			require.NoError(t, err)
			got, err = mcptest.Text(res, nil)
			require.NoError(t, err)
			assert.Equal(t, "3 steps", got)
		})
	}
	initializes := 0
	for _, s := range old.Seen() {
		if s.Method == http.MethodPost && s.Header.Get("Mcp-Session-Id") == "" && s.Header.Get("Mcp-Method") == "" {
			initializes++
		}
	}
	assert.Equal(t, 1, initializes, "one session of this replica for the caller, reused by both clients")
}
