/* SPDX-License-Identifier: MIT */
/*
 * test_account.c - the per-uid accounts (daemon/account.c) on synthetic
 * uids: one account per uid whatever the bucket it shares, references by
 * session, gone with the last session, and a table of thousands of uids
 * (user namespaces map ranges) that still finds every one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "account.h"

static void test_join_leave(void **state)
{
	struct accounts *a = calloc(1, sizeof(*a));
	struct account *x, *y, *z;

	(void)state;
	assert_non_null(a);
	assert_null(account_find(a, 1000));
	assert_int_equal(account_join(a, 1000, &x), 0);
	assert_int_equal(account_join(a, 1000, &y), 0);
	assert_ptr_equal(x, y);
	assert_int_equal(x->sessions, 2);
	assert_int_equal(account_join(a, 1001, &z), 0);
	assert_ptr_not_equal(x, z);
	assert_int_equal(a->n, 2);
	x->regions = 3;
	x->bytes = 3 << 21;
	account_leave(a, y);
	assert_ptr_equal(account_find(a, 1000), x);
	assert_int_equal(x->regions, 3);
	account_leave(a, x);
	assert_null(account_find(a, 1000));
	assert_ptr_equal(account_find(a, 1001), z);
	assert_int_equal(a->n, 1);
	accounts_fini(a);
	assert_null(account_find(a, 1001));
	free(a);
}

/* 5,000 uids in a range, more than there are buckets: every one found,
 * and leaving them in another order than they came empties the table. */
static void test_many(void **state)
{
	enum { N = 5000 };
	struct accounts *a = calloc(1, sizeof(*a));
	static struct account *acc[N];

	(void)state;
	assert_non_null(a);
	for (uid_t i = 0; i < N; i++) {
		assert_int_equal(account_join(a, 100000 + i * 65536u, &acc[i]), 0);
		acc[i]->bytes = i;
	}
	assert_int_equal(a->n, N);
	for (uid_t i = 0; i < N; i++) {
		const struct account *f = account_find(a, 100000 + i * 65536u);
		assert_ptr_equal(f, acc[i]);
		assert_int_equal(f->bytes, i);
	}
	for (uid_t i = 0; i < N; i += 2)
		account_leave(a, acc[i]);
	for (uid_t i = 1; i < N; i += 2)
		assert_ptr_equal(account_find(a, 100000 + i * 65536u), acc[i]);
	for (uid_t i = 1; i < N; i += 2)
		account_leave(a, acc[i]);
	assert_int_equal(a->n, 0);
	for (uint32_t b = 0; b < ACCOUNT_BUCKETS; b++)
		assert_null(a->bucket[b]);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_leave),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests_name("unit-account", tests, NULL, NULL);
}
