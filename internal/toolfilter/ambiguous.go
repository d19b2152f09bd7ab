package toolfilter

import (
	"bytes"

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

// foldCollision is a key of obj that an earlier key equals up to case (as
// strings.EqualFold folds, like encoding/json), or repeats; "" when none or
// obj is not an object.
func foldCollision(obj []byte) string { return mcp.KeyCollision(obj) }
