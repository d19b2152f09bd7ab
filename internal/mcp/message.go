package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Kind classifies a JSON-RPC message.
type Kind int

// The kinds of JSON-RPC 2.0 messages.
const (
	KindRequest Kind = iota + 1
	KindNotification
	KindResponse
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResponse:
		return "response"
	}
	return "unknown"
}

// Message is one decoded JSON-RPC message. Raw holds the exact bytes it was
// decoded from so a bridge can forward it without re-encoding.
type Message struct {
	Kind Kind
	// ID is the raw JSON of the id (for requests and responses), as received.
	ID json.RawMessage
	// Method is set for requests and notifications.
	Method string
	// Params is the raw params, if any.
	Params json.RawMessage
	// IsError is true for an error response.
	IsError bool
	// Raw is the message exactly as received (trimmed of surrounding space).
	Raw []byte
}

// Key returns a canonical form of the id, usable as a map key: a JSON string
// stays quoted, an integral number loses any fraction/exponent notation so
// that 1, 1.0 and 1e0 are the same request.
func (m *Message) Key() string { return IDKey(m.ID) }

// IDKey canonicalises a raw JSON-RPC id; see [Message.Key].
func IDKey(id json.RawMessage) string {
	id = bytes.TrimSpace(id)
	if len(id) == 0 {
		return ""
	}
	if id[0] == '"' {
		var s string
		if json.Unmarshal(id, &s) == nil {
			b, _ := json.Marshal(s)
			return string(b)
		}
		return string(id)
	}
	if isIntegerLiteral(id) {
		// Exact, whatever its size: float64 would merge ids above 2^53.
		if string(id) == "-0" {
			return "0"
		}
		return string(id)
	}
	if f, err := strconv.ParseFloat(string(id), 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return string(id)
}

// isIntegerLiteral reports whether id is a JSON integer (optional minus,
// digits; JSON forbids leading zeros, so the text is already canonical).
func isIntegerLiteral(id []byte) bool {
	if len(id) > 0 && id[0] == '-' {
		id = id[1:]
	}
	if len(id) == 0 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// DecodeError is returned by [Decode]; Code is the JSON-RPC error code the
// peer should receive (CodeParseError or CodeInvalidRequest).
type DecodeError struct {
	Code int
	// ID is the id of the offending message when it could be recovered, so the
	// error response can name it; nil otherwise (the spec then demands null).
	ID  json.RawMessage
	Err error
}

func (e *DecodeError) Error() string { return e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// envelope is the part of a message this package inspects. Fields are raw
// so that absence ("no id") can be told apart from null; jsonrpc and method
// are JSON strings, nil when absent or null (as encoding/json leaves a
// *string).
type envelope struct {
	JSONRPC []byte
	ID      json.RawMessage
	Method  []byte
	Params  json.RawMessage
	Result  json.RawMessage
	Error   json.RawMessage
}

// errType is a member of the envelope with a value of the wrong type (a
// method that is not a string): the message is invalid, not unreadable.
var errType = errors.New("a member of the message has the wrong type")

// scanEnvelope validates the object data (trimmed) and fills env from its
// members, matching keys as encoding/json matches a struct's fields
// (exactly or up to case, the last one wins). A grammar error anywhere
// wins over a type error, as with json.Unmarshal.
func scanEnvelope(data []byte) (env envelope, err error) {
	var typeErr error
	i := skipSpace(data, 1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return env, errSyntax
			}
			keyEnd, err := scanStrictString(data, i)
			if err != nil {
				return env, err
			}
			key, escaped := data[i:keyEnd], bytes.IndexByte(data[i:keyEnd], '\\') >= 0
			i = skipSpace(data, keyEnd)
			if i >= len(data) || data[i] != ':' {
				return env, errSyntax
			}
			vs := skipSpace(data, i+1)
			ve, err := scanValue(data, vs, 1)
			if err != nil {
				return env, err
			}
			if err := env.set(key, escaped, data[vs:ve]); err != nil && typeErr == nil {
				typeErr = err
			}
			i = skipSpace(data, ve)
			if i < len(data) && data[i] == ',' {
				i = skipSpace(data, i+1)
				continue
			}
			if i >= len(data) || data[i] != '}' {
				return env, errSyntax
			}
			i++
			break
		}
	}
	if skipSpace(data, i) != len(data) {
		return env, errSyntax // something after the object
	}
	return env, typeErr
}

// set stores one member's value if its key names a field of the envelope.
func (env *envelope) set(key []byte, escaped bool, val []byte) error {
	switch {
	case keyMatches(key, escaped, "jsonrpc"):
		return setString(&env.JSONRPC, val)
	case keyMatches(key, escaped, "method"):
		return setString(&env.Method, val)
	case keyMatches(key, escaped, "id"):
		env.ID = val
	case keyMatches(key, escaped, "params"):
		env.Params = val
	case keyMatches(key, escaped, "result"):
		env.Result = val
	case keyMatches(key, escaped, "error"):
		env.Error = val
	}
	return nil
}

// setString is encoding/json's decoding into a *string: null clears it,
// anything but a string is a type error.
func setString(dst *[]byte, val []byte) error {
	switch val[0] {
	case 'n':
		*dst = nil
	case '"':
		*dst = val
	default:
		return errType
	}
	return nil
}

// isString reports whether the JSON string raw decodes to s.
func isString(raw []byte, s string) bool {
	if len(raw) == len(s)+2 && string(raw[1:len(raw)-1]) == s {
		return true
	}
	v, ok := stringValue(raw)
	return ok && v == s
}

// methodName decodes a method; the names of MCP, the usual case, without
// allocating.
func methodName(raw []byte) string {
	if m, ok := knownMethods[string(raw)]; ok {
		return m
	}
	s, _ := stringValue(raw)
	return s
}

// knownMethods maps the quoted methods of MCP to their names.
var knownMethods = func() map[string]string {
	names := []string{api.MethodInitialize, api.MethodPing, api.MethodToolsList, api.MethodToolsCall, api.MethodPromptsList, api.MethodPromptsGet,
		api.MethodResourcesList, api.MethodResourcesRead, api.MethodResourceTemplatesList, api.MethodResourcesSubscribe, api.MethodResourcesUnsubscribe,
		api.MethodComplete, api.MethodSetLevel, api.MethodDiscover, api.MethodSubscriptionsListen,
		api.MethodCreateMessage, api.MethodElicit, api.MethodRootsList,
		api.MethodInitialized, api.MethodCancelled, api.MethodProgress, api.MethodLogMessage,
		api.MethodToolsListChanged, api.MethodPromptsListChanged, api.MethodResourcesListChanged,
		api.MethodResourcesUpdated, api.MethodRootsListChanged, api.MethodSubscriptionsAcknowledged}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[`"`+n+`"`] = n
	}
	return m
}()

