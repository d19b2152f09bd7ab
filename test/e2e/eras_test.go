//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/conformance"
)

// Scenario 13: both protocol eras on the real cluster. The Go SDK v1.8
// reference server (both eras) and our legacy-only conformance server (Go
// SDK v1.4.1: initialize and sessions only) run as stdio servers behind the
// sidecar, and the legacy server also over streamable HTTP behind the
// sidecar's proxy mode. Real clients of both eras go through the gateway:
// the Go SDK v1.8 client with its defaults, the TypeScript SDK v2
// negotiating the era, and the TypeScript SDK v1. Then the official
// conformance suite runs both requirement sets through the gateway against
// both stdio servers.
const eraServers = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: modern
  labels: {mcp.archestra.io/server: modern}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/everything-server
spec:
  selector: {matchLabels: {app: modern}}
  template:
    metadata: {labels: {app: modern}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/everything-server:v1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy
  labels: {mcp.archestra.io/server: legacy}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/conformance-server
spec:
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/conformance-server:v1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy-http
  labels: {mcp.archestra.io/server: legacy-http}
  annotations:
    mcp.archestra.io/transport: streamable-http
    mcp.archestra.io/port: "3001"
    mcp.archestra.io/path: /mcp
spec:
  selector: {matchLabels: {app: legacy-http}}
  template:
    metadata: {labels: {app: legacy-http}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/conformance-server:v1
        args: ["-http", ":3001"]
        ports:
        - {name: http, containerPort: 3001}
`

// eraResult is what a client saw: the negotiated revision, its session (empty
// in 2026-07-28), the tools listed and the text of one tool call.
type eraResult struct {
	ProtocolVersion string   `json:"protocolVersion"`
	Session         string   `json:"session"`
	Tools           []string `json:"tools"`
	Text            string   `json:"text"`
}

const simpleText = "This is a simple text response for testing."

func TestProtocolEras(t *testing.T) {
	t.Parallel()
	ts := newTSClients(t)
	ns := namespace(t, "e2e-eras")
	apply(t, ns, eraServers)
	for _, d := range []string{"modern", "legacy", "legacy-http"} {
		waitReady(t, ns, d, 1)
	}

	t.Run("clients of both eras", func(t *testing.T) {
		for _, server := range []string{"modern", "legacy", "legacy-http"} {
			endpoint := gatewayURL + "/mcp/" + ns + "/" + server
			// Behind the stdio bridge every server speaks both eras; the
			// proxy passes a legacy HTTP server's own era through.
			modern := server != "legacy-http"
			t.Run(server, func(t *testing.T) {
				goRes, methods := goDefaultClient(t, endpoint)
				if modern {
					assertModern(t, goRes, "Go SDK")
					assert.Equal(t, api.MethodDiscover, methods[0], "the Go SDK's first request")
					assert.NotContains(t, methods, api.MethodInitialize, "the Go SDK fell back to initialize")
				} else {
					assertLegacy(t, goRes, "Go SDK")
					assert.Contains(t, methods, api.MethodInitialize)
				}
				v2 := ts.run(t, "v2", endpoint, "test_simple_text", "")
				if modern {
					assertModern(t, v2, "TypeScript SDK v2")
				} else {
					assertLegacy(t, v2, "TypeScript SDK v2")
				}
				assertLegacy(t, ts.run(t, "v1", endpoint, "test_simple_text", ""), "TypeScript SDK v1")
				assert.ElementsMatch(t, goRes.Tools, v2.Tools, "the same tools, whichever client lists them")
			})
		}
	})
	t.Run("elicitation of a legacy server", func(t *testing.T) {
		// A server->client request in 2025; for the 2026 client the bridge
		// turns it into an input_required round the SDK fulfils and retries.
		endpoint := gatewayURL + "/mcp/" + ns + "/legacy"
		const accepted = `Elicitation completed: action=accept, content={"email":"ada@example.com","username":"ada"}`
		for _, sdk := range []string{"v2", "v1"} {
			res := ts.run(t, sdk, endpoint, "test_elicitation", `{"message":"who are you?"}`,
				"MCP_ELICIT="+`{"username":"ada","email":"ada@example.com"}`)
			assert.Equal(t, accepted, res.Text, "TypeScript SDK %s", sdk)
		}
	})
	t.Run("conformance through the gateway", func(t *testing.T) {
		// One suite at a time: they are timing-sensitive and the rest of
		// the e2e suite runs beside them on two cores.
		base, exchanges := conformanceProxy(t)
		for _, server := range []string{"modern", "legacy"} {
			for _, rev := range []string{api.MCPVersion20260728, api.MCPVersion20251125} {
				t.Run(server+" "+rev, func(t *testing.T) {
					logsOnFailure(t, ns, server, exchanges)
					conformance.RequireAllPass(t, conformance.Run(t, base+"/mcp/"+ns+"/"+server, rev))
				})
			}
		}
	})
}

// logsOnFailure prints, when t fails, the requests through the
// conformance proxy and what the sidecars of ns/deploy and the gateway
// logged meanwhile.
func logsOnFailure(t *testing.T, ns, deploy string, exchanges *exchangeLog) {
	since := time.Now()
	t.Cleanup(func() {
		seen := exchanges.take()
		if !t.Failed() {
			return
		}
		t.Logf("requests through the conformance proxy:\n%s", strings.Join(seen, "\n"))
		window := "--since=" + (time.Since(since) + 5*time.Second).Round(time.Second).String()
		sidecar, _ := kubectl("-n", ns, "logs", "-l", "app="+deploy, "-c", "mcp-transport", "--prefix", window, "--tail=-1")
		gateway, _ := kubectl("-n", "mcp-system", "logs", "-l", "app.kubernetes.io/name=mcp-gateway", "--prefix", window, "--tail=-1")
		t.Logf("sidecar log of %s/%s:\n%s\ngateway log:\n%s", ns, deploy, sidecar, gateway)
	})
}

func assertModern(t *testing.T, r eraResult, who string) {
	t.Helper()
	assert.Equal(t, api.MCPVersion20260728, r.ProtocolVersion, who)
	assert.Empty(t, r.Session, "%s: no session in 2026-07-28", who)
	assert.Contains(t, r.Tools, "test_simple_text", who)
	assert.Equal(t, simpleText, r.Text, who)
}

func assertLegacy(t *testing.T, r eraResult, who string) {
	t.Helper()
	assert.True(t, strings.HasPrefix(r.ProtocolVersion, "2025-"), "%s negotiated %q", who, r.ProtocolVersion)
	assert.NotEmpty(t, r.Session, "%s: a legacy session", who)
	assert.Contains(t, r.Tools, "test_simple_text", who)
	assert.Equal(t, simpleText, r.Text, who)
}

// goDefaultClient connects the Go SDK client with its defaults, lists the
// tools and calls test_simple_text; it also returns the JSON-RPC methods of
// the requests it sent, in order.
func goDefaultClient(t *testing.T, endpoint string) (eraResult, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := &methodRecorder{base: bearer{noProxy()}}
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-go", Version: "v1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: rec}}, nil)
	require.NoError(t, err, "Go SDK client to %s", endpoint)
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	text, err := callText(ctx, cs, "test_simple_text", nil)
	require.NoError(t, err)
	r := eraResult{ProtocolVersion: cs.InitializeResult().ProtocolVersion, Session: cs.ID(), Text: text}
	for _, tool := range tools.Tools {
		r.Tools = append(r.Tools, tool.Name)
	}
	return r, rec.sent()
}

// methodRecorder notes the method of every JSON-RPC request POSTed through it.
type methodRecorder struct {
	base    http.RoundTripper
	mu      sync.Mutex
	methods []string
}

func (m *methodRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct{ Method string }
		if json.Unmarshal(body, &msg) == nil && msg.Method != "" {
			m.mu.Lock()
			m.methods = append(m.methods, msg.Method)
			m.mu.Unlock()
		}
	}
	return m.base.RoundTrip(r)
}

func (m *methodRecorder) sent() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.methods)
}

// tsClients runs tools/mcpclients/client.mjs on the pinned Node.
type tsClients struct{ node, script string }

func newTSClients(t *testing.T) tsClients {
	t.Helper()
	dir := filepath.Join(repoRoot, "tools/mcpclients")
	cmd := exec.Command(filepath.Join(repoRoot, "hack/npm-ci.sh"), dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "hack/npm-ci.sh tools/mcpclients")
	return tsClients{node: strings.TrimSpace(string(out)), script: filepath.Join(dir, "client.mjs")}
}

// run connects the TypeScript SDK client sdk (v2, v1: see client.mjs) to
// endpoint, lists the tools and calls tool with the JSON arguments.
func (c tsClients) run(t *testing.T, sdk, endpoint, tool, args string, env ...string) eraResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.node, c.script, sdk, endpoint, tool, args)
	// The token and nothing else of this process's environment (no proxy).
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "MCP_TOKEN=" + clientToken}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "TypeScript SDK %s client to %s:\n%s", sdk, endpoint, stderr.String())
	var r eraResult
	require.NoError(t, json.Unmarshal(out, &r), "client output %q", out)
	return r
}

// conformanceProxy serves the gateway on 127.0.0.1 with the client's token
// added: the suite sends no Authorization of its own. The Host the suite
// sends goes on unchanged, so its DNS-rebinding checks meet the gateway's.
func conformanceProxy(t *testing.T) (string, *exchangeLog) {
	t.Helper()
	target, err := url.Parse(gatewayURL)
	require.NoError(t, err)
	xl := &exchangeLog{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set("Authorization", "Bearer "+clientToken)
		},
		Transport:     noProxy(),
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			xl.note(r, "proxy error: "+err.Error())
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := httptest.NewServer(xl.wrap(rp))
	t.Cleanup(srv.Close)
	return srv.URL, xl
}

// exchangeLog keeps a line per request through the conformance proxy, for
// a failed run's log: what the suite asked, what it got, who hung up.
type exchangeLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *exchangeLog) note(r *http.Request, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%s %s %s %s: %s", time.Now().Format("15:04:05.000"), r.Method,
		r.Header.Get(api.HeaderMethod), r.Header.Get(api.HeaderName), what))
}

func (l *exchangeLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is read before anything is forwarded: once the answer's
		// headers go out, net/http discards what the handler left of the
		// request body, and the proxy's transport, still writing it to the
		// gateway (the last read, that finds its end), fails and drops the
		// connection with the answer half read.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			l.note(r, "reading the request: "+err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		began := time.Now()
		cw := &countingWriter{ResponseWriter: w}
		defer func() {
			end := "done"
			if p := recover(); p != nil {
				end = fmt.Sprint("aborted: ", p)
				defer panic(p)
			}
			l.note(r, fmt.Sprintf("status %d, %d bytes in %s, %s, client gone: %v", cw.status, cw.n, time.Since(began).Round(time.Millisecond), end, r.Context().Err() != nil))
		}()
		next.ServeHTTP(cw, r)
	})
}

// take returns the lines noted since the last take and forgets them (the
// conformance runs go one after the other).
func (l *exchangeLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int
}

func (c *countingWriter) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }
func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += n
	return n, err
}
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
