// Package toolfilter is the one implementation of a server's allowed-tools
// policy, used by the gateway on its proxy path and by the sidecar around
// its MCP endpoint: a tools/call of a tool outside the allow-list is
// refused with a JSON-RPC error, and every result.tools list (JSON or SSE,
// either protocol era) is rewritten to hold only allowed tools. Applying it
// at both hops means a path that skips the gateway still cannot call, or
// see, a hidden tool.
package toolfilter

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Policy is a server's allow-list. A nil *Policy allows every tool; an
// empty one allows none.
type Policy struct {
	allowed map[string]bool
}

// New returns the policy of an allow-list; nil names (no allowed-tools
// annotation) is nil: every tool.
func New(names []string) *Policy {
	if names == nil {
		return nil
	}
	p := &Policy{allowed: make(map[string]bool, len(names))}
	for _, n := range names {
		p.allowed[n] = true
	}
	return p
}

// Active reports whether the policy hides anything at all.
func (p *Policy) Active() bool { return p != nil }

// Allows reports whether a tool may be listed and called.
func (p *Policy) Allows(name string) bool { return p == nil || p.allowed[name] }

// ToolName is the name a tools/call's params ask for ("" if none), read
// as a server decoding params into a struct reads it.
func ToolName(params json.RawMessage) string {
	return mcp.StringValue(mcp.LookupFold(params, "name"))
}

// Refused returns the first tools/call among msgs whose tool the policy
// does not allow.
func (p *Policy) Refused(msgs []*mcp.Message) (tool string, refused bool) {
	if !p.Active() {
		return "", false
	}
	for _, m := range msgs {
		if m.Method == api.MethodToolsCall {
			if name := ToolName(m.Params); !p.Allows(name) {
				return name, true
			}
		}
	}
	return "", false
}

// Refuse answers a body that holds a refused tools/call: one JSON-RPC
// error (Invalid params, as for an unknown tool) for a single message, or
// one per request of a batch, whose other requests are not run either.
// HTTP 200, as any JSON-RPC answer, so MCP clients show the message.
func Refuse(w http.ResponseWriter, msgs []*mcp.Message, batch bool, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	if !batch {
		var id json.RawMessage
		if len(msgs) == 1 && msgs[0].Kind == mcp.KindRequest {
			id = msgs[0].ID
		}
		_, _ = w.Write(mcp.ErrorResponse(id, mcp.CodeInvalidParams, msg, nil))
		return
	}
	out := []json.RawMessage{}
	for _, m := range msgs {
		if m.Kind == mcp.KindRequest {
			out = append(out, mcp.ErrorResponse(m.ID, mcp.CodeInvalidParams, msg, nil))
		}
	}
	b, _ := json.Marshal(out) // raw JSON-RPC errors always encode
	_, _ = w.Write(b)
}

// NotAllowed is the message of a refusal; where names the server.
func NotAllowed(tool, where string) string {
	return fmt.Sprintf("tool %q is not allowed on %s", tool, where)
}
