// Package version holds the build version of every binary, set with
// -ldflags "-X github.com/archestra-ai/mcp-orchestrator/internal/version.Version=...".
package version

// Version is recorded in the injection marker so an upgrade is detectable.
var Version = "v0.1.0-dev"
