/* SPDX-License-Identifier: MIT */
/*
 * test_extent.c - unit tests of the allocator core (daemon/extent.c) on
 * synthetic layouts the real machine cannot produce: holes everywhere,
 * several NUMA nodes, runs across 16 MiB and 4 GiB, pages at the top of the
 * address space, 1 GiB pages. Ends with a seeded stress test that replays
 * 100,000 random operations against a shadow model and a brute-force oracle
 * of the placement rules, checking the pool after every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extent.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define PS (2 * MiB)
#define TOP UINT64_MAX
#define ANY EXTENT_NODE_ANY

/* ---- helpers ---- */

#define LAYOUT_MAX 1024

struct layout {
	uint32_t n;
	uint64_t phys[LAYOUT_MAX];
	int32_t node[LAYOUT_MAX];
};

/* Append pages physically adjacent pages from phys, ids in address order. */
static void add_run(struct layout *l, uint64_t phys, uint32_t pages, uint64_t ps, int32_t node)
{
	for (uint32_t i = 0; i < pages; i++) {
		assert_true(l->n < LAYOUT_MAX);
		l->phys[l->n] = phys + i * ps;
		l->node[l->n++] = node;
	}
}

static void build(struct extent_pool *p, uint64_t ps, const struct layout *l)
{
	assert_int_equal(extent_pool_init(p, ps, l->n, l->phys, l->node), 0);
	assert_int_equal(extent_pool_check(p), 0);
}

/* A pool of one run of n pages of ps bytes from phys, node 0. */
static void build_run(struct extent_pool *p, uint64_t ps, uint64_t phys, uint32_t n)
{
	struct layout l = { 0 };

	add_run(&l, phys, n, ps, 0);
	build(p, ps, &l);
}

static struct extent_request rq(uint64_t nbytes, uint64_t lowest, uint64_t highest,
				uint64_t boundary)
{
	return (struct extent_request){ .nbytes = nbytes, .lowest = lowest, .highest = highest,
					.boundary = boundary, .node = ANY };
}

static struct extent_request rq_node(uint64_t nbytes, int32_t node, uint32_t flags)
{
	struct extent_request r = rq(nbytes, 0, TOP, 0);

	r.node = node;
	r.flags = flags;
	return r;
}

/* extent_find, checking that a found range is consistent and nothing changed. */
static int find(const struct extent_pool *p, struct extent_request r, uint64_t *ret_phys)
{
	uint32_t nstate[EXTENT_STATE_MAX], largest = p->largest_free, runs = p->runs;
	struct extent_range range;
	int ret;

	memcpy(nstate, p->nstate, sizeof(nstate));
	ret = extent_find(p, &r, &range);
	if (ret == 0) {
		assert_true(range.count >= 1);
		assert_true(range.pos < p->npages && range.count <= p->npages - range.pos);
		assert_int_equal(range.count, (r.nbytes - 1) / p->page_size + 1);
		assert_int_equal(range.phys, p->pages[extent_id_at(p, range.pos)].phys);
		*ret_phys = range.phys;
	}
	assert_memory_equal(nstate, p->nstate, sizeof(nstate));
	assert_int_equal(largest, p->largest_free);
	assert_int_equal(runs, p->runs);
	assert_int_equal(extent_pool_check(p), 0);
	return ret;
}

#define assert_found(p, r, want)                                                                   \
	do {                                                                                       \
		uint64_t got_ = 0;                                                                 \
		assert_int_equal(find((p), (r), &got_), 0);                                        \
		assert_int_equal(got_, (want));                                                    \
	} while (0)

#define assert_find_err(p, r, err)                                                                 \
	do {                                                                                       \
		uint64_t got_ = 0;                                                                 \
		assert_int_equal(find((p), (r), &got_), (err));                                    \
	} while (0)

#define assert_enomem(p, r) assert_find_err(p, r, -ENOMEM)

/* Find and take; the phys it went to. */
static uint64_t alloc(struct extent_pool *p, struct extent_request r)
{
	struct extent_range range;

	assert_int_equal(extent_find(p, &r, &range), 0);
	extent_take(p, &range);
	for (uint32_t k = range.pos; k < range.pos + range.count; k++)
		assert_int_equal(p->pages[extent_id_at(p, k)].state, EXTENT_USED);
	assert_int_equal(extent_pool_check(p), 0);
	return range.phys;
}

static uint32_t id_of(const struct extent_pool *p, uint64_t phys)
{
	for (uint32_t i = 0; i < p->npages; i++)
		if (p->pages[i].phys == phys)
			return i;
	fail_msg("no page at %#" PRIx64, phys);
	return UINT32_MAX;
}

/* Set the state of the page at phys, and check the pool. */
static void set_at(struct extent_pool *p, uint64_t phys, enum extent_state s)
{
	extent_set_state(p, id_of(p, phys), s);
	assert_int_equal(p->pages[id_of(p, phys)].state, s);
	assert_int_equal(extent_pool_check(p), 0);
}

/* ---- setup ---- */

static void test_init_rejects(void **state)
{
	uint64_t phys[3] = { 0, 2 * MiB, 4 * MiB };
	int32_t node[3] = { 0, 1, 1 };
	struct extent_pool p, sentinel;

	(void)state;
	memset(&sentinel, 0x5a, sizeof(sentinel));
	memcpy(&p, &sentinel, sizeof(p));
	assert_int_equal(extent_pool_init(&p, 0, 3, phys, NULL), -EINVAL);
	assert_int_equal(extent_pool_init(&p, 3 * MiB, 3, phys, NULL), -EINVAL);
	assert_int_equal(extent_pool_init(&p, PS + 1, 3, phys, NULL), -EINVAL);
	assert_int_equal(extent_pool_init(&p, PS, 0, phys, NULL), -EINVAL);
	phys[1] = 3 * MiB; /* unaligned */
	assert_int_equal(extent_pool_init(&p, PS, 3, phys, NULL), -EINVAL);
	phys[1] = 2 * MiB + 4 * KiB;
	assert_int_equal(extent_pool_init(&p, PS, 3, phys, NULL), -EINVAL);
	/* With 4 KiB pages the same address is fine. */
	assert_int_equal(extent_pool_init(&p, 4 * KiB, 3, phys, node), 0);
	assert_int_equal(extent_pool_check(&p), 0);
	extent_pool_destroy(&p);
	memcpy(&p, &sentinel, sizeof(p));
	phys[0] = 4 * MiB; /* duplicate, not adjacent in the input */
	phys[1] = 2 * MiB;
	assert_int_equal(extent_pool_init(&p, PS, 3, phys, node), -EINVAL);
	/* Failure leaves the pool untouched. */
	assert_memory_equal(&p, &sentinel, sizeof(p));

	phys[0] = 0;
	assert_int_equal(extent_pool_init(&p, PS, 3, phys, node), 0);
	assert_int_equal(p.npages, 3);
	assert_int_equal(p.page_size, PS);
	assert_int_equal(p.pages[1].node, 1);
	assert_int_equal(p.nstate[EXTENT_FREE], 3);
	assert_int_equal(p.runs, 2); /* node 0 | node 1 node 1 */
	assert_int_equal(p.largest_free, 2);
	extent_pool_destroy(&p);
	assert_null(p.pages);
	assert_null(p.order);
	assert_null(p.free_bits);
	assert_null(p.run_start_bits);
	assert_int_equal(p.npages, 0);
	extent_pool_destroy(&p); /* zeroed pool */
	extent_pool_destroy(NULL);
}

static void test_init_layout(void **state)
{
	/* phys in units of 2 MiB: shuffled ids; a gap splits, a node change splits. */
	const uint64_t unit[8] = { 6, 0, 3, 1, 7, 2, 10, 11 };
	const int32_t node[8] = { 0, 0, 1, 0, 0, 0, 0, 0 };
	const uint32_t order[8] = { 1, 3, 5, 2, 0, 4, 6, 7 };
	uint64_t phys[8];
	struct extent_pool p;

	(void)state;
	for (int i = 0; i < 8; i++)
		phys[i] = 8 * GiB + unit[i] * PS;
	assert_int_equal(extent_pool_init(&p, PS, 8, phys, node), 0);
	assert_int_equal(extent_pool_check(&p), 0);
	for (uint32_t k = 0; k < 8; k++) {
		assert_int_equal(extent_id_at(&p, k), order[k]);
		assert_int_equal(p.pos[order[k]], k);
	}
	assert_int_equal(p.runs, 4); /* {0,1,2} {3 on node 1} {6,7} {10,11} */
	assert_int_equal(p.largest_free, 3);
	assert_int_equal(p.nstate[EXTENT_FREE], 8);
	assert_int_equal(p.nstate[EXTENT_USED], 0);
	/* Ids stay what the caller gave. */
	assert_int_equal(p.pages[4].phys, 8 * GiB + 7 * PS);
	extent_pool_destroy(&p);
}

/* ---- request checks ---- */

static void test_request_check(void **state)
{
	const struct extent_request ok = rq(4 * KiB, 0, TOP, 0);
	struct extent_request bad[16], good[16];
	int nbad = 0, ngood = 0;
	struct extent_pool p;

	(void)state;
	build_run(&p, 4 * KiB, 0, 1);
	good[ngood++] = ok;
	bad[nbad] = ok, bad[nbad++].nbytes = 0;
	bad[nbad] = ok, bad[nbad].lowest = 10, bad[nbad++].highest = 9;
	bad[nbad] = ok, bad[nbad++].boundary = 3 * 4 * KiB;     /* not a power of two */
	bad[nbad] = ok, bad[nbad++].boundary = 4 * KiB - 1;     /* neither */
	bad[nbad] = ok, bad[nbad++].boundary = 2 * KiB;         /* power of two < nbytes */
	bad[nbad] = ok, bad[nbad++].boundary = UINT64_MAX;
	bad[nbad] = ok, bad[nbad++].node = -2;
	bad[nbad] = ok, bad[nbad++].node = INT32_MIN;
	bad[nbad] = ok, bad[nbad++].node = EXTENT_MAX_NODES;
	bad[nbad] = ok, bad[nbad++].flags = 1u << 2;
	bad[nbad] = ok, bad[nbad++].flags = EXTENT_NODE_STRICT | (1u << 31);
	bad[nbad] = ok, bad[nbad].nbytes = 5 * KiB, bad[nbad++].boundary = 4 * KiB;
	good[ngood] = ok, good[ngood++].boundary = 4 * KiB; /* == nbytes */
	good[ngood] = ok, good[ngood++].boundary = UINT64_C(1) << 63;
	good[ngood] = ok, good[ngood++].node = 0;
	good[ngood] = ok, good[ngood++].node = EXTENT_MAX_NODES - 1;
	good[ngood] = ok, good[ngood++].flags = EXTENT_NODE_STRICT | EXTENT_WITH_PENDING;
	good[ngood] = ok, good[ngood].lowest = 5, good[ngood].highest = 5, good[ngood++].nbytes = 1;
	good[ngood] = ok, good[ngood++].nbytes = UINT64_MAX; /* page count is find's business */

	for (int i = 0; i < nbad; i++) {
		assert_int_equal(extent_request_check(&bad[i]), -EINVAL);
		assert_find_err(&p, bad[i], -EINVAL);
	}
	for (int i = 0; i < ngood; i++)
		assert_int_equal(extent_request_check(&good[i]), 0);
	extent_pool_destroy(&p);
}