// Decode parses a body that holds a single JSON-RPC message or, when
// allowBatch is set (protocol revision 2025-03-26 only), a JSON array of
// messages. batch reports whether the body was an array. Any error is a
// *DecodeError.
func Decode(data []byte, allowBatch bool) (msgs []*Message, batch bool, err error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, false, &DecodeError{Code: CodeParseError, Err: errors.New("empty body")}
	}
	if data[0] == '[' {
		if !validJSON(data) {
			return nil, false, &DecodeError{Code: CodeParseError, Err: errors.New("invalid JSON")}
		}
		if !allowBatch {
			return nil, true, &DecodeError{Code: CodeInvalidRequest, Err: errors.New("JSON-RPC batches are not supported by this protocol version")}
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, true, &DecodeError{Code: CodeParseError, Err: fmt.Errorf("decoding batch: %w", err)}
		}
		if len(raws) == 0 {
			return nil, true, &DecodeError{Code: CodeInvalidRequest, Err: errors.New("empty batch")}
		}
		msgs = make([]*Message, 0, len(raws))
		for _, r := range raws {
			m, err := DecodeOne(r)
			if err != nil {
				return nil, true, err
			}
			msgs = append(msgs, m)
		}
		return msgs, true, nil
	}
	m, err := DecodeOne(data)
	if err != nil {
		return nil, false, err
	}
	return []*Message{m}, false, nil
}

// DecodeOne parses and classifies exactly one JSON-RPC message (one line of
// the stdio transport, one SSE event, one POST body without batching). The
// message's Raw, ID and Params are slices of data: a caller that reuses
// data (a read buffer) decodes a copy.
func DecodeOne(data []byte) (*Message, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		if validJSON(data) {
			return nil, &DecodeError{Code: CodeInvalidRequest, Err: errors.New("message is not a JSON object")}
		}
		return nil, &DecodeError{Code: CodeParseError, Err: errors.New("invalid JSON")}
	}
	env, err := scanEnvelope(data)
	switch {
	case errors.Is(err, errSyntax):
		return nil, &DecodeError{Code: CodeParseError, Err: errSyntax}
	case err != nil:
		return nil, &DecodeError{Code: CodeInvalidRequest, Err: fmt.Errorf("invalid message: %w", err)}
	}
	hasID := len(env.ID) > 0
	invalid := func(msg string) error {
		de := &DecodeError{Code: CodeInvalidRequest, Err: errors.New(msg)}
		if hasID && validID(env.ID, true) {
			de.ID = env.ID
		}
		return de
	}
	if v := env.JSONRPC; v == nil || !isString(v, "2.0") {
		return nil, invalid(`"jsonrpc" must be "2.0"`)
	}
	m := &Message{Raw: data, Params: env.Params}
	switch {
	case env.Method != nil:
		if len(env.Result) > 0 || len(env.Error) > 0 {
			return nil, invalid("a message cannot have both method and result/error")
		}
		if m.Method = methodName(env.Method); m.Method == "" {
			return nil, invalid("empty method")
		}
		if p := bytes.TrimSpace(env.Params); len(p) > 0 && p[0] != '{' && p[0] != '[' {
			return nil, invalid("params must be an object or an array")
		}
		if !hasID {
			m.Kind = KindNotification
			return m, nil
		}
		// MCP forbids null request ids even though JSON-RPC allows them.
		if !validID(env.ID, false) {
			return nil, invalid("request id must be a string or a number")
		}
		m.Kind = KindRequest
		m.ID = env.ID
		return m, nil
	case len(env.Result) > 0 || len(env.Error) > 0:
		if len(env.Result) > 0 && len(env.Error) > 0 {
			return nil, invalid("a response cannot have both result and error")
		}
		if !hasID || !validID(env.ID, true) {
			return nil, invalid("response id must be a string, a number or null")
		}
		m.Kind = KindResponse
		m.ID = env.ID
		m.IsError = len(env.Error) > 0
		return m, nil
	}
	return nil, invalid("message has neither method nor result nor error")
}

// validID reports whether raw is a JSON string or number (or null if allowed).
func validID(raw json.RawMessage, allowNull bool) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		return true
	case bytes.Equal(raw, []byte("null")):
		return allowNull
	}
	return false
}
