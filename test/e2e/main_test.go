//go:build e2e

// Package e2e runs the product on a real single-node cluster on this machine
// (hack/cluster): the webhook and gateway installed with the project's own
// manifests, real pods with the injected sidecar, real MCP servers, and MCP
// clients through the gateway. Run it with `make test-e2e` (root, cgroups):
// TestMain brings the cluster up and always tears it down, on failure and on
// SIGINT/SIGTERM too. The build tag keeps it out of `go test ./...`.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	// repoRoot is the checkout; tests run in test/e2e.
	repoRoot, _ = filepath.Abs("../..")
	kubeconfig  = filepath.Join(repoRoot, "bin/cluster/admin.kubeconfig")
	kubectlBin  string
	client      kubernetes.Interface
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) (code int) {
	// Not being able to run the cluster is a failure, never a skip: a
	// suite that skips on CI proves nothing.
	if err := preflight(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: e2e: this machine cannot run the cluster: %v\n", err)
		return 1
	}
	var once sync.Once
	teardown := func() {
		once.Do(func() {
			if err := cluster("down"); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: teardown: %v\n", err)
			}
		})
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "e2e: %v: tearing down\n", s)
		// A bring-up in progress is stopped first (its own trap tears
		// down what it made); the teardown then finds the rest.
		stopRunning()
		teardown()
		os.Exit(1)
	}()
	defer teardown()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "e2e: panic: %v\n", r)
			code = 1
		}
	}()

	start := time.Now()
	if err := cluster("up"); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: e2e: cluster up: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: cluster up in %s\n", time.Since(start).Round(time.Second))
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: e2e: %v\n", err)
		dumpState()
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: product installed, %s since start\n", time.Since(start).Round(time.Second))
	code = m.Run()
	if code != 0 {
		dumpState()
	}
	return code
}

func preflight() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root (uid %d): the cluster creates a bridge, network namespaces, cgroups and iptables rules", os.Geteuid())
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		return fmt.Errorf("no /sys/fs/cgroup: %w", err)
	}
	return nil
}

var (
	runningMu sync.Mutex
	running   *exec.Cmd // a cluster.sh up in progress
	runDone   chan struct{}
)

// cluster runs hack/cluster/cluster.sh up|down, output to stderr.
func cluster(verb string) error {
	cmd := exec.Command(filepath.Join(repoRoot, "hack/cluster/cluster.sh"), verb)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Its own process group: a Ctrl-C on the terminal reaches only us,
	// and the teardown we then run is not interrupted by it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cluster.sh %s: %w", verb, err)
	}
	done := make(chan struct{})
	if verb == "up" { // a teardown is never interrupted
		runningMu.Lock()
		running, runDone = cmd, done
		runningMu.Unlock()
	}
	err := cmd.Wait()
	close(done)
	runningMu.Lock()
	running = nil
	runningMu.Unlock()
	if err != nil {
		return fmt.Errorf("cluster.sh %s: %w", verb, err)
	}
	return nil
}

// stopRunning ends a cluster.sh in progress (SIGTERM to its group) and waits.
func stopRunning() {
	runningMu.Lock()
	cmd, done := running, runDone
	runningMu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	<-done
}

// setup installs the product and waits until the webhook admits.
func setup() error {
	bins, err := exec.Command(filepath.Join(repoRoot, "hack/build-envtest-bins.sh"), "cluster").Output()
	if err != nil {
		return fmt.Errorf("kubernetes binaries: %w", err)
	}
	kubectlBin = filepath.Join(strings.TrimSpace(string(bins)), "kubectl")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	// The webhook's warnings (a platform pull secret missing in a test
	// namespace) are expected; the tests assert on what matters.
	cfg.WarningHandler = rest.NoWarnings{}
	if client, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if out, err := kubectl("apply", "-k", filepath.Join(repoRoot, "test/e2e/testdata/overlay")); err != nil {
		return fmt.Errorf("install: %w\n%s", err, out)
	}
	for _, d := range []string{"mcp-webhook", "mcp-gateway"} {
		if out, err := kubectl("-n", "mcp-system", "rollout", "status", "deployment/"+d, "--timeout=180s"); err != nil {
			return fmt.Errorf("%s not ready: %w\n%s", d, err, out)
		}
	}
	// Self-signed mode writes the caBundle after start; until then every
	// labelled Deployment is refused (failurePolicy Fail).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		out, err := kubectl("get", "mutatingwebhookconfiguration", "mcp-orchestrator", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}")
		if err == nil && len(out) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("caBundle of the webhook configuration never written")
		case <-time.After(500 * time.Millisecond):
		}
	}
	return setupClientAccess()
}

// kubectl runs the cluster's kubectl; the combined output is returned.
func kubectl(args ...string) (string, error) {
	cmd := exec.Command(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlStdin is kubectl with a manifest on stdin.
func kubectlStdin(manifest string, args ...string) (string, error) {
	cmd := exec.Command(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(manifest)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dumpState prints what explains a failure: pods, events, product logs.
func dumpState() {
	for _, args := range [][]string{
		{"get", "pods", "-A", "-o", "wide"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
		{"-n", "mcp-system", "logs", "deployment/mcp-webhook", "--tail=50"},
		{"-n", "mcp-system", "logs", "deployment/mcp-gateway", "--tail=50"},
	} {
		out, _ := kubectl(args...)
		fmt.Fprintf(os.Stderr, "--- kubectl %s\n%s\n", strings.Join(args, " "), out)
	}
}
