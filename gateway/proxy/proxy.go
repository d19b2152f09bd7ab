// Package proxy routes MCP streamable-http requests for
// /mcp/{namespace}/{server} to the pods of that server, in both protocol
// eras and without any shared store: a 2026-07-28 request is checked and
// routed on its own (a caller keeps its pod where the server keeps a
// process per caller), a 2025 session stays on the pod that created it.
package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/gateway/metrics"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/internal/toolfilter"
)

// maxAttempts bounds how many pods a request without a session tries when
// pods refuse connections.
const maxAttempts = 3

// Router is what the proxy needs from discovery.
type Router interface {
	Pick(namespace, server string, exclude map[string]bool) *discovery.Endpoint
	// PickForCaller chooses the pod of a sessionless (2026-07-28) request:
	// the caller's own pod where the server keeps per-caller processes.
	PickForCaller(namespace, server, caller string, exclude map[string]bool) *discovery.Endpoint
	Lookup(namespace, server, uid string) *discovery.Endpoint
	Known(namespace, server string) bool
}

// Credentials gives the headers to add for a caller (per-caller
// credentials); nil headers: none.
type Credentials interface {
	Headers(namespace, server, subject string) http.Header
}

// Options configure a Proxy.
type Options struct {
	Router Router
	// Credentials, if set, adds per-caller headers to upstream requests.
	Credentials Credentials
	Codec       *session.Codec
	Metrics     *metrics.Metrics
	Log         *slog.Logger
	// Transport reaches the pods; nil: NewTransport(5s, 60s).
	Transport http.RoundTripper
	// MaxBodyBytes limits a POST body; 0: 16 MiB.
	MaxBodyBytes int64
	// Activity and Waker, if set, serve hibernation (see wake.go).
	Activity Activity
	Waker    Waker
}

// Proxy is the /mcp/{namespace}/{server} handler.
type Proxy struct {
	Options
}

// New returns a Proxy.
func New(o Options) *Proxy {
	if o.Transport == nil {
		o.Transport = NewTransport(5*time.Second, 60*time.Second)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 16 << 20
	}
	return &Proxy{Options: o}
}

// NewTransport returns the upstream transport: bounded dial and
// response-header waits so a dead pod fails fast, and no overall timeout so
// a healthy event stream can stay open for hours.
func NewTransport(dialTimeout, headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: headerTimeout,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		// In-cluster hop: compression costs CPU and would hide the JSON the
		// tool filter reads.
		DisableCompression: true,
	}
}

// request is what the proxy learned from a client request.
type request struct {
	ns, server string
	scope      session.Scope // what session ids are bound to
	label      string        // metric label of the server
	era        mcp.Era
	body       []byte
	msgs       []*mcp.Message
	batch      bool
	id         json.RawMessage // of a single request, for error bodies
	method     string          // of the first message, for metrics
	tool       string          // tools/call name, for metrics and the allow-list
	initialize bool
}

// ServeHTTP reads the request, tells its protocol era, and serves it in
// that era: a 2026-07-28 request on its own, a 2025 one in its session.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := p.newRequest(r)
	rec := httprec.New(w)
	defer p.count(req, rec)
	if !allowMethod(rec, r) || !p.read(rec, r, req) {
		return
	}
	if p.Activity != nil {
		p.Activity.Touch(req.ns, req.server)
	}
	if req.era = req.classify(r.Header); req.era == mcp.EraModern {
		p.serveModern(rec, r, req)
		return
	}
	req.inspect()
	p.serveLegacy(rec, r, req)
}

func (p *Proxy) newRequest(r *http.Request) *request {
	req := &request{ns: r.PathValue("namespace"), server: r.PathValue("server"), label: metrics.Unknown}
	req.scope = session.Scope{Namespace: req.ns, Server: req.server}
	if u := auth.UserFrom(r.Context()); u != nil {
		req.scope.Subject = u.Name
	}
	if p.Router.Known(req.ns, req.server) {
		req.label = req.ns + "/" + req.server
	}
	return req
}

func (p *Proxy) count(req *request, rec *httprec.Recorder) {
	p.Metrics.Requests.WithLabelValues(req.label, metrics.Method(req.method), p.Metrics.Tool(req.label, req.tool), strconv.Itoa(rec.Code)).Inc()
}

func allowMethod(w http.ResponseWriter, r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
		return true
	}
	w.Header().Set("Allow", "GET, POST, DELETE")
	writeRPCError(w, http.StatusMethodNotAllowed, nil, mcp.CodeInvalidRequest, "method not allowed")
	return false
}

