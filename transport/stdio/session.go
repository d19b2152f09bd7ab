package stdio

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// backend carries one session's client messages to an MCP server process:
// a dedicated process (per-session mode) or the shared one.
type backend interface {
	// send forwards a client message of s.
	send(s *session, m *mcp.Message) error
	// detach releases what s holds (stops a dedicated process). Called once,
	// when s ends for any reason.
	detach(s *session)
}

// pending is a client request waiting for the server's response.
type pending struct {
	id       json.RawMessage // the request id exactly as the client sent it
	st       *stream
	method   string
	start    time.Time
	progress string // IDKey of its progress token, if any
}

// maxDoneStreams and maxDoneBytes bound the finished POST streams a session
// keeps for Last-Event-ID resumption: a few large tool results must not
// hold many megabytes per session.
const (
	maxDoneStreams = 32
	maxDoneBytes   = 4 << 20
)

// session is one MCP session (Mcp-Session-Id) of the bridge.
type session struct {
	id      string
	label   string // short hash of id: safe to log, the id itself is a bearer secret
	version string // protocol version requested at initialize
	// negotiated is the version the server answered initialize with; the
	// client sends it in MCP-Protocol-Version even when this binary does
	// not know it (a newer revision that client and server share).
	negotiated atomic.Pointer[string]
	mgr        *Manager
	be         backend
	log        *slog.Logger

	mu       sync.Mutex
	pending  map[string]*pending // by IDKey of the client's request id
	progress map[string]*stream  // by IDKey of progress tokens
	streams  map[int]*stream
	order    []int // POST stream ids, oldest first
	// pushed is at least what the streams of order retain: the bytes ever
	// pushed into them (they add to it), less those of pruned streams.
	pushed     atomic.Int64
	nextStream int
	standalone *stream
	closed     bool
	conns      int
	lastActive time.Time
}

func newSession(m *Manager, version string) *session {
	id := mcp.NewSessionID()
	sum := sha256.Sum256([]byte(id))
	s := &session{
		id:         id,
		label:      hex.EncodeToString(sum[:4]),
		version:    version,
		mgr:        m,
		pending:    map[string]*pending{},
		progress:   map[string]*stream{},
		streams:    map[int]*stream{},
		nextStream: 1,
		lastActive: time.Now(),
	}
	s.log = m.log.With("session", s.label)
	return s
}

// enter/leave bracket every HTTP request of the session (idle tracking).
func (s *session) enter() {
	s.mu.Lock()
	s.conns++
	s.lastActive = time.Now()
	s.mu.Unlock()
}

func (s *session) leave() {
	s.mu.Lock()
	s.conns--
	s.lastActive = time.Now()
	s.mu.Unlock()
}

func (s *session) idleSince(now time.Time, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.conns == 0 && now.Sub(s.lastActive) > d
}

// begin opens the stream that will carry the answers to reqs. Requests
// whose id is already in flight are answered at once with an error.
func (s *session) begin(reqs []*mcp.Message, sse bool) (*stream, []*mcp.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, false
	}
	st := newStream(s.nextStream, len(reqs), sse)
	st.owner = &s.pushed
	s.nextStream++
	s.streams[st.id] = st
	s.order = append(s.order, st.id)
	s.pruneLocked()
	var ok []*mcp.Message
	var dups [][]byte
	now := time.Now()
	for _, r := range reqs {
		key := r.Key()
		if _, dup := s.pending[key]; dup {
			dups = append(dups, mcp.InvalidRequest(r.ID, "request id already in use in this session"))
			continue
		}
		p := &pending{id: r.ID, st: st, method: r.Method, start: now}
		if tok := mcp.ProgressToken(r.Params); len(tok) > 0 {
			p.progress = mcp.IDKey(tok)
			s.progress[p.progress] = st
		}
		s.pending[key] = p
		ok = append(ok, r)
	}
	for _, d := range dups {
		st.push(d, true)
	}
	return st, ok, true
}

// cancel forgets a request the client cancelled: no answer is owed any more
// (the server should not send one; a late one is dropped), so it no longer
// holds its POST stream open nor counts as in flight for routing.
func (s *session) cancel(id json.RawMessage) {
	if len(id) == 0 {
		return
	}
	key := mcp.IDKey(id)
	s.mu.Lock()
	p, ok := s.pending[key]
	if ok {
		delete(s.pending, key)
		if p.progress != "" {
			delete(s.progress, p.progress)
		}
	}
	s.mu.Unlock()
	if ok {
		p.st.forget()
	}
}

