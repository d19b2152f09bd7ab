package virtual

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Pods is what the virtual servers need from discovery: a member's pods
// (its state) and their changes (a member that comes or goes changes the
// lists, which listening clients are told).
type Pods interface {
	Endpoints(namespace, server string) []*discovery.Endpoint
	Changed(namespace, server string) <-chan struct{}
}

// Options configure the virtual servers.
type Options struct {
	Client     kubernetes.Interface
	Namespaces []string
	// Members is the proxy's handler of /mcp/{namespace}/{server}.
	Members http.Handler
	Pods    Pods
	// Known reports real servers (pods or Deployments known elsewhere,
	// such as hibernated ones), which win their endpoint.
	Known func(namespace, server string) bool
	// Hibernated, if set, reports a member scaled to zero by hibernation.
	Hibernated func(namespace, server string) bool
	Codec      *session.Codec
	Log        *slog.Logger
	Metrics    prometheus.Registerer
	// ListTimeout bounds how long a list (or discovery) waits for slow
	// members; those that have not answered are left out (0: 2s).
	ListTimeout time.Duration
	// CacheTTL is how long a replica keeps a member's discovery and its
	// resource lists (which tell which member owns a URI; 0: 30s).
	CacheTTL time.Duration
	// MaxBodyBytes limits a POST body (0: 16 MiB).
	MaxBodyBytes int64
	// Version is the gateway's, in the virtual server's serverInfo.
	Version string
	// Peer is this replica's address (host:port) that other replicas reach
	// it on, for the answers of legacy clients to server requests; empty:
	// answers must reach the replica that asked.
	Peer string
	// PeerTransport reaches other replicas (nil: a plain HTTP transport).
	PeerTransport http.RoundTripper
}

// Virtual serves every virtual server.
type Virtual struct {
	opts    Options
	index   *Index
	cache   *memberCache
	metrics *metrics
	events  *reporter
	legacy  *sessions
	waits   *waiters
	absences
	memberSessions *memberSessions
}

// New builds the virtual servers' handler; Start runs its informers.
func New(o Options) (*Virtual, error) {
	if o.Client == nil || o.Members == nil || o.Pods == nil || o.Codec == nil || o.Log == nil {
		return nil, errors.New("virtual: Client, Members, Pods, Codec and Log are required")
	}
	o.ListTimeout = cmp.Or(o.ListTimeout, 2*time.Second)
	o.CacheTTL = cmp.Or(o.CacheTTL, 30*time.Second)
	o.MaxBodyBytes = cmp.Or(o.MaxBodyBytes, 16<<20)
	if o.Metrics == nil {
		o.Metrics = prometheus.NewRegistry()
	}
	ix, err := newIndex(o.Client, o.Namespaces, o.Known, o.Log)
	if err != nil {
		return nil, err
	}
	v := &Virtual{opts: o, index: ix, cache: newMemberCache(o.CacheTTL), metrics: newMetrics(o.Metrics),
		events: newReporter(o.Client, o.Log), legacy: newSessions(), waits: newWaiters(o.Peer), memberSessions: newMemberSessions()}
	ix.report = v.report
	return v, nil
}

// Start runs the informers and the event recorder until ctx ends.
func (v *Virtual) Start(ctx context.Context) {
	v.events.start(ctx)
	v.index.start(ctx)
}

// HasSynced reports whether the informers have their first lists.
func (v *Virtual) HasSynced() bool {
	for _, s := range v.index.synced {
		if !s() {
			return false
		}
	}
	return true
}

// Index is the virtual servers as defined (the operators' API reads it).
func (v *Virtual) Index() *Index { return v.index }

// Handler serves /mcp/{namespace}/{server}: a virtual server's requests
// here, everything else (real servers, which win a shared name) by next.
// It goes behind the auth guard: RBAC use on servers named after the
// virtual server is the grant.
func (v *Virtual) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := v.index.Lookup(r.PathValue("namespace"), r.PathValue("server"))
		if s == nil || s.Shadowed {
			next.ServeHTTP(w, r)
			return
		}
		v.serve(w, r, s)
	})
}

// serve reads a request of virtual server s and serves it in its era.
func (v *Virtual) serve(w http.ResponseWriter, r *http.Request, s *Server) {
	rec := httprec.New(w)
	req := &request{s: s, r: r}
	defer func() { v.metrics.request(s, req.method, rec.Code) }()
	if !s.Valid() {
		writeError(rec, http.StatusServiceUnavailable, nil, api.CodeServerError,
			fmt.Sprintf("virtual server %s is not served: its definition has problems (mcpctl status %s -n %s)", s.Key(), s.Name, s.Namespace),
			map[string]any{"reason": "invalid-definition"})
		return
	}
	if !v.read(rec, req) {
		return
	}
	if req.modern() {
		v.serveModern(rec, req)
		return
	}
	v.serveLegacy(rec, req)
}

// request is one client request of a virtual server.
type request struct {
	s      *Server
	r      *http.Request
	body   []byte
	msgs   []*mcp.Message
	batch  bool
	msg    *mcp.Message // the single message (nil for a batch or a GET)
	method string
	era    mcp.Era
}

func (q *request) modern() bool { return q.era == mcp.EraModern }

func (q *request) id() json.RawMessage {
	if q.msg != nil && q.msg.Kind == mcp.KindRequest {
		return q.msg.ID
	}
	return nil
}

// read reads and decodes a POST body and tells the request's era.
func (v *Virtual) read(w http.ResponseWriter, q *request) bool {
	r := q.r
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodDelete:
		q.era = mcp.RequestEra(r.Header, nil)
		return true
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, nil, mcp.CodeInvalidRequest, "method not allowed", nil)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, v.opts.MaxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, nil, mcp.CodeInvalidRequest, "request body too large or unreadable", nil)
		return false
	}
	q.body = body
	if q.msgs, q.batch, err = mcp.Decode(body, true); err != nil {
		writeJSON(w, http.StatusBadRequest, mcp.DecodeErrorResponse(err))
		return false
	}
	if !q.batch && len(q.msgs) == 1 {
		q.msg = q.msgs[0]
		q.method = q.msg.Method
	}
	q.era = mcp.RequestEra(r.Header, q.msg)
	return true
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data any) {
	writeJSON(w, status, mcp.ErrorResponse(id, code, msg, data))
}

func compact(dst *bytes.Buffer, src []byte) error { return json.Compact(dst, src) }
