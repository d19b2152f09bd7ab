//go:build tools

// Package tools pins the go-sdk whose conformance/everything-server
// hack/build-mcpservers.sh builds. It is a module of its own so the pinned
// go-sdk never changes the orchestrator's go.mod.
package tools

import _ "github.com/modelcontextprotocol/go-sdk/conformance/everything-server"
