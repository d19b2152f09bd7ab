package stdio

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// sharedBackend runs one process for every session (sessions: shared).
//
// Request ids are rewritten to process-unique numbers and restored on the
// response, so concurrent requests of different sessions never collide;
// progress tokens are rewritten the same way. The first session's
// initialize goes to the server; its result is reused for every later
// session. Limits of this mode (documented for users):
//   - the server sees one client: the first session's capabilities and
//     protocol version, and a single notifications/initialized;
//   - notifications other than progress (logging, list_changed) are
//     broadcast to every session;
//   - a server-to-client request (sampling, elicitation, roots) goes to the
//     session that sent the most recent request still in flight, as the
//     stdio protocol does not say which request it serves;
//   - a crash of the process ends every session.
type sharedBackend struct {
	m *Manager

	mu          sync.Mutex
	conn        *conn
	nextID      int64
	ids         map[string]idRoute    // rewritten id -> origin
	rev         map[revKey]string     // (session, original id) -> rewritten id
	tokens      map[string]tokenRoute // rewritten progress token -> origin
	sessions    map[*session]struct{}
	initResult  json.RawMessage // cached initialize result
	initWait    chan struct{}   // closed when the first initialize is answered
	initialized bool            // notifications/initialized already sent
	recent      []*session      // sessions by most recent request
}

type idRoute struct {
	s    *session
	orig json.RawMessage
	init bool
}

type revKey struct {
	s   *session
	key string
}

type tokenRoute struct {
	s    *session
	orig json.RawMessage
}

func newSharedBackend(m *Manager) *sharedBackend {
	return &sharedBackend{
		m:        m,
		ids:      map[string]idRoute{},
		rev:      map[revKey]string{},
		tokens:   map[string]tokenRoute{},
		sessions: map[*session]struct{}{},
	}
}

// ensureLocked starts the process if none is running.
func (b *sharedBackend) ensureLocked() (*conn, error) {
	if b.conn != nil {
		return b.conn, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.m.cfg.StartTimeout)
	defer cancel()
	p, err := b.m.startProcess(ctx)
	if err != nil {
		return nil, err
	}
	c := b.m.newConn(p)
	b.conn = c
	b.m.log.Info("shared process started", "process", p.Label())
	go c.readLoop(b.dispatch, func(status string) { b.exited(c, status) })
	return c, nil
}

func (b *sharedBackend) send(s *session, m *mcp.Message) error {
	b.mu.Lock()
	b.sessions[s] = struct{}{}
	c, err := b.ensureLocked()
	if err != nil {
		b.mu.Unlock()
		return err
	}
	raw, forward := m.Raw, true
	switch m.Kind {
	case mcp.KindRequest:
		if m.Method == api.MethodInitialize && (b.initResult != nil || b.initWait != nil) {
			wait, result := b.initWait, b.initResult
			b.mu.Unlock()
			go b.answerInit(s, m.ID, wait, result)
			return nil
		}
		raw, err = b.rewriteRequestLocked(s, m)
	case mcp.KindNotification:
		raw, forward = b.rewriteNotificationLocked(s, m)
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("rewriting request: %w", err)
	}
	if !forward {
		return nil
	}
	return c.write(raw)
}

// rewriteRequestLocked gives a session's request a process-unique id (and
// progress token) and remembers where its answer goes.
func (b *sharedBackend) rewriteRequestLocked(s *session, m *mcp.Message) ([]byte, error) {
	if m.Method == api.MethodInitialize {
		b.initWait = make(chan struct{})
	}
	b.nextID++
	newID := strconv.FormatInt(b.nextID, 10)
	b.ids[newID] = idRoute{s: s, orig: m.ID, init: m.Method == api.MethodInitialize}
	b.rev[revKey{s, m.Key()}] = newID
	b.touchLocked(s)
	raw, err := mcp.Set(m.Raw, []byte(newID), "id")
	if tok := mcp.ProgressToken(m.Params); err == nil && len(tok) > 0 {
		newTok := `"pt` + newID + `"`
		b.tokens[newTok] = tokenRoute{s: s, orig: tok}
		raw, err = mcp.Set(raw, []byte(newTok), "params", "_meta", "progressToken")
	}
	return raw, err
}

// rewriteNotificationLocked passes the first notifications/initialized only
// and maps a cancellation to the request's process-unique id (nothing to
// forward when the request is not in flight any more).
func (b *sharedBackend) rewriteNotificationLocked(s *session, m *mcp.Message) ([]byte, bool) {
	switch m.Method {
	case api.MethodInitialized:
		if b.initialized {
			return nil, false
		}
		b.initialized = true
	case api.MethodCancelled:
		newID, ok := b.rev[revKey{s, mcp.IDKey(mcp.CancelledRequestID(m.Params))}]
		if !ok {
			return nil, false
		}
		raw, err := mcp.Set(m.Raw, []byte(newID), "params", "requestId")
		return raw, err == nil
	}
	return m.Raw, true
}

// answerInit answers a later session's initialize from the cached result.
func (b *sharedBackend) answerInit(s *session, id json.RawMessage, wait chan struct{}, result json.RawMessage) {
	if result == nil && wait != nil {
		<-wait
		b.mu.Lock()
		result = b.initResult
		b.mu.Unlock()
	}
	var raw []byte
	if result == nil {
		raw = mcp.ErrorResponse(id, api.CodeServerError, "the shared MCP server did not initialize", nil)
	} else {
		raw, _ = json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  json.RawMessage `json:"result"`
		}{"2.0", id, result})
	}
	if msg, err := mcp.DecodeOne(raw); err == nil {
		s.deliver(msg)
	}
}

