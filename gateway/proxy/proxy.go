// Package proxy routes MCP streamable-http requests for
// /mcp/{namespace}/{server} to the pods of that server, keeping every
// session on the pod that created it without any session store.
package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/gateway/metrics"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// maxAttempts bounds how many pods a request without a session tries when
// pods refuse connections.
const maxAttempts = 3

// Router is what the proxy needs from discovery.
type Router interface {
	Pick(namespace, server string, exclude map[string]bool) *discovery.Endpoint
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
	body       []byte
	msgs       []*mcp.Message
	batch      bool
	id         json.RawMessage // of a single request, for error bodies
	method     string          // of the first message, for metrics
	tool       string          // tools/call name, for metrics
	initialize bool
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{ns: r.PathValue("namespace"), server: r.PathValue("server")}
	req.scope = session.Scope{Namespace: req.ns, Server: req.server}
	if u := auth.UserFrom(r.Context()); u != nil {
		req.scope.Subject = u.Name
	}
	req.label = metrics.Unknown
	if p.Router.Known(req.ns, req.server) {
		req.label = req.ns + "/" + req.server
	}
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		p.Metrics.Requests.WithLabelValues(req.label, metrics.Method(req.method), p.Metrics.Tool(req.label, req.tool), fmt.Sprint(rec.code)).Inc()
	}()
	w = rec

	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeRPCError(w, http.StatusMethodNotAllowed, nil, mcp.CodeInvalidRequest, "method not allowed")
		return
	}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeRPCError(w, http.StatusRequestEntityTooLarge, nil, mcp.CodeInvalidRequest, "request body too large")
				return
			}
			writeRPCError(w, http.StatusBadRequest, nil, mcp.CodeParseError, "reading request body failed")
			return
		}
		req.body = body
		if req.msgs, req.batch, err = mcp.Decode(body, true); err != nil {
			// Never forward what we cannot read: the allow-list would not
			// see it, and a lenient server might still run it.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(mcp.DecodeErrorResponse(err))
			return
		}
		for _, m := range req.msgs {
			if key := ambiguousKey(m); key != "" {
				writeRPCError(w, http.StatusBadRequest, m.ID, mcp.CodeInvalidRequest,
					fmt.Sprintf("Invalid Request: keys differing only in case (%q)", key))
				return
			}
		}
		req.inspect()
	}

	var ep *discovery.Endpoint
	var upstreamSID string
	if sid := r.Header.Get(api.HeaderSessionID); sid != "" {
		ref, err := p.Codec.Decode(req.scope, sid)
		if err != nil {
			p.lost(w, req, "invalid", "session not found")
			return
		}
		if ep = p.Router.Lookup(req.ns, req.server, ref.PodUID); ep == nil {
			p.lost(w, req, "pod_gone", "session not found: its pod is gone")
			return
		}
		upstreamSID = ref.Upstream
		if p.refuseTools(w, req, ep) {
			return
		}
		if err := p.forward(w, r, req, ep, upstreamSID, true); err != nil && r.Context().Err() == nil {
			// The cause names the pod's address: logged, not returned.
			p.Log.Warn("pod of a session unreachable", "namespace", req.ns, "server", req.server, "pod", ep.Pod, "error", err.Error())
			p.unavailable(w, req, "unreachable", "the pod holding this session is unreachable, try again")
		}
		return
	}

	// No session: initialize, or a stateless server. Any ready pod will
	// do; pods that refuse the connection are skipped, which is safe to
	// retry because the request never reached them.
	exclude := map[string]bool{}
	var lastErr error
	for range maxAttempts {
		if ep = p.Router.Pick(req.ns, req.server, exclude); ep == nil {
			break
		}
		if p.refuseTools(w, req, ep) {
			return
		}
		err := p.forward(w, r, req, ep, "", false)
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

// inspect notes what the proxy needs from the decoded messages.
func (req *request) inspect() {
	for i, m := range req.msgs {
		if i == 0 {
			req.method = m.Method
			if m.Kind == mcp.KindRequest && !req.batch {
				req.id = m.ID
			}
		}
		switch m.Method {
		case "initialize":
			req.initialize = true
		case "tools/call":
			if req.tool == "" {
				req.tool = toolName(m.Params)
			}
		}
	}
}

func toolName(params json.RawMessage) string {
	var p struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(params, &p)
	return p.Name
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(mcp.ErrorResponse(id, code, msg, nil))
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// statusRecorder remembers the status for metrics and passes Flush on.
type statusRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.written {
		s.code, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
