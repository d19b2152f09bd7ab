package stdio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// A legacy stdio server behind a modern client: the sidecar performs the
// initialize handshake itself (with the capabilities the client declares),
// then forwards each stateless request, and turns what comes back into the
// 2026-07-28 shapes: resultType on every result, caching hints on list and
// read results, serverInfo in _meta, the new resource-not-found code; the
// per-request log level set on the server; server requests turned into
// InputRequiredResults (mrtr.go) and list_changed notifications into
// subscriptions (listen.go).

// cacheableMethods return a CacheableResult (ttlMs, cacheScope).
var cacheableMethods = []string{api.MethodToolsList, api.MethodPromptsList, api.MethodResourcesList, api.MethodResourcesRead, api.MethodResourceTemplatesList}

// codeLegacyResourceNotFound is 2025-11-25's resource-not-found code,
// -32602 (Invalid params) since 2026-07-28.
const codeLegacyResourceNotFound = -32002

// initialize performs the legacy handshake for modern clients.
func (p *mproc) initialize(ctx context.Context, meta mcp.RequestMeta) error {
	caps := map[string]json.RawMessage{}
	for _, c := range inputCapabilities {
		if v := mcp.Lookup(meta.ClientCapabilities, c); len(v) > 0 {
			caps[c] = v
		}
	}
	info := meta.ClientInfo
	if len(info) == 0 {
		info = json.RawMessage(`{"name":"mcp-transport","version":"1"}`)
	}
	req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 0, "method": api.MethodInitialize,
		"params": map[string]any{"protocolVersion": mcp.LatestVersion, "capabilities": caps, "clientInfo": info}})
	st := newStream(1, 1, false)
	ex := &exchange{p: p, method: api.MethodInitialize, clientID: json.RawMessage(`0`), st: st}
	if err := p.send(ex, req); err != nil {
		return err
	}
	for {
		evs, done, changed := st.after(0)
		if done {
			res := mcp.Lookup(evs[len(evs)-1].data, "result")
			if len(res) == 0 {
				return fmt.Errorf("the server refused initialize")
			}
			p.init = res
			return p.conn.write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			p.cancel(ex, "initialize timed out")
			return fmt.Errorf("no initialize answer: %w", ctx.Err())
		}
	}
}

// serveTranslated is the request path of a legacy server's process.
func (p *mproc) serveTranslated(w http.ResponseWriter, r *http.Request, msg *mcp.Message, meta mcp.RequestMeta, jsonOK, sseOK bool) {
	switch {
	case msg.Method == api.MethodSubscriptionsListen:
		p.serveListen(w, r, msg, meta, sseOK)
		return
	case len(mcp.Lookup(msg.Params, "requestState")) > 0 && isMRTRMethod(msg.Method):
		p.resume(w, r, msg, meta, jsonOK, sseOK)
		return
	}
	ex := newExchange(p, msg, meta, sseOK)
	raw := msg.Raw
	if isMRTRMethod(msg.Method) {
		given, v := inputResponses(msg.Params)
		if v != nil {
			p.m.jsonRPCError(w, v.Status, v.Response(msg.ID))
			return
		}
		ex.input = &inputState{given: given}
		raw, _ = mcp.Delete(raw, "params", "inputResponses")
	}
	p.ensureLogLevel(meta.LogLevel)
	p.m.forwardModern(w, r, p, ex, raw, jsonOK, sseOK)
}

