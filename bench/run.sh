#!/usr/bin/env bash
# run.sh - the one command behind BENCHMARKS.md: build the benchmark in
# BUILD_DIR (default build/) and run it once, on this machine, as root.
#
#   bench/run.sh [BUILD_DIR] [contig-bench options: --smoke, --no-dpdk, --only ...]
#   bench/run.sh carve [BUILD_DIR] [options]   the page-granularity figures only
#                                              (--only carve; about 2 minutes)
#   bench/run.sh restart [BUILD_DIR] [options] contigd restarted from systemd's fd
#                                              store with 100 sessions, beside a cold
#                                              start (--only restart; about 30 s;
#                                              2 × 2 GiB of hugepages)
#
# It reserves the 2 MiB hugepages it needs itself (raising vm.nr_hugepages,
# never lowering it), starts its own contigd from BUILD_DIR on a private
# socket, runs DPDK in its own processes on private hugetlbfs mounts, and
# prints one Markdown report on stdout (also kept in BUILD_DIR/bench/results.md,
# with a TSV beside it). A full run takes about 5 minutes; --smoke about 10 s.
set -euo pipefail

cd "$(dirname "$0")/.."
build=build
mode=all
is_mode() { [ "$1" = carve ] || [ "$1" = restart ]; }
if [ $# -gt 0 ] && is_mode "$1"; then
    mode=$1
    shift
fi
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
if [ $# -gt 0 ] && is_mode "$1"; then
    mode=$1
    shift
fi

[ "$(id -u)" = 0 ] || { echo "run.sh: run me as root (hugepages, pagemap, hugetlbfs mounts)" >&2; exit 1; }
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" bench/contig-bench bench/contig-bench-first daemon/contigd cli/contigctl >/dev/null
# The DPDK peer is built only when libdpdk was found.
ninja -C "$build" bench/contig-bench-dpdk >/dev/null 2>&1 || true

if [ "$mode" != all ]; then
    out="$build/bench/results-$mode.md"
    "$build/bench/contig-bench" --only "$mode" --tsv "$build/bench/results-$mode.tsv" "$@" | tee "$out"
else
    out="$build/bench/results.md"
    "$build/bench/contig-bench" --tsv "$build/bench/results.tsv" "$@" | tee "$out"
fi
echo "run.sh: report in $out" >&2
