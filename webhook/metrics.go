package webhook

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	denials  *prometheus.CounterVec
}

// newMetrics registers the webhook's metrics. Labels are bounded: webhook
// name, operation, result and field error type; never object names.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_webhook_requests_total",
			Help: "Admission requests by webhook, operation and result (allowed, patched, denied, error, bad-request).",
		}, []string{"webhook", "operation", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcp_webhook_request_duration_seconds",
			Help:    "Time to answer one admission request, decoding included.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5},
		}, []string{"webhook"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_webhook_denials_total",
			Help: "Problems found in denied requests, by webhook and problem type.",
		}, []string{"webhook", "reason"}),
	}
	reg.MustRegister(m.requests, m.latency, m.denials)
	return m
}
