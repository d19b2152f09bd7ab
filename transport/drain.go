package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// drainPoll is how often /drain re-checks whether the work in flight is done.
const drainPoll = 20 * time.Millisecond

// drainer tracks the MCP requests in flight and implements /drain: from the
// first call on, /readyz fails and new sessions get 503; the call answers
// once no request or POST stream is in flight any more, or after grace.
// Standalone GET streams do not count: they only end with the session.
type drainer struct {
	grace time.Duration
	// busy reports work in flight that outlives its HTTP request (stdio:
	// requests the server has not answered yet, whose POST connection the
	// client may have dropped to resume it later). May be nil.
	busy func() int
	// onDrain is called once, when draining starts (readiness off).
	onDrain func()

	mu       sync.Mutex
	draining bool          // refusing new sessions
	started  bool          // the bounded wait runs (first /drain)
	active   int           // MCP requests in flight, GETs excluded
	done     chan struct{} // closed when the drain finished (or gave up)
	result   string
}

func newDrainer(grace time.Duration, busy func() int, onDrain func()) *drainer {
	return &drainer{grace: grace, busy: busy, onDrain: onDrain, done: make(chan struct{})}
}

// isDraining reports whether /drain (or shutdown) has started.
func (d *drainer) isDraining() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}

// markDraining refuses new sessions from now on without starting the
// bounded wait (shutdown: http.Server.Shutdown does the waiting).
func (d *drainer) markDraining() {
	d.mu.Lock()
	d.draining = true
	d.mu.Unlock()
}

// idle reports whether nothing is in flight.
func (d *drainer) idle() (bool, int) {
	d.mu.Lock()
	n := d.active
	d.mu.Unlock()
	if d.busy != nil {
		n += d.busy()
	}
	return n == 0, n
}

// start begins draining (idempotent) and returns the channel closed when the
// drain is over.
func (d *drainer) start() <-chan struct{} {
	d.mu.Lock()
	if d.started {
		d.mu.Unlock()
		return d.done
	}
	d.started, d.draining = true, true
	d.mu.Unlock()
	if d.onDrain != nil {
		d.onDrain()
	}
	go func() {
		deadline := time.NewTimer(d.grace)
		defer deadline.Stop()
		tick := time.NewTicker(drainPoll)
		defer tick.Stop()
		for {
			idle, n := d.idle()
			if idle {
				d.finish("drained: no request in flight\n")
				return
			}
			select {
			case <-deadline.C:
				d.finish(fmt.Sprintf("grace period %s over: %d request(s) still in flight\n", d.grace, n))
				return
			case <-tick.C:
			}
		}
	}()
	return d.done
}

func (d *drainer) finish(result string) {
	d.mu.Lock()
	d.result = result
	d.mu.Unlock()
	close(d.done)
}

// ServeHTTP serves /drain: it blocks until the drain is over, then answers
// 200 (also when the grace period ran out: the hook has nothing to retry).
func (d *drainer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	done := d.start()
	select {
	case <-done:
	case <-r.Context().Done():
		return // the kubelet gave up on the hook
	}
	d.mu.Lock()
	res := d.result
	d.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, res)
}

// wrap counts the MCP endpoint's requests in flight and, while draining,
// refuses new sessions (initialize) with 503 and Retry-After. It runs behind
// httpguard, so the body is already bounded.
func (d *drainer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			next.ServeHTTP(w, r) // standalone/resumed SSE streams never hold the drain
			return
		}
		d.mu.Lock()
		d.active++
		draining := d.draining
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			d.active--
			d.mu.Unlock()
		}()
		if draining && r.Method == http.MethodPost && r.Header.Get(api.HeaderSessionID) == "" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, "reading body failed", http.StatusBadRequest)
				return
			}
			if id, ok := initializeID(body); ok {
				w.Header().Set("Retry-After", strconv.Itoa(5))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write(mcp.ErrorResponse(id, api.CodeServerError, "shutting down, retry later", nil))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}

// initializeID reports whether body holds an initialize request, and its id.
func initializeID(body []byte) ([]byte, bool) {
	msgs, _, err := mcp.Decode(body, true)
	if err != nil {
		return nil, false
	}
	for _, m := range msgs {
		if m.Kind == mcp.KindRequest && m.Method == api.MethodInitialize {
			return m.ID, true
		}
	}
	return nil, false
}
