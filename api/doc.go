// Package api is the public contract of MCP Orchestrator as code: the label
// and annotation keys users write, the pod-template annotations the webhook
// writes and the gateway reads (one encoder, one parser), the RBAC names the
// gateway authorizes with, the sidecar's names, ports and paths, and the MCP
// wire constants the sidecar and the gateway share.
//
// It imports nothing but the standard library, so every component (and a
// generator of the contract for other languages) can depend on it, and
// nothing else in the tree spells these values.
package api
