package stdio

import (
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// mproc is one stdio process serving stateless (2026-07-28) requests: the
// requests of one caller (sessions: per-session) or of everyone (shared).
// Requests of independent clients may carry the same JSON-RPC id, so every
// request gets a process-unique id on stdin and its own back on the way
// out; progress tokens and subscription ids are mapped the same way. For a
// legacy server (translate) the sidecar has initialized the process itself
// and presents it as a modern server (translate.go, mrtr.go, listen.go).
type mproc struct {
	m         *Manager
	key       string
	translate bool
	conn      *conn
	log       *slog.Logger
	// init is a legacy server's initialize result (translate only).
	init json.RawMessage

	mu       sync.Mutex
	nextID   int64
	inflight map[string]*exchange // by stdio id (IDKey): requests on stdin
	tokens   map[string]*exchange // by rewritten progress token
	parked   map[string]*exchange // translate: waiting for an MRTR retry, by handle
	listens  map[*exchange]bool   // open subscriptions/listen streams
	subs     map[string]int       // translate: resource URI -> listeners
	level    int                  // translate: log level set on the server (-1: none)
	lastUsed time.Time
	closed   bool
}

func newMproc(m *Manager, key string, translate bool, c *conn) *mproc {
	return &mproc{
		m: m, key: key, translate: translate, conn: c,
		log:      m.log.With("process", c.proc.Label(), "caller", callerLabel(key)),
		inflight: map[string]*exchange{}, tokens: map[string]*exchange{},
		parked: map[string]*exchange{}, listens: map[*exchange]bool{}, subs: map[string]int{},
		level: -1, lastUsed: time.Now(),
	}
}

// errProcClosed: the process ended before the request could be sent.
var errProcClosed = errors.New("MCP server process ended")

// start routes the process's output; onExit runs once it has ended.
func (p *mproc) start(onExit func()) {
	go p.conn.readLoop(p.dispatch, func(status string) {
		p.fail(status)
		onExit()
	})
}

// send forwards ex's request with a process-unique id (and progress token).
func (p *mproc) send(ex *exchange, raw []byte) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errProcClosed
	}
	p.nextID++
	ex.stdioID = strconv.FormatInt(p.nextID, 10)
	p.inflight[ex.stdioID] = ex
	if ex.listen != nil {
		p.listens[ex] = true
	}
	p.lastUsed = time.Now()
	out, err := mcp.Set(raw, []byte(ex.stdioID), "id")
	if err == nil && len(ex.token) > 0 {
		tok := `"pt` + ex.stdioID + `"`
		p.tokens[tok] = ex
		out, err = mcp.Set(out, []byte(tok), "params", "_meta", "progressToken")
	}
	if err != nil {
		p.forgetLocked(ex)
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	return p.conn.write(out)
}

// forgetLocked drops ex from the routing tables.
func (p *mproc) forgetLocked(ex *exchange) {
	delete(p.inflight, ex.stdioID)
	if len(ex.token) > 0 {
		delete(p.tokens, `"pt`+ex.stdioID+`"`)
	}
	delete(p.listens, ex)
	if ex.handle != "" {
		delete(p.parked, ex.handle)
	}
	p.lastUsed = time.Now()
}

// cancel stops ex at the server: its client closed the stream (the modern
// transport's cancellation), it timed out waiting for an MRTR retry, or the
// sidecar ends it. A subscription the sidecar serves itself just closes.
func (p *mproc) cancel(ex *exchange, reason string) {
	p.mu.Lock()
	_, live := p.inflight[ex.stdioID]
	listening := p.listens[ex]
	if live || listening {
		p.forgetLocked(ex)
	}
	p.mu.Unlock()
	if listening && p.translate {
		p.unsubscribe(ex)
	}
	if !live {
		return
	}
	note, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": api.MethodCancelled,
		"params": map[string]any{"requestId": json.RawMessage(ex.stdioID), "reason": reason}})
	if err := p.conn.write(note); err != nil {
		p.log.Debug("cancelling at the server", "err", err)
	}
}

// dispatch routes one message of the process.
func (p *mproc) dispatch(msg *mcp.Message) {
	switch msg.Kind {
	case mcp.KindResponse:
		p.respond(msg)
	case mcp.KindRequest:
		p.serverRequest(msg)
	default:
		p.notification(msg)
	}
}

// respond delivers a response to its exchange under the client's id.
func (p *mproc) respond(msg *mcp.Message) {
	p.mu.Lock()
	ex := p.inflight[msg.Key()]
	if ex == nil {
		p.mu.Unlock()
		return // cancelled, or the sidecar's own request (log level)
	}
	p.forgetLocked(ex)
	p.mu.Unlock()
	if p.translate {
		p.unsubscribe(ex)
	}
	raw := msg.Raw
	if ex.method == api.MethodToolsList && !msg.IsError {
		p.m.tools.learn(raw, p.log)
	}
	if p.translate {
		raw = p.m.decorate(raw, ex, p.init)
	}
	ex.answer(raw)
}

