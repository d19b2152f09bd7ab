package mcp

import "bytes"

// Keys returns the member names of the JSON object obj as written, in
// order, duplicates included (a map would merge them), with escapes
// decoded; an error when obj is not an object. obj is valid JSON (it
// passed Decode). It scans bytes instead of running a JSON decoder, since
// the gateway lists the keys of every message it forwards.
func Keys(obj []byte) ([]string, error) {
	ms, err := members(bytes.TrimSpace(obj))
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.key
	}
	return keys, nil
}

// KeyCollision returns the first key of the object obj that an earlier
// key equals up to Unicode case folding (strings.EqualFold, as
// encoding/json matches), or repeats exactly; "" when there is none or obj
// is not an object. It is Keys and a comparison of every pair, without
// allocating a string per key: the gateway asks it of every message.
func KeyCollision(obj []byte) string {
	var small [16][]byte
	keys := small[:0]
	var found []byte
	bad := false
	err := eachMember(bytes.TrimSpace(obj), func(_ int, k []byte, escaped bool, _, _ int) bool {
		if found != nil {
			return true // the answer is known; the rest must still parse
		}
		key := k[1 : len(k)-1]
		if escaped {
			s, err := decodeKey(k)
			if err != nil {
				bad = true
				return false
			}
			key = []byte(s)
		}
		for _, prev := range keys {
			if bytes.EqualFold(prev, key) {
				found = key
				return true
			}
		}
		keys = append(keys, key)
		return true
	})
	if err != nil || bad {
		return ""
	}
	return string(found)
}
