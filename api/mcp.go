package api

// MCP protocol revisions the product speaks. The legacy revisions use the
// initialize handshake and sessions; 2026-07-28 is stateless.
const (
	MCPVersion20250326 = "2025-03-26"
	MCPVersion20250618 = "2025-06-18"
	MCPVersion20251125 = "2025-11-25"
	MCPVersion20260728 = "2026-07-28"
)

// Streamable HTTP headers. Go canonicalises header names on lookup, so any
// spelling works; these are the canonical forms.
const (
	HeaderProtocolVersion = "Mcp-Protocol-Version"
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderLastEventID     = "Last-Event-Id"
	HeaderMethod          = "Mcp-Method"
	HeaderName            = "Mcp-Name"
	// HeaderParamPrefix starts the headers a tool's x-mcp-header mirrors.
	HeaderParamPrefix = "Mcp-Param-"
)

// JSON-RPC error codes of MCP beyond the JSON-RPC 2.0 ones.
const (
	// CodeServerError (implementation-defined range): the MCP server behind
	// a bridge failed (process exited, session ended, not reachable).
	CodeServerError = -32000
	// CodeSessionNotFound is the body code of a 404 for an unknown session
	// (the value the reference TypeScript SDK uses).
	CodeSessionNotFound = -32001
	// 2026-07-28 reserves -32020..-32099 for the specification.
	CodeHeaderMismatch                  = -32020
	CodeMissingRequiredClientCapability = -32021
	CodeUnsupportedProtocolVersion      = -32022
)

// _meta keys of the 2026-07-28 revision.
const (
	MetaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	MetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	MetaClientInfo         = "io.modelcontextprotocol/clientInfo"
	MetaServerInfo         = "io.modelcontextprotocol/serverInfo"
	MetaLogLevel           = "io.modelcontextprotocol/logLevel"
	MetaSubscriptionID     = "io.modelcontextprotocol/subscriptionId"
)

// MetaInputKey in the _meta of a legacy server's elicitation, sampling or
// roots request names its key in the InputRequiredResult the sidecar makes
// of it for a 2026-07-28 client (else the sidecar numbers them).
const MetaInputKey = "io.archestra.mcp/inputKey"

// JSON-RPC methods of MCP that the product itself acts on or names in
// metrics (the rest pass through by name).
const (
	MethodInitialize          = "initialize"
	MethodInitialized         = "notifications/initialized"
	MethodDiscover            = "server/discover"
	MethodSubscriptionsListen = "subscriptions/listen"
	MethodPing                = "ping"
	MethodToolsList           = "tools/list"
	MethodToolsCall           = "tools/call"
	MethodCancelled           = "notifications/cancelled"

	MethodPromptsList               = "prompts/list"
	MethodPromptsGet                = "prompts/get"
	MethodResourcesList             = "resources/list"
	MethodResourcesRead             = "resources/read"
	MethodResourceTemplatesList     = "resources/templates/list"
	MethodResourcesSubscribe        = "resources/subscribe"
	MethodResourcesUnsubscribe      = "resources/unsubscribe"
	MethodComplete                  = "completion/complete"
	MethodSetLevel                  = "logging/setLevel"
	MethodCreateMessage             = "sampling/createMessage"
	MethodElicit                    = "elicitation/create"
	MethodRootsList                 = "roots/list"
	MethodProgress                  = "notifications/progress"
	MethodLogMessage                = "notifications/message"
	MethodToolsListChanged          = "notifications/tools/list_changed"
	MethodPromptsListChanged        = "notifications/prompts/list_changed"
	MethodResourcesListChanged      = "notifications/resources/list_changed"
	MethodResourcesUpdated          = "notifications/resources/updated"
	MethodRootsListChanged          = "notifications/roots/list_changed"
	MethodSubscriptionsAcknowledged = "notifications/subscriptions/acknowledged"
)
