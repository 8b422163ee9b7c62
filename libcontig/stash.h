/* SPDX-License-Identifier: MIT */
/*
 * stash.h - freed private regions kept for reuse (CONTIG_STASH=0: off),
 * each entry a slot of the session's stash table that the daemon can take
 * back at any time. Its entries are guarded by the regions lock.
 */
#ifndef LIBCONTIG_STASH_H
#define LIBCONTIG_STASH_H

#include <stdbool.h>

#include "link.h"
#include "proto.h"

/* The carve layer's part of the table: slot STASH_CARVE_SLOT0 + i parks
 * arena i's empty page, and the report lines (proto.h) follow the slots. */
#define STASH_CARVE_SLOT0 (PROTO_STASH_SLOTS - PROTO_CARVE_LINES)

/* Fork handlers (the asking lock; in the child, nothing stashed is left:
 * the table and the entries' pages are MADV_DONTFORK). */
void stash_fork_prepare(void);
void stash_fork_parent(void);
void stash_fork_child(void);

/* Keep a region that left the region index (the regions lock held): 0 if
 * kept; -ENOENT if its session's table is not here yet (stash_want_table
 * may get it); another -errno if it is not for the stash now. */
int stash_put(const struct region *reg);
/* Ask the daemon for reg's session's table unless it was asked already
 * (no lock held). true: the table is here, stash_put may keep reg. */
bool stash_want_table(const struct region *reg);
/* The table of session gen, for the carve layer, without a lock: its
 * address stays writable for the life of the process (a table that ends is
 * replaced by private memory), so a late access is harmless, and only
 * what the caller knows about gen decides what the slots mean. ask: get it
 * from the daemon if it is not here (no lock held; CONTIG_STASH=0 does not
 * matter). NULL if there is none. */
uint64_t *stash_carve_table(uint64_t gen, bool ask);
/* Hand out an entry that satisfies a, zeroed and back in the region index
 * (takes the regions lock): 0 and *ret, or -ENOENT. */
int stash_get(const struct proto_alloc *a, void **ret);
/* The session ended (link's on_end): drop every entry unused. */
void stash_end(void);
/* Free every entry for real (no lock held). */
void stash_flush(void);

#endif
