package proxy

import (
	"net/http"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// A legacy session's standalone GET stream carries the server's own
// requests and notifications. A client opens it and then POSTs; if the POST
// reached the upstream first (the proxy forwards concurrently), a request
// the server sends on the GET stream right away (an elicitation during the
// tool call) finds no stream there and is lost. So the order the client
// established is kept: a session's POST waits until a GET of the session
// that arrived before it has its response headers from the upstream (the
// stream exists there), at most getWait.

const getWait = 5 * time.Second

// streamOrder tracks, per session, GET streams not yet established upstream.
type streamOrder struct {
	mu      sync.Mutex
	pending map[string]chan struct{} // session id -> closed when established
}

func newStreamOrder() *streamOrder { return &streamOrder{pending: map[string]chan struct{}{}} }

// opening registers a GET of the session; established must be called when
// its upstream response headers arrive (or it failed).
func (o *streamOrder) opening(r *http.Request) (established func()) {
	sid := r.Header.Get(api.HeaderSessionID)
	if r.Method != http.MethodGet || sid == "" {
		return func() {}
	}
	ch := make(chan struct{})
	o.mu.Lock()
	o.pending[sid] = ch
	o.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			if o.pending[sid] == ch {
				delete(o.pending, sid)
			}
			o.mu.Unlock()
			close(ch)
		})
	}
}

// await holds a POST of a session until its pending GET is established.
func (o *streamOrder) await(r *http.Request) {
	sid := r.Header.Get(api.HeaderSessionID)
	if r.Method != http.MethodPost || sid == "" {
		return
	}
	o.mu.Lock()
	ch := o.pending[sid]
	o.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(getWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-r.Context().Done():
	}
}
