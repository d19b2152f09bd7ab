package stdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/conformance"
)

// rawClient speaks 2026-07-28 by hand: each call is one POST with the
// mirrored headers and the per-request _meta.
type rawClient struct {
	url    string
	caller string
	caps   string // clientCapabilities JSON
	id     int
	header http.Header // more headers on every request
}

type rawAnswer struct {
	status int
	ctype  string
	body   string   // the JSON response (the last SSE data line for streams)
	events []string // every SSE data line
}

func (c *rawClient) post(t testing.TB, method string, params map[string]any) rawAnswer {
	t.Helper()
	a, err := c.try(method, params, nil)
	require.NoError(t, err)
	return a
}

func (c *rawClient) try(method string, params map[string]any, ctx context.Context) (rawAnswer, error) {
	if params == nil {
		params = map[string]any{}
	}
	caps := c.caps
	if caps == "" {
		caps = `{}`
	}
	params["_meta"] = map[string]any{
		api.MetaProtocolVersion: api.MCPVersion20260728, api.MetaClientCapabilities: json.RawMessage(caps),
		api.MetaClientInfo: map[string]string{"name": "raw", "version": "1"},
	}
	c.id++
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params})
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(api.HeaderProtocolVersion, api.MCPVersion20260728)
	req.Header.Set(api.HeaderMethod, method)
	if name, ok := params["name"].(string); ok {
		req.Header.Set(api.HeaderName, name)
	}
	if uri, ok := params["uri"].(string); ok {
		req.Header.Set(api.HeaderName, uri)
	}
	if c.caller != "" {
		req.Header.Set(api.HeaderCallerUser, c.caller)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawAnswer{}, err
	}
	defer resp.Body.Close()
	a := rawAnswer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type")}
	if strings.HasPrefix(a.ctype, "text/event-stream") {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				a.events = append(a.events, d)
				a.body = d
			}
		}
		return a, nil
	}
	b, _ := io.ReadAll(resp.Body)
	a.body = string(b)
	return a, nil
}

// text returns result.content[0].text of a tools/call answer.
func (a rawAnswer) text(t testing.TB) string {
	t.Helper()
	var r struct {
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &r), a.body)
	require.NotEmpty(t, r.Result.Content, a.body)
	return r.Result.Content[0].Text
}

func (a rawAnswer) field(path ...string) string {
	return string(mcp.Lookup([]byte(a.body), path...))
}

func callerPid(t *testing.T, url, caller string) string {
	c := &rawClient{url: url, caller: caller}
	return c.post(t, "tools/call", map[string]any{"name": "pid", "arguments": map[string]any{}}).text(t)
}

// One caller's requests reach one live process (a stateful server keeps
// its state); different callers never share one, unless sessions: shared.
func TestStatelessRequestsKeepTheCallersProcess(t *testing.T) {
	t.Parallel()
	for _, era := range []string{EraModern, EraLegacy} {
		t.Run(era, func(t *testing.T) {
			t.Parallel()
			b := newBridge(t, func(c *Config) { c.Era = era })
			alice := &rawClient{url: b.URL, caller: "alice"}
			for i := 1; i <= 3; i++ {
				assert.Equal(t, fmt.Sprint(i), alice.post(t, "tools/call", map[string]any{"name": "counter", "arguments": map[string]any{}}).text(t))
			}
			assert.Equal(t, callerPid(t, b.URL, "alice"), callerPid(t, b.URL, "alice"))
			assert.NotEqual(t, callerPid(t, b.URL, "alice"), callerPid(t, b.URL, "bob"))

			shared := newBridge(t, func(c *Config) { c.Era, c.Shared = era, true })
			assert.Equal(t, callerPid(t, shared.URL, "alice"), callerPid(t, shared.URL, "bob"), "shared: one process")
		})
	}
}

// Concurrent requests of one caller with the same JSON-RPC id (two client
// instances) each get their own answer.
func TestStatelessRequestsWithTheSameID(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &rawClient{url: b.URL, caller: "alice"} // every client starts at id 1
			text := fmt.Sprintf("msg-%d", i)
			a, err := c.try("tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": text}}, nil)
			if assert.NoError(t, err) {
				assert.Equal(t, text, a.text(t))
				assert.Equal(t, "1", a.field("id"))
			}
		}()
	}
	wg.Wait()
}

