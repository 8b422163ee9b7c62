#!/bin/sh
# SPDX-License-Identifier: MIT
#
# include_cycles.sh - fail if the modules of daemon/ or libcontig/ include
# each other in a circle.
#
#   tests/include_cycles.sh [SOURCE-ROOT]
#
# A module is foo.c and foo.h together (a .c including its own header is
# no edge). Module a depends on module b when a.c or a.h has an
# `#include "b.h"` line and b.h is in the same directory (other headers:
# proto/, system, are outside the check). Any cycle a -> b -> ... -> a is
# printed with the lines that make it, and the script exits 1.
set -eu

root=${1:-$(dirname "$0")/..}
status=0
for dir in daemon libcontig; do
	set -- "$root/$dir"/*.c "$root/$dir"/*.h
	[ -e "$1" ] || { echo "include_cycles: no sources in $root/$dir" >&2; exit 1; }
	awk -v dir="$dir" '
	function module(path) {
		sub(/.*\//, "", path)
		sub(/\.[ch]$/, "", path)
		return path
	}
	BEGIN {
		for (i = 1; i < ARGC; i++)
			if (ARGV[i] ~ /\.h$/) {
				h = ARGV[i]
				sub(/.*\//, "", h)
				header[h] = 1
			}
	}
	/^[ \t]*#[ \t]*include[ \t]*"/ {
		name = $0
		sub(/^[^"]*"/, "", name)
		sub(/".*/, "", name)
		if (!(name in header))
			next
		u = module(FILENAME)
		v = module(name)
		node[u] = 1
		node[v] = 1
		if (u == v || ((u, v) in why))
			next
		adj[u, ++deg[u]] = v
		f = FILENAME
		sub(/.*\//, "", f)
		why[u, v] = f ":" FNR " includes " name
	}
	function dfs(u,    i, k, v, path, because) {
		color[u] = 1
		stack[++sp] = u
		for (i = 1; i <= deg[u]; i++) {
			v = adj[u, i]
			if (color[v] == 1) {
				for (k = sp; stack[k] != v; k--)
					;
				path = ""
				because = ""
				for (; k <= sp; k++) {
					path = path stack[k] " -> "
					because = because "\n    " why[stack[k], (k < sp ? stack[k + 1] : v)]
				}
				printf "include cycle in %s/: %s%s%s\n", dir, path, v, because
				found = 1
			} else if (!color[v]) {
				dfs(v)
			}
		}
		sp--
		color[u] = 2
	}
	END {
		for (u in node)
			if (!color[u])
				dfs(u)
		exit found ? 1 : 0
	}' "$@" || status=1
done
[ "$status" -eq 0 ] && echo "include_cycles: daemon/ and libcontig/ have no include cycle"
exit "$status"
