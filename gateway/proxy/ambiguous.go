package proxy

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// ambiguousKey returns a key of the message envelope or of its params that
// another key of the same object equals up to case, or "".
//
// encoding/json matches keys case-insensitively (last one wins), most
// other parsers match exactly: {"method":"tools/list","Method":"tools/call"}
// is tools/call to a Go server and tools/list to a Python one. The gateway
// would check one reading and the server could act on the other, so such a
// message is refused outright; without such pairs every parser agrees with
// what the allow-list saw.
func ambiguousKey(m *mcp.Message) string {
	if k := foldCollision(m.Raw); k != "" {
		return k
	}
	if p := bytes.TrimSpace(m.Params); len(p) > 0 && p[0] == '{' {
		return foldCollision(p)
	}
	return ""
}

func foldCollision(obj []byte) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(obj, &fields) != nil || len(fields) < 2 {
		return ""
	}
	seen := make(map[string]string, len(fields))
	for k := range fields {
		f := strings.ToLower(k)
		if _, dup := seen[f]; dup {
			return k
		}
		seen[f] = k
	}
	return ""
}
