package mcp

import (
	"encoding/json"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// JSON-RPC 2.0 error codes (the SDK's values, re-exported so callers need one
// import).
const (
	CodeParseError     = jsonrpc.CodeParseError
	CodeInvalidRequest = jsonrpc.CodeInvalidRequest
	CodeMethodNotFound = jsonrpc.CodeMethodNotFound
	CodeInvalidParams  = jsonrpc.CodeInvalidParams
	CodeInternalError  = jsonrpc.CodeInternalError
)

type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type wireResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   wireError       `json:"error"`
}

// ErrorResponse encodes a JSON-RPC error response for the request id (nil
// or empty id encodes as null, as the spec requires when it is unknown).
// data may be nil.
func ErrorResponse(id json.RawMessage, code int, message string, data any) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(wireResponse{JSONRPC: "2.0", ID: id, Error: wireError{Code: code, Message: message, Data: data}})
	if err != nil {
		// data failed to encode: drop it rather than fail the error path.
		b, _ = json.Marshal(wireResponse{JSONRPC: "2.0", ID: id, Error: wireError{Code: code, Message: message}})
	}
	return b
}

// ParseError is the response to a body that is not JSON (-32700).
func ParseError(detail string) []byte {
	return ErrorResponse(nil, CodeParseError, "Parse error: "+detail, nil)
}

// InvalidRequest is the response to a structurally wrong message (-32600).
func InvalidRequest(id json.RawMessage, detail string) []byte {
	return ErrorResponse(id, CodeInvalidRequest, "Invalid Request: "+detail, nil)
}

// InternalError is the response when the bridge itself fails (-32603).
func InternalError(id json.RawMessage, detail string) []byte {
	return ErrorResponse(id, CodeInternalError, "Internal error: "+detail, nil)
}

// ServerGone is the response to a request whose server process ended before
// answering; detail names the exit status.
func ServerGone(id json.RawMessage, detail string) []byte {
	return ErrorResponse(id, api.CodeServerError, "MCP server process ended: "+detail, nil)
}

// DecodeErrorResponse turns an error from [Decode] into the response bytes.
func DecodeErrorResponse(err error) []byte {
	if de, ok := err.(*DecodeError); ok {
		if de.Code == CodeParseError {
			return ParseError(de.Err.Error())
		}
		return ErrorResponse(de.ID, de.Code, "Invalid Request: "+de.Err.Error(), nil)
	}
	return ParseError(err.Error())
}
