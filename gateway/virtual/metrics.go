package virtual

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	gwmetrics "github.com/archestra-ai/mcp-orchestrator/gateway/metrics"
)

// metrics of the virtual servers. Label values are bounded: a virtual
// server is one some ConfigMap defines, a member one of its definition's
// (at most api.MaxVirtualMembers), methods the gateway's fixed list.
type metrics struct {
	requests, routedTo, leftOutOf *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_virtual_requests_total",
			Help: "MCP HTTP requests to virtual servers by virtual server, JSON-RPC method and HTTP status code.",
		}, []string{"virtual", "method", "code"}),
		routedTo: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_virtual_member_requests_total",
			Help: "Requests a virtual server routed to one member (calls, reads, completions) by member and HTTP status of the member's answer.",
		}, []string{"virtual", "member", "method", "code"}),
		leftOutOf: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_virtual_members_left_out_total",
			Help: "Members left out of a virtual server's list: unavailable (no ready pod, unreachable, waking), timeout (slower than --virtual-list-timeout), error.",
		}, []string{"virtual", "member", "reason"}),
	}
	reg.MustRegister(m.requests, m.routedTo, m.leftOutOf)
	return m
}

func (m *metrics) request(s *Server, method string, code int) {
	m.requests.WithLabelValues(s.Key(), gwmetrics.Method(method), strconv.Itoa(code)).Inc()
}

func (m *metrics) routed(s *Server, mem *Member, method string, code int) {
	m.routedTo.WithLabelValues(s.Key(), mem.Server, gwmetrics.Method(method), strconv.Itoa(code)).Inc()
}

func (m *metrics) leftOut(s *Server, mem *Member, reason string) {
	m.leftOutOf.WithLabelValues(s.Key(), mem.Server, reason).Inc()
}
