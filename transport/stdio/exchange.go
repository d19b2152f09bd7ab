package stdio

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// exchange is one stateless request on its way through a process: the
// HTTP request that carries it (its front), and what it waits for. An MRTR
// exchange of a legacy server outlives its first front: parked while the
// client gathers input, it continues on the retry's front.
type exchange struct {
	p       *mproc
	method  string
	name    string
	meta    mcp.RequestMeta
	token   json.RawMessage // the client's progress token, if any
	stdioID string          // the id on the process's stdin
	started time.Time
	// listen is set for subscriptions/listen.
	listen *listenFilter
	// handle names a parked MRTR exchange in its requestState.
	handle string

	mu       sync.Mutex
	clientID json.RawMessage // the id of the current front request
	st       front           // the current front; nil while parked
	input    *inputState     // translate: server requests waiting for input
}

func newExchange(p *mproc, msg *mcp.Message, meta mcp.RequestMeta, sse bool) *exchange {
	return &exchange{
		p: p, method: msg.Method, name: mcp.Name(msg), meta: meta,
		token: mcp.ProgressToken(msg.Params), started: time.Now(),
		clientID: msg.ID, st: newStream(1, 1, sse),
	}
}

// front is where an exchange's messages go: the stream of the HTTP request
// that carries it, or a legacy session (for a modern-only server).
type front interface {
	push(data []byte, response bool) bool
}

// front returns the current front and the client's id for it.
func (ex *exchange) front() (front, json.RawMessage) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.st, ex.clientID
}

// answer delivers the final response (already carrying the server's id;
// rewritten to the client's here).
func (ex *exchange) answer(raw []byte) {
	st, id := ex.front()
	if st == nil {
		return
	}
	if out, err := mcp.Set(raw, id, "id"); err == nil {
		st.push(out, true)
	}
}

// end finishes the exchange with a response built for the client's id.
func (ex *exchange) end(resp []byte) {
	st, _ := ex.front()
	if st != nil {
		st.push(resp, true)
	}
}

// notify delivers a request-scoped notification to the current front.
func (ex *exchange) notify(raw []byte) {
	if st, _ := ex.front(); st != nil {
		st.push(raw, false)
	}
}

// serveModern answers a stateless request: plain JSON when the server only
// answers, SSE as soon as something comes first (progress, logs) or when
// the client takes only SSE. There are no event ids and no resumption in
// this era: a client that closes the stream cancels the request.
func (m *Manager) serveModern(w http.ResponseWriter, r *http.Request, ex *exchange, st *stream, jsonOK, sseOK bool) {
	ctx := r.Context()
	for {
		evs, done, changed := st.after(0)
		useSSE := sseOK && (!jsonOK || ex.listen != nil)
		for _, e := range evs {
			if !e.response {
				useSSE = sseOK
			}
		}
		if useSSE {
			break
		}
		if done {
			writeJSONAnswer(w, evs)
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			ex.abandon()
			return
		}
	}
	sw := startSSE(w, http.StatusOK)
	if !m.followModern(ctx, sw, st, ex.listen != nil) {
		ex.abandon()
	}
}

// writeJSONAnswer writes the response event, with the status the modern
// transport gives its errors (400 for header, capability and version
// errors, 404 for an unknown method).
func writeJSONAnswer(w http.ResponseWriter, evs []event) {
	for _, e := range evs {
		if e.response {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(statusOf(e.data))
			_, _ = w.Write(e.data)
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func statusOf(resp []byte) int {
	code := mcp.Lookup(resp, "error", "code")
	switch {
	case len(code) == 0:
		return http.StatusOK
	case bytes.Equal(code, []byte("-32601")):
		return http.StatusNotFound
	}
	var c int
	_ = json.Unmarshal(code, &c)
	switch c {
	case api.CodeHeaderMismatch, api.CodeMissingRequiredClientCapability, api.CodeUnsupportedProtocolVersion:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// followModern writes the stream's events until it is done; it reports
// false when the client went away first. Listen streams also end when the
// sidecar drains, after their graceful-closure response.
func (m *Manager) followModern(ctx context.Context, sw *sseWriter, st *stream, listen bool) bool {
	cursor := 0
	for {
		beat := m.beat.beat()
		evs, done, changed := st.after(cursor)
		for i, e := range evs {
			// The last event of a finished stream is not flushed: it goes
			// with the end of the response, in one write.
			if err := sw.writeData(e.data, !done || i < len(evs)-1); err != nil {
				return false
			}
			cursor = e.seq
		}
		if done {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		case <-beat:
			if err := sw.keepAlive(); err != nil {
				return false
			}
		}
	}
}

// abandon is the client leaving before the answer: cancel the request at
// the server, unless it is parked waiting for an MRTR retry.
func (ex *exchange) abandon() {
	ex.mu.Lock()
	parked := ex.st == nil
	ex.mu.Unlock()
	if !parked {
		ex.p.cancel(ex, "the client closed the stream")
	}
}
