#!/bin/sh
# SPDX-License-Identifier: MIT
# check_corpus.sh GENERATOR CORPUS - the checked-in seeds are byte for byte
# what GENERATOR (gen_corpus.c) writes now; CORPUS may hold more (inputs a
# fuzzer found and someone kept). Regenerate with: GENERATOR CORPUS
set -eu
gen=$1 corpus=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" "$tmp"
n=0 bad=0
for f in "$tmp"/*/*; do
	rel=${f#"$tmp"/}
	n=$((n + 1))
	if ! cmp -s "$f" "$corpus/$rel"; then
		echo "check_corpus: $corpus/$rel is missing or stale"
		bad=$((bad + 1))
	fi
done
echo "check_corpus: $n seeds, $bad missing or stale"
[ "$bad" -eq 0 ]
