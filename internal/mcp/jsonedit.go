package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The bridge and the gateway forward messages byte for byte; where they must
// change one field (a JSON-RPC id rewritten for a shared process, resultType
// added for a modern client, a subscription id mapped back), they splice the
// bytes of that one value instead of decoding and re-encoding the message,
// which would cost time and lose what the decoder does not keep (key order,
// number spelling, fields unknown to a struct). Inputs are valid JSON: every
// message passed Decode or DecodeOne first.

// errNotObject means a path step does not name a member of an object.
var errNotObject = errors.New("not a JSON object")

// Lookup returns the raw value at path (object keys from the top), or nil
// when any step is missing or not an object. With duplicate keys the last
// wins, as with encoding/json. It allocates nothing.
func Lookup(raw []byte, path ...string) []byte {
	v := bytes.TrimSpace(raw)
	for _, key := range path {
		var found bool
		v, found = findValue(v, key)
		if !found {
			return nil
		}
	}
	return v
}

// findValue returns the value of the last member key of obj.
func findValue(obj []byte, key string) ([]byte, bool) {
	var val []byte
	found := false
	err := eachMember(obj, func(_ int, k []byte, escaped bool, vs, ve int) bool {
		if keyEquals(k, escaped, key) {
			val, found = obj[vs:ve], true
		}
		return true
	})
	return val, found && err == nil
}

func keyEquals(quoted []byte, escaped bool, key string) bool {
	if !escaped {
		return string(quoted[1:len(quoted)-1]) == key
	}
	k, err := decodeKey(quoted)
	return err == nil && k == key
}

// eachMember calls f with each member of the object obj: its quoted key
// (escaped: it has a backslash) and its value's offsets; f returns false
// to stop.
func eachMember(obj []byte, f func(keyStart int, key []byte, escaped bool, valStart, valEnd int) bool) error {
	if len(obj) < 2 || obj[0] != '{' {
		return errNotObject
	}
	i := skipSpace(obj, 1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return errors.New("object key expected")
		}
		keyEnd, escaped, err := scanString(obj, i)
		if err != nil {
			return err
		}
		key := obj[i:keyEnd]
		i = skipSpace(obj, keyEnd)
		if i >= len(obj) || obj[i] != ':' {
			return errors.New("':' expected")
		}
		vs := skipSpace(obj, i+1)
		ve, err := skipValue(obj, vs)
		if err != nil {
			return err
		}
		if !f(keyEnd-len(key), key, escaped, vs, ve) {
			return nil
		}
		i = skipSpace(obj, ve)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
			continue
		}
		if i < len(obj) && obj[i] == '}' {
			return nil
		}
		return errors.New("',' or '}' expected")
	}
	return errors.New("unterminated object")
}

// Set returns a copy of raw with the value at path replaced by val (raw
// JSON). A missing last member is added at the end of its object; missing
// objects on the way are created. It finds the place in one walk down the
// path and copies raw once.
func Set(raw []byte, val []byte, path ...string) ([]byte, error) {
	if len(path) == 0 {
		return append([]byte(nil), val...), nil
	}
	raw = bytes.TrimSpace(raw)
	obj, base := raw, 0 // obj is raw[base:base+len(obj)]
	for depth, key := range path {
		vs, ve, found, empty, err := findMember(obj, key)
		if err != nil {
			return nil, fmt.Errorf("setting %q: %w", key, err)
		}
		if !found {
			inner := val
			for j := len(path) - 1; j > depth; j-- {
				inner = objectOf(path[j], inner)
			}
			return insertMember(raw, base+len(obj)-1, empty, key, inner), nil
		}
		if depth == len(path)-1 {
			return splice(raw, base+vs, base+ve, val), nil
		}
		obj, base = obj[vs:ve], base+vs
	}
	return nil, nil // not reached: the loop returns at the last key
}

