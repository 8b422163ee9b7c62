/* SPDX-License-Identifier: MIT */
/*
 * reserve.h - getting the pool at start: how many pages on which node, the
 * kernel's hugepage pool raised when short, the low pool dug for, and one
 * clear line when it cannot be had.
 */
#ifndef CONTIG_RESERVE_H
#define CONTIG_RESERVE_H

#include <stdbool.h>

#include "backing.h"
#include "pool.h"
#include "settings.h"
#include "start_watch.h"

/* Returns 0, or -errno after printing one line to stderr saying what it
 * got, what it needed and what to change, or -EINTR when watch asked for a
 * stop (between pages: within one page's fault). On failure every page it
 * took is given back, except what pool_init left in pool (pool_destroy);
 * nr_hugepages raised on the way stays in the ledger (hugetlb.h) until
 * hugetlb_restore_all. */
int reserve_pool(struct pool *pool, struct backing_linux *bl, const struct settings *arg,
		 bool no_pin, const struct start_watch *watch);

/* "2 MiB", "1 GiB", "512 KiB". */
const char *human(uint64_t bytes, char *buf, size_t n);

#endif