/* More than 2^32-1 pages is invalid; the count depends on the pool's page size. */
static void test_page_count_limit(void **state)
{
	struct extent_pool p;

	(void)state;
	build_run(&p, 4 * KiB, 0, 4);
	assert_find_err(&p, rq((UINT64_C(1) << 32) * 4 * KiB, 0, TOP, 0), -EINVAL);
	assert_find_err(&p, rq(((UINT64_C(1) << 32) - 1) * 4 * KiB + 1, 0, TOP, 0), -EINVAL);
	assert_find_err(&p, rq(((UINT64_C(1) << 32) - 1) * 4 * KiB, 0, TOP, 0), -ENOMEM);
	assert_find_err(&p, rq(UINT64_MAX, 0, TOP, 0), -EINVAL);
	assert_find_err(&p, rq(5 * 4 * KiB, 0, TOP, 0), -ENOMEM); /* > npages */
	assert_found(&p, rq(4 * 4 * KiB, 0, TOP, 0), 0);
	extent_pool_destroy(&p);

	/* Two pages of 2^63 bytes: a region of every byte of the address space. */
	build_run(&p, UINT64_C(1) << 63, 0, 2);
	assert_found(&p, rq(UINT64_MAX, 0, TOP, 0), 0);
	assert_found(&p, rq(UINT64_C(1) << 63, 0, TOP, 0), UINT64_C(1) << 63);
	assert_found(&p, rq(1, 0, TOP - 1, 0), UINT64_C(1) << 63);
	assert_found(&p, rq(UINT64_C(1) << 63, 0, TOP - 1, 0), 0);
	extent_pool_destroy(&p);
}

/* ---- constraint edges ---- */

static void test_ceiling(void **state)
{
	struct extent_pool p;

	(void)state;
	build_run(&p, PS, 64 * MiB, 8);
	assert_enomem(&p, rq(PS, 0, 64 * MiB - 1, 0));    /* below every page */
	assert_enomem(&p, rq(1, 0, 64 * MiB - 1, 0));
	assert_enomem(&p, rq(PS, 0, 64 * MiB + PS - 2, 0)); /* last byte one past */
	assert_found(&p, rq(PS, 0, 64 * MiB + PS - 1, 0), 64 * MiB);
	assert_found(&p, rq(PS - 1, 0, 64 * MiB + PS - 2, 0), 64 * MiB);
	/* Only bytes count: the page past nbytes may lie above the ceiling. */
	assert_found(&p, rq(PS + 1, 0, 64 * MiB + PS, 0), 64 * MiB);
	assert_enomem(&p, rq(PS + 2, 0, 64 * MiB + PS, 0));
	/* highest < nbytes - 1: no start can work (and no underflow). */
	assert_enomem(&p, rq(16 * MiB, 0, 16 * MiB - 2, 0));
	assert_enomem(&p, rq(UINT64_C(1) << 40, 0, 0, 0));
	assert_enomem(&p, rq(2, 0, 0, 0));
	assert_found(&p, rq(PS, 0, TOP, 0), 64 * MiB + 7 * PS);
	extent_pool_destroy(&p);

	/* A page at 0: the lowest possible ceiling still works. */
	build_run(&p, PS, 0, 2);
	assert_found(&p, rq(1, 0, 0, 0), 0);
	assert_enomem(&p, rq(2, 0, 0, 0));
	assert_found(&p, rq(PS, 0, PS - 1, 0), 0);
	extent_pool_destroy(&p);
}

static void test_floor(void **state)
{
	struct extent_pool p;

	(void)state;
	build_run(&p, PS, 0, 8); /* 0 .. 16 MiB */
	assert_enomem(&p, rq(PS, 16 * MiB, TOP, 0)); /* above every page */
	assert_enomem(&p, rq(1, 14 * MiB + 1, TOP, 0)); /* rounds up past the last page */
	assert_found(&p, rq(1, 14 * MiB, TOP, 0), 14 * MiB);
	assert_enomem(&p, rq(1, TOP, TOP, 0)); /* rounding lowest up would overflow */
	assert_found(&p, rq(4 * MiB, 12 * MiB, TOP, 0), 12 * MiB);
	assert_enomem(&p, rq(4 * MiB, 12 * MiB + 1, TOP, 0));
	extent_pool_destroy(&p);
}

static void test_window_too_small(void **state)
{
	struct extent_pool p;

	(void)state;
	build_run(&p, PS, GiB, 16);
	assert_enomem(&p, rq(4 * MiB, GiB + 2 * MiB, GiB + 6 * MiB - 2, 0));
	assert_found(&p, rq(4 * MiB, GiB + 2 * MiB, GiB + 6 * MiB - 1, 0), GiB + 2 * MiB);
	/* An unaligned floor pushes the start to the next page. */
	assert_found(&p, rq(PS, GiB + 1, GiB + 4 * MiB - 1, 0), GiB + 2 * MiB);
	assert_enomem(&p, rq(PS, GiB + 1, GiB + 4 * MiB - 2, 0));
	/* Window of one byte. */
	assert_found(&p, rq(1, GiB + 6 * MiB, GiB + 6 * MiB, 0), GiB + 6 * MiB);
	assert_enomem(&p, rq(1, GiB + 6 * MiB + 1, GiB + 6 * MiB + 1, 0));
	extent_pool_destroy(&p);
}

/* Pages at the very top of the address space: sums there would overflow. */
static void test_top_of_address_space(void **state)
{
	const uint64_t base = 0 - 4 * PS; /* 2^64 - 8 MiB */
	struct extent_pool p;

	(void)state;
	build_run(&p, PS, base, 4);
	assert_int_equal(p.runs, 1);
	assert_int_equal(p.largest_free, 4);
	assert_found(&p, rq(PS, 0, TOP, 0), 0 - PS);
	assert_found(&p, rq(4 * PS, 0, TOP, 0), base);
	assert_enomem(&p, rq(4 * PS + 1, 0, TOP, 0));
	assert_found(&p, rq(PS, 0, TOP - 1, 0), 0 - 2 * PS);
	assert_found(&p, rq(PS - 1, 0, TOP - 1, 0), 0 - PS);
	assert_found(&p, rq(PS, 0 - PS, TOP, 0), 0 - PS);
	assert_enomem(&p, rq(1, TOP, TOP, 0));
	assert_found(&p, rq(4 * MiB, 0, TOP, 4 * MiB), 0 - 4 * MiB);
	/* Crossing 2^64 - 4 MiB: moved down a whole block. */
	assert_found(&p, rq(4 * MiB, 0, TOP - 2 * MiB, 4 * MiB), base);
	assert_found(&p, rq(8 * MiB, 0, TOP, UINT64_C(1) << 63), base);
	extent_pool_destroy(&p);
}

/* One run of 32 pages from 256 MiB: a table of constraints and where they land. */
static void test_constraint_table(void **state)
{
	const uint64_t b = 256 * MiB;
	static const struct row {
		uint64_t nbytes, lowest, highest, boundary, want; /* want 0: -ENOMEM */
	} rows[] = {
		{ 2 * MiB, 0, TOP, 0, 318 * MiB },
		{ 2 * MiB + 1, 0, TOP, 0, 316 * MiB },
		{ 1, 0, TOP, 0, 318 * MiB },
		{ 64 * MiB, 0, TOP, 0, 256 * MiB },
		{ 64 * MiB + 1, 0, TOP, 0, 0 },
		{ 2 * MiB, 0, 300 * MiB - 1, 0, 298 * MiB },
		{ 3 * MiB, 0, 300 * MiB, 0, 296 * MiB },
		{ 4 * MiB, 257 * MiB, TOP, 0, 316 * MiB },
		{ 4 * MiB, 0, 258 * MiB - 1, 0, 0 },
		/* boundary > page size */
		{ 4 * MiB, 0, TOP, 8 * MiB, 316 * MiB },
		{ 6 * MiB, 0, 318 * MiB - 1, 8 * MiB, 312 * MiB },
		{ 6 * MiB, 0, 316 * MiB - 1, 8 * MiB, 306 * MiB }, /* 310 would cross 312 */
		{ 5 * MiB, 0, 316 * MiB - 1, 8 * MiB, 306 * MiB }, /* 310 crosses; 312 - 5 -> 306 */
		{ 8 * MiB, 0, TOP, 8 * MiB, 312 * MiB },
		{ 8 * MiB, 0, 318 * MiB - 1, 8 * MiB, 304 * MiB },
		{ 8 * MiB, 305 * MiB, 318 * MiB - 1, 8 * MiB, 0 }, /* only 304 fits; below lowest */
		{ 40 * MiB, 0, TOP, 64 * MiB, 280 * MiB },
		{ 40 * MiB, 0, 319 * MiB - 1, 64 * MiB, 278 * MiB },
		{ 20 * MiB, 0, TOP, 32 * MiB, 300 * MiB },
		{ 20 * MiB, 0, 315 * MiB, 32 * MiB, 294 * MiB },
		{ 20 * MiB, 0, 305 * MiB, 32 * MiB, 268 * MiB }, /* 286 crosses 288 */
		{ 20 * MiB, 270 * MiB, 305 * MiB, 32 * MiB, 0 },
		{ 64 * MiB, 0, TOP, 64 * MiB, 256 * MiB },
		{ 64 * MiB, 0, TOP, 128 * MiB, 256 * MiB },
		{ 34 * MiB, 0, TOP, 64 * MiB, 286 * MiB },
		/* boundary <= page size: every aligned start satisfies it */
		{ 2 * MiB, 0, TOP, 2 * MiB, 318 * MiB },
		{ 1 * MiB, 0, TOP, 1 * MiB, 318 * MiB },
		{ 1 * MiB, 0, 318 * MiB + 512 * KiB, 1 * MiB, 316 * MiB },
		{ 4 * KiB, 0, TOP, 4 * KiB, 318 * MiB },
		{ 1, 0, TOP, 1, 318 * MiB },
	};
	struct extent_pool p;

	(void)state;
	build_run(&p, PS, b, 32);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		uint64_t got = 0;
		int ret = find(&p, rq(r->nbytes, r->lowest, r->highest, r->boundary), &got);

		if (r->want) {
			if (ret != 0 || got != r->want)
				fail_msg("row %zu: ret %d got %" PRIu64 " MiB want %" PRIu64 " MiB",
					 i, ret, got / MiB, r->want / MiB);
		} else if (ret != -ENOMEM) {
			fail_msg("row %zu: ret %d got %" PRIu64 " MiB want -ENOMEM", i, ret,
				 got / MiB);
		}
	}
	extent_pool_destroy(&p);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The highest start in a free run [base, base + n pages) by trying every page. */
static uint64_t slow_highest(uint64_t base, uint32_t n, uint64_t nbytes, uint64_t bnd)
{
	uint32_t pages = (uint32_t)((nbytes + PS - 1) / PS);

	for (uint32_t k = n - pages + 1; k-- > 0;) {
		uint64_t s = base + k * PS;

		if (!bnd || s / bnd == (s + nbytes - 1) / bnd)
			return s;
	}
	return 1; /* never a page address */
}

