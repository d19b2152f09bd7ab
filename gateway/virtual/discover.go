package virtual

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// capSet is what a virtual server declares, from its members' own
// capabilities and what is assigned from each:
//   - tools, prompts, resources: some member that has them assigned
//     declares them (or has not been reached yet: its assignment is
//     trusted until its discovery says otherwise);
//   - listChanged of each: always, as the gateway itself announces
//     definition changes and members that come or go;
//   - resources.subscribe: every member with resources assigned declares
//     it (a subscription must hold whichever member owns the URI);
//   - completions, logging: some member declares them (a request for a
//     member without is answered by that member).
type capSet struct {
	tools, prompts, resources, subscribe, completions, logging bool
}

// capabilities reads the members' discovery (cached per replica) and
// derives the virtual server's.
func (v *Virtual) capabilities(c *call) capSet {
	results := v.discoverMembers(c)
	var cs capSet
	subscribeAll, anyResources := true, false
	for i, m := range c.q.s.Members {
		caps := mcp.Lookup(results[i], "capabilities")
		has := func(k string) bool { return results[i] == nil || len(mcp.Lookup(caps, k)) > 0 }
		cs.tools = cs.tools || m.assigns(kindTool) && has("tools")
		cs.prompts = cs.prompts || m.assigns(kindPrompt) && has("prompts")
		if m.assigns(kindResource) && has("resources") {
			anyResources = true
			subscribeAll = subscribeAll && string(mcp.Lookup(caps, "resources", "subscribe")) == "true"
		}
		cs.completions = cs.completions || results[i] != nil && len(mcp.Lookup(caps, "completions")) > 0
		cs.logging = cs.logging || results[i] != nil && len(mcp.Lookup(caps, "logging")) > 0
	}
	cs.resources, cs.subscribe = anyResources, anyResources && subscribeAll
	return cs
}

// json is the capabilities object of a DiscoverResult or InitializeResult.
func (cs capSet) json() map[string]any {
	out := map[string]any{}
	lc := map[string]any{"listChanged": true}
	if cs.tools {
		out["tools"] = lc
	}
	if cs.prompts {
		out["prompts"] = lc
	}
	if cs.resources {
		out["resources"] = map[string]any{"listChanged": true, "subscribe": cs.subscribe}
	}
	if cs.completions {
		out["completions"] = map[string]any{}
	}
	if cs.logging {
		out["logging"] = map[string]any{}
	}
	return out
}

// discoverMembers returns each member's DiscoverResult (nil when it has
// never been reached): fresh from the cache, else asked within the list
// timeout, else the stale one.
func (v *Virtual) discoverMembers(c *call) []json.RawMessage {
	s := c.q.s
	out := make([]json.RawMessage, len(s.Members))
	ctx, cancel := context.WithTimeout(c.q.r.Context(), v.opts.ListTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, m := range s.Members {
		res, fresh := v.cache.discovered(s.Namespace, m.Server)
		out[i] = res
		if fresh || !v.available(s, m) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := v.discoverOne(ctx, c, m); res != nil {
				v.cache.setDiscovered(s.Namespace, m.Server, res)
				out[i] = res
			}
		}()
	}
	wg.Wait()
	return out
}

// discoverOne asks member m's discovery and learns its era: a member that
// does not list 2026-07-28 is asked in a session (legacymember.go).
func (v *Virtual) discoverOne(ctx context.Context, c *call, m *Member) json.RawMessage {
	answer, status, err := v.modernCall(ctx, c, m, api.MethodDiscover, []byte(`{"_meta":`+string(c.metaJSON())+`}`))
	if err != nil || status == http.StatusServiceUnavailable {
		return nil
	}
	if speaksModern(answer) {
		v.cache.setEra(c.q.s.Namespace, m.Server, false)
		return mcp.Lookup(answer.Raw, "result")
	}
	v.cache.setEra(c.q.s.Namespace, m.Server, true)
	return v.discoverLegacy(ctx, c, m)
}

// available reports whether member m has a ready pod now. Discovery is
// not worth waking a member for; a list or a call is.
func (v *Virtual) available(s *Server, m *Member) bool {
	for _, e := range v.opts.Pods.Endpoints(s.Namespace, m.Server) {
		if e.Ready && !e.Terminating {
			return true
		}
	}
	return false
}

// readyPods names the member's ready pods (their UIDs, sorted as the
// registry keeps them): a change means its lists may have changed.
func (v *Virtual) readyPods(s *Server, m *Member) string {
	var b strings.Builder
	for _, e := range v.opts.Pods.Endpoints(s.Namespace, m.Server) {
		if e.Ready && !e.Terminating {
			b.WriteString(e.UID)
			b.WriteByte(',')
		}
	}
	return b.String()
}

// discover answers server/discover for the virtual server itself: every
// revision the gateway serves it in (2026-07-28 statelessly, the session
// revisions through its own session front), its capabilities, identity
// and instructions.
func (v *Virtual) discover(c *call) (map[string]any, *rpcError) {
	res := map[string]any{
		"supportedVersions": mcp.AllVersions(),
		"capabilities":      v.capabilities(c).json(),
		"ttlMs":             0,
		"cacheScope":        "private",
	}
	if c.q.s.Def.Instructions != "" {
		res["instructions"] = c.q.s.Def.Instructions
	}
	return res, nil
}
