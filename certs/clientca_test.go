package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

func testClientCA() *ClientCA {
	c := &ClientCA{Namespace: "mcp-system", CAValidity: 100 * time.Minute, CARenewBefore: 30 * time.Minute, CAOverlap: 5 * time.Minute,
		CertValidity: 30 * time.Minute, RenewBefore: 10 * time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c.defaults()
	return c
}

// clientVerifies reports whether a sidecar holding bundle accepts the
// client certificate of data at now, as gatewayauth checks it.
func clientVerifies(t *testing.T, data map[string][]byte, bundle []byte, now time.Time) bool {
	t.Helper()
	pair, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// The gateway's certificate rotates with the webhook's rules: over three
// CA lifetimes, at every step the certificate the gateway presented before
// is accepted by the bundle after, and the one it presents after by the
// bundle before (a sidecar whose mount is not updated yet): no refused
// gateway call in any order.
func TestClientRotationAlwaysOverlaps(t *testing.T) {
	t.Parallel()
	rot := testClientCA().rotation()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	data, err := rot.fresh(start)
	require.NoError(t, err)
	reasons := map[string]int{}
	for now := start; now.Before(start.Add(300 * time.Minute)); now = now.Add(30 * time.Second) {
		require.True(t, clientVerifies(t, data, data[KeyCABundle], now), "presented certificate accepted at %s", now.Sub(start))
		for range 4 {
			st, _, err := rot.plan(data, now)
			require.NoError(t, err)
			if st == nil {
				break
			}
			require.NotEqual(t, "no valid CA", st.reason)
			reasons[st.reason]++
			assert.True(t, clientVerifies(t, data, st.data[KeyCABundle], now), "%s: old certificate, new bundle", st.reason)
			assert.True(t, clientVerifies(t, st.data, data[KeyCABundle], now), "%s: new certificate, old bundle", st.reason)
			data = st.data
		}
	}
	assert.GreaterOrEqual(t, reasons["new CA staged"], 3)
	assert.GreaterOrEqual(t, reasons["new CA signs"], 3)
	assert.GreaterOrEqual(t, reasons["previous CA retired"], 3)
	assert.GreaterOrEqual(t, reasons["gateway client certificate renewed: due"], 6)
}

func TestClientCertificateIsForClients(t *testing.T) {
	t.Parallel()
	rot := testClientCA().rotation()
	data, err := rot.fresh(time.Now())
	require.NoError(t, err)
	pair, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, GatewayClientName, leaf.Subject.CommonName)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
	// A serving certificate of the same CA in the Secret is replaced.
	ca, err := parseCA(data[KeyCACert], data[KeyCAKey])
	require.NoError(t, err)
	serving, err := ca.issue([]string{"x"}, time.Now(), time.Hour)
	require.NoError(t, err)
	data[KeyCert], data[KeyKey] = serving.CertPEM, serving.KeyPEM
	st, _, err := rot.plan(data, time.Now())
	require.NoError(t, err)
	assert.Equal(t, "gateway client certificate renewed: the certificate is not a client certificate for mcp-gateway", reason(st))
}

// The gateway's Secret gets the certificate and the public bundle, never
// the CA key; a Secret of that name that someone else wrote is left alone.
func TestClientCAWritesTheGatewaySecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testClientCA()
	c.Client = fake.NewClientset()
	_, err := c.reconcile(ctx)
	require.NoError(t, err)
	caSec, err := c.Client.CoreV1().Secrets("mcp-system").Get(ctx, api.GatewayCASecret, metav1.GetOptions{})
	require.NoError(t, err)
	gw, err := c.Client.CoreV1().Secrets("mcp-system").Get(ctx, api.GatewayClientSecret, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.SecretTypeTLS, gw.Type)
	assert.Equal(t, api.ManagedByValue, gw.Labels[api.ManagedByLabel])
	assert.Equal(t, []string{"ca.crt", "tls.crt", "tls.key"}, keysOf(gw.Data), "no CA key for the gateway")
	assert.Equal(t, caSec.Data[KeyCert], gw.Data[corev1.TLSCertKey])
	assert.Equal(t, caSec.Data[KeyCABundle], gw.Data[KeyCACert])
	before := gw.ResourceVersion
	_, err = c.reconcile(ctx)
	require.NoError(t, err)
	gw, err = c.Client.CoreV1().Secrets("mcp-system").Get(ctx, api.GatewayClientSecret, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, gw.ResourceVersion, "nothing to write")

	theirs := testClientCA()
	theirs.Client = fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: api.GatewayClientSecret, Namespace: "mcp-system"},
		Data: map[string][]byte{"tls.crt": []byte("someone else's")}})
	_, err = theirs.reconcile(ctx)
	assert.ErrorContains(t, err, "was not written by mcp-orchestrator")
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