/* Power-of-two boundaries from 1 byte to 2^63, with sizes up to each and past it. */
static void test_boundary_pow2(void **state)
{
	struct extent_pool p;
	uint32_t tried = 0;

	(void)state;
	build_run(&p, PS, 0, 64); /* [0, 128 MiB): holds a whole block of every size tried */
	for (int sh = 0; sh < 64; sh++) {
		uint64_t bnd = UINT64_C(1) << sh;
		uint64_t sizes[] = { 1, bnd / 2 + 1, bnd - 1, bnd, bnd + 1, 3 * PS };
		struct extent_request r = rq(bnd, 0, TOP, bnd);

		assert_true(is_pow2(bnd));
		assert_int_equal(extent_request_check(&r), 0);
		r.boundary = bnd + (sh > 1); /* 1 + 1 = 2 is a power of two still */
		assert_int_equal(extent_request_check(&r), sh > 1 ? -EINVAL : 0);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint64_t n = sizes[i], got = 0;
			int ret;

			if (!n || n > 64 * MiB)
				continue;
			ret = find(&p, rq(n, 0, TOP, bnd), &got);
			if (n > bnd) {
				assert_int_equal(ret, -EINVAL);
				continue;
			}
			assert_int_equal(ret, 0);
			assert_int_equal(got / bnd, (got + n - 1) / bnd);
			assert_int_equal(got, slow_highest(0, 64, n, bnd));
			tried++;
		}
	}
	assert_true(tried > 100);
	extent_pool_destroy(&p);
}

/* ---- layouts ---- */

static void test_fragmented(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };

	(void)state;
	build_run(&p, PS, 8 * GiB, 64);
	for (uint32_t k = 1; k < 64; k += 2)
		set_at(&p, 8 * GiB + k * PS, EXTENT_USED);
	assert_int_equal(p.largest_free, 1);
	assert_int_equal(p.nstate[EXTENT_FREE], 32);
	assert_int_equal(p.nstate[EXTENT_USED], 32);
	assert_found(&p, rq(PS, 0, TOP, 0), 8 * GiB + 62 * PS);
	assert_enomem(&p, rq(PS + 1, 0, TOP, 0));
	assert_found(&p, rq(PS, 0, 8 * GiB + 10 * MiB - 1, 0), 8 * GiB + 8 * MiB);
	assert_found(&p, rq(PS, 0, 8 * GiB + 8 * MiB - 1, 0), 8 * GiB + 4 * MiB);
	set_at(&p, 8 * GiB + PS, EXTENT_FREE);
	assert_int_equal(p.largest_free, 3);
	assert_found(&p, rq(4 * MiB, 0, TOP, 0), 8 * GiB + 2 * MiB);
	assert_found(&p, rq(6 * MiB, 0, TOP, 0), 8 * GiB);
	assert_enomem(&p, rq(6 * MiB + 1, 0, TOP, 0));
	extent_pool_destroy(&p);

	/* Holes in the layout itself: every page its own run. */
	for (uint32_t k = 0; k < 32; k++)
		add_run(&l, 8 * GiB + k * 2 * PS, 1, PS, 0);
	build(&p, PS, &l);
	assert_int_equal(p.runs, 32);
	assert_int_equal(p.largest_free, 1);
	assert_enomem(&p, rq(PS + 1, 0, TOP, 0));
	assert_found(&p, rq(PS, 0, TOP, 0), 8 * GiB + 31 * 2 * PS);
	extent_pool_destroy(&p);

	/* Adjacent pages on alternating nodes: no two pages form a region. */
	memset(&l, 0, sizeof(l));
	for (uint32_t k = 0; k < 16; k++)
		add_run(&l, 8 * GiB + k * PS, 1, PS, (int32_t)(k % 2));
	build(&p, PS, &l);
	assert_int_equal(p.runs, 16);
	assert_int_equal(p.largest_free, 1);
	assert_enomem(&p, rq(2 * PS, 0, TOP, 0));
	assert_found(&p, rq(PS, 0, TOP, 0), 8 * GiB + 15 * PS);
	extent_pool_destroy(&p);
}

static void test_straddle_4g(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };

	(void)state;
	build_run(&p, PS, 4 * GiB - 8 * MiB, 8);
	assert_int_equal(p.runs, 1);
	assert_found(&p, rq(PS, 0, TOP, 0), 4 * GiB + 6 * MiB);
	assert_found(&p, rq(PS, 0, 4 * GiB - 1, 0), 4 * GiB - 2 * MiB);
	assert_found(&p, rq(16 * MiB, 0, TOP, 0), 4 * GiB - 8 * MiB);
	assert_found(&p, rq(10 * MiB, 0, TOP, 0), 4 * GiB - 2 * MiB);
	assert_found(&p, rq(8 * MiB, 0, TOP, 0), 4 * GiB);
	assert_found(&p, rq(8 * MiB, 0, 4 * GiB + 4 * MiB - 1, 0), 4 * GiB - 4 * MiB);
	assert_found(&p, rq(8 * MiB, 0, TOP, 8 * MiB), 4 * GiB);
	assert_found(&p, rq(8 * MiB, 0, 4 * GiB + 6 * MiB - 1, 8 * MiB), 4 * GiB - 8 * MiB);
	assert_int_equal(alloc(&p, rq(PS, 0, TOP, 0)), 4 * GiB + 6 * MiB);
	assert_int_equal(alloc(&p, rq(PS, 0, TOP, 0)), 4 * GiB + 4 * MiB);
	assert_int_equal(p.largest_free, 6);
	extent_pool_destroy(&p);

	/* With a short run above 4 GiB and one at 1 GiB as well. */
	add_run(&l, GiB, 4, PS, 0);
	add_run(&l, 4 * GiB - 8 * MiB, 8, PS, 0);
	add_run(&l, 8 * GiB, 2, PS, 0);
	build(&p, PS, &l);
	assert_found(&p, rq(4 * PS, 0, TOP, 0), 4 * GiB); /* exactly 4 GiB is high */
	assert_found(&p, rq(4 * PS, 0, 4 * GiB + 8 * MiB - 2, 0), GiB);
	assert_found(&p, rq(PS, 0, TOP, 0), 8 * GiB + PS);          /* best fit, class 0 */
	assert_found(&p, rq(3 * PS, 0, TOP, 0), 4 * GiB + 2 * MiB); /* only the long run */
	assert_found(&p, rq(5 * PS, 0, TOP, 0), 4 * GiB - 2 * MiB); /* class 1 */
	extent_pool_destroy(&p);
}

static void test_straddle_16m(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };

	(void)state;
	add_run(&l, 8 * MiB, 8, PS, 0);  /* 8 .. 24 MiB */
	add_run(&l, 32 * MiB, 5, PS, 0); /* 32 .. 42 MiB */
	build(&p, PS, &l);
	/* Start >= 16 MiB beats start < 16 MiB though both are low. */
	assert_found(&p, rq(10 * MiB, 0, TOP, 0), 32 * MiB);
	assert_found(&p, rq(PS, 0, TOP, 0), 40 * MiB);       /* best fit: run of 5 */
	assert_found(&p, rq(6 * PS, 0, TOP, 0), 12 * MiB);   /* class 2, the only fit */
	assert_found(&p, rq(PS, 0, 16 * MiB - 1, 0), 14 * MiB);
	assert_int_equal(alloc(&p, rq(10 * MiB, 0, TOP, 0)), 32 * MiB);
	assert_found(&p, rq(PS, 0, TOP, 0), 22 * MiB);
	assert_found(&p, rq(5 * PS, 0, TOP, 0), 14 * MiB);
	assert_found(&p, rq(4 * PS, 0, TOP, 0), 16 * MiB);
	extent_pool_destroy(&p);

	/* A start of exactly 16 MiB is in the middle class: it beats a shorter
	 * stretch below (a separate run on node 1 at 0 .. 8 MiB). */
	memset(&l, 0, sizeof(l));
	add_run(&l, 0, 4, PS, 1);
	add_run(&l, 8 * MiB, 8, PS, 0);
	build(&p, PS, &l);
	assert_int_equal(p.runs, 2);
	assert_found(&p, rq(4 * PS, 0, TOP, 0), 16 * MiB);
	assert_found(&p, rq(3 * PS, 0, TOP, 0), 18 * MiB);
	assert_found(&p, rq(5 * PS, 0, TOP, 0), 14 * MiB);
	assert_found(&p, rq(4 * PS, 0, 24 * MiB - 2, 0), 0);
	extent_pool_destroy(&p);
}

static void test_exhaust_and_coalesce(void **state)
{
	const uint64_t b = 8 * GiB;
	struct extent_pool p;

	(void)state;
	build_run(&p, PS, b, 16);
	for (uint32_t i = 0; i < 16; i++) {
		assert_int_equal(alloc(&p, rq(PS, 0, TOP, 0)), b + (15 - i) * PS);
		assert_int_equal(p.largest_free, 15 - i);
	}
	assert_enomem(&p, rq(PS, 0, TOP, 0));
	assert_enomem(&p, rq(1, 0, TOP, 0));
	assert_int_equal(p.nstate[EXTENT_USED], 16);
	assert_int_equal(p.nstate[EXTENT_FREE], 0);

	set_at(&p, b + 0 * PS, EXTENT_FREE);
	assert_int_equal(p.largest_free, 1);
	set_at(&p, b + 2 * PS, EXTENT_FREE);
	assert_int_equal(p.largest_free, 1);
	set_at(&p, b + 1 * PS, EXTENT_FREE); /* joins both neighbours */
	assert_int_equal(p.largest_free, 3);
	set_at(&p, b + 4 * PS, EXTENT_FREE);
	assert_int_equal(p.largest_free, 3);
	set_at(&p, b + 3 * PS, EXTENT_FREE);
	assert_int_equal(p.largest_free, 5);
	assert_enomem(&p, rq(6 * PS, 0, TOP, 0));
	assert_int_equal(alloc(&p, rq(5 * PS, 0, TOP, 0)), b);
	assert_int_equal(p.largest_free, 0);
	assert_enomem(&p, rq(PS, 0, TOP, 0));

	/* Back to free from the top down: the stretch grows one by one. */
	for (uint32_t k = 16; k-- > 0;) {
		set_at(&p, b + k * PS, EXTENT_QUARANTINED);
		set_at(&p, b + k * PS, EXTENT_RECLAIMING);
		assert_int_equal(p.largest_free, 15 - k); /* pages above k */
		set_at(&p, b + k * PS, EXTENT_FREE);
		assert_int_equal(p.largest_free, 16 - k);
	}
	/* Splitting the longest stretch lowers it. */
	set_at(&p, b + 8 * PS, EXTENT_QUARANTINED);
	assert_int_equal(p.largest_free, 8);
	set_at(&p, b + 3 * PS, EXTENT_LOST);
	assert_int_equal(p.largest_free, 7);
	set_at(&p, b + 12 * PS, EXTENT_USED);
	assert_int_equal(p.largest_free, 4);
	set_at(&p, b + 12 * PS, EXTENT_RECLAIMING); /* not free either way */
	assert_int_equal(p.largest_free, 4);
	set_at(&p, b + 8 * PS, EXTENT_FREE);
	assert_int_equal(p.largest_free, 8); /* 4..11 */
	extent_pool_destroy(&p);
}

