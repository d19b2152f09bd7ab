package stdio

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// A legacy client (a session) in front of a server that speaks only
// 2026-07-28: the sidecar answers initialize from the server's discovery,
// sends each request with the per-request metadata the session negotiated,
// answers ping and keeps the log level itself, turns an InputRequiredResult
// into server requests on the session and retries with the answers, and
// feeds the session's GET stream from a subscriptions/listen.

// modernOnly reports whether a modern server cannot take initialize.
func (e *eraInfo) modernOnly() bool {
	if !e.modern {
		return false
	}
	var versions []string
	_ = json.Unmarshal(mcp.Lookup(e.discover, "supportedVersions"), &versions)
	return !slices.ContainsFunc(versions, mcp.IsSupportedVersion)
}

// sessionBridge is the backend of such a session.
type sessionBridge struct {
	m    *Manager
	p    *mproc
	own  bool // the process is the session's own (per-session mode)
	info *eraInfo

	mu     sync.Mutex
	caps   json.RawMessage // from the session's initialize
	client json.RawMessage // clientInfo
	level  string
	byID   map[string]*exchange // requests in flight, by the client's id
	asks   map[string]*retry    // by the id of a server request we asked
	nextQ  int
	listen *exchange
	uris   []string
}

// retry is a request waiting for its client's answers to an
// InputRequiredResult, to be sent again with them.
type retry struct {
	f       *sessionFront
	state   json.RawMessage
	keys    map[string]string // asked id -> inputRequests key
	answers map[string]json.RawMessage
}

