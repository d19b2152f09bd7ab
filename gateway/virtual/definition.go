// Package virtual serves virtual MCP servers: one endpoint,
// /mcp/<namespace>/<name>, offering the tools, prompts and resources
// assigned from several MCP servers (members) of its namespace, defined by
// a ConfigMap labelled api.VirtualServerLabel. The gateway answers
// discovery, initialize and lists itself (fanned out to the members,
// merged) and routes every call to the member that owns it, through the
// proxy, so a member is reached as its own endpoint would be (caller
// affinity, wake, allow-list) but in 2026-07-28, statelessly.
package virtual

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Kinds of named primitives.
const (
	kindTool     = "tool"
	kindPrompt   = "prompt"
	kindResource = "resource"
)

// Server is one virtual server as defined: valid (Problems empty) or not.
type Server struct {
	Namespace, Name string
	// ConfigMaps that define it (more than one is a problem).
	ConfigMaps []string
	Def        api.VirtualServer
	Members    []*Member // in definition order
	Problems   []string
	// Shadowed: a real server has the same name and wins the endpoint.
	Shadowed bool

	byPrefix map[string]*Member
}

// Member is one member of a valid virtual server.
type Member struct {
	Index  int
	Server string
	Prefix string
	// tools and prompts: nil assigns everything the member offers.
	tools, prompts *entries
	resources      *[]string
}

// entries are the assigned tools or prompts of a member.
type entries struct {
	original map[string]string // exposed (before the prefix) -> the member's name
	exposed  map[string]string // the member's name -> exposed
}

// Key is "namespace/name", the metric label of a valid virtual server.
func (s *Server) Key() string { return s.Namespace + "/" + s.Name }

// Valid reports whether the definition can be served.
func (s *Server) Valid() bool { return len(s.Problems) == 0 }

// parseConfigMap reads one definition: the data key's YAML (strict:
// duplicate keys are refused), then the contract's checks.
func parseConfigMap(cm *corev1.ConfigMap) (api.VirtualServer, []string) {
	var problems []string
	name := cm.Labels[api.VirtualServerLabel]
	if !api.ValidDNSLabel(name) {
		problems = append(problems, fmt.Sprintf("label %s: %q is not a server name (a DNS-1123 label)", api.VirtualServerLabel, name))
	}
	for k := range cm.Data {
		if k != api.VirtualServerKey {
			problems = append(problems, fmt.Sprintf("data: unknown key %q: the definition is data[%q] only", k, api.VirtualServerKey))
		}
	}
	if len(cm.BinaryData) > 0 {
		problems = append(problems, "binaryData: not allowed: the definition is YAML in data["+api.VirtualServerKey+"]")
	}
	doc, ok := cm.Data[api.VirtualServerKey]
	if !ok {
		return api.VirtualServer{}, append(problems, fmt.Sprintf("data[%q] is missing", api.VirtualServerKey))
	}
	vs, ps := ParseDefinition([]byte(doc))
	slices.Sort(problems)
	return vs, append(problems, ps...)
}

// ParseDefinition reads a definition's YAML document.
func ParseDefinition(doc []byte) (api.VirtualServer, []string) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return api.VirtualServer{}, []string{"not YAML: " + strings.Join(strings.Fields(err.Error()), " ")}
	}
	return api.ParseVirtualServer(j)
}

// newServer builds the served form of a valid definition.
func newServer(ns, name string, def api.VirtualServer) *Server {
	s := &Server{Namespace: ns, Name: name, Def: def, byPrefix: map[string]*Member{}}
	for i, m := range def.Members {
		mem := &Member{Index: i, Server: m.Server, Prefix: m.EffectivePrefix(),
			tools: newEntries(m.Tools), prompts: newEntries(m.Prompts), resources: m.Resources}
		s.Members = append(s.Members, mem)
		s.byPrefix[mem.Prefix] = mem
	}
	return s
}

func newEntries(list *[]api.VirtualEntry) *entries {
	if list == nil {
		return nil
	}
	e := &entries{original: map[string]string{}, exposed: map[string]string{}}
	for _, x := range *list {
		e.original[x.Exposed()] = x.Name
		e.exposed[x.Name] = x.Exposed()
	}
	return e
}

func (m *Member) entriesOf(kind string) *entries {
	if kind == kindTool {
		return m.tools
	}
	return m.prompts
}

// Expose returns the virtual server's name for the member's tool or prompt
// original, or false when it is not assigned.
func (m *Member) Expose(kind, original string) (string, bool) {
	e := m.entriesOf(kind)
	if e == nil {
		return api.VirtualName(m.Prefix, original), true
	}
	x, ok := e.exposed[original]
	if !ok {
		return "", false
	}
	return api.VirtualName(m.Prefix, x), true
}

// Resolve maps a tool's or prompt's name on the virtual server to its
// member and its name there. It needs no list: the prefix names the member.
func (s *Server) Resolve(kind, name string) (*Member, string, bool) {
	m, rest := s.memberOf(name)
	if m == nil {
		return nil, "", false
	}
	e := m.entriesOf(kind)
	if e == nil {
		return m, rest, true
	}
	original, ok := e.original[rest]
	return m, original, ok
}

func (s *Server) memberOf(name string) (*Member, string) {
	if m := s.byPrefix[""]; m != nil {
		return m, name // the single member, names unchanged
	}
	prefix, rest, ok := api.SplitVirtualName(name)
	if !ok {
		return nil, ""
	}
	return s.byPrefix[prefix], rest
}

// AllowsResource reports whether the member's resource uri is assigned.
func (m *Member) AllowsResource(uri string) bool { return api.MatchVirtualResource(m.resources, uri) }

// AllowsTemplate reports whether the member's resource template is assigned.
func (m *Member) AllowsTemplate(uriTemplate string) bool {
	return api.MatchVirtualTemplate(m.resources, uriTemplate)
}

// assigns reports whether the member has anything of kind assigned.
func (m *Member) assigns(kind string) bool {
	switch kind {
	case kindTool, kindPrompt:
		e := m.entriesOf(kind)
		return e == nil || len(e.original) > 0
	}
	return m.resources == nil || len(*m.resources) > 0
}

// Assigned describes the member's tools or prompts for people: "all", or
// the exposed names, sorted.
func (m *Member) Assigned(kind string) []string {
	e := m.entriesOf(kind)
	if e == nil {
		return []string{"*"}
	}
	out := make([]string, 0, len(e.original))
	for x := range e.original {
		out = append(out, api.VirtualName(m.Prefix, x))
	}
	sort.Strings(out)
	return out
}
