#!/usr/bin/env bash
# nspawn_boot.sh - run contigd.service under a real systemd: boot a Debian 12
# tree (debootstrap, cached in /var/tmp/contig-nspawn) with systemd-nspawn,
# with our unit, socket, config, sysusers and tmpfiles snippets installed;
# a oneshot unit inside checks that the service is active and READY (Type=
# notify), serves a client, reloads on SIGHUP and stops cleanly, then powers
# the container off. Exit 77 (skip) when debootstrap or systemd-nspawn is
# missing, or the tree cannot be built (no package mirror reachable).
#
#   tests/nspawn_boot.sh BUILD_DIR
set -u
build=$(cd "${1:?build dir}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tree=/var/tmp/contig-nspawn
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null || {
    echo "systemd-nspawn or debootstrap missing: skipping"; exit 77; }

# A sanitizer build needs its runtime, which the container does not have.
if ldd "$build/daemon/contigd" 2>/dev/null | grep -q 'libasan\|libubsan'; then
    echo "sanitizer build: its runtime is not in the container: skipping"; exit 77
fi

if [ ! -x "$tree/usr/lib/systemd/systemd" ] || [ ! -x "$tree/bin/kill" ]; then
    rm -rf "$tree"
    if ! debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,procps,libnuma1,libsystemd0,liburing2 \
        bookworm "$tree" >"$results/debootstrap.log" 2>&1; then
        tail -5 "$results/debootstrap.log"
        echo "cannot build a Debian tree here: skipping"; rm -rf "$tree"; exit 77
    fi
fi

install -D -m755 "$build/daemon/contigd" "$tree/usr/local/sbin/contigd"
install -D -m755 "$build/cli/contigctl" "$tree/usr/local/sbin/contigctl"
install -D -m755 "$build/examples/contig-demo" "$tree/usr/local/bin/contig-demo"
mkdir -p "$tree/usr/local/lib" "$tree/etc/contigd" "$tree/results"
cp -a "$build"/libcontig/libcontig.so* "$tree/usr/local/lib/"
install -D -m644 "$build/systemd/contigd.service" "$tree/etc/systemd/system/contigd.service"
install -D -m644 "$build/systemd/contigd.socket" "$tree/etc/systemd/system/contigd.socket"
install -D -m644 "$src/systemd/contigd.conf" "$tree/etc/contigd/contigd.conf"
install -D -m644 "$src/systemd/contig.sysusers" "$tree/usr/lib/sysusers.d/contig.conf"
install -D -m644 "$src/systemd/contig.tmpfiles" "$tree/usr/lib/tmpfiles.d/contig.conf"
sed -i 's|^ExecStart=.*contigd |ExecStart=/usr/local/sbin/contigd |' "$tree/etc/systemd/system/contigd.service"
echo /usr/local/lib > "$tree/etc/ld.so.conf.d/local.conf"

cat > "$tree/usr/local/bin/contig-check" <<'CHECK'
#!/bin/sh
# Runs inside the container, under systemd, after contigd.service is up.
out=/results
systemctl show contigd -p ActiveState -p SubState -p StatusText -p Type > $out/show.txt
CONTIG_SOCKET=/run/contigd/contigd.sock contig-demo > $out/demo.txt 2>&1; echo "demo=$?" >> $out/demo.txt
contigctl status --json > $out/status.json 2>&1
stat -c '%U:%G %a' /run/contigd /run/contigd/contigd.sock > $out/perms.txt
systemctl reload contigd; sleep 1
systemctl stop contigd
systemctl show contigd -p ActiveState -p Result -p ExecMainStatus > $out/stopped.txt
journalctl -b -u contigd --no-pager -o cat > $out/journal.txt 2>&1
CHECK
chmod 755 "$tree/usr/local/bin/contig-check"
cat > "$tree/etc/systemd/system/contig-check.service" <<'UNIT'
[Unit]
Description=check contigd under systemd, then power off
After=contigd.service
Wants=contigd.service

[Service]
Type=oneshot
ExecStartPre=/sbin/ldconfig
ExecStart=/usr/local/bin/contig-check
ExecStopPost=/bin/systemctl --no-block poweroff

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$tree/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/contig-check.service \
    "$tree/etc/systemd/system/multi-user.target.wants/contig-check.service"

# Hugepages come from the host; the container's /proc/sys is read-only.
sys=/sys/kernel/mm/hugepages/hugepages-2048kB
need=160
free=$(cat $sys/free_hugepages)
[ "$free" -ge $need ] || echo $(( $(cat $sys/nr_hugepages) + need - free )) > $sys/nr_hugepages

timeout 180 systemd-nspawn -q --register=no --keep-unit --capability=CAP_IPC_LOCK \
    -D "$tree" --boot --bind="$results:/results" --console=pipe >"$results/boot.log" 2>&1
echo "--- systemctl show (running)"; cat "$results/show.txt" 2>/dev/null
echo "--- demo"; cat "$results/demo.txt" 2>/dev/null
echo "--- contigctl status --json"; cat "$results/status.json" 2>/dev/null
echo "--- permissions"; cat "$results/perms.txt" 2>/dev/null
echo "--- after stop"; cat "$results/stopped.txt" 2>/dev/null
echo "--- journal"; cat "$results/journal.txt" 2>/dev/null

fail=0
check() { grep -q "$2" "$results/$1" 2>/dev/null || { echo "FAILED: $1 lacks '$2'"; fail=1; }; }
check show.txt "ActiveState=active"
check show.txt "Type=notify"
check show.txt "StatusText=pool 256 MiB"
check demo.txt "demo=0"
check demo.txt "below the ceiling: yes, zeroed: yes"
check status.json '"total_bytes":268435456'
check perms.txt "root:contig 750"
check perms.txt "root:contig 660"
check stopped.txt "ActiveState=inactive"
check stopped.txt "Result=success"
check journal.txt "contigd.conf reloaded"
check journal.txt "signal 15: stopping"
if grep -q "cannot pin" "$results/journal.txt" 2>/dev/null; then echo "FAILED: pinning"; fail=1; fi
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
