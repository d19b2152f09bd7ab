package integration

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/metadata"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/internal/gatewayaccess"
)

// startGatewayAccess runs the controller (and, if ca is set, the
// self-signed client CA) for a platform namespace of the test's own,
// counting only Deployments labelled runLabel: it shares the apiserver
// with the other tests without touching their namespaces. It stops at the
// end of the test or when the returned function is called.
func startGatewayAccess(t *testing.T, platform, runLabel string, managePolicy bool, ca *certs.ClientCA) (stop func()) {
	t.Helper()
	mc, err := metadata.NewForConfig(restConfig)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	if ca != nil {
		ca.Client, ca.Namespace, ca.Logger = client, platform, slogDiscard()
		go ca.Run(ctx)
	}
	c, err := gatewayaccess.New(gatewayaccess.Options{Client: client, Metadata: mc, PlatformNamespace: platform,
		BundleSecret: api.GatewayCASecret, BundleKey: certs.KeyCABundle, Logger: slogDiscard(),
		Selector: api.ServerLabel + "," + runLabel,
		NetworkPolicy: gatewayaccess.Policy{Managed: managePolicy, GatewayNamespace: platform,
			GatewayPodLabels: map[string]string{"app.kubernetes.io/name": "mcp-gateway"}}})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// createRunServer creates an MCP server Deployment labelled runLabel in ns.
func createRunServer(t *testing.T, ns, name, runLabel string) {
	t.Helper()
	d := deployment(t, deploymentYAML(name, true, "registry.example.com/x:1", map[string]string{api.AnnCommand: "x"}))
	d.Labels[runLabel] = "yes"
	_, err := client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	require.NoError(t, err)
}

func configMapOf(ns string) (*corev1.ConfigMap, error) {
	return client.CoreV1().ConfigMaps(ns).Get(context.Background(), api.GatewayCAConfigMap, metav1.GetOptions{})
}

func policyOf(ns string) (*networkingv1.NetworkPolicy, error) {
	return client.NetworkingV1().NetworkPolicies(ns).Get(context.Background(), api.GatewayOnlyPolicy, metav1.GetOptions{})
}

func exists(err error) bool { return err == nil }
func gone(err error) bool   { return apierrors.IsNotFound(err) }

// The gateway access controller and the client CA rotation, one after the
// other: each controller takes care of every ConfigMap of its name (as
// the only one in a cluster does), so two at once would undo each other.
func TestGatewayAccess(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	t.Run("controller", testGatewayAccessController)
	t.Run("client CA rotation", testGatewayClientCARotation)
}

// The controller keeps the CA bundle and the NetworkPolicy in a namespace
// exactly while it has MCP servers, follows the bundle, never touches
// objects it did not write, and drops only the policy on opt-out.
func testGatewayAccessController(t *testing.T) {
	ctx := context.Background()
	platform, label := newNamespace(t), "gateway-access-"+rand.String(6)
	outer := t // controllers restarted in a subtest run on after it
	stop := startGatewayAccess(t, platform, label, true, &certs.ClientCA{})
	ns := newNamespace(t)
	createRunServer(t, ns, "first", label)
	createRunServer(t, ns, "second", label)

	require.Eventually(t, func() bool { _, err := configMapOf(ns); return exists(err) }, 30*time.Second, 50*time.Millisecond,
		"the bundle ConfigMap appears with the servers")
	require.Eventually(t, func() bool { _, err := policyOf(ns); return exists(err) }, 30*time.Second, 50*time.Millisecond,
		"and the NetworkPolicy")
	cm, err := configMapOf(ns)
	require.NoError(t, err)
	caSecret, err := client.CoreV1().Secrets(platform).Get(ctx, api.GatewayCASecret, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, string(caSecret.Data[certs.KeyCABundle]), cm.Data[api.GatewayCAKey], "the published bundle is the CA's")
	assert.Equal(t, api.ManagedByValue, cm.Labels[api.ManagedByLabel])
	record, err := configMapOf(platform)
	require.NoError(t, err, "the platform namespace keeps the record of what was published")
	assert.Equal(t, cm.Data, record.Data)
	gw, err := client.CoreV1().Secrets(platform).Get(ctx, api.GatewayClientSecret, metav1.GetOptions{})
	require.NoError(t, err)
	assert.True(t, clientCertTrusted(t, gw.Data[corev1.TLSCertKey], []byte(cm.Data[api.GatewayCAKey])), "the sidecars accept the gateway")

	t.Run("objects of those names it did not write", func(t *testing.T) {
		foreign := newNamespace(t)
		_, err := client.CoreV1().ConfigMaps(foreign).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: api.GatewayCAConfigMap},
			Data: map[string]string{"ca.crt": "mine"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		np, err := client.NetworkingV1().NetworkPolicies(foreign).Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: api.GatewayOnlyPolicy},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}, metav1.CreateOptions{})
		require.NoError(t, err)
		createRunServer(t, foreign, "srv", label)
		// A namespace set up after it: once that one has its objects,
		// the foreign one has been reconciled too.
		sentinel := newNamespace(t)
		createRunServer(t, sentinel, "srv", label)
		require.Eventually(t, func() bool { _, err := policyOf(sentinel); return exists(err) }, 30*time.Second, 50*time.Millisecond)
		require.NoError(t, client.AppsV1().Deployments(foreign).Delete(ctx, "srv", metav1.DeleteOptions{}))
		require.NoError(t, client.AppsV1().Deployments(sentinel).Delete(ctx, "srv", metav1.DeleteOptions{}))
		require.Eventually(t, func() bool { _, err := policyOf(sentinel); return gone(err) }, 30*time.Second, 50*time.Millisecond)
		got, err := configMapOf(foreign)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"ca.crt": "mine"}, got.Data, "not overwritten")
		gotNP, err := policyOf(foreign)
		require.NoError(t, err, "not deleted when the servers went")
		assert.Equal(t, np.ResourceVersion, gotNP.ResourceVersion, "not changed")
	})

	t.Run("a new bundle reaches every namespace", func(t *testing.T) {
		stop() // the client CA would put its own bundle back
		other, err := certs.NewCA("other", time.Hour)
		require.NoError(t, err)
		sec, err := client.CoreV1().Secrets(platform).Get(ctx, api.GatewayCASecret, metav1.GetOptions{})
		require.NoError(t, err)
		sec.Data[certs.KeyCABundle] = append(sec.Data[certs.KeyCABundle], other.PEM...)
		_, err = client.CoreV1().Secrets(platform).Update(ctx, sec, metav1.UpdateOptions{})
		require.NoError(t, err)
		stop = startGatewayAccess(outer, platform, label, true, nil)
		for _, n := range []string{ns, platform} {
			require.Eventually(t, func() bool {
				cm, err := configMapOf(n)
				return err == nil && cm.Data[api.GatewayCAKey] == string(sec.Data[certs.KeyCABundle])
			}, 30*time.Second, 50*time.Millisecond, n)
		}
	})

	t.Run("without a source the copies stay", func(t *testing.T) {
		require.NoError(t, client.CoreV1().Secrets(platform).Delete(ctx, api.GatewayCASecret, metav1.DeleteOptions{}))
		require.Never(t, func() bool { _, err := configMapOf(ns); return gone(err) }, 2*time.Second, 100*time.Millisecond,
			"running pods keep trusting what they trusted")
	})

	t.Run("opt-out removes the policies it wrote, and only those", func(t *testing.T) {
		stop()
		stop = startGatewayAccess(outer, platform, label, false, nil)
		require.Eventually(t, func() bool { _, err := policyOf(ns); return gone(err) }, 30*time.Second, 50*time.Millisecond)
		_, err := configMapOf(ns)
		assert.NoError(t, err, "the CA bundle stays: the sidecars need it")
	})

	t.Run("the last server goes", func(t *testing.T) {
		require.NoError(t, client.AppsV1().Deployments(ns).Delete(ctx, "first", metav1.DeleteOptions{}))
		require.Never(t, func() bool { _, err := configMapOf(ns); return gone(err) }, 2*time.Second, 100*time.Millisecond, "one server is left")
		require.NoError(t, client.AppsV1().Deployments(ns).Delete(ctx, "second", metav1.DeleteOptions{}))
		require.Eventually(t, func() bool { _, err := configMapOf(ns); return gone(err) }, 30*time.Second, 50*time.Millisecond)
		_, err := configMapOf(platform)
		assert.NoError(t, err, "the record stays")
	})
}

