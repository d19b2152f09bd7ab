package stdio

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/conformance"
)

// The official conformance suite, both requirement sets, through the
// sidecar in front of a legacy and of a modern stdio server, in both
// session modes. Every check passes.
func TestConformanceThroughTheBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite (Node.js)")
	}
	t.Parallel()
	modern, legacy := conformance.ReferenceServers(t)
	for _, tt := range []struct {
		name   string
		server string
		shared bool
	}{
		{"legacy server", legacy, false},
		{"modern server", modern, false},
		{"legacy server shared", legacy, true},
		{"modern server shared", modern, true},
	} {
		for _, rev := range []string{"2026-07-28", "2025-11-25"} {
			t.Run(tt.name+" "+rev, func(t *testing.T) {
				t.Parallel()
				b := newBridge(t, func(c *Config) {
					c.Starter = &ExecStarter{Command: []string{tt.server}, Stderr: io.Discard}
					c.Shared = tt.shared
					if dir := os.Getenv("BRIDGE_LOG_DIR"); dir != "" {
						f, _ := os.Create(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log"))
						t.Cleanup(func() { f.Close() })
						c.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
						c.Starter = &ExecStarter{Command: []string{tt.server}, Stderr: f}
					}
				})
				res := conformance.Run(t, b.URL, rev)
				if dir := os.Getenv("BRIDGE_LOG_DIR"); dir != "" && len(res.Failures(false)) > 0 {
					buf := make([]byte, 1<<24)
					_ = os.WriteFile(filepath.Join(dir, "stacks.txt"), buf[:runtime.Stack(buf, true)], 0o644)
				}
				conformance.RequireAllPass(t, res)
			})
		}
	}
}
