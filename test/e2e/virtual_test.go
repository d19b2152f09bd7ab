//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
)

// Scenario 14: a virtual server over three members of one namespace — the
// npm server-everything on the base image (stdio), the Go SDK stdio test
// server on its own image, and the streamable-http test server — reached
// by clients of both eras through the gateway's Service.
const virtualMembers = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: everything
  labels: {mcp.archestra.io/server: everything}
  annotations:
    mcp.archestra.io/command: npx -y @modelcontextprotocol/server-everything
spec:
  selector: {matchLabels: {app: everything}}
  template:
    metadata: {labels: {app: everything}}
    spec:
      containers:
      - name: server
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gostdio
  labels: {mcp.archestra.io/server: gostdio}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
spec:
  selector: {matchLabels: {app: gostdio}}
  template:
    metadata: {labels: {app: gostdio}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/stdio-server:v1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: remote
  labels: {mcp.archestra.io/server: remote}
  annotations:
    mcp.archestra.io/transport: streamable-http
    mcp.archestra.io/port: "3001"
spec:
  selector: {matchLabels: {app: remote}}
  template:
    metadata: {labels: {app: remote}}
    spec:
      containers:
      - name: remote
        image: localhost/mcp-e2e/http-server:v1
        ports:
        - {name: http, containerPort: 3001}
`

// virtualDefinition is the ConfigMap of virtual server "toolbox"; extra is
// appended to everything's tool list.
func virtualDefinition(extra string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata:
  name: toolbox
  labels: {%s: toolbox}
data:
  %s: |
    title: E2E toolbox
    members:
    - server: everything
      prefix: ev
      tools: [echo, {name: get-sum, as: add}%s]
      resources: ["demo://resource/dynamic/text/*"]
    - server: gostdio
      prefix: go
    - server: remote
      prefix: web
      tools: [headers]
`, api.VirtualServerLabel, api.VirtualServerKey, extra)
}

var toolboxTools = []string{"ev__add", "ev__echo", "go__echo", "go__env", "go__hostname", "web__headers"}

// connectEra opens a session to ns/server as the Go SDK v1.8 client does
// by default (2026-07-28), or in the legacy revision, with the standalone
// GET stream a legacy client listens on; changes counts list_changed.
func connectEra(t *testing.T, ns, server string, legacy bool, changes *atomic.Int64) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-virtual", Version: "v1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changes.Add(1) }})
	var so *mcp.ClientSessionOptions
	if legacy {
		so = &mcp.ClientSessionOptions{ProtocolVersion: api.MCPVersion20251125}
	}
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: fmt.Sprintf("%s/mcp/%s/%s", gatewayURL, ns, server),
		HTTPClient: httpClient, MaxRetries: -1}, so)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestVirtualServer(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-virtual")
	apply(t, ns, virtualMembers)
	apply(t, ns, virtualDefinition(""))
	for _, d := range []string{"everything", "gostdio", "remote"} {
		waitReady(t, ns, d, 1)
	}
	type client struct {
		name    string
		s       *mcp.ClientSession
		changes *atomic.Int64
	}
	var clients []client
	for _, era := range []struct {
		name   string
		legacy bool
	}{{"2026-07-28", false}, {"legacy session", true}} {
		n := &atomic.Int64{}
		s := connectEra(t, ns, "toolbox", era.legacy, n)
		assert.Equal(t, era.legacy, s.ID() != "", "%s: a session id only for the legacy client", era.name)
		clients = append(clients, client{era.name, s, n})
	}
	for _, c := range clients {
		t.Logf("%s", c.name)
		virtualCalls(t, ns, c.s)
	}
	virtualMemberDown(t, ns, clients[0].s, clients[1].s)
	for i, c := range clients {
		virtualDefinitionChanges(t, ns, c.s, c.changes, i == 0)
	}
}

