/* SPDX-License-Identifier: MIT */
/*
 * vfio_dev.c - a device bound to vfio-pci, opened the way the kernel's
 * Documentation/driver-api/vfio.rst shows: container, group (its number
 * from sysfs iommu_group), type1 IOMMU, device fd, BAR 0 by mmap of its
 * region. The device then reaches only what the test maps into the
 * container (contig_vfio_dma_map).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "pci_dev.h"

static int group_of(const char *addr, char *ret, size_t n)
{
	char link[256], target[PATH_MAX];
	ssize_t len;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", addr);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		return -errno;
	target[len] = 0;
	snprintf(ret, n, "/dev/vfio/%s", basename(target));
	return 0;
}

static int region(int device, uint32_t index, struct vfio_region_info *ret)
{
	*ret = (struct vfio_region_info){ .argsz = sizeof(*ret), .index = index };
	return ioctl(device, VFIO_DEVICE_GET_REGION_INFO, ret) < 0 ? -errno : 0;
}

int vfio_dev_open(const char *addr, struct pci_dev *ret)
{
	struct pci_dev d = { .container = -1, .group = -1, .device = -1 };
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info bar, cfg;
	char path[64];
	void *map;
	int r;

	r = group_of(addr, path, sizeof(path));
	if (r < 0)
		return r;
	d.container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d.container < 0)
		goto fail_errno;
	if (ioctl(d.container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(d.container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		r = -ENOTSUP;
		goto fail;
	}
	d.group = open(path, O_RDWR | O_CLOEXEC);
	if (d.group < 0)
		goto fail_errno;
	if (ioctl(d.group, VFIO_GROUP_GET_STATUS, &gs) < 0)
		goto fail_errno;
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		r = -EBUSY; /* another device of the group is bound to a host driver */
		goto fail;
	}
	if (ioctl(d.group, VFIO_GROUP_SET_CONTAINER, &d.container) < 0 ||
	    ioctl(d.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		goto fail_errno;
	d.device = ioctl(d.group, VFIO_GROUP_GET_DEVICE_FD, addr);
	if (d.device < 0)
		goto fail_errno;
	r = region(d.device, VFIO_PCI_CONFIG_REGION_INDEX, &cfg);
	if (r < 0)
		goto fail;
	r = pci_enable_master(d.device, (off_t)cfg.offset);
	if (r < 0)
		goto fail;
	r = region(d.device, VFIO_PCI_BAR0_REGION_INDEX, &bar);
	if (r < 0)
		goto fail;
	if (!(bar.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		r = -ENOTSUP;
		goto fail;
	}
	map = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.device, (off_t)bar.offset);
	if (map == MAP_FAILED)
		goto fail_errno;
	d.bar0 = map;
	d.bar0_len = bar.size;
	*ret = d;
	return 0;

fail_errno:
	r = -errno;
fail:
	pci_dev_close(&d);
	return r;
}
