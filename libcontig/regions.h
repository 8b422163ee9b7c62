/* SPDX-License-Identifier: MIT */
/*
 * regions.h - the region index: this process's live regions, sorted by
 * base, for lookups by any address inside one of them.
 *
 * Everything here is called with the regions lock held, which never waits
 * for the daemon (the link's lock comes before it), so a lookup never does.
 * The stash keeps its entries under the same lock: a free and an
 * allocation take it anyway, so a reuse costs one lock.
 */
#ifndef LIBCONTIG_REGIONS_H
#define LIBCONTIG_REGIONS_H

#include <stdint.h>

#include "link.h"

void regions_lock(void);
void regions_unlock(void);

int regions_insert(const struct region *r);   /* 0 or -ENOMEM */
struct region *regions_find(uintptr_t va);    /* the region containing va, or NULL */
void regions_remove(struct region *r);        /* r from regions_find */
void regions_clear(void);                     /* after fork, in the child */

#endif
