#!/usr/bin/env bash
# run.sh - the guest suite: contig on two NUMA nodes, behind a real (emulated)
# IOMMU, and with a device that really DMAs into contig memory, none of
# which this host has. Boots Debian's own kernel (extracted from its
# linux-image package into a cache folder, never installed) under QEMU TCG
# with a busybox initramfs (tests/guest/init); the guest mounts the host's /
# read-only over 9p and runs tests/guest/checks.sh and the build tree's
# programs in a chroot of it. Two boots, because the no-IOMMU check needs a
# machine without the IOMMU:
#   iommu    q35 + intel-iommu, e1000 on vfio-pci: NUMA checks, VFIO DMA
#   noiommu  q35, e1000 on uio_pci_generic: DMA to contig_phys_addr() values
# Both have two NUMA nodes (one vCPU and 1.5 GiB each; node 1 reaches above
# 4 GiB). The guest prints "contig-guest: PASS|FAIL name" lines and a summary
# on its serial console; every check named in expect_* must pass.
#
#   tests/guest/run.sh BUILD_DIR
# Exit 77 (skip), with the reason, when the packages or the kernel cannot be
# had or QEMU cannot start; any failed, missing or skipped guest check fails.
set -u
build=$(cd "${1:?build dir}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${CONTIG_GUEST_CACHE:-/var/cache/contig-guest}
work=$(mktemp -d /tmp/contig-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT

skip() { echo "guest suite skipped: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (apt-get, and the guest's chroot is of /)"
case "$build$src" in
*' '* | *,*) skip "a path with a space or comma cannot be passed to QEMU's -virtfs" ;;
esac
# A sanitizer build needs its runtime and ptrace-free /proc; the guest is lean.
if ldd "$build/daemon/contigd" 2>/dev/null | grep -q 'libasan\|libubsan\|libtsan'; then
	skip "sanitizer build: run the guest suite on a plain build"
fi

# Packages, as scripts/contig.sh installs them (it lists them too).
packages=(qemu-system-x86 cpio busybox-static)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
		>"$work/apt.log" 2>&1 || { tail -5 "$work/apt.log"; skip "cannot install ${missing[*]}"; }
fi

# The kernel: the version linux-image-amd64 depends on now, downloaded and
# extracted once into the cache; without a package mirror, whatever the cache
# already holds.
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9].*-amd64$/ { print $2; exit }')
if [ -n "$kpkg" ] && [ ! -d "$cache/$kpkg/boot" ]; then
	(cd "$cache" && apt-get download "$kpkg") >"$work/kernel.log" 2>&1 &&
		rm -rf "$cache/$kpkg.tmp" &&
		dpkg-deb -x "$cache/$kpkg"_*.deb "$cache/$kpkg.tmp" &&
		mv "$cache/$kpkg.tmp" "$cache/$kpkg" && rm -f "$cache/$kpkg"_*.deb ||
		{ tail -3 "$work/kernel.log"; rm -rf "$cache/$kpkg.tmp"; }
fi
[ -n "$kpkg" ] && [ -d "$cache/$kpkg/boot" ] || kpkg=$(cd "$cache" && ls -d linux-image-*-amd64 2>/dev/null | tail -1)
[ -n "$kpkg" ] && [ -d "$cache/$kpkg/boot" ] || skip "no Debian kernel package could be downloaded into $cache"
kdir=$cache/$kpkg
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
moddir=$(ls -d "$kdir"/lib/modules/* | head -1)
echo "kernel: $kpkg ($(basename "$vmlinuz"))"

modules_common="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
	netfs fscache 9pnet 9pnet_virtio 9p"
modules_iommu="irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci"
modules_noiommu="uio uio_pci_generic"

# initramfs MODE MODULES...: busybox, init, the modules flat in load order.
initramfs() {
	local mode=$1 root=$work/root-$1 m f
	shift
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	for a in sh mount insmod mkdir cat echo chroot poweroff sleep; do
		ln -sf busybox "$root/bin/$a"
	done
	install -m755 "$src/tests/guest/init" "$root/init"
	for m in "$@"; do
		f=$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" | head -1)
		[ -n "$f" ] || { echo "module $m not in $kpkg"; return 1; }
		case "$f" in
		*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
		*) cp "$f" "$root/lib/modules/$m.ko" ;;
		esac
		echo "$m" >>"$root/lib/modules/order"
	done
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd-$mode"
}

# boot MODE: one guest; its console in $work/console-MODE.
boot() {
	local mode=$1 machine=q35 extra=() append driver mods
	append="console=ttyS0 quiet panic=-1 contig_mode=$mode contig_src=$src contig_build=$build"
	if [ "$mode" = iommu ]; then
		machine=q35,kernel-irqchip=split
		extra=(-device intel-iommu,intremap=on)
		append="$append intel_iommu=on contig_driver=vfio-pci"
		mods="$modules_common $modules_iommu"
	else
		append="$append contig_driver=uio_pci_generic"
		mods="$modules_common $modules_noiommu"
	fi
	# shellcheck disable=SC2086
	initramfs "$mode" $mods || skip "cannot build the initramfs"
	local t0=$SECONDS
	# The timeout only keeps a hung guest from hanging the suite.
	timeout 600 qemu-system-x86_64 -accel tcg -nodefaults -display none -no-reboot \
		-machine "$machine" "${extra[@]}" -cpu max -smp 2 -m 3G \
		-object memory-backend-ram,id=m0,size=1536M -object memory-backend-ram,id=m1,size=1536M \
		-numa node,nodeid=0,memdev=m0,cpus=0 -numa node,nodeid=1,memdev=m1,cpus=1 \
		-device e1000,netdev=n0 -netdev hubport,id=n0,hubid=0 \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-kernel "$vmlinuz" -initrd "$work/initrd-$mode" -append "$append" \
		-serial "file:$work/console-$mode" -monitor none \
		>"$work/qemu-$mode.log" 2>&1
	local rc=$?
	# The serial line ends lines with CR LF.
	tr -d '\r' <"$work/console-$mode" >"$work/console-$mode.txt" 2>/dev/null
	mv -f "$work/console-$mode.txt" "$work/console-$mode" 2>/dev/null
	echo "=== guest $mode: QEMU exit $rc after $((SECONDS - t0)) s; console:"
	sed 's/^/  | /' "$work/console-$mode" 2>/dev/null
	if ! grep -q '^contig-guest: booted' "$work/console-$mode" 2>/dev/null; then
		cat "$work/qemu-$mode.log"
		# QEMU itself refused to run: a reason to skip, said as such.
		[ $rc = 0 ] || [ ! -s "$work/console-$mode" ] &&
			skip "QEMU could not start or boot the $mode guest (exit $rc)"
	fi
	return 0
}

expect_iommu="numa_pages_on_their_node numa_preferred_falls_back numa_strict_enomem
	numa_any_follows_cpu numa_carved numa_carved_strict numa_contigctl_figures
	numa_prometheus_labels
	vfio_dma_loopback vfio_dma_carved_tx vfio_unmap_blocks_dma vfio_map_errors"
expect_noiommu="uio_dma_phys uio_dma_below_4g uio_dma_carved"

status=0
t_all=$SECONDS
for mode in iommu noiommu; do
	boot "$mode"
	log=$work/console-$mode
	eval "expect=\$expect_$mode"
	for name in $expect; do
		if grep -q "^contig-guest: PASS $name\$" "$log"; then
			echo "ok      $mode $name"
		else
			echo "FAILED  $mode $name (no PASS line)"; status=1
		fi
	done
	if grep -q '^contig-guest: FAIL' "$log"; then
		grep '^contig-guest: FAIL' "$log"; status=1
	fi
	grep -q '^contig-guest: summary pass=[0-9]* fail=0$' "$log" ||
		{ echo "FAILED  $mode: no clean summary line from the guest"; status=1; }
done
echo "guest suite: $((SECONDS - t_all)) s, $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
