/* SPDX-License-Identifier: MIT */
/*
 * lowmem.h - dig for hugepages below a physical ceiling (--low-pool).
 *
 * The kernel takes hugepages from the highest zone first and from ZONE_DMA32
 * (below 4 GiB) last: on a 24 GiB machine the first hugepage below 4 GiB
 * appears only after ~20 GiB of hugepages are reserved. So the daemon grows
 * the kernel's hugepage pool step by step, faults every free hugepage into
 * files of its own (so the next step gets new memory, not the same pages),
 * keeps the pages below the ceiling, then gives everything else back and
 * shrinks nr_hugepages again - in bounded time, and never pushing
 * MemAvailable below a margin.
 */
#ifndef CONTIG_LOWMEM_H
#define CONTIG_LOWMEM_H

#include <stdint.h>

#include "backing.h"
#include "start_watch.h"

struct lowmem_request {
	uint64_t page_size;
	uint64_t ceiling;        /* every byte of a kept page lies below this */
	uint32_t want;           /* pages */
	uint64_t margin;         /* keep MemAvailable above this (bytes) */
	uint64_t time_limit_ns;
	uint32_t step;           /* pages added to nr_hugepages per step */
	const struct start_watch *watch; /* progress, and a stop between pages */
};

struct lowmem_report {
	uint32_t got;            /* pages below the ceiling, in pages[] */
	uint32_t steps;
	uint64_t scanned;        /* hugepages faulted and located */
	uint64_t ns;
	uint64_t peak_nr;        /* highest nr_hugepages reached */
	uint64_t mem_available;  /* MemAvailable at the deepest point */
	char why[160];           /* why it stopped, when short */
};

/*
 * Fill pages[0..want) with per-page backing pages (as backing ops acquire
 * makes them) lying wholly below the ceiling. Returns 0 (report->got may be
 * short: report->why says why) or -errno for a failure of the machinery, or
 * -EINTR when the watch asked for a stop. On every return, every page it
 * took for the dig is given back and nr_hugepages is lowered by what the
 * dig added; on an error, pages[] is empty too.
 */
int lowmem_dig(struct backing_linux *bl, const struct lowmem_request *rq,
	       struct backing_page *pages, struct lowmem_report *report);

#endif
