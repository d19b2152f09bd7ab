package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `make run-local` (here with -once so it tears down)
// works from a checkout: its own control plane, the webhook in
// self-signed mode, the examples, the pull secret controller and the
// gateway's server list. Not parallel: it takes fixed local ports.
func TestLocalRunOnce(t *testing.T) {
	requireControlPlane(t)
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bins := t.TempDir()
	for _, b := range []string{"mcp-webhook", "mcp-gateway"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bins, b), "github.com/archestra-ai/mcp-orchestrator/cmd/"+b).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	cmd := exec.Command("go", "run", "./hack/localrun", "-once", "-assets", assets,
		"-webhook", filepath.Join(bins, "mcp-webhook"), "-gateway", filepath.Join(bins, "mcp-gateway"), "-dir", t.TempDir())
	cmd.Dir = root
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	for _, want := range []string{
		`admission webhook "mutate.mcp.archestra.io" denied the request`,
		"did you mean mcp.archestra.io/command?",
		"everything        everything        ghcr.io/archestra-ai/mcp-orchestrator/mcp-base:latest   mcp-transport",
		"vendor-registry-login-mcp-registry   kubernetes.io/dockerconfigjson",
		"default    everything       stdio            0/1",
		"==> Stopping the control plane",
	} {
		assert.True(t, strings.Contains(string(out), want), "the run output lacks %q:\n%s", want, out)
	}
}
