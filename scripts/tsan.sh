#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tsan.sh - build the project with ThreadSanitizer and run the integration
# tests that use libcontig from several threads at once: core, shared, stash,
# carve (page granularity: arenas, lock-free lookups) and threads (the
# multi-threaded stress test). libcontig, the tests
# and the contigd they spawn are all instrumented, and any report fails the
# run: halt_on_error makes the reporting process exit 66 at once, a test
# program and contigd alike (the harness prints the daemon's log when it did
# not exit cleanly).
#
#   scripts/tsan.sh [BUILDDIR] [-- MESON-TEST-ARGS...]
#
# BUILDDIR defaults to build-tsan at the top of the tree (created with clang,
# or reconfigured if it exists). Extra arguments after -- go to `meson test`
# in place of the test list, e.g. `scripts/tsan.sh /tmp/build-tsan -- threads`.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-tsan
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
	build=$1
	shift
fi
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || set -- core shared stash carve threads

# b_lundef=false: -fsanitize and -Wl,--no-undefined do not mix in shared
# libraries (libcontig.so). clang (CC overrides it), as for the fuzz build:
# its runtime comes with libclang-rt-14-dev, which contig.sh installs.
opts="-Db_sanitize=thread -Db_lundef=false -Dwerror=true"  # CI builds strictly (the default is off)
if [ -d "$build/meson-private" ]; then
	# shellcheck disable=SC2086
	meson configure "$build" $opts
else
	# shellcheck disable=SC2086
	CC=${CC:-clang} meson setup "$build" "$src" $opts
fi
ninja -C "$build"

# ThreadSanitizer maps its shadow at fixed addresses; with more than 28 bits
# of mmap randomness (some kernels' default) an instrumented program can die
# at start with "unexpected memory mapping": run without ASLR there.
norand=
if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ]; then
	norand="setarch $(uname -m) -R"
fi

# Any report is fatal; second_deadlock_stack names both sides of a lock
# order inversion.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
# The stress test's rounds (3 of them) fit the time the whole run is allowed.
export CONTIG_TEST_THREADS_SECONDS="${CONTIG_TEST_THREADS_SECONDS:-4}"
# Instrumented code is slower: give meson's per-test timeouts room; one test
# at a time, as the integration tests require.
# shellcheck disable=SC2086
exec $norand meson test -C "$build" --print-errorlogs --timeout-multiplier 3 --num-processes 1 "$@"
