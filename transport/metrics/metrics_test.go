package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	var none *Metrics
	none.Request("tools/call") // nil-safe
	none.Error("x")

	m := New()
	m.SessionOpened()
	m.SessionOpened()
	m.SessionClosed()
	m.ProcessStarted()
	m.ProcessExited("crashed")
	m.Request("tools/call")
	m.Request("some/custom-method") // bounded cardinality
	m.Observe("tools/call", 3*time.Millisecond)
	m.Error("404")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"mcp_transport_sessions 1",
		"mcp_transport_process_starts_total 1",
		`mcp_transport_process_exits_total{reason="crashed"} 1`,
		`mcp_transport_requests_total{method="tools/call"} 1`,
		`mcp_transport_requests_total{method="other"} 1`,
		`mcp_transport_request_duration_seconds_count{method="tools/call"} 1`,
		`mcp_transport_errors_total{kind="404"} 1`,
	} {
		assert.Contains(t, body, want)
	}
}

// Every request counts while it is answered, a standing GET stream too,
// plus the work the endpoint still owes.
func TestInFlight(t *testing.T) {
	t.Parallel()
	m := New()
	entered, release := make(chan struct{}), make(chan struct{})
	h := m.InFlight(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered <- struct{}{}
		<-release
	}), func() int { return 2 })
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	require.Contains(t, scrape(), "mcp_transport_requests_in_flight 2")
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/mcp", nil))
		close(done)
	}()
	<-entered
	assert.Contains(t, scrape(), "mcp_transport_requests_in_flight 3")
	close(release)
	<-done
	assert.Contains(t, scrape(), "mcp_transport_requests_in_flight 2")
}