// A legacy server (go-sdk v1.4.1, which knows nothing of 2026-07-28)
// behind a modern client: discovery from its initialize result, resultType
// and caching hints added, removed methods 404, resource-not-found
// renumbered with its URI.
func TestLegacyServerLooksModern(t *testing.T) {
	t.Parallel()
	_, legacy := conformance.ReferenceServers(t)
	b := newBridge(t, func(c *Config) { c.Starter = &ExecStarter{Command: []string{legacy}, Stderr: io.Discard} })
	c := &rawClient{url: b.URL}
	d := c.post(t, "server/discover", nil)
	assert.Equal(t, http.StatusOK, d.status, d.body)
	assert.JSONEq(t, `["2026-07-28","2025-11-25"]`, d.field("result", "supportedVersions"))
	assert.Equal(t, `"complete"`, d.field("result", "resultType"))
	assert.Contains(t, d.field("result", "_meta", api.MetaServerInfo), `"name"`)

	l := c.post(t, "tools/list", nil)
	assert.Equal(t, `"complete"`, l.field("result", "resultType"), l.body)
	assert.Equal(t, `0`, l.field("result", "ttlMs"))
	assert.Equal(t, `"private"`, l.field("result", "cacheScope"))
	assert.NotEmpty(t, l.field("result", "tools"))

	nf := c.post(t, "resources/read", map[string]any{"uri": "test://no-such-resource"})
	assert.Equal(t, "-32602", nf.field("error", "code"), nf.body)
	assert.Equal(t, `"test://no-such-resource"`, nf.field("error", "data", "uri"))

	for _, removed := range []string{"initialize", "ping", "logging/setLevel", "resources/subscribe"} {
		a := c.post(t, removed, nil)
		assert.Equal(t, http.StatusNotFound, a.status, removed)
		assert.Equal(t, "-32601", a.field("error", "code"), removed)
	}
}

// A tool's x-mcp-header arguments: the Mcp-Param-* headers must agree with
// the body (400, -32020), checked by the bridge since a stdio server never
// sees them; the first call of a tool makes the bridge list the tools.
func TestParamHeadersChecked(t *testing.T) {
	t.Parallel()
	for _, era := range []string{"modern", "legacy"} {
		t.Run(era, func(t *testing.T) {
			t.Parallel()
			b := newBridge(t, func(c *Config) { c.Era = era })
			for _, tt := range []struct {
				name, region, header string
				code                 string
			}{
				{"mirrored", "us-west1", "us-west1", ""},
				{"Base64", "Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?=", ""},
				{"mismatch", "eu", "us", "-32020"},
				{"missing", "eu", "", "-32020"},
			} {
				c := &rawClient{url: b.URL, header: http.Header{}}
				if tt.header != "" {
					c.header.Set("Mcp-Param-Region", tt.header)
				}
				a := c.post(t, "tools/call", map[string]any{"name": "region", "arguments": map[string]any{"region": tt.region}})
				if tt.code == "" {
					assert.Equal(t, http.StatusOK, a.status, "%s: %s", tt.name, a.body)
					assert.Contains(t, a.field("result", "content"), "region "+tt.region, tt.name)
					continue
				}
				assert.Equal(t, http.StatusBadRequest, a.status, "%s: %s", tt.name, a.body)
				assert.Equal(t, tt.code, a.field("error", "code"), tt.name)
			}
		})
	}
}