func (m *Manager) newSessionBridge(ctx context.Context, s *session, info *eraInfo) (*sessionBridge, error) {
	b := &sessionBridge{m: m, info: info, byID: map[string]*exchange{}, asks: map[string]*retry{}}
	var err error
	if m.cfg.Shared {
		b.p, err = m.procFor(ctx, "", info, mcp.RequestMeta{})
	} else {
		b.p, err = m.startProc(ctx, "\x01session:"+s.id, info, mcp.RequestMeta{})
		b.own = true
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// send implements backend.
func (b *sessionBridge) send(s *session, msg *mcp.Message) error {
	switch {
	case msg.Kind == mcp.KindResponse:
		b.answered(msg)
	case msg.Kind == mcp.KindNotification:
		if msg.Method == api.MethodCancelled {
			if ex := b.exchangeOf(mcp.CancelledRequestID(msg.Params)); ex != nil {
				b.p.cancel(ex, "cancelled by the client")
			}
		}
	case msg.Method == api.MethodInitialize:
		b.initialize(s, msg)
	case msg.Method == api.MethodPing:
		deliverResult(s, msg.ID, `{}`)
	case msg.Method == api.MethodSetLevel:
		var p struct {
			Level string `json:"level"`
		}
		_ = json.Unmarshal(msg.Params, &p)
		b.mu.Lock()
		b.level = p.Level
		b.mu.Unlock()
		deliverResult(s, msg.ID, `{}`)
	case msg.Method == api.MethodResourcesSubscribe || msg.Method == api.MethodResourcesUnsubscribe:
		b.resubscribe(s, msg)
		deliverResult(s, msg.ID, `{}`)
	default:
		return b.forward(s, msg, nil)
	}
	return nil
}

// detach implements backend.
func (b *sessionBridge) detach(*session) {
	b.mu.Lock()
	l := b.listen
	b.listen = nil
	b.mu.Unlock()
	if l != nil {
		b.p.cancel(l, "the session ended")
	}
	if b.own {
		b.p.conn.proc.Stop()
	}
}

// initialize answers from the server's discovery.
func (b *sessionBridge) initialize(s *session, msg *mcp.Message) {
	version := mcp.InitializeVersion(msg.Raw)
	if !mcp.IsSupportedVersion(version) {
		version = mcp.LatestVersion
	}
	b.mu.Lock()
	b.caps = mcp.Lookup(msg.Params, "capabilities")
	b.client = mcp.Lookup(msg.Params, "clientInfo")
	b.mu.Unlock()
	res := map[string]any{"protocolVersion": version, "capabilities": json.RawMessage(orEmpty(mcp.Lookup(b.info.discover, "capabilities"))),
		"serverInfo": json.RawMessage(`{"name":"mcp-server","version":"unknown"}`)}
	if si := mcp.Lookup(b.info.discover, "_meta", api.MetaServerInfo); len(si) > 0 {
		res["serverInfo"] = json.RawMessage(si)
	}
	if in := mcp.Lookup(b.info.discover, "instructions"); len(in) > 0 {
		res["instructions"] = json.RawMessage(in)
	}
	out, _ := json.Marshal(res)
	deliverResult(s, msg.ID, string(out))
	b.openListen(s)
}

func orEmpty(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte(`{}`)
	}
	return raw
}

func deliverResult(s *session, id json.RawMessage, result string) {
	deliverRaw(s, []byte(`{"jsonrpc":"2.0","id":`+string(id)+`,"result":`+result+`}`))
}

func deliverRaw(s *session, raw []byte) {
	if msg, err := mcp.DecodeOne(raw); err == nil {
		s.deliver(msg)
	}
}

// request builds the stateless form of a session's request: its params
// with the per-request metadata the session stands for, and extra params.
func (b *sessionBridge) request(method string, params json.RawMessage, extra map[string]json.RawMessage) ([]byte, mcp.RequestMeta, error) {
	b.mu.Lock()
	meta := mcp.RequestMeta{ProtocolVersion: api.MCPVersion20260728, ClientCapabilities: orEmpty(b.caps), ClientInfo: b.client, LogLevel: b.level}
	b.mu.Unlock()
	fields := map[string]json.RawMessage{
		api.MetaProtocolVersion:    json.RawMessage(strconv.Quote(meta.ProtocolVersion)),
		api.MetaClientCapabilities: meta.ClientCapabilities,
	}
	if len(meta.ClientInfo) > 0 {
		fields[api.MetaClientInfo] = meta.ClientInfo
	}
	if meta.LogLevel != "" {
		fields[api.MetaLogLevel] = json.RawMessage(strconv.Quote(meta.LogLevel))
	}
	for k, v := range fields {
		extra["_meta\x00"+k] = v
	}
	out := []byte(`{"jsonrpc":"2.0","id":0,"method":` + strconv.Quote(method) + `,"params":` + string(orEmpty(params)) + `}`)
	for k, v := range extra {
		path := []string{"params", k}
		if mk, ok := cutMeta(k); ok {
			path = []string{"params", "_meta", mk}
		}
		var err error
		if out, err = mcp.Set(out, v, path...); err != nil {
			return nil, meta, fmt.Errorf("building the request: %w", err)
		}
	}
	return out, meta, nil
}

func cutMeta(k string) (string, bool) {
	if len(k) > 6 && k[:6] == "_meta\x00" {
		return k[6:], true
	}
	return "", false
}

// forward sends a request of the session (again, for a retry).
func (b *sessionBridge) forward(s *session, msg *mcp.Message, extra map[string]json.RawMessage) error {
	if extra == nil {
		extra = map[string]json.RawMessage{}
	}
	out, meta, err := b.request(msg.Method, msg.Params, extra)
	if err != nil {
		return err
	}
	ex := &exchange{p: b.p, method: msg.Method, name: mcp.Name(msg), meta: meta, token: mcp.ProgressToken(msg.Params),
		started: time.Now(), clientID: msg.ID}
	ex.st = &sessionFront{b: b, s: s, ex: ex, msg: msg}
	b.mu.Lock()
	b.byID[msg.Key()] = ex
	b.mu.Unlock()
	return b.p.send(ex, out)
}

func (b *sessionBridge) exchangeOf(id json.RawMessage) *exchange {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byID[mcp.IDKey(id)]
}

// sessionFront delivers an exchange's messages to the legacy session.
type sessionFront struct {
	b   *sessionBridge
	s   *session
	ex  *exchange
	msg *mcp.Message // the session's request
}

func (f *sessionFront) push(data []byte, response bool) bool {
	if response {
		f.b.mu.Lock()
		delete(f.b.byID, f.msg.Key())
		f.b.mu.Unlock()
		if string(mcp.Lookup(data, "result", "resultType")) == `"input_required"` {
			f.b.askInput(f, data)
			return true
		}
	}
	deliverRaw(f.s, data)
	return true
}

// askInput asks the session's client each request of an InputRequiredResult,
// as server requests (on the request's stream, as a legacy server would).
func (b *sessionBridge) askInput(f *sessionFront, resp []byte) {
	var reqs map[string]struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	_ = json.Unmarshal(mcp.Lookup(resp, "result", "inputRequests"), &reqs)
	r := &retry{f: f, state: mcp.Lookup(resp, "result", "requestState"), keys: map[string]string{}, answers: map[string]json.RawMessage{}}
	var asks [][]byte
	b.mu.Lock()
	b.byID[f.msg.Key()] = f.ex
	for key, q := range reqs {
		b.nextQ++
		id := strconv.Quote("mcp-transport-input-" + strconv.Itoa(b.nextQ))
		r.keys[mcp.IDKey(json.RawMessage(id))] = key
		b.asks[mcp.IDKey(json.RawMessage(id))] = r
		raw, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(id), "method": q.Method, "params": q.Params})
		asks = append(asks, raw)
	}
	b.mu.Unlock()
	if len(asks) == 0 { // requestState only: retry at once
		b.retry(r)
		return
	}
	for _, raw := range asks {
		deliverRaw(f.s, raw)
	}
}

