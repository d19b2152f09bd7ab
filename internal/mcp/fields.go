package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ProgressToken returns the raw progress token a request asks for in
// params._meta.progressToken, or nil.
func ProgressToken(params json.RawMessage) json.RawMessage {
	var p struct {
		Meta struct {
			ProgressToken json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
	}
	if len(params) == 0 || json.Unmarshal(params, &p) != nil {
		return nil
	}
	return p.Meta.ProgressToken
}

// NotificationProgressToken returns params.progressToken of a
// notifications/progress message, or nil.
func NotificationProgressToken(params json.RawMessage) json.RawMessage {
	var p struct {
		ProgressToken json.RawMessage `json:"progressToken"`
	}
	if len(params) == 0 || json.Unmarshal(params, &p) != nil {
		return nil
	}
	return p.ProgressToken
}

// CancelledRequestID returns params.requestId of a notifications/cancelled
// message, or nil.
func CancelledRequestID(params json.RawMessage) json.RawMessage {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if len(params) == 0 || json.Unmarshal(params, &p) != nil {
		return nil
	}
	return p.RequestID
}

// InitializeVersion returns params.protocolVersion of an initialize request
// or the result.protocolVersion of its response.
func InitializeVersion(raw []byte) string {
	var p struct {
		Params struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"params"`
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	if p.Result.ProtocolVersion != "" {
		return p.Result.ProtocolVersion
	}
	return p.Params.ProtocolVersion
}

// SetID returns a copy of the message raw with its top-level "id" replaced
// by id. Used where ids must be rewritten (one process shared by several
// sessions). Only the top-level object is re-encoded; nested values are kept
// as they were (compacted).
func SetID(raw []byte, id json.RawMessage) ([]byte, error) {
	return setField(raw, "id", id)
}

// SetNotificationProgressToken rewrites params.progressToken of a
// notifications/progress message.
func SetNotificationProgressToken(raw []byte, token json.RawMessage) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("decoding message: %w", err)
	}
	params, err := setField(top["params"], "progressToken", token)
	if err != nil {
		return nil, err
	}
	return setField(raw, "params", params)
}

// SetRequestProgressToken rewrites params._meta.progressToken of a request.
func SetRequestProgressToken(raw []byte, token json.RawMessage) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("decoding message: %w", err)
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(top["params"], &params); err != nil {
		return nil, fmt.Errorf("decoding params: %w", err)
	}
	meta, err := setField(params["_meta"], "progressToken", token)
	if err != nil {
		return nil, err
	}
	p, err := setField(top["params"], "_meta", meta)
	if err != nil {
		return nil, err
	}
	return setField(raw, "params", p)
}

func setField(raw []byte, key string, val json.RawMessage) ([]byte, error) {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("decoding object: %w", err)
		}
	}
	m[key] = val
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding object: %w", err)
	}
	return b, nil
}
