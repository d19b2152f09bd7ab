//go:build tools

// Package tools pins the binaries that `make setup` builds for envtest.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
