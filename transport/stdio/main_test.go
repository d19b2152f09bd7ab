package stdio

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/transport/health"
	"github.com/archestra-ai/mcp-orchestrator/transport/httpguard"
	"github.com/archestra-ai/mcp-orchestrator/transport/metrics"
)

// stdioServer is the path of the Go-SDK test server, built once.
var stdioServer string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stdio-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stdioServer = filepath.Join(dir, "stdioserver")
	cmd := exec.Command("go", "build", "-o", stdioServer, "github.com/archestra-ai/mcp-orchestrator/transport/testdata/stdioserver")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type bridge struct {
	URL     string
	Manager *Manager
	Metrics *metrics.Metrics
	Health  *health.Tracker
}

type option func(*Config)

// newBridge serves a Manager in front of the Go-SDK stdio test server.
func newBridge(t testing.TB, opts ...option) *bridge {
	t.Helper()
	met := metrics.New()
	cfg := Config{
		Starter:  &ExecStarter{Command: []string{stdioServer}, Stderr: io.Discard},
		WarmPool: 1,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:  met,
		Health:   health.NewTracker(time.Minute),
		// The caller as the tests state it; in the sidecar only a verified
		// gateway connection does (transport/gatewayauth).
		Caller: func(r *http.Request) string { return r.Header.Get(api.HeaderCallerUser) },
	}
	for _, o := range opts {
		o(&cfg)
	}
	m := NewManager(cfg)
	mux := http.NewServeMux()
	mux.Handle("/mcp", httpguard.Wrap(httpguard.Config{
		Origins:      httpguard.ParseOrigins("https://allowed.example"),
		Hosts:        httpguard.ParseHosts(""),
		MaxBodyBytes: 64 * 1024,
		PassVersions: true, // as mcp-transport serve: the Manager judges versions
	}, m))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		m.Close()
		srv.Close()
	})
	return &bridge{URL: srv.URL + "/mcp", Manager: m, Metrics: met, Health: cfg.Health}
}

// dial opens an SDK client session through the bridge; safe to use from
// any goroutine (it never calls FailNow).
func dial(t testing.TB, url string, version string, copts *sdk.ClientOptions) (*sdk.ClientSession, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, copts)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url}, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs, nil
}

// call runs a tool and returns its single text result; goroutine-safe.
func call(cs *sdk.ClientSession, name string, args any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) != 1 {
		return "", fmt.Errorf("tool %s: unexpected result %+v", name, res)
	}
	tc, ok := res.Content[0].(*sdk.TextContent)
	if !ok {
		return "", fmt.Errorf("tool %s: not text", name)
	}
	return tc.Text, nil
}

// connect is dial for the test goroutine.
func connect(t *testing.T, url string, version string, copts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	cs, err := dial(t, url, version, copts)
	require.NoError(t, err)
	return cs
}

// callText is call for the test goroutine.
func callText(t *testing.T, cs *sdk.ClientSession, name string, args any) string {
	t.Helper()
	out, err := call(cs, name, args)
	require.NoError(t, err)
	return out
}