// answered takes the client's answer to a server request we asked; once
// every request of the round is answered, the request is retried.
func (b *sessionBridge) answered(msg *mcp.Message) {
	b.mu.Lock()
	r := b.asks[msg.Key()]
	if r == nil {
		b.mu.Unlock()
		return
	}
	delete(b.asks, msg.Key())
	res := mcp.Lookup(msg.Raw, "result")
	if msg.IsError || len(res) == 0 {
		res = []byte(`{"action":"cancel"}`) // the client could not answer
	}
	r.answers[r.keys[msg.Key()]] = res
	complete := len(r.answers) == len(r.keys)
	b.mu.Unlock()
	if complete {
		b.retry(r)
	}
}

// retry sends the request again with the answers and the server's state.
func (b *sessionBridge) retry(r *retry) {
	extra := map[string]json.RawMessage{}
	if len(r.answers) > 0 {
		a, _ := json.Marshal(r.answers)
		extra["inputResponses"] = a
	}
	if len(r.state) > 0 {
		extra["requestState"] = r.state
	}
	if err := b.forward(r.f.s, r.f.msg, extra); err != nil {
		deliverRaw(r.f.s, mcp.InternalError(r.f.msg.ID, "retrying with the client's input: "+err.Error()))
	}
}

// openListen feeds the session's GET stream with the change notifications
// the server offers (and the resources the client subscribed to).
func (b *sessionBridge) openListen(s *session) {
	caps := mcp.Lookup(b.info.discover, "capabilities")
	has := func(path ...string) bool { return string(mcp.Lookup(caps, path...)) == "true" }
	b.mu.Lock()
	f := listenFilter{ToolsListChanged: has("tools", "listChanged"), PromptsListChanged: has("prompts", "listChanged"),
		ResourcesListChanged: has("resources", "listChanged"), ResourceSubscriptions: slices.Clone(b.uris)}
	old := b.listen
	b.listen = nil
	b.mu.Unlock()
	if old != nil {
		b.p.cancel(old, "resubscribing")
	}
	if !f.ToolsListChanged && !f.PromptsListChanged && !f.ResourcesListChanged && len(f.ResourceSubscriptions) == 0 {
		return
	}
	filter, _ := json.Marshal(f)
	out, meta, err := b.request(api.MethodSubscriptionsListen, []byte(`{"notifications":`+string(filter)+`}`), map[string]json.RawMessage{})
	if err != nil {
		return
	}
	ex := &exchange{p: b.p, method: api.MethodSubscriptionsListen, meta: meta, started: time.Now(), clientID: json.RawMessage(`0`), listen: &f}
	ex.st = listenToSession{s: s}
	b.mu.Lock()
	b.listen = ex
	b.mu.Unlock()
	if err := b.p.send(ex, out); err != nil {
		b.p.log.Warn("opening subscriptions/listen for a legacy session", "err", err)
	}
}

// resubscribe updates the resources followed and reopens the listen stream.
func (b *sessionBridge) resubscribe(s *session, msg *mcp.Message) {
	var p struct {
		URI string `json:"uri"`
	}
	_ = json.Unmarshal(msg.Params, &p)
	b.mu.Lock()
	b.uris = slices.DeleteFunc(b.uris, func(u string) bool { return u == p.URI })
	if msg.Method == api.MethodResourcesSubscribe {
		b.uris = append(b.uris, p.URI)
	}
	b.mu.Unlock()
	b.openListen(s)
}

// listenToSession passes subscription notifications to the session (the
// acknowledgment and the closing answer are the sidecar's own business).
type listenToSession struct{ s *session }

func (l listenToSession) push(data []byte, response bool) bool {
	if response || string(mcp.Lookup(data, "method")) == `"notifications/subscriptions/acknowledged"` {
		return true
	}
	deliverRaw(l.s, data)
	return true
}
