package transport_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
	"github.com/archestra-ai/mcp-orchestrator/transport/launcher"
)

// children lists the child pids of pid (host view).
func children(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// As PID 1 of its container the launcher inherits orphans and must reap
// them. Runs the launcher as PID 1 of a fresh PID namespace (needs root and
// unshare(1)); the server command leaves an orphan behind.
func TestLauncherAsPID1ReapsOrphans(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a PID namespace")
	}
	if err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true").Run(); err != nil {
		t.Skipf("cannot create a PID namespace: %v", err)
	}
	sock := filepath.Join(shortDir(t), "l.sock")
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "--mount-proc", transportBin, "launch", "--socket", sock, "--",
		"sh", "-c", "sleep 0.2 & exit 0")
	logs := &testutil.Buffer{}
	cmd.Stderr = logs
	cmd.WaitDelay = 2 * time.Second
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		// SIGTERM to unshare reaches no one inside; --kill-child turns its
		// death into SIGKILL for the launcher (and the namespace).
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	var launcherPID int
	require.Eventually(t, func() bool {
		kids := children(cmd.Process.Pid)
		if len(kids) != 1 {
			return false
		}
		launcherPID, _ = strconv.Atoi(kids[0])
		_, err := os.Stat(sock)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)

	// The socket file appears at bind, a moment before the launcher
	// listens: connecting in between is refused, so retry.
	c := &launcher.Client{Socket: sock}
	var p *launcher.Process
	require.Eventually(t, func() bool {
		var err error
		p, err = c.Start(context.Background(), "orphan-maker")
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("server command did not exit")
	}
	assert.Equal(t, "exit status 0", p.ExitStatus())
	// The orphaned sleep was re-parented to the launcher; once it exits it
	// must be reaped, not left as a zombie.
	require.Eventually(t, func() bool { return len(children(launcherPID)) == 0 }, 10*time.Second, 20*time.Millisecond,
		"zombie left behind; launcher logs:\n%s", logs)
}
