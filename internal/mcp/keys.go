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
