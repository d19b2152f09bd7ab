package virtual

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// target is where a request that one member answers goes: the member, the
// name it knows (Mcp-Name), and the body it gets. tools/call and
// prompts/get need no list: the name names the member (its prefix), and is
// given back its member's own; completion/complete goes by its ref;
// resources/read by the member that owns the URI, or (member nil, no
// error) to be found by asking each member the URI is assigned from.
func (v *Virtual) target(c *call) (*Member, string, []byte, *rpcError) {
	msg := c.q.msg
	switch c.q.method {
	case api.MethodToolsCall, api.MethodPromptsGet:
		kind := kindTool
		if c.q.method == api.MethodPromptsGet {
			kind = kindPrompt
		}
		name := mcp.Name(msg)
		m, original, ok := c.q.s.Resolve(kind, name)
		if !ok {
			return nil, "", nil, notAssigned(kind, name, c.q.s)
		}
		body, err := mcp.Set(msg.Raw, []byte(strconv.Quote(original)), "params", "name")
		if err != nil {
			return nil, "", nil, &rpcError{status: http.StatusOK, code: mcp.CodeInternalError, msg: "Internal error: rewriting the name"}
		}
		return m, original, body, nil
	case api.MethodResourcesRead:
		uri := mcp.Name(msg)
		m := v.owner(c, uri)
		if m != nil && !m.AllowsResource(uri) {
			return nil, "", nil, resourceNotFound(uri)
		}
		return m, uri, msg.Raw, nil
	}
	return v.completeTarget(c)
}

