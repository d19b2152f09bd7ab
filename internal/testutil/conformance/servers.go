package conformance

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ReferenceServers builds (hack/build-mcpservers.sh, cached) and returns the
// reference MCP servers: the Go SDK v1.8's everything-server (both eras;
// stdio, or HTTP with -http ADDR and -stateless) and our legacy conformance
// server on go-sdk v1.4.1 (the initialize era only; stdio, or -http ADDR).
func ReferenceServers(t testing.TB) (modern, legacy string) {
	t.Helper()
	current, oldSDK := everythingServers(t)
	return current, filepath.Join(filepath.Dir(oldSDK), "conformance-server")
}

// everythingServers are the Go SDK's own servers of both pinned versions.
func everythingServers(t testing.TB) (current, legacy string) {
	t.Helper()
	root, err := repoRoot()
	require.NoError(t, err)
	out, err := exec.Command(filepath.Join(root, "hack", "build-mcpservers.sh")).Output()
	require.NoError(t, err)
	bins := strings.Fields(string(out))
	require.Len(t, bins, 2)
	return bins[0], bins[1]
}

// StartHTTPServer runs a reference server with -http on a free loopback
// port (argv: the binary and its other flags) and returns its MCP URL once
// it accepts connections; the server is killed at cleanup.
func StartHTTPServer(t testing.TB, argv []string) string {
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
