package proxy

import (
	"crypto/tls"
	"net/http"
	"sync"
	"time"
)

// ClientCertificate returns the gateway's current client certificate for
// the sidecars (a certwatcher's GetCertificate); nil: none.
type ClientCertificate func() (*tls.Certificate, error)

// NewUpstreamTransport returns the transport to the pods: HTTPS with the
// gateway's client certificate to pods whose sidecar authenticates its
// caller (https endpoint URLs), plain HTTP to pods injected before.
//
// The sidecar's serving certificate is ephemeral and made in the pod, so
// there is nothing to verify it against: the hop is encrypted, and the pod
// is the one discovery found at that IP (README, threat model). The client
// certificate is what the sidecar checks.
//
// When the certificate changes (renewal, CA rotation), new requests go
// through a new inner transport that presents the new one, and the idle
// connections made with the old one are closed: a kept-alive connection
// would otherwise go on presenting the old certificate, whose CA the
// sidecars stop trusting an overlap later. Requests in flight (a standing
// event stream) finish on their connection, which is then dropped.
func NewUpstreamTransport(dialTimeout, headerTimeout time.Duration, cert ClientCertificate) http.RoundTripper {
	return &upstream{dial: dialTimeout, header: headerTimeout, cert: cert}
}

type upstream struct {
	dial, header time.Duration
	cert         ClientCertificate
	// fullHandshakes turns TLS session resumption off (benchmarks).
	fullHandshakes bool

	mu      sync.RWMutex
	cur     *http.Transport
	curCert *tls.Certificate
}

func (u *upstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return u.transport().RoundTrip(r)
}

// transport is the inner transport for the current certificate.
func (u *upstream) transport() *http.Transport {
	var c *tls.Certificate
	if u.cert != nil {
		c, _ = u.cert() // an error keeps no certificate: the sidecar says 403
	}
	u.mu.RLock()
	t, tc := u.cur, u.curCert
	u.mu.RUnlock()
	if t != nil && tc == c {
		return t
	}
	u.mu.Lock()
	if u.cur != nil && u.curCert == c {
		t = u.cur
		u.mu.Unlock()
		return t
	}
	old := u.cur
	t = u.newTransport(c)
	u.cur, u.curCert = t, c
	u.mu.Unlock()
	if old != nil {
		// Outside the lock: closing TLS connections writes to them. The
		// old transport also closes its connections in use as they go idle.
		old.CloseIdleConnections()
	}
	return t
}

// newTransport is NewTransport presenting c.
func (u *upstream) newTransport(c *tls.Certificate) *http.Transport {
	t := NewTransport(u.dial, u.header)
	// A handshake that stalls fails like a dial that does, instead of
	// holding the request until the client gives up.
	t.TLSHandshakeTimeout = u.dial
	var sessions tls.ClientSessionCache
	if !u.fullHandshakes {
		// A new connection to a pod resumes the TLS session of an earlier
		// one (the sidecar still sees, and verifies, the certificate): a
		// fraction of a full handshake. Per inner transport, so a new
		// certificate never rides on a session of the old one.
		sessions = tls.NewLRUClientSessionCache(1024)
	}
	t.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: sessions,
		// See NewUpstreamTransport: the sidecar's certificate is ephemeral.
		InsecureSkipVerify: true, //nolint:gosec // authenticated by the client certificate, encrypted to the pod
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c == nil {
				return &tls.Certificate{}, nil
			}
			return c, nil
		},
	}
	return t
}

// CloseIdleConnections closes the idle connections of the current
// transport (http.Client and tests use it).
func (u *upstream) CloseIdleConnections() {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.cur != nil {
		u.cur.CloseIdleConnections()
	}
}
