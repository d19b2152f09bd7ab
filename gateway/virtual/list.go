package virtual

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// listKinds: per list method, the result's array, what is assigned, and
// the capability that must be declared for it.
var listKinds = map[string]struct {
	field, kind string
	offered     func(capSet) bool
}{
	api.MethodToolsList:             {"tools", kindTool, func(c capSet) bool { return c.tools }},
	api.MethodPromptsList:           {"prompts", kindPrompt, func(c capSet) bool { return c.prompts }},
	api.MethodResourcesList:         {"resources", kindResource, func(c capSet) bool { return c.resources }},
	api.MethodResourceTemplatesList: {"resourceTemplates", kindResource, func(c capSet) bool { return c.resources }},
}

// list answers a list method with the members' assigned items, merged: in
// definition order of the members, each member's in its own order, under
// their names on the virtual server. One page: every member's pages are
// read (a cursor from a client is not one of ours).
func (v *Virtual) list(c *call, method string, cursor []byte) (map[string]any, *rpcError) {
	if len(cursor) > 0 && string(cursor) != "null" {
		return nil, &rpcError{status: http.StatusOK, code: mcp.CodeInvalidParams,
			msg: "Invalid params: unknown cursor (a virtual server answers every list in one page)"}
	}
	k := listKinds[method]
	if !k.offered(v.capabilities(c)) {
		return nil, notOffered(method)
	}
	parts := v.fanOut(c, method, k.field, func(m *Member) bool { return m.assigns(k.kind) })
	var items []json.RawMessage
	switch method {
	case api.MethodResourcesList:
		items = v.mergeResources(c, parts, "uri", (*Member).AllowsResource)
	case api.MethodResourceTemplatesList:
		items = v.mergeResources(c, parts, "uriTemplate", (*Member).AllowsTemplate)
	default:
		items = mergeNamed(parts, k.kind)
	}
	ttl, scope := mergeHints(parts)
	if items == nil {
		items = []json.RawMessage{}
	}
	return map[string]any{k.field: items, "ttlMs": ttl, "cacheScope": scope}, nil
}

// mergeNamed renames each member's assigned tools or prompts and drops the
// others (and a name a member lists twice).
func mergeNamed(parts []outcome, kind string) []json.RawMessage {
	var out []json.RawMessage
	seen := map[string]bool{}
	for _, o := range parts {
		for _, it := range o.items {
			var name string
			if json.Unmarshal(mcp.Lookup(it, "name"), &name) != nil || name == "" {
				continue
			}
			exposed, ok := o.m.Expose(kind, name)
			if !ok || seen[exposed] {
				continue
			}
			renamed, err := mcp.Set(it, []byte(strconv.Quote(exposed)), "name")
			if err != nil {
				continue
			}
			seen[exposed] = true
			out = append(out, renamed)
		}
	}
	return out
}

// mergeResources keeps each member's assigned resources (or templates),
// unchanged: a URI is not renamed. A URI two members list is the first
// member's. What each member owns is remembered for routing reads.
func (v *Virtual) mergeResources(c *call, parts []outcome, key string, allowed func(*Member, string) bool) []json.RawMessage {
	var out []json.RawMessage
	seen := map[string]bool{}
	for _, o := range parts {
		if o.err != nil || o.reason == "skipped" {
			continue
		}
		var owned []string
		for _, it := range o.items {
			var uri string
			if json.Unmarshal(mcp.Lookup(it, key), &uri) != nil || uri == "" {
				continue
			}
			owned = append(owned, uri)
			if !allowed(o.m, uri) || seen[uri] {
				continue
			}
			seen[uri] = true
			out = append(out, it)
		}
		v.cache.remember(c.q.s.Namespace, o.m.Server, key, owned)
	}
	return out
}
