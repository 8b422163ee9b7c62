#!/usr/bin/env bash
# contig.sh - set up a Debian 12 machine for contig and run it or test it.
#
#   scripts/contig.sh run    install what is missing, build, reserve hugepages,
#                            start contigd on its defaults, run the demo client
#   scripts/contig.sh test   the same set-up, then the whole test suite, the
#                            build matrix (scripts/build-matrix.sh), the suite
#                            under ASan+UBSan and a short fuzz run
#
# Every build directory is set up with -Dwerror=true (the project's default
# is off, so that a new compiler's new warning does not break a user's build;
# CI stays strict).
#
# Both are idempotent: packages already there are not reinstalled, an existing
# build is reused (ninja rebuilds what changed), hugepages already reserved are
# kept, and a contigd already serving the default socket is reused.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
# One Go build cache for every build directory this script makes (the
# device plugin's grpc costs ~40 s to compile once, not once per directory).
export CONTIG_GOCACHE=${CONTIG_GOCACHE:-$top/build-gocache}
build=${BUILD_DIR:-build}
mode=${1:-}

say() { printf 'contig: %s\n' "$*"; }
die() { printf 'contig: error: %s\n' "$*" >&2; exit 1; }

case "$mode" in
run|test) ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || die "run me as root: contigd pins hugepages and reads /proc/self/pagemap"

packages=(build-essential meson ninja-build pkg-config clang llvm libclang-rt-14-dev
          libcmocka-dev libsystemd-dev libnuma-dev liburing-dev libbpf-dev libxdp-dev
          libdpdk-dev iproute2 systemd valgrind systemd-container debootstrap groff-base
          debhelper devscripts lintian podman runc busybox-static
          qemu-system-x86 cpio gnuplot-nox
          golang-go golang-google-grpc-dev golang-goprotobuf-dev protobuf-compiler python3-yaml)
# podman, runc: tests/container_cdi.sh; qemu, cpio: tests/guest/run.sh; Go, grpc,
# protoc, python3-yaml: the device plugin (k8s/) and its tests; gnuplot-nox: the
# bench's plots (bench/plot.sh, checked by the bench-smoke suite)

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# Set up build directory $1 with -Dwerror=true and any further meson
# options, or make sure an existing one has werror on (directories set up
# when werror=true was the project's default keep theirs).
setup_strict() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" -Dwerror=true "$@" >/dev/null
    elif ! meson introspect --buildoptions "$dir" | python3 -c '
import json, sys
sys.exit(0 if any(o["name"] == "werror" and o["value"] for o in json.load(sys.stdin)) else 1)'; then
        meson configure "$dir" -Dwerror=true >/dev/null
    fi
}

build_tree() {
    setup_strict "$build"
    ninja -C "$build" >/dev/null
    say "built in $build/"
}

# Reserve at least $1 free 2 MiB hugepages on top of what others hold.
reserve_hugepages() {
    local want=$1 sys=/sys/kernel/mm/hugepages/hugepages-2048kB
    local nr free
    nr=$(cat $sys/nr_hugepages)
    free=$(cat $sys/free_hugepages)
    if [ "$free" -lt "$want" ]; then
        echo $((nr + want - free)) > $sys/nr_hugepages || true
        free=$(cat $sys/free_hugepages)
    fi
    if [ "$free" -lt "$want" ]; then
        die "wanted $want free 2 MiB hugepages, the kernel gave $free (nr_hugepages $(cat $sys/nr_hugepages)); free some memory or reboot with hugepages=$want on the kernel command line"
    fi
    say "hugepages: $free of 2 MiB free (nr_hugepages $(cat $sys/nr_hugepages))"
}

install_missing
build_tree

if [ "$mode" = run ]; then
    reserve_hugepages 160
    sock=/run/contigd/contigd.sock
    if "$build/cli/contigctl" --socket "$sock" status >/dev/null 2>&1; then
        say "contigd already serving $sock"
    else
        mkdir -p /run/contigd
        nohup "$build/daemon/contigd" >/run/contigd/contigd.log 2>&1 &
        for _ in $(seq 100); do
            "$build/cli/contigctl" --socket "$sock" status >/dev/null 2>&1 && break
            kill -0 $! 2>/dev/null || { cat /run/contigd/contigd.log >&2; die "contigd did not start"; }
            sleep 0.1
        done
        say "contigd started (pid $!, log /run/contigd/contigd.log, stop with: kill $!)"
    fi
    CONTIG_SOCKET=$sock "$build/examples/contig-demo"
    "$build/cli/contigctl" --socket "$sock" status
    exit 0
fi

# test: the whole suite, then again under ASan+UBSan, then a short fuzz run
# of both libFuzzer targets (60 s each; CONTIG_FUZZ_SECONDS changes it).
# Give the free hugepages back to the kernel and take them again: freed in
# the order earlier runs left them, the free list is scattered, and a test
# that needs two physically adjacent pages would depend on that history.
# Pages in use stay where they are (only free ones go).
refresh_hugepages() {
    local sys=/sys/kernel/mm/hugepages/hugepages-2048kB nr free
    nr=$(cat $sys/nr_hugepages)
    free=$(cat $sys/free_hugepages)
    echo $((nr - free)) > $sys/nr_hugepages 2>/dev/null || true
    # After hours of churn (a guest, a thousand clients, other suites) the
    # kernel's free memory is scattered too: compact it, so that the pages
    # taken again can be physically adjacent.
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    echo 1 > /proc/sys/vm/compact_memory 2>/dev/null || true
    echo "$nr" > $sys/nr_hugepages 2>/dev/null || true
}

reserve_hugepages 600
refresh_hugepages
export CONTIG_TEST_SOAK_SECONDS=${CONTIG_TEST_SOAK_SECONDS:-20}
status=0
say "test suite (build/)"
meson test -C "$build" --print-errorlogs --num-processes 2 || status=1

say "build matrix: gcc and clang, five buildtypes, Debian hardening flags (build-matrix/)"
scripts/build-matrix.sh || status=1

refresh_hugepages
say "test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
scripts/sanitize.sh "$top/build-asan" -- --print-errorlogs --num-processes 2 || status=1
refresh_hugepages; say "multi-threaded clients under ThreadSanitizer (build-tsan/)"; scripts/tsan.sh "$top/build-tsan" || status=1

say "fuzzing: proto codec and session handler, ${CONTIG_FUZZ_SECONDS:-60} s each (build-fuzz/)"
if CC=clang setup_strict build-fuzz -Dfuzz=true &&
   ninja -C build-fuzz >/dev/null; then
    meson test -C build-fuzz --suite fuzz --print-errorlogs --num-processes 2 || status=1
else
    say "the clang fuzz build failed"; status=1
fi

[ $status = 0 ] && say "all test runs passed" || say "some test run FAILED (see above)"
exit $status
