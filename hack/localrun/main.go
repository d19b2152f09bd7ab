// Command localrun is `make run-local`: a local control plane (the kube-apiserver
// and etcd that `make setup` builds), the mcp-webhook binary registered with
// it, and the examples applied, so a newcomer sees what users see. No node
// runs: pods are never started.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/admission"
)

const platformNamespace = "mcp-system"

func main() {
	assets := flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory with kube-apiserver, etcd and kubectl")
	webhookBin := flag.String("webhook", "bin/mcp-webhook", "mcp-webhook binary")
	gatewayBin := flag.String("gateway", "bin/mcp-gateway", "mcp-gateway binary")
	dir := flag.String("dir", "bin/local", "where the kubeconfig and certificates go")
	once := flag.Bool("once", false, "tear down after showing the results instead of waiting for Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *assets, *webhookBin, *gatewayBin, *dir, *once); err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, assets, webhookBin, gatewayBin, dir string, once bool) error {
	if assets == "" {
		return errors.New("no -assets (KUBEBUILDER_ASSETS); run `make run-local`")
	}
	if err := portsFree("127.0.0.1:8443", "127.0.0.1:8081"); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	dir, _ = filepath.Abs(dir)
	l := &local{ctx: ctx, assets: assets, dir: dir}
	stopPlane, err := l.startControlPlane()
	if err != nil {
		return err
	}
	defer stopPlane()
	if err := l.registerWebhooks(); err != nil {
		return err
	}
	stopHook, err := l.startWebhook(webhookBin)
	if err != nil {
		return err
	}
	defer stopHook()
	l.showInjection()

	step("Starting mcp-gateway on http://127.0.0.1:8081 (--auth=none: local only) and asking for its server list")
	servers, stopGateway, err := startGateway(ctx, gatewayBin, l.kubeconfig, dir)
	if err != nil {
		return err
	}
	defer stopGateway()
	fmt.Print(indent(servers))
	fmt.Println("    MCP clients would connect to http://127.0.0.1:8081/mcp/default/<server>")

	fmt.Println("\nNot here: no node runs the pods (no kubelet), so no pod becomes ready and no MCP session reaches a server.")
	if once {
		return nil
	}
	fmt.Printf("The control plane stays up until Ctrl-C. Try it yourself:\n  export KUBECONFIG=%s\n  %s get deployment everything -o yaml\n", l.kubeconfig, filepath.Join(assets, "kubectl"))
	fmt.Printf("Webhook log: %s/mcp-webhook.log\n", dir)
	<-ctx.Done()
	return nil
}

// portsFree fails when an address is taken, before anything starts.
func portsFree(addrs ...string) error {
	for _, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is taken (another make run-local still up?): %w", addr, err)
		}
		l.Close()
	}
	return nil
}

// local is one run: its control plane, the admin's kubeconfig for it, and
// the directory its files go to.
type local struct {
	ctx        context.Context
	assets     string
	dir        string
	kubeconfig string
	client     kubernetes.Interface
}

// startControlPlane starts kube-apiserver and etcd, writes an admin
// kubeconfig and creates the platform namespace; the function stops it.
func (l *local) startControlPlane() (func(), error) {
	step("Starting a local control plane (kube-apiserver + etcd from bin/k8s)")
	env := &envtest.Environment{BinaryAssetsDirectory: l.assets}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting control plane: %w", err)
	}
	stop := func() {
		step("Stopping the control plane")
		_ = env.Stop()
	}
	if err := l.admin(env, cfg); err != nil {
		stop()
		return nil, err
	}
	step("Creating the platform namespace and a stand-in for the webhook's own pod (its tolerations and nodeSelector are the defaults MCP servers inherit)")
	if err := platformPod(l.ctx, l.client); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// admin makes the client and the kubeconfig file of a cluster admin.
func (l *local) admin(env *envtest.Environment, cfg *rest.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	l.client, l.kubeconfig = client, filepath.Join(l.dir, "kubeconfig")
	return os.WriteFile(l.kubeconfig, kc, 0o600)
}

func (l *local) registerWebhooks() error {
	step("Registering the mutating and validating webhooks (objectSelector: label " + api.ServerLabel + "), caBundle left empty")
	mutating, validating := admission.Registration{URL: "https://127.0.0.1:8443", PlatformNamespace: platformNamespace}.Configurations()
	if _, err := l.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(l.ctx, mutating, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := l.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(l.ctx, validating, metav1.CreateOptions{})
	return err
}

// startWebhook runs mcp-webhook until the returned function stops it, and
// waits until the API server calls it.
func (l *local) startWebhook(bin string) (func(), error) {
	step("Starting mcp-webhook on https://127.0.0.1:8443 in self-signed mode: it makes its CA, keeps it in a Secret and writes the caBundle")
	hook := exec.CommandContext(l.ctx, bin, "--listen=127.0.0.1:8443", "--cert-mode=self-signed", "--tls-extra-hosts=127.0.0.1",
		"--config=hack/localrun/config.yaml", "--kubeconfig="+l.kubeconfig)
	hook.Env = append(os.Environ(), "POD_NAME=mcp-webhook-0", "POD_NAMESPACE="+platformNamespace)
	logFile, err := os.Create(filepath.Join(l.dir, "mcp-webhook.log"))
	if err != nil {
		return nil, err
	}
	hook.Stdout, hook.Stderr = logFile, logFile
	if err := hook.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (run `make build` first): %w", bin, err)
	}
	stop := func() { _ = hook.Process.Signal(os.Interrupt); _ = hook.Wait(); logFile.Close() }
	// The API server loads webhook configurations asynchronously.
	err = wait.PollUntilContextTimeout(l.ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, err := l.kubectl("apply", "--dry-run=server", "-o", "jsonpath={.spec.template.spec.initContainers[*].name}", "-f", "manifests/examples/stdio-base-image.yaml")
		return err == nil && strings.Contains(out, "mcp-transport"), nil
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("the webhook never answered; see %s/mcp-webhook.log: %w", l.dir, err)
	}
	return stop, nil
}

