/* SPDX-License-Identifier: MIT */
/*
 * frag.c - the fragmentation workload (see bench.h), identical for contig
 * and DPDK: same seed, same sizes, same decisions, so the failure counts
 * compare placement and nothing else. Decisions depend only on the
 * workload's own accounting (what it holds), never on the allocator's
 * answer beyond success or failure.
 */
#include "bench.h"

#include <stdlib.h>

struct live {
	void *p;
	size_t bytes;
};

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: fast, and the same sequence on every machine. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static uint64_t pages_of(size_t bytes)
{
	return (bytes + HUGE_2M - 1) / HUGE_2M * HUGE_2M;
}

/* Largest allocation that succeeds now, by bisection over whole pages. */
static uint64_t probe_largest(const struct frag_ops *ops, uint64_t held, uint64_t room)
{
	uint64_t lo = 0, hi = room / HUGE_2M;

	while (lo < hi) {
		uint64_t mid = (lo + hi + 1) / 2;
		void *p;

		if (ops->settle)
			ops->settle(ops->ctx, held);
		p = ops->alloc(ops->ctx, mid * HUGE_2M);
		if (p) {
			ops->free(ops->ctx, p, mid * HUGE_2M);
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return lo * HUGE_2M;
}

int frag_run(const struct frag_ops *ops, uint64_t total_bytes, double fill, unsigned nops,
	     uint64_t seed, struct frag_result *ret)
{
	uint64_t target = (uint64_t)((double)total_bytes * fill), held = 0, s = seed | 1;
	size_t cap = total_bytes / (2 * MIB) + 1, nlive = 0;
	struct live *live = calloc(cap, sizeof(*live));
	struct frag_result r = { 0 };
	uint64_t t0 = now_ns();

	if (!live)
		return -1;
	for (r.ops = 0; r.ops < nops; r.ops++) {
		if (held < target || nlive == 0) {
			size_t bytes = (size_t)(2 + rng_next(&s) % 31) * MIB;
			void *p = nlive < cap ? ops->alloc(ops->ctx, bytes) : NULL;

			r.allocs++;
			if (!p) {
				r.fails++;
				if (total_bytes - held >= pages_of(bytes))
					r.fails_room++;
				continue;
			}
			live[nlive++] = (struct live){ p, bytes };
			held += pages_of(bytes);
		} else {
			size_t k = (size_t)(rng_next(&s) % nlive);

			ops->free(ops->ctx, live[k].p, live[k].bytes);
			held -= pages_of(live[k].bytes);
			live[k] = live[--nlive];
			r.frees++;
		}
	}
	r.seconds = (double)(now_ns() - t0) / 1e9;
	r.held_end = held;
	if (ops->settle)
		ops->settle(ops->ctx, held);
	if (ops->at_end)
		ops->at_end(ops->ctx);
	r.largest_probe = probe_largest(ops, held, total_bytes - held);
	while (nlive) {
		nlive--;
		ops->free(ops->ctx, live[nlive].p, live[nlive].bytes);
	}
	free(live);
	*ret = r;
	return 0;
}
