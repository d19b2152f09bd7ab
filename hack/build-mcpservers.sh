#!/usr/bin/env bash
# Builds the Go SDK's conformance everything-server, a reference MCP server
# with the tools, resources and prompts the conformance suite calls, once per
# pinned go-sdk version into bin/mcpservers/go-sdk-<version>/everything-server.
# Each tools/mcpservers* module pins one go-sdk version:
#   tools/mcpservers         v1.8.0: both eras (initialize and server/discover)
#   tools/mcpservers-legacy  v1.4.1: the initialize era only (up to 2025-11-25)
# Prints one binary path per line, the modules' order; a second run with the
# same versions does nothing.
#
# tools/mcpservers-legacy also has our own legacy server with everything the
# 2025-11-25 AND 2026-07-28 server scenarios call (conformance-server/), built
# next to its everything-server as bin/mcpservers/go-sdk-v1.4.1/conformance-server
# (not printed: the output stays one line per module). It is rebuilt when its
# sources change (a hash of them beside the binary).
#
#   hack/build-mcpservers.sh           all of them
#   hack/build-mcpservers.sh current   only tools/mcpservers (legacy: tools/mcpservers-legacy)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib/gotool.sh
. "$root/hack/lib/gotool.sh"
sdk=github.com/modelcontextprotocol/go-sdk

modules=(mcpservers mcpservers-legacy)
if (($# > 0)); then
	modules=()
	for m in "$@"; do
		case "$m" in
		current) modules+=(mcpservers) ;;
		legacy) modules+=(mcpservers-legacy) ;;
		*) echo "usage: $0 [current|legacy]..." >&2; exit 2 ;;
		esac
	done
fi

# build_own builds the module's own command NAME into OUT/NAME unless the
# hash of the module's go.mod, go.sum and NAME's non-test sources is the one
# recorded beside the binary.
build_own() {
	local dir=$1 out=$2 name=$3 want
	want=$(cd "$dir" && find "$name" -name '*.go' ! -name '*_test.go' | LC_ALL=C sort |
		xargs cat go.mod go.sum | sha256sum | cut -d' ' -f1)
	if [[ -x "$out/$name" && "$(cat "$out/$name.sha256" 2>/dev/null)" == "$want" ]]; then
		return
	fi
	echo "building ${name} (${dir#"$root"/}) into ${out}" >&2
	rm -f "$out/$name"
	tool_build "$dir" "$out/$name" "./$name" -ldflags "-s -w"
	echo "$want" >"$out/$name.sha256"
}

for m in "${modules[@]}"; do
	dir="$root/tools/$m"
	version=$(tool_version "$sdk" "$dir/go.mod")
	if [[ -z "$version" ]]; then
		echo "tools/$m/go.mod does not require $sdk" >&2
		exit 1
	fi
	out="$root/bin/mcpservers/go-sdk-$version"
	[[ -x "$out/everything-server" ]] || echo "building go-sdk ${version} everything-server into ${out}" >&2
	tool_build "$dir" "$out/everything-server" "$sdk/conformance/everything-server" -ldflags "-s -w"
	if [[ -d "$dir/conformance-server" ]]; then
		build_own "$dir" "$out" conformance-server
	fi
	echo "$out/everything-server"
done
