/* SPDX-License-Identifier: MIT */
/*
 * extent_bench.c - what one extent_find costs on a large, fragmented pool.
 *
 * Builds a synthetic pool of 32768 2 MiB pages (64 GiB, five runs on two
 * nodes, one below 4 GiB, ids shuffled against addresses as the daemon's
 * backing order is), fragments it with a seeded alloc/free workload (up to
 * 97% taken, then random frees down to 80%: best fit refills every hole a
 * steady mix makes, so only a fall from a high water mark leaves many free
 * stretches of every size), then times N extent_find calls each for 1, 8
 * and 64 page requests and prints ns per call. A last line times 1 page
 * below 4 GiB: no page near the top meets that ceiling, so every free
 * stretch is looked at, where most requests stop early. The pool is the
 * same on every run and machine; only the times vary. Not a test: nothing
 * is asserted about them.
 *
 * usage: extent-bench [N]   (calls per request size, default 5000)
 */
#include "extent.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PS (UINT64_C(2) << 20)
#define GiB (UINT64_C(1) << 30)
#define NPAGES 32768u
#define TARGET_PCT 80
#define HIGH_PCT 97
#define MAX_REGION 64

struct bench_run {
	uint64_t phys;
	uint32_t pages;
	int32_t node;
};

static const struct bench_run runs[] = {
	{ 1 * GiB, 256, 0 },
	{ 8 * GiB, 12032, 0 },
	{ 64 * GiB, 8192, 0 },
	{ 128 * GiB, 8192, 1 },
	{ 256 * GiB, 4096, 1 },
};

struct region {
	uint32_t pos;
	uint32_t count;
};

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: the same sequence everywhere, so the same pool. */
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rng_next(s) % n);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int build_pool(struct extent_pool *p, uint64_t *seed)
{
	static uint64_t phys[NPAGES];
	static int32_t node[NPAGES];
	uint32_t n = 0;

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		for (uint32_t j = 0; j < runs[i].pages; j++, n++) {
			phys[n] = runs[i].phys + (uint64_t)j * PS;
			node[n] = runs[i].node;
		}
	if (n != NPAGES)
		return -EINVAL;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = rng_below(seed, i + 1);
		uint64_t tp = phys[i];
		int32_t tn = node[i];

		phys[i] = phys[j], phys[j] = tp;
		node[i] = node[j], node[j] = tn;
	}
	return extent_pool_init(p, PS, n, phys, node);
}

/* Mostly small requests, now and then a large one, as clients ask. */
static uint32_t rnd_pages(uint64_t *seed)
{
	uint32_t r = rng_below(seed, 100);

	if (r < 50)
		return 1;
	if (r < 85)
		return 2 + rng_below(seed, 7);
	return 9 + rng_below(seed, MAX_REGION - 8);
}

static struct extent_request request(uint32_t pages)
{
	return (struct extent_request){
		.nbytes = (uint64_t)pages * PS,
		.lowest = 0,
		.highest = UINT64_MAX,
		.node = EXTENT_NODE_ANY,
	};
}

static void release(struct extent_pool *p, const struct region *rg, uint64_t *seed)
{
	/* Some pages go the reclaim way, so not every page that is not USED is FREE. */
	static const enum extent_state to_state[50] = { [48] = EXTENT_QUARANTINED,
							[49] = EXTENT_RECLAIMING };
	enum extent_state to = to_state[rng_below(seed, 50)];

	for (uint32_t k = rg->pos; k < rg->pos + rg->count; k++)
		extent_set_state(p, extent_id_at(p, k), to);
}

static uint32_t taken_pct(const struct extent_pool *p)
{
	return (uint32_t)((uint64_t)(p->npages - p->nstate[EXTENT_FREE]) * 100 / p->npages);
}

/*
 * Allocate (two times in three) and free random live regions until HIGH_PCT
 * of the pages are taken, then free random regions down to TARGET_PCT.
 * Positions are stable: nothing here moves a page.
 */