static void test_best_fit(void **state)
{
	const uint64_t b = 8 * GiB;
	struct extent_pool p;

	(void)state;
	/* Free stretches: [0..2] 3 pages, [4..11] 8 pages, [13..17] 5 pages. */
	build_run(&p, PS, b, 20);
	set_at(&p, b + 3 * PS, EXTENT_USED);
	set_at(&p, b + 12 * PS, EXTENT_USED);
	set_at(&p, b + 18 * PS, EXTENT_USED);
	set_at(&p, b + 19 * PS, EXTENT_USED);
	assert_int_equal(p.largest_free, 8);
	assert_found(&p, rq(3 * PS, 0, TOP, 0), b);          /* shortest, though lowest */
	assert_found(&p, rq(PS, 0, TOP, 0), b + 2 * PS);
	assert_found(&p, rq(4 * PS, 0, TOP, 0), b + 14 * PS); /* the 5, not the 8 */
	assert_found(&p, rq(5 * PS, 0, TOP, 0), b + 13 * PS);
	assert_found(&p, rq(6 * PS, 0, TOP, 0), b + 6 * PS);
	assert_enomem(&p, rq(9 * PS, 0, TOP, 0));
	/*
	 * Fit is measured on the whole free stretch, not on the part the limits
	 * leave: the 8-stretch clipped to exactly 4 pages still loses to the 5.
	 */
	assert_found(&p, rq(4 * PS, b + 8 * PS, TOP, 0), b + 14 * PS);
	/* Taking from a shorter stretch leaves the longest alone. */
	assert_int_equal(alloc(&p, rq(4 * PS, 0, TOP, 0)), b + 14 * PS);
	assert_int_equal(p.largest_free, 8);
	assert_found(&p, rq(PS, 0, TOP, 0), b + 13 * PS); /* now a 1-stretch */
	extent_pool_destroy(&p);

	/* Ties go to the highest address. */
	build_run(&p, PS, b, 13);
	for (uint32_t k = 3; k < 10; k++)
		set_at(&p, b + k * PS, EXTENT_USED);
	assert_found(&p, rq(PS, 0, TOP, 0), b + 12 * PS);
	assert_int_equal(alloc(&p, rq(3 * PS, 0, TOP, 0)), b + 10 * PS);
	assert_int_equal(alloc(&p, rq(3 * PS, 0, TOP, 0)), b);
	set_at(&p, b + 2 * PS, EXTENT_FREE);
	set_at(&p, b + 1 * PS, EXTENT_FREE);
	set_at(&p, b + 11 * PS, EXTENT_FREE);
	/* [1..2] and [11]: shorter beats higher. */
	assert_found(&p, rq(PS, 0, TOP, 0), b + 11 * PS);
	set_at(&p, b + 12 * PS, EXTENT_FREE);
	assert_found(&p, rq(PS, 0, TOP, 0), b + 12 * PS); /* tie of 2s: higher */
	extent_pool_destroy(&p);
}

static void test_low_memory_kept(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };

	(void)state;
	add_run(&l, 0, 4, PS, 0);        /* below 16 MiB */
	add_run(&l, GiB, 4, PS, 0);      /* below 4 GiB */
	add_run(&l, 8 * GiB, 16, PS, 0); /* high, and the longest stretch */
	build(&p, PS, &l);
	assert_found(&p, rq(PS, 0, TOP, 0), 8 * GiB + 30 * MiB);
	assert_found(&p, rq(PS, 0, 4 * GiB - 1, 0), GiB + 6 * MiB);
	assert_found(&p, rq(PS, 0, 16 * MiB - 1, 0), 6 * MiB);
	assert_found(&p, rq(PS, 16 * MiB, 4 * GiB - 1, 0), GiB + 6 * MiB);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(alloc(&p, rq(PS, 0, TOP, 0)), 8 * GiB + (15 - i) * PS);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(alloc(&p, rq(PS, 0, TOP, 0)), GiB + (3 - i) * PS);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(alloc(&p, rq(PS, 0, TOP, 0)), (3 - i) * PS);
	assert_enomem(&p, rq(PS, 0, TOP, 0));
	extent_pool_destroy(&p);
}

static void test_nodes_two(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };

	(void)state;
	add_run(&l, 8 * GiB, 8, PS, 0);
	add_run(&l, 16 * GiB, 8, PS, 1);
	build(&p, PS, &l);
	assert_found(&p, rq_node(PS, 0, 0), 8 * GiB + 14 * MiB);
	assert_found(&p, rq_node(PS, 1, 0), 16 * GiB + 14 * MiB);
	assert_found(&p, rq_node(PS, ANY, 0), 16 * GiB + 14 * MiB);
	assert_found(&p, rq_node(PS, ANY, EXTENT_NODE_STRICT), 16 * GiB + 14 * MiB);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(alloc(&p, rq_node(PS, 0, EXTENT_NODE_STRICT)),
				 8 * GiB + (7 - i) * PS);
	assert_found(&p, rq_node(PS, 0, 0), 16 * GiB + 14 * MiB); /* fallback */
	assert_enomem(&p, rq_node(PS, 0, EXTENT_NODE_STRICT));
	assert_found(&p, rq_node(PS, 5, 0), 16 * GiB + 14 * MiB); /* node without pages */
	assert_enomem(&p, rq_node(PS, 5, EXTENT_NODE_STRICT));
	extent_pool_destroy(&p);

	/* Physically adjacent nodes still split runs: no region spans two nodes. */
	memset(&l, 0, sizeof(l));
	add_run(&l, 4 * GiB, 8, PS, 0);
	add_run(&l, 4 * GiB + 16 * MiB, 8, PS, 1);
	build(&p, PS, &l);
	assert_int_equal(p.runs, 2);
	assert_int_equal(p.largest_free, 8);
	assert_enomem(&p, rq(9 * PS, 0, TOP, 0));
	assert_found(&p, rq(8 * PS, 0, TOP, 0), 4 * GiB + 16 * MiB);
	assert_found(&p, rq_node(8 * PS, 0, 0), 4 * GiB);
	assert_found(&p, rq_node(8 * PS, 1, EXTENT_NODE_STRICT), 4 * GiB + 16 * MiB);
	extent_pool_destroy(&p);

	/* The node preference outranks keeping low memory and best fit. */
	memset(&l, 0, sizeof(l));
	add_run(&l, GiB, 4, PS, 0);
	add_run(&l, 8 * GiB, 2, PS, 1);
	build(&p, PS, &l);
	assert_found(&p, rq_node(PS, 0, 0), GiB + 6 * MiB);
	assert_found(&p, rq_node(PS, ANY, 0), 8 * GiB + 2 * MiB);
	assert_found(&p, rq_node(PS, 1, 0), 8 * GiB + 2 * MiB);
	/* A preferred node that cannot satisfy the limits falls back. */
	assert_found(&p, rq_node(3 * PS, 1, 0), GiB + 2 * MiB);
	assert_enomem(&p, rq_node(3 * PS, 1, EXTENT_NODE_STRICT));
	extent_pool_destroy(&p);
}

static void test_nodes_four(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };
	struct extent_stats st;

	(void)state;
	add_run(&l, GiB, 4, PS, 0);       /* class 1 */
	add_run(&l, 8 * GiB, 4, PS, 1);
	add_run(&l, 12 * GiB, 2, PS, 2);  /* the shortest high stretch */
	add_run(&l, 16 * GiB, 4, PS, 3);
	build(&p, PS, &l);
	assert_int_equal(p.runs, 4);
	assert_found(&p, rq_node(2 * PS, ANY, 0), 12 * GiB);
	assert_found(&p, rq_node(PS, ANY, 0), 12 * GiB + PS);
	assert_found(&p, rq_node(2 * PS, 3, 0), 16 * GiB + 2 * PS);
	assert_found(&p, rq_node(2 * PS, 0, EXTENT_NODE_STRICT), GiB + 2 * PS);
	assert_found(&p, rq_node(2 * PS, 1, 0), 8 * GiB + 2 * PS);
	assert_int_equal(alloc(&p, rq_node(2 * PS, 3, EXTENT_NODE_STRICT)), 16 * GiB + 2 * PS);
	assert_int_equal(alloc(&p, rq_node(2 * PS, 3, EXTENT_NODE_STRICT)), 16 * GiB);
	assert_enomem(&p, rq_node(PS, 3, EXTENT_NODE_STRICT));
	/* Fallback applies rules 2-4 among the other nodes. */
	assert_found(&p, rq_node(2 * PS, 3, 0), 12 * GiB);
	assert_int_equal(alloc(&p, rq_node(2 * PS, 2, 0)), 12 * GiB);
	assert_found(&p, rq_node(2 * PS, 3, 0), 8 * GiB + 2 * PS);
	assert_int_equal(alloc(&p, rq_node(4 * PS, 1, 0)), 8 * GiB);
	assert_found(&p, rq_node(2 * PS, 3, 0), GiB + 2 * PS);
	assert_enomem(&p, rq_node(2 * PS, 2, EXTENT_NODE_STRICT));

	extent_stats(&p, 0, &st);
	assert_int_equal(st.pages, 4);
	assert_int_equal(st.nstate[EXTENT_FREE], 4);
	assert_int_equal(st.largest_free, 4);
	extent_stats(&p, 2, &st);
	assert_int_equal(st.pages, 2);
	assert_int_equal(st.nstate[EXTENT_USED], 2);
	assert_int_equal(st.largest_free, 0);
	assert_int_equal(st.runs, 1);
	extent_pool_destroy(&p);
}

static void test_with_pending(void **state)
{
	const uint64_t b = 8 * GiB;
	const struct extent_request pend = { .nbytes = 4 * PS, .highest = TOP, .node = ANY,
					     .flags = EXTENT_WITH_PENDING };
	static const uint8_t states[8] = {
		EXTENT_USED,       EXTENT_FREE, EXTENT_RECLAIMING,  EXTENT_RECLAIMING,
		EXTENT_RECLAIMING, EXTENT_USED, EXTENT_QUARANTINED, EXTENT_FREE,
	};
	struct extent_request r;
	struct extent_pool p;

	(void)state;
	build_run(&p, PS, b, 8);
	for (uint32_t k = 0; k < 8; k++)
		set_at(&p, b + k * PS, states[k]);
	assert_int_equal(p.nstate[EXTENT_RECLAIMING], 3);
	assert_int_equal(p.largest_free, 1);
	assert_enomem(&p, rq(4 * PS, 0, TOP, 0));
	assert_found(&p, pend, b + PS); /* 1 free + 3 reclaiming */
	assert_found(&p, rq(PS, 0, TOP, 0), b + 7 * PS);
	r = pend, r.nbytes = PS;
	assert_found(&p, r, b + 7 * PS); /* [7] is shorter than [1..4] */
	r.nbytes = 3 * PS;
	assert_found(&p, r, b + 2 * PS); /* reclaiming pages only, highest start */
	r.nbytes = 5 * PS;
	assert_enomem(&p, r); /* quarantined and used never count */
	set_at(&p, b + 6 * PS, EXTENT_RECLAIMING);
	r.nbytes = 2 * PS;
	assert_found(&p, r, b + 6 * PS);
	assert_enomem(&p, rq(2 * PS, 0, TOP, 0));
	extent_pool_destroy(&p);
}

/* Check the order against ids expected position by position. */
static void assert_order(const struct extent_pool *p, const uint32_t *ids)
{
	for (uint32_t k = 0; k < p->npages; k++) {
		assert_int_equal(extent_id_at(p, k), ids[k]);
		assert_int_equal(p->pos[ids[k]], k);
	}
}

