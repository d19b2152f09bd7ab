package mcp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// The 2026-07-28 revision ("modern") has no handshake: every request says
// its version and capabilities in params._meta and mirrors its method and
// name into headers that must match the body. Legacy revisions
// (2025-03-26..2025-11-25) open a session with initialize.

// modernVersions are the stateless revisions this product speaks.
var modernVersions = []string{api.MCPVersion20260728}

// ModernVersions returns the stateless revisions, newest first.
func ModernVersions() []string { return slices.Clone(modernVersions) }

// IsModernVersion reports whether v is a stateless revision we speak.
func IsModernVersion(v string) bool { return slices.Contains(modernVersions, v) }

// AllVersions is every revision, modern first, as server/discover lists them.
func AllVersions() []string { return append(ModernVersions(), supportedVersions...) }

// Era is how a client speaks to the endpoint.
type Era int

// The two eras.
const (
	EraLegacy Era = iota + 1
	EraModern
)

func (e Era) String() string {
	if e == EraModern {
		return "modern"
	}
	return "legacy"
}

// RequestEra classifies a POST (its single decoded message): modern when the
// MCP-Protocol-Version header names a stateless revision, or when there is
// no session and the body carries a per-request protocol version (a modern
// client with a missing or unknown header, which validation then answers).
// Everything else is legacy: initialize, requests of a session, and old
// clients that send no header at all.
func RequestEra(h http.Header, m *Message) Era {
	if IsModernVersion(h.Get(api.HeaderProtocolVersion)) {
		return EraModern
	}
	if h.Get(api.HeaderSessionID) != "" || m == nil || m.Method == api.MethodInitialize {
		return EraLegacy
	}
	if len(Lookup(m.Params, "_meta", api.MetaProtocolVersion)) > 0 {
		return EraModern
	}
	return EraLegacy
}

// RequestMeta is the per-request metadata of a modern request.
type RequestMeta struct {
	ProtocolVersion    string
	ClientCapabilities json.RawMessage // an object
	ClientInfo         json.RawMessage // may be nil
	LogLevel           string          // "" when the client asked for no logs
}

// Capable reports whether the request declared the client capability name
// (elicitation, sampling, roots, ...).
func (m RequestMeta) Capable(name string) bool {
	return len(Lookup(m.ClientCapabilities, name)) > 0
}

// Violation is a refused modern request: the HTTP status and the JSON-RPC
// error the spec prescribes.
type Violation struct {
	Status  int
	Code    int
	Message string
	Data    any
}

func (v *Violation) Error() string { return v.Message }

// Response encodes the error for the request id.
func (v *Violation) Response(id json.RawMessage) []byte {
	return ErrorResponse(id, v.Code, v.Message, v.Data)
}

func invalidMeta(msg string) *Violation {
	return &Violation{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "Invalid params: " + msg}
}

func headerMismatch(format string, args ...any) *Violation {
	return &Violation{Status: http.StatusBadRequest, Code: api.CodeHeaderMismatch, Message: "Header mismatch: " + fmt.Sprintf(format, args...)}
}

// UnsupportedVersion is the -32022 answer naming the versions a stateless
// request may use instead (the legacy ones need an initialize handshake).
func UnsupportedVersion(requested string) *Violation {
	return &Violation{
		Status: http.StatusBadRequest, Code: api.CodeUnsupportedProtocolVersion, Message: "Unsupported protocol version",
		Data: map[string]any{"supported": ModernVersions(), "requested": requested},
	}
}

