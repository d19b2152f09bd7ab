package stdio

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// ServeHTTP serves the MCP endpoint. Origin and body size are checked in
// front of it by httpguard; the protocol version here, where each era's
// rules (and each session's negotiated version) are known.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		m.handlePost(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodDelete {
		w.Header().Set("Allow", "GET, POST, DELETE")
		m.httpError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if mcp.IsModernVersion(r.Header.Get(api.HeaderProtocolVersion)) && r.Header.Get(api.HeaderSessionID) == "" {
		// 2026-07-28 has no GET stream and no session to delete.
		w.Header().Set("Allow", "POST")
		m.httpError(w, http.StatusMethodNotAllowed, "GET and DELETE are not part of protocol revision 2026-07-28: use POST (subscriptions/listen for notifications)")
		return
	}
	if !m.versionAccepted(r) {
		m.httpError(w, http.StatusBadRequest, mcp.UnsupportedVersionMessage())
		return
	}
	if r.Method == http.MethodGet {
		m.handleGet(w, r)
		return
	}
	m.handleDelete(w, r)
}

// versionAccepted: a revision this binary knows, or the one the request's
// session negotiated with the server.
func (m *Manager) versionAccepted(r *http.Request) bool {
	h := r.Header.Get(api.HeaderProtocolVersion)
	if _, ok := mcp.HeaderVersion(h); ok {
		return true
	}
	sid := r.Header.Get(api.HeaderSessionID)
	if sid == "" {
		return false
	}
	s := m.lookup(sid)
	if s == nil {
		return true // gone: the 404 that follows tells the client to start over
	}
	v := s.negotiated.Load()
	return v != nil && *v == h
}

func (m *Manager) httpError(w http.ResponseWriter, status int, msg string) {
	m.metrics.Error(strconv.Itoa(status))
	http.Error(w, msg, status)
}

// jsonRPCError answers with an HTTP status and a JSON-RPC error body.
func (m *Manager) jsonRPCError(w http.ResponseWriter, status int, body []byte) {
	m.metrics.Error(strconv.Itoa(status))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// accepts reports which response types the client takes.
func accepts(r *http.Request) (jsonOK, sseOK bool) {
	vals := r.Header.Values("Accept")
	if len(vals) == 0 {
		return true, true
	}
	if len(vals) == 1 && (vals[0] == acceptBoth || vals[0] == acceptBothSSEFirst) {
		return true, true // what MCP clients send: no media type parsing
	}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "application/json":
				jsonOK = true
			case "text/event-stream":
				sseOK = true
			case "*/*", "application/*":
				jsonOK, sseOK = true, sseOK || mt == "*/*"
			}
		}
	}
	return jsonOK, sseOK
}

// The Accept values of MCP clients (the transport tells them to list both).
const (
	acceptBoth         = "application/json, text/event-stream"
	acceptBothSSEFirst = "text/event-stream, application/json"
)

// sessionOf finds the request's session; it answers 400/404 itself and
// returns nil then.
func (m *Manager) sessionOf(w http.ResponseWriter, r *http.Request) *session {
	id := r.Header.Get(api.HeaderSessionID)
	if id == "" {
		m.httpError(w, http.StatusBadRequest, "missing "+api.HeaderSessionID+" header")
		return nil
	}
	s := m.lookup(id)
	if s == nil {
		m.jsonRPCError(w, http.StatusNotFound, mcp.ErrorResponse(nil, api.CodeSessionNotFound, "Session not found", nil))
		return nil
	}
	return s
}

// handlePost reads and classifies a POST: a single stateless request goes
// to the 2026-07-28 path (modern.go), everything else to the session path.
func (m *Manager) handlePost(w http.ResponseWriter, r *http.Request) {
	jsonOK, sseOK, body, ok := m.readPost(w, r)
	if !ok {
		return
	}
	msgs, batch, err := mcp.Decode(body, true)
	if err != nil {
		m.jsonRPCError(w, http.StatusBadRequest, mcp.DecodeErrorResponse(err))
		return
	}
	if !batch && mcp.RequestEra(r.Header, msgs[0]) == mcp.EraModern {
		m.handlePostModern(w, r, msgs[0], jsonOK, sseOK)
		return
	}
	if !m.versionAccepted(r) {
		m.httpError(w, http.StatusBadRequest, mcp.UnsupportedVersionMessage())
		return
	}
	m.handlePostLegacy(w, r, msgs, batch, jsonOK, sseOK)
}

// readPost checks the content negotiation of a POST and reads its body
// (bounded by httpguard); it answers the client itself when it fails.
func (m *Manager) readPost(w http.ResponseWriter, r *http.Request) (jsonOK, sseOK bool, body []byte, ok bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			m.httpError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return false, false, nil, false
		}
	}
	jsonOK, sseOK = accepts(r)
	if !jsonOK && !sseOK {
		m.httpError(w, http.StatusNotAcceptable, "Accept must include application/json or text/event-stream")
		return false, false, nil, false
	}
	body, err := readBody(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			m.httpError(w, http.StatusRequestEntityTooLarge, "request body too large")
		} else {
			m.httpError(w, http.StatusBadRequest, "reading body failed")
		}
		return false, false, nil, false
	}
	return jsonOK, sseOK, body, true
}

