package mcp

import (
	"slices"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// LatestVersion is the newest supported legacy (session) revision.
const LatestVersion = api.MCPVersion20251125

// DefaultHeaderVersion is assumed when a request carries no
// MCP-Protocol-Version header (spec 2025-06-18: "the server SHOULD assume
// protocol version 2025-03-26").
const DefaultHeaderVersion = api.MCPVersion20250326

// SupportedVersions lists the supported revisions, newest first.
var supportedVersions = []string{api.MCPVersion20251125, api.MCPVersion20250618, api.MCPVersion20250326}

// SupportedVersions returns a copy of the supported revisions, newest first.
func SupportedVersions() []string { return slices.Clone(supportedVersions) }

// IsSupportedVersion reports whether v is a revision this package knows.
func IsSupportedVersion(v string) bool { return slices.Contains(supportedVersions, v) }

// HeaderVersion validates the MCP-Protocol-Version header value: empty means
// [DefaultHeaderVersion]; anything unknown is an error (HTTP 400).
func HeaderVersion(h string) (string, bool) {
	if h == "" {
		return DefaultHeaderVersion, true
	}
	return h, IsSupportedVersion(h)
}

// UnsupportedVersionMessage is the 400 answer to an unknown
// MCP-Protocol-Version.
func UnsupportedVersionMessage() string {
	return "unsupported MCP-Protocol-Version; supported: " + strings.Join(supportedVersions, ", ")
}

// AllowsBatch reports whether revision v allows JSON-RPC batches (only
// 2025-03-26; 2025-06-18 removed them).
func AllowsBatch(v string) bool { return v == api.MCPVersion20250326 }

// WantsPriming reports whether SSE streams of revision v start with a
// priming event (an event id with empty data), introduced in 2025-11-25.
func WantsPriming(v string) bool { return v >= api.MCPVersion20251125 }
