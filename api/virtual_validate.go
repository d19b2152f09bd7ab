package api

import (
	"fmt"
	"strings"
	"unicode"
)

// validate checks what the decoded definition says.
func (vs VirtualServer) validate() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case len(vs.Members) == 0:
		add("members: at least one member is required")
	case len(vs.Members) > MaxVirtualMembers:
		add("members: %d members, at most %d", len(vs.Members), MaxVirtualMembers)
	}
	servers, prefixes := map[string]int{}, map[string]int{}
	for i, m := range vs.Members {
		path := fmt.Sprintf("members[%d]", i)
		if !ValidDNSLabel(m.Server) {
			add("%s.server: %q is not a server name (a DNS-1123 label)", path, m.Server)
		} else if j, dup := servers[m.Server]; dup {
			add("%s.server: %s is already members[%d]", path, m.Server, j)
		} else {
			servers[m.Server] = i
		}
		problems = append(problems, m.validatePrefix(path, len(vs.Members), prefixes, i)...)
		problems = append(problems, validateEntries(path+".tools", m.Tools)...)
		problems = append(problems, validateEntries(path+".prompts", m.Prompts)...)
		problems = append(problems, validateResources(path+".resources", m.Resources)...)
	}
	return problems
}

// validatePrefix: a DNS label, unique; empty only for a single member (an
// unprefixed member's names could otherwise equal a prefixed one's).
func (m VirtualMember) validatePrefix(path string, members int, seen map[string]int, i int) []string {
	p := m.EffectivePrefix()
	switch {
	case m.Prefix == nil && !ValidDNSLabel(p):
		return nil // the server's name, already refused
	case p == "" && members > 1:
		return []string{path + `.prefix: "" (names unchanged) is allowed only for a virtual server with a single member: names of two members could collide`}
	case p == "":
		return nil
	case !ValidDNSLabel(p):
		return []string{fmt.Sprintf("%s.prefix: %q must be a DNS-1123 label (lowercase letters, digits, '-'; no '_', which would make names ambiguous)", path, p)}
	}
	if j, dup := seen[p]; dup {
		return []string{fmt.Sprintf("%s.prefix: %q is already the prefix of members[%d]: their names would collide", path, p, j)}
	}
	seen[p] = i
	return nil
}

// validateEntries checks a tools or prompts list: names, renames, and that
// no two entries share a name or an exposed name.
func validateEntries(path string, entries *[]VirtualEntry) []string {
	if entries == nil {
		return nil
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(*entries) > MaxVirtualEntries {
		add("%s: %d entries, at most %d", path, len(*entries), MaxVirtualEntries)
	}
	names, exposed := map[string]int{}, map[string]int{}
	for i, e := range *entries {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !plainName(e.Name, 256) {
			add("%s.name: %q must be 1-256 characters without spaces or control characters", p, e.Name)
		}
		if e.As != "" && !toolName.MatchString(e.As) {
			add("%s.as: %q must be 1-128 of A-Z a-z 0-9 _ . -", p, e.As)
		}
		if j, dup := names[e.Name]; dup {
			add("%s.name: %q is already %s[%d]", p, e.Name, path, j)
		}
		names[e.Name] = i
		if j, dup := exposed[e.Exposed()]; dup {
			add("%s: exposes %q, as %s[%d] does", p, e.Exposed(), path, j)
		}
		exposed[e.Exposed()] = i
	}
	return problems
}

// validateResources checks URI patterns: a URI, or a prefix ending in '*'.
func validateResources(path string, patterns *[]string) []string {
	if patterns == nil {
		return nil
	}
	var problems []string
	if len(*patterns) > MaxVirtualEntries {
		problems = append(problems, fmt.Sprintf("%s: %d entries, at most %d", path, len(*patterns), MaxVirtualEntries))
	}
	seen := map[string]bool{}
	for i, p := range *patterns {
		switch {
		case !plainName(p, 2048):
			problems = append(problems, fmt.Sprintf("%s[%d]: %q must be a URI (or a URI prefix ending in *) without spaces", path, i, p))
		case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
			problems = append(problems, fmt.Sprintf("%s[%d]: %q: '*' is allowed only at the end (a prefix)", path, i, p))
		case seen[p]:
			problems = append(problems, fmt.Sprintf("%s[%d]: %q is listed twice", path, i, p))
		}
		seen[p] = true
	}
	return problems
}

func plainName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// MatchVirtualResource reports whether a resource URI is assigned by the
// patterns (nil: every URI).
func MatchVirtualResource(patterns *[]string, uri string) bool {
	if patterns == nil {
		return true
	}
	for _, p := range *patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(uri, prefix) || p == uri {
			return true
		}
	}
	return false
}

// MatchVirtualTemplate reports whether a resource template is assigned:
// its text before the first '{' (what every URI it makes starts with) must
// start with a prefix pattern, or the template equal a pattern.
func MatchVirtualTemplate(patterns *[]string, uriTemplate string) bool {
	if patterns == nil {
		return true
	}
	literal, _, _ := strings.Cut(uriTemplate, "{")
	for _, p := range *patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(literal, prefix) || p == uriTemplate {
			return true
		}
	}
	return false
}
