package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/injector"
)

const (
	platformNamespace = "mcp-system"
	platformPodName   = "mcp-webhook-0"
	webhookName       = "mcp-orchestrator"
)

// webhookProcess is a running mcp-webhook binary.
type webhookProcess struct {
	cmd    *exec.Cmd
	url    string
	caPEM  []byte
	client *http.Client
	log    *lockedBuffer
	done   chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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
	w := &webhookProcess{url: fmt.Sprintf("https://127.0.0.1:%d", port), caPEM: caPEM, log: &lockedBuffer{}, done: make(chan struct{})}
	w.cmd = exec.Command(bin, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--config", config, "--kubeconfig", kubeconfig, "--shutdown-grace", "2s")
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
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mcp-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP(host)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
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

// registerWebhook creates both webhook configurations as the manifests do:
// objectSelector on the server label, our namespace and kube-system
// excluded, failurePolicy Fail.
func registerWebhook(ctx context.Context, w *webhookProcess) error {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	timeout := int32(5)
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
	}}
	objectSelector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: injector.ServerLabel, Operator: metav1.LabelSelectorOpExists}}}
	namespaceSelector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", platformNamespace}}}}
	url := func(path string) *string { s := w.url + path; return &s }

	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhookName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.mcp.archestra.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: url("/mutate"), CABundle: w.caPEM},
			Rules: rules, ObjectSelector: objectSelector, NamespaceSelector: namespaceSelector, FailurePolicy: &fail, SideEffects: &none,
			MatchPolicy: &equivalent, ReinvocationPolicy: &ifNeeded, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhookName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.mcp.archestra.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: url("/validate"), CABundle: w.caPEM},
			Rules: rules, ObjectSelector: objectSelector, NamespaceSelector: namespaceSelector, FailurePolicy: &fail, SideEffects: &none,
			MatchPolicy: &equivalent, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	mw := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	vw := client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if old, err := mw.Get(ctx, webhookName, metav1.GetOptions{}); err == nil {
		mutating.ResourceVersion = old.ResourceVersion
		if _, err := mw.Update(ctx, mutating, metav1.UpdateOptions{}); err != nil {
			return err
		}
	} else if _, err := mw.Create(ctx, mutating, metav1.CreateOptions{}); err != nil {
		return err
	}
	if old, err := vw.Get(ctx, webhookName, metav1.GetOptions{}); err == nil {
		validating.ResourceVersion = old.ResourceVersion
		_, err = vw.Update(ctx, validating, metav1.UpdateOptions{})
		return err
	}
	_, err := vw.Create(ctx, validating, metav1.CreateOptions{})
	return err
}
