package virtual

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Bounds of a legacy request's multi-round exchange.
const (
	maxRounds  = 16
	answerWait = 5 * time.Minute
)

// exchange serves a legacy tools/call, prompts/get, resources/read or
// completion/complete: sent to its member in 2026-07-28, answered on an
// event stream. The member's notifications (progress, logs) pass through;
// an InputRequiredResult becomes server requests on the stream, as a
// legacy server would send them, and once the client has answered them
// all the request is sent again with the answers and the member's state.
func (lc *legacyCall) exchange(w *httprec.Recorder) {
	c, err := lc.modernCall()
	if err != nil {
		lc.reply(w, nil, &rpcError{code: mcp.CodeInvalidParams, msg: "Invalid params: " + err.Error()})
		return
	}
	m, name, body, e := lc.v.target(c)
	if e != nil {
		lc.reply(w, nil, e)
		return
	}
	sse := newSSE(w, http.StatusOK)
	clientID := lc.q.msg.ID
	for round := range maxRounds {
		// The member's id differs per round, as a retry's must.
		id := json.RawMessage(strconv.Quote("virtual-" + strconv.Itoa(round)))
		body, _ = mcp.Set(body, id, "id")
		answer, owner, err := lc.round(c, m, name, body, id, sse)
		switch {
		case err != nil:
			_ = sse.send(mcp.ErrorResponse(clientID, api.CodeServerError, err.Error(), nil))
			return
		case answer == nil:
			_ = sse.send(mcp.ErrorResponse(clientID, mcp.CodeInvalidParams, "Resource not found", map[string]string{"uri": name}))
			return
		case string(mcp.Lookup(answer.Raw, "result", "resultType")) != `"input_required"`:
			_ = sse.send(legacyAnswer(answer.Raw, clientID))
			return
		}
		m = owner
		if body, err = lc.retry(sse, body, answer); err != nil {
			_ = sse.send(mcp.ErrorResponse(clientID, api.CodeServerError, err.Error(), nil))
			return
		}
	}
	_ = sse.send(mcp.ErrorResponse(clientID, api.CodeServerError, fmt.Sprintf("more than %d rounds of input", maxRounds), nil))
}

// modernCall is the call with the session's request in 2026-07-28 form:
// its params._meta carries what the session negotiated.
func (lc *legacyCall) modernCall() (*call, error) {
	c := lc.call()
	raw := lc.q.msg.Raw
	var meta map[string]json.RawMessage
	_ = json.Unmarshal(c.metaJSON(), &meta)
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var err error
		if raw, err = mcp.Set(raw, meta[k], "params", "_meta", k); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
	}
	msg, err := mcp.DecodeOne(raw)
	if err != nil {
		return nil, err
	}
	q := *lc.q
	q.msg = msg
	c.q = &q
	return c, nil
}

// round sends one round to member m (nil: find the resource's member by
// asking each), relaying its notifications; nil answer: no member has the
// resource.
func (lc *legacyCall) round(c *call, m *Member, name string, body, id json.RawMessage, sse *sseWriter) (*mcp.Message, *Member, error) {
	if m == nil {
		answer, owner := lc.v.probeRead(c, body, id)
		return answer, owner, nil
	}
	ctx := c.q.r.Context()
	resp, legacy, err := lc.v.send(ctx, c, m, c.q.method, name, body)
	if err != nil {
		return nil, m, err
	}
	answer, err := lc.v.answerOf(ctx, c, m, resp, legacy, id, func(n *mcp.Message) { _ = sse.send(n.Raw) })
	lc.v.metrics.routed(c.q.s, m, c.q.method, resp.StatusCode)
	if err != nil {
		return nil, m, fmt.Errorf("member %s of virtual server %s: %w", m.Server, c.q.s.Key(), err)
	}
	return answer, m, nil
}

// legacyAnswer is a member's final answer as a legacy client gets it: the
// client's id, no resultType.
func legacyAnswer(raw []byte, id json.RawMessage) []byte {
	out, err := mcp.Set(raw, id, "id")
	if err != nil {
		return raw
	}
	if stripped, err := mcp.Delete(out, "result", "resultType"); err == nil {
		out = stripped
	}
	return out
}

