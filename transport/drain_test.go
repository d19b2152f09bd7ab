package transport_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport"
	"github.com/archestra-ai/mcp-orchestrator/transport/stdio"
)

// sdkUpstream is a streamable-http MCP server with the stdioserver's
// "sample" tool (it asks the client's model, so the client's sampling
// handler decides when the call ends).
func sdkUpstream(t *testing.T) string {
	t.Helper()
	s := sdk.NewServer(&sdk.Implementation{Name: "upstream", Version: "1"}, nil)
	type in struct {
		Text string `json:"text"`
	}
	sdk.AddTool(s, &sdk.Tool{Name: "sample"}, func(ctx context.Context, req *sdk.CallToolRequest, a in) (*sdk.CallToolResult, any, error) {
		res, err := req.Session.CreateMessage(ctx, &sdk.CreateMessageParams{
			MaxTokens: 10, Messages: []*sdk.SamplingMessage{{Role: "user", Content: &sdk.TextContent{Text: a.Text}}},
		})
		if err != nil {
			return nil, nil, err
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "sampled: " + res.Content.(*sdk.TextContent).Text}}}, nil, nil
	})
	srv := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp"
}

// serveInProcess runs transport.Serve and returns its base URL (https
// when it authenticates its caller).
func serveInProcess(t *testing.T, o transport.Options) string {
	t.Helper()
	addr := make(chan net.Addr, 1)
	o.Listen, o.Path, o.MaxBodyBytes = "127.0.0.1:0", "/mcp", 1<<20
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.OnListen = func(a net.Addr) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- transport.Serve(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		<-errc
	})
	select {
	case a := <-addr:
		if o.ClientCAFile != "" {
			return "https://" + a.String()
		}
		return "http://" + a.String()
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not listen")
	}
	return ""
}

func post(t *testing.T, url, body string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

type drainResult struct {
	status int
	body   string
	err    error
}

func callDrain(url string) <-chan drainResult {
	out := make(chan drainResult, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- drainResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- drainResult{status: resp.StatusCode, body: string(b)}
	}()
	return out
}

func awaitDrain(t *testing.T, ch <-chan drainResult) drainResult {
	t.Helper()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("/drain did not answer")
	}
	return drainResult{}
}

// The preStop hook's GET /drain: readiness off and new sessions refused at
// once, the answer held until the tool call in flight is done (the client's
// open GET stream does not count), bounded by the shutdown grace; calling it
// again is harmless.
func TestDrainEndpointWaitsForInFlightRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mode  string
		grace time.Duration
		// releaseFirst: the call finishes before the grace period ends.
		releaseFirst bool
	}{
		{"stdio waits for the call", api.TransportStdio, 20 * time.Second, true},
		{"stdio gives up after the grace period", api.TransportStdio, 300 * time.Millisecond, false},
		{"streamable-http waits for the call", api.TransportStreamableHTTP, 20 * time.Second, true},
		{"streamable-http gives up after the grace period", api.TransportStreamableHTTP, 300 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := transport.Options{Mode: tt.mode, ShutdownGrace: tt.grace}
			if tt.mode == api.TransportStdio {
				o.Sessions = "per-session"
				o.Starter = &stdio.ExecStarter{Command: []string{stdioServer}, Stderr: io.Discard}
			} else {
				o.Upstream = sdkUpstream(t)
			}
			base := serveInProcess(t, o)

			release := make(chan struct{})
			var releaseOnce sync.Once
			releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(releaseAll)
			sampling := make(chan struct{}, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := sdk.NewClient(&sdk.Implementation{Name: "drain", Version: "1"}, &sdk.ClientOptions{
				CreateMessageHandler: func(context.Context, *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
					sampling <- struct{}{}
					<-release
					return &sdk.CreateMessageResult{Model: "m", Role: "assistant", Content: &sdk.TextContent{Text: "late"}}, nil
				},
			})
			cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: base + "/mcp"}, &sdk.ClientSessionOptions{ProtocolVersion: mcp.LatestVersion})
			require.NoError(t, err)
			t.Cleanup(func() { _ = cs.Close() })
			require.Eventually(t, func() bool { c, _ := get(t, base+"/readyz"); return c == http.StatusOK }, 20*time.Second, 10*time.Millisecond)

			type callResult struct {
				text string
				err  error
			}
			callDone := make(chan callResult, 1)
			go func() {
				res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "sample", Arguments: map[string]any{"text": "q"}})
				if err != nil {
					callDone <- callResult{err: err}
					return
				}
				callDone <- callResult{text: res.Content[0].(*sdk.TextContent).Text}
			}()
			select {
			case <-sampling: // the call is in flight, held by the client
			case <-ctx.Done():
				t.Fatal("the tool call never reached the client's sampling handler")
			}

			first, second := callDrain(base+api.DrainPath), callDrain(base+api.DrainPath)
			require.Eventually(t, func() bool { c, _ := get(t, base+"/readyz"); return c == http.StatusServiceUnavailable }, 10*time.Second, 10*time.Millisecond)
			status, hdr := post(t, base+"/mcp", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+mcp.LatestVersion+`","capabilities":{},"clientInfo":{"name":"late","version":"1"}}}`)
			assert.Equal(t, http.StatusServiceUnavailable, status, "no new session while draining")
			assert.NotEmpty(t, hdr.Get("Retry-After"))

			if tt.releaseFirst {
				select {
				case r := <-first:
					t.Fatalf("/drain answered with a call in flight: %+v", r)
				case r := <-second:
					t.Fatalf("/drain answered with a call in flight: %+v", r)
				default:
				}
				releaseAll()
				got := <-callDone
				require.NoError(t, got.err, "the call in flight completes during the drain")
				assert.Equal(t, "sampled: late", got.text)
				for _, ch := range []<-chan drainResult{first, second} {
					r := awaitDrain(t, ch)
					assert.Equal(t, http.StatusOK, r.status)
					assert.Contains(t, r.body, "drained")
				}
			} else {
				for _, ch := range []<-chan drainResult{first, second} {
					r := awaitDrain(t, ch)
					assert.Equal(t, http.StatusOK, r.status)
					assert.Contains(t, r.body, "grace period")
				}
				select {
				case got := <-callDone:
					t.Fatalf("the call ended before it was released: %+v", got)
				default:
				}
				releaseAll()
				require.NoError(t, (<-callDone).err)
			}
			// Called again after the drain: answers at once, the same way.
			r := awaitDrain(t, callDrain(base+api.DrainPath))
			assert.Equal(t, http.StatusOK, r.status)
			// Requests of existing sessions are still served.
			_, err = cs.ListTools(ctx, nil)
			require.NoError(t, err)
		})
	}
}
