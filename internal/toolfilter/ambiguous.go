package toolfilter

import (
	"bytes"
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

// foldCollision lists the object's keys as written (a map would merge
// exact duplicates) and compares every pair with strings.EqualFold, which
// folds like encoding/json does. Not an object: "".
func foldCollision(obj []byte) string {
	keys, err := mcp.Keys(obj)
	if err != nil {
		return ""
	}
	for i, k := range keys {
		for _, prev := range keys[:i] {
			if strings.EqualFold(prev, k) {
				return k
			}
		}
	}
	return ""
}
