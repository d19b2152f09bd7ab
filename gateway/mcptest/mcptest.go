// Package mcptest provides real MCP servers and clients (the official Go
// SDK) for the gateway's tests and benchmarks: a backend stands in for one
// MCP pod. It is imported by tests only.
package mcptest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Backend is a streamable-http MCP server on 127.0.0.1, one fake pod. It
// also answers the sidecar's /readyz (503 while NotReady) and /metrics,
// whose gauge of open sessions is Open (hibernation asks both).
type Backend struct {
	Name string
	Port int
	URL  string
	// Server is the SDK server, for tests that change its tools.
	Server *mcp.Server
	// Open is the sessions count its /metrics reports; NotReady fails its
	// /readyz (hibernation tests).
	Open     atomic.Int64
	NotReady atomic.Bool
	srv      *http.Server

	mu   sync.Mutex
	seen []Seen
}

// Seen is a request as the backend received it.
type Seen struct {
	Method string // HTTP method
	Header http.Header
}

// Seen returns the requests the backend has received so far.
func (b *Backend) Seen() []Seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

// SeenMCP returns the Mcp-Method header of every request received so far
// ("" for requests without one, such as a legacy client's).
func (b *Backend) SeenMCP() []string {
	var out []string
	for _, s := range b.Seen() {
		out = append(out, s.Header.Get(api.HeaderMethod))
	}
	return out
}

func (b *Backend) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, Seen{Method: r.Method, Header: r.Header.Clone()})
		b.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

type echoIn struct {
	Text string `json:"text"`
}

type progressIn struct {
	Steps int `json:"steps"`
}

// NewBackend starts a backend named name with the tools "echo" (answers
// "<name>: <text>"), "whoami", "secret", "header" (answers the value of
// the request header named by text) and "progress" (sends steps progress
// notifications, then answers). It stops when t ends.
func NewBackend(t testing.TB, name string) *Backend {
	t.Helper()
	return NewBackendWith(t, name, nil)
}

// NewStatelessBackend is NewBackend serving the 2026-07-28 revision: a
// stateless server, as MCP Go SDK v1.8 serves it (no sessions; legacy
// clients get sessionless answers too).
func NewStatelessBackend(t testing.TB, name string, jsonResponse bool) *Backend {
	t.Helper()
	return NewBackendWith(t, name, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: jsonResponse})
}

// NewBackendWith is NewBackend with handler options (JSONResponse makes
// the server answer POSTs with application/json instead of event streams).
func NewBackendWith(t testing.TB, name string, opts *mcp.StreamableHTTPOptions) *Backend {
	t.Helper()
	s := newServer(name)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	b := &Backend{Name: name, Port: ln.Addr().(*net.TCPAddr).Port, Server: s}
	mux := http.NewServeMux()
	mux.Handle("/mcp", b.record(h))
	mux.HandleFunc("GET "+api.ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if b.NotReady.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET "+api.MetricsPath, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE %s gauge\n%s %d\n%s 0\n", api.MetricSessions, api.MetricSessions, b.Open.Load(), api.MetricInFlight)
	})
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	b.URL = "http://" + ln.Addr().String() + "/mcp"
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(b.Close)
	return b
}

// Handler is the MCP streamable-HTTP handler of a backend (NewBackend's
// tools), for tests that serve it themselves (behind TLS, say).
func Handler(name string, opts *mcp.StreamableHTTPOptions) http.Handler {
	s := newServer(name)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)
}

// newServer is a backend's MCP server and its tools.
func newServer(name string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "test"}, nil)
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "echo the text"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return text(name + ": " + in.Text), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "the backend's name"}, func(_ context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		return text(name), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "secret", Description: "a tool the allow-list hides"}, func(_ context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		return text("the secret"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "header", Description: "the value of a request header, as the server saw it"}, func(_ context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		v := ""
		if req.Extra != nil && req.Extra.Header != nil {
			v = req.Extra.Header.Get(in.Text)
		}
		return text(v), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "progress", Description: "progress notifications"}, func(ctx context.Context, req *mcp.CallToolRequest, in progressIn) (*mcp.CallToolResult, any, error) {
		tok := req.Params.GetProgressToken()
		for i := 1; i <= in.Steps; i++ {
			if tok != nil {
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: float64(in.Steps)}); err != nil {
					return nil, nil, err
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		return text(fmt.Sprintf("%d steps", in.Steps)), nil, nil
	})
	return s
}

// Close stops the backend at once (a crashed pod).
func (b *Backend) Close() { _ = b.srv.Close() }

// Pod returns a running, ready pod of namespace/server whose endpoint is
// this backend; its UID is left for the API server (or the caller) to set.
func (b *Backend) Pod(namespace, server, name string, ann map[string]string) *corev1.Pod {
	a := map[string]string{
		api.PodAnnEndpointPort: strconv.Itoa(b.Port),
		api.PodAnnEndpointPath: "/mcp",
		api.PodAnnTransport:    "streamable-http",
	}
	for k, v := range ann {
		a[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: name,
			Labels:      map[string]string{api.ServerLabel: server},
			Annotations: a,
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mcp-server", Image: "example/mcp:1"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "127.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

// Connect opens an SDK client session to endpoint. token, if set, is sent
// as a bearer token. opts may be nil.
func Connect(ctx context.Context, endpoint, token string, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	hc := &http.Client{}
	if token != "" {
		hc.Transport = bearer{token: token, next: http.DefaultTransport}
	}
	return ConnectWith(ctx, endpoint, hc, opts)
}

// ConnectWith opens an SDK client session over hc (benchmarks pass a
// transport that keeps enough idle connections for their concurrency).
func ConnectWith(ctx context.Context, endpoint string, hc *http.Client, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	c := mcp.NewClient(&mcp.Implementation{Name: "gateway-test", Version: "test"}, opts)
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}, nil)
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// Text returns the text of a tool result's first content, or the error.
func Text(res *mcp.CallToolResult, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if len(res.Content) == 0 {
		return "", fmt.Errorf("empty result")
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return "", fmt.Errorf("content is %T", res.Content[0])
	}
	if res.IsError {
		return "", fmt.Errorf("tool error: %s", tc.Text)
	}
	return tc.Text, nil
}

// Call calls a tool and returns its text.
func Call(ctx context.Context, cs *mcp.ClientSession, tool string, args any) (string, error) {
	return Text(cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args}))
}
