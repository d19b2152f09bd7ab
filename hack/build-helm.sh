#!/usr/bin/env bash
# Builds the helm CLI from its Go module (tools/helm) into bin/helm/<version>/,
# for the chart tests: no prebuilt binary can be downloaded on our machines.
# Prints the binary's path; a second run with the same version does nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib/gotool.sh
. "$root/hack/lib/gotool.sh"
mod=$(awk '$1=="require" && $2 ~ /^helm\.sh\/helm\/v[0-9]+$/ {print $2}' "$root/tools/helm/go.mod")
version=$(tool_version "$mod" "$root/tools/helm/go.mod")
out="$root/bin/helm/$version"

[[ -x "$out/helm" ]] || echo "building helm ${version} into ${out}" >&2
# Helm reports its version from an ldflag (otherwise just the minor, v4.3).
tool_build "$root/tools/helm" "$out/helm" "$mod/cmd/helm" -ldflags "-s -w -X ${mod}/internal/version.version=${version}"
echo "$out/helm"
