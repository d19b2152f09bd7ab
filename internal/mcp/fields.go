package mcp

import (
	"encoding/json"
)

// The request fields the bridge routes by are read as a server that
// decodes them into structs reads them (keys matched up to case, the last
// one wins: LookupFold), so that what the bridge rewrites is what the
// server acts on; without decoding the message again.

// ProgressToken returns the raw progress token a request asks for in
// params._meta.progressToken, or nil.
func ProgressToken(params json.RawMessage) json.RawMessage {
	return LookupFold(params, "_meta", "progressToken")
}

// NotificationProgressToken returns params.progressToken of a
// notifications/progress message, or nil.
func NotificationProgressToken(params json.RawMessage) json.RawMessage {
	return LookupFold(params, "progressToken")
}

// CancelledRequestID returns params.requestId of a notifications/cancelled
// message, or nil.
func CancelledRequestID(params json.RawMessage) json.RawMessage {
	return LookupFold(params, "requestId")
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
