package toolfilter

import (
	"bytes"
	"encoding/json"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Body rewrites a JSON response body (one message or a batch) so that every
// result.tools list holds only allowed tools. Anything else passes byte for
// byte; a body that is not JSON is returned as it came.
//
// Any result.tools is filtered, whatever its id: a tools/list answer can
// also arrive on a GET stream that resumes (Last-Event-ID) a POST the
// client lost, where no request id is known. The other fields of the
// result stay, so the 2026-07-28 caching hints (ttlMs, cacheScope) and
// resultType reach the client unchanged; they remain true of the filtered
// list, since the allow-list is the same for every caller of the server.
func (p *Policy) Body(body []byte) []byte {
	if !p.Active() {
		return body
	}
	t := bytes.TrimSpace(body)
	if len(t) > 0 && t[0] == '[' {
		var msgs []json.RawMessage
		if json.Unmarshal(t, &msgs) != nil {
			return body
		}
		changed := false
		for i, m := range msgs {
			if out, ok := p.message(m); ok {
				msgs[i], changed = out, true
			}
		}
		if !changed {
			return body
		}
		out, err := json.Marshal(msgs)
		if err != nil {
			return body
		}
		return out
	}
	if out, ok := p.message(t); ok {
		return out
	}
	return body
}

// message returns raw with the tools the policy hides removed from
// result.tools, and true, when raw is a successful response carrying a
// tool list. Only that array is rewritten: everything else the pod wrote
// (a 2026-07-28 result's resultType, ttlMs, cacheScope and _meta,
// nextCursor, key order, number spelling) passes as it was.
func (p *Policy) message(raw []byte) ([]byte, bool) {
	tools := mcp.Lookup(raw, "result", "tools")
	if len(tools) == 0 || tools[0] != '[' || !json.Valid(raw) {
		return nil, false
	}
	// A reader that matches keys another way (case, first of duplicates)
	// could see tools this filter did not: such an answer does not pass.
	if foldCollision(raw) != "" || foldCollision(mcp.Lookup(raw, "result")) != "" {
		return mcp.ErrorResponse(mcp.Lookup(raw, "id"), mcp.CodeInternalError,
			"the server's tool list has keys differing only in case", nil), true
	}
	var list []json.RawMessage
	if json.Unmarshal(tools, &list) != nil {
		return nil, false
	}
	kept := make([]byte, 0, len(tools))
	kept = append(kept, '[')
	for _, t := range list {
		if !p.allowedDefinition(t) {
			continue
		}
		if len(kept) > 1 {
			kept = append(kept, ',')
		}
		kept = append(kept, t...)
	}
	kept = append(kept, ']')
	out, err := mcp.Set(raw, kept, "result", "tools")
	if err != nil {
		return nil, false
	}
	return out, true
}

// allowedDefinition reports whether the tool definition t names an allowed
// tool unambiguously; anything else is hidden.
func (p *Policy) allowedDefinition(t json.RawMessage) bool {
	var name string
	if foldCollision(t) != "" || json.Unmarshal(mcp.Lookup(t, "name"), &name) != nil {
		return false
	}
	return p.Allows(name)
}
