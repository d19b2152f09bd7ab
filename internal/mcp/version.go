package mcp

import (
	"slices"
	"strings"
)

// Protocol revisions of MCP streamable HTTP this project speaks.
const (
	Version20250326 = "2025-03-26"
	Version20250618 = "2025-06-18"
	Version20251125 = "2025-11-25"

	// LatestVersion is the newest supported revision.
	LatestVersion = Version20251125
	// DefaultHeaderVersion is assumed when a request carries no
	// MCP-Protocol-Version header (spec 2025-06-18: "the server SHOULD
	// assume protocol version 2025-03-26").
	DefaultHeaderVersion = Version20250326
)

// HeaderProtocolVersion and HeaderSessionID are the streamable-HTTP headers.
// Go canonicalises header names, so any spelling works on lookup.
const (
	HeaderProtocolVersion = "Mcp-Protocol-Version"
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderLastEventID     = "Last-Event-Id"
)

// SupportedVersions lists the supported revisions, newest first.
var supportedVersions = []string{Version20251125, Version20250618, Version20250326}

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
func AllowsBatch(v string) bool { return v == Version20250326 }

// WantsPriming reports whether SSE streams of revision v start with a
// priming event (an event id with empty data), introduced in 2025-11-25.
func WantsPriming(v string) bool { return v >= Version20251125 }