// A full rotation of the gateway's client CA with short lifetimes (30 s
// certificates, a 90 s CA, 6 s overlaps), watched from the outside as a
// sidecar would see it: at every sample the gateway's certificate is
// trusted by the bundle its namespace's ConfigMap holds, a second CA is
// staged and later the first one retired.
func testGatewayClientCARotation(t *testing.T) {
	ctx := context.Background()
	platform, label := newNamespace(t), "gateway-rotation-"+rand.String(6)
	startGatewayAccess(t, platform, label, false, &certs.ClientCA{CertValidity: 30 * time.Second, CAValidity: 90 * time.Second, CAOverlap: 6 * time.Second})
	ns := newNamespace(t)
	createRunServer(t, ns, "srv", label)
	require.Eventually(t, func() bool { _, err := configMapOf(ns); return exists(err) }, 30*time.Second, 50*time.Millisecond)
	first, err := configMapOf(ns)
	require.NoError(t, err)
	firstCA := pemCerts(t, []byte(first.Data[api.GatewayCAKey]))
	require.Len(t, firstCA, 1)

	var samples, untrusted, renewals int
	var staged, retired bool
	var lastLeaf string
	deadline := time.Now().Add(100 * time.Second)
	for time.Now().Before(deadline) && !retired {
		gw, err := client.CoreV1().Secrets(platform).Get(ctx, api.GatewayClientSecret, metav1.GetOptions{})
		require.NoError(t, err)
		cm, err := configMapOf(ns)
		require.NoError(t, err)
		samples++
		bundle := pemCerts(t, []byte(cm.Data[api.GatewayCAKey]))
		if !clientCertTrusted(t, gw.Data[corev1.TLSCertKey], []byte(cm.Data[api.GatewayCAKey])) {
			untrusted++
		}
		if leaf := string(gw.Data[corev1.TLSCertKey]); leaf != lastLeaf {
			renewals++
			lastLeaf = leaf
		}
		staged = staged || len(bundle) == 2
		retired = staged && len(bundle) == 1 && bundle[0] != firstCA[0]
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d samples, %d gateway certificates, staged %t, retired %t, untrusted %d", samples, renewals, staged, retired, untrusted)
	assert.True(t, staged, "a new CA was staged next to the old one")
	assert.True(t, retired, "then the old one retired")
	assert.Zero(t, untrusted, "the gateway's certificate was trusted at every sample")
	assert.GreaterOrEqual(t, renewals, 3, "renewals by the same CA and by the new one")
}

// pemCerts returns the DER of every certificate in b, as strings.
func pemCerts(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		out = append(out, string(blk.Bytes))
	}
}

// clientCertTrusted reports whether certPEM is a client certificate that a
// sidecar holding bundle accepts now.
func clientCertTrusted(t *testing.T, certPEM, bundle []byte) bool {
	t.Helper()
	blk, _ := pem.Decode(certPEM)
	require.NotNil(t, blk)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}
