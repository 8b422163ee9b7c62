/* SPDX-License-Identifier: MIT */
/*
 * start_watch.h - how the start-up work (raising nr_hugepages, the low-pool
 * dig, the pool's fault-in) talks to the outside before the event loop
 * exists: it reports its progress between pages and learns whether a stop
 * (SIGTERM, SIGINT) was asked for, then unwinds: every page dropped,
 * nr_hugepages put back (hugetlb.h). main.c implements it.
 */
#ifndef CONTIG_START_WATCH_H
#define CONTIG_START_WATCH_H

#include <stdbool.h>
#include <stdint.h>

struct start_watch {
	/* Called between pages, from any thread: phase says what is being
	 * done ("digging", "raising nr_hugepages", "faulting the pool"),
	 * done/total how far (pages). Cheap; returns false once a stop was
	 * asked for. */
	bool (*tick)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *ctx;
};

/* NULL or no tick: never stops. */
static inline bool start_watch_tick(const struct start_watch *w, const char *phase, uint64_t done,
				    uint64_t total)
{
	return !w || !w->tick || w->tick(w->ctx, phase, done, total);
}

#endif
