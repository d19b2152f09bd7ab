package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// envelope is the part of a message this package inspects. Fields are raw so
// that absence ("no id") can be told apart from null.
type envelope struct {
	JSONRPC *string         `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

// Decode parses a body that holds a single JSON-RPC message or, when
// allowBatch is set (protocol revision 2025-03-26 only), a JSON array of
// messages. batch reports whether the body was an array. Any error is a
// *DecodeError.
func Decode(data []byte, allowBatch bool) (msgs []*Message, batch bool, err error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, false, &DecodeError{Code: CodeParseError, Err: errors.New("empty body")}
	}
	if !json.Valid(data) {
		return nil, false, &DecodeError{Code: CodeParseError, Err: errors.New("invalid JSON")}
	}
	if data[0] == '[' {
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
// the stdio transport, one SSE event, one POST body without batching).
func DecodeOne(data []byte) (*Message, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		if json.Valid(data) {
			return nil, &DecodeError{Code: CodeInvalidRequest, Err: errors.New("message is not a JSON object")}
		}
		return nil, &DecodeError{Code: CodeParseError, Err: errors.New("invalid JSON")}
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &DecodeError{Code: CodeParseError, Err: fmt.Errorf("invalid JSON: %w", err)}
		}
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
	if env.JSONRPC == nil || *env.JSONRPC != "2.0" {
		return nil, invalid(`"jsonrpc" must be "2.0"`)
	}
	m := &Message{Raw: data, Params: env.Params}
	switch {
	case env.Method != nil:
		if len(env.Result) > 0 || len(env.Error) > 0 {
			return nil, invalid("a message cannot have both method and result/error")
		}
		if *env.Method == "" {
			return nil, invalid("empty method")
		}
		m.Method = *env.Method
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