// pruneLocked forgets the oldest finished streams beyond maxDoneStreams,
// and the oldest delivered ones beyond maxDoneBytes: a result the client
// has not fully received (its connection dropped) stays for the resumption
// it needs. A stream stuck open, its request never answered, is neither
// pruned nor counted. The streams' sizes are looked at only when the bound
// on them (pushed) exceeds maxDoneBytes, and the walk stops once both
// limits hold: usually it forgets the oldest stream and stops there.
func (s *session) pruneLocked() {
	overBytes := s.pushed.Load() > maxDoneBytes
	excess, size := len(s.order)-maxDoneStreams, 0
	if excess <= 0 && !overBytes {
		return
	}
	if overBytes {
		for _, id := range s.order {
			if st := s.streams[id]; st != nil && st.fullySent() {
				size += st.retained()
			}
		}
	}
	kept := s.order[:0]
	for i, id := range s.order {
		st := s.streams[id]
		switch {
		case excess <= 0 && size <= maxDoneBytes:
			s.order = append(kept, s.order[i:]...)
			return
		case st == nil:
			continue
		case size > maxDoneBytes && st.fullySent():
			size -= st.retained()
		case excess > 0 && !st.isOpen():
			if st.fullySent() {
				size -= st.retained()
			}
		default:
			kept = append(kept, id)
			continue
		}
		s.forgetLocked(id, st)
		excess--
	}
	s.order = kept
}

// forgetLocked drops a pruned stream.
func (s *session) forgetLocked(id int, st *stream) {
	delete(s.streams, id)
	s.pushed.Add(-int64(st.pushedBytes()))
}

// getStandalone returns the GET stream, creating it (messages for it are
// buffered until the client connects).
func (s *session) getStandalone() *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.standaloneLocked()
}

func (s *session) standaloneLocked() *stream {
	if s.standalone == nil {
		s.standalone = newStream(standaloneID, 0, true)
		if s.closed {
			s.standalone.finish()
		}
	}
	return s.standalone
}

func (s *session) stream(id int) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == standaloneID {
		return s.standaloneLocked()
	}
	return s.streams[id]
}

// deliver routes a message from the server to the client.
func (s *session) deliver(m *mcp.Message) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if m.Kind == KindResponse {
		key := m.Key()
		p, ok := s.pending[key]
		if !ok {
			s.mu.Unlock()
			s.log.Debug("dropping response to an unknown request")
			return
		}
		delete(s.pending, key)
		if p.progress != "" {
			delete(s.progress, p.progress)
		}
		s.mu.Unlock()
		s.mgr.metrics.Observe(p.method, time.Since(p.start))
		if m.IsError {
			s.mgr.metrics.Error("jsonrpc")
		}
		if p.method == api.MethodInitialize {
			s.initialized(m)
		}
		p.st.push(m.Raw, true)
		return
	}
	target := s.routeLocked(m)
	s.mu.Unlock()
	if !target.push(m.Raw, false) {
		// The chosen stream finished meanwhile: fall back to the GET stream.
		s.getStandalone().push(m.Raw, false)
	}
}

// routeLocked picks the stream for a server notification or request. The
// stdio transport does not say which client request a message relates to,
// so: progress goes to the stream of the request that asked for it; other
// messages go to the only in-flight POST stream if there is exactly one
// (a sampling or logging message during a tool call belongs there), else to
// the GET stream (buffered until the client opens it).
func (s *session) routeLocked(m *mcp.Message) *stream {
	if m.Method == api.MethodProgress {
		if st, ok := s.progress[mcp.IDKey(mcp.NotificationProgressToken(m.Params))]; ok && st.sse {
			return st
		}
	}
	var open *stream
	n := 0
	for _, p := range s.pending {
		if p.st != open && p.st.sse {
			open = p.st
			n++
		}
	}
	if n == 1 {
		return open
	}
	return s.standaloneLocked()
}

// KindResponse is re-declared for brevity in this package.
const KindResponse = mcp.KindResponse

// initialized handles the server's answer to initialize.
func (s *session) initialized(m *mcp.Message) {
	if m.IsError {
		s.log.Info("server refused initialize; ending session")
		go s.mgr.endSession(s, "initialize failed", false)
		return
	}
	if v := mcp.InitializeVersion(m.Raw); v != "" {
		s.negotiated.Store(&v)
	}
	s.mgr.health.Succeeded()
}

// fail ends the session because its server is gone: every request in
// flight gets an error naming the exit status.
func (s *session) fail(status string) {
	s.end(func(id json.RawMessage) []byte { return mcp.ServerGone(id, status) })
}

// end closes the session, answering in-flight requests with errResp, and
// finishes all streams. It reports false if already closed.
func (s *session) end(errResp func(id json.RawMessage) []byte) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	pend := s.pending
	s.pending = map[string]*pending{}
	streams := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		streams = append(streams, st)
	}
	standalone := s.standalone
	s.mu.Unlock()
	owed := map[*stream]int{}
	for _, p := range pend {
		s.mgr.metrics.Error("server_gone")
		// The raw id, not the map key: IDKey normalises numbers through
		// float64, which would change integer ids above 2^53.
		p.st.push(errResp(p.id), true)
		owed[p.st] = p.st.lastSeq()
	}
	for _, st := range streams {
		st.finish()
	}
	if standalone != nil {
		// Clients (the SDK's among them) treat the end of the GET stream as
		// the end of the session and fail every pending call with a generic
		// error; so let the errors naming the cause reach the client first.
		go func() {
			for st, seq := range owed {
				st.waitSent(seq, 2*time.Second)
			}
			standalone.finish()
		}()
	}
	return true
}

func (s *session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
