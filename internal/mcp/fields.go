package mcp

import (
	"encoding/json"
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
