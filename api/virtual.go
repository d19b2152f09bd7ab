package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
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

// rawMember keeps each list's raw JSON so that "absent" (everything) and
// null (a YAML key with no value, which would read as everything by
// mistake) can be told apart.
type rawMember struct {
	Server    json.RawMessage `json:"server"`
	Prefix    json.RawMessage `json:"prefix"`
	Tools     json.RawMessage `json:"tools"`
	Prompts   json.RawMessage `json:"prompts"`
	Resources json.RawMessage `json:"resources"`
}

// The fields of each level of a definition, for the unknown-field check.
var (
	virtualFields = []string{"title", "instructions", "members"}
	memberFields  = []string{"server", "prefix", "tools", "prompts", "resources"}
	entryFields   = []string{"name", "as"}
)

// ParseVirtualServer reads a definition from JSON (the YAML document
// converted) and validates it: unknown fields, types, names, prefixes that
// could collide, duplicates, limits. It returns every problem found, each
// naming its field; a definition with problems must serve nothing.
func ParseVirtualServer(data []byte) (VirtualServer, []string) {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil || top == nil {
		return VirtualServer{}, []string{"the definition must be a mapping of title, instructions and members"}
	}
	problems := unknownFields("", top, virtualFields)
	var vs VirtualServer
	field(&problems, "title", top["title"], &vs.Title)
	field(&problems, "instructions", top["instructions"], &vs.Instructions)
	var members []json.RawMessage
	field(&problems, "members", top["members"], &members)
	for i, raw := range members {
		m, ps := decodeMember(fmt.Sprintf("members[%d]", i), raw)
		vs.Members = append(vs.Members, m)
		problems = append(problems, ps...)
	}
	problems = append(problems, vs.validate()...)
	return vs, problems
}

// field decodes one value into v; absent leaves v as it is, null or a
// wrong type is a problem. It reports whether v was set.
func field(problems *[]string, path string, raw json.RawMessage, v any) bool {
	switch {
	case raw == nil:
		return false
	case string(raw) == "null":
		msg := path + ": empty: give it a value or leave it out"
		if i := strings.LastIndex(path, "."); i >= 0 && slices.Contains([]string{"tools", "prompts", "resources"}, path[i+1:]) {
			msg = fmt.Sprintf("%s: empty: write [] to assign nothing, or leave %s out to assign everything", path, path[i+1:])
		}
		*problems = append(*problems, msg)
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := path
			if te.Field != "" {
				where += "." + te.Field
			}
			*problems = append(*problems, fmt.Sprintf("%s: %s, want %s", where, kindOf(te.Value), goKind(te.Type)))
		} else {
			*problems = append(*problems, path+": "+strings.TrimPrefix(err.Error(), "json: "))
		}
		return false
	}
	return true
}

func kindOf(jsonValue string) string {
	switch jsonValue {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	}
	return "a " + jsonValue
}

func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.Kind().String()
}

// unknownFields lists the keys of obj that are not known, each with its
// path (and the known key it is most likely a typo of).
func unknownFields(path string, obj map[string]json.RawMessage, known []string) []string {
	var out []string
	for k := range obj {
		if slices.Contains(known, k) {
			continue
		}
		msg := fmt.Sprintf("%s%s: unknown field", path, k)
		for _, want := range known {
			if strings.HasPrefix(want, k) || strings.HasPrefix(k, want) || strings.EqualFold(want, k) {
				msg += fmt.Sprintf(" (did you mean %s?)", want)
				break
			}
		}
		out = append(out, msg+"; known: "+strings.Join(known, ", "))
	}
	slices.Sort(out)
	return out
}

func decodeMember(path string, raw json.RawMessage) (VirtualMember, []string) {
	var rm rawMember
	var problems []string
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return VirtualMember{}, []string{path + ": must be a mapping with server (and prefix, tools, prompts, resources)"}
	}
	problems = append(problems, unknownFields(path+".", obj, memberFields)...)
	_ = json.Unmarshal(raw, &rm)
	var m VirtualMember
	field(&problems, path+".server", rm.Server, &m.Server)
	var prefix string
	if field(&problems, path+".prefix", rm.Prefix, &prefix) {
		m.Prefix = &prefix
	}
	m.Tools = decodeEntries(&problems, path+".tools", rm.Tools)
	m.Prompts = decodeEntries(&problems, path+".prompts", rm.Prompts)
	var resources []string
	if field(&problems, path+".resources", rm.Resources, &resources) {
		m.Resources = ptrSlice(resources)
	}
	return m, problems
}

// decodeEntries reads a tools or prompts list: names, or {name, as}.
func decodeEntries(problems *[]string, path string, raw json.RawMessage) *[]VirtualEntry {
	var items []json.RawMessage
	if !field(problems, path, raw, &items) {
		return nil
	}
	out := []VirtualEntry{}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		var e VirtualEntry
		if t := bytes.TrimSpace(it); len(t) > 0 && t[0] == '{' {
			var obj map[string]json.RawMessage
			_ = json.Unmarshal(it, &obj)
			*problems = append(*problems, unknownFields(p+".", obj, entryFields)...)
			field(problems, p+".name", obj["name"], &e.Name)
			field(problems, p+".as", obj["as"], &e.As)
		} else {
			field(problems, p, it, &e.Name)
		}
		out = append(out, e)
	}
	return &out
}

// ptrSlice keeps an empty list distinct from an absent one.
func ptrSlice[T any](s []T) *[]T {
	if s == nil {
		s = []T{}
	}
	return &s
}
