#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# deb_install.sh - the Debian packages, installed and run for real: build the
# .debs from the source tree (dpkg-buildpackage in a temporary copy, cached
# by source hash under /var/tmp/contig-debs), twice (the second with the
# version bumped, for the upgrade), install them into a copy of the Debian 12
# tree of tests/nspawn_boot.sh (the cache is never modified), boot it with
# systemd-nspawn --boot, and check from a oneshot unit inside:
#   - installing changes nothing on the host: nr_hugepages is untouched, the
#     service is neither started nor enabled; the group contig and
#     /run/contigd (root:contig 0750) exist;
#   - systemctl start contigd reaches READY (Type=notify), contigctl works;
#   - a user in the group contig allocates and gets a physical address, a
#     user outside it gets EACCES;
#   - systemctl reload applies a lower uid-max-bytes from contigd.conf: the
#     same allocation now gets EDQUOT (and works again once restored);
#   - systemctl restart contigd leaves a client's region, its bytes and its
#     physical address (contig_phys_addr and /proc/PID/pagemap) intact;
#   - installing the newer build over the running one neither stops nor
#     restarts contigd (debian/rules says why): live clients keep their
#     regions and their sessions; a restart then runs the new binary;
#   - apt-get purge stops contigd and removes units, config, group and
#     runtime directory.
# The client is tests/deb_probe.c, built here against <contig.h> and the
# pkg-config file of the libcontig-dev package. The DPDK and AF_XDP library
# packages are built and linted, not installed (their dependencies are not
# in the minimal tree).
#
#   tests/deb_install.sh [B_SANITIZE]
#
# lintian runs on each fresh build and fails it on any error.
# CONTIG_DEBS=DIR takes the .debs from DIR instead of building them, and
# CONTIG_DEBS_UPGRADE=DIR the newer ones (without it the upgrade step
# reinstalls the same version). Exit 77 (skip) without root, debootstrap,
# systemd-nspawn or dpkg-buildpackage, or when no Debian tree can be built
# (no package mirror); under a sanitizer build it skips too, since the
# packages are built from the sources, not from that build.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
cache_root=/var/tmp/contig-debs
tree_cache=/var/tmp/contig-nspawn
sys=/sys/kernel/mm/hugepages/hugepages-2048kB
start=$SECONDS

skip() { echo "skipping: $*"; exit 77; }
die() { echo "FAILED: $*"; exit 1; }

case "${1:-none}" in
none | '') ;;
*) skip "sanitizer build ($1): the packages are built from the sources, the plain build's run covers them" ;;
esac
[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, dpkg)"
command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null ||
    skip "systemd-nspawn or debootstrap missing"
if [ -z "${CONTIG_DEBS:-}" ]; then
    for t in dpkg-buildpackage dh dch; do
        command -v $t >/dev/null || skip "$t missing (apt-get install debhelper devscripts)"
    done
fi

work=$(mktemp -d /var/tmp/contig-debinst.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs/v1" "$work/debs/v2" "$work/results"

# ---- the packages -----------------------------------------------------------
# Every file git would commit, as it is in the working tree; the test's own
# files are in no package and do not count.
tree_files() {
    (cd "$src" && git ls-files -z -co --exclude-standard) |
        while IFS= read -r -d '' f; do
            case $f in tests/deb_install.sh | tests/deb_probe.c) continue ;; esac
            [ -f "$src/$f" ] && printf '%s\0' "$f"
        done
}

