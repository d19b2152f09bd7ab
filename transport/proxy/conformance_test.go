package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
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
	modern, legacy := conformance.ReferenceServers(t)
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
				direct := conformance.StartHTTPServer(t, tt.server)
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