static void test_set_phys(void **state)
{
	const uint64_t b = 8 * GiB;
	const uint64_t phys[5] = { b, b + PS, b + 2 * PS, b + 4 * PS, b + 5 * PS };
	struct extent_pool p;
	int32_t node0[5] = { 0 };

	(void)state;
	assert_int_equal(extent_pool_init(&p, PS, 5, phys, node0), 0);
	assert_int_equal(p.runs, 2);
	assert_int_equal(p.largest_free, 3);

	/* id 4 comes back from reclaim into the gap: the runs join. */
	extent_set_state(&p, 4, EXTENT_RECLAIMING);
	assert_int_equal(extent_set_phys(&p, 4, b + 3 * PS, 0), 0);
	assert_int_equal(extent_pool_check(&p), 0);
	assert_order(&p, (const uint32_t[]){ 0, 1, 2, 4, 3 });
	assert_int_equal(p.runs, 1);
	assert_int_equal(p.largest_free, 3);
	extent_set_state(&p, 4, EXTENT_FREE);
	assert_int_equal(p.largest_free, 5);
	assert_found(&p, rq(5 * PS, 0, TOP, 0), b);

	/* Refusals leave everything as it was. */
	assert_int_equal(extent_set_phys(&p, 0, b + 2 * PS, 0), -EEXIST);
	assert_int_equal(extent_set_phys(&p, 0, b + 4 * PS, 0), -EEXIST);
	assert_int_equal(extent_set_phys(&p, 0, b + 1, 0), -EINVAL);
	assert_int_equal(p.pages[0].phys, b);
	assert_order(&p, (const uint32_t[]){ 0, 1, 2, 4, 3 });
	assert_int_equal(extent_set_phys(&p, 0, b, 0), 0); /* no change */
	assert_int_equal(extent_pool_check(&p), 0);
	assert_int_equal(p.runs, 1);

	/* id 2 moves away from the middle: the run splits. */
	extent_set_state(&p, 2, EXTENT_RECLAIMING);
	assert_int_equal(p.largest_free, 2);
	assert_int_equal(extent_set_phys(&p, 2, b + 20 * PS, 0), 0);
	assert_int_equal(extent_pool_check(&p), 0);
	assert_order(&p, (const uint32_t[]){ 0, 1, 4, 3, 2 });
	assert_int_equal(p.runs, 3); /* {0,1} {3,4} {20} */
	extent_set_state(&p, 2, EXTENT_FREE);
	assert_int_equal(p.largest_free, 2);

	/* To the front of the order, below every page. */
	extent_set_state(&p, 3, EXTENT_RECLAIMING);
	assert_int_equal(extent_set_phys(&p, 3, b - PS, 0), 0);
	extent_set_state(&p, 3, EXTENT_FREE);
	assert_int_equal(extent_pool_check(&p), 0);
	assert_order(&p, (const uint32_t[]){ 3, 0, 1, 4, 2 });
	assert_int_equal(p.runs, 3); /* {-1,0,1} {3} {20} */
	assert_int_equal(p.largest_free, 3);

	/* A node change alone splits and rejoins runs. */
	assert_int_equal(extent_set_phys(&p, 0, b, 1), 0);
	assert_int_equal(extent_pool_check(&p), 0);
	assert_int_equal(p.runs, 5);
	assert_int_equal(p.largest_free, 1);
	assert_order(&p, (const uint32_t[]){ 3, 0, 1, 4, 2 });
	assert_int_equal(extent_set_phys(&p, 0, b, 0), 0);
	assert_int_equal(p.runs, 3);
	assert_int_equal(p.largest_free, 3);

	/* A free page moves down into the last gap: one run of five free pages. */
	assert_int_equal(extent_set_phys(&p, 2, b + 2 * PS, 0), 0);
	assert_int_equal(extent_pool_check(&p), 0);
	assert_order(&p, (const uint32_t[]){ 3, 0, 1, 2, 4 });
	assert_int_equal(p.runs, 1);
	assert_int_equal(p.largest_free, 5);
	assert_found(&p, rq(5 * PS, 0, TOP, 0), b - PS);
	/* Up to the end of the order. */
	assert_int_equal(extent_set_phys(&p, 3, b + 40 * PS, 0), 0);
	assert_order(&p, (const uint32_t[]){ 0, 1, 2, 4, 3 });
	assert_int_equal(extent_pool_check(&p), 0);
	assert_int_equal(p.runs, 2);
	assert_int_equal(p.largest_free, 4);
	extent_pool_destroy(&p);
}

static void test_run_next_and_stats(void **state)
{
	static const uint8_t states[10] = {
		EXTENT_FREE, EXTENT_USED,        EXTENT_FREE, EXTENT_FREE, EXTENT_RECLAIMING,
		EXTENT_QUARANTINED, EXTENT_LOST, EXTENT_FREE, EXTENT_FREE, EXTENT_FREE,
	};
	static const struct extent_run_info want[3] = {
		{ .pos = 0, .pages = 5, .phys = 8 * GiB, .node = 0, .nstate = { 3, 1, 1, 0, 0 },
		  .largest_free = 2 },
		{ .pos = 5, .pages = 2, .phys = 9 * GiB, .node = 0, .nstate = { 0, 0, 0, 1, 1 },
		  .largest_free = 0 },
		{ .pos = 7, .pages = 3, .phys = 10 * GiB, .node = 1, .nstate = { 3, 0, 0, 0, 0 },
		  .largest_free = 3 },
	};
	struct extent_run_info r;
	struct extent_stats st;
	struct extent_pool p;
	struct layout l = { 0 };
	uint32_t cursor = 0;

	(void)state;
	add_run(&l, 8 * GiB, 5, PS, 0);
	add_run(&l, 9 * GiB, 2, PS, 0);
	add_run(&l, 10 * GiB, 3, PS, 1);
	build(&p, PS, &l);
	for (uint32_t k = 0; k < 10; k++)
		extent_set_state(&p, extent_id_at(&p, k), states[k]);
	assert_int_equal(extent_pool_check(&p), 0);

	for (int i = 0; i < 3; i++) {
		assert_int_equal(extent_run_next(&p, &cursor, &r), 1);
		assert_int_equal(r.pos, want[i].pos);
		assert_int_equal(r.pages, want[i].pages);
		assert_int_equal(r.phys, want[i].phys);
		assert_int_equal(r.node, want[i].node);
		assert_memory_equal(r.nstate, want[i].nstate, sizeof(r.nstate));
		assert_int_equal(r.largest_free, want[i].largest_free);
		assert_int_equal(cursor, want[i].pos + want[i].pages);
	}
	assert_int_equal(extent_run_next(&p, &cursor, &r), 0);
	assert_int_equal(cursor, 10);

	extent_stats(&p, ANY, &st);
	assert_int_equal(st.pages, 10);
	assert_memory_equal(st.nstate, ((uint32_t[]){ 6, 1, 1, 1, 1 }), sizeof(st.nstate));
	assert_int_equal(st.largest_free, 3);
	assert_int_equal(st.runs, 3);
	assert_memory_equal(p.nstate, st.nstate, sizeof(st.nstate));
	assert_int_equal(p.largest_free, 3);
	assert_int_equal(p.runs, 3);
	extent_stats(&p, 0, &st);
	assert_int_equal(st.pages, 7);
	assert_memory_equal(st.nstate, ((uint32_t[]){ 3, 1, 1, 1, 1 }), sizeof(st.nstate));
	assert_int_equal(st.largest_free, 2);
	assert_int_equal(st.runs, 2);
	extent_stats(&p, 1, &st);
	assert_int_equal(st.pages, 3);
	assert_int_equal(st.nstate[EXTENT_FREE], 3);
	assert_int_equal(st.largest_free, 3);
	assert_int_equal(st.runs, 1);
	extent_stats(&p, 2, &st);
	assert_int_equal(st.pages, 0);
	assert_int_equal(st.runs, 0);
	assert_int_equal(st.largest_free, 0);
	extent_pool_destroy(&p);
}

static void test_gib_pages(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };

	(void)state;
	build_run(&p, GiB, 0, 8); /* 0 .. 8 GiB, across 16 MiB and 4 GiB */
	assert_int_equal(p.runs, 1);
	assert_found(&p, rq(4 * KiB, 0, TOP, 0), 7 * GiB);
	assert_found(&p, rq(4 * KiB, 0, 4 * GiB - 1, 0), 3 * GiB);
	assert_found(&p, rq(4 * KiB, 0, GiB - 1, 0), 0);
	assert_found(&p, rq(4 * KiB, 0, 16 * MiB - 1, 0), 0);
	assert_found(&p, rq(GiB + 1, 0, TOP, 0), 6 * GiB);
	assert_found(&p, rq(GiB, 0, TOP, GiB), 7 * GiB);
	assert_found(&p, rq(4 * KiB, 0, TOP, 4 * KiB), 7 * GiB); /* boundary < page size */
	assert_found(&p, rq(2 * GiB, 0, TOP, 2 * GiB), 6 * GiB);
	assert_found(&p, rq(3 * GiB / 2, 0, 7 * GiB + GiB / 2 - 1, 2 * GiB), 6 * GiB);
	assert_found(&p, rq(3 * GiB / 2, 0, 7 * GiB - 1, 2 * GiB), 4 * GiB); /* 5 crosses 6 */
	assert_enomem(&p, rq(3 * GiB / 2, 4 * GiB + 1, 7 * GiB - 1, 2 * GiB));
	assert_found(&p, rq(8 * GiB, 0, TOP, 8 * GiB), 0);
	assert_enomem(&p, rq(8 * GiB + 1, 0, TOP, 0));
	extent_pool_destroy(&p);

	/* With holes: {0} {2,3,4} {6} GiB. */
	add_run(&l, 0, 1, GiB, 0);
	add_run(&l, 2 * GiB, 3, GiB, 0);
	add_run(&l, 6 * GiB, 1, GiB, 0);
	build(&p, GiB, &l);
	assert_int_equal(p.runs, 3);
	assert_int_equal(p.largest_free, 3);
	assert_found(&p, rq(2 * GiB, 0, TOP, 0), 3 * GiB);
	assert_found(&p, rq(GiB, 0, TOP, 0), 6 * GiB);
	assert_found(&p, rq(3 * GiB, 0, TOP, 0), 2 * GiB);
	assert_found(&p, rq(4 * KiB, 0, 4 * GiB - 1, 0), 3 * GiB); /* class 1 over class 2 */
	assert_found(&p, rq(4 * KiB, 0, 2 * GiB - 1, 0), 0);
	assert_int_equal(alloc(&p, rq(GiB, 0, TOP, 0)), 6 * GiB);
	assert_int_equal(alloc(&p, rq(GiB, 0, TOP, 0)), 4 * GiB);
	assert_int_equal(p.largest_free, 2);
	extent_pool_destroy(&p);
}

