/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - see fixture.h.
 */
#include "fixture.h"

#include <stdio.h>
#include <string.h>

int fixture_up(struct daemon_proc *d, const char *const *args, dev_open_fn open,
	       const char *what, const char *addr, struct pci_dev *dev)
{
	int r;

	if (daemon_start(d, args) < 0)
		return -1;
	r = open(addr, dev);
	if (r < 0) {
		fprintf(stderr, "%s %s: %s\n", what, addr, strerror(-r));
		return -1;
	}
	return 0;
}

int fixture_down(struct daemon_proc *d, struct pci_dev *dev)
{
	pci_dev_close(dev);
	return daemon_stop(d) == 0 ? 0 : 1;
}
