// Package metrics holds the sidecar's Prometheus metrics. Each sidecar
// instance owns its own registry so tests can run servers in parallel.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Metrics is nil-safe: every method does nothing on a nil receiver.
type Metrics struct {
	Registry *prometheus.Registry

	sessions      prometheus.Gauge
	processStarts prometheus.Counter
	processExits  *prometheus.CounterVec
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	refused       *prometheus.CounterVec

	// byMethod caches the series of each method label (a methodSeries):
	// every request counts and times itself, and the vectors would hash
	// the label and look it up each time.
	byMethod sync.Map
}

type methodSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// series returns the cached series of a method's label.
func (m *Metrics) series(method string) *methodSeries {
	label := methodLabel(method)
	if s, ok := m.byMethod.Load(label); ok {
		return s.(*methodSeries)
	}
	s, _ := m.byMethod.LoadOrStore(label, &methodSeries{
		requests: m.requests.WithLabelValues(label),
		latency:  m.latency.WithLabelValues(label),
	})
	return s.(*methodSeries)
}

// New registers the metrics in a fresh registry (plus Go/process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: api.MetricSessions, Help: "Open MCP sessions.",
		}),
		processStarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mcp_transport_process_starts_total", Help: "MCP server processes started.",
		}),
		processExits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_transport_process_exits_total", Help: "MCP server processes ended, by reason (stopped, crashed).",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_transport_requests_total", Help: "JSON-RPC requests from clients, by MCP method.",
		}, []string{"method"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mcp_transport_request_duration_seconds", Help: "Time from a request's arrival to its response, by MCP method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_transport_errors_total", Help: "Errors by kind (http status class or JSON-RPC failure).",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_transport_refused_total",
			Help: "Requests refused by the sidecar's own checks, by reason: no_client_certificate, untrusted_client_certificate, expired_client_certificate, no_ca_bundle, not_tls, not_from_pod (drain), tool_not_allowed, ambiguous, malformed.",
		}, []string{"reason"}),
	}
	r.MustRegister(m.sessions, m.processStarts, m.processExits, m.requests, m.latency, m.errors, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// knownMethods bounds the label cardinality: anything else counts as "other".
var knownMethods = map[string]bool{
	api.MethodInitialize: true, api.MethodPing: true, api.MethodToolsList: true, api.MethodToolsCall: true,
	api.MethodResourcesList: true, api.MethodResourcesRead: true, api.MethodResourceTemplatesList: true,
	api.MethodResourcesSubscribe: true, api.MethodResourcesUnsubscribe: true, api.MethodPromptsList: true,
	api.MethodPromptsGet: true, api.MethodComplete: true, api.MethodSetLevel: true,
}

func methodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return "other"
}

// SessionOpened and SessionClosed track open sessions.
func (m *Metrics) SessionOpened() {
	if m != nil {
		m.sessions.Inc()
	}
}

// SessionClosed see SessionOpened.
func (m *Metrics) SessionClosed() {
	if m != nil {
		m.sessions.Dec()
	}
}

// ProcessStarted counts a started server process.
func (m *Metrics) ProcessStarted() {
	if m != nil {
		m.processStarts.Inc()
	}
}

// ProcessExited counts an ended process; reason is "stopped" or "crashed".
func (m *Metrics) ProcessExited(reason string) {
	if m != nil {
		m.processExits.WithLabelValues(reason).Inc()
	}
}

// Request counts a client request.
func (m *Metrics) Request(method string) {
	if m != nil {
		m.series(method).requests.Inc()
	}
}

// Observe records a request's latency.
func (m *Metrics) Observe(method string, d time.Duration) {
	if m != nil {
		m.series(method).latency.Observe(d.Seconds())
	}
}

// Error counts an error of the given kind.
func (m *Metrics) Error(kind string) {
	if m != nil {
		m.errors.WithLabelValues(kind).Inc()
	}
}

// InFlight wraps the MCP handler and registers the gauge
// mcp_transport_requests_in_flight: its requests being answered (SSE streams
// included) plus busy(), work that outlived its request (may be nil). The
// gateway reads it, with the sessions, before it hibernates the server.
// Call it once.
func (m *Metrics) InFlight(next http.Handler, busy func() int) http.Handler {
	var n atomic.Int64
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: api.MetricInFlight, Help: "MCP requests being answered (open SSE streams included), plus answers still owed to clients that dropped their connection.",
	}, func() float64 {
		v := n.Load()
		if busy != nil {
			v += int64(busy())
		}
		return float64(v)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		defer n.Add(-1)
		next.ServeHTTP(w, r)
	})
}

// Refused counts a request refused by the sidecar's caller authentication
// or allow-list; reason is one of a fixed set (see the metric's help).
func (m *Metrics) Refused(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}
