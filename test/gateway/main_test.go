// Package gateway tests the mcp-gateway against a real kube-apiserver and
// etcd (envtest, binaries built by `make setup`): pods created through the
// API with their status set by the test, each pointing at a real MCP Go SDK
// server on 127.0.0.1, and real SDK clients going through the gateway.
package gateway

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
)

var (
	env        *envtest.Environment
	restConfig *rest.Config
	client     kubernetes.Interface
	sessionKey = []byte(strings.Repeat("shared-session-key/", 2))
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("test/gateway: -short, no apiserver started")
		os.Exit(m.Run())
	}
	os.Exit(runWithControlPlane(m))
}

func runWithControlPlane(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		fmt.Fprintln(os.Stderr, "test/gateway: KUBEBUILDER_ASSETS is not set; run `make setup` and point it at bin/k8s/<versions> (or use -short)")
		return 1
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			// Fail, never skip: a missing binary must not look like a pass.
			fmt.Fprintf(os.Stderr, "test/gateway: %s not found in KUBEBUILDER_ASSETS=%q; run `make setup`\n", bin, assets)
			return 1
		}
	}
	env = &envtest.Environment{BinaryAssetsDirectory: assets}
	var err error
	if restConfig, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "test/gateway: starting envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "test/gateway: stopping envtest: %v\n", err)
		}
	}()
	restConfig.QPS, restConfig.Burst = 200, 400
	if client, err = kubernetes.NewForConfig(restConfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

var nsSeq atomic.Int64

// namespace creates a fresh namespace for one test.
func namespace(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the apiserver")
	}
	name := fmt.Sprintf("gw-%d-%d", time.Now().UnixNano()%100000, nsSeq.Add(1))
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return name
}

// createPod creates a pod of ns/server for backend b, sets its status to
// Running + Ready with IP 127.0.0.1 (no kubelet in envtest), and returns it.
func createPod(t testing.TB, b *mcptest.Backend, ns, server, name string, ann map[string]string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	want := b.Pod(ns, server, name, ann)
	pod, err := client.CoreV1().Pods(ns).Create(ctx, want, metav1.CreateOptions{})
	require.NoError(t, err)
	pod.Status = want.Status
	pod.Status.StartTime = &metav1.Time{Time: time.Now()}
	pod, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
	return pod
}

// startGateway runs one gateway replica in process and returns its URL
// once its informer has synced.
func startGateway(t *testing.T, a auth.Authorizer) (string, *gateway.Gateway) {
	t.Helper()
	return startGatewayWith(t, gateway.Config{Auth: a})
}

// startGatewayWith is startGateway with more of the configuration.
func startGatewayWith(t *testing.T, cfg gateway.Config) (string, *gateway.Gateway) {
	t.Helper()
	codec, err := session.NewCodec(sessionKey)
	require.NoError(t, err)
	cfg.Client, cfg.Codec = client, codec
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.DialTimeout, cfg.HeaderTimeout = time.Second, 10*time.Second
	gw, err := gateway.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gw.Start(ctx)
	require.True(t, gw.WaitForSync(ctx))
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL, gw
}

// routable waits until the gateway routes new sessions of ns/server to pod.
func routable(t *testing.T, gw *gateway.Gateway, pod *corev1.Pod) {
	t.Helper()
	require.Eventually(t, func() bool {
		e := gw.Registry.Lookup(pod.Namespace, pod.Labels["mcp.archestra.io/server"], string(pod.UID))
		return e != nil && e.Ready
	}, 5*time.Second, 10*time.Millisecond)
}