// readBody reads a request body into a buffer of its announced size (one
// allocation, none of io.ReadAll's growing), or as it comes when the size
// is not known. The body is already bounded (httpguard).
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= maxPreallocated {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(r.Body)
}

// maxPreallocated bounds the buffer readBody allocates up front on the
// word of a Content-Length header.
const maxPreallocated = 1 << 20

// handlePostLegacy serves a POST of the session era: find the session (or
// open one with initialize), start the requests' stream, forward the
// messages, answer.
func (m *Manager) handlePostLegacy(w http.ResponseWriter, r *http.Request, msgs []*mcp.Message, batch, jsonOK, sseOK bool) {
	s, initReq, ok := m.sessionForPost(w, r, msgs, batch)
	if !ok {
		return
	}
	s.enter()
	defer s.leave()
	var st *stream
	reqs := requestsOf(msgs)
	for _, q := range reqs {
		m.metrics.Request(q.Method)
	}
	if len(reqs) > 0 {
		if st, reqs, ok = s.begin(reqs, sseOK); !ok {
			m.jsonRPCError(w, http.StatusNotFound, mcp.ErrorResponse(nil, api.CodeSessionNotFound, "Session not found", nil))
			return
		}
	}
	m.forwardLegacy(s, msgs, reqs)
	if st == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	m.serveStream(w, r, s, st, batch, jsonOK, sseOK)
	if initReq != nil && !st.fullySent() {
		// The client left before it got the initialize answer, so it never
		// learned the session id: nobody can use or DELETE this session.
		m.endSession(s, "client left before the initialize response", false)
	}
}

func requestsOf(msgs []*mcp.Message) []*mcp.Message {
	var reqs []*mcp.Message
	for _, msg := range msgs {
		if msg.Kind == mcp.KindRequest {
			reqs = append(reqs, msg)
		}
	}
	return reqs
}

// sessionForPost is the POST's session: the one its header names, or a new
// one for an initialize. Batches exist in 2025-03-26 only.
func (m *Manager) sessionForPost(w http.ResponseWriter, r *http.Request, msgs []*mcp.Message, batch bool) (*session, *mcp.Message, bool) {
	var s *session
	version, _ := mcp.HeaderVersion(r.Header.Get(api.HeaderProtocolVersion))
	if r.Header.Get(api.HeaderSessionID) != "" {
		if s = m.sessionOf(w, r); s == nil {
			return nil, nil, false
		}
		if r.Header.Get(api.HeaderProtocolVersion) == "" {
			version = s.version
		}
	}
	if batch && !mcp.AllowsBatch(version) {
		m.jsonRPCError(w, http.StatusBadRequest, mcp.InvalidRequest(nil, "JSON-RPC batches are not supported by this protocol version"))
		return nil, nil, false
	}
	var initReq *mcp.Message
	for _, msg := range msgs {
		if msg.Kind == mcp.KindRequest && msg.Method == api.MethodInitialize {
			initReq = msg
		}
	}
	switch {
	case initReq != nil:
		s = m.openSession(w, r, s, initReq, len(msgs))
		return s, initReq, s != nil
	case s == nil:
		m.httpError(w, http.StatusBadRequest, "missing "+api.HeaderSessionID+" header")
		return nil, nil, false
	}
	return s, nil, true
}

// openSession starts the session of an initialize request.
func (m *Manager) openSession(w http.ResponseWriter, r *http.Request, existing *session, initReq *mcp.Message, n int) *session {
	if n != 1 {
		m.jsonRPCError(w, http.StatusBadRequest, mcp.InvalidRequest(initReq.ID, "initialize must be sent alone"))
		return nil
	}
	if existing != nil {
		m.jsonRPCError(w, http.StatusBadRequest, mcp.InvalidRequest(initReq.ID, "initialize within an existing session"))
		return nil
	}
	v := mcp.InitializeVersion(initReq.Raw)
	if v == "" {
		v = mcp.DefaultHeaderVersion
	}
	s, err := m.newSession(r.Context(), v)
	if err != nil {
		if errors.Is(err, ErrTooManySessions) {
			w.Header().Set("Retry-After", "5")
			m.jsonRPCError(w, http.StatusServiceUnavailable, mcp.ErrorResponse(initReq.ID, api.CodeServerError, "too many sessions, retry later", nil))
			return nil
		}
		m.log.Error("creating session", "err", err)
		m.jsonRPCError(w, http.StatusServiceUnavailable, mcp.InternalError(initReq.ID, "could not start the MCP server"))
		return nil
	}
	w.Header().Set(api.HeaderSessionID, s.id)
	return s
}

