// Package health tracks the sidecar's readiness: a real MCP initialize
// handshake with the server (a process of this pod, or the upstream HTTP
// server) succeeded within MaxAge.
package health

import (
	"fmt"
	"sync"
	"time"
)

// Tracker records successful handshakes.
type Tracker struct {
	MaxAge time.Duration
	now    func() time.Time

	mu       sync.Mutex
	last     time.Time
	err      string
	failures int // probes failed in a row
	draining bool
}

// SetDraining makes /readyz fail from now on (shutdown in progress), so the
// gateway stops sending new sessions here.
func (t *Tracker) SetDraining() {
	t.mu.Lock()
	t.draining = true
	t.mu.Unlock()
}

// NewTracker returns a tracker that considers a handshake fresh for maxAge.
func NewTracker(maxAge time.Duration) *Tracker {
	return &Tracker{MaxAge: maxAge, now: time.Now}
}

// Succeeded records a successful handshake now.
func (t *Tracker) Succeeded() {
	t.mu.Lock()
	t.last = t.now()
	t.err = ""
	t.failures = 0
	t.mu.Unlock()
}

// FailuresBeforeNotReady is how many probes in a row must fail before a
// pod that was ready stops being ready: one slow start is not an outage,
// but a server that no longer starts must leave the Service.
const FailuresBeforeNotReady = 3

// Failed records why the last probe failed (shown by /readyz, never secrets).
func (t *Tracker) Failed(reason string) {
	t.mu.Lock()
	t.err = reason
	t.failures++
	t.mu.Unlock()
}

// Ready reports whether a handshake succeeded within MaxAge.
func (t *Tracker) Ready() (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.draining {
		return false, "shutting down"
	}
	if t.last.IsZero() {
		if t.err != "" {
			return false, "no successful MCP handshake yet: " + t.err
		}
		return false, "no successful MCP handshake yet"
	}
	if t.failures >= FailuresBeforeNotReady {
		return false, fmt.Sprintf("the last %d MCP handshakes failed: %s", t.failures, t.err)
	}
	if age := t.now().Sub(t.last); age > t.MaxAge {
		return false, "last successful MCP handshake is too old: " + age.Round(time.Second).String()
	}
	return true, "ok"
}

// Stale reports whether a new probe is due (no success in MaxAge/2).
func (t *Tracker) Stale() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last.IsZero() || t.now().Sub(t.last) > t.MaxAge/2
}
