#!/bin/sh
# SPDX-License-Identifier: MIT
#
# abi_check.sh LIBRARY SONAME HEADER - a library's dynamic symbol table is its
# public header and nothing else: every symbol LIBRARY defines in it is a
# function HEADER declares (no internal helper, no symbol of a static library
# linked in), every function HEADER declares is exported, each from a version
# node of the library's version script (none unversioned), and its SONAME is
# SONAME. Exits 77 (skipped) without nm or readelf.
set -u

if [ $# -ne 3 ]; then
    echo "usage: $0 LIBRARY SONAME HEADER" >&2
    exit 2
fi
lib=$1 soname=$2 header=$3
for t in nm readelf; do
    command -v $t >/dev/null 2>&1 || { echo "$t not found: skipping"; exit 77; }
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$got" != "$soname" ]; then
    echo "FAIL: $lib: SONAME '$got', not '$soname'"
    fail=1
fi

# The functions the header declares: identifiers followed by "(" once
# comments are gone (-fpreprocessed: includes and macros stay unexpanded).
# Function-like macros are upper case and do not match.
cc -fpreprocessed -dD -E -P "$header" 2>/dev/null |
    grep -o '\bcontig_[a-z0-9_]*[[:space:]]*(' | sed 's/[[:space:]]*($//' | sort -u >"$tmp/header"
if [ ! -s "$tmp/header" ]; then
    echo "FAIL: found no function in $header"
    exit 1
fi

# Defined dynamic symbols: "name@@NODE T value size" (posix format). The
# version nodes themselves are absolute symbols (type A), not code.
nm -D --defined-only --format=posix "$lib" | awk '$2 != "A" { print $1 }' | sort -u >"$tmp/dynsym"
sed 's/@.*//' "$tmp/dynsym" | sort -u >"$tmp/exported"

leaked=$(comm -13 "$tmp/header" "$tmp/exported")
missing=$(comm -23 "$tmp/header" "$tmp/exported")
unversioned=$(grep -v '@' "$tmp/dynsym")
if [ -n "$leaked" ]; then
    echo "FAIL: $lib exports symbols $header does not declare (internal symbols leaked):"
    echo "$leaked" | sed 's/^/  /'
    fail=1
fi
if [ -n "$missing" ]; then
    echo "FAIL: $lib does not export functions $header declares (version script?):"
    echo "$missing" | sed 's/^/  /'
    fail=1
fi
if [ -n "$unversioned" ]; then
    echo "FAIL: $lib exports unversioned symbols:"
    echo "$unversioned" | sed 's/^/  /'
    fail=1
fi
[ $fail = 0 ] && echo "ok: $(basename "$lib") ($soname) exports exactly the $(wc -l <"$tmp/header") functions of $(basename "$header")"
exit $fail
