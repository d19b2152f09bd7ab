package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport/health"
	"github.com/archestra-ai/mcp-orchestrator/transport/httpguard"
	"github.com/archestra-ai/mcp-orchestrator/transport/metrics"
)

type empty struct{}

// upstream is an MCP server over streamable HTTP written with the SDK.
func upstream(t *testing.T, release <-chan struct{}) *httptest.Server {
	t.Helper()
	s := sdk.NewServer(&sdk.Implementation{Name: "upstream", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "header"}, func(_ context.Context, req *sdk.CallToolRequest, _ empty) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: req.Extra.Header.Get("X-Api-Key")}}}, nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "progress-then-wait"}, func(ctx context.Context, req *sdk.CallToolRequest, _ empty) (*sdk.CallToolResult, any, error) {
		if err := req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: 1}); err != nil {
			return nil, nil, err
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "released"}}}, nil, nil
	})
	srv := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	t.Cleanup(srv.Close)
	return srv
}

func newProxy(t *testing.T, up string, headersDir string) (string, *health.Tracker) {
	endpoint, hl, _ := newProxyWithMetrics(t, up, headersDir)
	return endpoint, hl
}

func newProxyWithMetrics(t *testing.T, up string, headersDir string) (string, *health.Tracker, *metrics.Metrics) {
	t.Helper()
	u, err := url.Parse(up)
	require.NoError(t, err)
	hl := health.NewTracker(time.Minute)
	met := metrics.New()
	p := New(Config{
		Upstream: u, HeadersDir: headersDir, HeadersTTL: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: met, Health: hl,
		ProbeInterval: 50 * time.Millisecond,
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", httpguard.Wrap(httpguard.Config{Origins: httpguard.ParseOrigins(""), MaxBodyBytes: 1024}, p))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		p.Close()
		srv.Close()
	})
	return srv.URL + "/mcp", hl, met
}

func connect(t *testing.T, endpoint string, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "t", Version: "1"}, opts)
	cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: endpoint}, &sdk.ClientSessionOptions{ProtocolVersion: mcp.LatestVersion})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func call(t *testing.T, cs *sdk.ClientSession, name string, meta sdk.Meta) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: map[string]any{}, Meta: meta})
	require.NoError(t, err)
	return res.Content[0].(*sdk.TextContent).Text
}

func TestProxyAddsHeadersAndPicksUpChanges(t *testing.T) {
	t.Parallel()
	up := upstream(t, nil)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "X-Api-Key"), []byte("secret-1\n"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "..data"), 0o700)) // Secret volume internals are ignored
	endpoint, hl := newProxy(t, up.URL, dir)
	cs := connect(t, endpoint, nil)
	assert.Equal(t, "secret-1", call(t, cs, "header", nil))
	// Replace the file atomically, as the kubelet updates a Secret volume: an
	// in-place write can be read half done (empty) by the 20 ms re-read.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".X-Api-Key.tmp"), []byte("secret-2"), 0o600))
	require.NoError(t, os.Rename(filepath.Join(dir, ".X-Api-Key.tmp"), filepath.Join(dir, "X-Api-Key")))
	require.Eventually(t, func() bool { return call(t, cs, "header", nil) == "secret-2" }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { ok, _ := hl.Ready(); return ok }, 5*time.Second, 10*time.Millisecond)
}

// The progress event must reach the client while the upstream still holds
// the response open: proof that SSE is not buffered.
func TestProxyStreamsSSEPerEvent(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := upstream(t, release)
	endpoint, _ := newProxy(t, up.URL, "")
	gotProgress := make(chan struct{})
	cs := connect(t, endpoint, &sdk.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *sdk.ProgressNotificationClientRequest) { close(gotProgress) },
	})
	done := make(chan string, 1)
	go func() {
		// Not call(): no FailNow outside the test goroutine.
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "progress-then-wait", Arguments: map[string]any{}, Meta: sdk.Meta{"progressToken": "p"}})
		if err != nil {
			done <- err.Error()
			return
		}
		done <- res.Content[0].(*sdk.TextContent).Text
	}()
	select {
	case <-gotProgress:
	case <-time.After(10 * time.Second):
		t.Fatal("progress not streamed before the response")
	}
	close(release)
	assert.Equal(t, "released", <-done)
}

func TestProxyErrors(t *testing.T) {
	t.Parallel()
	up := upstream(t, nil)
	endpoint, _, met := newProxyWithMetrics(t, up.URL, "")
	post := func(body string, hdr ...string) int {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusForbidden, post(`{}`, "Origin", "https://evil.example"))
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(strings.Repeat("x", 2000)))
	assert.Equal(t, http.StatusBadRequest, post(`{}`, "MCP-Protocol-Version", "nope"))
	assert.Equal(t, http.StatusBadRequest, post(`{"jsonrpc":`), "malformed JSON: -32700 from the sidecar")
	assert.Equal(t, http.StatusOK, post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`))
	scrape := func() string {
		rec := httptest.NewRecorder()
		met.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	assert.Contains(t, scrape(), `mcp_transport_requests_total{method="initialize"} 1`)
	// The duration is observed once the response has been copied out, a
	// moment after the client has it.
	require.Eventually(t, func() bool {
		return strings.Contains(scrape(), `mcp_transport_request_duration_seconds_count{method="initialize"} 1`)
	}, 5*time.Second, 5*time.Millisecond, "metrics: %s", scrape())

	dead, _ := newProxy(t, "http://127.0.0.1:1/mcp", "")
	req, _ := http.NewRequest(http.MethodPost, dead, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
}

func TestReadHeaderDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Authorization"), []byte("Bearer x\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad name"), []byte("v"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".hidden"), []byte("v"), 0o600))
	hs, err := readHeaderDir(dir)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"Authorization": "Bearer x"}, hs)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "X-Multi"), []byte("a\nb"), 0o600))
	_, err = readHeaderDir(dir)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "a\nb", "values never appear in errors")
}