// forwardLegacy sends a POST's messages to the session's server; requests
// whose id is already in flight were answered by begin and are skipped
// (reqs are the others, in the order of msgs).
func (m *Manager) forwardLegacy(s *session, msgs, reqs []*mcp.Message) {
	for _, msg := range msgs {
		if msg.Kind == mcp.KindRequest {
			if len(reqs) == 0 || reqs[0] != msg {
				continue
			}
			reqs = reqs[1:]
		}
		if err := s.be.send(s, msg); err != nil {
			s.log.Warn("forwarding to the MCP server failed", "err", err)
			if msg.Kind == mcp.KindRequest && !errors.Is(err, errProcessGone) {
				s.deliver(responseMsg(mcp.InternalError(msg.ID, "the MCP server is not reachable")))
			}
		}
		if msg.Kind == mcp.KindNotification && msg.Method == api.MethodCancelled {
			s.cancel(mcp.CancelledRequestID(msg.Params))
		}
	}
}

func responseMsg(raw []byte) *mcp.Message {
	msg, _ := mcp.DecodeOne(raw)
	return msg
}

// serveStream answers a POST: plain JSON if the server only answers, SSE as
// soon as it sends anything else first (or if the client takes only SSE).
func (m *Manager) serveStream(w http.ResponseWriter, r *http.Request, s *session, st *stream, batch, jsonOK, sseOK bool) {
	ctx := r.Context()
	for {
		evs, done, changed := st.after(0)
		useSSE := sseOK && !jsonOK
		for _, e := range evs {
			if !e.response {
				useSSE = sseOK
			}
		}
		if useSSE {
			break
		}
		if done {
			writeLegacyJSON(w, st, evs, batch)
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return // the stream stays buffered for a GET with Last-Event-ID
		}
	}
	sw := startSSE(w, http.StatusOK)
	if mcp.WantsPriming(s.version) {
		if err := sw.prime(st.id, 0); err != nil {
			return
		}
	}
	m.follow(ctx, sw, st, 0, false)
}

// writeLegacyJSON answers a POST whose stream is done with its responses
// as plain JSON: the one response as it came, or a batch's in an array.
func writeLegacyJSON(w http.ResponseWriter, st *stream, evs []event, batch bool) {
	var out []byte
	n := 0
	for _, e := range evs {
		if !e.response {
			continue
		}
		switch {
		case !batch:
			out = e.data // a single request has one response
		case n == 0:
			out = append(append(out, '['), e.data...)
		default:
			out = append(append(out, ','), e.data...)
		}
		n++
	}
	if n == 0 {
		// Every request of the POST was cancelled: nothing to answer.
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if batch {
		out = append(out, ']')
	}
	w.Header()["Content-Type"] = jsonContentType
	st.markSent(evs[len(evs)-1].seq)
	_, _ = w.Write(out)
}

// jsonContentType is the Content-Type header value of JSON answers, shared
// (nothing writes to a header's value slice) to save an allocation each.
var jsonContentType = []string{"application/json"}

// follow writes the stream's events after cursor until the stream is done
// (or, for the standalone stream, the session ends or the server drains).
func (m *Manager) follow(ctx context.Context, sw *sseWriter, st *stream, cursor int, standalone bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st.attach(cancel)
	var drain <-chan struct{}
	if standalone {
		drain = m.draining
	}
	for {
		beat := m.beat.beat()
		evs, done, changed := st.after(cursor)
		for _, e := range evs {
			// Flushed before it counts as sent: a resumable stream keeps
			// what a dropped connection did not take.
			if err := sw.write(st.id, e.seq, e.data); err != nil {
				return
			}
			cursor = e.seq
			st.markSent(e.seq)
		}
		if done {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-drain:
			return
		case <-beat:
			if err := sw.keepAlive(); err != nil {
				return
			}
		}
	}
}

func (m *Manager) handleGet(w http.ResponseWriter, r *http.Request) {
	if _, sseOK := accepts(r); !sseOK || len(r.Header.Values("Accept")) == 0 {
		m.httpError(w, http.StatusNotAcceptable, "Accept must include text/event-stream")
		return
	}
	s := m.sessionOf(w, r)
	if s == nil {
		return
	}
	s.enter()
	defer s.leave()
	st := s.getStandalone()
	cursor := st.sentSeq()
	standalone := true
	if last := r.Header.Get(api.HeaderLastEventID); last != "" {
		if id, seq, ok := parseEventID(last); ok {
			if resumed := s.stream(id); resumed != nil {
				st, cursor, standalone = resumed, seq, id == standaloneID
			}
		}
	}
	sw := startSSE(w, http.StatusOK)
	if mcp.WantsPriming(s.version) && standalone && r.Header.Get(api.HeaderLastEventID) == "" {
		if err := sw.prime(st.id, cursor); err != nil {
			return
		}
	}
	m.follow(r.Context(), sw, st, cursor, standalone)
}

func (m *Manager) handleDelete(w http.ResponseWriter, r *http.Request) {
	s := m.sessionOf(w, r)
	if s == nil {
		return
	}
	m.endSession(s, "deleted by the client", false)
	w.WriteHeader(http.StatusNoContent)
}
