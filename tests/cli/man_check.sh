#!/bin/sh
# SPDX-License-Identifier: MIT
#
# man_check.sh MANDIR CONFIG - the man pages render without a groff warning,
# have their ERRORS and EXIT STATUS (or RETURN VALUE) sections, and document
# what the programs offer: every contigd option of `contigd --help`, every
# key of the example config file, every contigctl command and option of
# `contigctl --help`, every function of contig.h. Ends with "N passed, N failed".
set -u
man=$1 conf=$2 header=$3
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# The text of a page as a reader sees it (no hyphenation, wide lines).
render() { groff -man -Tutf8 -rLL=200n -rHY=0 -P-cbou "$1" 2>/dev/null; }

for page in contigd.8 contigctl.8 libcontig.3; do
	w=$(groff -man -Tutf8 -ww -z "$man/$page" 2>&1)
	[ -z "$w" ] && ok || bad "$page: groff warnings: $w"
	for sec in NAME SYNOPSIS DESCRIPTION ERRORS "SEE ALSO"; do
		grep -q "^\.SH \"*$sec\"*\$" "$man/$page" && ok || bad "$page: no $sec section"
	done
done
for page in contigd.8 contigctl.8; do
	grep -q '^\.SH "*EXIT STATUS"*$' "$man/$page" && ok || bad "$page: no EXIT STATUS"
done
grep -q '^\.SH "*RETURN VALUE"*$' "$man/libcontig.3" && ok || bad "libcontig.3: no RETURN VALUE"

# contigd: options and config keys.
d=$(render "$man/contigd.8")
for opt in $("$CONTIGD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	echo "$d" | grep -q -- "$opt" && ok || bad "contigd.8 does not document $opt"
done
for key in $(sed -n 's/^#\([a-z][a-z0-9-]*\) *=.*/\1/p' "$conf" | sort -u); do
	echo "$d" | grep -q "^ *$key = \|, $key = " && ok || bad "contigd.8 does not document key $key"
done

# contigctl: commands, options, exit codes 0..5.
c=$(render "$man/contigctl.8")
help=$("$CONTIGCTL" --help)
for cmd in $(echo "$help" | sed -n 's/^  \([a-z]\+\) .*/\1/p'); do
	echo "$c" | grep -q "^       $cmd\b" && ok || bad "contigctl.8 does not document $cmd"
done
for opt in $(echo "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	echo "$c" | grep -q -- "$opt" && ok || bad "contigctl.8 does not document $opt"
done
for code in 0 1 2 3 4 5; do
	echo "$c" | sed -n '/^EXIT STATUS/,/^ERRORS/p' | grep -q "^ *$code\b" && ok ||
		bad "contigctl.8: exit code $code not documented"
done

# libcontig: every function of the header.
l=$(render "$man/libcontig.3")
for fn in $(grep -o 'contig_[a-z_]*(' "$header" | tr -d '(' | sort -u); do
	echo "$l" | grep -q "$fn" && ok || bad "libcontig.3 does not document $fn"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
