#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# build-matrix.sh - compile the tree in every configuration it promises to
# build in, each with -Dwerror=true: buildtypes plain, debug, debugoptimized,
# release and minsize with gcc and with clang, and once more with Debian's
# hardening flags (DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags,
# buildtype plain as dh_auto_configure sets it). Compile only: nothing runs.
#
#   scripts/build-matrix.sh [--full] [DIR]
#
# DIR defaults to build-matrix/ at the top of the tree (gitignored); each
# configuration keeps its build directory there, so a second run rebuilds
# only what changed. By default one configuration (gcc-release: -O3 and
# inlining give gcc's flow-sensitive warnings the most to see) builds every
# target, tests and benchmarks included, and the others build what gets
# installed (contigd, contigctl, the libraries): the test suite's own builds
# (build/, build-asan/, build-fuzz/ with clang) compile the rest of the tree
# with -Dwerror=true already, and the full matrix takes ~3x as long on two
# cores. --full builds every target everywhere.
#
# Prints one line per configuration and the compiler's errors of those that
# fail; exits 1 if any does.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
full=no
if [ "${1:-}" = --full ]; then
	full=yes
	shift
fi
dir=${1:-$src/build-matrix}
mkdir -p "$dir"

# name compiler buildtype [hardening]
configs=(
	"gcc-plain gcc plain"
	"gcc-debug gcc debug"
	"gcc-debugoptimized gcc debugoptimized"
	"gcc-release gcc release"
	"gcc-minsize gcc minsize"
	"clang-plain clang plain"
	"clang-debug clang debug"
	"clang-debugoptimized clang debugoptimized"
	"clang-release clang release"
	"clang-minsize clang minsize"
	"gcc-hardening gcc plain hardening"
)
all_targets=gcc-release

# Set up (or reuse) one build directory; the stamp records how it was set up,
# and a directory set up otherwise is wiped (meson keeps CFLAGS from setup).
setup() {
	local b=$1 cc=$2 buildtype=$3 hardening=$4
	local stamp
	stamp="CC=$cc buildtype=$buildtype werror=true"
	if [ "$hardening" = hardening ]; then
		stamp="$stamp $(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh | tr '\n' ' ')"
	fi
	if [ -f "$b/build.ninja" ] && [ "$(cat "$b/.matrix-stamp" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	rm -rf "$b"
	(
		if [ "$hardening" = hardening ]; then
			eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
		fi
		CC=$cc meson setup "$b" "$src" --buildtype="$buildtype" -Dwerror=true
	) || return 1
	printf '%s' "$stamp" >"$b/.matrix-stamp"
}

# What gets installed: contigd, contigctl and the libraries (the targets
# meson would install, from its introspection data).
installed_targets() {
	meson introspect --targets "$1" | python3 -c '
import json, os, sys
root = sys.argv[1]
for t in json.load(sys.stdin):
    if t.get("installed") and t["type"] in ("executable", "shared library"):
        for f in t["filename"]:
            print(os.path.relpath(f, root))
' "$1"
}

failed=()
start=$SECONDS
for c in "${configs[@]}"; do
	read -r name cc buildtype hardening <<<"$c"
	b=$dir/$name
	log=$dir/$name.log
	t0=$SECONDS
	if ! setup "$b" "$cc" "$buildtype" "${hardening:-}" >"$log" 2>&1; then
		echo "FAILED $name: meson setup (log $log)"
		tail -5 "$log"
		failed+=("$name")
		continue
	fi
	what="every target"
	targets=()
	if [ $full = no ] && [ "$name" != $all_targets ]; then
		what="installed targets"
		mapfile -t targets < <(installed_targets "$b")
	fi
	if ninja -C "$b" -k 0 "${targets[@]}" >>"$log" 2>&1; then
		echo "ok     $name ($what, $((SECONDS - t0)) s)"
	else
		echo "FAILED $name ($what; log $log):"
		grep -E 'error:|undefined reference|FAILED:' "$log" | sort -u | head -20
		failed+=("$name")
	fi
done
echo "build matrix: ${#configs[@]} configurations, $((SECONDS - start)) s, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ ${#failed[@]} = 0 ]
