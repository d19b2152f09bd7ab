package toolfilter

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// AmbiguousKey returns a key of the message envelope or of its params that
// another key of the same object equals up to case, or repeats exactly; ""
// when there is none.
//
// encoding/json matches keys with Unicode case folding (so "paramſ", with a
// long s, is params) and keeps the last of duplicate keys; other parsers
// match exactly and may keep the first. The gateway would check one
// reading and the server could act on the other, so such a message is
// refused outright; without such pairs every parser agrees with what the
// allow-list saw. The gateway checks every message; the sidecar every
// message of a server with an allow-list.
func AmbiguousKey(m *mcp.Message) string {
	if k := foldCollision(m.Raw); k != "" {
		return k
	}
	if p := bytes.TrimSpace(m.Params); len(p) > 0 && p[0] == '{' {
		return foldCollision(p)
	}
	return ""
}

// foldCollision lists the object's keys as written (a map would merge exact
// duplicates) and compares every pair with strings.EqualFold, which folds
// like encoding/json does.
func foldCollision(obj []byte) string {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		k, ok := t.(string)
		if !ok {
			return ""
		}
		for _, prev := range keys {
			if strings.EqualFold(prev, k) {
				return k
			}
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}