// The MRTR bridge: a legacy server's sampling request during a tool call
// becomes an InputRequiredResult; the retry with the answer completes the
// call; a tampered state, a state from another sidecar instance and a
// missing capability are refused clearly.
func TestMRTRBridge(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.Era = EraLegacy })
	c := &rawClient{url: b.URL, caller: "alice", caps: `{"sampling":{}}`}
	call := map[string]any{"name": "sample", "arguments": map[string]any{"text": "2+2?"}}
	r1 := c.post(t, "tools/call", call)
	require.Equal(t, `"input_required"`, r1.field("result", "resultType"), r1.body)
	req := r1.field("result", "inputRequests", "sampling-1", "method")
	assert.Equal(t, `"sampling/createMessage"`, req, r1.body)
	var state string
	require.NoError(t, json.Unmarshal([]byte(r1.field("result", "requestState")), &state))

	tampered := c.post(t, "tools/call", map[string]any{"name": "sample", "arguments": call["arguments"], "requestState": state + "x",
		"inputResponses": map[string]any{"sampling-1": map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": "4"}}}})
	assert.Equal(t, "-32602", tampered.field("error", "code"), tampered.body)

	other := newBridge(t, func(c *Config) { c.Era = EraLegacy })
	elsewhere := (&rawClient{url: other.URL, caller: "alice", caps: `{"sampling":{}}`}).post(t, "tools/call",
		map[string]any{"name": "sample", "arguments": call["arguments"], "requestState": state, "inputResponses": map[string]any{}})
	assert.Contains(t, elsewhere.field("error", "message"), "another instance", elsewhere.body)

	r2 := c.post(t, "tools/call", map[string]any{"name": "sample", "arguments": call["arguments"], "requestState": state,
		"inputResponses": map[string]any{"sampling-1": map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": "4"}, "model": "m"}}})
	assert.Equal(t, "sampled: 4", r2.text(t))
	assert.Equal(t, `"complete"`, r2.field("result", "resultType"))

	noCaps := (&rawClient{url: b.URL, caller: "bob"}).post(t, "tools/call", call)
	assert.Equal(t, http.StatusBadRequest, noCaps.status, noCaps.body)
	assert.Equal(t, fmt.Sprint(api.CodeMissingRequiredClientCapability), noCaps.field("error", "code"))
	assert.JSONEq(t, `{"sampling":{}}`, noCaps.field("error", "data", "requiredCapabilities"))
}

// A retry that never comes ends the waiting legacy request: a later retry
// gets a clear error naming what to do.
func TestMRTRRetryThatNeverComes(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.Era, c.MRTRTimeout = EraLegacy, 100*time.Millisecond })
	c := &rawClient{url: b.URL, caller: "alice", caps: `{"elicitation":{}}`}
	r1 := c.post(t, "tools/call", map[string]any{"name": "elicit", "arguments": map[string]any{"text": "name?"}})
	var state string
	require.NoError(t, json.Unmarshal([]byte(r1.field("result", "requestState")), &state), r1.body)
	require.Eventually(t, func() bool { return b.Manager.InFlight() == 0 }, 5*time.Second, 10*time.Millisecond, "the legacy request was cancelled")
	late := c.post(t, "tools/call", map[string]any{"name": "elicit", "arguments": map[string]any{"text": "name?"}, "requestState": state,
		"inputResponses": map[string]any{"elicitation-1": map[string]any{"action": "accept", "content": map[string]any{"name": "x"}}}})
	assert.Contains(t, late.field("error", "message"), "repeat the original request", late.body)
}

// Closing a stateless request's stream cancels it at the server.
func TestStatelessCancelOnClose(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	c := &rawClient{url: b.URL}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.try("tools/call", map[string]any{"name": "sleep", "arguments": map[string]any{"ms": 60000}}, ctx)
	}()
	require.Eventually(t, func() bool { return b.Manager.InFlight() == 1 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	<-done
	require.Eventually(t, func() bool { return b.Manager.InFlight() == 0 }, 5*time.Second, 5*time.Millisecond)
}

// A legacy client (the SDK at 2025-11-25) in front of a server that speaks
// only 2026-07-28: the sidecar plays the session. Tools are listed and
// called, a stateful tool keeps its state within the session, and an input
// request (MRTR) reaches the client as an elicitation and completes.
func TestLegacyClientOfAModernOnlyServer(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) {
		c.Starter = &ExecStarter{Command: []string{stdioServer, "-modern-only"}, Stderr: io.Discard}
	})
	require.Eventually(t, func() bool { return b.Manager.era.peek() != nil }, 10*time.Second, 10*time.Millisecond)
	require.True(t, b.Manager.era.peek().modernOnly())
	cs := connect(t, b.URL, mcp.LatestVersion, &sdk.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
			return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada " + req.Params.Message}}, nil
		},
	})
	assert.Equal(t, mcp.LatestVersion, cs.InitializeResult().ProtocolVersion)
	assert.Equal(t, "stdioserver", cs.InitializeResult().ServerInfo.Name)
	tools, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	assert.NotEmpty(t, tools.Tools)
	assert.Equal(t, "hi", callText(t, cs, "echo", map[string]any{"text": "hi"}))
	assert.Equal(t, "1", callText(t, cs, "counter", map[string]any{}))
	assert.Equal(t, "2", callText(t, cs, "counter", map[string]any{}), "the session keeps its process")
	assert.Equal(t, "hello Ada name?", callText(t, cs, "ask-name", map[string]any{}))
	require.NoError(t, cs.Ping(context.Background(), nil))
}