// ParseMeta reads the per-request fields of params._meta; a request that
// lacks a required one is malformed (-32602, HTTP 400). One pass over
// _meta's members (the last of a key wins, as Lookup reads it); the
// strings are decoded without a JSON decoder.
func ParseMeta(params json.RawMessage) (RequestMeta, *Violation) {
	meta := Lookup(params, "_meta")
	if len(meta) == 0 || meta[0] != '{' {
		return RequestMeta{}, invalidMeta("params._meta with " + api.MetaProtocolVersion + " and " + api.MetaClientCapabilities + " is required")
	}
	var version, level []byte
	var m RequestMeta
	_ = eachMember(meta, func(_ int, k []byte, escaped bool, vs, ve int) bool {
		switch v := meta[vs:ve]; {
		case keyEquals(k, escaped, api.MetaProtocolVersion):
			version = v
		case keyEquals(k, escaped, api.MetaClientCapabilities):
			m.ClientCapabilities = v
		case keyEquals(k, escaped, api.MetaClientInfo):
			m.ClientInfo = v
		case keyEquals(k, escaped, api.MetaLogLevel):
			level = v
		}
		return true
	})
	var ok bool
	if m.ProtocolVersion, ok = stringValue(version); !ok || m.ProtocolVersion == "" {
		return RequestMeta{}, invalidMeta("_meta." + api.MetaProtocolVersion + " must be a non-empty string")
	}
	if len(m.ClientCapabilities) == 0 || m.ClientCapabilities[0] != '{' {
		return RequestMeta{}, invalidMeta("_meta." + api.MetaClientCapabilities + " must be an object")
	}
	if len(m.ClientInfo) > 0 && m.ClientInfo[0] != '{' {
		return RequestMeta{}, invalidMeta("_meta." + api.MetaClientInfo + " must be an object")
	}
	if len(level) > 0 {
		if m.LogLevel, ok = stringValue(level); !ok || !slices.Contains(LogLevels, m.LogLevel) {
			return RequestMeta{}, invalidMeta("_meta." + api.MetaLogLevel + " must be one of " + strings.Join(LogLevels, ", "))
		}
	}
	return m, nil
}

// LogLevels are the syslog levels of MCP logging, most verbose first.
var LogLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

// namedMethods carry Mcp-Name, from params.name or params.uri.
var namedMethods = map[string]string{api.MethodToolsCall: "name", api.MethodPromptsGet: "name", api.MethodResourcesRead: "uri"}

// Name returns the value Mcp-Name mirrors for m ("" for other methods).
func Name(m *Message) string {
	field, ok := namedMethods[m.Method]
	if !ok {
		return ""
	}
	s, _ := stringValue(Lookup(m.Params, field))
	return s
}

// ValidateModern checks a modern request: its _meta, then that the headers
// mirror the body (version, method, name) as the 2026-07-28 transport
// requires, then that we speak its version. Base64-sentinel header values
// are decoded before comparing.
func ValidateModern(h http.Header, m *Message) (RequestMeta, *Violation) {
	meta, v := ParseMeta(m.Params)
	if v != nil {
		return meta, v
	}
	hv := h.Get(api.HeaderProtocolVersion)
	switch {
	case hv == "":
		return meta, headerMismatch("the %s header is required", api.HeaderProtocolVersion)
	case hv != meta.ProtocolVersion:
		return meta, headerMismatch("%s header value '%s' does not match body value '%s'", api.HeaderProtocolVersion, hv, meta.ProtocolVersion)
	case !IsModernVersion(meta.ProtocolVersion):
		return meta, UnsupportedVersion(meta.ProtocolVersion)
	}
	if got := h.Get(api.HeaderMethod); got != m.Method {
		if got == "" {
			return meta, headerMismatch("the %s header is required", api.HeaderMethod)
		}
		return meta, headerMismatch("%s header value '%s' does not match body value '%s'", api.HeaderMethod, got, m.Method)
	}
	if _, named := namedMethods[m.Method]; named {
		raw := h.Get(api.HeaderName)
		if raw == "" {
			return meta, headerMismatch("the %s header is required for %s", api.HeaderName, m.Method)
		}
		got, ok := DecodeHeaderValue(raw)
		if !ok {
			return meta, headerMismatch("%s header is not a valid value", api.HeaderName)
		}
		if want := Name(m); got != want {
			return meta, headerMismatch("%s header value '%s' does not match body value '%s'", api.HeaderName, got, want)
		}
	}
	for k, vs := range h {
		if strings.HasPrefix(k, api.HeaderParamPrefix) {
			for _, v := range vs {
				if _, ok := DecodeHeaderValue(v); !ok {
					return meta, headerMismatch("%s header has invalid characters", k)
				}
			}
		}
	}
	return meta, nil
}

const (
	sentinelPrefix = "=?base64?"
	sentinelSuffix = "?="
)

// DecodeHeaderValue returns the text a mirrored header carries: as is when
// it is plain visible ASCII, decoded when it uses the Base64 sentinel form
// (=?base64?...?=). ok is false for invalid characters or Base64.
func DecodeHeaderValue(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '\t' && (c < 0x20 || c > 0x7e) {
			return "", false
		}
	}
	if !strings.HasPrefix(v, sentinelPrefix) || !strings.HasSuffix(v, sentinelSuffix) || len(v) < len(sentinelPrefix)+len(sentinelSuffix) {
		return v, true
	}
	b, err := base64.StdEncoding.DecodeString(v[len(sentinelPrefix) : len(v)-len(sentinelSuffix)])
	if err != nil {
		return "", false
	}
	return string(b), true
}
