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
#   bench/run.sh scale [BUILD_DIR] [options]   the scale figures (issue 19) as curves:
#                                              --only scale-ready,scale-sessions,
#                                              scale-tput,scale-reclaim,scale-frag
#                                              (scale-frag alone takes 2 × 10 minutes;
#                                              CONTIG_BENCH_FRAG_SECONDS=N shortens
#                                              it), then bench/plot.sh draws each
#                                              curve as an SVG (gnuplot-nox), copied
#                                              to bench/plots/ for BENCHMARKS.md
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
is_mode() { [ "$1" = carve ] || [ "$1" = restart ] || [ "$1" = scale ]; }
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

if [ "$mode" = scale ]; then
    command -v gnuplot >/dev/null 2>&1 ||
        { echo "run.sh: the scale figures are plotted with gnuplot: apt-get install gnuplot-nox" >&2; exit 1; }
    out="$build/bench/results-scale.md"
    # The curves go beside the TSV; plots from an earlier run must not pass
    # for this one's.
    rm -f "$build"/bench/curve-*.tsv
    rm -rf "$build/bench/plots"
    "$build/bench/contig-bench" --only scale-ready,scale-sessions,scale-tput,scale-reclaim,scale-frag \
        --tsv "$build/bench/results-scale.tsv" "$@" | tee "$out"
    plotted=0
    bench/plot.sh "$build/bench" "$build/bench/plots" || plotted=$?
    # A smoke run's plots are not representative: they stay in the build.
    case " $* " in
    *" --smoke "*) echo "run.sh: --smoke: plots left in $build/bench/plots/" >&2 ;;
    *)
        mkdir -p bench/plots
        cp "$build"/bench/plots/*.svg bench/plots/ 2>/dev/null || true
        echo "run.sh: plots in bench/plots/" >&2 ;;
    esac
    [ "$plotted" = 0 ] || { echo "run.sh: bench/plot.sh failed ($plotted)" >&2; exit 1; }
elif [ "$mode" != all ]; then
    out="$build/bench/results-$mode.md"
    "$build/bench/contig-bench" --only "$mode" --tsv "$build/bench/results-$mode.tsv" "$@" | tee "$out"
else
    out="$build/bench/results.md"
    "$build/bench/contig-bench" --tsv "$build/bench/results.tsv" "$@" | tee "$out"
fi
echo "run.sh: report in $out" >&2
