/* SPDX-License-Identifier: MIT */
/*
 * test_small.c - the small-region cache (CONTIG_SMALL_CACHE=1): regions of
 * at most 64 KiB carved in the client, still zeroed, physically contiguous,
 * with the right physical addresses, invisible once freed, not exportable,
 * not inherited across fork, and given back before contig_query.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct daemon_proc d;
static int teardown_status;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "32M", NULL };

	(void)state;
	setenv("CONTIG_SMALL_CACHE", "1", 1);
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static void check_block(const uint8_t *p, size_t n)
{
	uint64_t ph = contig_phys_addr(p);

	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 4096, 0);
	assert_int_not_equal(ph, CONTIG_PHYS_INVALID);
	for (size_t off = 0; off < n; off += 4096) {
		assert_int_equal(pagemap_phys(p + off), ph + off);
		assert_int_equal(contig_phys_addr(p + off), ph + off);
	}
	assert_int_equal(contig_phys_addr(p + n - 1), ph + n - 1);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
}

static void test_many_small(void **state)
{
	static const size_t sizes[] = { 1, 100, 4096, 5000, 8192, 16384, 40000, 65536 };
	enum { N = 600 };
	uint8_t *p[N];
	size_t sz[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		sz[i] = sizes[i % 8];
		p[i] = contig_alloc(sz[i], CONTIG_MAX_ADDRESS);
		check_block(p[i], sz[i]);
		memset(p[i], (i % 250) + 1, sz[i]);
	}
	/* Disjoint, and each kept its own bytes. */
	for (int i = 0; i < N; i++) {
		assert_int_equal(p[i][0], (i % 250) + 1);
		assert_int_equal(p[i][sz[i] - 1], (i % 250) + 1);
		struct contig_region_info ri;
		assert_int_equal(contig_region_info(p[i] + sz[i] / 2, &ri), 0);
		assert_ptr_equal(ri.base, p[i]);
		assert_int_equal(ri.nbytes, sz[i]);
	}
	for (int i = 0; i < N; i++) {
		contig_free(p[i] + (sz[i] > 4096 ? 4096 : 1)); /* interior: ignored */
		assert_int_not_equal(contig_phys_addr(p[i]), CONTIG_PHYS_INVALID);
		contig_free(p[i]);
		assert_int_equal(contig_phys_addr(p[i]), CONTIG_PHYS_INVALID);
		contig_free(p[i]); /* double free: ignored */
	}
	/* Reused blocks come back zeroed. */
	for (int i = 0; i < 64; i++) {
		uint8_t *q = contig_alloc(65536, CONTIG_MAX_ADDRESS);
		check_block(q, 65536);
		memset(q, 0xcd, 65536);
		contig_free(q);
	}
	/* contig_query gives idle pages back first: the pool is whole. */
	assert_true(wait_pool_idle(5000));
}

static void test_not_exportable(void **state)
{
	struct contig_handle h;
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);

	(void)state;
	assert_non_null(p);
	errno = 0;
	assert_int_equal(contig_export(p, &h), -1);
	assert_int_equal(errno, ENOTSUP);
	/* A larger region is a daemon region as usual, and exports. */
	uint8_t *big = contig_alloc(65537, CONTIG_MAX_ADDRESS);
	assert_non_null(big);
	assert_int_equal(contig_export(big, &h), 0);
	contig_free(big);
	/* Constraints bypass the cache: served by the daemon, exportable. */
	uint8_t *c = contig_alloc(4096, 0xFFFFFFFFFFFFull);
	assert_non_null(c);
	assert_int_equal(contig_export(c, &h), 0);
	contig_free(c);
	contig_free(p);
	assert_true(wait_pool_idle(5000));
}

static void test_fork(void **state)
{
	uint8_t *p = contig_alloc(8192, CONTIG_MAX_ADDRESS);
	int status;

	(void)state;
	assert_non_null(p);
	p[0] = 42;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		if (contig_phys_addr(p) != CONTIG_PHYS_INVALID)
			bad |= 1;
		uint8_t *q = contig_alloc(8192, CONTIG_MAX_ADDRESS);
		if (!q || q[0] != 0 || contig_phys_addr(q) == CONTIG_PHYS_INVALID)
			bad |= 2;
		contig_free(q);
		contig_free(p); /* not ours: ignored */
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(p[0], 42);
	assert_int_not_equal(contig_phys_addr(p), CONTIG_PHYS_INVALID);
	contig_free(p);
	assert_true(wait_pool_idle(5000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_small),
		cmocka_unit_test(test_not_exportable),
		cmocka_unit_test(test_fork),
	};
	int failed = cmocka_run_group_tests_name("integration-small", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
