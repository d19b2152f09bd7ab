package virtual

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// serveLegacy serves the session revisions (2025-03-26 .. 2025-11-25):
// the gateway is the session's server; every request of the session goes
// to the members in 2026-07-28 (see sessions.go).
func (v *Virtual) serveLegacy(w *httprec.Recorder, q *request) {
	if q.r.Method == http.MethodPost && q.msg != nil && q.msg.Method == api.MethodInitialize {
		v.initialize(w, q)
		return
	}
	sid := q.r.Header.Get(api.HeaderSessionID)
	if sid == "" {
		writeError(w, http.StatusBadRequest, q.id(), mcp.CodeInvalidRequest, "Bad Request: "+api.HeaderSessionID+" is required (initialize first)", nil)
		return
	}
	ls, ok := openSession(v.opts.Codec, v.scope(q), sid, time.Now())
	st := v.legacy.state(sid)
	if _, _, _, ended := st.get(); !ok || ended {
		v.opts.Log.Debug("virtual server session refused", "virtual", q.s.Key(), "valid", ok, "ended", ended, "method", q.method, "http", q.r.Method)
		writeError(w, http.StatusNotFound, q.id(), api.CodeSessionNotFound, "session not found", nil)
		return
	}
	ss := &legacyCall{v: v, q: q, sid: sid, ls: ls, st: st}
	switch q.r.Method {
	case http.MethodGet:
		ss.stream(w)
	case http.MethodDelete:
		st.end()
		w.WriteHeader(http.StatusOK)
	default:
		ss.post(w)
	}
}

func (v *Virtual) scope(q *request) session.Scope {
	sc := session.Scope{Namespace: q.s.Namespace, Server: q.s.Name}
	if u := auth.UserFrom(q.r.Context()); u != nil {
		sc.Subject = u.Name
	}
	return sc
}

// initialize opens a session: the id carries the negotiated revision and
// the client's capabilities and info; the capabilities are the virtual
// server's (see capSet).
func (v *Virtual) initialize(w *httprec.Recorder, q *request) {
	var p struct {
		Version string          `json:"protocolVersion"`
		Caps    json.RawMessage `json:"capabilities"`
		Info    struct {
			Name    string `json:"name"`
			Title   string `json:"title,omitempty"`
			Version string `json:"version"`
		} `json:"clientInfo"`
	}
	_ = json.Unmarshal(q.msg.Params, &p)
	if !mcp.IsSupportedVersion(p.Version) {
		p.Version = mcp.LatestVersion
	}
	info, _ := json.Marshal(p.Info)
	ls := legacySession{Version: p.Version, Caps: orEmpty(p.Caps), Info: info, Issued: time.Now().Unix()}
	c := &call{v: v, q: q, meta: ls.meta("")}
	res := map[string]any{"protocolVersion": p.Version, "capabilities": v.capabilities(c).json(), "serverInfo": v.serverInfo(q.s)}
	if q.s.Def.Instructions != "" {
		res["instructions"] = q.s.Def.Instructions
	}
	w.Header().Set(api.HeaderSessionID, sealSession(v.opts.Codec, v.scope(q), ls))
	writeResult(w, q.msg.ID, res)
}

// legacyCall is one HTTP request of a legacy session.
type legacyCall struct {
	v   *Virtual
	q   *request
	sid string
	ls  legacySession
	st  *sessionState
}

// call is the request as the members see it.
func (lc *legacyCall) call() *call {
	level, _, _, _ := lc.st.get()
	return &call{v: lc.v, q: lc.q, meta: lc.ls.meta(level)}
}

// post serves a POST of the session: one message (a batch, of 2025-03-26
// only, is not served by virtual servers).
func (lc *legacyCall) post(w *httprec.Recorder) {
	m := lc.q.msg
	switch {
	case lc.q.batch:
		writeError(w, http.StatusBadRequest, nil, mcp.CodeInvalidRequest, "Invalid Request: virtual servers do not take JSON-RPC batches", nil)
	case m.Kind == mcp.KindResponse:
		lc.answered(w)
	case m.Kind == mcp.KindNotification:
		w.WriteHeader(http.StatusAccepted) // cancellation: the client's closed stream already cancels
	default:
		lc.request(w)
	}
}

func (lc *legacyCall) request(w *httprec.Recorder) {
	m := lc.q.msg
	switch m.Method {
	case api.MethodPing:
		writeResult(w, m.ID, map[string]any{})
	case api.MethodSetLevel:
		var p struct {
			Level string `json:"level"`
		}
		_ = json.Unmarshal(m.Params, &p)
		lc.st.setLevel(p.Level)
		writeResult(w, m.ID, map[string]any{})
	case api.MethodResourcesSubscribe, api.MethodResourcesUnsubscribe:
		lc.subscribe(w)
	case api.MethodToolsList, api.MethodPromptsList, api.MethodResourcesList, api.MethodResourceTemplatesList:
		res, e := lc.v.list(lc.call(), m.Method, mcp.Lookup(m.Params, "cursor"))
		lc.reply(w, res, e)
	case api.MethodToolsCall, api.MethodPromptsGet, api.MethodResourcesRead, api.MethodComplete:
		lc.exchange(w)
	default:
		writeError(w, http.StatusOK, m.ID, mcp.CodeMethodNotFound, "Method not found: "+m.Method, nil)
	}
}

// reply writes a result the gateway made: JSON-RPC errors of the session
// revisions travel with HTTP 200.
func (lc *legacyCall) reply(w http.ResponseWriter, res map[string]any, e *rpcError) {
	if e != nil {
		writeError(w, http.StatusOK, lc.q.msg.ID, e.code, e.msg, e.data)
		return
	}
	delete(res, "ttlMs")
	delete(res, "cacheScope")
	writeResult(w, lc.q.msg.ID, res)
}

func (lc *legacyCall) subscribe(w *httprec.Recorder) {
	var p struct {
		URI string `json:"uri"`
	}
	_ = json.Unmarshal(lc.q.msg.Params, &p)
	if p.URI == "" {
		writeError(w, http.StatusOK, lc.q.msg.ID, mcp.CodeInvalidParams, "Invalid params: uri is required", nil)
		return
	}
	lc.st.subscribe(p.URI, lc.q.msg.Method == api.MethodResourcesSubscribe)
	writeResult(w, lc.q.msg.ID, map[string]any{})
}

// stream serves the session's GET stream: the list changes and resource
// updates of the members (see subscription), reopened when the session's
// subscriptions change on this replica.
func (lc *legacyCall) stream(w *httprec.Recorder) {
	c := lc.call()
	cs := lc.v.capabilities(c)
	sse := newSSE(w, http.StatusOK)
	ctx := lc.q.r.Context()
	for ctx.Err() == nil {
		_, uris, changed, ended := lc.st.get()
		if ended {
			return
		}
		f := filter{ToolsListChanged: true, PromptsListChanged: true, ResourcesListChanged: true, ResourceSubscriptions: uris}.agree(c.q.s, cs)
		sub := &subscription{v: lc.v, c: c, f: f, send: sse.send, tag: untag}
		sctx, stop := contextUntil(ctx, changed)
		gone := sub.run(sctx)
		stop()
		if gone {
			return
		}
	}
}

// untag removes the subscription id a member's listen adds: a session's
// GET stream has none.
func untag(raw []byte) []byte {
	out, err := mcp.Delete(raw, "params", "_meta", api.MetaSubscriptionID)
	if err != nil {
		return raw
	}
	return out
}

func (lc *legacyCall) String() string { return fmt.Sprintf("session of %s", lc.q.s.Key()) }
