package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

var (
	binDir       string
	transportBin string
	stdioServer  string
	floorServer  string // BenchmarkSidecarHop's floor
)

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	transportBin = filepath.Join(binDir, "mcp-transport")
	stdioServer = filepath.Join(binDir, "stdioserver")
	floorServer = filepath.Join(binDir, "floorserver")
	for out, pkg := range map[string]string{
		transportBin: "github.com/archestra-ai/mcp-orchestrator/cmd/mcp-transport",
		stdioServer:  "github.com/archestra-ai/mcp-orchestrator/transport/testdata/stdioserver",
		floorServer:  "github.com/archestra-ai/mcp-orchestrator/transport/testdata/floorserver",
	} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	logs *testutil.Buffer
	done chan error
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(transportBin, args...), logs: &testutil.Buffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s logs:\n%s", args[0], p.logs.String())
		}
	})
	return p
}

// addr waits for the sidecar's "serving" log line and returns its address.
func (p *proc) addr(t testing.TB) string {
	t.Helper()
	var addr string
	require.Eventually(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
		for sc.Scan() {
			var l struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "mcp-transport serving" {
				addr = l.Addr
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond)
	return addr
}

func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("process did not exit")
	}
	return nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func connect(t *testing.T, endpoint string) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "e2e", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: endpoint}, &sdk.ClientSessionOptions{ProtocolVersion: mcp.LatestVersion})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callText(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", err
	}
	return res.Content[0].(*sdk.TextContent).Text, nil
}

// The real pod layout: `launch` owns the processes, `serve` talks to it over
// the unix socket, both as separate processes of the built binary.
func TestSidecarWithLauncher(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(shortDir(t), "run", "launcher.sock")
	// The sidecar starts first, as a native sidecar does: it must wait for
	// the launcher.
	side := start(t, "serve", "--listen", "127.0.0.1:0", "--mode", "stdio", "--launcher-socket", sock, "--warm-pool", "1", "--shutdown-grace", "10s")
	base := "http://" + side.addr(t)
	code, body := get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.Equal(t, http.StatusOK, func() int { c, _ := get(t, base+"/healthz"); return c }())

	launch := start(t, "launch", "--socket", sock, "--kill-grace", "2s", "--", stdioServer)
	require.Eventually(t, func() bool { c, _ := get(t, base+"/readyz"); return c == http.StatusOK }, 30*time.Second, 20*time.Millisecond,
		"readiness needs a real initialize handshake through the launcher")

	cs := connect(t, base+"/mcp")
	out, err := callText(t, cs, "echo", map[string]any{"text": "through the launcher"})
	require.NoError(t, err)
	assert.Equal(t, "through the launcher", out)

	// Crash: the error names the exit status, the crash is in the log with
	// the process label, the session is gone.
	_, err = callText(t, cs, "crash", map[string]any{"code": 4})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 4")
	// The prefix names the process and the session (a hash of its id: the
	// id itself is a bearer credential and never logged).
	sum := sha256.Sum256([]byte(cs.ID()))
	wantPrefix := " session=" + hex.EncodeToString(sum[:4]) + "] crashing on purpose"
	require.Eventually(t, func() bool { return strings.Contains(launch.logs.String(), wantPrefix) }, 10*time.Second, 10*time.Millisecond)
	assert.NotContains(t, launch.logs.String()+side.logs.String(), cs.ID(), "session ids are never logged")

	_, metricsBody := get(t, base+"/metrics")
	for _, name := range []string{"mcp_transport_sessions", "mcp_transport_requests_in_flight", "mcp_transport_process_starts_total", "mcp_transport_process_exits_total", `mcp_transport_requests_total{method="tools/call"}`, "mcp_transport_request_duration_seconds_bucket", "mcp_transport_errors_total"} {
		assert.Contains(t, metricsBody, name)
	}

	// SIGTERM with a request in flight: it is drained, then the sidecar exits.
	cs2 := connect(t, base+"/mcp")
	slow := make(chan error, 1)
	go func() {
		_, err := callText(t, cs2, "sleep", map[string]any{"ms": 1500})
		slow <- err
	}()
	require.Eventually(t, func() bool {
		_, m := get(t, base+"/metrics")
		return strings.Contains(m, `mcp_transport_requests_total{method="tools/call"} 3`)
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, side.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-slow, "in-flight request must complete during the drain")
	require.NoError(t, side.wait(t))
	assert.Contains(t, side.logs.String(), "shutting down")

	// The launcher stops its remaining children on SIGTERM and exits.
	require.NoError(t, launch.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, launch.wait(t))
}

func TestInstallCopiesBinaryAtomically(t *testing.T) {
	t.Parallel()
	dest := filepath.Join(t.TempDir(), "bin", "mcp-transport")
	p := start(t, "install", "--dest", dest)
	require.NoError(t, p.wait(t))
	st, err := os.Stat(dest)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())
	want, err := os.ReadFile(transportBin)
	require.NoError(t, err)
	got, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got))
	entries, err := os.ReadDir(filepath.Dir(dest))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temp file left behind")
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--mode", "nope"},
		{"serve", "--mode", "streamable-http"},
		{"serve", "--sessions", "sometimes"},
		{"launch", "--socket", "/tmp/x.sock"},
		{"bogus"},
	} {
		p := start(t, args...)
		assert.Error(t, p.wait(t), "%v", args)
	}
}

// The real server-everything in its own streamable-http mode, behind the
// sidecar's proxy mode.
func TestProxyModeWithServerEverything(t *testing.T) {
	t.Parallel()
	prefix, err := filepath.Abs("testdata/npm")
	require.NoError(t, err)
	entry := filepath.Join(prefix, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(entry); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("server-everything is not installed (run: npm ci --prefix transport/testdata/npm): %v", err)
		}
		t.Skip("server-everything not installed; run: npm ci --prefix transport/testdata/npm")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	node := exec.Command("node", entry, "streamableHttp")
	node.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	require.NoError(t, node.Start())
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })

	side := start(t, "serve", "--listen", "127.0.0.1:0", "--mode", "streamable-http", "--upstream", fmt.Sprintf("http://127.0.0.1:%d/mcp", port))
	base := "http://" + side.addr(t)
	require.Eventually(t, func() bool { c, _ := get(t, base+"/readyz"); return c == http.StatusOK }, 30*time.Second, 20*time.Millisecond)
	cs := connect(t, base+"/mcp")
	out, err := callText(t, cs, "echo", map[string]any{"message": "via proxy"})
	require.NoError(t, err)
	assert.Equal(t, "Echo: via proxy", out)
}
