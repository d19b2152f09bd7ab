package proxy

import (
	"context"
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
// Calls go over HTTP/1.1 connections kept alive per pod: per call that
// costs both ends less CPU than HTTP/2 (measured, README "Performance").
// Standing streams (a session's GET, a subscriptions/listen; the request's
// context says so, WithStanding) go over HTTP/2 where the sidecar offers
// it: mostly idle, thousands of them share a few connections instead of
// holding one each (a connection, its buffers and its two goroutines at
// both ends).
//
// When the certificate changes (renewal, CA rotation), new requests go
// through new inner transports that present the new one, and the idle
// connections made with the old one are closed: a kept-alive connection
// would otherwise go on presenting the old certificate, whose CA the
// sidecars stop trusting an overlap later. Requests in flight (a standing
// event stream) finish on their connection, which is then dropped.
func NewUpstreamTransport(dialTimeout, headerTimeout time.Duration, cert ClientCertificate) http.RoundTripper {
	return &upstream{dial: dialTimeout, header: headerTimeout, cert: cert}
}

// standingKey marks the context of a request that opens a standing stream.
type standingKey struct{}

// WithStanding marks ctx as that of a request opening a standing stream.
func WithStanding(ctx context.Context) context.Context {
	return context.WithValue(ctx, standingKey{}, true)
}

func isStanding(ctx context.Context) bool { v, _ := ctx.Value(standingKey{}).(bool); return v }

type upstream struct {
	dial, header time.Duration
	cert         ClientCertificate
	// fullHandshakes turns TLS session resumption off (benchmarks).
	fullHandshakes bool

	mu      sync.RWMutex
	cur     *transports
	curCert *tls.Certificate
}

// transports are the inner transports of one certificate.
type transports struct {
	calls, streams *http.Transport
}

func (t *transports) closeIdle() {
	t.calls.CloseIdleConnections()
	t.streams.CloseIdleConnections()
}

func (u *upstream) RoundTrip(r *http.Request) (*http.Response, error) {
	t := u.transport()
	if isStanding(r.Context()) {
		return t.streams.RoundTrip(r)
	}
	return t.calls.RoundTrip(r)
}

// transport is the inner transports for the current certificate.
func (u *upstream) transport() *transports {
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
	t = &transports{calls: u.newTransport(c, false), streams: u.newTransport(c, true)}
	u.cur, u.curCert = t, c
	u.mu.Unlock()
	if old != nil {
		// Outside the lock: closing TLS connections writes to them. The
		// old transports also close their connections in use as they go
		// idle.
		old.closeIdle()
	}
	return t
}

// newTransport is NewTransport presenting c; h2: HTTP/2 where the pod
// offers it (HTTP/1.1 otherwise, and always over plain HTTP).
func (u *upstream) newTransport(c *tls.Certificate, h2 bool) *http.Transport {
	t := NewTransport(u.dial, u.header)
	if h2 {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
		t.Protocols.SetHTTP2(true)
	}
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
// transports (http.Client and tests use it).
func (u *upstream) CloseIdleConnections() {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.cur != nil {
		u.cur.closeIdle()
	}
}
