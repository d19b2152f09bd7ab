package gateway

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/conformance"
)

// The official conformance suite, both requirement sets, against a virtual
// server whose single member (names unchanged) is our legacy conformance
// server behind the real sidecar: the real mcp-transport binary as the
// pod runs it (launcher and bridge), the real mcp-gateway binary, the
// member a pod in the API server pointing at the sidecar. Every scored
// check passes through the virtual server as through the member's own
// endpoint.
//
// The two revisions run one after the other: with auth off every client is
// the same caller, whose requests share one process of the member (the
// sidecar keeps one per caller), where a legacy server's log messages name
// no request and go to a request in flight that asked for logs — possibly
// the other run's.
func TestVirtualServerConformance(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	_, legacy := conformance.ReferenceServers(t)
	sidecar := startSidecar(t, legacy)
	createSidecarPod(t, ns, "conformance", sidecar)
	defineVirtual(t, ns, "suite", "suite", "members:\n- server: conformance\n  prefix: \"\"\n")
	base := runGatewayBinary(t, ns)
	for _, server := range []string{"suite", "conformance"} {
		for _, rev := range []string{api.MCPVersion20260728, api.MCPVersion20251125} {
			t.Run(server+" "+rev, func(t *testing.T) {
				res := conformance.Run(t, base+"/mcp/"+ns+"/"+server, rev)
				t.Log(res.Summary)
				conformance.RequireAllPass(t, res)
			})
		}
	}
}

// startSidecar runs the real mcp-transport as a stdio pod runs it (the
// launcher with the server's command, the bridge asking it over its
// socket) and returns the bridge's address once it is ready.
func startSidecar(t *testing.T, server string) string {
	t.Helper()
	bin := goBuild(t, "mcp-transport")
	sock := filepath.Join(t.TempDir(), "launcher.sock")
	launch := exec.Command(bin, "launch", "--socket", sock, "--", server)
	launch.Stderr = os.Stderr
	require.NoError(t, launch.Start())
	t.Cleanup(func() { _ = launch.Process.Kill(); _ = launch.Wait() })
	addr := freeAddr(t)
	var log testutil.Buffer
	serve := exec.Command(bin, "serve", "--listen="+addr, "--path=/mcp", "--mode=stdio", "--launcher-socket="+sock,
		"--sessions=per-session", "--warm-pool=2")
	serve.Stderr = &log
	require.NoError(t, serve.Start())
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		_ = serve.Wait()
		if t.Failed() {
			t.Logf("sidecar log:\n%s", log.String())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + api.ReadyPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "the sidecar's readiness")
	return addr
}

// createSidecarPod is a ready stdio pod of ns/server whose endpoint is the
// sidecar at addr (127.0.0.1:port), with its Deployment.
func createSidecarPod(t *testing.T, ns, server, addr string) {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, _ := strconv.Atoi(port)
	createDeployment(t, ns, server, 1)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: server + "-0", Labels: map[string]string{api.ServerLabel: server},
			Annotations: api.EncodePodEndpoint(api.PodEndpoint{Port: p, Path: "/mcp", Transport: api.TransportStdio, Sessions: api.SessionsPerSession})},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mcp-server", Image: "example/mcp:1"}}},
	}
	pod, err = client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", StartTime: &metav1.Time{Time: time.Now()},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	_, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// defineVirtual creates the ConfigMap cm defining virtual server name.
func defineVirtual(t *testing.T, ns, cm, name, doc string) {
	t.Helper()
	_, err := client.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: cm, Labels: map[string]string{api.VirtualServerLabel: name}},
		Data:       map[string]string{api.VirtualServerKey: doc},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// runGatewayBinary runs the real mcp-gateway (auth off) for namespace ns
// and returns its base URL once it is ready.
func runGatewayBinary(t *testing.T, ns string) string {
	t.Helper()
	bin, args := gatewayCommand(t, "mcp-gateway-virtual", ns)
	var log testutil.Buffer
	cmd := exec.Command(bin, append(args, "--log-level=debug")...)
	cmd.Stderr = &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("gateway log:\n%s", log.String())
		}
	})
	base := "http://" + args[0][len("--listen="):]
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond)
	return base
}
