package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Keys of the Secret that holds the self-signed material.
const (
	KeyCACert = "ca.crt"
	KeyCAKey  = "ca.key"
	KeyCert   = corev1.TLSCertKey
	KeyKey    = corev1.TLSPrivateKeyKey
)

// SelfSigned is the certificate source for clusters without cert-manager.
// Every webhook replica runs one. They agree through a Secret: the first
// replica to create it wins and the others read it. Each writes the CA into
// the caBundle of the webhook configurations and puts it back if something
// overwrites it. The serving certificate is renewed well before it expires
// by the same CA, so the API server trusts the old and the new one alike;
// the CA itself is renewed with an overlap (rotation.go), so no admission
// fails while replicas switch.
type SelfSigned struct {
	Client     kubernetes.Interface
	Namespace  string
	SecretName string
	// Hosts the serving certificate is valid for (the Service's DNS names).
	Hosts []string
	// MutatingWebhooks and ValidatingWebhooks name the configurations whose
	// caBundle is kept.
	MutatingWebhooks, ValidatingWebhooks []string
	// CAValidity defaults to 10 years, CertValidity to 90 days; a serving
	// certificate is renewed once less than RenewBefore (default a third
	// of CertValidity) is left, the CA once less than CARenewBefore
	// (default a third of CAValidity). CAOverlap (default a tenth of
	// CAValidity, at most 10 minutes) is how long a new CA is trusted
	// before it signs, and the old one after.
	CAValidity, CertValidity, RenewBefore time.Duration
	CARenewBefore, CAOverlap              time.Duration
	Logger                                *slog.Logger

	current atomic.Pointer[tls.Certificate]
	caPEM   atomic.Pointer[[]byte]
}

// GetCertificate is the tls.Config hook: the newest serving certificate.
func (s *SelfSigned) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.current.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("no serving certificate yet")
}

// Ready reports whether a serving certificate is loaded.
func (s *SelfSigned) Ready() error {
	_, err := s.GetCertificate(nil)
	return err
}

// CABundle is the CA the serving certificate chains to, once loaded.
func (s *SelfSigned) CABundle() []byte {
	if p := s.caPEM.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *SelfSigned) defaults() {
	if s.CAValidity == 0 {
		s.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if s.CertValidity == 0 {
		s.CertValidity = 90 * 24 * time.Hour
	}
	if s.RenewBefore == 0 {
		s.RenewBefore = s.CertValidity / 3
	}
	if s.CARenewBefore == 0 {
		s.CARenewBefore = s.CAValidity / 3
	}
	if s.CAOverlap == 0 {
		s.CAOverlap = min(10*time.Minute, s.CAValidity/10)
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
}

// Run bootstraps the Secret, then keeps certificate and caBundles right
// until ctx ends; Ready tells when the first certificate is loaded. Errors
// are logged and retried.
func (s *SelfSigned) Run(ctx context.Context) error {
	s.defaults()
	secretChanged := make(chan struct{}, 1)
	notify := func(any) {
		select {
		case secretChanged <- struct{}{}:
		default:
		}
	}
	// Watch just our Secret: another replica's renewal reaches us at once.
	lw := cache.NewListWatchFromClient(s.Client.CoreV1().RESTClient(), "secrets", s.Namespace, fields.OneTermEqualSelector("metadata.name", s.SecretName))
	_, secretInformer := cache.NewInformerWithOptions(cache.InformerOptions{ListerWatcher: lw, ObjectType: &corev1.Secret{},
		Handler: cache.ResourceEventHandlerFuncs{AddFunc: notify, UpdateFunc: func(_, n any) { notify(n) }, DeleteFunc: notify}})
	go secretInformer.RunWithContext(ctx)
	s.watchConfigurations(ctx, notify)

	for {
		wait, err := s.reconcile(ctx)
		if err != nil {
			s.Logger.Warn("self-signed certificates: will retry", "error", err)
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-secretChanged:
		// At most 10 minutes: the monotonic clock stops while a VM is
		// suspended, so a long sleep could wake past a due renewal.
		case <-time.After(min(max(wait, 50*time.Millisecond), 10*time.Minute)):
		}
	}
}

// reconcile makes sure the Secret exists, applies the changes rotation
// needs now (one Secret update each), publishes the CA bundle and then
// loads the serving certificate: trusted before served. It returns when
// to look again.
func (s *SelfSigned) reconcile(ctx context.Context) (time.Duration, error) {
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	sec, err := secrets.Get(ctx, s.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		data, err := s.fresh(time.Now())
		if err != nil {
			return 0, err
		}
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.SecretName, Namespace: s.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "mcp-orchestrator"}}, Type: corev1.SecretTypeTLS, Data: data}
		created, err := secrets.Create(ctx, sec, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err): // another replica won: use theirs
			if sec, err = secrets.Get(ctx, s.SecretName, metav1.GetOptions{}); err != nil {
				return 0, err
			}
		case err != nil:
			return 0, fmt.Errorf("creating Secret %s/%s: %w", s.Namespace, s.SecretName, err)
		default:
			s.Logger.Info("created CA and serving certificate", "secret", s.SecretName)
			sec = created
		}
	} else if err != nil {
		return 0, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.SecretName, err)
	}

	for range 8 { // a handful of steps at most; more means a fight
		st, wait, err := s.plan(sec.Data, time.Now())
		if err != nil {
			return 0, err
		}
		if st == nil {
			if err := s.patchCABundles(ctx, sec.Data[KeyCABundle]); err != nil {
				return 0, err
			}
			return wait, s.load(sec.Data)
		}
		updated := sec.DeepCopy()
		updated.Data = st.data
		// resourceVersion guards against two replicas changing it at
		// once: the loser re-reads the winner's Secret and goes on from it.
		next, err := secrets.Update(ctx, updated, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if next, err = secrets.Get(ctx, s.SecretName, metav1.GetOptions{}); err != nil {
				return 0, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.SecretName, err)
			}
		} else if err != nil {
			return 0, fmt.Errorf("updating Secret %s/%s (%s): %w", s.Namespace, s.SecretName, st.reason, err)
		} else {
			s.Logger.Info("self-signed certificates: "+st.reason, "secret", s.SecretName)
		}
		sec = next
	}
	return 0, errors.New("the Secret keeps changing under us")
}

func (s *SelfSigned) load(data map[string][]byte) error {
	pair, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	if err != nil {
		return fmt.Errorf("loading serving certificate: %w", err)
	}
	if cur := s.current.Load(); cur == nil || !bytes.Equal(cur.Certificate[0], pair.Certificate[0]) {
		s.current.Store(&pair)
		ca := slices.Clone(data[KeyCABundle])
		s.caPEM.Store(&ca)
		s.Logger.Info("serving certificate loaded")
	}
	return nil
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("no CA")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(cb)}, nil
}