// findMember returns the offsets of the value of obj's last member key
// (an exact match), and whether obj has no members at all.
func findMember(obj []byte, key string) (vs, ve int, found, empty bool, err error) {
	empty = true
	err = eachMember(obj, func(_ int, k []byte, escaped bool, s, e int) bool {
		empty = false
		if keyEquals(k, escaped, key) {
			vs, ve, found = s, e, true
		}
		return true
	})
	return vs, ve, found, empty, err
}

// LookupFold is Lookup matching keys as encoding/json matches a struct's
// fields (exactly, else up to Unicode case folding; the last one wins):
// what a server that decodes into structs reads at path.
func LookupFold(raw []byte, path ...string) []byte {
	v := bytes.TrimSpace(raw)
	for _, key := range path {
		var found bool
		v, found = findValueFold(v, key)
		if !found {
			return nil
		}
	}
	return v
}

func findValueFold(obj []byte, key string) ([]byte, bool) {
	var val []byte
	found := false
	err := eachMember(obj, func(_ int, k []byte, escaped bool, vs, ve int) bool {
		if keyMatches(k, escaped, key) {
			val, found = obj[vs:ve], true
		}
		return true
	})
	return val, found && err == nil
}

// Delete returns a copy of raw without the member at path; raw itself when
// there is none.
func Delete(raw []byte, path ...string) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	ms, err := members(raw)
	if err != nil || len(path) == 0 {
		return raw, err
	}
	i := lastMember(ms, path[0])
	if i < 0 {
		return raw, nil
	}
	m := ms[i]
	if len(path) > 1 {
		inner, err := Delete(raw[m.valStart:m.valEnd], path[1:]...)
		if err != nil {
			return nil, err
		}
		return splice(raw, m.valStart, m.valEnd, inner), nil
	}
	// Remove the member with one adjacent comma.
	start, end := m.start, m.valEnd
	switch {
	case i+1 < len(ms):
		end = ms[i+1].start
	case i > 0:
		start = ms[i-1].valEnd
	}
	return splice(raw, start, end, nil), nil
}

// member is one member of an object: where it starts (its key's quote) and
// where its value starts and ends, as offsets into the object's bytes.
type member struct {
	key                     string
	start, valStart, valEnd int
}

func lastMember(ms []member, key string) int {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].key == key {
			return i
		}
	}
	return -1
}

// members lists the members of the object obj (no surrounding space).
func members(obj []byte) ([]member, error) {
	var out []member
	var kerr error
	err := eachMember(obj, func(start int, k []byte, _ bool, vs, ve int) bool {
		key, err := decodeKey(k)
		if err != nil {
			kerr = err
			return false
		}
		out = append(out, member{key: key, start: start, valStart: vs, valEnd: ve})
		return true
	})
	if err == nil {
		err = kerr
	}
	return out, err
}

func decodeKey(quoted []byte) (string, error) {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", fmt.Errorf("object key: %w", err)
	}
	return s, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the string starting at b[i] ('"').
func skipString(b []byte, i int) (int, error) {
	end, _, err := scanString(b, i)
	return end, err
}

// scanString is skipString that also reports whether it has escapes.
func scanString(b []byte, i int) (int, bool, error) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped, nil
		}
	}
	return 0, false, errors.New("unterminated string")
}

// skipValue returns the offset after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("value expected")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return 0, errors.New("value expected")
		}
		return j, nil
	}
}

func splice(b []byte, start, end int, with []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(with))
	out = append(out, b[:start]...)
	out = append(out, with...)
	return append(out, b[end:]...)
}

// insertMember adds "key":val to raw before the closing brace at offset
// closing of an object (empty: it has no members yet).
func insertMember(raw []byte, closing int, empty bool, key string, val []byte) []byte {
	k, _ := json.Marshal(key) // a string always encodes
	out := make([]byte, 0, len(raw)+len(k)+len(val)+2)
	out = append(out, raw[:closing]...)
	if !empty {
		out = append(out, ',')
	}
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, val...)
	return append(out, raw[closing:]...)
}

func objectOf(key string, val []byte) []byte {
	k, _ := json.Marshal(key)
	out := make([]byte, 0, len(k)+len(val)+3)
	out = append(out, '{')
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, val...)
	return append(out, '}')
}
