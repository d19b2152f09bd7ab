package launcher

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// shortTempDir is a temp dir with a short path: unix socket paths are
// limited to 108 bytes and t.TempDir() can exceed that.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lt")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