/* The checker must see every kind of damage, or the stress test proves nothing. */
static void test_check_detects(void **state)
{
	struct extent_pool p;
	struct layout l = { 0 };
	uint32_t t;

	(void)state;
	add_run(&l, 8 * GiB, 4, PS, 0);
	add_run(&l, 9 * GiB, 4, PS, 1);
	build(&p, PS, &l);
	extent_set_state(&p, 1, EXTENT_USED);
	assert_int_equal(extent_pool_check(&p), 0);

#define DAMAGE(field, bad)                                                                         \
	do {                                                                                       \
		__typeof__(field) saved_ = (field);                                                \
		(field) = (bad);                                                                   \
		assert_int_equal(extent_pool_check(&p), -EUCLEAN);                                 \
		(field) = saved_;                                                                  \
		assert_int_equal(extent_pool_check(&p), 0);                                        \
	} while (0)
	DAMAGE(p.largest_free, p.largest_free + 1);
	DAMAGE(p.largest_free, 0);
	DAMAGE(p.runs, 1);
	DAMAGE(p.nstate[EXTENT_FREE], 8);
	DAMAGE(p.nstate[EXTENT_LOST], 1);
	DAMAGE(p.pages[2].state, EXTENT_STATE_MAX);
	DAMAGE(p.pages[2].state, EXTENT_LOST);
	DAMAGE(p.pages[2].phys, 8 * GiB + 2 * PS + 4 * KiB);
	DAMAGE(p.pages[2].phys, 8 * GiB + PS);   /* duplicate */
	DAMAGE(p.pages[2].phys, 10 * GiB);       /* out of order */
	DAMAGE(p.pages[2].node, 1);              /* runs change */
	DAMAGE(p.pos[3], 2);
	DAMAGE(p.order[0], 8);
	DAMAGE(p.page_size, 3 * MiB);
	DAMAGE(p.npages, 7);
	/* The bitmaps, against pages that did not change. */
	DAMAGE(p.free_bits[0], p.free_bits[0] ^ 1);
	DAMAGE(p.free_bits[0], p.free_bits[0] ^ 2); /* the USED page */
	DAMAGE(p.free_bits[0], p.free_bits[0] | UINT64_C(1) << 8); /* past npages */
	DAMAGE(p.reclaim_bits[0], p.reclaim_bits[0] | 4);
	DAMAGE(p.reclaim_bits[0], p.reclaim_bits[0] | UINT64_C(1) << 63);
	DAMAGE(p.run_start_bits[0], p.run_start_bits[0] ^ 1);
	DAMAGE(p.run_start_bits[0], p.run_start_bits[0] ^ (1 << 4)); /* the node 1 run */
	DAMAGE(p.run_start_bits[0], p.run_start_bits[0] | 2);
	DAMAGE(p.run_start_bits[0], p.run_start_bits[0] | UINT64_C(1) << 9);
#undef DAMAGE
	/* Two ids swapped in the order, pos made consistent: unsorted. */
	t = p.order[0], p.order[0] = p.order[1], p.order[1] = t;
	p.pos[p.order[0]] = 0, p.pos[p.order[1]] = 1;
	assert_int_equal(extent_pool_check(&p), -EUCLEAN);
	extent_pool_destroy(&p);
}

/* ---- seeded stress against a shadow model and a brute-force oracle ---- */

