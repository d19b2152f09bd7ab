package launcher

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

func startServer(t *testing.T, cmd ...string) (*Client, *testutil.Buffer, context.CancelFunc, func() error) {
	t.Helper()
	// Unix socket paths are limited to ~108 bytes; t.TempDir can be long.
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "l.sock")
	stderr := &testutil.Buffer{}
	srv := &Server{Socket: sock, Command: cmd, Stderr: stderr, KillGrace: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	wait := sync.OnceValue(func() error { return <-errc })
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	c := &Client{Socket: sock}
	require.Eventually(t, func() bool {
		p, err := c.Start(context.Background(), "probe")
		if err != nil {
			return false
		}
		p.Stop()
		<-p.Done()
		return true
	}, 5*time.Second, 10*time.Millisecond)
	return c, stderr, cancel, wait
}

func TestLauncherRoundTripAndExitStatus(t *testing.T) {
	t.Parallel()
	c, stderr, _, _ := startServer(t, "sh", "-c", `read x; echo "got:$x"; while read y; do echo "err:$y" >&2; [ "$y" = quit ] && exit 3; done`)
	p, err := c.Start(context.Background(), "p1")
	require.NoError(t, err)
	assert.Positive(t, p.PID())
	_, err = io.WriteString(p.Stdin(), "hi\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(p.Stdout()).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "got:hi\n", line)

	_, err = io.WriteString(p.Stdin(), "one\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "[p1] err:one\n") }, 5*time.Second, 10*time.Millisecond)

	// Once the session is known, stderr lines carry it.
	p.SetSession("ab12cd34")
	require.Eventually(t, func() bool {
		_, err := io.WriteString(p.Stdin(), "two\n")
		require.NoError(t, err)
		return strings.Contains(stderr.String(), "[p1 session=ab12cd34] err:two\n")
	}, 5*time.Second, 20*time.Millisecond)

	_, err = io.WriteString(p.Stdin(), "quit\n")
	require.NoError(t, err)
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("process did not exit")
	}
	assert.Equal(t, "exit status 3", p.ExitStatus())
}

func TestLauncherStopTerminatesProcessGroup(t *testing.T) {
	t.Parallel()
	// The shell's child (sleep) is in the same group and must die too, or
	// stdout would stay open.
	c, _, _, _ := startServer(t, "sh", "-c", `sleep 60 & wait`)
	p, err := c.Start(context.Background(), "p2")
	require.NoError(t, err)
	p.Stop()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("process not stopped")
	}
	assert.Equal(t, "signal: terminated", p.ExitStatus())
	_, err = io.ReadAll(p.Stdout())
	_ = err // EOF or closed: both fine, it must not hang
}

func TestLauncherShutdownStopsChildren(t *testing.T) {
	t.Parallel()
	c, _, cancel, wait := startServer(t, "sleep", "60")
	p, err := c.Start(context.Background(), "p3")
	require.NoError(t, err)
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child survived launcher shutdown")
	}
	assert.Equal(t, "signal: terminated", p.ExitStatus())
	require.NoError(t, wait())
}

func TestLauncherBadCommand(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(shortTempDir(t), "l.sock")
	srv := &Server{Socket: sock, Command: []string{"/nonexistent/binary"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Run(ctx) }()
	c := &Client{Socket: sock}
	require.Eventually(t, func() bool {
		_, err := c.Start(context.Background(), "x")
		return err != nil && strings.Contains(err.Error(), "nonexistent")
	}, 5*time.Second, 10*time.Millisecond)
}

func TestCleanLabel(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "p-1_a.b", cleanLabel("p-1_a.b"))
	assert.Equal(t, "unlabeled", cleanLabel("a\nb"))
	assert.Equal(t, "unlabeled", cleanLabel(""))
}
