/* SPDX-License-Identifier: MIT */
/*
 * uio_dev.c - a device bound to uio_pci_generic, as ixy drives one: BAR 0
 * by mmap of sysfs resource0, bus master by a write to sysfs config. No
 * IOMMU translates its DMA: it is given physical addresses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pci_dev.h"

int uio_dev_open(const char *addr, struct pci_dev *ret)
{
	struct pci_dev d = { .container = -1, .group = -1, .device = -1 };
	char path[256];
	struct stat st;
	void *bar;
	int fd, r;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", addr);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = pci_enable_master(fd, 0);
	close(fd);
	if (r < 0)
		return r;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", addr);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto close_fd;
	}
	bar = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bar == MAP_FAILED) {
		r = -errno;
		goto close_fd;
	}
	d.bar0 = bar;
	d.bar0_len = (size_t)st.st_size;
	*ret = d;
	r = 0;
close_fd:
	close(fd);
	return r;
}