// notification routes a server notification: progress to the request that
// asked for it, logs to the request that asked for logs, subscription
// traffic to its listen stream(s); anything else is dropped, since a
// stateless client has nowhere else to receive it.
func (p *mproc) notification(msg *mcp.Message) {
	switch msg.Method {
	case api.MethodProgress:
		tok := mcp.IDKey(mcp.NotificationProgressToken(msg.Params))
		p.mu.Lock()
		ex := p.tokens[tok]
		p.mu.Unlock()
		if ex != nil {
			if raw, err := mcp.Set(msg.Raw, ex.token, "params", "progressToken"); err == nil {
				ex.notify(raw)
			}
		}
	case api.MethodLogMessage:
		if ex := p.logTarget(msg); ex != nil {
			ex.notify(msg.Raw)
		}
	default:
		p.subscriptionNotice(msg)
	}
}

// logTarget picks the request a log message belongs to: stdio does not say,
// so the newest request in flight that asked for logs at or below the
// message's level (usually the only one of a caller).
func (p *mproc) logTarget(msg *mcp.Message) *exchange {
	var level string
	_ = json.Unmarshal(mcp.Lookup(msg.Params, "level"), &level)
	lv := logLevelIndex(level)
	var best *exchange
	for _, ex := range p.inflightNow() {
		ex.mu.Lock()
		asked := ex.meta.LogLevel
		live := ex.st != nil
		ex.mu.Unlock()
		if asked == "" || !live || ex.listen != nil || lv < logLevelIndex(asked) {
			continue
		}
		if best == nil || ex.started.After(best.started) {
			best = ex
		}
	}
	return best
}

// inflightNow is a snapshot of the requests in flight. Lock order: an
// exchange's lock may be held while taking the process's, never the other
// way round, so callers inspect the exchanges after this returns.
func (p *mproc) inflightNow() []*exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Collect(maps.Values(p.inflight))
}

func logLevelIndex(level string) int {
	for i, l := range mcp.LogLevels {
		if l == level {
			return i
		}
	}
	return len(mcp.LogLevels) // unknown: treat as most severe
}

// serverRequest answers what a modern client cannot be asked directly: a
// legacy server's elicitation, sampling or roots request becomes an
// InputRequiredResult (mrtr.go); ping is answered here; anything else is
// refused, as a modern server must not send requests at all.
func (p *mproc) serverRequest(msg *mcp.Message) {
	switch {
	case msg.Method == api.MethodPing:
		p.reply(msg.ID, json.RawMessage(`{}`))
	case p.translate && isInputMethod(msg.Method):
		p.inputRequest(msg)
	default:
		p.replyError(msg.ID, mcp.CodeMethodNotFound, "the client of this request does not take server requests: "+msg.Method)
	}
}

func (p *mproc) reply(id, result json.RawMessage) {
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  json.RawMessage `json:"result"`
	}{"2.0", id, result})
	if err := p.conn.write(b); err != nil {
		p.log.Debug("answering the server", "err", err)
	}
}

func (p *mproc) replyError(id json.RawMessage, code int, msg string) {
	if err := p.conn.write(mcp.ErrorResponse(id, code, msg, nil)); err != nil {
		p.log.Debug("answering the server", "err", err)
	}
}

// fail answers everything in flight once the process has ended.
func (p *mproc) fail(status string) {
	p.mu.Lock()
	p.closed = true
	var all []*exchange
	for _, ex := range p.inflight {
		all = append(all, ex)
	}
	p.inflight, p.tokens, p.parked, p.listens = map[string]*exchange{}, map[string]*exchange{}, map[string]*exchange{}, map[*exchange]bool{}
	p.mu.Unlock()
	if len(all) > 0 {
		p.log.Warn("MCP server process ended with requests in flight", "status", status, "requests", len(all))
	}
	for _, ex := range all {
		ex.end(mcp.ServerGone(ex.clientID, status))
	}
}

// idleSince reports whether nothing used the process for d.
func (p *mproc) idleSince(now time.Time, d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && len(p.inflight) == 0 && now.Sub(p.lastUsed) > d
}

// busy is the number of requests that outlive their HTTP request (in
// flight at the server, listen streams not counted).
func (p *mproc) busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight) - len(p.listens)
}

// callerLabel is a log-safe form of a process key.
func callerLabel(key string) string {
	if key == "" {
		return "anonymous"
	}
	return shortHash(key)
}

// notice builds a notification message.
func notice(method string, params any) []byte {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
	return b
}
