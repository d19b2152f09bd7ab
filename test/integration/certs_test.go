package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/admission"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
	"github.com/archestra-ai/mcp-orchestrator/internal/version"
	"github.com/archestra-ai/mcp-orchestrator/webhook"
)

// lifetimes are the durations of a SelfSigned source; zero is the default.
type lifetimes struct {
	cert, renewBefore, ca, caRenewBefore, caOverlap time.Duration
}

func startSelfSigned(t *testing.T, ctx context.Context, secret, regName string, l lifetimes) *certs.SelfSigned {
	t.Helper()
	s := &certs.SelfSigned{Client: client, Namespace: platformNamespace, SecretName: secret, Hosts: []string{"127.0.0.1"},
		MutatingWebhooks: []string{regName}, ValidatingWebhooks: []string{regName},
		CertValidity: l.cert, RenewBefore: l.renewBefore, CAValidity: l.ca, CARenewBefore: l.caRenewBefore, CAOverlap: l.caOverlap,
		Logger: slogDiscard()}
	go func() { _ = s.Run(ctx) }()
	return s
}

// registerSelfSigned registers configurations named regName pointing at
// url with an empty caBundle: the SelfSigned sources must fill it.
func registerSelfSigned(t *testing.T, ctx context.Context, regName, url, labelKey string) {
	t.Helper()
	m, v := admission.Registration{URL: url, PlatformNamespace: platformNamespace}.Configurations()
	m.Name, v.Name = regName, regName
	sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: labelKey, Operator: metav1.LabelSelectorOpExists}}}
	m.Webhooks[0].ObjectSelector, v.Webhooks[0].ObjectSelector = sel, sel
	m.Webhooks[0].Name, v.Webhooks[0].Name = "mutate."+regName+".example.com", "validate."+regName+".example.com"
	_, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, m, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, v, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), regName, metav1.DeleteOptions{})
		_ = client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), regName, metav1.DeleteOptions{})
	})
}

func caBundles(t *testing.T, regName string) (mutating, validating []byte) {
	t.Helper()
	m, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(context.Background(), regName, metav1.GetOptions{})
	require.NoError(t, err)
	v, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(context.Background(), regName, metav1.GetOptions{})
	require.NoError(t, err)
	return m.Webhooks[0].ClientConfig.CABundle, v.Webhooks[0].ClientConfig.CABundle
}

// Two webhook replicas start at once against the same apiserver and end
// with one CA, in the Secret and in both webhook configurations; an
// overwritten caBundle is put back.
func TestSelfSignedBootstrapTwoReplicas(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regName, secret := "bootstrap-"+rand.String(5), "tls-"+rand.String(5)
	registerSelfSigned(t, ctx, regName, "https://127.0.0.1:1", "never-"+regName)
	a := startSelfSigned(t, ctx, secret, regName, lifetimes{cert: time.Hour})
	b := startSelfSigned(t, ctx, secret, regName, lifetimes{cert: time.Hour})
	eventually(t, "both replicas have a certificate", func() bool { return a.Ready() == nil && b.Ready() == nil })
	assert.Equal(t, string(a.CABundle()), string(b.CABundle()), "one CA for both replicas")
	ca, err := parseCert(a.CABundle())
	require.NoError(t, err)
	for _, src := range []*certs.SelfSigned{a, b} {
		c, err := src.GetCertificate(nil)
		require.NoError(t, err)
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		require.NoError(t, err)
		assert.NoError(t, leaf.CheckSignatureFrom(ca), "serving certificate issued by the shared CA")
	}
	eventually(t, "both configurations carry the CA", func() bool {
		m, v := caBundles(t, regName)
		return string(m) == string(a.CABundle()) && string(v) == string(a.CABundle())
	})

	m, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, regName, metav1.GetOptions{})
	require.NoError(t, err)
	m.Webhooks[0].ClientConfig.CABundle = []byte("overwritten by someone")
	_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, "the caBundle is put back", func() bool {
		m, _ := caBundles(t, regName)
		return string(m) == string(a.CABundle())
	})
}

// A serving certificate that lives a few seconds is renewed again and
// again, and in the second case its CA too, while a client keeps creating
// Deployments through the webhook: not one admission fails.
func TestSelfSignedRotationWithoutFailedAdmissions(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	for _, tt := range []struct {
		name            string
		lt              lifetimes
		minCAs, minCert int
	}{
		{"serving certificate", lifetimes{cert: 6 * time.Second, renewBefore: 4 * time.Second}, 1, 3},
		{"CA and serving certificate", lifetimes{cert: 6 * time.Second, renewBefore: 3 * time.Second,
			ca: 12 * time.Second, caRenewBefore: 6 * time.Second, caOverlap: 2 * time.Second}, 2, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testRotation(t, tt.lt, tt.minCAs, tt.minCert)
		})
	}
}

