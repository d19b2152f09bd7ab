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
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/archestra-ai/mcp-orchestrator/api"
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

// webhookCAName is the common name of the webhook's self-signed CA.
const webhookCAName = "mcp-orchestrator-webhook-ca"

// rotation is s's CA and serving certificate lifecycle (rotation.go).
func (s *SelfSigned) rotation() rotation {
	return rotation{
		CAValidity: s.CAValidity, CertValidity: s.CertValidity, RenewBefore: s.RenewBefore,
		CARenewBefore: s.CARenewBefore, CAOverlap: s.CAOverlap,
		caName: webhookCAName, leafName: "serving certificate",
		issueLeaf: func(ca *CA, now time.Time, validity time.Duration) (Pair, error) {
			return ca.issue(s.Hosts, now, validity)
		},
		checkLeaf: func(leaf *x509.Certificate) error {
			for _, h := range s.Hosts {
				if leaf.VerifyHostname(h) != nil {
					return fmt.Errorf("serving certificate is not valid for %s", h)
				}
			}
			return nil
		},
	}
}

func (s *SelfSigned) plan(data map[string][]byte, now time.Time) (*step, time.Duration, error) {
	return s.rotation().plan(data, now)
}

func (s *SelfSigned) fresh(now time.Time) (map[string][]byte, error) { return s.rotation().fresh(now) }

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
	changed, notify := changeSignal()
	// Watch just our Secret: another replica's renewal reaches us at once.
	watchSecret(ctx, s.Client, s.Namespace, s.SecretName, notify)
	s.watchConfigurations(ctx, notify)
	keepReconciling(ctx, s.Logger, "self-signed certificates", changed, s.reconcile)
	return nil
}

// changeSignal is a wake-up channel of capacity one and the function that
// signals it without blocking (informer handlers).
func changeSignal() (<-chan struct{}, func(any)) {
	ch := make(chan struct{}, 1)
	return ch, func(any) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// watchSecret calls notify whenever the Secret ns/name changes.
func watchSecret(ctx context.Context, client kubernetes.Interface, ns, name string, notify func(any)) {
	lw := cache.NewListWatchFromClient(client.CoreV1().RESTClient(), "secrets", ns, fields.OneTermEqualSelector("metadata.name", name))
	_, inf := cache.NewInformerWithOptions(cache.InformerOptions{ListerWatcher: lw, ObjectType: &corev1.Secret{},
		Handler: cache.ResourceEventHandlerFuncs{AddFunc: notify, UpdateFunc: func(_, n any) { notify(n) }, DeleteFunc: notify}})
	go inf.RunWithContext(ctx)
}

// keepReconciling calls reconcile until ctx ends: again when it asks to,
// on a change, and 2 s after an error (logged).
func keepReconciling(ctx context.Context, log *slog.Logger, what string, changed <-chan struct{}, reconcile func(context.Context) (time.Duration, error)) {
	for {
		wait, err := reconcile(ctx)
		if err != nil {
			log.Warn(what+": will retry", "error", err)
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
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
	data, wait, err := keepRotated(ctx, s.Client.CoreV1().Secrets(s.Namespace), s.SecretName, s.rotation(), s.Logger)
	if err != nil {
		return 0, err
	}
	if err := s.patchCABundles(ctx, data[KeyCABundle]); err != nil {
		return 0, err
	}
	return wait, s.load(data)
}

// keepRotated makes sure the Secret name exists and applies the steps rot
// needs now, one update each, so every replica sees each step before the
// next. It returns the Secret's data and when to look again.
func keepRotated(ctx context.Context, secrets typedcorev1.SecretInterface, name string, rot rotation, log *slog.Logger) (map[string][]byte, time.Duration, error) {
	sec, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		data, err := rot.fresh(time.Now())
		if err != nil {
			return nil, 0, err
		}
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{api.ManagedByLabel: api.ManagedByValue}}, Type: corev1.SecretTypeTLS, Data: data}
		created, err := secrets.Create(ctx, sec, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err): // another replica won: use theirs
			if sec, err = secrets.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return nil, 0, err
			}
		case err != nil:
			return nil, 0, fmt.Errorf("creating Secret %s: %w", name, err)
		default:
			log.Info("created CA and "+rot.leafName, "secret", name)
			sec = created
		}
	} else if err != nil {
		return nil, 0, fmt.Errorf("reading Secret %s: %w", name, err)
	}

	for range 8 { // a handful of steps at most; more means a fight
		st, wait, err := rot.plan(sec.Data, time.Now())
		if err != nil {
			return nil, 0, err
		}
		if st == nil {
			return sec.Data, wait, nil
		}
		updated := sec.DeepCopy()
		updated.Data = st.data
		// resourceVersion guards against two replicas changing it at
		// once: the loser re-reads the winner's Secret and goes on from it.
		next, err := secrets.Update(ctx, updated, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if next, err = secrets.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return nil, 0, fmt.Errorf("reading Secret %s: %w", name, err)
			}
		} else if err != nil {
			return nil, 0, fmt.Errorf("updating Secret %s (%s): %w", name, st.reason, err)
		} else {
			log.Info("self-signed certificates: "+st.reason, "secret", name)
		}
		sec = next
	}
	return nil, 0, errors.New("the Secret keeps changing under us")
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
