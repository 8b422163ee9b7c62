/* SPDX-License-Identifier: MIT */
/*
 * vfio_map.c - give a device behind VFIO a contig region: with an IOMMU,
 * map it at an IOVA of our choosing; without one, program the device with
 * the physical addresses of the region's pages.
 *
 * Run (as root, contigd running, the device bound to vfio-pci; N is its
 * IOMMU group, from readlink /sys/bus/pci/devices/<BDF>/iommu_group):
 *   build/daemon/contigd --socket /tmp/c.sock --pool 64M & sleep 1; CONTIG_SOCKET=/tmp/c.sock
 * build/examples/contig-vfio-map /dev/vfio/N
 *
 * On a machine without VFIO it says so and exits 0. The lines an
 * application adds are marked "contig:"; the rest is the usual VFIO
 * container and group setup (Documentation/driver-api/vfio.rst).
 */
#include <contig.h>
#include <contig_vfio.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define IOVA 0x100000000ull /* any free, page-aligned device address */

/* Container with the group attached and the type1 IOMMU chosen: the
 * container fd, or -1 (reason printed). */
static int open_container(const char *group_path)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	int container, group;

	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0) {
		printf("vfio_map: cannot open /dev/vfio/vfio: %s.\n"
		       "This kernel has no VFIO (or vfio is not loaded): nothing to map, "
		       "nothing was changed.\n",
		       strerror(errno));
		return -1;
	}
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    !ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)) {
		printf("vfio_map: no type1v2 IOMMU support in this VFIO\n");
		close(container);
		return -1;
	}
	group = group_path ? open(group_path, O_RDWR | O_CLOEXEC) : -1;
	if (group < 0 || ioctl(group, VFIO_GROUP_GET_STATUS, &st) < 0 ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE) ||
	    ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0 ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		printf("vfio_map: give a viable VFIO group (/dev/vfio/N) with all its devices "
		       "bound to vfio-pci: %s\n",
		       group_path ? strerror(errno) : "none given");
		if (group >= 0)
			close(group);
		close(container);
		return -1;
	}
	/* The group stays attached while its fd is open; a real program
	 * keeps it to get device fds (VFIO_GROUP_GET_DEVICE_FD). */
	return container;
}

int main(int argc, char **argv)
{
	uint64_t table[8];
	int container = open_container(argc > 1 ? argv[1] : NULL);
	void *p;

	if (container < 0)
		return 0;
	p = contig_alloc(4 << 20, CONTIG_MAX_ADDRESS);
	if (!p) {
		fprintf(stderr, "contig_alloc: %s (is contigd running?)\n", strerror(errno));
		return 1;
	}
	/* contig: with the IOMMU, the device sees the region at IOVA. */
	if (contig_vfio_dma_map(container, p, IOVA) < 0) {
		fprintf(stderr, "contig_vfio_dma_map: %s\n", strerror(errno));
		return 1;
	}
	printf("region %p (%zu bytes) mapped for DMA at IOVA 0x%" PRIx64 "\n", p,
	       contig_vfio_dma_size(p), (uint64_t)IOVA);
	/* contig: without an IOMMU, these are the addresses to program. */
	ssize_t n = contig_vfio_phys_table(p, table, 8);
	for (ssize_t k = 0; k < n && k < 8; k++)
		printf("  page %zd: phys 0x%" PRIx64 "\n", k, table[k]);
	/* contig: unmap before freeing: the device must not outlive the region. */
	if (contig_vfio_dma_unmap(container, IOVA, contig_vfio_dma_size(p)) < 0)
		fprintf(stderr, "contig_vfio_dma_unmap: %s\n", strerror(errno));
	contig_free(p);
	close(container);
	return 0;
}
