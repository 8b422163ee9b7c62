/* SPDX-License-Identifier: MIT */
/*
 * regions.c - the table of this process's live regions, sorted by base, and
 * the translation of a virtual address inside one of them to its physical
 * address.
 *
 * contig_phys_addr is on DMA hot paths, so its common case is one
 * thread-local compare: each thread caches the last region it translated
 * with the table generation it saw; any removal bumps the generation, so a
 * cached region is only used while it is certainly still live (ixy and VPP
 * do the same translation, run->pa + (va - run->va), without the safety).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "contig.h"
#include "internal.h"

static _Atomic uint64_t table_gen = 1;

/* A few entries: code that alternates between its RX and TX rings, or
 * walks several buffers, stays on the fast path. */
#define PHYS_CACHE 4

struct phys_cache {
	uintptr_t base, end;
	uint64_t phys;
	uint64_t gen;
};
static __thread struct phys_cache tcache[PHYS_CACHE] __attribute__((tls_model("initial-exec")));
static __thread unsigned tcache_next __attribute__((tls_model("initial-exec")));

void lc_phys_cache(uintptr_t base, uintptr_t end, uint64_t phys, uint64_t gen)
{
	tcache[tcache_next++ % PHYS_CACHE] = (struct phys_cache){ base, end, phys, gen };
}

uint64_t lc_table_gen(void)
{
	return atomic_load_explicit(&table_gen, memory_order_acquire);
}

void regions_changed(void)
{
	atomic_fetch_add_explicit(&table_gen, 1, memory_order_release);
}

static size_t lower_bound(uintptr_t va)
{
	size_t lo = 0, hi = lc.nregions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lc.regions[mid].base <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo; /* first region with base > va */
}

struct lc_region *regions_find(uintptr_t va)
{
	size_t i = lower_bound(va);

	if (i == 0)
		return NULL;
	struct lc_region *r = &lc.regions[i - 1];
	return va - r->base < r->mapped ? r : NULL;
}

int regions_insert(const struct lc_region *r)
{
	size_t i;

	if (lc.nregions == lc.cap) {
		size_t cap = lc.cap ? lc.cap * 2 : 16;
		struct lc_region *n = realloc(lc.regions, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		lc.regions = n;
		lc.cap = cap;
	}
	i = lower_bound(r->base);
	memmove(&lc.regions[i + 1], &lc.regions[i], (lc.nregions - i) * sizeof(*r));
	lc.regions[i] = *r;
	lc.nregions++;
	return 0;
}

void regions_remove(struct lc_region *r)
{
	size_t i = (size_t)(r - lc.regions);

	memmove(&lc.regions[i], &lc.regions[i + 1], (lc.nregions - i - 1) * sizeof(*r));
	lc.nregions--;
	regions_changed();
}

void regions_clear(void)
{
	free(lc.regions);
	lc.regions = NULL;
	lc.nregions = lc.cap = 0;
	regions_changed();
}

uint64_t lc_phys_slow(uintptr_t va)
{
	uint64_t gen, phys = CONTIG_PHYS_INVALID;
	struct lc_region *r;

	pthread_mutex_lock(&lc.table);
	gen = atomic_load_explicit(&table_gen, memory_order_acquire);
	r = regions_find(va);
	/* Only bytes the caller asked for have a meaningful address. */
	if (r && va - r->base < r->nbytes) {
		phys = r->phys + (va - r->base);
		lc_phys_cache(r->base, r->base + r->nbytes, r->phys, gen);
	}
	pthread_mutex_unlock(&lc.table);
	/* Not taken under lc.table: the small cache's lock comes first. */
	if (phys == CONTIG_PHYS_INVALID)
		phys = small_phys(va);
	return phys;
}

LC_EXPORT uint64_t contig_phys_addr(const void *va)
{
	uintptr_t a = (uintptr_t)va;
	uint64_t gen = atomic_load_explicit(&table_gen, memory_order_acquire);

	for (unsigned i = 0; i < PHYS_CACHE; i++) {
		const struct phys_cache *c = &tcache[i];
		if (a - c->base < c->end - c->base && c->gen == gen)
			return c->phys + (a - c->base);
	}
	return lc_phys_slow(a);
}
