package stdio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// The MRTR bridge (2026-07-28 "Multi Round-Trip Requests"): a legacy
// server asks for input with its own requests (elicitation/create,
// sampling/createMessage, roots/list) during a tools/call, prompts/get or
// resources/read and waits for the answers. A modern client cannot be
// asked: the sidecar collects the server's requests (those sent together,
// within a short window), answers the client's request with an
// InputRequiredResult carrying them and a signed requestState, and keeps
// the legacy request waiting. The client's retry (a new request with
// inputResponses and the requestState) answers the waiting server
// requests, and the legacy request then completes on the retry's stream.
//
// Keys of inputRequests: the server may name them with
// params._meta["io.archestra.mcp/inputKey"]; otherwise they are the method's
// kind and a number (elicitation-1, sampling-1, roots-1).

// inputMethods are what a legacy server may ask a client, with the client
// capability each needs.
var inputMethods = map[string]string{
	api.MethodElicit:        "elicitation",
	api.MethodCreateMessage: "sampling",
	api.MethodRootsList:     "roots",
}

func isInputMethod(method string) bool { _, ok := inputMethods[method]; return ok }

// isMRTRMethod: the requests that may answer with an InputRequiredResult.
func isMRTRMethod(method string) bool {
	return method == api.MethodToolsCall || method == api.MethodPromptsGet || method == api.MethodResourcesRead
}

// inputState is what one exchange waits for from its client.
type inputState struct {
	given   map[string]json.RawMessage // the current front's inputResponses
	pending []*serverRequest           // asked, not answered yet
	seq     map[string]int             // per kind, for default keys
	round   int                        // InputRequiredResults sent so far
	timer   *time.Timer                // the gathering window, then the retry deadline
}

type serverRequest struct {
	key    string
	id     json.RawMessage // the server's id
	method string
	params json.RawMessage
}