// ensureLogLevel makes the server log at least as verbosely as a request
// asks (the level is per request now, per session before); messages are
// then filtered per request (mproc.logTarget).
func (p *mproc) ensureLogLevel(level string) {
	if level == "" || len(mcp.Lookup(p.init, "capabilities", "logging")) == 0 {
		return
	}
	lv := logLevelIndex(level)
	p.mu.Lock()
	if p.level >= 0 && p.level <= lv {
		p.mu.Unlock()
		return
	}
	p.level = lv
	p.nextID++
	id := strconv.FormatInt(p.nextID, 10) // no exchange has it: the answer is dropped
	p.mu.Unlock()
	req := []byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"logging/setLevel","params":{"level":"` + level + `"}}`)
	if err := p.conn.write(req); err != nil {
		p.log.Debug("setting the log level", "err", err)
	}
}

// decorate turns a legacy answer into its 2026-07-28 form.
func (m *Manager) decorate(raw []byte, ex *exchange, init json.RawMessage) []byte {
	if ex.method == api.MethodInitialize {
		return raw
	}
	if len(mcp.Lookup(raw, "error")) > 0 {
		return resourceNotFound(raw, ex)
	}
	out := raw
	set := func(val string, path ...string) {
		if len(mcp.Lookup(out, path...)) == 0 {
			if b, err := mcp.Set(out, []byte(val), path...); err == nil {
				out = b
			}
		}
	}
	set(`"complete"`, "result", "resultType")
	if slices.Contains(cacheableMethods, ex.method) {
		set(strconv.FormatInt(m.cfg.CacheTTL.Milliseconds(), 10), "result", "ttlMs")
		// Per-caller processes may answer per caller: never for shared caches.
		set(`"private"`, "result", "cacheScope")
	}
	if si := mcp.Lookup(init, "serverInfo"); len(si) > 0 {
		set(string(si), "result", "_meta", api.MetaServerInfo)
	}
	return out
}

// resourceNotFound renumbers the legacy resource-not-found error and names
// the URI, as 2026-07-28 prescribes.
func resourceNotFound(raw []byte, ex *exchange) []byte {
	if !bytes.Equal(mcp.Lookup(raw, "error", "code"), []byte(strconv.Itoa(codeLegacyResourceNotFound))) {
		return raw
	}
	out, err := mcp.Set(raw, []byte(strconv.Itoa(mcp.CodeInvalidParams)), "error", "code")
	if err != nil {
		return raw
	}
	if ex.method == api.MethodResourcesRead && len(mcp.Lookup(out, "error", "data", "uri")) == 0 {
		uri, _ := json.Marshal(ex.name)
		if b, err := mcp.Set(out, uri, "error", "data", "uri"); err == nil {
			out = b
		}
	}
	return out
}

// discoverFor is the DiscoverResult the sidecar serves: a modern server's
// own (restricted to versions the sidecar can serve), or one built from a
// legacy server's initialize result.
func (m *Manager) discoverFor(info *eraInfo) json.RawMessage {
	if info.modern {
		return servableDiscover(info.discover)
	}
	init := info.legacyInit
	caps := map[string]json.RawMessage{}
	_ = json.Unmarshal(mcp.Lookup(init, "capabilities"), &caps)
	delete(caps, "tasks") // the legacy tasks shape is not the 2026 extension
	res := map[string]any{
		"resultType": "complete", "ttlMs": m.cfg.CacheTTL.Milliseconds(), "cacheScope": "public",
		"supportedVersions": legacyServable(init), "capabilities": caps,
	}
	if v := mcp.Lookup(init, "instructions"); len(v) > 0 {
		res["instructions"] = json.RawMessage(v)
	}
	if v := mcp.Lookup(init, "serverInfo"); len(v) > 0 {
		res["_meta"] = map[string]json.RawMessage{api.MetaServerInfo: v}
	}
	b, _ := json.Marshal(res)
	return b
}

// legacyServable: modern revisions (through translation) and the legacy
// revision the server negotiated with the sidecar (legacy clients bring
// their own; the server decides for them).
func legacyServable(init json.RawMessage) []string {
	out := mcp.ModernVersions()
	var v string
	if json.Unmarshal(mcp.Lookup(init, "protocolVersion"), &v) == nil && mcp.IsSupportedVersion(v) {
		out = append(out, v)
	}
	return out
}

// servableDiscover keeps the versions of a modern server's answer that the
// sidecar also speaks.
func servableDiscover(res json.RawMessage) json.RawMessage {
	var versions []string
	if json.Unmarshal(mcp.Lookup(res, "supportedVersions"), &versions) != nil {
		return nil
	}
	kept := slices.DeleteFunc(versions, func(v string) bool { return !mcp.IsModernVersion(v) && !mcp.IsSupportedVersion(v) })
	b, _ := json.Marshal(kept)
	out, err := mcp.Set(res, b, "supportedVersions")
	if err != nil {
		return nil
	}
	return out
}
