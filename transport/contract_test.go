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
	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

var sharedRoot = regexp.MustCompile(`(^|=)` + regexp.QuoteMeta(api.SharedDir))

// TestInjectedPodSpecRuns runs exactly what the webhook injects into a pod:
// the install init container, the sidecar's args and the server container's
// wrapped command, with only the shared volume's and the gateway CA
// bundle's paths and the port moved for a machine without a pod. It pins
// the flag contract between the injector and this binary, caller
// authentication included: the client is the gateway, with its certificate.
func TestInjectedPodSpecRuns(t *testing.T) {
	var d appsv1.Deployment
	d.Name = "contract"
	d.Labels = map[string]string{api.ServerLabel: "contract"}
	d.Annotations = map[string]string{api.AnnMaxSessions: "4"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "server", Image: "example.com/server:1", Command: []string{stdioServer}}}
	// Every optional sidecar flag of the platform config, so the binary
	// is seen to take them.
	cfg := injector.DefaultConfig()
	cfg.Sidecar.WarmPool, cfg.Sidecar.IdleTimeout, cfg.Sidecar.MaxProcs = ptr.To(2), "10m", ptr.To(3)
	_, errs := injector.New(cfg).Inject(&d)
	require.Empty(t, errs)
	pod := d.Spec.Template.Spec
	require.Len(t, pod.InitContainers, 2)
	install, sidecar, server := pod.InitContainers[0], pod.InitContainers[1], pod.Containers[0]
	require.Equal(t, api.InstallName, install.Name)
	require.Equal(t, api.SidecarName, sidecar.Name)

	shared := t.TempDir()
	bundle, cert := gatewayPKI(t)
	move := func(args []string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			// Only paths that start at the volume's root: "/bin/mcp-transport" stays.
			a = sharedRoot.ReplaceAllString(a, "${1}"+shared)
			a = strings.Replace(a, "--client-ca-file="+api.GatewayCADir+"/"+api.GatewayCAKey, "--client-ca-file="+bundle, 1)
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

	require.Contains(t, sidecar.Args, "--client-ca-file="+api.GatewayCADir+"/"+api.GatewayCAKey)
	p := start(t, move(sidecar.Args)...)
	endpoint := "https://" + p.addr(t) + api.SidecarMCPPath
	// As the kubelet does: no traffic before the sidecar is ready (the
	// launcher starts after it in a pod too).
	probe := tlsClient(&cert, "")
	require.Eventually(t, func() bool {
		res, err := probe.Get("https://" + p.addr(t) + api.ReadyPath)
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond)
	procs, err := testutil.Metric(probe, "https://"+p.addr(t)+api.MetricsPath, "go_sched_gomaxprocs_threads")
	require.NoError(t, err)
	require.Equal(t, 3.0, procs, "--max-procs from the platform config")
	callCtx, done := context.WithTimeout(context.Background(), 20*time.Second)
	defer done()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "gateway", Version: "1"}, nil).Connect(callCtx,
		&sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: tlsClient(&cert, "")}, nil)
	require.NoError(t, err)
	defer cs.Close()
	res, err := cs.CallTool(callCtx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "through the injected pod spec"}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	require.Contains(t, res.Content[0].(*sdk.TextContent).Text, "through the injected pod spec")

	// The preStop hook, as injected, run where the kubelet runs it: in the
	// pod (here: on the same host, so the sidecar's loopback).
	hook := server.Lifecycle.PreStop.Exec.Command
	require.Equal(t, []string{api.LauncherPath, "drain"}, hook)
	drainArgs := append(move(hook[1:]), "--url=https://"+p.addr(t)+api.DrainPath)
	out, err = exec.Command(move(hook[:1])[0], drainArgs...).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "drained")
}
