package virtual

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Most members speak 2026-07-28 whatever they are: the sidecar of a stdio
// server translates. A streamable-http server is proxied as it is, and one
// that speaks only the session revisions answers server/discover with an
// error (-32022, or -32601). Such a member is reached in a session of this
// replica's own — opened when first needed, per member and caller (the
// proxy binds a session to its caller), kept for sessionIdle, opened again
// when the member forgets it — and its answers are given the 2026-07-28
// form. The gateway declares no client capabilities in that session, so the
// member sends no server requests (one that does gets an error); and no GET
// stream is kept, so its own list changes are not relayed (pods that come
// and go, and definition changes, still are).

const (
	maxMemberSessions = 10000
	sessionIdle       = 10 * time.Minute
)

// memberSessions are this replica's sessions with legacy members.
type memberSessions struct {
	mu  sync.Mutex
	lru *cache.LRUExpireCache
}

type memberSession struct {
	ready   chan struct{}
	id      string // the gateway's session id for the member (the proxy's)
	version string
	result  json.RawMessage // the member's initialize result
	err     error
}

func newMemberSessions() *memberSessions {
	return &memberSessions{lru: cache.NewLRUExpireCache(maxMemberSessions)}
}

// isLegacy reports whether member m speaks only the session revisions, as
// far as this replica knows (asking its discovery when it does not).
func (v *Virtual) isLegacy(c *call, m *Member) bool {
	if legacy, known := v.cache.era(c.q.s.Namespace, m.Server); known {
		return legacy
	}
	ctx, cancel := context.WithTimeout(c.q.r.Context(), v.opts.ListTimeout)
	defer cancel()
	answer, status, err := v.modernCall(ctx, c, m, api.MethodDiscover, []byte(`{"_meta":`+string(c.metaJSON())+`}`))
	if err != nil || status == http.StatusServiceUnavailable {
		return false // unknown: the request itself says what is wrong
	}
	legacy := !speaksModern(answer)
	v.cache.setEra(c.q.s.Namespace, m.Server, legacy)
	return legacy
}

// speaksModern reports whether a DiscoverResult lists 2026-07-28.
func speaksModern(answer *mcp.Message) bool {
	var res struct {
		Versions []string `json:"supportedVersions"`
	}
	return !answer.IsError && json.Unmarshal(mcp.Lookup(answer.Raw, "result"), &res) == nil &&
		slices.ContainsFunc(res.Versions, mcp.IsModernVersion)
}

// session returns this replica's session with legacy member m for the
// caller, opening it if needed.
func (v *Virtual) session(ctx context.Context, c *call, m *Member) (*memberSession, error) {
	key := c.q.s.Namespace + "/" + m.Server + "\x00" + caller(c.q.r)
	v.memberSessions.mu.Lock()
	x, ok := v.memberSessions.lru.Get(key)
	if !ok {
		x = &memberSession{ready: make(chan struct{})}
		v.memberSessions.lru.Add(key, x, sessionIdle)
	}
	v.memberSessions.mu.Unlock()
	ms := x.(*memberSession)
	if !ok {
		ms.err = v.openSession(ctx, c, m, ms)
		if ms.err != nil {
			v.memberSessions.lru.Remove(key)
		}
		close(ms.ready)
	}
	select {
	case <-ms.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return ms, ms.err
}

func (v *Virtual) forgetSession(c *call, m *Member) {
	v.memberSessions.lru.Remove(c.q.s.Namespace + "/" + m.Server + "\x00" + caller(c.q.r))
}

func caller(r *http.Request) string {
	if u := auth.UserFrom(r.Context()); u != nil {
		return u.Name
	}
	return ""
}

// openSession: initialize (no client capabilities: the gateway could not
// answer a member's server requests), then notifications/initialized.
func (v *Virtual) openSession(ctx context.Context, c *call, m *Member, ms *memberSession) error {
	info := orEmpty(c.meta.ClientInfo)
	if len(c.meta.ClientInfo) == 0 {
		info = []byte(`{"name":"mcp-gateway","version":` + strconv.Quote(v.opts.Version) + `}`)
	}
	id := json.RawMessage(`"virtual-initialize"`)
	body := rpcBody(id, api.MethodInitialize, []byte(`{"protocolVersion":"`+mcp.LatestVersion+`","capabilities":{},"clientInfo":`+string(info)+`}`))
	resp := roundTrip(v.opts.Members, legacyRequest(ctx, c, m, "", mcp.LatestVersion, body))
	sid := resp.Header.Get(api.HeaderSessionID)
	answer, err := readAnswer(resp, id, nil)
	switch {
	case err != nil:
		return fmt.Errorf("initialize: %w", err)
	case answer.IsError:
		return fmt.Errorf("initialize: %s", mcp.Lookup(answer.Raw, "error"))
	}
	ms.id, ms.result = sid, mcp.Lookup(answer.Raw, "result")
	if ms.version = mcp.InitializeVersion(answer.Raw); ms.version == "" {
		ms.version = mcp.LatestVersion
	}
	done := roundTrip(v.opts.Members, legacyRequest(ctx, c, m, sid, ms.version, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)))
	_ = done.Body.Close()
	return nil
}

// legacyRequest is memberRequest in the session revisions: the member's
// session (the proxy's id) and its revision, no 2026-07-28 headers.
func legacyRequest(ctx context.Context, c *call, m *Member, sid, version string, body []byte) *http.Request {
	out := memberRequest(ctx, c.q.r, c.q.s, m, "", "", body)
	for _, h := range []string{api.HeaderMethod, api.HeaderName} {
		out.Header.Del(h)
	}
	out.Header.Set(api.HeaderProtocolVersion, version)
	if sid != "" {
		out.Header.Set(api.HeaderSessionID, sid)
	}
	return out
}

