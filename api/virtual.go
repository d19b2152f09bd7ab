package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// A virtual server is one MCP endpoint, /mcp/<namespace>/<name>, offering
// the tools, prompts and resources assigned to it from several MCP servers
// (members) of its namespace. It is defined by a plain ConfigMap found by
// label: no CRD.
const (
	// VirtualServerLabel on a ConfigMap makes it a virtual server's
	// definition; its value is the virtual server's name (a DNS-1123 label).
	VirtualServerLabel = Prefix + "virtual-server"
	// VirtualServerKey is the ConfigMap's only data key: the definition, YAML.
	VirtualServerKey = "virtual-server.yaml"
	// VirtualNameSeparator joins a member's prefix and the name of one of its
	// tools or prompts. A prefix is a DNS label (no '_'), so the first "__"
	// of an exposed name ends the prefix: two members' names never collide.
	VirtualNameSeparator = "__"
	// HeaderVirtualForwarded marks a legacy client's answer to a server
	// request that one gateway replica passes on to the replica that asked
	// (which never passes it on again).
	HeaderVirtualForwarded = "Mcp-Orchestrator-Forwarded"
)

// Limits of a definition: they bound the work of a list and the metric
// series of a virtual server.
const (
	MaxVirtualMembers = 32
	MaxVirtualEntries = 1024
)

// VirtualServer is a virtual server's definition (the YAML document of
// VirtualServerKey). ParseVirtualServer is its only reader.
type VirtualServer struct {
	// Title is the serverInfo title clients show (optional).
	Title string `json:"title,omitempty"`
	// Instructions are the virtual server's instructions (optional).
	Instructions string          `json:"instructions,omitempty"`
	Members      []VirtualMember `json:"members"`
}

// VirtualMember is one MCP server of the virtual server's namespace and
// what is assigned from it. A nil list assigns everything the member
// offers (tools: within its allowed-tools); an empty list assigns nothing.
type VirtualMember struct {
	// Server is the member's name (its mcp.archestra.io/server label).
	Server string `json:"server"`
	// Prefix is put before its tools' and prompts' names, with
	// VirtualNameSeparator; nil: the server's name. "" (names unchanged) is
	// allowed only for a virtual server with a single member.
	Prefix    *string         `json:"prefix,omitempty"`
	Tools     *[]VirtualEntry `json:"tools,omitempty"`
	Prompts   *[]VirtualEntry `json:"prompts,omitempty"`
	Resources *[]string       `json:"resources,omitempty"`
}

// VirtualEntry assigns one tool or prompt, by its name on the member, and
// optionally exposes it under another name (As, still prefixed). In YAML
// either a name, or {name: get-sum, as: add}.
type VirtualEntry struct {
	Name string `json:"name"`
	As   string `json:"as,omitempty"`
}

// EffectivePrefix is the member's prefix: its own, else its server's name.
func (m VirtualMember) EffectivePrefix() string {
	if m.Prefix != nil {
		return *m.Prefix
	}
	return m.Server
}

// Exposed is the name the entry's tool or prompt has on the virtual server
// before the prefix: As, else its own.
func (e VirtualEntry) Exposed() string {
	if e.As != "" {
		return e.As
	}
	return e.Name
}

// VirtualName is the name a member's tool or prompt has on the virtual
// server: prefix, separator, name; the name alone for an empty prefix.
func VirtualName(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + VirtualNameSeparator + name
}

// SplitVirtualName is the inverse of VirtualName for a non-empty prefix:
// the prefix (no '_' in it) and the member's name.
func SplitVirtualName(name string) (prefix, rest string, ok bool) {
	prefix, rest, ok = strings.Cut(name, VirtualNameSeparator)
	return prefix, rest, ok && prefix != "" && rest != "" && !strings.Contains(prefix, "_")
}

var (
	dnsLabel = regexp.MustCompile(patternDNSLabel)
	// toolName is SEP-986's tool name form, which "as" names must have.
	toolName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
)

// ValidDNSLabel reports whether s is a DNS-1123 label (a server's name).
func ValidDNSLabel(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }

// rawVirtual keeps each list's raw JSON so that "absent" (everything) and
// null (a YAML key with no value, which would read as everything by
// mistake) can be told apart.
type rawVirtual struct {
	Title        string      `json:"title"`
	Instructions string      `json:"instructions"`
	Members      []rawMember `json:"members"`
}

type rawMember struct {
	Server    string          `json:"server"`
	Prefix    json.RawMessage `json:"prefix"`
	Tools     json.RawMessage `json:"tools"`
	Prompts   json.RawMessage `json:"prompts"`
	Resources json.RawMessage `json:"resources"`
}

// ParseVirtualServer reads a definition from JSON (the YAML document
// converted) and validates it: unknown fields, names, prefixes that could
// collide, duplicates, limits. It returns every problem found, each
// naming its field; a definition with problems must serve nothing.
func ParseVirtualServer(data []byte) (VirtualServer, []string) {
	var raw rawVirtual
	var problems []string
	if err := strictDecode(data, &raw); err != nil {
		problems = append(problems, err.Error())
		// Read leniently too, to report the values' problems as well.
		if json.Unmarshal(data, &raw) != nil {
			return VirtualServer{}, problems
		}
	}
	vs := VirtualServer{Title: raw.Title, Instructions: raw.Instructions}
	for i, rm := range raw.Members {
		m, ps := rm.decode(fmt.Sprintf("members[%d]", i))
		vs.Members = append(vs.Members, m)
		problems = append(problems, ps...)
	}
	problems = append(problems, vs.validate()...)
	return vs, problems
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a virtual server definition: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return fmt.Errorf("not a virtual server definition: more than one document")
	}
	return nil
}

func (rm rawMember) decode(path string) (VirtualMember, []string) {
	m := VirtualMember{Server: rm.Server}
	var problems []string
	field := func(name string, raw json.RawMessage, into any) bool {
		switch {
		case raw == nil:
			return false
		case string(raw) == "null":
			problems = append(problems, fmt.Sprintf("%s.%s: empty: write [] to assign nothing, or leave %s out to assign everything", path, name, name))
			return false
		}
		if err := strictDecode(raw, into); err != nil {
			problems = append(problems, fmt.Sprintf("%s.%s: %s", path, name, strings.TrimPrefix(err.Error(), "not a virtual server definition: ")))
			return false
		}
		return true
	}
	var prefix string
	if field("prefix", rm.Prefix, &prefix) {
		m.Prefix = &prefix
	}
	var tools, prompts []VirtualEntry
	if field("tools", rm.Tools, &tools) {
		m.Tools = ptrSlice(tools)
	}
	if field("prompts", rm.Prompts, &prompts) {
		m.Prompts = ptrSlice(prompts)
	}
	var resources []string
	if field("resources", rm.Resources, &resources) {
		m.Resources = ptrSlice(resources)
	}
	return m, problems
}

// ptrSlice keeps an empty list distinct from an absent one.
func ptrSlice[T any](s []T) *[]T {
	if s == nil {
		s = []T{}
	}
	return &s
}

// UnmarshalJSON reads a name, or an object with name and as.
func (e *VirtualEntry) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '"' {
		return json.Unmarshal(b, &e.Name)
	}
	type plain VirtualEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("an entry is a name or {name, as}: %w", err)
	}
	*e = VirtualEntry(p)
	return nil
}