// completeTarget routes completion/complete by its ref: a prompt by its
// name, a resource template by the member listing it.
func (v *Virtual) completeTarget(c *call) (*Member, string, []byte, *rpcError) {
	var ref struct {
		Type string `json:"type"`
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	_ = json.Unmarshal(mcp.Lookup(c.q.msg.Params, "ref"), &ref)
	switch ref.Type {
	case "ref/prompt":
		m, original, ok := c.q.s.Resolve(kindPrompt, ref.Name)
		if !ok {
			return nil, "", nil, notAssigned(kindPrompt, ref.Name, c.q.s)
		}
		body, err := mcp.Set(c.q.msg.Raw, []byte(strconv.Quote(original)), "params", "ref", "name")
		if err != nil {
			return nil, "", nil, &rpcError{status: http.StatusOK, code: mcp.CodeInternalError, msg: "Internal error: rewriting the ref"}
		}
		return m, "", body, nil
	case "ref/resource":
		m := v.templateOwner(c, ref.URI)
		if m == nil || !m.AllowsTemplate(ref.URI) && !m.AllowsResource(ref.URI) {
			return nil, "", nil, resourceNotFound(ref.URI)
		}
		return m, "", c.q.msg.Raw, nil
	}
	return nil, "", nil, &rpcError{status: http.StatusOK, code: mcp.CodeInvalidParams, msg: "Invalid params: ref.type must be ref/prompt or ref/resource"}
}

// route serves a modern request one member answers: passed to it, and its
// answer back as it comes (progress, an InputRequiredResult, the result).
// A retry of a multi-round request names the same tool, so it reaches the
// same member (and, by the member's routing, the same pod).
func (v *Virtual) route(w *httprec.Recorder, c *call) {
	m, name, body, e := v.target(c)
	switch {
	case e != nil:
		e.write(w, c.q.msg.ID)
	case m != nil:
		v.forward(w, c, m, name, body)
	default:
		answer, owner := v.probeRead(c, body, c.q.msg.ID)
		if answer == nil {
			resourceNotFound(name).write(w, c.q.msg.ID)
			return
		}
		v.metrics.routed(c.q.s, owner, c.q.method, http.StatusOK)
		writeJSON(w, http.StatusOK, answer.Raw)
	}
}

// notAssigned refuses a name the virtual server does not offer: the
// assignment is the grant, so a member's other tools are unknown here.
func notAssigned(kind, name string, s *Server) *rpcError {
	return &rpcError{status: http.StatusOK, code: mcp.CodeInvalidParams,
		msg: fmt.Sprintf("Unknown %s: %q is not offered by virtual server %s", kind, name, s.Key())}
}

func resourceNotFound(uri string) *rpcError {
	return &rpcError{status: http.StatusOK, code: mcp.CodeInvalidParams, msg: "Resource not found", data: map[string]string{"uri": uri}}
}

// forward passes a modern request to member m and its answer to the
// client unchanged, but for one thing: a member that cannot answer (no
// ready pod, unreachable, still waking: 503) is one tool of many failing,
// not the virtual server, so its JSON-RPC error reaches the client with
// HTTP 200 (Retry-After kept), where clients show it.
func (v *Virtual) forward(w *httprec.Recorder, c *call, m *Member, name string, body []byte) {
	if v.isLegacy(c, m) {
		v.forwardLegacy(w, c, m, body)
		return
	}
	r := c.q.r
	mw := &memberWriter{ResponseWriter: w}
	v.opts.Members.ServeHTTP(mw, memberRequest(r.Context(), r, c.q.s, m, c.q.method, name, body))
	v.metrics.routed(c.q.s, m, c.q.method, mw.code)
}

// memberWriter turns a member's 503 into 200 (its body is a JSON-RPC
// error) and remembers the member's status.
type memberWriter struct {
	http.ResponseWriter
	code int
}

func (m *memberWriter) WriteHeader(code int) {
	if m.code == 0 {
		m.code = code
	}
	if code == http.StatusServiceUnavailable {
		code = http.StatusOK
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *memberWriter) Write(b []byte) (int, error) {
	if m.code == 0 {
		m.code = http.StatusOK
	}
	return m.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush.
func (m *memberWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// probeRead asks the members the URI is assigned from, in definition
// order, until one has it; nil when none does.
func (v *Virtual) probeRead(c *call, body, id json.RawMessage) (*mcp.Message, *Member) {
	uri := mcp.Name(c.q.msg)
	for _, m := range c.q.s.Members {
		if !m.assigns(kindResource) || !m.AllowsResource(uri) {
			continue
		}
		ctx := c.q.r.Context()
		resp, legacy, err := v.send(ctx, c, m, api.MethodResourcesRead, uri, body)
		if err != nil {
			continue
		}
		answer, err := v.answerOf(ctx, c, m, resp, legacy, id, nil)
		if err != nil || notFound(answer) {
			continue
		}
		return answer, m
	}
	return nil, nil
}

// notFound reports a member's "no such resource" (-32602, or the legacy
// -32002).
func notFound(m *mcp.Message) bool {
	return m.IsError && (errorCode(m) == mcp.CodeInvalidParams || errorCode(m) == -32002)
}

// readAnswer reads a member's response to the request id and closes the
// body; notifications before it go to each.
func readAnswer(resp *http.Response, id json.RawMessage, each func(*mcp.Message)) (*mcp.Message, error) {
	defer resp.Body.Close()
	ms, err := newMessages(resp)
	if err != nil {
		return nil, err
	}
	return ms.answer(id, each)
}

// memberCall sends one request to member m, in its era, and reads its
// answer.
func (v *Virtual) memberCall(ctx context.Context, c *call, m *Member, method string, params []byte) (*mcp.Message, int, error) {
	id := json.RawMessage(`1`)
	resp, legacy, err := v.send(ctx, c, m, method, "", rpcBody(id, method, params))
	if err != nil {
		return nil, 0, err
	}
	answer, err := v.answerOf(ctx, c, m, resp, legacy, id, nil)
	return answer, resp.StatusCode, err
}

// modernCall is memberCall in 2026-07-28, whatever the member's era.
func (v *Virtual) modernCall(ctx context.Context, c *call, m *Member, method string, params []byte) (*mcp.Message, int, error) {
	id := json.RawMessage(`1`)
	resp := roundTrip(v.opts.Members, memberRequest(ctx, c.q.r, c.q.s, m, method, "", rpcBody(id, method, params)))
	answer, err := readAnswer(resp, id, nil)
	return answer, resp.StatusCode, err
}
