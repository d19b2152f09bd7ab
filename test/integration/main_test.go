// Package integration tests admission through a real kube-apiserver and
// etcd (envtest, binaries built by `make setup`) with the real mcp-webhook
// binary registered by URL, caBundle and objectSelector, as in a cluster.
package integration

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	sidecarImageV1 = "registry.example.com/mcp/orchestrator:1.0.0"
	sidecarImageV2 = "registry.example.com/mcp/orchestrator:2.0.0"
)

var (
	env        *envtest.Environment
	restConfig *rest.Config
	client     kubernetes.Interface
	kubeconfig string // file for kubectl and the webhook
	assets     string
	workDir    string
	hook       *webhookProcess
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("integration: -short, no apiserver started")
		os.Exit(m.Run())
	}
	os.Exit(runWithControlPlane(m))
}

func runWithControlPlane(m *testing.M) int {
	assets = os.Getenv("KUBEBUILDER_ASSETS")
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			// Fail, never skip: a missing binary must not look like a pass.
			fmt.Fprintf(os.Stderr, "integration: %s not found in KUBEBUILDER_ASSETS=%q; run `make setup` (or `make test`)\n", bin, assets)
			return 1
		}
	}
	var err error
	if workDir, err = os.MkdirTemp("", "mcp-integration-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)

	env = &envtest.Environment{BinaryAssetsDirectory: assets}
	if restConfig, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: starting envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: stopping envtest: %v\n", err)
		}
	}()
	if err := setup(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		if hook != nil {
			hook.stop()
			fmt.Fprintln(os.Stderr, hook.logs())
		}
		return 1
	}
	code := m.Run()
	hook.stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- webhook log (last lines)\n%s\n", hook.logs())
	}
	return code
}

func setup(ctx context.Context) error {
	var err error
	if client, err = kubernetes.NewForConfig(restConfig); err != nil {
		return err
	}
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "mcp-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kubeconfig = filepath.Join(workDir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	if err := createPlatformPod(ctx); err != nil {
		return err
	}
	bin, err := buildWebhook()
	if err != nil {
		return err
	}
	if hook, err = startWebhook(ctx, bin, "testdata/webhook-config.yaml"); err != nil {
		return err
	}
	if err := registerWebhook(ctx, hook); err != nil {
		return err
	}
	return waitWebhookActive(ctx, sidecarImageV1)
}