#define ST_SLOTS 200
#define ST_PAGES 150
#define ST_REGIONS 256
#define ST_REGION_PAGES 24

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *g)
{
	/* splitmix64 */
	uint64_t z = (g->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rndn(struct rng *g, uint64_t n)
{
	return rnd(g) % n;
}

/*
 * The shadow: where each page is (a slot of a fixed address universe, so the
 * oracle gets pages in address order without sorting), its node and state,
 * and the live regions as lists of ids. Nothing here reads the pool's order.
 */
struct shadow {
	uint64_t ps;
	uint32_t nslots;
	uint64_t slot_phys[ST_SLOTS];
	int32_t slot_node[ST_SLOTS];
	int32_t occupant[ST_SLOTS];
	uint32_t slot_of[ST_PAGES];
	int32_t node[ST_PAGES];
	uint8_t state[ST_PAGES];
	uint32_t nregions;
	uint32_t region_pages[ST_REGIONS];
	uint32_t region_ids[ST_REGIONS][ST_REGION_PAGES];
};

struct seg {
	uint64_t base;
	uint32_t slots;
};

/* Nodes: one per segment mostly; the 4 GiB segment changes node halfway
 * through adjacent pages, the high one every 16 pages. */
static int32_t seg_node(size_t seg, uint32_t j)
{
	switch (seg) {
	case 1:
		return 3;
	case 2:
		return j >= 24;
	case 3:
		return (int32_t)(j / 16) % 4;
	case 4:
		return 2;
	default:
		return 0;
	}
}

static void shadow_init(struct shadow *s, struct rng *g, uint64_t ps)
{
	/* Across 16 MiB, 1 GiB, across 4 GiB, high, and the top of the address space. */
	const struct seg small[] = {
		{ 0, 24 }, { GiB, 32 }, { 4 * GiB - 24 * ps, 48 }, { 64 * GiB, 64 },
		{ 0 - 32 * ps, 32 },
	};
	const struct seg huge[] = {
		{ 0, 24 }, { 32 * GiB, 32 }, { 128 * GiB, 48 }, { 1024 * GiB, 64 },
		{ 0 - 32 * ps, 32 },
	};
	const struct seg *segs = ps < GiB ? small : huge;
	uint32_t n = 0, perm[ST_SLOTS];

	memset(s, 0, sizeof(*s));
	s->ps = ps;
	for (size_t i = 0; i < 5; i++) {
		for (uint32_t j = 0; j < segs[i].slots; j++, n++) {
			s->slot_phys[n] = segs[i].base + j * ps;
			s->slot_node[n] = seg_node(i, j);
			s->occupant[n] = -1;
			if (n)
				assert_true(s->slot_phys[n] > s->slot_phys[n - 1]);
		}
	}
	s->nslots = n;
	assert_int_equal(n, ST_SLOTS);
	/* ST_PAGES distinct slots at random. */
	for (uint32_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rndn(g, i + 1), t = perm[i];

		perm[i] = perm[j], perm[j] = t;
	}
	for (uint32_t id = 0; id < ST_PAGES; id++) {
		s->slot_of[id] = perm[id];
		s->occupant[perm[id]] = (int32_t)id;
		s->node[id] = s->slot_node[perm[id]];
		s->state[id] = EXTENT_FREE;
	}
}

static uint64_t sh_phys(const struct shadow *s, uint32_t id)
{
	return s->slot_phys[s->slot_of[id]];
}

/* The pages in address order, by walking the slots. */
static uint32_t sh_order(const struct shadow *s, uint32_t *ids)
{
	uint32_t n = 0;

	for (uint32_t t = 0; t < s->nslots; t++)
		if (s->occupant[t] >= 0)
			ids[n++] = (uint32_t)s->occupant[t];
	return n;
}

static bool sh_adjacent(const struct shadow *s, uint32_t a, uint32_t b)
{
	return sh_phys(s, b) - sh_phys(s, a) == s->ps && s->node[a] == s->node[b];
}

/* Per position: length of the maximal stretch of usable pages through it. */
static void sh_stretches(const struct shadow *s, const uint32_t *ids, uint32_t n, bool pending,
			 uint32_t *len)
{
	uint32_t left[ST_PAGES], right[ST_PAGES];

	for (uint32_t k = 0; k < n; k++) {
		uint8_t st = s->state[ids[k]];
		bool u = st == EXTENT_FREE || (pending && st == EXTENT_RECLAIMING);

		left[k] = !u ? 0 : k && sh_adjacent(s, ids[k - 1], ids[k]) ? left[k - 1] + 1 : 1;
	}
	for (uint32_t k = n; k-- > 0;) {
		bool u = left[k] > 0;

		bool joined = k + 1 < n && sh_adjacent(s, ids[k], ids[k + 1]);

		right[k] = !u ? 0 : joined ? right[k + 1] + 1 : 1;
		len[k] = u ? left[k] + right[k] - 1 : 0;
	}
}

typedef unsigned __int128 u128;

/* Lexicographic: node tier, class, stretch length, then ~start. */
static bool key_less(const uint64_t *a, const uint64_t *b)
{
	for (int i = 0; i < 4; i++)
		if (a[i] != b[i])
			return a[i] < b[i];
	return false;
}

struct verdict {
	int err;      /* 0, -EINVAL or -ENOMEM */
	uint32_t pos;
	uint64_t phys;
	uint32_t count;
};

static bool sh_invalid(const struct shadow *s, const struct extent_request *r)
{
	if (!r->nbytes || r->lowest > r->highest || r->node < -1 || r->node >= 64 ||
	    (r->flags & ~3u))
		return true;
	if (r->boundary && (!is_pow2(r->boundary) || r->boundary < r->nbytes))
		return true;
	return ((u128)r->nbytes + s->ps - 1) / s->ps > UINT32_MAX;
}

/*
 * Brute force: try every position as a start, check every page of the window
 * and every limit with 128-bit arithmetic, and keep the best by the rules of
 * extent_find (node tier, class of the start, stretch length, highest start).
 */
static struct verdict oracle(const struct shadow *s, const struct extent_request *r)
{
	uint32_t ids[ST_PAGES], len[ST_PAGES], n, pages;
	bool pending = r->flags & EXTENT_WITH_PENDING, strict = r->flags & EXTENT_NODE_STRICT;
	struct verdict v = { .err = -ENOMEM };
	uint64_t bkey[4] = { 0 };

	if (sh_invalid(s, r))
		return (struct verdict){ .err = -EINVAL };
	pages = (uint32_t)(((u128)r->nbytes + s->ps - 1) / s->ps);
	n = sh_order(s, ids);
	sh_stretches(s, ids, n, pending, len);
	for (uint32_t k = 0; pages <= n && k <= n - pages; k++) {
		uint64_t start = sh_phys(s, ids[k]), key[4];
		u128 end = (u128)start + r->nbytes - 1;
		int32_t nd = s->node[ids[k]];
		bool ok = true;

		for (uint32_t j = 0; j < pages && ok; j++) {
			uint8_t st = s->state[ids[k + j]];

			ok = st == EXTENT_FREE || (pending && st == EXTENT_RECLAIMING);
			if (ok && j + 1 < pages)
				ok = sh_adjacent(s, ids[k + j], ids[k + j + 1]);
		}
		if (!ok || start < r->lowest || end > r->highest)
			continue;
		if (r->boundary && start / r->boundary != end / r->boundary)
			continue;
		if (strict && r->node != -1 && nd != r->node)
			continue;
		key[0] = r->node != -1 && nd != r->node;
		key[1] = start >= 4 * GiB ? 0 : start >= 16 * MiB ? 1 : 2;
		key[2] = len[k];
		key[3] = ~start; /* smaller is better everywhere */
		if (v.err || key_less(key, bkey)) {
			memcpy(bkey, key, sizeof(key));
			v = (struct verdict){ .err = 0, .pos = k, .phys = start, .count = pages };
		}
	}
	return v;
}

/* Everything the pool caches or stores, against the shadow. */
static void sh_compare(const struct shadow *s, const struct extent_pool *p)
{
	uint32_t ids[ST_PAGES] = { 0 }, len[ST_PAGES] = { 0 }, n, nstate[EXTENT_STATE_MAX] = { 0 };
	uint32_t runs = 0, largest = 0;

	assert_int_equal(extent_pool_check(p), 0);
	n = sh_order(s, ids);
	sh_stretches(s, ids, n, false, len);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t id = ids[k];

		assert_int_equal(extent_id_at(p, k), id);
		assert_int_equal(p->pages[id].phys, sh_phys(s, id));
		assert_int_equal(p->pages[id].node, s->node[id]);
		assert_int_equal(p->pages[id].state, s->state[id]);
		nstate[s->state[id]]++;
		runs += !k || !sh_adjacent(s, ids[k - 1], id);
		largest = len[k] > largest ? len[k] : largest;
	}
	assert_memory_equal(p->nstate, nstate, sizeof(nstate));
	assert_int_equal(p->runs, runs);
	assert_int_equal(p->largest_free, largest);
}

static uint64_t next_pow2(uint64_t v)
{
	uint64_t b = 1;

	while (b < v && b)
		b <<= 1;
	return b; /* 0 when v > 2^63 */
}

static uint64_t rnd_addr(struct rng *g, const struct shadow *s)
{
	uint64_t a = s->slot_phys[rndn(g, s->nslots)];

	switch (rndn(g, 4)) {
	case 0:
		return a;
	case 1:
		return a + rndn(g, s->ps);
	case 2:
		return a - 1;
	default:
		return a + s->ps - 1;
	}
}

/* Make a request invalid in one of the ways extent_find must refuse. */
static void spoil(struct rng *g, const struct shadow *s, struct extent_request *r)
{
	switch (rndn(g, 7)) {
	case 0:
		r->nbytes = 0;
		break;
	case 1:
		r->lowest = r->highest + 1;
		if (!r->lowest)
			r->highest = 0, r->lowest = 1;
		break;
	case 2:
		r->boundary = 3 * s->ps;
		break;
	case 3:
		/* A power of two below nbytes (or nbytes 0 when there is none). */
		r->boundary = next_pow2(r->nbytes) / 2;
		if (!r->boundary)
			r->nbytes = 0;
		break;
	case 4:
		r->node = rndn(g, 2) ? -2 : EXTENT_MAX_NODES;
		break;
	case 5:
		r->flags |= 1u << 2;
		break;
	default:
		r->nbytes = UINT64_MAX; /* more than 2^32-1 pages */
		r->boundary = 0;
		break;
	}
}

static struct extent_request rnd_request(struct rng *g, const struct shadow *s)
{
	struct extent_request r = { .node = ANY };
	uint64_t pages = rndn(g, 8) ? 1 + rndn(g, 6) : 1 + rndn(g, ST_REGION_PAGES);

	switch (rndn(g, 4)) {
	case 0:
		r.nbytes = 1 + rndn(g, s->ps);
		break;
	case 1:
		r.nbytes = pages * s->ps;
		break;
	default:
		r.nbytes = pages * s->ps - rndn(g, s->ps);
		break;
	}
	r.lowest = rndn(g, 2) ? 0 : rnd_addr(g, s);
	r.highest = rndn(g, 5) < 2 ? TOP : rnd_addr(g, s);
	if (r.highest < r.lowest) {
		uint64_t t = r.highest;

		r.highest = r.lowest, r.lowest = t;
	}
	if (rndn(g, 2))
		r.boundary = next_pow2(r.nbytes) << rndn(g, 5);
	if (rndn(g, 10) < 7)
		r.node = (int32_t)rndn(g, 5); /* node 4 has no pages */
	if (rndn(g, 10) < 3)
		r.flags |= EXTENT_NODE_STRICT;
	if (rndn(g, 10) < 1)
		r.flags |= EXTENT_WITH_PENDING;
	if (rndn(g, 50) == 0)
		spoil(g, s, &r);
	return r;
}

/* extent_find against the oracle: the same answer, and the same placement. */
static int find_checked(const struct shadow *s, const struct extent_pool *p,
			struct extent_request r, struct extent_range *ret_range)
{
	struct verdict v = oracle(s, &r);
	struct extent_range range;
	int ret = extent_find(p, &r, &range);

	if (ret != v.err)
		fail_msg("find returned %d, oracle %d (nbytes %#" PRIx64 " lowest %#" PRIx64
			 " highest %#" PRIx64 " boundary %#" PRIx64 " node %d flags %u)",
			 ret, v.err, r.nbytes, r.lowest, r.highest, r.boundary, r.node, r.flags);
	/* The page count is the only rule extent_request_check leaves to find. */
	if (v.err == -EINVAL)
		assert_true(extent_request_check(&r) == -EINVAL ||
			    ((u128)r.nbytes + s->ps - 1) / s->ps > UINT32_MAX);
	else
		assert_int_equal(extent_request_check(&r), 0);
	if (ret)
		return ret;
	if (range.phys != v.phys || range.pos != v.pos || range.count != v.count)
		fail_msg("find chose %#" PRIx64 "+%u, oracle %#" PRIx64 "+%u", range.phys,
			 range.count, v.phys, v.count);
	*ret_range = range;
	return 0;
}

static int st_alloc(struct shadow *s, struct extent_pool *p, struct rng *g)
{
	struct extent_request r = rnd_request(g, s);
	struct extent_range range;
	int ret = find_checked(s, p, r, &range);

	if (ret)
		return ret;
	if (r.flags & EXTENT_WITH_PENDING || s->nregions == ST_REGIONS ||
	    range.count > ST_REGION_PAGES)
		return ret;
	extent_take(p, &range);
	for (uint32_t j = 0; j < range.count; j++) {
		uint32_t id = extent_id_at(p, range.pos + j);

		s->state[id] = EXTENT_USED;
		s->region_ids[s->nregions][j] = id;
	}
	s->region_pages[s->nregions++] = range.count;
	return ret;
}

static void st_free(struct shadow *s, struct extent_pool *p, struct rng *g)
{
	static const uint8_t to[4] = { EXTENT_FREE, EXTENT_QUARANTINED, EXTENT_RECLAIMING,
				       EXTENT_RECLAIMING };
	uint32_t i;

	if (!s->nregions)
		return;
	i = (uint32_t)rndn(g, s->nregions);
	for (uint32_t j = 0; j < s->region_pages[i]; j++) {
		uint32_t id = s->region_ids[i][j];
		uint8_t st = to[rndn(g, 4)];

		extent_set_state(p, id, st);
		s->state[id] = st;
	}
	s->nregions--;
	s->region_pages[i] = s->region_pages[s->nregions];
	memcpy(s->region_ids[i], s->region_ids[s->nregions], sizeof(s->region_ids[i]));
}

/* Page id to slot t on node, in the pool and the shadow. */
static void sh_move(struct shadow *s, struct extent_pool *p, uint32_t id, uint32_t t, int32_t node)
{
	int ret = extent_set_phys(p, id, s->slot_phys[t], node);

	if (s->occupant[t] >= 0 && s->occupant[t] != (int32_t)id) {
		assert_int_equal(ret, -EEXIST);
		return;
	}
	assert_int_equal(ret, 0);
	s->occupant[s->slot_of[id]] = -1;
	s->occupant[t] = (int32_t)id;
	s->slot_of[id] = t;
	s->node[id] = node;
}

/* A page comes back from reclaim, maybe somewhere else, maybe on another node. */
static void st_move(struct shadow *s, struct extent_pool *p, struct rng *g, uint32_t id)
{
	uint32_t t = (uint32_t)rndn(g, s->nslots);
	int32_t node = rndn(g, 5) ? s->slot_node[t] : (int32_t)rndn(g, 4);

	sh_move(s, p, id, t, node);
}

static void st_reclaim(struct shadow *s, struct extent_pool *p, struct rng *g)
{
	uint32_t id = (uint32_t)rndn(g, ST_PAGES);
	uint8_t st;

	/* The next page, from a random one on, that is on its way back. */
	for (uint32_t i = 0; i < ST_PAGES; i++, id = (id + 1) % ST_PAGES)
		if (s->state[id] >= EXTENT_RECLAIMING)
			break;
	st = s->state[id];
	if (st == EXTENT_QUARANTINED) {
		st = EXTENT_RECLAIMING;
	} else if (st == EXTENT_RECLAIMING || (st == EXTENT_LOST && rndn(g, 3) == 0)) {
		if (rndn(g, 2))
			st_move(s, p, g, id);
		if (rndn(g, 20) == 0)
			assert_int_equal(extent_set_phys(p, id, sh_phys(s, id) + s->ps / 2, 0),
					 -EINVAL);
		st = rndn(g, 8) ? EXTENT_FREE : EXTENT_LOST;
	} else if (st == EXTENT_FREE && rndn(g, 10) == 0) {
		st_move(s, p, g, id); /* any state may move */
	} else {
		return;
	}
	extent_set_state(p, id, st);
	s->state[id] = st;
}

/* A free page stops being free (quarantined by hand): exercises the split path. */
static void st_disturb(struct shadow *s, struct extent_pool *p, struct rng *g)
{
	uint32_t id = (uint32_t)rndn(g, ST_PAGES);

	if (s->state[id] != EXTENT_FREE)
		return;
	extent_set_state(p, id, EXTENT_QUARANTINED);
	s->state[id] = EXTENT_QUARANTINED;
}

/* The pool the shadow describes, all FREE. */
static void sh_build(const struct shadow *s, struct extent_pool *p)
{
	uint64_t phys[ST_PAGES];
	int32_t node[ST_PAGES];

	for (uint32_t id = 0; id < ST_PAGES; id++) {
		phys[id] = sh_phys(s, id);
		node[id] = s->node[id];
	}
	assert_int_equal(extent_pool_init(p, s->ps, ST_PAGES, phys, node), 0);
	sh_compare(s, p);
}

struct outcomes {
	uint32_t found, enomem, einval;
};

/* ops random operations, the pool checked against the shadow after each. */
static void stress_ops(struct shadow *s, struct extent_pool *p, struct rng *g, uint32_t ops,
		       struct outcomes *ret)
{
	struct outcomes o = { 0 };

	for (uint32_t i = 0; i < ops; i++) {
		uint64_t op = rndn(g, 100);

		if (op < 45) {
			int r = st_alloc(s, p, g);

			o.found += r == 0;
			o.enomem += r == -ENOMEM;
			o.einval += r == -EINVAL;
		} else if (op < 70) {
			st_free(s, p, g);
		} else if (op < 96) {
			st_reclaim(s, p, g);
		} else {
			st_disturb(s, p, g);
		}
		sh_compare(s, p);
	}
	*ret = o;
}

static void stress(uint64_t seed, uint64_t ps, uint32_t ops)
{
	struct shadow *s = calloc(1, sizeof(*s));
	struct rng g = { .s = seed };
	struct extent_pool p;
	struct outcomes o;
	uint32_t found, enomem, einval;

	assert_non_null(s);
	shadow_init(s, &g, ps);
	sh_build(s, &p);
	stress_ops(s, &p, &g, ops, &o);
	found = o.found, enomem = o.enomem, einval = o.einval;
	/* The run exercised every outcome, not just one. */
	assert_true(found > ops / 20);
	assert_true(enomem > ops / 100);
	assert_true(einval > ops / 1000);
	print_message("stress seed %#" PRIx64 ", %" PRIu64 " KiB pages, %u ops: %u found, "
		      "%u ENOMEM, %u EINVAL\n",
		      seed, ps / KiB, ops, found, enomem, einval);
	extent_pool_destroy(&p);
	free(s);
}

/* ---- the edges of the 64-bit words of the pool's bitmaps ---- */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Around each word edge, and the last positions of a 150-page pool. */
static const uint32_t edge_pos[] = { 0, 1, 62, 63, 64, 65, 126, 127, 128, 129, 148, 149 };

static bool is_edge(uint32_t k)
{
	for (size_t i = 0; i < ARRAY_SIZE(edge_pos); i++)
		if (edge_pos[i] == k)
			return true;
	return false;
}

/*
 * ST_PAGES pages (150: two words and 22 bits) in the first ST_PAGES slots,
 * position k in slot k, ids shuffled so that positions and ids differ; the
 * other slots, high up, are where pages can move to. With breaks, runs start
 * at positions 0, 63 (node change), 64 (node change back), 127 (gap) and 128
 * (gap); without, one run crosses both word edges and the other starts at
 * 130. Position 64 is at 4 GiB: the memory class changes at a word edge too.
 */
static void edge_init(struct shadow *s, struct rng *g, uint64_t ps, bool breaks)
{
	const uint64_t base = 4 * GiB - 64 * ps;
	uint32_t perm[ST_PAGES];

	memset(s, 0, sizeof(*s));
	s->ps = ps;
	s->nslots = ST_SLOTS;
	for (uint32_t t = 0; t < ST_SLOTS; t++) {
		uint64_t phys = base + t * ps;
		int32_t node;

		if (t >= ST_PAGES) {
			phys = 64 * GiB + (t - ST_PAGES) * ps;
			node = (int32_t)((t - ST_PAGES) / 16 % 2);
		} else if (breaks) {
			phys += (t >= 127) * ps + (t >= 128) * ps;
			node = t == 63;
		} else {
			node = t >= 130;
		}
		s->slot_phys[t] = phys;
		s->slot_node[t] = node;
		s->occupant[t] = -1;
		if (t)
			assert_true(s->slot_phys[t] > s->slot_phys[t - 1]);
	}
	for (uint32_t i = 0; i < ST_PAGES; i++)
		perm[i] = i;
	for (uint32_t i = ST_PAGES - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rndn(g, i + 1), t = perm[i];

		perm[i] = perm[j], perm[j] = t;
	}
	for (uint32_t t = 0; t < ST_PAGES; t++) {
		uint32_t id = perm[t];

		s->slot_of[id] = t;
		s->occupant[t] = (int32_t)id;
		s->node[id] = s->slot_node[t];
		s->state[id] = EXTENT_FREE;
	}
}

/* Requests that end, start or fill at the edges, each against the oracle. */
static void edge_finds(const struct shadow *s, const struct extent_pool *p)
{
	static const uint32_t pages[] = { 1, 2, 63, 64, 65, 128 };
	struct extent_range range;

	sh_compare(s, p);
	for (size_t i = 0; i < ARRAY_SIZE(pages); i++) {
		for (uint32_t v = 0; v < 16; v++) {
			struct extent_request r = rq(pages[i] * s->ps, 0, TOP, 0);

			if (v & 1)
				r.flags |= EXTENT_WITH_PENDING;
			if (v & 2)
				r.node = 1;
			if (v & 4)
				r.flags |= EXTENT_NODE_STRICT;
			if (v & 8)
				r.highest = 4 * GiB - 1; /* below position 64 */
			find_checked(s, p, r, &range);
		}
	}
}

static void edge_set(struct shadow *s, struct extent_pool *p, uint32_t id, uint8_t st)
{
	extent_set_state(p, id, st);
	s->state[id] = st;
	sh_compare(s, p);
}

/* Positions a..b are all FREE and in one run. */
static bool edge_takeable(const struct shadow *s, const uint32_t *ids, uint32_t a, uint32_t b)
{
	for (uint32_t k = a; k <= b; k++)
		if (s->state[ids[k]] != EXTENT_FREE ||
		    (k > a && !sh_adjacent(s, ids[k - 1], ids[k])))
			return false;
	return true;
}

/* Every range between two edges that can be taken: taken, then given back,
 * the edges by way of RECLAIMING. */
static void edge_ranges(struct shadow *s, struct extent_pool *p)
{
	uint32_t ids[ST_PAGES], taken = 0;

	sh_order(s, ids);
	for (size_t i = 0; i < ARRAY_SIZE(edge_pos); i++) {
		for (size_t j = i; j < ARRAY_SIZE(edge_pos); j++) {
			uint32_t a = edge_pos[i], b = edge_pos[j];
			struct extent_range r = { .pos = a, .count = b - a + 1,
						  .phys = sh_phys(s, ids[a]) };

			if (!edge_takeable(s, ids, a, b))
				continue;
			extent_take(p, &r);
			for (uint32_t k = a; k <= b; k++)
				s->state[ids[k]] = EXTENT_USED;
			edge_finds(s, p);
			for (uint32_t k = a; k <= b; k++) {
				uint8_t st = is_edge(k) ? EXTENT_RECLAIMING : EXTENT_FREE;

				edge_set(s, p, ids[k], st);
			}
			edge_finds(s, p);
			for (uint32_t k = a; k <= b; k++)
				if (is_edge(k))
					edge_set(s, p, ids[k], EXTENT_FREE);
			taken++;
		}
	}
	assert_true(taken >= 20);
}

/* Every state at each edge alone, then at all of them at once. */
static void edge_states(struct shadow *s, struct extent_pool *p)
{
	static const uint8_t states[] = { EXTENT_USED, EXTENT_RECLAIMING, EXTENT_QUARANTINED,
					  EXTENT_LOST };
	uint32_t ids[ST_PAGES];

	sh_order(s, ids);
	for (size_t i = 0; i < ARRAY_SIZE(edge_pos); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(states); j++) {
			edge_set(s, p, ids[edge_pos[i]], states[j]);
			edge_finds(s, p);
		}
		edge_set(s, p, ids[edge_pos[i]], EXTENT_FREE);
	}
	for (size_t i = 0; i < ARRAY_SIZE(edge_pos); i++)
		edge_set(s, p, ids[edge_pos[i]], states[i % ARRAY_SIZE(states)]);
	edge_finds(s, p);
	for (size_t i = 0; i < ARRAY_SIZE(edge_pos); i++)
		edge_set(s, p, ids[edge_pos[i]], EXTENT_FREE);
	edge_finds(s, p);
}

