#!/bin/sh
# SPDX-License-Identifier: MIT
# run_fuzzer.sh FUZZER SEEDS CRASHES WORKDIR - one bounded libFuzzer run.
#
# Runs FUZZER for $CONTIG_FUZZ_SECONDS (default 60) on a scratch copy of the
# corpus (WORKDIR/corpus: new inputs land there, never in the source tree),
# seeded from SEEDS and CRASHES. A crash leaves its input as
# WORKDIR/crash-<sha1>; keep it under tests/fuzz/crashes/<target>/ so that
# every test run replays it. Extra libFuzzer flags: $CONTIG_FUZZ_FLAGS.
# Exit: 0 when no input crashed, leaked or timed out; 1 otherwise (libFuzzer's
# own code for a crash is 77, which meson would take for "skipped").
set -eu
fuzzer=$1 seeds=$2 crashes=$3 work=$4
secs=${CONTIG_FUZZ_SECONDS:-60}

mkdir -p "$work/corpus"
# Findings of an earlier run were reported then; this run reports its own.
rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
# ASan/UBSan verdicts must stop the run; leaks are checked by libFuzzer.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
set +e
# shellcheck disable=SC2086
"$fuzzer" -max_total_time="$secs" -timeout=25 -rss_limit_mb=4096 -max_len=8192 \
	-print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1 \
	-artifact_prefix="$work/" ${CONTIG_FUZZ_FLAGS:-} \
	"$work/corpus" "$seeds" "$crashes"
status=$?
set -e
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -e "$f" ] && echo "run_fuzzer: kept $f: copy it to $crashes/ and report it"
done
[ "$status" -eq 0 ] || exit 1
