package virtual

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// serveModern serves a 2026-07-28 request: checked once here (as the
// proxy checks a real server's), then answered or routed.
func (v *Virtual) serveModern(w *httprec.Recorder, q *request) {
	if q.r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, nil, mcp.CodeInvalidRequest,
			"method not allowed: protocol version "+api.MCPVersion20260728+" sends every message as a POST", nil)
		return
	}
	m := q.msg
	switch {
	case q.batch:
		writeError(w, http.StatusBadRequest, nil, mcp.CodeInvalidRequest, "Invalid Request: a "+api.MCPVersion20260728+" POST carries one message, not a batch", nil)
		return
	case m.Kind == mcp.KindResponse:
		writeError(w, http.StatusBadRequest, nil, mcp.CodeInvalidRequest, "Invalid Request: a "+api.MCPVersion20260728+" client sends no responses", nil)
		return
	case m.Kind == mcp.KindNotification:
		w.WriteHeader(http.StatusAccepted) // nothing for a virtual server to do
		return
	}
	meta, viol := mcp.ValidateModern(q.r.Header, m)
	if viol != nil {
		writeJSON(w, viol.Status, viol.Response(m.ID))
		return
	}
	v.dispatchModern(w, q, meta)
}

func (v *Virtual) dispatchModern(w *httprec.Recorder, q *request, meta mcp.RequestMeta) {
	c := &call{v: v, q: q, meta: meta}
	switch q.method {
	case api.MethodDiscover:
		res, e := v.discover(c)
		c.reply(w, res, e)
	case api.MethodToolsList, api.MethodPromptsList, api.MethodResourcesList, api.MethodResourceTemplatesList:
		res, e := v.list(c, q.method, mcp.Lookup(q.msg.Params, "cursor"))
		c.reply(w, res, e)
	case api.MethodToolsCall, api.MethodPromptsGet, api.MethodResourcesRead, api.MethodComplete:
		v.route(w, c)
	case api.MethodSubscriptionsListen:
		v.listen(w, c)
	default:
		writeError(w, http.StatusNotFound, q.msg.ID, mcp.CodeMethodNotFound, "Method not found: "+q.method, nil)
	}
}

// call is one request of a client as the members see it: the per-request
// metadata they get (a modern client's own, or what a legacy session
// negotiated).
type call struct {
	v    *Virtual
	q    *request
	meta mcp.RequestMeta
}

// metaJSON is params._meta for the members' requests.
func (c *call) metaJSON() []byte {
	m := map[string]json.RawMessage{
		api.MetaProtocolVersion:    json.RawMessage(strconv.Quote(api.MCPVersion20260728)),
		api.MetaClientCapabilities: orEmpty(c.meta.ClientCapabilities),
	}
	if len(c.meta.ClientInfo) > 0 {
		m[api.MetaClientInfo] = c.meta.ClientInfo
	}
	if c.meta.LogLevel != "" {
		m[api.MetaLogLevel] = json.RawMessage(strconv.Quote(c.meta.LogLevel))
	}
	b, _ := json.Marshal(m)
	return b
}

func orEmpty(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte(`{}`)
	}
	return raw
}

// reply writes a result the gateway made (or its error) for a modern
// client: resultType and serverInfo added.
func (c *call) reply(w http.ResponseWriter, res map[string]any, e *rpcError) {
	if e != nil {
		e.write(w, c.q.msg.ID)
		return
	}
	res["resultType"] = "complete"
	res["_meta"] = map[string]any{api.MetaServerInfo: c.v.serverInfo(c.q.s)}
	writeResult(w, c.q.msg.ID, res)
}

func writeResult(w http.ResponseWriter, id json.RawMessage, res map[string]any) {
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": res})
	if err != nil {
		writeJSON(w, http.StatusOK, mcp.InternalError(id, "encoding the result"))
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// rpcError is an answer the gateway gives instead of a member.
type rpcError struct {
	status int
	code   int
	msg    string
	data   any
}

func (e *rpcError) write(w http.ResponseWriter, id json.RawMessage) {
	writeError(w, e.status, id, e.code, e.msg, e.data)
}

// notOffered is the answer to a method whose capability the virtual
// server does not declare: 404 and -32601, as for a method it lacks.
func notOffered(method string) *rpcError {
	return &rpcError{status: http.StatusNotFound, code: mcp.CodeMethodNotFound, msg: "Method not found: " + method + " (no member offers it)"}
}

func (v *Virtual) serverInfo(s *Server) map[string]any {
	info := map[string]any{"name": s.Key(), "version": v.opts.Version}
	if s.Def.Title != "" {
		info["title"] = s.Def.Title
	}
	return info
}
