/* SPDX-License-Identifier: MIT */
/*
 * test_repair.c - the repair's choice (daemon/repair.c repair_choose and
 * repair_score) on synthetic layouts: which free pool frames it gives up for
 * which candidates. The swaps themselves run under the session fuzzer's
 * fake backing (FZ_REPAIR) and in a real daemon (test_core).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "repair.h"

#define PS (2ull << 20)

static struct repair_frame fr(uint64_t page, uint8_t kind, uint32_t ref)
{
	return (struct repair_frame){ .phys = page * PS, .node = 0, .ref = ref, .kind = kind };
}

/* The kept flag of the frame at page (f sorted by repair_choose). */
static int kept_at(const struct repair_frame *f, uint32_t n, uint64_t page)
{
	for (uint32_t k = 0; k < n; k++)
		if (f[k].phys == page * PS)
			return f[k].keep;
	fail_msg("no frame at page %llu", (unsigned long long)page);
	return -1;
}

static uint64_t score_of_free(struct repair_frame *f, uint32_t n, uint32_t *runs, uint32_t *largest)
{
	for (uint32_t k = 0; k < n; k++)
		f[k].keep = f[k].kind == REPAIR_FREE;
	return repair_score(f, n, PS, runs, largest);
}

/* Scattered free pages, a contiguous block of candidates: all swapped. */
static void test_scattered_for_block(void **state)
{
	struct repair_frame f[8] = {
		fr(0, REPAIR_FREE, 0), fr(10, REPAIR_FREE, 1), fr(20, REPAIR_FREE, 2),
		fr(30, REPAIR_FREE, 3), fr(103, REPAIR_CANDIDATE, 0), fr(100, REPAIR_CANDIDATE, 1),
		fr(102, REPAIR_CANDIDATE, 2), fr(101, REPAIR_CANDIDATE, 3),
	};
	uint32_t runs, largest;

	(void)state;
	assert_int_equal(repair_choose(f, 8, PS, 4), 4);
	for (uint64_t p = 100; p < 104; p++)
		assert_int_equal(kept_at(f, 8, p), 1);
	for (uint64_t p = 0; p < 40; p += 10)
		assert_int_equal(kept_at(f, 8, p), 0);
	uint64_t after = repair_score(f, 8, PS, &runs, &largest);
	assert_int_equal(runs, 1);
	assert_int_equal(largest, 4);
	assert_int_equal(after, 16);
	assert_int_equal(score_of_free(f, 8, &runs, &largest), 4);
	assert_int_equal(runs, 4);
	assert_int_equal(largest, 1);
}

/* Used pages count in a run's length but not in the quota: the free page
 * next to them is worth more than two candidates on their own. */
static void test_fixed_lengthen_runs(void **state)
{
	struct repair_frame f[5] = {
		fr(50, REPAIR_FIXED, 0), fr(51, REPAIR_FIXED, 1), fr(52, REPAIR_FREE, 2),
		fr(200, REPAIR_CANDIDATE, 0), fr(201, REPAIR_CANDIDATE, 1),
	};

	(void)state;
	assert_int_equal(repair_choose(f, 5, PS, 1), 1);
	assert_int_equal(kept_at(f, 5, 52), 1);
	assert_int_equal(kept_at(f, 5, 200), 0);
	assert_int_equal(kept_at(f, 5, 201), 0);
	assert_int_equal(kept_at(f, 5, 50), 0); /* fixed: never "kept", always there */
}

/* A tie goes to the frames the pool already owns: no swap for nothing. */
static void test_tie_keeps_own(void **state)
{
	struct repair_frame f[6] = {
		fr(10, REPAIR_CANDIDATE, 0), fr(11, REPAIR_CANDIDATE, 1), fr(12, REPAIR_CANDIDATE, 2),
		fr(0, REPAIR_FREE, 0), fr(1, REPAIR_FREE, 1), fr(2, REPAIR_FREE, 2),
	};

	(void)state;
	assert_int_equal(repair_choose(f, 6, PS, 3), 3);
	for (uint64_t p = 0; p < 3; p++) {
		assert_int_equal(kept_at(f, 6, p), 1);
		assert_int_equal(kept_at(f, 6, p + 10), 0);
	}
}

/* Physically adjacent frames on two nodes are two runs. */
static void test_node_breaks_run(void **state)
{
	struct repair_frame f[5] = {
		fr(0, REPAIR_FREE, 0), fr(1, REPAIR_FREE, 1),
		fr(2, REPAIR_CANDIDATE, 0), fr(3, REPAIR_CANDIDATE, 1), fr(4, REPAIR_CANDIDATE, 2),
	};
	uint32_t runs, largest;

	(void)state;
	f[2].node = f[3].node = f[4].node = 1;
	/* Three candidates on node 1 beat two free pages on node 0. */
	assert_int_equal(repair_choose(f, 5, PS, 2), 2);
	assert_int_equal(kept_at(f, 5, 0) + kept_at(f, 5, 1), 0);
	repair_score(f, 5, PS, &runs, &largest);
	assert_int_equal(runs, 1);
	assert_int_equal(largest, 2);
	assert_int_equal(score_of_free(f, 5, &runs, &largest), 4);
	assert_int_equal(runs, 1);
}

/* A candidate at the address of a pool frame (impossible unless something
 * else is wrong) is never kept and joins no run. */
