/* SPDX-License-Identifier: MIT */
/*
 * extent.h - the allocator core: which pool pages serve a request.
 *
 * Pure: page ids, physical addresses, nodes and states; no syscalls, no
 * globals, no allocation after extent_pool_init(). It is driven by the
 * daemon's pool and unit-tested on synthetic layouts (tests/test_extent.c).
 *
 * Model. The pool holds npages pages of page_size bytes, each with a stable
 * id (0..npages-1, the daemon's index into its backing pages), a physical
 * address, a NUMA node and a state. The ids sorted by physical address form
 * the order; a run is a maximal stretch of the order whose pages are
 * physically adjacent (phys[k+1] == phys[k] + page_size) and on one node.
 * A region is count consecutive positions of the order inside one run, so it
 * is physically contiguous and never spans nodes.
 *
 * Invariants (extent_pool_check recomputes and verifies every one):
 *  - order is a permutation of the ids sorted by phys, pos is its inverse,
 *    phys values are distinct and page aligned;
 *  - free_pages, nstate[], largest_free and runs equal what a full scan gives;
 *  - the bitmaps equal what the pages' states, phys and nodes give.
 *
 * States: only FREE pages are handed out. USED pages belong to a region.
 * RECLAIMING pages are being revoked and refaulted (their phys may change
 * when they come back: extent_set_phys). QUARANTINED pages wait before
 * reclaim. LOST pages did not come back from the kernel.
 */
#ifndef CONTIG_EXTENT_H
#define CONTIG_EXTENT_H

#include <assert.h>
#include <stdint.h>

enum extent_state {
	EXTENT_FREE = 0,
	EXTENT_USED,
	EXTENT_RECLAIMING,
	EXTENT_QUARANTINED,
	EXTENT_LOST,
	EXTENT_STATE_MAX,
};

struct extent_page {
	uint64_t phys;
	int32_t node;
	uint8_t state;     /* enum extent_state */
	uint8_t pad[3];
};
static_assert(sizeof(struct extent_page) == 16, "extent_page");

struct extent_pool {
	uint64_t page_size;        /* power of two */
	uint32_t npages;
	struct extent_page *pages; /* by id */
	uint32_t *order;           /* ids sorted by phys */
	uint32_t *pos;             /* pos[id]: index of id in order */
	/* Cached, derived: */
	uint32_t nstate[EXTENT_STATE_MAX];
	uint32_t largest_free;     /* pages in the longest run of free pages inside one run */
	uint32_t runs;
	/*
	 * Per position of the order, 64 to a word, bits past npages clear;
	 * extent.c's own, so placement skips a word of pages at a time:
	 */
	uint64_t *free_bits;       /* the page is FREE */
	uint64_t *reclaim_bits;    /* the page is RECLAIMING */
	uint64_t *run_start_bits;  /* the position starts a run */
};

#define EXTENT_NODE_ANY (-1)
#define EXTENT_MAX_NODES 64

/* Request flags. */
#define EXTENT_NODE_STRICT   (1u << 0) /* only rq->node; otherwise it is a preference */
#define EXTENT_WITH_PENDING  (1u << 1) /* count RECLAIMING pages as free (would it fit once reclaim ends?) */

struct extent_request {
	uint64_t nbytes;   /* > 0; the region spans ceil(nbytes / page_size) pages */
	uint64_t lowest;   /* every byte of [phys, phys + nbytes - 1] lies in [lowest, highest] */
	uint64_t highest;
	uint64_t boundary; /* 0 or a power of two >= nbytes; the bytes cross no multiple of it */
	int32_t node;      /* EXTENT_NODE_ANY or 0..EXTENT_MAX_NODES-1 */
	uint32_t flags;
};

struct extent_range {
	uint32_t pos;      /* first position in order */
	uint32_t count;    /* pages */
	uint64_t phys;     /* physical address of the first page */
};

/*
 * Set up a pool of npages pages, all FREE, page i at phys[i] on node[i]
 * (node may be NULL: all on node 0). The arrays are copied. Returns 0,
 * -EINVAL (page_size not a power of two, npages 0, phys unaligned or
 * duplicated), or -ENOMEM.
 */
int extent_pool_init(struct extent_pool *p, uint64_t page_size, uint32_t npages,
		     const uint64_t *phys, const int32_t *node);
/* Accepts a zeroed or half-built pool. */
void extent_pool_destroy(struct extent_pool *p);

/*
 * Check a request's arguments alone: -EINVAL for nbytes 0, lowest > highest,
 * boundary not 0 and (not a power of two or < nbytes), node < -1 or
 * >= EXTENT_MAX_NODES, or unknown flags; else 0. The page count depends on
 * the pool's page size, so "more pages than 2^32-1" is extent_find's check.
 */
int extent_request_check(const struct extent_request *rq);

/*
 * Find where a request would go, without changing anything. Placement:
 *  1. pages on rq->node first (when it is not EXTENT_NODE_ANY), then, unless
 *     EXTENT_NODE_STRICT, any other node;
 *  2. keep scarce low memory: prefer a placement whose start is >= 4 GiB, then
 *     >= 16 MiB, then below (a request whose ceiling allows high memory is
 *     served from high memory);
 *  3. best fit: the shortest stretch of free pages that can hold it;
 *  4. ties: the highest physical address; inside the chosen stretch, the
 *     highest start that satisfies every constraint.
 * Returns 0 and *ret, -EINVAL (extent_request_check, or more than 2^32-1
 * pages of this pool's page size), or -ENOMEM.
 */
int extent_find(const struct extent_pool *p, const struct extent_request *rq,
		struct extent_range *ret);

/* Mark the pages of a range found by extent_find (all FREE) as USED. */
void extent_take(struct extent_pool *p, const struct extent_range *r);

/* Change one page's state (any to any); keeps the cached counters right. */
void extent_set_state(struct extent_pool *p, uint32_t id, enum extent_state s);

/*
 * A page came back from reclaim at a possibly different physical address
 * and node: update it and re-sort the order (page ids are stable; positions
 * are not). Returns 0, -EINVAL if phys is not page aligned, or -EEXIST if
 * another page already has that phys (the page is then left unchanged).
 */
int extent_set_phys(struct extent_pool *p, uint32_t id, uint64_t phys, int32_t node);

/* Id of the page at position k of the order. */
static inline uint32_t extent_id_at(const struct extent_pool *p, uint32_t k)
{
	return p->order[k];
}

/*
 * Iterate runs: *cursor starts at 0; fills *ret with the run starting at
 * position *cursor (phys of its first page, pages, node and per-state page
 * counts) and advances *cursor. Returns 1 while there was a run, 0 at the end.
 */
struct extent_run_info {
	uint32_t pos;
	uint32_t pages;
	uint64_t phys;
	int32_t node;
	uint32_t nstate[EXTENT_STATE_MAX];
	uint32_t largest_free; /* longest stretch of free pages in this run */
};
int extent_run_next(const struct extent_pool *p, uint32_t *cursor, struct extent_run_info *ret);

/* Figures for one node (or EXTENT_NODE_ANY for the whole pool), by scan. */
struct extent_stats {
	uint32_t pages;
	uint32_t nstate[EXTENT_STATE_MAX];
	uint32_t largest_free;
	uint32_t runs;
};
void extent_stats(const struct extent_pool *p, int32_t node, struct extent_stats *ret);

/* Recompute every cached figure and check every invariant: 0 or -EUCLEAN. */
int extent_pool_check(const struct extent_pool *p);

#endif
