package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/conformance"
	"github.com/archestra-ai/mcp-orchestrator/transport/health"
	"github.com/archestra-ai/mcp-orchestrator/transport/httpguard"
	"github.com/archestra-ai/mcp-orchestrator/transport/metrics"
)

// The official conformance suite through the sidecar's proxy mode, which
// passes both eras through unchanged: in front of a legacy HTTP server (our
// legacy conformance server, go-sdk v1.4.1) and of a modern one (the Go
// SDK v1.8's everything-server, stateless and stateful), for both
// requirement sets. Where the server conforms, every check passes; where it
// does not (a legacy server has no 2026-07-28; go-sdk's stateless HTTP mode
// cannot send server requests, its stateful mode refuses 2026-07-28), the
// proxy adds no failure: every check it fails, the server fails when called
// directly (it fails fewer: it refuses malformed stateless requests itself).
func TestConformanceThroughTheProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite (Node.js)")
	}
	t.Parallel()
	modern, legacy := conformanceServers(t)
	for _, tt := range []struct {
		name     string
		server   []string
		conforms map[string]bool // by revision
	}{
		{"legacy", []string{legacy}, map[string]bool{"2025-11-25": true}},
		{"modern stateless", []string{modern, "-stateless=true"}, map[string]bool{"2026-07-28": true}},
		{"modern stateful", []string{modern, "-stateless=false"}, map[string]bool{"2025-11-25": true}},
	} {
		for _, rev := range []string{"2026-07-28", "2025-11-25"} {
			t.Run(tt.name+" "+rev, func(t *testing.T) {
				t.Parallel()
				direct := startHTTPServer(t, tt.server)
				res := conformance.Run(t, proxyFor(t, direct), rev)
				if tt.conforms[rev] {
					conformance.RequireAllPass(t, res)
					return
				}
				want := failedChecks(conformance.Run(t, direct, rev))
				require.NotEmpty(t, want, "the server fails nothing directly: it conforms")
				assert.Subset(t, want, failedChecks(res), "through the proxy, only the server's own failures")
			})
		}
	}
}

func failedChecks(r conformance.Result) []string {
	var out []string
	for _, f := range r.Failures(false) {
		out = append(out, f.Scenario+" ["+f.CheckID+"]")
	}
	sort.Strings(out)
	return out
}

// proxyFor serves a Proxy to upstream behind the sidecar's request guard
// and returns its MCP URL.
func proxyFor(t *testing.T, upstream string) string {
	t.Helper()
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	p := New(Config{Upstream: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New(), Health: health.NewTracker(time.Minute)})
	t.Cleanup(p.Close)
	mux := http.NewServeMux()
	mux.Handle("/mcp", httpguard.Wrap(httpguard.Config{
		Origins: httpguard.ParseOrigins(""), Hosts: httpguard.ParseHosts(""), MaxBodyBytes: 4 << 20, PassVersions: true,
	}, p))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp"
}

// conformanceServers builds the reference servers (hack/build-mcpservers.sh).
func conformanceServers(t *testing.T) (modern, legacy string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out, err := exec.CommandContext(t.Context(), filepath.Join(root, "hack", "build-mcpservers.sh")).Output()
	require.NoError(t, err)
	bins := strings.Fields(string(out))
	require.Len(t, bins, 2)
	return bins[0], filepath.Join(filepath.Dir(bins[1]), "conformance-server")
}

// startHTTPServer runs a reference server with -http on a free loopback
// port and returns its URL once it accepts connections.
func startHTTPServer(t *testing.T, argv []string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	cmd := exec.Command(argv[0], append([]string{"-http", addr}, argv[1:]...)...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "server on %s", addr)
	return "http://" + addr + "/"
}
