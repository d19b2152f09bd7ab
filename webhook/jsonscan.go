package webhook

import (
	"bytes"
	"errors"
)

// The patch walk splits objects and arrays into members with a single-pass
// scanner instead of json.Unmarshal into map[string]json.RawMessage: that
// validates and rescans every subtree once per nesting level, which made a
// Deployment patch cost more than decoding it whole. Input here is always
// JSON that was already decoded once (the API server's object, our own
// encoding), so the scanner only needs to find boundaries; malformed input
// still yields an error, never a panic.

var errMalformed = errors.New("malformed JSON")

// member is one key (nil for array items) and its raw value.
type member struct {
	key   []byte // still quoted and escaped, as in the input
	value []byte
}

// members splits the object or array v into its members.
func members(v []byte) ([]member, error) {
	v = bytes.TrimSpace(v)
	if len(v) < 2 || (v[0] != '{' && v[0] != '[') {
		return nil, errMalformed
	}
	isObject := v[0] == '{'
	var out []member
	i := skipSpace(v, 1)
	if i < len(v) && (v[i] == '}' || v[i] == ']') {
		return nil, nil
	}
	for i < len(v) {
		var m member
		if isObject {
			end, err := skipString(v, i)
			if err != nil {
				return nil, err
			}
			m.key = v[i:end]
			i = skipSpace(v, end)
			if i >= len(v) || v[i] != ':' {
				return nil, errMalformed
			}
			i = skipSpace(v, i+1)
		}
		end, err := skipValue(v, i)
		if err != nil {
			return nil, err
		}
		m.value = v[i:end]
		out = append(out, m)
		i = skipSpace(v, end)
		if i >= len(v) {
			return nil, errMalformed
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case '}', ']':
			return out, nil
		default:
			return nil, errMalformed
		}
	}
	return nil, errMalformed
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at v[i].
func skipString(v []byte, i int) (int, error) {
	if i >= len(v) || v[i] != '"' {
		return 0, errMalformed
	}
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errMalformed
}

// skipValue returns the index after the value starting at v[i].
func skipValue(v []byte, i int) (int, error) {
	if i >= len(v) {
		return 0, errMalformed
	}
	switch v[i] {
	case '"':
		return skipString(v, i)
	case '{', '[':
		depth := 0
		for ; i < len(v); i++ {
			switch v[i] {
			case '"':
				end, err := skipString(v, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errMalformed
	default: // number, true, false, null
		start := i
		for i < len(v) && v[i] != ',' && v[i] != '}' && v[i] != ']' && v[i] != ' ' && v[i] != '\n' && v[i] != '\t' && v[i] != '\r' {
			i++
		}
		if i == start {
			return 0, errMalformed
		}
		return i, nil
	}
}
