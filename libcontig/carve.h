/* SPDX-License-Identifier: MIT */
/*
 * carve.h - page granularity: regions smaller than a pool page carved,
 * in this process, from pool pages it leases from contigd (CONTIG_CARVE=0:
 * off). See carve.c. Its arena locks come before the stash's asking lock
 * and the link's.
 */
#ifndef LIBCONTIG_CARVE_H
#define LIBCONTIG_CARVE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct contig_region_info;

void carve_fork_prepare(void);
void carve_fork_parent(void);
void carve_fork_child(void);     /* the leased pages were not inherited */

/* Carve a region for a (checked, cache type CACHED): 0 and *ret, zeroed;
 * -ENOTSUP if a is not for carving (carving off, or too large: the caller
 * asks for whole pages); else the -errno of the request. */
int carve_alloc(const struct proto_alloc *a, void **ret);
/* true if va lies in a page leased for carving (then a live region's base
 * was freed, anything else ignored); false: not carving's. */
bool carve_free(void *va);
/* va lies in a page leased for carving: true and *phys (CONTIG_PHYS_INVALID
 * outside the bytes of a live region). No lock, no system call. */
bool carve_phys(const void *va, uint64_t *phys);
/* The live carved region holding va: 0 and *ret, or -ENOENT. */
int carve_info(const void *va, struct contig_region_info *ret);
/* va is the base of a live carved region. */
bool carve_owns(const void *va);
/* Give every idle leased page back to the daemon (before describing the
 * pool). */
void carve_trim(void);

#endif
