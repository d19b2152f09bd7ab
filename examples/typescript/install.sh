#!/usr/bin/env bash
# Installs the TypeScript example's packages (hack/npm-ci.sh: npm ci, pinned
# by package-lock.json, skipped when node_modules came from this very
# lockfile) and compiles it with the pinned tsc into dist/. Prints the path
# of the pinned node (22: @kubernetes/client-node 2.x needs it; the
# machine's own node may be older) that runs dist/main.js.
#
#   examples/typescript/install.sh
set -euo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
node=$("$dir/../../hack/npm-ci.sh" "$dir")
# tsc is quick and incremental builds are not worth a second cache key.
"$node" "$dir/node_modules/typescript/bin/tsc" -p "$dir" >&2
echo "$node"