build_debs() {
    local dir=$1 b=$1/build ver
    mkdir -p "$b/src"
    tree_files | (cd "$src" && tar --null -T - -cf -) | tar -xf - -C "$b/src" || return 1
    # nocheck: the unit suite runs in every meson build of the tree already.
    (cd "$b/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
        dpkg-buildpackage -us -uc -b) >"$dir/build-v1.log" 2>&1 || {
        tail -20 "$dir/build-v1.log"; return 1; }
    # lintian: no error (warnings and infos are listed, see the README).
    if command -v lintian >/dev/null; then
        lintian --fail-on error -I --pedantic "$b"/*.changes 2>&1 | grep -v 'root privileges' \
            >"$dir/lintian.txt"
        [ "${PIPESTATUS[0]}" = 0 ] || { cat "$dir/lintian.txt"; echo "lintian reports errors"; return 1; }
    fi
    mkdir -p "$dir/v1" "$dir/v2"
    mv "$b"/*.deb "$dir/v1/" && rm -f "$dir"/v1/*-dbgsym_*.deb
    # The same sources, rebuilt with the next version (dch), for the upgrade:
    # -nc keeps the compiled tree, dh_builddeb and the rest run again.
    ver=$(cd "$b/src" && dpkg-parsechangelog -S Version)+1
    (cd "$b/src" && DEBEMAIL="contig tests <tests@contig.example.org>" \
        dch -v "$ver" -D unstable --force-distribution "Rebuild: the upgrade test's newer version." &&
        DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b -nc) \
        >"$dir/build-v2.log" 2>&1 || { tail -20 "$dir/build-v2.log"; return 1; }
    mv "$b"/*.deb "$dir/v2/" && rm -f "$dir"/v2/*-dbgsym_*.deb
    rm -rf "$b"
}

if [ -n "${CONTIG_DEBS:-}" ]; then
    cp "$CONTIG_DEBS"/*.deb "$work/debs/v1/" || die "no .debs in $CONTIG_DEBS"
    cp "${CONTIG_DEBS_UPGRADE:-$CONTIG_DEBS}"/*.deb "$work/debs/v2/" || die "no .debs in $CONTIG_DEBS_UPGRADE"
    echo "packages from $CONTIG_DEBS${CONTIG_DEBS_UPGRADE:+, upgrade from $CONTIG_DEBS_UPGRADE}"
else
    mkdir -p "$cache_root"
    hash=$(tree_files | (cd "$src" && xargs -0 sha256sum) | sha256sum | cut -c1-16)
    cache=$cache_root/$hash
    exec 9>"$cache_root/.lock"
    flock 9
    if [ ! -f "$cache/done" ]; then
        rm -rf "$cache"
        t0=$SECONDS
        echo "building the packages (source $hash) ..."
        build_debs "$cache" || { rm -rf "$cache"; die "dpkg-buildpackage (log above)"; }
        touch "$cache/done"
        echo "packages built in $((SECONDS - t0)) s"
        # Keep the newest three builds.
        ls -1dt "$cache_root"/*/ | tail -n +4 | xargs -r rm -rf
    else
        echo "packages of source $hash from $cache"
    fi
    flock -u 9
    [ -f "$cache/lintian.txt" ] && echo "lintian: $(grep -c . "$cache/lintian.txt") tags, no error" &&
        cat "$cache/lintian.txt"
    cp "$cache"/v1/*.deb "$work/debs/v1/" && cp "$cache"/v2/*.deb "$work/debs/v2/" || die "cache $cache"
fi
# What goes into the tree: the daemon, the client library, -dev, and the VFIO
# library (no dependency beyond libcontig0).
pkgs=(contigd libcontig0 libcontig-dev libcontig-vfio0 libcontig-vfio-dev)
for v in v1 v2; do
    for p in "${pkgs[@]}"; do
        ls "$work/debs/$v/${p}"_*.deb >/dev/null 2>&1 || die "$v: no ${p}_*.deb"
    done
done
v1=$(dpkg-deb -f "$work"/debs/v1/contigd_*.deb Version)
v2=$(dpkg-deb -f "$work"/debs/v2/contigd_*.deb Version)
echo "contigd $v1, upgrade to $v2"

# The probe, built against the -dev package's header and pkg-config file.
x=$work/x
for p in libcontig0 libcontig-dev; do dpkg-deb -x "$work"/debs/v1/${p}_*.deb "$x"; done
pc_flags=$(PKG_CONFIG_SYSROOT_DIR=$x PKG_CONFIG_LIBDIR=$(echo "$x"/usr/lib/*/pkgconfig) \
    pkg-config --cflags --libs libcontig) || die "pkg-config libcontig from libcontig-dev"
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Wextra -Werror -O2 -o "$work/deb-probe" "$src/tests/deb_probe.c" $pc_flags ||
    die "building tests/deb_probe.c against libcontig-dev"