// read reads and decodes a POST body (GET and DELETE have none). It
// answers and returns false when the body is too large, is not JSON-RPC,
// or could be read two ways.
func (p *Proxy) read(w http.ResponseWriter, r *http.Request, req *request) bool {
	if r.Method != http.MethodPost {
		return true
	}
	body, err := p.readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRPCError(w, http.StatusRequestEntityTooLarge, nil, mcp.CodeInvalidRequest, "request body too large")
			return false
		}
		writeRPCError(w, http.StatusBadRequest, nil, mcp.CodeParseError, "reading request body failed")
		return false
	}
	req.body = body
	if req.msgs, req.batch, err = mcp.Decode(body, true); err != nil {
		// Never forward what we cannot read: the allow-list would not
		// see it, and a lenient server might still run it.
		writeJSON(w, http.StatusBadRequest, mcp.DecodeErrorResponse(err))
		return false
	}
	for _, m := range req.msgs {
		if key := ambiguousKey(m); key != "" {
			writeRPCError(w, http.StatusBadRequest, m.ID, mcp.CodeInvalidRequest,
				fmt.Sprintf("Invalid Request: keys differing only in case (%q)", key))
			return false
		}
	}
	return true
}

// readBody reads a POST body within MaxBodyBytes: into a buffer of its
// Content-Length (one allocation, no io.ReadAll growing) when it announces
// one within the limit, else through a MaxBytesReader.
func (p *Proxy) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > p.MaxBodyBytes {
		return nil, &http.MaxBytesError{Limit: p.MaxBodyBytes}
	} else if n > 0 {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, p.MaxBodyBytes))
}

// classify tells the request's era from its headers and its one message
// (mcp.RequestEra). A batch is legacy unless the headers say otherwise, and
// a modern batch is then refused by validate.
func (req *request) classify(h http.Header) mcp.Era {
	var m *mcp.Message
	if !req.batch && len(req.msgs) == 1 {
		m = req.msgs[0]
	}
	return mcp.RequestEra(h, m)
}

// serveModern serves a 2026-07-28 request. There is no session: a session
// id the client sends is not read (the forwarder never passes it on) and
// none is minted; the pod is chosen per request.
func (p *Proxy) serveModern(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodPost {
		// The revision has no GET stream and no session to DELETE.
		w.Header().Set("Allow", http.MethodPost)
		writeRPCError(w, http.StatusMethodNotAllowed, nil, mcp.CodeInvalidRequest,
			"method not allowed: protocol version "+api.MCPVersion20260728+" sends every message as a POST")
		return
	}
	if !p.validate(w, r.Header, req) {
		return
	}
	p.route(w, r, req, func(exclude map[string]bool) *discovery.Endpoint {
		return p.Router.PickForCaller(req.ns, req.server, req.scope.Subject, exclude)
	})
}

// validate checks a 2026-07-28 POST once, here: its headers against its
// body (mcp.ValidateModern). A request that fails is answered with the
// status and JSON-RPC error the spec prescribes and never reaches a pod.
// Once they agree, the proxy goes by the headers (metrics, allow-list).
func (p *Proxy) validate(w http.ResponseWriter, h http.Header, req *request) bool {
	m := req.msgs[0]
	req.method = m.Method // until the headers are known to agree
	if m.Kind == mcp.KindRequest && !req.batch {
		req.id = m.ID
	}
	switch {
	case req.batch:
		writeRPCError(w, http.StatusBadRequest, nil, mcp.CodeInvalidRequest,
			"Invalid Request: a "+api.MCPVersion20260728+" POST carries one message, not a batch")
		return false
	case m.Kind == mcp.KindResponse:
		writeRPCError(w, http.StatusBadRequest, nil, mcp.CodeInvalidRequest,
			"Invalid Request: a "+api.MCPVersion20260728+" client sends no responses (input comes in the retried request)")
		return false
	case m.Kind == mcp.KindNotification:
		return true // the revision defines no headers for notification POSTs
	}
	if _, v := mcp.ValidateModern(h, m); v != nil {
		writeJSON(w, v.Status, v.Response(m.ID))
		return false
	}
	req.method = h.Get(api.HeaderMethod)
	if req.method == api.MethodToolsCall {
		req.tool, _ = mcp.DecodeHeaderValue(h.Get(api.HeaderName))
	}
	return true
}

// serveLegacy serves the session revisions (2025-03-26 .. 2025-11-25): a
// request of a session goes to the pod that holds it; one without
// (initialize, or a server that keeps no sessions) to the least loaded pod.
func (p *Proxy) serveLegacy(w http.ResponseWriter, r *http.Request, req *request) {
	if sid := r.Header.Get(api.HeaderSessionID); sid != "" {
		p.serveSession(w, r, req, sid)
		return
	}
	p.route(w, r, req, func(exclude map[string]bool) *discovery.Endpoint {
		return p.Router.Pick(req.ns, req.server, exclude)
	})
}

