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
#   hack/build-mcpservers.sh           all of them
#   hack/build-mcpservers.sh current   only tools/mcpservers (legacy: tools/mcpservers-legacy)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
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

for m in "${modules[@]}"; do
	dir="$root/tools/$m"
	version=$(awk -v mod="$sdk" '$1=="require" && $2==mod {print $3}' "$dir/go.mod")
	if [[ -z "$version" ]]; then
		echo "tools/$m/go.mod does not require $sdk" >&2
		exit 1
	fi
	out="$root/bin/mcpservers/go-sdk-$version"
	if [[ ! -x "$out/everything-server" ]]; then
		mkdir -p "$out"
		echo "building go-sdk ${version} everything-server into ${out}" >&2
		# Built to a temporary name and renamed last: an interrupted build
		# never looks finished.
		(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
			-o "$out/everything-server.tmp" "$sdk/conformance/everything-server")
		mv "$out/everything-server.tmp" "$out/everything-server"
	fi
	echo "$out/everything-server"
done
