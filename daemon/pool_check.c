/* SPDX-License-Identifier: MIT */
/*
 * pool_check.c - the pool's invariants, recomputed from scratch (as
 * extent_pool_check is beside extent.c): called by the fuzzer after every
 * step, and by contigd after every loop turn when CONTIG_DEBUG_CHECK is set
 * (the integration tests set it), so that every test exercises them.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static __attribute__((format(printf, 3, 4))) int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

#define FAIL(...) return fail(why, len, __VA_ARGS__)

static int check_regions(const struct pool *p, uint8_t *owned, char *why, size_t len)
{
	uint32_t nregions = 0, used = 0;

	for (uint32_t slot = 0; slot < p->npages; slot++) {
		const struct region *rg = p->slots[slot];
		const struct list_node *n;
		uint32_t nleases = 0;

		if (!rg)
			continue;
		nregions++;
		if (rg->slot != slot || (uint32_t)rg->id != slot)
			FAIL("region %" PRIx64 " in slot %u", rg->id, slot);
		if (!rg->npages || rg->npages > p->npages || !rg->nbytes ||
		    (rg->nbytes - 1) / p->page_size + 1 != rg->npages)
			FAIL("region %" PRIx64 ": %" PRIu64 " bytes in %u pages", rg->id, rg->nbytes,
			     rg->npages);
		for (uint32_t k = 0; k < rg->npages; k++) {
			uint32_t id = rg->ids[k];
			if (id >= p->npages || owned[id]++)
				FAIL("page %u of region %" PRIx64 " is another region's too", id,
				     rg->id);
			if (p->ext.pages[id].state != EXTENT_USED)
				FAIL("page %u of a live region is in state %u", id,
				     p->ext.pages[id].state);
			if (p->ext.pages[id].phys != rg->phys + (uint64_t)k * p->page_size)
				FAIL("region %" PRIx64 " is not contiguous at its page %u", rg->id, k);
			used++;
		}
		for (n = rg->leases.next; n != &rg->leases; n = n->next) {
			const struct lease *l = container_of(n, struct lease, by_region);
			if (l->region != rg || !l->refs || l->refs > POOL_MAX_LEASE_REFS)
				FAIL("a lease of region %" PRIx64 " with %u refs", rg->id, l->refs);
			nleases++;
		}
		if (!nleases || nleases != rg->nleases)
			FAIL("region %" PRIx64 ": %u leases, nleases %u", rg->id, nleases, rg->nleases);
	}
	if (nregions != p->nregions || nregions + p->nfree_slots != p->npages)
		FAIL("%u regions in slots, nregions %u, %u free slots of %u", nregions, p->nregions,
		     p->nfree_slots, p->npages);
	if (used != p->ext.nstate[EXTENT_USED])
		FAIL("%u pages in regions, %u USED", used, p->ext.nstate[EXTENT_USED]);
	return 0;
}

static int check_pages(const struct pool *p, char *why, size_t len)
{
	for (uint32_t id = 0; id < p->npages; id++) {
		uint8_t st = p->ext.pages[id].state;
		int fd = p->pages[id].fd;

		switch (st) {
		case EXTENT_FREE:
		case EXTENT_USED:
		case EXTENT_QUARANTINED:
			if (fd < 0)
				FAIL("page %u in state %u has no file", id, st);
			break;
		case EXTENT_RECLAIMING:
			/* Revoked: no file until reclaim gives it a new one;
			 * trusted mode keeps the file and zeroes it in place. */
			if (fd >= 0 && !p->zero_in_place)
				FAIL("page %u is being reclaimed but still has fd %d", id, fd);
			break;
		case EXTENT_LOST:
			if (fd >= 0)
				FAIL("lost page %u still has fd %d", id, fd);
			break;
		default:
			FAIL("page %u in state %u", id, st);
		}
	}
	if (p->q_len != p->ext.nstate[EXTENT_QUARANTINED])
		FAIL("%u in the quarantine ring, %u QUARANTINED", p->q_len,
		     p->ext.nstate[EXTENT_QUARANTINED]);
	if (p->reclaim.in_flight + p->npending != p->ext.nstate[EXTENT_RECLAIMING])
		FAIL("%u pages with reclaim and %u about to go, %u RECLAIMING",
		     p->reclaim.in_flight, p->npending, p->ext.nstate[EXTENT_RECLAIMING]);
	return 0;
}

int pool_check(const struct pool *p, char *why, size_t len)
{
	uint8_t *owned;
	int r;

	if (extent_pool_check(&p->ext) != 0)
		FAIL("extent_pool_check: the allocator's derived facts are wrong");
	owned = calloc(p->npages, 1);
	if (!owned)
		return -ENOMEM;
	r = check_regions(p, owned, why, len);
	free(owned);
	if (r == 0)
		r = check_pages(p, why, len);
	return r;
}
