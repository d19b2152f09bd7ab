#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from their Go modules into
# bin/k8s/<versions>/, the KUBEBUILDER_ASSETS directory envtest uses. No prebuilt binary can be
# downloaded on our machines, so this is the only source. The directory name
# carries both versions: a second run with the same versions does nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kube_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$root/tools/kube/go.mod")
etcd_version=$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$root/tools/etcd/go.mod")
out="$root/bin/k8s/${kube_version}-etcd-${etcd_version}"

if [[ -x "$out/kube-apiserver" && -x "$out/kubectl" && -x "$out/etcd" ]]; then
	echo "$out"
	exit 0
fi
mkdir -p "$out"

# The version ldflags make the apiserver report a real version instead of v0.0.0,
# which clients (kubectl, discovery) compare against.
minor=${kube_version#v1.}; minor=${minor%%.*}
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${kube_version} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=${kube_version}"

echo "building kube-apiserver and kubectl ${kube_version}, etcd ${etcd_version} into ${out}" >&2
# Each binary is built to a temporary name and renamed last, so an
# interrupted build never looks finished and a finished one is not rebuilt.
build() { # dir name package ldflags
	[[ -x "$out/$2" ]] && return 0
	(cd "$root/tools/$1" && CGO_ENABLED=0 go build -trimpath -ldflags "$4" -o "$out/$2.tmp" "$3")
	mv "$out/$2.tmp" "$out/$2"
}
build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
build kube kubectl k8s.io/kubernetes/cmd/kubectl "$ldflags"
build etcd etcd ./cmd/etcd "-s -w"
echo "$out"