func testRotation(t *testing.T, lt lifetimes, minCAs, minCerts int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regName, secret, label := "rotation-"+rand.String(5), "tls-"+rand.String(5), "rotation-test-"+rand.String(5)
	// Two replicas behind one address would need a load balancer; both
	// sources share the Secret, one serves.
	src := startSelfSigned(t, ctx, secret, regName, lt)
	_ = startSelfSigned(t, ctx, secret, regName, lt)

	var served, issuers sync.Map
	cfg, err := injector.LoadConfig("testdata/webhook-config.yaml")
	require.NoError(t, err)
	cfg.Version = version.Version // as the webhook binary records it
	d := admission.Deployments{Injector: injector.New(cfg)}
	var calls atomic.Int64
	srv := webhook.New(webhook.Options{Mutator: countingMutator{d, &calls}, Validator: d, Logger: slogDiscard(), Ready: src.Ready})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tlsCfg := &tls.Config{GetCertificate: src.GetCertificate}
	go func() { _ = srv.ServeTLS(ctx, l, tlsCfg, time.Second) }()
	eventually(t, "a certificate is loaded", func() bool { return src.Ready() == nil })
	registerSelfSigned(t, ctx, regName, "https://"+l.Addr().String(), label)
	eventually(t, "the caBundle is written", func() bool {
		m, v := caBundles(t, regName)
		return len(m) > 0 && string(m) == string(v)
	})

	ns := newNamespace(t)
	var dep appsv1.Deployment
	mustUnmarshal(t, deploymentYAML("rotating", true, "", map[string]string{api.AnnCommand: "server"}), &dep)
	// Without the server label the shared webhook never sees these
	// Deployments; this one does (its objectSelector is the test's label)
	// and admits them unchanged.
	dep.Labels[label] = "yes"
	delete(dep.Labels, api.ServerLabel)
	dep.Spec.Template.Spec.Containers[0].Image = "example.com/server:1"
	eventually(t, "the API server calls this webhook", func() bool {
		before := calls.Load()
		probe := dep.DeepCopy()
		probe.Name = "probe"
		_, err := client.AppsV1().Deployments(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil && calls.Load() > before
	})
	start := calls.Load()

	var created, failed atomic.Int64
	deadline := time.Now().Add(12 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		obj := dep.DeepCopy()
		obj.Name = fmt.Sprintf("rotating-%d", i)
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			failed.Add(1)
			t.Logf("admission failed: %v", err)
		} else {
			created.Add(1)
		}
		// The API server keeps its connection open, so it sees a new
		// certificate only on a new connection: open one as it would,
		// trusting exactly the published caBundle.
		if err := handshakeWithPublishedCA(ctx, regName, l.Addr().String(), &served, &issuers); err != nil {
			failed.Add(1)
			t.Logf("new connection failed: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // a steady client, not a flood
	}
	count := func(m *sync.Map) (n int) {
		m.Range(func(any, any) bool { n++; return true })
		return n
	}
	rotations, cas := count(&served), count(&issuers)
	t.Logf("%d Deployments created, %d failures, %d distinct serving certificates from %d CAs served", created.Load(), failed.Load(), rotations, cas)
	assert.Zero(t, failed.Load(), "no admission and no new connection may fail during rotation")
	assert.GreaterOrEqual(t, rotations, minCerts, "the serving certificate rotated during the run")
	assert.GreaterOrEqual(t, cas, minCAs, "CAs that signed a served certificate")
	assert.Greater(t, created.Load(), int64(50))
	assert.GreaterOrEqual(t, calls.Load()-start, created.Load(), "every create went through this webhook")
}

func parseCert(pemBytes []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, fmt.Errorf("no PEM")
	}
	return x509.ParseCertificate(b.Bytes)
}

func handshakeWithPublishedCA(ctx context.Context, regName, addr string, served, issuers *sync.Map) error {
	m, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, regName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.Webhooks[0].ClientConfig.CABundle)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		return err
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	served.Store(string(leaf.Raw), true)
	issuers.Store(string(leaf.AuthorityKeyId), true)
	return nil
}

type countingMutator struct {
	webhook.Mutator
	calls *atomic.Int64
}

func (c countingMutator) Mutate(ctx context.Context, r *webhook.Request) (*webhook.Mutation, error) {
	c.calls.Add(1)
	return c.Mutator.Mutate(ctx, r)
}

// The mcp-webhook binary in self-signed mode makes its Secret, writes the
// caBundle of the configurations it is told about and serves a certificate
// that verifies against it.
func TestWebhookBinarySelfSignedMode(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regName, secret := "binary-"+rand.String(5), "tls-"+rand.String(5)
	port, err := freePort()
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	registerSelfSigned(t, ctx, regName, "https://"+addr, "never-"+regName)

	bin, err := buildWebhook()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, bin, "--listen="+addr, "--cert-mode=self-signed", "--tls-secret="+secret,
		"--tls-extra-hosts=127.0.0.1", "--webhook-configuration="+regName, "--kubeconfig="+kubeconfig,
		"--config=testdata/webhook-config.yaml", "--pull-secrets-controller=false", "--self-signed-cert-validity=40s")
	cmd.Env = append(os.Environ(), "POD_NAMESPACE="+platformNamespace)
	logs := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Log(logs.String())
		}
	}()

	var served, issuers sync.Map
	eventually(t, "a client trusting the published caBundle connects", func() bool {
		return handshakeWithPublishedCA(ctx, regName, addr, &served, &issuers) == nil
	})
	s, err := client.CoreV1().Secrets(platformNamespace).Get(ctx, secret, metav1.GetOptions{})
	require.NoError(t, err)
	m, v := caBundles(t, regName)
	assert.Equal(t, string(s.Data[certs.KeyCABundle]), string(m))
	assert.Equal(t, string(m), string(v))
	assert.NotContains(t, logs.String(), "PRIVATE KEY", "no key material in the logs")
	leaf, err := parseCert(s.Data[certs.KeyCert])
	require.NoError(t, err)
	assert.Equal(t, 40*time.Second, leaf.NotAfter.Sub(leaf.NotBefore)-5*time.Minute, "--self-signed-cert-validity (certificates are backdated 5 minutes)")

	// Lifetimes too short to rotate safely are refused before anything runs.
	out, err := exec.CommandContext(ctx, bin, "--cert-mode=self-signed", "--kubeconfig="+kubeconfig, "--self-signed-cert-validity=5s").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--self-signed-cert-validity=5s, --self-signed-ca-validity=87600h0m0s: want at least 30s")
}
