#!/usr/bin/env bash
# Builds Kubernetes and etcd binaries from their Go modules into
# bin/k8s/<versions>/ and prints that directory. No prebuilt binary can be
# downloaded on our machines, so this is the only source. The directory name
# carries both versions: a second run with the same versions does nothing.
#
#   hack/build-envtest-bins.sh           kube-apiserver, kubectl, etcd: the
#                                        KUBEBUILDER_ASSETS directory envtest uses
#   hack/build-envtest-bins.sh cluster   also kubelet, kube-controller-manager,
#                                        kube-scheduler, kube-proxy (hack/cluster)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib/gotool.sh
. "$root/hack/lib/gotool.sh"
kube_version=$(tool_version k8s.io/kubernetes "$root/tools/kube/go.mod")
etcd_version=$(tool_version go.etcd.io/etcd/server/v3 "$root/tools/etcd/go.mod")
out="$root/bin/k8s/${kube_version}-etcd-${etcd_version}"

kube_bins=(kube-apiserver kubectl)
case "${1:-}" in
"") ;;
cluster) kube_bins+=(kubelet kube-controller-manager kube-scheduler kube-proxy) ;;
*) echo "usage: $0 [cluster]" >&2; exit 2 ;;
esac

missing=()
for b in "${kube_bins[@]}" etcd; do [[ -x "$out/$b" ]] || missing+=("$b"); done
if ((${#missing[@]} == 0)); then
	echo "$out"
	exit 0
fi
mkdir -p "$out"

# The version ldflags make the binaries report a real version instead of
# v0.0.0, which clients (kubectl, discovery) and the kubelet's node status use.
minor=${kube_version#v1.}; minor=${minor%%.*}
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${kube_version} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=${kube_version}"

echo "building ${missing[*]} (kubernetes ${kube_version}, etcd ${etcd_version}) into ${out}" >&2
build() { # dir name package ldflags
	tool_build "$root/tools/$1" "$out/$2" "$3" -ldflags "$4"
}
for b in "${kube_bins[@]}"; do
	build kube "$b" "k8s.io/kubernetes/cmd/$b" "$ldflags"
done
build etcd etcd ./cmd/etcd "-s -w"
echo "$out"
