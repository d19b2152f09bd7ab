package api

// Headers on the gateway-to-sidecar hop that carry who the caller is (never
// the token). The gateway removes any a client sent and sets its own; the
// sidecar trusts them only from an authenticated gateway.
const (
	HeaderCallerUser   = "Mcp-Orchestrator-Caller"
	HeaderCallerGroups = "Mcp-Orchestrator-Caller-Groups"
)
