package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Names of the gateway's client certificate objects, shared with the
// manifests and the cert-manager objects.
const (
	// GatewayClientName is the certificate's common name.
	GatewayClientName = "mcp-gateway"
	gatewayCAName     = "mcp-orchestrator-gateway-client-ca"
)

// ClientCA is the gateway's client certificate in self-signed mode: a CA
// that signs nothing but that certificate, rotated exactly like the
// webhook's (a new CA is staged, trusted but not signing, for CAOverlap;
// then it signs while the previous one stays trusted for CAOverlap; then
// the previous one is retired), in the Secret SecretName. The certificate
// and the public bundle are copied into ClientSecretName for the gateway,
// which never sees the CA's key. The sidecars learn the bundle (KeyCABundle
// of SecretName) from the controller that copies it into every namespace
// with MCP servers; CAOverlap must exceed the time the kubelet takes to
// update the mounted ConfigMaps and Secret (a minute or so by default).
type ClientCA struct {
	Client           kubernetes.Interface
	Namespace        string
	SecretName       string
	ClientSecretName string
	// CommonName of the client certificate; default GatewayClientName.
	CommonName string
	// Lifetimes as on SelfSigned.
	CAValidity, CertValidity, RenewBefore time.Duration
	CARenewBefore, CAOverlap              time.Duration
	Logger                                *slog.Logger
}

func (c *ClientCA) defaults() {
	if c.SecretName == "" {
		c.SecretName = api.GatewayCASecret
	}
	if c.ClientSecretName == "" {
		c.ClientSecretName = api.GatewayClientSecret
	}
	if c.CommonName == "" {
		c.CommonName = GatewayClientName
	}
	s := SelfSigned{CAValidity: c.CAValidity, CertValidity: c.CertValidity, RenewBefore: c.RenewBefore,
		CARenewBefore: c.CARenewBefore, CAOverlap: c.CAOverlap, Logger: c.Logger}
	s.defaults()
	c.CAValidity, c.CertValidity, c.RenewBefore, c.CARenewBefore, c.CAOverlap, c.Logger =
		s.CAValidity, s.CertValidity, s.RenewBefore, s.CARenewBefore, s.CAOverlap, s.Logger
}

// rotation is the CA and client certificate lifecycle (rotation.go).
func (c *ClientCA) rotation() rotation {
	return rotation{
		CAValidity: c.CAValidity, CertValidity: c.CertValidity, RenewBefore: c.RenewBefore,
		CARenewBefore: c.CARenewBefore, CAOverlap: c.CAOverlap,
		caName: gatewayCAName, leafName: "gateway client certificate",
		issueLeaf: func(ca *CA, now time.Time, validity time.Duration) (Pair, error) {
			return ca.issueClient(c.CommonName, now, validity)
		},
		checkLeaf: func(leaf *x509.Certificate) error {
			if leaf.Subject.CommonName != c.CommonName || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
				return fmt.Errorf("the certificate is not a client certificate for %s", c.CommonName)
			}
			return nil
		},
	}
}

// Run keeps the CA, the client certificate and the gateway's copy right
// until ctx ends (on the leader of the webhook's replicas). Errors are
// logged and retried.
func (c *ClientCA) Run(ctx context.Context) {
	c.defaults()
	changed, notify := changeSignal()
	watchSecret(ctx, c.Client, c.Namespace, c.SecretName, notify)
	watchSecret(ctx, c.Client, c.Namespace, c.ClientSecretName, notify)
	keepReconciling(ctx, c.Logger, "gateway client certificate", changed, c.reconcile)
}

func (c *ClientCA) reconcile(ctx context.Context) (time.Duration, error) {
	data, wait, err := keepRotated(ctx, c.Client.CoreV1().Secrets(c.Namespace), c.SecretName, c.rotation(), c.Logger)
	if err != nil {
		return 0, err
	}
	return wait, c.writeClientSecret(ctx, data)
}

// writeClientSecret copies the client certificate and the bundle of the CA
// Secret's data into the gateway's Secret, when they differ. A Secret of
// that name that we did not write is left alone.
func (c *ClientCA) writeClientSecret(ctx context.Context, data map[string][]byte) error {
	want := map[string][]byte{corev1.TLSCertKey: data[KeyCert], corev1.TLSPrivateKeyKey: data[KeyKey], KeyCACert: data[KeyCABundle]}
	secrets := c.Client.CoreV1().Secrets(c.Namespace)
	cur, err := secrets.Get(ctx, c.ClientSecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: c.ClientSecretName,
			Labels: map[string]string{api.ManagedByLabel: api.ManagedByValue}}, Type: corev1.SecretTypeTLS, Data: want}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Secret %s: %w", c.ClientSecretName, err)
		}
		c.Logger.Info("gateway client certificate written", "secret", c.ClientSecretName)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", c.ClientSecretName, err)
	}
	if cur.Labels[api.ManagedByLabel] != api.ManagedByValue {
		return fmt.Errorf("Secret %s exists and was not written by mcp-orchestrator (label %s): not overwriting it; delete it to let self-signed mode manage it", c.ClientSecretName, api.ManagedByLabel)
	}
	if equalData(cur.Data, want) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Data = want
	if _, err := secrets.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating Secret %s: %w", c.ClientSecretName, err)
	}
	c.Logger.Info("gateway client certificate written", "secret", c.ClientSecretName)
	return nil
}

func equalData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}