# ---- the tree -----------------------------------------------------------------
if [ ! -x "$tree_cache/usr/lib/systemd/systemd" ] || [ ! -x "$tree_cache/bin/kill" ]; then
    # The same tree (and cache) as tests/nspawn_boot.sh.
    rm -rf "$tree_cache"
    if ! debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,procps,libnuma1,libsystemd0,liburing2 \
        bookworm "$tree_cache" >"$work/debootstrap.log" 2>&1; then
        tail -5 "$work/debootstrap.log"
        rm -rf "$tree_cache"
        skip "cannot build a Debian tree here (debootstrap failed)"
    fi
fi
tree=$work/tree
cp -a --reflink=auto "$tree_cache" "$tree" || die "copying $tree_cache"
# Whatever earlier runs of nspawn_boot.sh left in its cache is not ours.
rm -rf "${tree:?}"/usr/local/* "$tree"/etc/systemd/system/contig* \
    "$tree"/etc/systemd/system/multi-user.target.wants/contig* "$tree/etc/contigd" \
    "$tree"/usr/lib/sysusers.d/contig.conf "$tree"/usr/lib/tmpfiles.d/contig.conf \
    "$tree/etc/ld.so.conf.d/local.conf"
if grep -q '^contig:' "$tree/etc/group"; then
    chroot "$tree" groupdel contig
fi
install -D -m755 "$work/deb-probe" "$tree/usr/local/bin/deb-probe"
mkdir -p "$tree/debs" "$tree/results"

cat >"$tree/usr/local/bin/deb-check" <<'CHECK'
#!/bin/bash
# Runs inside the container under systemd; every line it prints is in
# /results/check.log, and "FAIL:" lines fail the test.
exec >/results/check.log 2>&1
set -u
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; }
expect() { # what command...: the command succeeds
    local what=$1; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
prop() { systemctl show contigd -p "$1" --value; }
hp() { cat /proc/sys/vm/nr_hugepages; }
probe() { runuser -u "$1" -- deb-probe alloc "$2" 2>&1; }
waitfor() { # file pattern: up to 10 s
    for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
field() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" "$1" | head -1; }
# Physical address of the page at VA in process PID, from /proc/PID/pagemap
# (needs CAP_SYS_ADMIN, which root has here): PFN in bits 0-54, present bit 63.
pagemap_phys() {
    local hex e
    hex=$(dd if=/proc/$1/pagemap bs=8 skip=$(($2 / 4096)) count=1 2>/dev/null | od -An -tx8 | tr -d ' \n')
    [ -n "$hex" ] || { echo none; return; }
    e=$((16#$hex))
    (( (e >> 63) & 1 )) || { echo absent; return; }
    printf '0x%x\n' $(( (e & 0x7FFFFFFFFFFFFF) * 4096 + $2 % 4096 ))
}
reload_and_wait() {
    local n
    n=$(journalctl -u contigd -o cat --no-pager | grep -c 'contigd.conf reloaded')
    systemctl reload contigd
    for _ in $(seq 50); do
        [ "$(journalctl -u contigd -o cat --no-pager | grep -c 'contigd.conf reloaded')" -gt "$n" ] && return 0
        sleep 0.1
    done
    return 1
}
v1=$(cat /debs/v1.version) v2=$(cat /debs/v2.version)
debs() { local d=$1; shift; for p in "$@"; do ls /debs/$d/${p}_*.deb; done; }
pkgs="contigd libcontig0 libcontig-dev libcontig-vfio0 libcontig-vfio-dev"

echo "--- install $v1"
hp0=$(hp)
expect "dpkg -i $v1" dpkg -i $(debs v1 $pkgs)
expect "nr_hugepages untouched by the install ($hp0)" test "$(hp)" = "$hp0"
expect "contigd not started by the install" test "$(prop ActiveState)" = inactive
expect "contigd never ran" test "$(prop ExecMainPID)" = 0
expect "contigd.service not enabled" test "$(systemctl is-enabled contigd.service)" = disabled
expect "contigd.socket not enabled" test "$(systemctl is-enabled contigd.socket)" = disabled
expect "group contig exists" getent group contig
expect "/run/contigd is root:contig 0750" test "$(stat -c '%U:%G %a' /run/contigd)" = "root:contig 750"
expect "/etc/contigd/contigd.conf is a conffile" grep -q '^ /etc/contigd/contigd.conf ' <(dpkg-query -W -f='${Conffiles}\n' contigd)
expect "no maintainer script touches hugepages or sysctls" \
    sh -c '! cat /var/lib/dpkg/info/contigd.*inst /var/lib/dpkg/info/contigd.*rm | grep -v "^[[:space:]]*#" | grep -E "hugepages|sysctl"'
expect "no sysctl.d file shipped" sh -c '! dpkg -L contigd | grep -q sysctl'

echo "--- start"
expect "systemctl start contigd" systemctl start contigd
systemctl show contigd -p ActiveState -p SubState -p Type -p StatusText -p MainPID
expect "contigd active (READY=1 received)" test "$(prop ActiveState)/$(prop SubState)" = active/running
expect "status text" grep -q '^pool 256 MiB' <<<"$(prop StatusText)"
contigctl status; echo "contigctl status: $?"
expect "contigctl status --json" grep -q '"total_bytes":268435456' <<<"$(contigctl status --json)"
expect "socket root:contig 0660" test "$(stat -c '%U:%G %a' /run/contigd/contigd.sock)" = "root:contig 660"

echo "--- access"
useradd -m -G contig alice && useradd -m bob
r=$(probe alice 2M); echo "alice: $r"
expect "alice (group contig) allocates and gets a physical address" grep -q '^ok phys=0x[0-9a-f]' <<<"$r"
r=$(probe bob 2M); echo "bob: $r"
expect "bob (not in contig) gets EACCES" test "$r" = errno=EACCES

echo "--- a client holding a region"
rm -f /tmp/hold1.out /tmp/hold2.out
runuser -u alice -- deb-probe hold 2M /tmp/hold1.out &
expect "holder 1 allocated" waitfor /tmp/hold1.out '^held'
cat /tmp/hold1.out
pid1=$(field /tmp/hold1.out pid) va1=$(field /tmp/hold1.out va) phys1=$(field /tmp/hold1.out phys)
pm=$(pagemap_phys "$pid1" $((va1))); echo "pagemap of holder 1: $pm"
expect "contig_phys_addr matches /proc/PID/pagemap" test $((pm)) = $((phys1))

echo "--- reload applies a changed quota"
cp /etc/contigd/contigd.conf /tmp/contigd.conf.orig
r=$(probe alice 2M); echo "before: $r"
expect "alice allocates 2M more before the change" grep -q '^ok' <<<"$r"
echo "uid-max-bytes = 3M" >>/etc/contigd/contigd.conf
expect "systemctl reload contigd (reloaded)" reload_and_wait
r=$(probe alice 2M); echo "after: $r"
expect "uid-max-bytes = 3M: 2M held + 2M more is EDQUOT" test "$r" = errno=EDQUOT
cp /tmp/contigd.conf.orig /etc/contigd/contigd.conf
expect "reload of the original" reload_and_wait
r=$(probe alice 2M); echo "restored: $r"
expect "alice allocates again once restored" grep -q '^ok' <<<"$r"

echo "--- restart keeps a client's region"
before=$(prop MainPID)
expect "systemctl restart contigd" systemctl restart contigd
after=$(prop MainPID)
echo "MainPID $before -> $after"
expect "a new contigd" test "$after" != "$before" -a "$(prop ActiveState)" = active
kill -USR1 "$pid1"
expect "holder 1 checked its region" waitfor /tmp/hold1.out '^check 1 '
tail -1 /tmp/hold1.out
expect "bytes and physical address intact after the restart" grep -q "^check 1 ok phys=$phys1\$" /tmp/hold1.out
pm=$(pagemap_phys "$pid1" $((va1))); echo "pagemap of holder 1: $pm"
expect "pagemap agrees after the restart" test $((pm)) = $((phys1))
expect "the new contigd serves" grep -q '^ok' <<<"$(probe alice 2M)"

echo "--- upgrade to $v2 over a running contigd"
runuser -u alice -- deb-probe hold 2M /tmp/hold2.out &
expect "holder 2 allocated" waitfor /tmp/hold2.out '^held'
pid2=$(field /tmp/hold2.out pid) phys2=$(field /tmp/hold2.out phys)
main=$(prop MainPID)
hp0=$(hp)
expect "dpkg -i $v2" dpkg -i $(debs v2 $pkgs)
expect "contigd is $v2" test "$(dpkg-query -W -f='${Version}' contigd)" = "$v2"
expect "nr_hugepages untouched by the upgrade ($hp0)" test "$(hp)" = "$hp0"
expect "contigd neither stopped nor restarted (MainPID $main)" test "$(prop MainPID)" = "$main" -a "$(prop ActiveState)" = active
expect "unit files reread (NeedDaemonReload=no)" test "$(prop NeedDaemonReload)" = no
kill -USR1 "$pid1"; kill -USR1 "$pid2"
expect "holder 1 region intact" waitfor /tmp/hold1.out "^check 2 ok phys=$phys1\$"
expect "holder 2 region intact" waitfor /tmp/hold2.out "^check 1 ok phys=$phys2\$"
kill -USR2 "$pid2"
expect "holder 2's session still serves it" waitfor /tmp/hold2.out '^alloc 2 ok'
expect "contigctl $v2 talks to the running contigd" contigctl status
echo "regions: $(contigctl status --json)"
expect "systemctl restart onto $v2" systemctl restart contigd
expect "contigd runs the new binary" test "$(readlink "/proc/$(prop MainPID)/exe")" = /usr/sbin/contigd
kill -USR1 "$pid2"
expect "holder 2 region intact after the restart" waitfor /tmp/hold2.out "^check 3 ok phys=$phys2\$"
cat /tmp/hold1.out /tmp/hold2.out

echo "--- purge"
kill "$pid1" "$pid2"; wait
hp0=$(hp)
expect "apt-get purge" apt-get purge -y -q $pkgs
expect "nr_hugepages untouched by the purge" test "$(hp)" = "$hp0"
expect "contigd stopped" sh -c '! pgrep -x contigd'
for p in $pkgs; do
    expect "$p gone from dpkg" test -z "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -v '^[up]n')"
done
for f in /lib/systemd/system/contigd.service /lib/systemd/system/contigd.socket /etc/contigd \
    /usr/lib/sysusers.d/contig.conf /usr/lib/tmpfiles.d/contig.conf /run/contigd /usr/sbin/contigd; do
    expect "$f removed" test ! -e "$f"
done
expect "no enablement state left" sh -c '! ls /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked 2>/dev/null | grep -q contigd'
expect "unit unknown to systemd" test "$(prop LoadState)" = not-found
expect "group contig removed" sh -c '! getent group contig'
echo "--- journal"
journalctl -b -u contigd --no-pager -o short-monotonic | tail -40
echo "deb-check done"
CHECK
chmod 755 "$tree/usr/local/bin/deb-check"
cat >"$tree/etc/systemd/system/deb-check.service" <<'UNIT'
[Unit]
Description=install, run, upgrade and purge the contig packages, then power off
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/bin/deb-check
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=300

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$tree/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/deb-check.service "$tree/etc/systemd/system/multi-user.target.wants/"
echo "$v1" >"$work/debs/v1.version"
echo "$v2" >"$work/debs/v2.version"

# Hugepages come from the host (the container's /proc/sys is read-only):
# the pool (128 pages), once more while the restarted contigd reserves a new
# pool and clients still map theirs, and the clients' own.
need=160
free=$(cat $sys/free_hugepages)
[ "$free" -ge $need ] || echo $(($(cat $sys/nr_hugepages) + need - free)) >$sys/nr_hugepages
free=$(cat $sys/free_hugepages)
[ "$free" -ge $need ] || die "wanted $need free 2 MiB hugepages on the host, got $free"

echo "booting the tree ($((SECONDS - start)) s so far)"
timeout 300 systemd-nspawn -q --register=no --keep-unit --capability=CAP_IPC_LOCK \
    -D "$tree" --boot --bind="$work/results:/results" --bind-ro="$work/debs:/debs" \
    --console=pipe >"$work/boot.log" 2>&1
rc=$?
cat "$work/results/check.log" 2>/dev/null || { tail -30 "$work/boot.log"; die "no results (nspawn exit $rc)"; }
grep -q '^deb-check done' "$work/results/check.log" || { tail -30 "$work/boot.log"; die "the check did not finish"; }
nfail=$(grep -c '^FAIL:' "$work/results/check.log")
nok=$(grep -c '^ok:' "$work/results/check.log")
echo "$nok passed, $nfail failed ($((SECONDS - start)) s)"
[ "$nfail" = 0 ]