static void test_duplicate_ignored(void **state)
{
	struct repair_frame f[4] = {
		fr(7, REPAIR_FREE, 0), fr(7, REPAIR_CANDIDATE, 0), fr(8, REPAIR_CANDIDATE, 1),
		fr(30, REPAIR_FREE, 1),
	};

	(void)state;
	assert_int_equal(repair_choose(f, 4, PS, 2), 2);
	for (uint32_t k = 0; k < 4; k++)
		if (f[k].kind == REPAIR_CANDIDATE && f[k].phys == 7 * PS)
			assert_int_equal(f[k].keep, 0);
	/* 7 (free) + 8 (candidate) form the longest run. */
	assert_int_equal(kept_at(f, 4, 8), 1);
	assert_int_equal(kept_at(f, 4, 30), 0);
}

/*
 * The selection repair_choose must make, worked out independently on frames
 * sorted by phys without duplicates (repair.h): runs of adjacent frames on
 * one node, fixed frames included; the longest run first, at equal length
 * the one with more FREE frames, then the lower address; within a run its
 * movable frames from the lowest address up, until quota are kept.
 */
static void oracle_keep(const struct repair_frame *f, uint32_t n, uint32_t quota, uint8_t *keep)
{
	uint32_t *first = calloc(n, sizeof(*first)), *len = calloc(n, sizeof(*len));
	uint32_t *nfree = calloc(n, sizeof(*nfree));
	uint8_t *taken = calloc(n, 1);
	uint32_t nruns = 0, kept = 0;

	assert_true(first && len && nfree && taken);
	for (uint32_t k = 0; k < n; k++) {
		keep[k] = 0;
		if (!k || f[k].phys != f[k - 1].phys + PS || f[k].node != f[k - 1].node)
			first[nruns++] = k;
		len[nruns - 1]++;
		nfree[nruns - 1] += f[k].kind == REPAIR_FREE;
	}
	while (kept < quota) {
		uint32_t best = nruns;
		for (uint32_t r = 0; r < nruns; r++)
			if (!taken[r] && (best == nruns || len[r] > len[best] ||
					  (len[r] == len[best] && nfree[r] > nfree[best])))
				best = r; /* a tie on both keeps the earlier, lower run */
		if (best == nruns)
			break;
		taken[best] = 1;
		for (uint32_t k = first[best]; k < first[best] + len[best] && kept < quota; k++)
			if (f[k].kind != REPAIR_FIXED) {
				keep[k] = 1;
				kept++;
			}
	}
	free(first);
	free(len);
	free(nfree);
	free(taken);
}

/* Random layouts: exactly the frames the rule picks are kept (so exactly
 * quota movable ones, never a fixed one, whatever the input order); the
 * score never counts a frame twice. */
static void test_random_layouts(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		uint32_t n = 1 + (uint32_t)(rand_r(&seed) % 200), quota = 0, movable = 0;
		struct repair_frame *f = calloc(n, sizeof(*f));
		uint64_t page = (uint64_t)(rand_r(&seed) % 8);

		assert_non_null(f);
		for (uint32_t k = 0; k < n; k++) {
			page += 1 + (rand_r(&seed) % 4 == 0 ? (uint64_t)(rand_r(&seed) % 5) : 0);
			uint8_t kind = (uint8_t)(rand_r(&seed) % 3);
			f[k] = fr(page, kind, k);
			f[k].node = rand_r(&seed) % 16 == 0;
			quota += kind == REPAIR_FREE;
			movable += kind != REPAIR_FIXED;
		}
		/* Built in physical order, ref k at position k: the rule's
		 * choice on the sorted frames, before they are shuffled. */
		uint8_t *want = calloc(n, 1);
		assert_non_null(want);
		oracle_keep(f, n, quota, want);
		/* Shuffle: the choice must not depend on the input order. */
		for (uint32_t k = n - 1; k > 0; k--) {
			uint32_t j = (uint32_t)rand_r(&seed) % (k + 1);
			struct repair_frame t = f[k];
			f[k] = f[j];
			f[j] = t;
		}
		assert_int_equal(repair_choose(f, n, PS, quota), quota);
		uint32_t kept = 0, runs, largest;
		for (uint32_t k = 0; k < n; k++) {
			if (k)
				assert_true(f[k - 1].phys < f[k].phys);
			/* Sorted back into the order it was built in. */
			assert_int_equal(f[k].ref, k);
			if (f[k].keep != want[k])
				fail_msg("round %d: frame %u (page %llu, kind %u, node %d): "
					 "kept %u, the rule keeps %u", round, k,
					 (unsigned long long)(f[k].phys / PS), f[k].kind,
					 f[k].node, f[k].keep, want[k]);
			kept += f[k].keep;
		}
		assert_int_equal(kept, quota);
		assert_true(kept <= movable);
		uint64_t s = repair_score(f, n, PS, &runs, &largest);
		uint32_t owned = kept;
		for (uint32_t k = 0; k < n; k++)
			owned += f[k].kind == REPAIR_FIXED;
		/* Sum of squares of run lengths lies between owned and owned^2. */
		assert_true(s >= owned && s <= (uint64_t)owned * owned);
		assert_true(largest <= owned && (owned == 0 || runs >= 1));
		free(want);
		free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scattered_for_block),
		cmocka_unit_test(test_fixed_lengthen_runs),
		cmocka_unit_test(test_tie_keeps_own),
		cmocka_unit_test(test_node_breaks_run),
		cmocka_unit_test(test_duplicate_ignored),
		cmocka_unit_test(test_random_layouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
