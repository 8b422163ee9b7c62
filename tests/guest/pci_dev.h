/* SPDX-License-Identifier: MIT */
/*
 * pci_dev.h - a PCI device handed to user space, for the guest's e1000:
 * BAR 0 mapped, bus mastering on. Two ways in: VFIO (vfio-pci, behind an
 * IOMMU: the device sees IOVAs the test maps) and UIO (uio_pci_generic,
 * no IOMMU: the device sees physical addresses).
 */
#ifndef CONTIG_GUEST_PCI_DEV_H
#define CONTIG_GUEST_PCI_DEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pci_dev {
	volatile uint8_t *bar0;
	size_t bar0_len;
	int container;  /* VFIO container (type1 IOMMU set), or -1 */
	int group;      /* VFIO group, or -1 */
	int device;     /* VFIO device fd, or -1 */
};

/* addr: "0000:00:01.0", bound to vfio-pci. Opens the container, attaches
 * the device's group with VFIO_TYPE1v2_IOMMU, maps BAR 0, sets bus master
 * in the command register. 0 or -errno. */
int vfio_dev_open(const char *addr, struct pci_dev *ret);

/* addr bound to uio_pci_generic: BAR 0 through sysfs resource0, bus master
 * through sysfs config. 0 or -errno. */
int uio_dev_open(const char *addr, struct pci_dev *ret);

/* Set memory space and bus master in the command register of the config
 * space fd gives at offset cfg (borrowed fd). 0 or -errno. */
int pci_enable_master(int fd, off_t cfg);

/* Unmap and close what open set up; accepts a zeroed or half-built one. */
void pci_dev_close(struct pci_dev *d);

#endif
