#!/usr/bin/env bash
# Builds Ory Hydra, the OAuth 2.1 / OpenID Connect provider of the gateway's
# authorization tests (internal/testutil/oidc), from its Go module
# (tools/hydra) into bin/hydra/<version>/. No prebuilt binary can be
# downloaded on our machines. Prints the binary's path; a second run with the
# same version does nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib/gotool.sh
. "$root/hack/lib/gotool.sh"
mod=github.com/ory/hydra/v2
version=$(tool_version "$mod" "$root/tools/hydra/go.mod")
if [[ -z "$version" ]]; then
	echo "no $mod version in tools/hydra/go.mod" >&2
	exit 1
fi
out="$root/bin/hydra/$version"

[[ -x "$out/hydra" ]] || echo "building hydra ${version} into ${out}" >&2
# The in-memory database (DSN "memory") is SQLite, which Hydra compiles in
# only with the sqlite tag, through cgo (mattn/go-sqlite3): hence CGO_ENABLED=1
# and gcc, which our machines have. The ldflag makes `hydra version` and the
# logs report the real version instead of "master".
CGO_ENABLED=1 tool_build "$root/tools/hydra" "$out/hydra" "$mod" -tags sqlite,sqlite_omit_load_extension \
	-ldflags "-s -w -X ${mod}/driver/config.Version=${version}"
echo "$out/hydra"
