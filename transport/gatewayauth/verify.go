package gatewayauth

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport/caller"
)

// Reasons a request is refused, the values of the sidecar's refusal metric.
const (
	ReasonNotTLS        = "not_tls"
	ReasonNoBundle      = "no_ca_bundle"
	ReasonNoCertificate = "no_client_certificate"
	ReasonExpired       = "expired_client_certificate"
	ReasonUntrusted     = "untrusted_client_certificate"
)

// Verifier checks the client certificate of each request against the
// current bundle. A verification holds for the connection until the bundle
// changes or the certificate expires, so kept-alive connections pay for it
// once.
type Verifier struct {
	Bundle *Bundle
	Log    *slog.Logger
	// Refused is told the reason of every refused request; may be nil.
	Refused func(reason string)
	now     func() time.Time

	logged sync.Map // reason -> time.Time of the last log line
}

// logRefusal logs a refusal, at most once per reason in 10 s: a caller
// that keeps trying must not flood the log (the metric counts them all).
func (v *Verifier) logRefusal(reason string, r *http.Request) {
	now := time.Now()
	if last, ok := v.logged.Load(reason); ok && now.Sub(last.(time.Time)) < 10*time.Second {
		return
	}
	v.logged.Store(reason, now)
	v.Log.Info("refused a request without a valid gateway client certificate", "reason", reason, "remote", r.RemoteAddr)
}

type connKey struct{}

// connState caches the verification of one connection's certificate.
type connState struct {
	mu       sync.Mutex
	gen      uint64
	notAfter time.Time
	ok       bool
}

// ConnContext is the http.Server hook that gives every connection a cache.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{})
}

// Wrap serves next only to requests that carry a verified gateway client
// certificate, with the caller the gateway states in the context (see
// package caller); every other request gets 403 with a JSON-RPC error
// saying why, at once.
func (v *Verifier) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reason, msg := v.check(r); reason != "" {
			if v.Refused != nil {
				v.Refused(reason)
			}
			v.logRefusal(reason, r)
			refuse(w, msg)
			return
		}
		c, err := api.ParseCaller(r.Header.Get(api.HeaderCallerUser), r.Header.Get(api.HeaderCallerGroups))
		if err != nil {
			// The gateway writes these; a bad value is a bug, not an attack.
			v.Log.Warn("caller identity from the gateway unreadable", "error", err.Error())
			StripIdentity(r.Header)
		} else if c.User != "" {
			r = r.WithContext(caller.With(r.Context(), c))
		}
		next.ServeHTTP(w, r)
	})
}

// check returns why the request may not pass ("" when it may) and the
// message for the caller.
func (v *Verifier) check(r *http.Request) (reason, msg string) {
	if r.TLS == nil {
		return ReasonNotTLS, "this endpoint serves HTTPS only"
	}
	pool, gen := v.Bundle.Pool()
	if pool == nil {
		return ReasonNoBundle, "the gateway's CA bundle is not loaded yet"
	}
	if len(r.TLS.PeerCertificates) == 0 {
		return ReasonNoCertificate, "only the MCP gateway may call this server: no client certificate"
	}
	now := time.Now()
	if v.now != nil {
		now = v.now()
	}
	st, _ := r.Context().Value(connKey{}).(*connState)
	if st == nil {
		st = &connState{}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ok && st.gen == gen && now.Before(st.notAfter) {
		return "", ""
	}
	st.ok = false
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return ReasonExpired, "only the MCP gateway may call this server: the client certificate is expired or not valid yet"
	case err != nil:
		return ReasonUntrusted, "only the MCP gateway may call this server: the client certificate is not from the gateway's CA"
	}
	st.ok, st.gen, st.notAfter = true, gen, leaf.NotAfter
	return "", ""
}

func refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(mcp.ErrorResponse(nil, api.CodeServerError, "Forbidden: "+msg, nil))
}

// StripIdentity removes the caller identity headers: what a request says
// about its caller counts only on a verified gateway connection.
func StripIdentity(h http.Header) {
	h.Del(api.HeaderCallerUser)
	h.Del(api.HeaderCallerGroups)
}

// WithoutIdentity is the MCP endpoint of a sidecar that does not
// authenticate its caller (no CA bundle configured): no caller is known,
// and the identity headers are removed so the server cannot be misled.
func WithoutIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		StripIdentity(r.Header)
		next.ServeHTTP(w, r)
	})
}

// FromPod serves next only to requests from the pod itself (a loopback
// source address, which no packet from outside the pod's network namespace
// can carry), and 403 to others: the drain hook runs in the pod.
func FromPod(refused func(reason string), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			if refused != nil {
				refused("not_from_pod")
			}
			http.Error(w, "forbidden: only the pod itself may drain its sidecar", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
