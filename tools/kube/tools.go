//go:build tools

// Package tools pins the binaries that `make setup` builds for the tests:
// kube-apiserver for envtest and kubectl for the `kubectl apply` tests.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
