/* SPDX-License-Identifier: MIT */
/*
 * contig_vfio.h - contig regions as device memory for VFIO applications
 * (libcontig-vfio, pkg-config libcontig-vfio).
 *
 * With an IOMMU (VFIO type1) the device does not see physical addresses but
 * an IOVA the application chooses: contig_vfio_dma_map maps a whole region
 * at one IOVA (VFIO_IOMMU_MAP_DMA, readable and writable by the device).
 * Choose IOVAs aligned to the pool page size (2 MiB) so the IOMMU can use
 * large pages. Without an IOMMU (vfio-noiommu, or a device programmed with
 * bus addresses) the device must be given physical addresses:
 * contig_vfio_phys_table lists them, one per pool page.
 *
 * container_fd is borrowed: the caller opened /dev/vfio/vfio, attached a
 * group (VFIO_GROUP_SET_CONTAINER) and chose the IOMMU type
 * (VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU or VFIO_TYPE1_IOMMU).
 *
 * Errors: -1 with errno (left untouched on success).
 *   EBADF    container_fd < 0
 *   EINVAL   base is not the base of a region; iova or size not a multiple
 *            of 4 KiB; iova + size wraps
 *   ENOENT   base lies in no live region (dma_map, phys_table); nothing was
 *            mapped in [iova, iova + size) (dma_unmap)
 *   and the ioctl's own errors (EEXIST: IOVA range already mapped; ENOMEM;
 *   EPERM: over RLIMIT_MEMLOCK; ENOTTY: not a VFIO container ...).
 */
#ifndef CONTIG_VFIO_H
#define CONTIG_VFIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Map the whole region at base (all its pool pages: contig_vfio_dma_size
 * bytes) for device DMA at iova. 0 or -1/errno. */
int contig_vfio_dma_map(int container_fd, const void *base, uint64_t iova);

/* Unmap [iova, iova + size): 0 when exactly that was mapped and is
 * unmapped now, else -1/errno (ENOENT: some or all of it was not mapped;
 * what was mapped in it is unmapped all the same). */
int contig_vfio_dma_unmap(int container_fd, uint64_t iova, size_t size);

/* Bytes contig_vfio_dma_map maps for the region at base, or 0 with errno. */
size_t contig_vfio_dma_size(const void *base);

/* No IOMMU: the physical address of each pool page of the region at base,
 * in order, into out[0..n). Returns the region's page count (which may be
 * more than n: call with n = 0 to size out), or -1/errno. */
ssize_t contig_vfio_phys_table(const void *base, uint64_t *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
