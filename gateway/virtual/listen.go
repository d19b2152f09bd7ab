package virtual

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/httprec"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// filter is a subscriptions/listen notification filter.
type filter struct {
	ToolsListChanged      bool     `json:"toolsListChanged,omitempty"`
	PromptsListChanged    bool     `json:"promptsListChanged,omitempty"`
	ResourcesListChanged  bool     `json:"resourcesListChanged,omitempty"`
	ResourceSubscriptions []string `json:"resourceSubscriptions,omitempty"`
}

func (f filter) empty() bool {
	return !f.ToolsListChanged && !f.PromptsListChanged && !f.ResourcesListChanged && len(f.ResourceSubscriptions) == 0
}

// agree is the part of f the virtual server s can deliver: the kinds it
// declares, the URIs some member's assignment allows.
func (f filter) agree(s *Server, cs capSet) filter {
	out := filter{ToolsListChanged: f.ToolsListChanged && cs.tools, PromptsListChanged: f.PromptsListChanged && cs.prompts,
		ResourcesListChanged: f.ResourcesListChanged && cs.resources}
	if !cs.subscribe {
		return out
	}
	for _, uri := range f.ResourceSubscriptions {
		if slices.ContainsFunc(s.Members, func(m *Member) bool { return m.assigns(kindResource) && m.AllowsResource(uri) }) {
			out.ResourceSubscriptions = append(out.ResourceSubscriptions, uri)
		}
	}
	return out
}

// forMember is the part of f member m serves: list changes of what it has
// assigned, and the assigned URIs it owns (or might: owner unknown).
func (v *Virtual) forMember(c *call, f filter, m *Member) filter {
	out := filter{ToolsListChanged: f.ToolsListChanged && m.assigns(kindTool), PromptsListChanged: f.PromptsListChanged && m.assigns(kindPrompt),
		ResourcesListChanged: f.ResourcesListChanged && m.assigns(kindResource)}
	for _, uri := range f.ResourceSubscriptions {
		if owner, _ := v.cache.owner(c.q.s.Namespace, c.q.s.Members, uri); m.AllowsResource(uri) && (owner == nil || owner == m) {
			out.ResourceSubscriptions = append(out.ResourceSubscriptions, uri)
		}
	}
	return out
}

// listen serves a modern subscriptions/listen: the members' listens are
// opened with the parts of the filter each serves and the client is
// acknowledged once they are (or the list timeout passed), then their
// notifications are relayed with the client's subscription id, and the
// virtual server's own list changes are added (see subscription).
func (v *Virtual) listen(w *httprec.Recorder, c *call) {
	var asked filter
	_ = json.Unmarshal(mcp.Lookup(c.q.msg.Params, "notifications"), &asked)
	agreed := asked.agree(c.q.s, v.capabilities(c))
	id := c.q.msg.ID
	sse := newSSE(w, http.StatusOK)
	sub := &subscription{v: v, c: c, f: agreed,
		tag: func(raw []byte) []byte {
			out, err := mcp.Set(raw, id, "params", "_meta", api.MetaSubscriptionID)
			if err != nil {
				return raw
			}
			return out
		},
		send: sse.send}
	sub.ready = func() error {
		ack, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": api.MethodSubscriptionsAcknowledged,
			"params": map[string]any{"_meta": map[string]json.RawMessage{api.MetaSubscriptionID: id}, "notifications": agreed}})
		return sse.send(ack)
	}
	if sub.run(c.q.r.Context()) {
		// The virtual server went away: the graceful end of the stream.
		end, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": map[string]any{"resultType": "complete",
			"_meta": map[string]json.RawMessage{api.MetaSubscriptionID: id}}})
		_ = sse.send(end)
	}
}

// subscription relays the notifications of one client's listen (a modern
// subscriptions/listen, a legacy session's GET stream) from the members,
// plus the list changes the gateway itself sees: the definition changed,
// a member came or went.
type subscription struct {
	v     *Virtual
	c     *call
	f     filter
	tag   func([]byte) []byte // a member's notification as the client gets it
	send  func([]byte) error
	ready func() error // called once the members' listens are open (may be nil)
}

// memberEvent is a member's notification, or (raw nil) its coming or going.
type memberEvent struct {
	m   *Member
	raw []byte
}

// run relays until ctx ends (false) or the virtual server is gone (true).
func (sub *subscription) run(ctx context.Context) bool {
	events := make(chan memberEvent, 64)
	for {
		s := sub.c.q.s
		changed := sub.v.index.Changed(s.Namespace, s.Name)
		mctx, stop := context.WithCancel(ctx)
		acks := sub.openMembers(mctx, events)
		sub.awaitAcks(ctx, acks)
		if sub.ready != nil {
			if sub.ready() != nil {
				stop()
				return false
			}
			sub.ready = nil
		}
		gone, err := sub.relay(ctx, changed, events)
		stop()
		if err != nil || ctx.Err() != nil {
			return false
		}
		if gone {
			return true
		}
	}
}

// relay passes events on until the definition changes (then it says so
// and returns, to be reopened with the new one), the client goes away, or
// a write fails.
func (sub *subscription) relay(ctx context.Context, changed <-chan struct{}, events chan memberEvent) (gone bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case <-changed:
			s := sub.c.q.s
			next := sub.v.index.Lookup(s.Namespace, s.Name)
			if err := sub.listsChanged(nil); err != nil {
				return false, err
			}
			if next == nil || next.Shadowed || !next.Valid() {
				return true, nil
			}
			sub.c.q.s = next
			return false, nil
		case e := <-events:
			if e.m.Index >= len(sub.c.q.s.Members) || sub.c.q.s.Members[e.m.Index] != e.m {
				continue // of a definition that is no more
			}
			if e.raw == nil {
				err = sub.listsChanged(e.m)
			} else {
				err = sub.send(sub.tag(e.raw))
			}
			if err != nil {
				return false, err
			}
		}
	}
}

// listsChanged tells the client that the lists of member m (nil: of every
// member) may have changed, for the kinds it listens to.
func (sub *subscription) listsChanged(m *Member) error {
	for _, x := range []struct {
		on     bool
		kind   string
		method string
	}{
		{sub.f.ToolsListChanged, kindTool, api.MethodToolsListChanged},
		{sub.f.PromptsListChanged, kindPrompt, api.MethodPromptsListChanged},
		{sub.f.ResourcesListChanged, kindResource, api.MethodResourcesListChanged},
	} {
		if !x.on || m != nil && !m.assigns(x.kind) {
			continue
		}
		if err := sub.send(sub.tag([]byte(`{"jsonrpc":"2.0","method":"` + x.method + `","params":{}}`))); err != nil {
			return err
		}
	}
	return nil
}

// openMembers starts one listen per member with something to listen to;
// each closes its channel of acks when its listen is open or has failed.
func (sub *subscription) openMembers(ctx context.Context, events chan memberEvent) []chan struct{} {
	var acks []chan struct{}
	for _, m := range sub.c.q.s.Members {
		f := sub.v.forMember(sub.c, sub.f, m)
		if f.empty() {
			continue
		}
		ack := make(chan struct{})
		acks = append(acks, ack)
		go (&memberListen{sub: sub, m: m, f: f, events: events, ack: ack}).run(ctx)
	}
	return acks
}

func (sub *subscription) awaitAcks(ctx context.Context, acks []chan struct{}) {
	t := time.NewTimer(sub.v.opts.ListTimeout)
	defer t.Stop()
	for _, a := range acks {
		select {
		case <-a:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
