package hibernate

import "github.com/prometheus/client_golang/prometheus"

// metrics of hibernation. The server label is namespace/server of a
// labelled Deployment (bounded by the cluster's servers), as in the
// gateway's other metrics.
type metrics struct {
	hibernations *prometheus.CounterVec
	wakes        *prometheus.CounterVec
	wakeDuration *prometheus.HistogramVec
	held         *prometheus.CounterVec
	holding      *prometheus.GaugeVec
	leaseWrites  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		hibernations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_hibernations_total",
			Help: "Servers this replica scaled to 0 (idle, or an operator's mcpctl hibernate).",
		}, []string{"server", "cause"}),
		wakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_wakes_total",
			Help: "Hibernated servers this replica scaled back up, by cause (request, operator, autoscaler, config). One per wake over all replicas.",
		}, []string{"server", "cause"}),
		wakeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcp_gateway_wake_duration_seconds",
			Help:    "From the wake's start on the replica that recorded it to its first pod taking requests.",
			Buckets: []float64{.25, .5, .75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120},
		}, []string{"server"}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_wake_held_requests_total",
			Help: "MCP requests held for a waking server, by result: ready (then forwarded), timeout (503 after --wake-timeout), gone (the client left), failed (the wake failed).",
		}, []string{"server", "result"}),
		holding: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mcp_gateway_wake_held_requests",
			Help: "MCP requests being held right now for a waking server.",
		}, []string{"server"}),
		leaseWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_gateway_activity_lease_writes_total",
			Help: "Writes of activity Leases by this replica (at most one per server per --activity-interval), by result: written, covered (another replica's write was recent enough), error.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.hibernations, m.wakes, m.wakeDuration, m.held, m.holding, m.leaseWrites)
	return m
}