static int fragment(struct extent_pool *p, uint64_t *seed)
{
	static struct region live[NPAGES];
	uint32_t nlive = 0, allocs = 0, frees = 0, fails = 0;
	uint64_t t0 = now_ns();

	while (taken_pct(p) < HIGH_PCT) {
		if (nlive && rng_below(seed, 3) == 0) {
			uint32_t i = rng_below(seed, nlive);

			release(p, &live[i], seed);
			live[i] = live[--nlive];
			frees++;
			continue;
		}
		struct extent_request rq = request(rnd_pages(seed));
		struct extent_range r;

		if (extent_find(p, &rq, &r) < 0) {
			fails++;
			continue;
		}
		extent_take(p, &r);
		live[nlive++] = (struct region){ .pos = r.pos, .count = r.count };
		allocs++;
	}
	while (nlive && taken_pct(p) >= TARGET_PCT) {
		uint32_t i = rng_below(seed, nlive);

		release(p, &live[i], seed);
		live[i] = live[--nlive];
		frees++;
	}
	printf("fragmenting: %u allocs, %u frees, %u failed finds, %.1f ms\n", allocs, frees, fails,
	       (double)(now_ns() - t0) / 1e6);
	return extent_pool_check(p);
}

static void describe(const struct extent_pool *p)
{
	struct extent_stats st;
	uint32_t stretches = 0;

	extent_stats(p, EXTENT_NODE_ANY, &st);
	for (uint32_t k = 0; k < p->npages; k++) {
		const struct extent_page *pg = &p->pages[extent_id_at(p, k)], *prev;

		if (pg->state != EXTENT_FREE)
			continue;
		prev = k ? &p->pages[extent_id_at(p, k - 1)] : NULL;
		stretches += !prev || prev->state != EXTENT_FREE || prev->node != pg->node ||
			     pg->phys - prev->phys != PS;
	}
	printf("pool: %u pages, %u runs, %u free, %u used, %u reclaiming, %u quarantined, "
	       "%u free stretches, largest %u\n",
	       st.pages, st.runs, st.nstate[EXTENT_FREE], st.nstate[EXTENT_USED],
	       st.nstate[EXTENT_RECLAIMING], st.nstate[EXTENT_QUARANTINED], stretches,
	       st.largest_free);
}

static void time_find(const struct extent_pool *p, struct extent_request rq, const char *what,
		      uint32_t n)
{
	struct extent_range r = { 0 };
	uint64_t t0, sum = 0;
	int ret = 0;

	for (uint32_t i = 0; i < n / 10 + 1; i++) /* warm the caches */
		ret = extent_find(p, &rq, &r);
	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		ret = extent_find(p, &rq, &r);
		sum += r.pos; /* keeps the calls */
	}
	t0 = now_ns() - t0;
	printf("extent_find %-22s %10.1f ns/call over %u calls (%s", what, (double)t0 / n, n,
	       ret ? "ENOMEM" : "found");
	if (!ret)
		printf(" at %#" PRIx64, r.phys);
	printf(", checksum %" PRIu64 ")\n", sum);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 1, 8, 64 };
	struct extent_request low = request(1);
	struct extent_pool p;
	char what[32];
	uint64_t seed = UINT64_C(0xe47e17);
	uint32_t n = 5000;
	int r;

	if (argc > 1) {
		char *end;
		unsigned long v = strtoul(argv[1], &end, 0);

		if (*end || !v || v > UINT32_MAX) {
			fprintf(stderr, "usage: %s [calls per size]\n", argv[0]);
			return 2;
		}
		n = (uint32_t)v;
	}
	r = build_pool(&p, &seed);
	if (r < 0) {
		fprintf(stderr, "extent_pool_init: %s\n", strerror(-r));
		return 1;
	}
	r = fragment(&p, &seed);
	if (r < 0) {
		fprintf(stderr, "extent_pool_check after fragmenting: %s\n", strerror(-r));
		return 1;
	}
	describe(&p);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(what, sizeof(what), "%u page(s):", sizes[i]);
		time_find(&p, request(sizes[i]), what, n);
	}
	low.highest = 4 * GiB - 1;
	time_find(&p, low, "1 page below 4 GiB:", n);
	extent_pool_destroy(&p);
	return 0;
}
