#!/usr/bin/env bash
# Builds the helm CLI from its Go module (tools/helm) into bin/helm/<version>/,
# for the chart tests: no prebuilt binary can be downloaded on our machines.
# Prints the binary's path; a second run with the same version does nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mod=$(awk '$1=="require" && $2 ~ /^helm\.sh\/helm\/v[0-9]+$/ {print $2}' "$root/tools/helm/go.mod")
version=$(awk '$1=="require" && $2 ~ /^helm\.sh\/helm\/v[0-9]+$/ {print $3}' "$root/tools/helm/go.mod")
out="$root/bin/helm/$version"

if [[ -x "$out/helm" ]]; then
	echo "$out/helm"
	exit 0
fi
mkdir -p "$out"
echo "building helm ${version} into ${out}" >&2
# Helm reports its version from an ldflag (otherwise just the minor, v4.3).
ldflags="-s -w -X ${mod}/internal/version.version=${version}"
# Built to a temporary name and renamed last: an interrupted build never
# looks finished.
(cd "$root/tools/helm" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/helm.tmp" "$mod/cmd/helm")
mv "$out/helm.tmp" "$out/helm"
echo "$out/helm"
