package transport_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

var sharedRoot = regexp.MustCompile(`(^|=)` + regexp.QuoteMeta(api.SharedDir))

// TestInjectedPodSpecRuns runs exactly what the webhook injects into a pod:
// the install init container, the sidecar's args and the server container's
// wrapped command, with only the shared volume's path and the port moved
// for a machine without a pod. It pins the flag contract between the
// injector and this binary.
func TestInjectedPodSpecRuns(t *testing.T) {
	var d appsv1.Deployment
	d.Name = "contract"
	d.Labels = map[string]string{api.ServerLabel: "contract"}
	d.Annotations = map[string]string{api.AnnMaxSessions: "4"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "server", Image: "example.com/server:1", Command: []string{stdioServer}}}
	_, errs := injector.New(injector.DefaultConfig()).Inject(&d)
	require.Empty(t, errs)
	pod := d.Spec.Template.Spec
	require.Len(t, pod.InitContainers, 2)
	install, sidecar, server := pod.InitContainers[0], pod.InitContainers[1], pod.Containers[0]
	require.Equal(t, api.InstallName, install.Name)
	require.Equal(t, api.SidecarName, sidecar.Name)

	shared := t.TempDir()
	move := func(args []string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			// Only paths that start at the volume's root: "/bin/mcp-transport" stays.
			a = sharedRoot.ReplaceAllString(a, "${1}"+shared)
			out[i] = strings.Replace(a, "--listen=:8080", "--listen=127.0.0.1:0", 1)
		}
		return out
	}

	// install: the sidecar image's binary copies itself into the volume.
	out, err := exec.Command(transportBin, move(install.Args)...).CombinedOutput()
	require.NoError(t, err, string(out))

	// The server container runs the installed copy as its command.
	argv := move(append(server.Command, server.Args...))
	require.Equal(t, filepath.Join(shared, "bin", "mcp-transport"), argv[0])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	launch := exec.CommandContext(ctx, argv[0], argv[1:]...)
	launch.Stderr = os.Stderr
	require.NoError(t, launch.Start())
	defer func() { cancel(); _ = launch.Wait() }()

	p := start(t, move(sidecar.Args)...)
	base := "http://" + p.addr(t)
	// As the kubelet does: no traffic before the sidecar is ready (the
	// launcher starts after it in a pod too).
	require.Eventually(t, func() bool { code, _ := get(t, base+api.ReadyPath); return code == http.StatusOK }, 20*time.Second, 20*time.Millisecond)
	cs := connect(t, base+api.SidecarMCPPath)
	callCtx, done := context.WithTimeout(context.Background(), 20*time.Second)
	defer done()
	res, err := cs.CallTool(callCtx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "through the injected pod spec"}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	require.Contains(t, res.Content[0].(*sdk.TextContent).Text, "through the injected pod spec")
}