// inputRequest handles a server request for input during a modern request.
func (p *mproc) inputRequest(msg *mcp.Message) {
	ex := p.inputTarget()
	p.log.Debug("input request", "method", msg.Method, "target", ex != nil)
	if ex == nil {
		p.replyError(msg.ID, mcp.CodeInvalidRequest, "no client request is in flight to ask: "+msg.Method)
		return
	}
	ex.mu.Lock()
	meta := ex.meta
	ex.mu.Unlock()
	if capability := inputMethods[msg.Method]; !meta.Capable(capability) {
		p.missingCapability(ex, msg, capability)
		return
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	req := &serverRequest{key: ex.input.keyFor(msg), id: msg.ID, method: msg.Method, params: msg.Params}
	if ans, ok := ex.input.given[req.key]; ok && validInputResponse(req.method, ans) {
		delete(ex.input.given, req.key)
		p.reply(req.id, ans)
		return
	}
	ex.input.pending = append(ex.input.pending, req)
	if ex.input.timer == nil {
		ex.input.timer = time.AfterFunc(p.m.cfg.GatherWindow, func() { p.park(ex) })
	}
}

// inputTarget is the newest request in flight that may take input (not
// parked waiting for its retry): stdio does not say which request a server
// request serves.
func (p *mproc) inputTarget() *exchange {
	var best *exchange
	for _, ex := range p.inflightNow() {
		ex.mu.Lock()
		ok := ex.input != nil && ex.st != nil
		ex.mu.Unlock()
		if ok && (best == nil || ex.started.After(best.started)) {
			best = ex
		}
	}
	return best
}

func (in *inputState) keyFor(msg *mcp.Message) string {
	var key string
	_ = json.Unmarshal(mcp.Lookup(msg.Params, "_meta", api.MetaInputKey), &key)
	if key == "" {
		if in.seq == nil {
			in.seq = map[string]int{}
		}
		kind := inputMethods[msg.Method]
		in.seq[kind]++
		key = kind + "-" + strconv.Itoa(in.seq[kind])
	}
	for slices.ContainsFunc(in.pending, func(r *serverRequest) bool { return r.key == key }) {
		key += "'"
	}
	return key
}

// missingCapability ends ex with -32021: processing it needs a capability
// the client did not declare.
func (p *mproc) missingCapability(ex *exchange, msg *mcp.Message, capability string) {
	p.replyError(msg.ID, mcp.CodeInvalidRequest, "the client did not declare the "+capability+" capability")
	p.cancel(ex, "the client lacks a capability the server needs")
	data := map[string]any{"requiredCapabilities": map[string]any{capability: map[string]any{}}}
	_, id := ex.front()
	ex.end(mcp.ErrorResponse(id, api.CodeMissingRequiredClientCapability,
		"Missing required client capability: "+capability, data))
}

// park answers the front with the gathered input requests and keeps the
// legacy request waiting for the retry (at most MRTRTimeout).
func (p *mproc) park(ex *exchange) {
	ex.mu.Lock()
	if ex.st == nil || len(ex.input.pending) == 0 {
		ex.mu.Unlock()
		return
	}
	if ex.handle == "" {
		ex.handle = newHandle()
	}
	ex.input.round++
	state := p.m.states.sign(stateClaims{Handle: ex.handle, Caller: shortHash(p.key), Method: ex.method, Name: ex.name,
		Round: ex.input.round, Expires: time.Now().Add(p.m.cfg.MRTRTimeout).Unix()})
	reqs := map[string]any{}
	for _, r := range ex.input.pending {
		reqs[r.key] = map[string]json.RawMessage{"method": json.RawMessage(strconv.Quote(r.method)), "params": r.params}
	}
	result, _ := json.Marshal(map[string]any{"resultType": "input_required", "inputRequests": reqs, "requestState": state})
	st, id := ex.st, ex.clientID
	p.log.Debug("input required", "name", ex.name, "requests", len(ex.input.pending), "round", ex.input.round)
	ex.st, ex.input.given = nil, nil
	ex.input.timer = time.AfterFunc(p.m.cfg.MRTRTimeout, func() { p.expire(ex) })
	ex.mu.Unlock()
	p.mu.Lock()
	p.parked[ex.handle] = ex
	p.mu.Unlock()
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  json.RawMessage `json:"result"`
	}{"2.0", id, result})
	st.push(b, true)
}

// expire ends a parked exchange whose retry never came.
func (p *mproc) expire(ex *exchange) {
	p.mu.Lock()
	if p.parked[ex.handle] != ex {
		p.mu.Unlock()
		return
	}
	delete(p.parked, ex.handle)
	p.mu.Unlock()
	ex.mu.Lock()
	pending := ex.input.pending
	ex.input.pending = nil
	ex.mu.Unlock()
	for _, r := range pending {
		p.replyError(r.id, mcp.CodeInternalError, "the client did not provide the requested input in time")
	}
	p.cancel(ex, "no retry with the requested input")
	p.log.Info("input-required request expired without a retry", "method", ex.method)
}

// resume continues a parked exchange with the retry's input. The retry
// becomes the exchange's front before the server gets the answers: the
// legacy request may complete at once.
func (p *mproc) resume(w http.ResponseWriter, r *http.Request, msg *mcp.Message, meta mcp.RequestMeta, jsonOK, sseOK bool) {
	ex, v := p.retryTarget(msg)
	var given map[string]json.RawMessage
	if v == nil {
		if given, v = inputResponses(msg.Params); v == nil {
			v = p.checkAnswers(ex, given)
		}
	}
	if v != nil {
		p.m.jsonRPCError(w, http.StatusOK, v.Response(msg.ID))
		return
	}
	st := newStream(1, 1, sseOK)
	ex.mu.Lock()
	ex.clientID, ex.st, ex.meta = msg.ID, st, meta
	ex.mu.Unlock()
	if missing := p.answerPending(ex, given); missing {
		p.park(ex) // ask again for what the retry left out
	}
	p.m.serveModern(w, r, ex, st, jsonOK, sseOK)
}

