package toolfilter

import (
	"bytes"
	"encoding/json"
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

// message returns the message with disallowed tools removed and true when
// raw is a successful response whose result carries a tools list.
func (p *Policy) message(raw []byte) ([]byte, bool) {
	var msg map[string]json.RawMessage
	if json.Unmarshal(raw, &msg) != nil {
		return nil, false
	}
	if len(msg["result"]) == 0 {
		return nil, false
	}
	var result map[string]json.RawMessage
	if json.Unmarshal(msg["result"], &result) != nil {
		return nil, false
	}
	var tools []json.RawMessage
	if json.Unmarshal(result["tools"], &tools) != nil {
		return nil, false
	}
	kept := make([]json.RawMessage, 0, len(tools))
	for _, t := range tools {
		var named struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(t, &named) == nil && p.Allows(named.Name) {
			kept = append(kept, t)
		}
	}
	var err error
	if result["tools"], err = json.Marshal(kept); err != nil {
		return nil, false
	}
	if msg["result"], err = json.Marshal(result); err != nil {
		return nil, false
	}
	out, err := json.Marshal(msg)
	if err != nil {
		return nil, false
	}
	return out, true
}
