/* SPDX-License-Identifier: MIT */
/*
 * test_unitmap.c - the carve layer's unit map on synthetic layouts: every
 * answer of unitmap_find checked against a brute-force search over the
 * same bits, for 2 MiB pages (512 units) and 1 GiB pages (262,144 units),
 * with floors, ceilings and boundary windows; and the summaries kept right
 * through random takes and gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "unitmap.h"

/* The reference: the lowest fitting start, looked up unit by unit. */
static uint32_t brute_find(const struct unitmap *m, uint32_t n, uint32_t lo, uint32_t last,
			   uint32_t window)
{
	if (!n || n > m->nunits)
		return UNITMAP_NONE;
	if (last > m->nunits - n)
		last = m->nunits - n;
	for (uint64_t s = lo; s <= last; s++) {
		if (window && s / window != (s + n - 1) / window)
			continue;
		uint32_t k = 0;
		while (k < n && unitmap_is_free(m, (uint32_t)s + k))
			k++;
		if (k == n)
			return (uint32_t)s;
	}
	return UNITMAP_NONE;
}

/* The summaries and counters agree with the bits. */
static void check_consistent(const struct unitmap *m)
{
	uint32_t nfree = 0, first = UINT32_MAX;

	for (uint32_t u = 0; u < m->nunits; u++)
		if (unitmap_is_free(m, u)) {
			nfree++;
			if (first == UINT32_MAX)
				first = u;
		}
	assert_int_equal(nfree, m->nfree);
	if (first != UINT32_MAX)
		assert_true(m->first_free <= first);
	for (uint32_t w = 0; w < m->nwords; w++) {
		uint32_t lim = m->nunits - w * 64 < 64 ? m->nunits - w * 64 : 64;
		uint64_t mask = lim == 64 ? ~0ull : (1ull << lim) - 1;
		assert_int_equal(!!(m->some[w / 64] >> (w % 64) & 1), m->free[w] != 0);
		assert_int_equal(!!(m->all[w / 64] >> (w % 64) & 1), m->free[w] == mask);
		assert_int_equal(m->free[w] & ~mask, 0);
	}
}

struct live {
	uint32_t at, n;
};

/* Random takes (through unitmap_find) and gives, checking each find. */
static void churn(uint32_t nunits, uint32_t maxn, unsigned rounds, unsigned seed)
{
	struct unitmap m;
	struct live *live = calloc(nunits, sizeof(*live));
	uint32_t nlive = 0;

	srand(seed);
	assert_non_null(live);
	assert_int_equal(unitmap_init(&m, nunits), 0);
	for (unsigned i = 0; i < rounds; i++) {
		if (nlive && (rand() % 3 == 0 || m.nfree < maxn)) {
			uint32_t k = (uint32_t)rand() % nlive;
			unitmap_give(&m, live[k].at, live[k].n);
			live[k] = live[--nlive];
			continue;
		}
		uint32_t n = 1 + (uint32_t)rand() % maxn;
		uint32_t lo = rand() % 4 ? 0 : (uint32_t)rand() % nunits;
		uint32_t last = rand() % 4 ? UINT32_MAX : (uint32_t)rand() % nunits;
		uint32_t window = 0;
		if (rand() % 3 == 0) {
			window = 1u << (rand() % 10);
			if (window < n)
				window = 0;
		}
		uint32_t got = unitmap_find(&m, n, lo, last, window);
		assert_int_equal(got, brute_find(&m, n, lo, last, window));
		if (got != UNITMAP_NONE) {
			unitmap_take(&m, got, n);
			live[nlive++] = (struct live){ got, n };
		}
	}
	check_consistent(&m);
	while (nlive) {
		unitmap_give(&m, live[nlive - 1].at, live[nlive - 1].n);
		nlive--;
	}
	check_consistent(&m);
	assert_int_equal(m.nfree, nunits);
	assert_int_equal(unitmap_find(&m, nunits, 0, UINT32_MAX, 0), 0);
	unitmap_fini(&m);
	free(live);
}

static void test_churn_2m(void **state)
{
	(void)state;
	churn(512, 64, 20000, 1);
	churn(512, 256, 20000, 2);
}

static void test_churn_1g(void **state)
{
	(void)state;
	/* The brute force is slow on 262,144 units: fewer rounds. */
	churn(262144, 4096, 400, 3);
}

static void test_odd_size(void **state)
{
	(void)state;
	churn(100, 30, 5000, 4); /* a last word only partly used */
}

static void test_fill_exactly(void **state)
{
	struct unitmap m;

	(void)state;
	assert_int_equal(unitmap_init(&m, 512), 0);
	for (uint32_t i = 0; i < 512; i++) {
		uint32_t at = unitmap_find(&m, 1, 0, UINT32_MAX, 0);
		assert_int_equal(at, i);
		unitmap_take(&m, at, 1);
	}
	assert_int_equal(m.nfree, 0);
	assert_int_equal(unitmap_find(&m, 1, 0, UINT32_MAX, 0), UNITMAP_NONE);
	unitmap_give(&m, 300, 1);
	assert_int_equal(unitmap_find(&m, 1, 0, UINT32_MAX, 0), 300);
	assert_int_equal(unitmap_find(&m, 1, 0, 299, 0), UNITMAP_NONE);
	assert_int_equal(unitmap_find(&m, 1, 301, UINT32_MAX, 0), UNITMAP_NONE);
	assert_int_equal(unitmap_find(&m, 2, 0, UINT32_MAX, 0), UNITMAP_NONE);
	check_consistent(&m);
	unitmap_fini(&m);
}

/* A run that would cross a window boundary moves to the next window. */
static void test_window(void **state)
{
	struct unitmap m;

	(void)state;
	assert_int_equal(unitmap_init(&m, 512), 0);
	unitmap_take(&m, 0, 5);
	/* 12 units (48 KiB) in 16-unit (64 KiB) windows: 5 + 12 > 16. */
	assert_int_equal(unitmap_find(&m, 12, 0, UINT32_MAX, 16), 16);
	assert_int_equal(unitmap_find(&m, 11, 0, UINT32_MAX, 16), 5);
	assert_int_equal(unitmap_find(&m, 17, 0, UINT32_MAX, 16), UNITMAP_NONE);
	unitmap_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_exactly),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_odd_size),
		cmocka_unit_test(test_churn_2m),
		cmocka_unit_test(test_churn_1g),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
