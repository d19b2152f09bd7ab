package virtual

import "github.com/archestra-ai/mcp-orchestrator/api"

// A resources/read names a URI, not a member, and resources are not
// renamed: the gateway has to know which member owns a URI, with no shared
// store. Each replica remembers what every member listed (resources and
// templates, refreshed after the cache TTL, and whenever a client lists
// them); a URI nobody is known to list sends the gateway to refresh the
// lists once, and then to ask the members whose assignment allows the URI,
// in definition order, until one has it.

// owner returns the member that lists uri or a template matching it,
// refreshing stale lists first; nil when no member is known to.
func (v *Virtual) owner(c *call, uri string) *Member {
	s := c.q.s
	m, fresh := v.cache.owner(s.Namespace, s.Members, uri)
	if m != nil || fresh {
		return m
	}
	v.refreshResources(c)
	m, _ = v.cache.owner(s.Namespace, s.Members, uri)
	return m
}

// templateOwner returns the member listing the template t (a completion's
// ref), else the owner of t read as a URI.
func (v *Virtual) templateOwner(c *call, t string) *Member {
	s := c.q.s
	if m := v.cache.templateOwner(s.Namespace, s.Members, t); m != nil {
		return m
	}
	v.refreshResources(c)
	if m := v.cache.templateOwner(s.Namespace, s.Members, t); m != nil {
		return m
	}
	m, _ := v.cache.owner(s.Namespace, s.Members, t)
	return m
}

// refreshResources lists every member's resources and templates again
// (merging remembers what each owns).
func (v *Virtual) refreshResources(c *call) {
	want := func(m *Member) bool { return m.assigns(kindResource) }
	v.mergeResources(c, v.fanOut(c, api.MethodResourcesList, "resources", want), "uri", (*Member).AllowsResource)
	v.mergeResources(c, v.fanOut(c, api.MethodResourceTemplatesList, "resourceTemplates", want), "uriTemplate", (*Member).AllowsTemplate)
}