/* The page at each edge moves up to a spare slot (every position above it
 * shifts down one) and back, then changes node where it is. */
static void edge_moves(struct shadow *s, struct extent_pool *p)
{
	uint32_t ids[ST_PAGES];

	sh_order(s, ids);
	for (size_t i = 0; i < ARRAY_SIZE(edge_pos); i++) {
		uint32_t id = ids[edge_pos[i]], t = s->slot_of[id], spare = ST_PAGES + (uint32_t)i;
		int32_t node = s->node[id];

		sh_move(s, p, id, spare, s->slot_node[spare]);
		edge_finds(s, p);
		sh_move(s, p, id, t, node);
		edge_finds(s, p);
		assert_int_equal(extent_id_at(p, edge_pos[i]), id);
		sh_move(s, p, id, t, !node);
		edge_finds(s, p);
		sh_move(s, p, id, t, node);
	}
	edge_finds(s, p);
}

static void test_word_edges(void **state)
{
	static const uint32_t starts_breaks[] = { 0, 63, 64, 127, 128 }, starts_span[] = { 0, 130 };
	struct shadow *s = calloc(1, sizeof(*s));
	struct rng g = { .s = UINT64_C(0xed9e5) };
	struct extent_run_info ri;
	struct extent_pool p;
	struct outcomes o;

	(void)state;
	assert_non_null(s);
	assert_true(ST_PAGES % 64 != 0 && ST_PAGES > 129);
	for (int breaks = 0; breaks < 2; breaks++) {
		const uint32_t *starts = breaks ? starts_breaks : starts_span;
		uint32_t nstarts = breaks ? ARRAY_SIZE(starts_breaks) : ARRAY_SIZE(starts_span);
		uint32_t cursor = 0, n = 0;

		edge_init(s, &g, PS, breaks);
		sh_build(s, &p);
		while (extent_run_next(&p, &cursor, &ri)) {
			assert_true(n < nstarts);
			assert_int_equal(ri.pos, starts[n++]);
		}
		assert_int_equal(n, nstarts);
		edge_finds(s, &p);
		edge_ranges(s, &p);
		edge_states(s, &p);
		edge_moves(s, &p);
		/* And from there, pages moving anywhere: edges wherever they fall. */
		stress_ops(s, &p, &g, 20000, &o);
		assert_true(o.found > 1000 && o.enomem > 100);
		extent_pool_destroy(&p);
	}
	free(s);
}

/* Single runs of about a word or two: the last word full or not. */
static void test_word_sizes(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193 };
	struct extent_pool p;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		const uint32_t n = sizes[i];
		const uint64_t base = 8 * GiB, top = base + (n - 1) * PS;
		struct extent_request pending = rq(n * PS, 0, TOP, 0);

		pending.flags = EXTENT_WITH_PENDING;
		build_run(&p, PS, base, n);
		assert_int_equal(p.largest_free, n);
		assert_found(&p, rq(n * PS, 0, TOP, 0), base);
		assert_found(&p, rq(PS, 0, TOP, 0), top);
		set_at(&p, top, EXTENT_USED);
		assert_int_equal(p.largest_free, n - 1);
		assert_enomem(&p, rq(n * PS, 0, TOP, 0));
		if (n > 1) {
			assert_found(&p, rq((n - 1) * PS, 0, TOP, 0), base);
			assert_found(&p, rq(PS, 0, TOP, 0), top - PS);
		}
		set_at(&p, top, EXTENT_RECLAIMING);
		assert_enomem(&p, rq(n * PS, 0, TOP, 0));
		assert_found(&p, pending, base);
		set_at(&p, base, EXTENT_QUARANTINED);
		if (n > 2)
			assert_found(&p, rq((n - 2) * PS, 0, TOP, 0), base + PS);
		set_at(&p, base, EXTENT_FREE);
		set_at(&p, top, EXTENT_FREE);
		assert_int_equal(p.largest_free, n);
		extent_pool_destroy(&p);
	}
}

static void test_stress(void **state)
{
	const char *env = getenv("EXTENT_STRESS_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : UINT64_C(0xc0471d);

	(void)state;
	stress(seed, PS, 100000);
}

static void test_stress_gib(void **state)
{
	(void)state;
	stress(UINT64_C(0x5eed), GiB, 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_init_layout),
		cmocka_unit_test(test_request_check),
		cmocka_unit_test(test_page_count_limit),
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_window_too_small),
		cmocka_unit_test(test_top_of_address_space),
		cmocka_unit_test(test_constraint_table),
		cmocka_unit_test(test_boundary_pow2),
		cmocka_unit_test(test_fragmented),
		cmocka_unit_test(test_straddle_4g),
		cmocka_unit_test(test_straddle_16m),
		cmocka_unit_test(test_exhaust_and_coalesce),
		cmocka_unit_test(test_best_fit),
		cmocka_unit_test(test_low_memory_kept),
		cmocka_unit_test(test_nodes_two),
		cmocka_unit_test(test_nodes_four),
		cmocka_unit_test(test_with_pending),
		cmocka_unit_test(test_set_phys),
		cmocka_unit_test(test_run_next_and_stats),
		cmocka_unit_test(test_gib_pages),
		cmocka_unit_test(test_check_detects),
		cmocka_unit_test(test_word_sizes),
		cmocka_unit_test(test_word_edges),
		cmocka_unit_test(test_stress),
		cmocka_unit_test(test_stress_gib),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