func (b *sharedBackend) touchLocked(s *session) {
	for i, x := range b.recent {
		if x == s {
			b.recent = append(b.recent[:i], b.recent[i+1:]...)
			break
		}
	}
	b.recent = append(b.recent, s)
}

// dispatch routes a message of the shared process to its session(s).
func (b *sharedBackend) dispatch(m *mcp.Message) {
	b.mu.Lock()
	switch {
	case m.Kind == mcp.KindResponse:
		r, ok := b.takeRouteLocked(m)
		b.mu.Unlock()
		if ok {
			deliverRewritten(r.s, m, r.orig, "id")
		}
	case m.Method == api.MethodProgress:
		r, ok := b.tokens[mcp.IDKey(mcp.NotificationProgressToken(m.Params))]
		b.mu.Unlock()
		if ok {
			deliverRewritten(r.s, m, r.orig, "params", "progressToken")
		}
	case m.Kind == mcp.KindRequest:
		target := b.requestTargetLocked()
		b.mu.Unlock()
		if target != nil {
			target.deliver(m)
		}
	default:
		all := make([]*session, 0, len(b.sessions))
		for s := range b.sessions {
			all = append(all, s)
		}
		b.mu.Unlock()
		for _, s := range all {
			s.deliver(m)
		}
	}
}

// takeRouteLocked forgets an answered request's route and, for the first
// initialize, keeps its result for later sessions.
func (b *sharedBackend) takeRouteLocked(m *mcp.Message) (idRoute, bool) {
	key := m.Key()
	r, ok := b.ids[key]
	if !ok {
		return r, false
	}
	delete(b.ids, key)
	delete(b.rev, revKey{r.s, mcp.IDKey(r.orig)})
	delete(b.tokens, `"pt`+key+`"`)
	if r.init {
		if res := mcp.Lookup(m.Raw, "result"); !m.IsError && len(res) > 0 {
			b.initResult = append(json.RawMessage(nil), res...)
		}
		// Waiters read initResult; nil means failed, and the next
		// session's initialize tries again.
		close(b.initWait)
		b.initWait = nil
	}
	return r, true
}

// requestTargetLocked is the session a server request goes to: the most
// recent one with a request in flight, else the most recent one.
func (b *sharedBackend) requestTargetLocked() *session {
	for i := len(b.recent) - 1; i >= 0; i-- {
		if b.hasInFlightLocked(b.recent[i]) {
			return b.recent[i]
		}
	}
	if len(b.recent) > 0 {
		return b.recent[len(b.recent)-1]
	}
	return nil
}

// deliverRewritten delivers m to s with the value at path (its id, or a
// progress token in params) replaced: the message is the same but for that
// value, so it is not decoded again.
func deliverRewritten(s *session, m *mcp.Message, val json.RawMessage, path ...string) {
	out, err := mcp.Set(m.Raw, val, path...)
	if err != nil {
		return
	}
	msg := *m
	msg.Raw = out
	if path[0] == "id" {
		msg.ID = val
	} else {
		msg.Params = mcp.LookupFold(out, "params")
	}
	s.deliver(&msg)
}

func (b *sharedBackend) hasInFlightLocked(s *session) bool {
	for _, r := range b.ids {
		if r.s == s {
			return true
		}
	}
	return false
}

// exited ends every session of the crashed process and resets the state so
// the next initialize starts a new process.
func (b *sharedBackend) exited(c *conn, status string) {
	b.mu.Lock()
	if b.conn != c {
		b.mu.Unlock()
		return
	}
	b.conn = nil
	all := make([]*session, 0, len(b.sessions))
	for s := range b.sessions {
		all = append(all, s)
	}
	b.sessions = map[*session]struct{}{}
	b.ids = map[string]idRoute{}
	b.rev = map[revKey]string{}
	b.tokens = map[string]tokenRoute{}
	b.initResult = nil
	if b.initWait != nil {
		close(b.initWait)
		b.initWait = nil
	}
	b.initialized = false
	b.recent = nil
	b.mu.Unlock()
	reason := "stopped"
	if len(all) > 0 {
		reason = "crashed"
		b.m.log.Warn("shared MCP server process ended", "status", status, "sessions", len(all))
	}
	b.m.metrics.ProcessExited(reason)
	for _, s := range all {
		b.m.endSession(s, status, true)
	}
}

func (b *sharedBackend) detach(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sessions, s)
	for k, r := range b.ids {
		if r.s == s && !r.init {
			delete(b.ids, k)
		}
	}
	for k := range b.rev {
		if k.s == s {
			delete(b.rev, k)
		}
	}
	for k, r := range b.tokens {
		if r.s == s {
			delete(b.tokens, k)
		}
	}
	for i, x := range b.recent {
		if x == s {
			b.recent = append(b.recent[:i], b.recent[i+1:]...)
			break
		}
	}
}

func (b *sharedBackend) close() {
	b.mu.Lock()
	c := b.conn
	b.mu.Unlock()
	if c != nil {
		c.proc.Stop()
	}
}