// sendLegacy sends a request (its 2026-07-28 form) to legacy member m in
// this replica's session, opened again once when the member has lost it.
func (v *Virtual) sendLegacy(ctx context.Context, c *call, m *Member, body []byte) (*http.Response, error) {
	body = legacyBody(body)
	for attempt := 0; ; attempt++ {
		ms, err := v.session(ctx, c, m)
		if err != nil {
			return nil, fmt.Errorf("member %s speaks only the session revisions and its session could not be opened: %w", m.Server, err)
		}
		resp := roundTrip(v.opts.Members, legacyRequest(ctx, c, m, ms.id, ms.version, body))
		if resp.StatusCode != http.StatusNotFound || attempt > 0 || ms.id == "" {
			return resp, nil
		}
		_ = resp.Body.Close()
		v.forgetSession(c, m)
	}
}

// legacyBody drops the 2026-07-28 metadata a session-revision server does
// not know (a progress token and other _meta stay).
func legacyBody(body []byte) []byte {
	for _, k := range []string{api.MetaProtocolVersion, api.MetaClientCapabilities, api.MetaClientInfo, api.MetaLogLevel} {
		if out, err := mcp.Delete(body, "params", "_meta", k); err == nil {
			body = out
		}
	}
	return body
}

// modernAnswer gives a legacy member's final answer the 2026-07-28 form.
func modernAnswer(raw []byte) []byte {
	if len(mcp.Lookup(raw, "result")) == 0 || len(mcp.Lookup(raw, "result", "resultType")) > 0 {
		return raw
	}
	if out, err := mcp.Set(raw, []byte(`"complete"`), "result", "resultType"); err == nil {
		return out
	}
	return raw
}

// refuseRequest answers a legacy member's server request in its session:
// the gateway declared no client capabilities.
func (v *Virtual) refuseRequest(ctx context.Context, c *call, m *Member, req *mcp.Message) {
	ms, err := v.session(ctx, c, m)
	if err != nil {
		return
	}
	body := mcp.ErrorResponse(req.ID, mcp.CodeMethodNotFound, "not available to a server behind a virtual server", nil)
	resp := roundTrip(v.opts.Members, legacyRequest(ctx, c, m, ms.id, ms.version, body))
	_ = resp.Body.Close()
}

// send sends one request (its 2026-07-28 form) to member m in the member's
// era and returns the response, whose body streams.
func (v *Virtual) send(ctx context.Context, c *call, m *Member, method, name string, body []byte) (*http.Response, bool, error) {
	if v.isLegacy(c, m) {
		resp, err := v.sendLegacy(ctx, c, m, body)
		return resp, true, err
	}
	return roundTrip(v.opts.Members, memberRequest(ctx, c.q.r, c.q.s, m, method, name, body)), false, nil
}

// answerOf reads the response to id from a member, its notifications to
// each; a legacy member's server requests are refused and its answer given
// the 2026-07-28 form.
func (v *Virtual) answerOf(ctx context.Context, c *call, m *Member, resp *http.Response, legacy bool, id json.RawMessage, each func(*mcp.Message)) (*mcp.Message, error) {
	defer resp.Body.Close()
	ms, err := newMessages(resp)
	if err != nil {
		return nil, err
	}
	if legacy {
		ms.requests = func(req *mcp.Message) { v.refuseRequest(ctx, c, m, req) }
	}
	answer, err := ms.answer(id, each)
	if err != nil || !legacy {
		return answer, err
	}
	return mcp.DecodeOne(modernAnswer(answer.Raw))
}

// forwardLegacy is forward for a legacy member: its answer, in the
// 2026-07-28 form, on an event stream.
func (v *Virtual) forwardLegacy(w *httprec.Recorder, c *call, m *Member, body []byte) {
	ctx := c.q.r.Context()
	resp, err := v.sendLegacy(ctx, c, m, body)
	if err != nil {
		writeError(w, http.StatusOK, c.q.msg.ID, api.CodeServerError, err.Error(), nil)
		return
	}
	var sse *sseWriter
	answer, err := v.answerOf(ctx, c, m, resp, true, c.q.msg.ID, func(n *mcp.Message) {
		if sse == nil {
			sse = newSSE(w, http.StatusOK)
		}
		_ = sse.send(n.Raw)
	})
	v.metrics.routed(c.q.s, m, c.q.method, resp.StatusCode)
	switch {
	case err != nil:
		answer, _ = mcp.DecodeOne(mcp.ErrorResponse(c.q.msg.ID, api.CodeServerError, fmt.Sprintf("member %s: %v", m.Server, err), nil))
	case sse == nil:
		writeJSON(w, http.StatusOK, answer.Raw)
		return
	}
	if sse == nil {
		sse = newSSE(w, http.StatusOK)
	}
	_ = sse.send(answer.Raw)
}

// discoverLegacy is a legacy member's DiscoverResult, made of its
// initialize result in this replica's session.
func (v *Virtual) discoverLegacy(ctx context.Context, c *call, m *Member) json.RawMessage {
	ms, err := v.session(ctx, c, m)
	if err != nil {
		return nil
	}
	res, _ := json.Marshal(map[string]any{"supportedVersions": []string{ms.version},
		"capabilities": json.RawMessage(orEmpty(mcp.Lookup(ms.result, "capabilities")))})
	return res
}
