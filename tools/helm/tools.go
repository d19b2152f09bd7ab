//go:build tools

// Package tools pins the helm binary that hack/build-helm.sh builds for the
// chart tests (`helm template`, `helm lint`). It is a module of its own so
// Helm's dependencies never enter the orchestrator's go.mod.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
