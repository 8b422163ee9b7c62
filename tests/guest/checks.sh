#!/bin/bash
# checks.sh - runs inside the guest, in a chroot of the host's / (see init):
# the mode's cmocka programs from the build tree, each test's outcome
# turned into one "contig-guest: PASS|FAIL name" line for run.sh, and a
# summary. A test cmocka skips counts as failed: nothing may skip in here.
#
#   checks.sh BUILD_DIR      (CONTIG_GUEST_MODE=iommu|noiommu, CONTIG_GUEST_DEV=pci address)
build=${1:?build dir}
pass=0
fail=0

export CONTIGD=$build/daemon/contigd CONTIGCTL=$build/cli/contigctl
export CMOCKA_MESSAGE_OUTPUT=stdout CONTIG_DEBUG_CHECK=1

# run PROGRAM ARGS...: its output indented on the console, its tests counted.
run() {
	local name=${1##*/} out rc
	# Shown as it comes (a hung test shows where it hung), kept to count.
	"$@" 2>&1 | tee /tmp/checks.out | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	out=$(cat /tmp/checks.out)
	# Per test: its OK or FAILED line; after cmocka's "N test(s) run."
	# come the totals and the failed names again, not counted twice.
	local counted=1
	while read -r line; do
		case "$line" in
		"INFO "*) echo "contig-guest: $line" ;;
		"[==========] "*" run.") counted=0 ;;
		"[       OK ] "*) echo "contig-guest: PASS ${line#*] }"; pass=$((pass + 1)) ;;
		"[  FAILED  ] "* | "[  SKIPPED ] "*)
			[ $counted = 1 ] || continue
			echo "contig-guest: FAIL ${line#*] }"; fail=$((fail + 1)) ;;
		esac
	done <<<"$out"
	if [ $rc != 0 ]; then
		echo "contig-guest: FAIL $name: exit $rc"; fail=$((fail + 1))
	fi
}

echo "contig-guest: nodes $(ls -d /sys/devices/system/node/node* | wc -l), $(grep MemTotal /proc/meminfo)"
case "$CONTIG_GUEST_MODE" in
iommu)
	run "$build/tests/guest/guest-numa"
	run "$build/tests/guest/guest-vfio" "$CONTIG_GUEST_DEV"
	;;
noiommu)
	run "$build/tests/guest/guest-uio" "$CONTIG_GUEST_DEV"
	;;
*) echo "contig-guest: FAIL mode: unknown mode '$CONTIG_GUEST_MODE'"; fail=$((fail + 1)) ;;
esac
echo "contig-guest: summary pass=$pass fail=$fail"
