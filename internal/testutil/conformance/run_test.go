package conformance

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunReferenceServers runs the suite through Run against the Go SDK's
// everything-server (hack/build-mcpservers.sh) in the HTTP modes where it
// conforms, and in one where it does not, so Run and RequireAllPass are
// tested on real runs of the suite.
func TestRunReferenceServers(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the suite and builds the reference servers")
	}
	t.Parallel()
	root, err := repoRoot()
	require.NoError(t, err)
	out, err := exec.CommandContext(t.Context(), filepath.Join(root, "hack", "build-mcpservers.sh")).Output()
	require.NoError(t, err)
	bins := strings.Fields(string(out))
	require.Len(t, bins, 2)
	current, legacy := bins[0], bins[1]

	tests := []struct {
		name     string
		server   []string
		revision string
		failed   []string // "scenario [check]" expected to fail; nil: RequireAllPass
	}{
		{name: "v1.8 stateless 2026-07-28", server: []string{current, "-stateless=true"}, revision: "2026-07-28"},
		{name: "v1.8 stateful 2025-11-25", server: []string{current, "-stateless=false"}, revision: "2025-11-25"},
		{name: "v1.4.1 2025-11-25", server: []string{legacy}, revision: "2025-11-25"},
		{
			// Stateless HTTP has no stream for server-to-client requests.
			name: "v1.8 stateless 2025-11-25", server: []string{current, "-stateless=true"}, revision: "2025-11-25",
			failed: []string{
				"tools-call-sampling [tools-call-sampling]",
				"tools-call-elicitation [tools-call-elicitation]",
				"elicitation-sep1034-defaults [elicitation-sep1034-general]",
				"elicitation-sep1330-enums [elicitation-sep1330-general]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := startServer(t, tt.server)
			res := Run(t, url, tt.revision)
			require.NotEmpty(t, res.Scenarios)
			if tt.failed == nil {
				RequireAllPass(t, res)
				return
			}
			var got []string
			for _, f := range res.Failures(false) {
				got = append(got, f.Scenario+" ["+f.CheckID+"]")
			}
			assert.ElementsMatch(t, tt.failed, got)
		})
	}
}

// startServer runs an everything-server on a free loopback port and returns
// its MCP URL once it accepts connections.
func startServer(t *testing.T, argv []string) string {
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
