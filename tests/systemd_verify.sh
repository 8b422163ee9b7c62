#!/bin/sh
# SPDX-License-Identifier: MIT
#
# systemd_verify.sh SERVICE SOCKET [CONTIGD] - run "systemd-analyze verify"
# on the configured contigd.service and contigd.socket (from meson's build
# directory), print what it says, and fail on anything it says about our
# units. Exits 77 (meson's "skipped") without systemd-analyze.
#
# The configured ExecStart= names the installed binary, which a build tree
# does not have yet, and verify rejects a unit whose binary is missing: when
# it is missing, the copy under test points at CONTIGD (the built binary,
# if given) or at true(1) instead.
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 contigd.service contigd.socket [contigd-binary]" >&2
    exit 2
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not found: skipping"
    exit 77
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
# The socket activates the service of the same name: keep both names.
cp "$1" "$tmp/contigd.service" || exit 1
cp "$2" "$tmp/contigd.socket" || exit 1

bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$tmp/contigd.service")
if [ -z "$bin" ]; then
    echo "$1: no ExecStart=" >&2
    exit 1
fi
if [ ! -x "$bin" ]; then
    if [ $# -eq 3 ]; then
        case $3 in
        /*) sub=$3 ;;
        *) sub=$(pwd)/$3 ;;
        esac
    elif [ -x /bin/true ]; then
        sub=/bin/true
    else
        sub=/usr/bin/true
    fi
    echo "note: $bin is not installed; verifying with ExecStart=$sub"
    sed "s|^ExecStart=$bin|ExecStart=$sub|" "$tmp/contigd.service" >"$tmp/service.new" &&
        mv "$tmp/service.new" "$tmp/contigd.service" || exit 1
fi

# --man=no: verify would look up man:contigd(8) among the installed pages,
# which says nothing about this build.
out=$(cd "$tmp" && SYSTEMD_COLORS=0 systemd-analyze verify --man=no \
    ./contigd.service ./contigd.socket 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out"
if printf '%s\n' "$out" | grep -q contigd; then
    echo "FAIL: systemd-analyze verify has something to say about our units" >&2
    exit 1
fi
if [ $rc -ne 0 ]; then
    echo "note: systemd-analyze verify exited $rc, but not about our units"
fi
echo "ok: contigd.service and contigd.socket verify cleanly"
exit 0