// retryTarget finds the parked exchange a retry's requestState names.
func (p *mproc) retryTarget(msg *mcp.Message) (*exchange, *mcp.Violation) {
	var state string
	_ = json.Unmarshal(mcp.Lookup(msg.Params, "requestState"), &state)
	c, v := p.m.states.verify(state)
	if v != nil {
		return nil, v
	}
	if c.Caller != shortHash(p.key) || c.Method != msg.Method || c.Name != mcp.Name(msg) {
		return nil, invalidState("requestState belongs to another request")
	}
	p.mu.Lock()
	ex := p.parked[c.Handle]
	if ex != nil {
		delete(p.parked, c.Handle)
	}
	p.mu.Unlock()
	if ex == nil {
		return nil, invalidState("the request this requestState belongs to has ended (no retry in time, or its server process ended): repeat the original request without requestState")
	}
	ex.mu.Lock()
	if ex.input.timer != nil {
		ex.input.timer.Stop()
		ex.input.timer = nil
	}
	ex.mu.Unlock()
	return ex, nil
}

// checkAnswers refuses a retry whose answers do not have the shape of the
// requests they answer; the exchange then stays parked for a correct one.
func (p *mproc) checkAnswers(ex *exchange, given map[string]json.RawMessage) *mcp.Violation {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, r := range ex.input.pending {
		if ans, ok := given[r.key]; ok && !validInputResponse(r.method, ans) {
			p.mu.Lock()
			p.parked[ex.handle] = ex
			p.mu.Unlock()
			ex.input.timer = time.AfterFunc(p.m.cfg.MRTRTimeout, func() { p.expire(ex) })
			return &mcp.Violation{Code: mcp.CodeInvalidParams, Message: fmt.Sprintf("Invalid params: inputResponses[%q] is not a valid result of %s", r.key, r.method)}
		}
	}
	return nil
}

// answerPending sends the retry's answers to the waiting server requests
// and reports whether some are still unanswered.
func (p *mproc) answerPending(ex *exchange, given map[string]json.RawMessage) bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	kept := ex.input.pending[:0]
	for _, r := range ex.input.pending {
		if ans, ok := given[r.key]; ok {
			p.reply(r.id, ans)
			continue
		}
		kept = append(kept, r)
	}
	ex.input.pending = kept
	return len(kept) > 0
}

// inputResponses reads params.inputResponses (absent: none).
func inputResponses(params json.RawMessage) (map[string]json.RawMessage, *mcp.Violation) {
	raw := mcp.Lookup(params, "inputResponses")
	if len(raw) == 0 {
		return nil, nil
	}
	var given map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &given) != nil {
		return nil, &mcp.Violation{Status: http.StatusOK, Code: mcp.CodeInvalidParams, Message: "Invalid params: inputResponses must be an object"}
	}
	return given, nil
}

// validInputResponse checks the shape of a client's answer to method.
func validInputResponse(method string, ans json.RawMessage) bool {
	if len(ans) == 0 || ans[0] != '{' {
		return false
	}
	switch method {
	case api.MethodElicit:
		var a struct {
			Action string `json:"action"`
		}
		return json.Unmarshal(ans, &a) == nil && slices.Contains([]string{"accept", "decline", "cancel"}, a.Action)
	case api.MethodCreateMessage:
		return len(mcp.Lookup(ans, "role")) > 0 && len(mcp.Lookup(ans, "content")) > 0
	case api.MethodRootsList:
		roots := mcp.Lookup(ans, "roots")
		return len(roots) > 0 && roots[0] == '['
	}
	return false
}

func invalidState(msg string) *mcp.Violation {
	return &mcp.Violation{Status: http.StatusOK, Code: mcp.CodeInvalidParams, Message: "Invalid params: " + msg}
}
