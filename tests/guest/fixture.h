/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - what every DMA check of a guest program runs against: a
 * contigd and the e1000 opened through one driver (vfio-pci or
 * uio_pci_generic), up in a cmocka group setup, down in its teardown.
 */
#ifndef CONTIG_GUEST_FIXTURE_H
#define CONTIG_GUEST_FIXTURE_H

#include "harness.h"
#include "pci_dev.h"

typedef int (*dev_open_fn)(const char *addr, struct pci_dev *dev);

/* Start contigd with args, then open the device at addr: 0 or -1 (the
 * reason printed, naming what). */
int fixture_up(struct daemon_proc *d, const char *const *args, dev_open_fn open,
	       const char *what, const char *addr, struct pci_dev *dev);
/* Close the device and stop contigd: 0 when it stopped cleanly, else 1. */
int fixture_down(struct daemon_proc *d, struct pci_dev *dev);

#endif