func (l *local) kubectl(args ...string) (string, error) {
	cmd := exec.CommandContext(l.ctx, filepath.Join(l.assets, "kubectl"), append([]string{"--kubeconfig", l.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// show runs kubectl and prints what it says, indented; its errors are
// part of what is shown.
func (l *local) show(args ...string) {
	out, _ := l.kubectl(args...)
	fmt.Print(indent(out))
}

// showInjection applies the examples and prints what the webhook and the
// pull secret controller made of them.
func (l *local) showInjection() {
	step("kubectl apply -f manifests/examples/ (one example is wrong on purpose)")
	l.show("apply", "-f", "manifests/examples/")
	step("kubectl apply -k manifests/examples/existing-deployment-overlay (an existing Deployment made an MCP server by a kustomize patch)")
	l.show("apply", "-k", "manifests/examples/existing-deployment-overlay")

	step("What the webhook stored: image, sidecar and inherited scheduling of every MCP server")
	l.show("get", "deployments", "-o", "custom-columns=NAME:.metadata.name,SERVER:.metadata.labels.mcp\\.archestra\\.io/server,"+
		"IMAGE:.spec.template.spec.containers[0].image,SIDECAR:.spec.template.spec.initContainers[-1:].name,"+
		"TOLERATIONS:.spec.template.spec.tolerations[*].key,NODE-SELECTOR:.spec.template.spec.nodeSelector")
	step("Pull secrets made by the controller: derived from registry credentials, and the platform's copied from mcp-system")
	_ = wait.PollUntilContextTimeout(l.ctx, 200*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		out, err := l.kubectl("get", "secret", "vendor-registry-login-mcp-registry", "platform-registry")
		if err != nil || strings.Count(out, "dockerconfigjson") != 2 {
			return false, nil
		}
		// Every server pod lists the platform pull secret: all 7 own the copy.
		owners, err := l.kubectl("get", "secret", "platform-registry", "-o", "jsonpath={.metadata.ownerReferences[*].name}")
		return err == nil && len(strings.Fields(owners)) == 7, nil
	})
	l.show("get", "secrets", "-l", "app.kubernetes.io/managed-by=mcp-orchestrator", "-o",
		"custom-columns=NAME:.metadata.name,TYPE:.type,SOURCE:.metadata.annotations.mcp\\.archestra\\.io/pull-secret-source,OWNER:.metadata.ownerReferences[*].name")
	step("The server container of 'everything': command wrapped by the launcher, security defaults filled")
	l.show("get", "deployment", "everything", "-o", "jsonpath={.spec.template.spec.containers[0].command}{\"\\n\"}{.spec.template.spec.containers[0].securityContext}{\"\\n\"}")
}

func platformPod(ctx context.Context, client kubernetes.Interface) error {
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNamespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// The platform's own pull secret, which the controller may copy.
	if _, err := client.CoreV1().Secrets(platformNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "platform-registry"},
		Type:       corev1.SecretTypeDockerConfigJson,
		StringData: map[string]string{corev1.DockerConfigJsonKey: `{"auths":{"registry.platform.example":{"auth":"cGxhdGZvcm06cmVwbGFjZS1tZQ=="}}}`},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := client.CoreV1().Pods(platformNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "mcp-webhook-0", Namespace: platformNamespace},
		Spec: corev1.PodSpec{
			Containers:   []corev1.Container{{Name: "webhook", Image: "ghcr.io/archestra-ai/mcp-orchestrator/mcp-orchestrator:latest"}},
			NodeSelector: map[string]string{"node-pool": "platform"},
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "platform", Effect: corev1.TaintEffectNoSchedule}},
		},
	}, metav1.CreateOptions{})
	return err
}

func step(msg string) { fmt.Printf("\n==> %s\n", msg) }

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// startGateway runs mcp-gateway and returns its server list as a table,
// and the function that stops it.
func startGateway(ctx context.Context, bin, kubeconfig, dir string) (string, func(), error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", nil, err
	}
	keyFile := filepath.Join(dir, "session.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return "", nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "mcp-gateway.log"))
	if err != nil {
		return "", nil, err
	}
	gw := exec.CommandContext(ctx, bin, "--listen=127.0.0.1:8081", "--metrics-listen=127.0.0.1:9091", "--auth=none", "--session-key-file="+keyFile, "--kubeconfig="+kubeconfig)
	gw.Stdout, gw.Stderr = logFile, logFile
	if err := gw.Start(); err != nil {
		logFile.Close()
		return "", nil, fmt.Errorf("starting %s (run `make build` first): %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = gw.Wait(); logFile.Close(); close(exited) }()
	stop := func() { _ = gw.Process.Signal(os.Interrupt); <-exited }
	var body []byte
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://127.0.0.1:8081/api/v1/servers")
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("the gateway never answered; see %s/mcp-gateway.log: %w", dir, err)
	}
	var list []struct {
		Namespace       string `json:"namespace"`
		Name            string `json:"name"`
		Transport       string `json:"transport"`
		DesiredReplicas int32  `json:"desiredReplicas"`
		ReadyReplicas   int32  `json:"readyReplicas"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return string(body), stop, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %-16s %-16s %s\n", "NAMESPACE", "SERVER", "TRANSPORT", "READY")
	for _, s := range list {
		fmt.Fprintf(&b, "%-10s %-16s %-16s %d/%d\n", s.Namespace, s.Name, s.Transport, s.ReadyReplicas, s.DesiredReplicas)
	}
	return b.String(), stop, nil
}
