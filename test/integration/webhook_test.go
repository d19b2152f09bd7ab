package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/internal/admission"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

const (
	platformNamespace = "mcp-system"
	platformPodName   = "mcp-webhook-0"
)

// webhookProcess is a running mcp-webhook binary.
type webhookProcess struct {
	cmd    *exec.Cmd
	url    string
	caPEM  []byte
	client *http.Client
	log    *testutil.Buffer
	done   chan struct{}
}

func (w *webhookProcess) logs() string {
	lines := strings.Split(strings.TrimSpace(w.log.String()), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func (w *webhookProcess) stop() {
	if w.cmd.Process == nil {
		return
	}
	_ = w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

func buildWebhook() (string, error) {
	bin := filepath.Join(workDir, "mcp-webhook")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/archestra-ai/mcp-orchestrator/cmd/mcp-webhook")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building mcp-webhook: %v\n%s", err, out)
	}
	return bin, nil
}

// startWebhook runs the binary on a free loopback port with a fresh CA and
// serving certificate, and waits until /readyz answers.
func startWebhook(ctx context.Context, bin, config string) (*webhookProcess, error) {
	dir, err := os.MkdirTemp(workDir, "webhook-")
	if err != nil {
		return nil, err
	}
	caPEM, certPEM, keyPEM, err := newServingCert("127.0.0.1")
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	w := &webhookProcess{url: fmt.Sprintf("https://127.0.0.1:%d", port), caPEM: caPEM, log: &testutil.Buffer{}, done: make(chan struct{})}
	w.cmd = exec.Command(bin, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--config", config, "--kubeconfig", kubeconfig, "--shutdown-grace", "2s",
		// The pull secret tests run their own controllers.
		"--pull-secrets-controller=false", "--gateway-access-controller=false")
	w.cmd.Env = append(os.Environ(), "POD_NAME="+platformPodName, "POD_NAMESPACE="+platformNamespace)
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting mcp-webhook: %w", err)
	}
	go func() { _ = w.cmd.Wait(); close(w.done) }()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	w.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := w.client.Get(w.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w, nil
			}
		}
		select {
		case <-w.done:
			return w, fmt.Errorf("mcp-webhook exited before ready:\n%s", w.logs())
		case <-ctx.Done():
			return w, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return w, fmt.Errorf("mcp-webhook not ready after 30s: %v\n%s", err, w.logs())
		}
	}
}

// metric returns the sum of a counter's series whose labels contain every
// given label pair, from the webhook's own /metrics.
func (w *webhookProcess) metric(name string, labels ...string) (float64, error) {
	resp, err := w.client.Get(w.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v); err == nil {
			sum += v
		}
	}
	return sum, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func newServingCert(host string) (caPEM, certPEM, keyPEM []byte, err error) {
	ca, err := certs.NewCA("mcp-test-ca", 24*time.Hour)
	if err != nil {
		return nil, nil, nil, err
	}
	pair, err := ca.Issue([]string{host}, 24*time.Hour)
	return ca.PEM, pair.CertPEM, pair.KeyPEM, err
}

// createPlatformPod creates the webhook's "own" Pod, whose scheduling the
// servers inherit. The API server's DefaultTolerationSeconds plugin adds its
// not-ready/unreachable tolerations, which must not be inherited.
func createPlatformPod(ctx context.Context) error {
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: platformPodName, Namespace: platformNamespace},
		Spec: corev1.PodSpec{
			Containers:   []corev1.Container{{Name: "webhook", Image: "registry.example.com/mcp/orchestrator:1.0.0"}},
			NodeSelector: map[string]string{"node-pool": "platform", "kubernetes.io/os": "linux"},
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "platform", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	_, err := client.CoreV1().Pods(platformNamespace).Create(ctx, pod, metav1.CreateOptions{})
	return err
}

// registerWebhook creates or updates both webhook configurations, as the
// manifests do, pointing at w by URL.
func registerWebhook(ctx context.Context, w *webhookProcess) error {
	mutating, validating := admission.Registration{URL: w.url, CABundle: w.caPEM, PlatformNamespace: platformNamespace}.Configurations()
	mw := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	vw := client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if old, err := mw.Get(ctx, mutating.Name, metav1.GetOptions{}); err == nil {
		mutating.ResourceVersion = old.ResourceVersion
		if _, err := mw.Update(ctx, mutating, metav1.UpdateOptions{}); err != nil {
			return err
		}
	} else if _, err := mw.Create(ctx, mutating, metav1.CreateOptions{}); err != nil {
		return err
	}
	if old, err := vw.Get(ctx, validating.Name, metav1.GetOptions{}); err == nil {
		validating.ResourceVersion = old.ResourceVersion
		_, err = vw.Update(ctx, validating, metav1.UpdateOptions{})
		return err
	}
	_, err := vw.Create(ctx, validating, metav1.CreateOptions{})
	return err
}