// serveSession forwards a request of a session to the session's pod.
func (p *Proxy) serveSession(w http.ResponseWriter, r *http.Request, req *request, sid string) {
	ep, upstream, ok := p.findSession(w, req, sid)
	if !ok || p.refuseTools(w, req, ep) {
		return
	}
	if err := p.forward(w, r, req, ep, upstream); err != nil && r.Context().Err() == nil {
		// The cause names the pod's address: logged, not returned.
		p.Log.Warn("pod of a session unreachable", "namespace", req.ns, "server", req.server, "pod", ep.Pod, "error", err.Error())
		p.unavailable(w, req, "unreachable", "the pod holding this session is unreachable, try again")
	}
}

// findSession decodes the gateway's session id into the session's pod and
// the pod's own session id, or answers 404 (the client then starts over).
func (p *Proxy) findSession(w http.ResponseWriter, req *request, sid string) (*discovery.Endpoint, string, bool) {
	ref, err := p.Codec.Decode(req.scope, sid)
	if err != nil {
		p.lost(w, req, "invalid", "session not found")
		return nil, "", false
	}
	ep := p.Router.Lookup(req.ns, req.server, ref.PodUID)
	if ep == nil {
		p.lost(w, req, "pod_gone", "session not found: its pod is gone")
		return nil, "", false
	}
	return ep, ref.Upstream, true
}

// route forwards a request without a session to the pod pick chooses.
// Pods that refuse the connection are skipped, which is safe to retry
// because the request never reached them; with none left it answers 503.
func (p *Proxy) route(w http.ResponseWriter, r *http.Request, req *request, pick func(exclude map[string]bool) *discovery.Endpoint) {
	exclude := map[string]bool{}
	var lastErr error
	for range maxAttempts {
		ep := pick(exclude)
		if ep == nil && len(exclude) == 0 && p.Waker != nil {
			if !p.wake(w, r, req) {
				return
			}
			ep = pick(exclude)
		}
		if ep == nil {
			break
		}
		if p.refuseTools(w, req, ep) {
			return
		}
		err := p.forward(w, r, req, ep, "")
		if err == nil || r.Context().Err() != nil {
			return // answered, or the client is gone
		}
		lastErr = err
		exclude[ep.UID] = true
		if !isDialError(err) {
			break
		}
		p.Log.Warn("pod unreachable, trying another", "namespace", req.ns, "server", req.server, "pod", ep.Pod, "error", err.Error())
	}
	if lastErr != nil {
		p.Log.Warn("no pod reachable", "namespace", req.ns, "server", req.server, "error", lastErr.Error())
		p.unavailable(w, req, "unreachable", fmt.Sprintf("no pod of server %s/%s is reachable", req.ns, req.server))
		return
	}
	p.unavailable(w, req, "no_ready_pod", fmt.Sprintf("server %s/%s has no ready pod", req.ns, req.server))
}

// inspect notes what the proxy needs from the decoded messages of a
// legacy request (validate does it for a modern one, from its headers).
func (req *request) inspect() {
	for i, m := range req.msgs {
		if i == 0 {
			req.method = m.Method
			if m.Kind == mcp.KindRequest && !req.batch {
				req.id = m.ID
			}
		}
		switch m.Method {
		case api.MethodInitialize:
			req.initialize = true
		case api.MethodToolsCall:
			if req.tool == "" {
				req.tool = toolfilter.ToolName(m.Params)
			}
		}
	}
}

// longLived reports whether the request opens a stream that stays open as
// long as the client listens (a session's GET, a subscriptions/listen):
// mostly idle, so counting it as load would make its pod look busy for good.
func (req *request) longLived(r *http.Request) bool {
	return r.Method == http.MethodGet || (req.era == mcp.EraModern && req.method == api.MethodSubscriptionsListen)
}

func (p *Proxy) lost(w http.ResponseWriter, req *request, reason, msg string) {
	p.Metrics.LostSessions.WithLabelValues(req.label, reason).Inc()
	writeRPCError(w, http.StatusNotFound, req.id, api.CodeSessionNotFound, msg)
}

func (p *Proxy) unavailable(w http.ResponseWriter, req *request, reason, msg string) {
	p.Metrics.Unavailable.WithLabelValues(req.label, reason).Inc()
	w.Header().Set("Retry-After", "1")
	writeRPCError(w, http.StatusServiceUnavailable, req.id, api.CodeServerError, msg)
}

func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	writeJSON(w, status, mcp.ErrorResponse(id, code, msg, nil))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
