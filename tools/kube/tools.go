//go:build tools

// Package tools pins the binaries built from k8s.io/kubernetes:
// kube-apiserver for envtest and kubectl for the `kubectl apply` tests, and
// the rest of a single-node cluster (hack/cluster) for the end-to-end suite.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
