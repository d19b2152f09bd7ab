// Package metrics defines the gateway's Prometheus metrics. Every label
// value is bounded: servers are those discovered in the cluster (anything
// else is "unknown"), methods come from a fixed list, tool names are capped
// per server, so a client sending junk cannot grow the series count.
package metrics

import (
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/prometheus/client_golang/prometheus"
)

// Unknown is the label value for anything outside the bounded sets.
const Unknown = "unknown"

// maxToolsPerServer caps distinct tool label values per server; tool names
// come from clients, so without a cap they are unbounded.
const maxToolsPerServer = 64

// knownMethods are the MCP methods that get their own label value.
var knownMethods = map[string]bool{
	api.MethodInitialize: true, api.MethodPing: true, api.MethodDiscover: true, api.MethodSubscriptionsListen: true,
	api.MethodToolsList: true, api.MethodToolsCall: true,
	api.MethodResourcesList: true, api.MethodResourcesRead: true, api.MethodResourceTemplatesList: true,
	api.MethodResourcesSubscribe: true, api.MethodResourcesUnsubscribe: true,
	api.MethodPromptsList: true, api.MethodPromptsGet: true,
	api.MethodComplete: true, api.MethodSetLevel: true,
	api.MethodInitialized: true, api.MethodCancelled: true,
	api.MethodProgress: true, api.MethodRootsListChanged: true,
	"tasks/get": true, "tasks/list": true, "tasks/cancel": true, "tasks/result": true,
}

// Metrics holds the collectors. The zero value is not usable; use New.
type Metrics struct {
	Requests        *prometheus.CounterVec
	UpstreamLatency *prometheus.HistogramVec
	LostSessions    *prometheus.CounterVec
	Unavailable     *prometheus.CounterVec
	AuthDenials     *prometheus.CounterVec

	mu    sync.Mutex
	tools map[string]map[string]bool
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_requests_total",
			Help: "MCP HTTP requests by server, JSON-RPC method, tool (tools/call) and HTTP status code.",
		}, []string{"server", "method", "tool", "code"}),
		UpstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcp_gateway_upstream_duration_seconds",
			Help:    "Time from sending a request to a pod to its response headers.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"server"}),
		LostSessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_lost_sessions_total",
			Help: "Requests answered 404 because their session is unknown: invalid id, pod gone, or the pod forgot it.",
		}, []string{"server", "reason"}),
		Unavailable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_unavailable_total",
			Help: "Requests answered 503: no ready pod, or no pod reachable.",
		}, []string{"server", "reason"}),
		AuthDenials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_auth_denials_total",
			Help: "Requests refused by authentication (401) or authorization (403).",
		}, []string{"reason"}),
		tools: map[string]map[string]bool{},
	}
	reg.MustRegister(m.Requests, m.UpstreamLatency, m.LostSessions, m.Unavailable, m.AuthDenials)
	return m
}

// RegisterSessions adds mcp_gateway_active_sessions, read from sessions
// (server -> count) at every scrape, so that sessions of pods that are gone
// are never counted.
func RegisterSessions(reg prometheus.Registerer, sessions func() map[string]int64) {
	reg.MustRegister(&sessionsCollector{
		desc: prometheus.NewDesc("mcp_gateway_active_sessions",
			"Sessions this replica placed on pods that still exist, minus those it saw deleted or lost (404 from the pod). Sum over replicas; sessions that expire unused are not seen (the sidecars' mcp_transport_sessions is exact).",
			[]string{"server"}, nil),
		sessions: sessions,
	})
}

type sessionsCollector struct {
	desc     *prometheus.Desc
	sessions func() map[string]int64
}

func (c *sessionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	for server, n := range c.sessions() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), server)
	}
}

// Method maps a JSON-RPC method to its label value.
func Method(method string) string {
	switch {
	case method == "":
		return "none"
	case knownMethods[method]:
		return method
	}
	return "other"
}

// Tool maps a tool name of server to its label value: the first
// maxToolsPerServer names seen keep theirs, later ones are "other".
func (m *Metrics) Tool(server, tool string) string {
	if tool == "" {
		return ""
	}
	if server == Unknown {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.tools[server]
	if set == nil {
		set = map[string]bool{}
		m.tools[server] = set
	}
	if set[tool] {
		return tool
	}
	if len(set) >= maxToolsPerServer {
		return "other"
	}
	set[tool] = true
	return tool
}
