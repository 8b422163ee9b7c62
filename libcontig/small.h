/* SPDX-License-Identifier: MIT */
/*
 * small.h - the small-region cache (CONTIG_SMALL_CACHE=1): regions of at
 * most 64 KiB carved from pool pages this process leases, one size class
 * per page. Its lock comes before the link's.
 */
#ifndef LIBCONTIG_SMALL_H
#define LIBCONTIG_SMALL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct contig_region_info;

/* freed runs with the cache's lock held whenever a block is given back,
 * before any other thread can be given it (contig.c forgets the
 * translations of it). */
void small_init(void (*freed)(void));
void small_fork_prepare(void);
void small_fork_parent(void);
void small_fork_child(void);     /* the slab pages were not inherited */

bool small_wanted(const struct proto_alloc *a);
int small_alloc(const struct proto_alloc *a, void **ret);
bool small_free(void *base);     /* true if it was a small region (or inside a slab) */
bool small_owns(const void *va); /* a live small region holds va */
/* The live small region holding va: 0 and *ret, or -ENOENT. */
int small_info(const void *va, struct contig_region_info *ret);
void small_trim(void);           /* give idle slab pages back */

#endif
