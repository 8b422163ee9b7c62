/* SPDX-License-Identifier: MIT */
/*
 * pci_dev.c - what VFIO and UIO devices share: the command register and
 * the teardown (see pci_dev.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pci_dev.h"

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4 /* without it the device's DMA never starts */

int pci_enable_master(int fd, off_t cfg)
{
	uint16_t cmd;

	if (pread(fd, &cmd, sizeof(cmd), cfg + PCI_COMMAND) != sizeof(cmd))
		return -EIO;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(fd, &cmd, sizeof(cmd), cfg + PCI_COMMAND) != sizeof(cmd))
		return -EIO;
	return 0;
}

void pci_dev_close(struct pci_dev *d)
{
	if (d->bar0)
		munmap((void *)d->bar0, d->bar0_len);
	d->bar0 = NULL;
	if (d->device >= 0)
		close(d->device);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	d->device = d->group = d->container = -1;
}
