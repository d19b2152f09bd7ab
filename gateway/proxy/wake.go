package proxy

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Activity is told of every MCP request: hibernation's idle clock.
type Activity interface {
	Touch(namespace, server string)
}

// Waker wakes hibernated servers. Wake holds the caller until a pod of the
// server can take a request (ready) or its wait budget ends (not ready,
// with the time after which to try again; the wake goes on). An error means
// there is nothing to wake (not hibernated, not found): the request is then
// answered as without a Waker.
type Waker interface {
	Wake(ctx context.Context, namespace, server string) (ready bool, retryAfter time.Duration, err error)
}

// wake holds a request for a server without a ready pod while the Waker
// wakes it. It reports false when it has answered (still starting) or the
// client is gone; true when a pod may be picked again.
func (p *Proxy) wake(w http.ResponseWriter, r *http.Request, req *request) bool {
	ready, retryAfter, err := p.Waker.Wake(r.Context(), req.ns, req.server)
	if ready || err != nil {
		return true
	}
	if r.Context().Err() != nil {
		return false
	}
	secs := max(1, int(math.Ceil(retryAfter.Seconds())))
	p.Metrics.Unavailable.WithLabelValues(req.label, "waking").Inc()
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	msg := fmt.Sprintf("server %s/%s is starting (it was hibernated): retry the same request in %d s", req.ns, req.server, secs)
	_, _ = w.Write(mcp.ErrorResponse(req.id, api.CodeServerError, msg, map[string]any{"reason": "starting", "retryAfterSeconds": secs}))
	return false
}