// retry asks the client the InputRequiredResult's requests and returns the
// request to send again: with inputResponses and the member's state.
func (lc *legacyCall) retry(sse *sseWriter, body []byte, answer *mcp.Message) ([]byte, error) {
	res := mcp.Lookup(answer.Raw, "result")
	answers, err := lc.ask(sse, mcp.Lookup(res, "inputRequests"))
	if err != nil {
		return nil, err
	}
	body, _ = mcp.Delete(body, "params", "inputResponses")
	body, _ = mcp.Delete(body, "params", "requestState")
	if len(answers) > 0 {
		a, _ := json.Marshal(answers)
		body, _ = mcp.Set(body, a, "params", "inputResponses")
	}
	if st := mcp.Lookup(res, "requestState"); len(st) > 0 {
		body, _ = mcp.Set(body, st, "params", "requestState")
	}
	return body, nil
}

// ask sends each input request to the client as a server request on the
// stream and waits for all the answers (see waiters). An error answer is
// left out: the member asks again or fails the request.
func (lc *legacyCall) ask(sse *sseWriter, requests []byte) (map[string]json.RawMessage, error) {
	var reqs map[string]struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	_ = json.Unmarshal(requests, &reqs)
	keys := make([]string, 0, len(reqs))
	for k := range reqs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ids := make([]string, len(keys))
	chans := make([]chan json.RawMessage, len(keys))
	for i, k := range keys {
		id, wt := lc.v.waits.add(lc.v.opts.Codec, lc.sid)
		defer lc.v.waits.remove(id)
		ids[i], chans[i] = id, wt.ch
		q, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": reqs[k].Method, "params": reqs[k].Params})
		if err := sse.send(q); err != nil {
			return nil, err
		}
	}
	return lc.collect(keys, chans)
}

func (lc *legacyCall) collect(keys []string, chans []chan json.RawMessage) (map[string]json.RawMessage, error) {
	ctx := lc.q.r.Context()
	t := time.NewTimer(answerWait)
	defer t.Stop()
	out := map[string]json.RawMessage{}
	for i, ch := range chans {
		select {
		case msg := <-ch:
			if res := mcp.Lookup(msg, "result"); len(res) > 0 {
				out[keys[i]] = res
			}
		case <-t.C:
			return nil, fmt.Errorf("the client did not answer %s within %s", keys[i], answerWait)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// answered takes a client's answer to a server request: to the request
// waiting here, or to the replica that asked.
func (lc *legacyCall) answered(w *httprec.Recorder) {
	var id string
	_ = json.Unmarshal(lc.q.msg.ID, &id)
	peer, delivered := lc.v.waits.route(lc.v.opts.Codec, lc.sid, id, lc.q.msg.Raw)
	if !delivered && peer != "" && lc.q.r.Header.Get(api.HeaderVirtualForwarded) == "" {
		lc.v.forwardAnswer(lc.q, peer)
	}
	w.WriteHeader(http.StatusAccepted)
}

// forwardAnswer sends the client's answer on to the replica at peer: the
// same request (its token too: the peer is this gateway, and checks it as
// any request), marked so that it is never forwarded again.
func (v *Virtual) forwardAnswer(q *request, peer string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(q.r.Context()), 5*time.Second)
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+peer+q.r.URL.Path, bytes.NewReader(q.body))
	if err != nil {
		return
	}
	for _, k := range []string{"Authorization", "Content-Type", "Accept", api.HeaderSessionID, api.HeaderProtocolVersion} {
		if vs := q.r.Header.Values(k); len(vs) > 0 {
			out.Header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	out.Header.Set(api.HeaderVirtualForwarded, "1")
	rt := v.opts.PeerTransport
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(out)
	if err != nil {
		v.opts.Log.Warn("forwarding an answer to the replica that asked failed", "peer", peer, "error", err.Error())
		return
	}
	_ = resp.Body.Close()
}

// contextUntil is ctx, also cancelled when ch closes.
func contextUntil(ctx context.Context, ch <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
