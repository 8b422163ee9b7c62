#!/bin/sh
# SPDX-License-Identifier: MIT
#
# container_cdi.sh CLIENT SPEC - contig inside a podman container given
# nothing but the shipped CDI spec (systemd/contig-cdi.json, pointed at a
# private contigd): the client (tests/cdi_client.c) has no CAP_SYS_ADMIN,
# no hugetlbfs and no PFNs in its pagemap, and still gets a zeroed,
# contiguous region with its physical address; its container's cgroup
# (podman's cgroupfs parent /libpod_parent) is held to cgroup-max-bytes
# with EDQUOT at the call; contigctl shows the session's cgroup.
#
# Podman 4.3 as Debian ships it: runc (crun refuses this machine's hybrid
# cgroups), --cgroup-manager=cgroupfs, default_ulimits = [] (the default
# nofile ulimit is not permitted here). The root filesystem is busybox and
# the client with the libraries it loads: no image registry is reachable.
# Exit 77 (skip) only without root or podman/runc, saying why.
set -eu

client=$1
spec=$2
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*"; [ -f "$work/contigd.log" ] && sed 's/^/contigd: /' "$work/contigd.log"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root"
command -v podman >/dev/null || skip "podman missing (scripts/contig.sh installs it)"
command -v runc >/dev/null || skip "runc missing (scripts/contig.sh installs it)"
command -v busybox >/dev/null || skip "busybox missing"

work=$(mktemp -d /tmp/contig-cdi.XXXXXX)
cdi=/etc/cdi/contig-test-$$.json
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -f "$cdi"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

run=$work/run
root=$work/root
mkdir -p "$run" "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/etc" /etc/cdi

# ---- the root filesystem ----
cp "$(command -v busybox)" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$client" "$root/bin/cdi-client"
for lib in $(ldd "$client" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# ---- contigd, with a limit on every podman container ----
printf 'cgroup-max-bytes = /libpod_parent 8M\n' >"$work/contigd.conf"
"$CONTIGD" --socket "$run/contigd.sock" --pool 64M --config "$work/contigd.conf" \
    2>"$work/contigd.log" &
daemon=$!
i=0
until [ -S "$run/contigd.sock" ] && "$CONTIGCTL" --socket "$run/contigd.sock" status >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 300 ] || die "contigd did not start"
    kill -0 "$daemon" 2>/dev/null || die "contigd exited"
    sleep 0.1
done

# ---- the shipped spec, pointed at this daemon ----
sed -e "s|/run/contigd|$run|g" -e 's|"contig.io/dma"|"contig.io/dma-test"|' "$spec" >"$cdi"
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"

CONTAINERS_CONF=$work/containers.conf podman --runtime runc --cgroup-manager=cgroupfs run --rm \
    --network none --device contig.io/dma-test=default -e CDI_CLIENT_HOLD=1 \
    -e LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" \
    --rootfs "$root" /bin/cdi-client >"$work/out" 2>&1 &
pod=$!
i=0
until [ -e "$run/ready" ]; do
    i=$((i + 1))
    if [ $i -ge 600 ] || ! kill -0 $pod 2>/dev/null; then
        cat "$work/out"
        die "the container's client did not get to its checks"
    fi
    sleep 0.1
done
# How contigd sees it: its own cgroup, podman's.
"$CONTIGCTL" --socket "$run/contigd.sock" clients --json >"$work/clients.json"
grep -q '"cgroup":"/libpod_parent/libpod-[0-9a-f]*"' "$work/clients.json" ||
    { cat "$work/clients.json"; die "no session in /libpod_parent/libpod-<id>"; }
"$CONTIGCTL" --socket "$run/contigd.sock" stats --prometheus >"$work/prom"
grep -q '^contig_cgroup_bytes{cgroup="/libpod_parent"} 8388608$' "$work/prom" ||
    { grep contig_cgroup "$work/prom"; die "the gauge of /libpod_parent is not 8 MiB"; }
touch "$run/go"
status=0
wait $pod || status=$?
cat "$work/out"
[ $status = 0 ] || die "the client failed (exit $status)"
# 8 MiB: the page it carves its 4 KiB from, then 3 whole pages.
grep -qx 'whole=3' "$work/out" || die "expected 3 regions of 2 MiB before EDQUOT"
grep -qx 'result=ok' "$work/out" || die "the client's checks failed"
echo "container_cdi: ok"
