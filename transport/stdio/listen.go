package stdio

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// subscriptions/listen (2026-07-28) replaces the GET stream and
// resources/subscribe: one long-lived response stream per subscription
// carrying the change notifications the client opted into, each tagged with
// the subscription's id (the listen request's id). A modern server does it
// itself (ids mapped back here); for a legacy server the sidecar serves the
// stream from the server's list_changed notifications and its own
// resources/subscribe calls.

// listenFilter is the notifications filter of a listen request.
type listenFilter struct {
	ToolsListChanged      bool     `json:"toolsListChanged,omitempty"`
	PromptsListChanged    bool     `json:"promptsListChanged,omitempty"`
	ResourcesListChanged  bool     `json:"resourcesListChanged,omitempty"`
	ResourceSubscriptions []string `json:"resourceSubscriptions,omitempty"`
}

// wants reports whether the filter takes a notification.
func (f *listenFilter) wants(method string, params json.RawMessage) bool {
	switch method {
	case api.MethodToolsListChanged:
		return f.ToolsListChanged
	case api.MethodPromptsListChanged:
		return f.PromptsListChanged
	case api.MethodResourcesListChanged:
		return f.ResourcesListChanged
	case api.MethodResourcesUpdated:
		var p struct {
			URI string `json:"uri"`
		}
		return json.Unmarshal(params, &p) == nil && slices.Contains(f.ResourceSubscriptions, p.URI)
	}
	return false
}

// agreed keeps what a legacy server's capabilities can deliver.
func agreed(want listenFilter, init json.RawMessage) listenFilter {
	can := func(path ...string) bool {
		return string(mcp.Lookup(init, append([]string{"capabilities"}, path...)...)) == "true"
	}
	var out listenFilter
	out.ToolsListChanged = want.ToolsListChanged && can("tools", "listChanged")
	out.PromptsListChanged = want.PromptsListChanged && can("prompts", "listChanged")
	out.ResourcesListChanged = want.ResourcesListChanged && can("resources", "listChanged")
	if can("resources", "subscribe") {
		out.ResourceSubscriptions = want.ResourceSubscriptions
	}
	return out
}

// serveListen opens a subscription served by the sidecar (legacy server).
func (p *mproc) serveListen(w http.ResponseWriter, r *http.Request, msg *mcp.Message, meta mcp.RequestMeta, sseOK bool) {
	var want listenFilter
	if raw := mcp.Lookup(msg.Params, "notifications"); len(raw) > 0 && json.Unmarshal(raw, &want) != nil {
		p.m.jsonRPCError(w, http.StatusOK, mcp.ErrorResponse(msg.ID, mcp.CodeInvalidParams, "Invalid params: notifications must be a filter object", nil))
		return
	}
	if !sseOK {
		p.m.httpError(w, http.StatusNotAcceptable, "subscriptions/listen answers with text/event-stream")
		return
	}
	f := agreed(want, p.init)
	ex := newExchange(p, msg, meta, true)
	st := ex.st.(*stream)
	ex.listen = &f
	p.mu.Lock()
	p.listens[ex] = true
	p.lastUsed = time.Now()
	p.mu.Unlock()
	ack := notice(api.MethodSubscriptionsAcknowledged, map[string]any{
		"_meta": map[string]json.RawMessage{api.MetaSubscriptionID: msg.ID}, "notifications": f})
	ex.notify(ack)
	p.subscribe(f.ResourceSubscriptions)
	p.m.serveModern(w, r, ex, st, false, true)
}

// subscribe asks a legacy server for updates of uris nobody here follows yet.
func (p *mproc) subscribe(uris []string) {
	for _, uri := range uris {
		p.mu.Lock()
		p.subs[uri]++
		first := p.subs[uri] == 1
		p.mu.Unlock()
		if first {
			p.sidecarRequest(api.MethodResourcesSubscribe, map[string]string{"uri": uri})
		}
	}
}

// unsubscribe is the reverse, when a listen stream ends.
func (p *mproc) unsubscribe(ex *exchange) {
	if ex.listen == nil {
		return
	}
	for _, uri := range ex.listen.ResourceSubscriptions {
		p.mu.Lock()
		p.subs[uri]--
		last := p.subs[uri] <= 0
		if last {
			delete(p.subs, uri)
		}
		p.mu.Unlock()
		if last {
			p.sidecarRequest(api.MethodResourcesUnsubscribe, map[string]string{"uri": uri})
		}
	}
}

// sidecarRequest sends a request of the sidecar's own; its answer matches
// no exchange and is dropped.
func (p *mproc) sidecarRequest(method string, params any) {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err := p.conn.write(b); err != nil {
		p.log.Debug("sidecar request to the server", "method", method, "err", err)
	}
}

// subscriptionNotice routes a change notification to its listen streams: a
// modern server names the subscription (its stdin id, mapped back to the
// client's); a legacy server's go to every stream that asked for them.
func (p *mproc) subscriptionNotice(msg *mcp.Message) {
	if !p.translate {
		sid := mcp.Lookup(msg.Params, "_meta", api.MetaSubscriptionID)
		p.mu.Lock()
		ex := p.inflight[mcp.IDKey(sid)]
		p.mu.Unlock()
		if ex != nil && ex.listen != nil {
			p.tagged(ex, msg.Raw)
		}
		return
	}
	p.mu.Lock()
	var targets []*exchange
	for ex := range p.listens {
		if ex.listen.wants(msg.Method, msg.Params) {
			targets = append(targets, ex)
		}
	}
	p.mu.Unlock()
	for _, ex := range targets {
		p.tagged(ex, msg.Raw)
	}
}

// tagged delivers raw on ex's stream with its subscription id.
func (p *mproc) tagged(ex *exchange, raw []byte) {
	_, id := ex.front()
	if out, err := mcp.Set(raw, id, "params", "_meta", api.MetaSubscriptionID); err == nil {
		ex.notify(out)
	}
}

// closeListens ends every subscription gracefully (drain, shutdown): the
// response to the listen request, then the end of the stream.
func (p *mproc) closeListens() {
	p.mu.Lock()
	all := make([]*exchange, 0, len(p.listens))
	for ex := range p.listens {
		all = append(all, ex)
	}
	p.mu.Unlock()
	for _, ex := range all {
		_, id := ex.front()
		res, _ := json.Marshal(map[string]any{"resultType": "complete", "_meta": map[string]json.RawMessage{api.MetaSubscriptionID: id}})
		b, _ := json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  json.RawMessage `json:"result"`
		}{"2.0", id, res})
		p.cancel(ex, "the server is shutting down")
		ex.end(b)
	}
}
