// Package mcp holds the MCP wire helpers shared by the sidecar (transport/)
// and the gateway: JSON-RPC message classification, error responses,
// protocol-version checks and session ids.
//
// It deliberately works on raw bytes. A bridge or a proxy must forward
// messages it does not fully understand (new methods, extra fields, future
// protocol revisions) byte for byte, so this package only looks at the
// envelope (jsonrpc, id, method, result/error) and never re-encodes a message
// body. Typed MCP structures live in the official SDK
// (github.com/modelcontextprotocol/go-sdk); its error codes are reused here.
package mcp
