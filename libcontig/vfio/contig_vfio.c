/* SPDX-License-Identifier: MIT */
/*
 * contig_vfio.c - VFIO type1 DMA mappings of contig regions, and the
 * physical address table for no-IOMMU setups (see contig_vfio.h).
 *
 * Every VFIO ioctl goes through vfio_ioctl, a seam that tests redirect
 * (vfio_testing.h) to check the exact arguments on machines without VFIO.
 * A mapping always covers a whole region: the region's pool pages are the
 * unit contigd hands out and revokes, so a device never keeps a window on
 * part of a page that could change hands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/ioctl.h>

#include <linux/vfio.h>

#include "contig.h"
#include "contig_vfio.h"
#include "vfio_testing.h"

#define CV_EXPORT __attribute__((visibility("default")))

/* The smallest IOMMU page VFIO type1 accepts on x86 (VFIO_IOMMU_GET_INFO
 * iova_pgsizes reports 4 KiB and up). */
#define IOMMU_MIN_PAGE 4096u

static int real_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

static contig_vfio_ioctl_fn vfio_ioctl = real_ioctl;

void contig_vfio_set_ioctl_for_testing(contig_vfio_ioctl_fn fn)
{
	vfio_ioctl = fn ? fn : real_ioctl;
}

/* The region whose base is exactly base. */
static int region_at(const void *base, struct contig_region_info *ret)
{
	if (!base)
		return -EINVAL;
	if (contig_region_info(base, ret) < 0)
		return -errno;
	return ret->base == base ? 0 : -EINVAL;
}

static int dma_map(int fd, const void *base, uint64_t iova)
{
	struct contig_region_info ri;
	struct vfio_iommu_type1_dma_map map;
	int r;

	if (fd < 0)
		return -EBADF;
	r = region_at(base, &ri);
	if (r < 0)
		return r;
	if (iova % IOMMU_MIN_PAGE || iova + ri.mapped_bytes - 1 < iova)
		return -EINVAL;
	map = (struct vfio_iommu_type1_dma_map){
	    .argsz = sizeof(map),
	    .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	    .vaddr = (uintptr_t)base,
	    .iova = iova,
	    .size = ri.mapped_bytes,
	};
	return vfio_ioctl(fd, VFIO_IOMMU_MAP_DMA, &map) < 0 ? -errno : 0;
}

static int dma_unmap(int fd, uint64_t iova, size_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap;

	if (fd < 0)
		return -EBADF;
	if (size == 0 || iova % IOMMU_MIN_PAGE || size % IOMMU_MIN_PAGE || iova + size - 1 < iova)
		return -EINVAL;
	unmap = (struct vfio_iommu_type1_dma_unmap){
	    .argsz = sizeof(unmap),
	    .iova = iova,
	    .size = size,
	};
	if (vfio_ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
		return -errno;
	/* The kernel writes back how much it unmapped. */
	return unmap.size == size ? 0 : -ENOENT;
}

static int with_errno(int r)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

CV_EXPORT int contig_vfio_dma_map(int container_fd, const void *base, uint64_t iova)
{
	int saved = errno, r = dma_map(container_fd, base, iova);

	if (r == 0)
		errno = saved;
	return with_errno(r);
}

CV_EXPORT int contig_vfio_dma_unmap(int container_fd, uint64_t iova, size_t size)
{
	int saved = errno, r = dma_unmap(container_fd, iova, size);

	if (r == 0)
		errno = saved;
	return with_errno(r);
}

CV_EXPORT size_t contig_vfio_dma_size(const void *base)
{
	struct contig_region_info ri;
	int saved = errno, r = region_at(base, &ri);

	if (r < 0) {
		errno = -r;
		return 0;
	}
	errno = saved;
	return ri.mapped_bytes;
}

CV_EXPORT ssize_t contig_vfio_phys_table(const void *base, uint64_t *out, size_t n)
{
	struct contig_region_info ri;
	int saved = errno, r = region_at(base, &ri);
	size_t pages;

	if (r == 0 && n > 0 && !out)
		r = -EINVAL;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	/* One run of physically contiguous pages: page k is at phys + k * size. */
	pages = ri.mapped_bytes / ri.page_size;
	for (size_t k = 0; k < pages && k < n; k++)
		out[k] = ri.phys + k * ri.page_size;
	errno = saved;
	return (ssize_t)pages;
}
