// Module tools/mcpservers-legacy builds the Go SDK's conformance everything-server from
// go-sdk v1.4.1, which speaks only the initialize era (2024-11-05..2025-11-25),
// as a reference MCP server for the conformance tests, and our own legacy
// conformance-server on the same go-sdk. One module pins one go-sdk version,
// hence one module per version (hack/build-mcpservers.sh).
module github.com/archestra-ai/mcp-orchestrator/tools/mcpservers-legacy

go 1.26.0

require (
	github.com/modelcontextprotocol/go-sdk v1.4.1
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/google/jsonschema-go v0.4.2 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/oauth2 v0.34.0 // indirect
	golang.org/x/sys v0.40.0 // indirect
)
