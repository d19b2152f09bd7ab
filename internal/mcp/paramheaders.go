package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// A tool may name arguments its clients mirror into Mcp-Param-{Name}
// headers (x-mcp-header in its inputSchema, 2026-07-28). Whoever processes
// the body must check that the headers say what the body says: the stdio
// bridge, since the headers do not reach a stdio server.

// ParamHeader is one x-mcp-header annotation: Mcp-Param-{Name} mirrors the
// argument at Path (a chain of properties keys from the schema's root).
type ParamHeader struct {
	Name string
	Path []string
}

const xMCPHeader = "x-mcp-header"

// ParamHeaders reads the annotations of a tool's inputSchema. An
// annotation that breaks the transport's rules (empty or not a header
// token, not unique ignoring case, on a type other than string, integer
// or boolean, anywhere but a chain of properties) makes the tool invalid:
// the error says why.
func ParamHeaders(schema json.RawMessage) ([]ParamHeader, error) {
	if len(bytes.TrimSpace(schema)) == 0 || !bytes.Contains(schema, []byte(xMCPHeader)) {
		return nil, nil
	}
	var root any
	if err := json.Unmarshal(schema, &root); err != nil {
		return nil, fmt.Errorf("inputSchema is not JSON: %w", err)
	}
	var out []ParamHeader
	if err := collect(root, nil, true, &out); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range out {
		k := strings.ToLower(p.Name)
		if seen[k] {
			return nil, fmt.Errorf("%s %q is used twice (names are compared ignoring case)", xMCPHeader, p.Name)
		}
		seen[k] = true
	}
	return out, nil
}

// collect walks a schema value; reachable says whether it is the schema of
// a property reached from the root through properties keys only.
func collect(v any, path []string, reachable bool, out *[]ParamHeader) error {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if err := collect(e, path, false, out); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, sub := range v {
			switch {
			case k == xMCPHeader:
				p, err := annotation(sub, v["type"], path, reachable)
				if err != nil {
					return err
				}
				*out = append(*out, p)
			case k == "properties" && reachable:
				props, _ := sub.(map[string]any)
				for name, schema := range props {
					if err := collect(schema, append(path[:len(path):len(path)], name), true, out); err != nil {
						return err
					}
				}
			default:
				if err := collect(sub, path, false, out); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// annotation checks one x-mcp-header value and the property it is on.
func annotation(name, typ any, path []string, reachable bool) (ParamHeader, error) {
	n, _ := name.(string)
	where := "/" + strings.Join(path, "/")
	switch {
	case !reachable || len(path) == 0:
		return ParamHeader{}, fmt.Errorf("%s at %s: only properties reached through properties keys may carry it", xMCPHeader, where)
	case !isToken(n):
		return ParamHeader{}, fmt.Errorf("%s %q at %s is not an HTTP header name token", xMCPHeader, n, where)
	}
	switch typ {
	case "string", "integer", "boolean":
		return ParamHeader{Name: n, Path: path}, nil
	}
	return ParamHeader{}, fmt.Errorf("%s %q at %s: the property's type must be string, integer or boolean", xMCPHeader, n, where)
}

// isToken reports whether s is an RFC 9110 token (1*tchar).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alnum && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// CheckParamHeaders compares the Mcp-Param-* headers of a tools/call with
// its arguments, for the tool's annotations: a value in the body needs its
// header, with the same value (decoded); a header needs its value.
func CheckParamHeaders(h http.Header, args json.RawMessage, ps []ParamHeader) *Violation {
	for _, p := range ps {
		header := api.HeaderParamPrefix + p.Name
		raw, sent := h[http.CanonicalHeaderKey(header)]
		body := bytes.TrimSpace(Lookup(args, p.Path...))
		present := len(body) > 0 && string(body) != "null"
		switch {
		case !sent && !present:
			continue
		case !sent:
			return headerMismatch("the %s header is required: the arguments have a value at /%s", header, strings.Join(p.Path, "/"))
		case !present:
			return headerMismatch("%s header sent but the arguments have no value at /%s", header, strings.Join(p.Path, "/"))
		}
		got, ok := DecodeHeaderValue(raw[0])
		if !ok || len(raw) > 1 {
			return headerMismatch("%s header is not a valid value", header)
		}
		if !SameParamValue(got, body) {
			return headerMismatch("%s header value '%s' does not match body value '%s'", header, got, body)
		}
	}
	return nil
}

// SameParamValue compares an Mcp-Param-* header (decoded) with the body
// value it mirrors: strings as they are, booleans as true/false, integers
// numerically (42 and 42.0 are equal).
func SameParamValue(header string, body json.RawMessage) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return false
	}
	switch body[0] {
	case '"':
		var s string
		return json.Unmarshal(body, &s) == nil && s == header
	case 't', 'f':
		return string(body) == header
	}
	a, okA := new(big.Float).SetString(header)
	b, okB := new(big.Float).SetString(string(body))
	return okA && okB && a.Cmp(b) == 0
}
