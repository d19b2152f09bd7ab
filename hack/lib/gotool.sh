# shellcheck shell=bash
# Shared by the hack/build-*.sh scripts, which build the programs the tests
# need from the Go modules under tools/ (no prebuilt binary can be
# downloaded on our machines), cached under bin/ by version. Source it.

# tool_version MODULE GOMOD prints the version of MODULE that GOMOD requires
# (a one-line require or a line of a require block).
tool_version() {
	awk -v m="$1" '$1=="require" && $2==m {print $3} $1==m && $2 ~ /^v/ {print $2}' "$2"
}

# tool_build DIR OUT PACKAGE [GO BUILD FLAGS...] builds PACKAGE in the
# module DIR into the file OUT, unless OUT exists. It is built to a
# temporary name and renamed last: an interrupted build never looks
# finished. CGO_ENABLED is 0 unless the caller's environment says otherwise.
tool_build() {
	local dir=$1 out=$2 pkg=$3
	shift 3
	[[ -x "$out" ]] && return 0
	mkdir -p "$(dirname "$out")"
	(cd "$dir" && CGO_ENABLED=${CGO_ENABLED:-0} go build -trimpath "$@" -o "$out.tmp" "$pkg")
	mv "$out.tmp" "$out"
}
