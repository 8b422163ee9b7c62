#!/bin/sh
# SPDX-License-Identifier: MIT
#
# sanitize.sh - build the whole project with AddressSanitizer and
# UndefinedBehaviorSanitizer and run the test suite there: the contigd that
# the integration tests spawn, libcontig and the tests themselves are all
# instrumented, and any report fails the run (leaks included: LeakSanitizer
# runs when contigd exits on SIGTERM, and when each test program exits).
#
#   scripts/sanitize.sh [BUILDDIR] [-- MESON-TEST-ARGS...]
#
# BUILDDIR defaults to build-asan at the top of the tree (created, or
# reconfigured if it exists). Extra arguments after -- go to `meson test`,
# e.g. `scripts/sanitize.sh /tmp/build-asan -- --suite unit`.
# The valgrind test skips itself here (an ASan binary cannot run under
# valgrind); the normal build runs it.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-asan
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
	build=$1
	shift
fi
[ "${1:-}" = "--" ] && shift

# b_lundef=false: with clang, -fsanitize and -Wl,--no-undefined do not mix
# in shared libraries (libcontig.so); harmless with gcc.
# -Dwerror=true: CI builds strictly (the project's default is off).
opts="-Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true"
if [ -d "$build/meson-private" ]; then
	# shellcheck disable=SC2086
	meson configure "$build" $opts
else
	# shellcheck disable=SC2086
	meson setup "$build" "$src" $opts
fi
ninja -C "$build"

# Every report is fatal; abort_on_error makes ASan reports visible as a
# crash of the daemon (its exit status) as well as of a test program.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Sanitized code is slower: give meson's per-test timeouts room.
exec meson test -C "$build" --print-errorlogs --timeout-multiplier 3 "$@"
