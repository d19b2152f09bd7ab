package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// Every message the bridge and the gateway forward is read here once, in
// one pass over its bytes: the JSON is validated (the grammar json.Valid
// checks, with its nesting limit) while the envelope's members are found.
// encoding/json would validate the whole message, then validate it again
// while decoding, and allocate a decoder, the field strings and a state
// stack per message: on the sidecar's hot path that was a tenth of its CPU.

// errSyntax is any violation of the JSON grammar.
var errSyntax = errors.New("invalid JSON")

// maxNesting is encoding/json's limit of nested arrays and objects.
const maxNesting = 10000

// scanValue validates the JSON value starting at b[i] (no space before it),
// inside depth containers, and returns the offset just past it.
func scanValue(b []byte, i, depth int) (int, error) {
	switch {
	case i >= len(b):
		return 0, errSyntax
	case b[i] == '"':
		return scanStrictString(b, i)
	case b[i] == '{' || b[i] == '[':
		return scanContainer(b, i, depth)
	case b[i] == 't':
		return scanLiteral(b, i, "true")
	case b[i] == 'f':
		return scanLiteral(b, i, "false")
	case b[i] == 'n':
		return scanLiteral(b, i, "null")
	}
	return scanNumber(b, i)
}

// scanContainer validates the object or array at b[i] without recursion:
// stack holds the open containers ('{' or '['), innermost last, within
// depth others.
func scanContainer(b []byte, i, depth int) (int, error) {
	var small [16]byte
	stack := small[:0]
	var err error
	for {
		// b[i] opens a container.
		stack = append(stack, b[i])
		if depth+len(stack) > maxNesting {
			return 0, errSyntax
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer(stack[len(stack)-1]) {
			if i, stack, err = afterMember(b, i, stack); err != nil || len(stack) == 0 {
				return i, err
			}
		}
		// A member of the innermost container is due at i.
		for {
			if i, err = memberStart(b, i, stack); err != nil {
				return 0, err
			}
			if b[i] == '{' || b[i] == '[' {
				break // it opens the next container
			}
			if i, err = scanValue(b, i, 0); err != nil { // a scalar
				return 0, err
			}
			if i, stack, err = afterMember(b, i, stack); err != nil || len(stack) == 0 {
				return i, err
			}
		}
	}
}

func closer(open byte) byte {
	if open == '[' {
		return ']'
	}
	return '}'
}

// memberStart skips an object member's key and colon (in an object) and
// the space before the value; it returns the value's offset.
func memberStart(b []byte, i int, stack []byte) (int, error) {
	i = skipSpace(b, i)
	if stack[len(stack)-1] == '{' {
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax
		}
		end, err := scanStrictString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		i++
	}
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errSyntax
	}
	return i, nil
}

// afterMember consumes what follows a member: space, then a comma (the
// next member is due: returns with the stack unchanged) or the closing
// bracket of the innermost container (popped; repeated for the ones it
// closes in turn).
func afterMember(b []byte, i int, stack []byte) (int, []byte, error) {
	for len(stack) > 0 {
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, nil, errSyntax
		}
		switch b[i] {
		case ',':
			return i + 1, stack, nil
		case closer(stack[len(stack)-1]):
			i++
			stack = stack[:len(stack)-1]
		default:
			return 0, nil, errSyntax
		}
	}
	return i, stack, nil
}

// scanStrictString validates the string at b[i] ('"'): no control
// characters, only JSON escapes. Like encoding/json it does not judge the
// UTF-8 of the bytes (decoding replaces what is invalid).
func scanStrictString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, errSyntax
		case c == '\\':
			j++
			if j >= len(b) {
				return 0, errSyntax
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) || !isHex(b[j+1]) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) {
					return 0, errSyntax
				}
				j += 4
			default:
				return 0, errSyntax
			}
		}
	}
	return 0, errSyntax
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, errSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, errSyntax
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// validJSON is json.Valid on this package's scanner.
func validJSON(b []byte) bool {
	i := skipSpace(b, 0)
	end, err := scanValue(b, i, 0)
	return err == nil && skipSpace(b, end) == len(b)
}

// stringValue decodes the JSON string raw as encoding/json does (escapes
// decoded, invalid UTF-8 replaced); ok is false when raw is not a string.
// Plain strings, the usual case, cost one allocation and no decoder.
func stringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// StringValue is the JSON string raw decoded, "" for anything else.
func StringValue(raw []byte) string {
	s, _ := stringValue(raw)
	return s
}

// keyMatches reports whether the quoted key (escaped: it has a backslash)
// names field as encoding/json matches struct fields: exactly, else up to
// Unicode case folding.
func keyMatches(quoted []byte, escaped bool, field string) bool {
	if !escaped {
		k := quoted[1 : len(quoted)-1]
		return string(k) == field || bytes.EqualFold(k, []byte(field))
	}
	k, err := decodeKey(quoted)
	return err == nil && strings.EqualFold(k, field)
}