// virtualCalls: the merged list, a call to each member, a tool that is not
// assigned refused, a resource routed by URI.
func virtualCalls(t *testing.T, ns string, s *mcp.ClientSession) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A cold member (npx starting a process) may miss the first list: it
	// is left out for that moment, by design.
	require.Eventually(t, func() bool { return slices.Equal(toolboxTools, listed(ctx, s)) }, time.Minute, 500*time.Millisecond)
	text, err := callText(ctx, s, "ev__echo", map[string]any{"message": "through the toolbox"})
	require.NoError(t, err)
	assert.Contains(t, text, "through the toolbox")
	text, err = callText(ctx, s, "ev__add", map[string]any{"a": 2, "b": 3})
	require.NoError(t, err)
	assert.Contains(t, text, "5")
	var out struct{ Text string }
	require.NoError(t, structured(ctx, s, "go__echo", map[string]any{"text": "go"}, &out))
	assert.Equal(t, "go", out.Text)
	require.NoError(t, structured(ctx, s, "go__hostname", nil, &out))
	assert.Contains(t, out.Text, "gostdio-", "the member's own pod")
	var headers struct {
		Headers map[string]string `json:"headers"`
	}
	require.NoError(t, structured(ctx, s, "web__headers", nil, &headers))
	assert.Empty(t, headers.Headers["Authorization"], "the client's token never reaches a member")
	for _, refused := range []string{"ev__get-env", "get-env", "web__nothing", "other__echo"} {
		_, err := callText(ctx, s, refused, nil)
		assert.ErrorContains(t, err, "is not offered by virtual server "+ns+"/toolbox", refused)
	}
	res, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "demo://resource/dynamic/text/1"})
	require.NoError(t, err)
	assert.NotEmpty(t, res.Contents)
}

func listed(ctx context.Context, s *mcp.ClientSession) []string {
	res, err := s.ListTools(ctx, nil)
	if err != nil {
		return nil
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// virtualMemberDown: remote scaled to zero is left out of the lists at
// once (both eras), its calls fail naming it, the others keep working and
// the operators' API says so; scaled back, it is listed again.
func virtualMemberDown(t *testing.T, ns string, sessions ...*mcp.ClientSession) {
	t.Helper()
	out, err := kubectl("-n", ns, "scale", "deployment/remote", "--replicas=0")
	require.NoError(t, err, out)
	podsGone(t, ns, "remote")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	without := slices.DeleteFunc(slices.Clone(toolboxTools), func(n string) bool { return n == "web__headers" })
	for _, s := range sessions {
		require.Eventually(t, func() bool { return slices.Equal(without, listed(ctx, s)) }, 30*time.Second, 200*time.Millisecond)
		start := time.Now()
		assert.Equal(t, without, listed(ctx, s))
		assert.Less(t, time.Since(start), 3*time.Second, "a member with no pod does not hold the list")
		_, err := callText(ctx, s, "web__headers", nil)
		assert.ErrorContains(t, err, "server "+ns+"/remote has no ready pod")
		text, err := callText(ctx, s, "ev__echo", map[string]any{"message": "still here"})
		require.NoError(t, err)
		assert.Contains(t, text, "still here")
	}
	st, err := operators().VirtualStatus(ctx, ns, "toolbox")
	require.NoError(t, err)
	assert.Equal(t, admin.VirtualServing, st.State)
	assert.Equal(t, admin.MemberNotReady, st.Members[2].State)
	out, err = kubectl("-n", ns, "scale", "deployment/remote", "--replicas=1")
	require.NoError(t, err, out)
	waitReady(t, ns, "remote", 1)
	for _, s := range sessions {
		require.Eventually(t, func() bool { return slices.Equal(toolboxTools, listed(ctx, s)) }, time.Minute, 500*time.Millisecond)
	}
}

// virtualDefinitionChanges: while the client is connected, the virtual
// server's definition of a member changes (a tool assigned, or no longer),
// then a member's own definition (its allowed-tools: a rollout): the
// client is told (list_changed) and lists the new set each time. first
// adds ev__get-env and takes go__hostname away; the next call undoes both.
func virtualDefinitionChanges(t *testing.T, ns string, s *mcp.ClientSession, changes *atomic.Int64, first bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	extra, allowed := ", get-env", "echo,env"
	if !first {
		extra, allowed = "", "echo,env,hostname"
	}
	want := listed(ctx, s)
	step := func(what string, change func(), toggle string) {
		before := changes.Load()
		change()
		require.Eventually(t, func() bool { return changes.Load() > before }, time.Minute, 100*time.Millisecond, "list_changed for %s", what)
		if i := slices.Index(want, toggle); i >= 0 {
			want = slices.Delete(want, i, i+1)
		} else {
			want = append(want, toggle)
			slices.Sort(want)
		}
		require.Eventually(t, func() bool { return slices.Equal(want, listed(ctx, s)) }, time.Minute, 200*time.Millisecond, what)
	}
	step("the virtual server's definition", func() { apply(t, ns, virtualDefinition(extra)) }, "ev__get-env")
	step("the member's rollout", func() {
		out, err := kubectl("-n", ns, "annotate", "--overwrite", "deployment/gostdio", api.AnnAllowedTools+"="+allowed)
		require.NoError(t, err, out)
		out, err = kubectl("-n", ns, "rollout", "status", "deployment/gostdio", "--timeout=180s")
		require.NoError(t, err, out)
	}, "go__hostname")
}
