/* SPDX-License-Identifier: MIT */
/*
 * test_trusted.c - zero-in-place = yes (trusted hosts): freed pages are
 * zeroed in place with non-temporal stores instead of being revoked and
 * refaulted, so they come back at the same physical addresses and every
 * allocation still reads as zero.
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
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define PS (2ull << 20)

static struct daemon_proc d;
static char conf[64];
static int teardown_status;

static int setup(void **state)
{
	static const char *args[] = { "--pool", "32M", "--config", conf, NULL };
	FILE *f;

	(void)state;
	snprintf(conf, sizeof(conf), "/tmp/contig-trusted-%d.conf", (int)getpid());
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fputs("zero-in-place = yes\nquarantine = 0\n", f);
	fclose(f);
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf);
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static void test_zeroed_in_place(void **state)
{
	struct raw_page *before, *after;
	int n = raw_pages(d.socket, &before);
	uint8_t *p[16];

	(void)state;
	assert_int_equal(n, 16);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 16; i++) {
			p[i] = contig_alloc(PS, CONTIG_MAX_ADDRESS);
			assert_non_null(p[i]);
			for (size_t k = 0; k < PS; k += 64)
				assert_int_equal(*(uint64_t *)(void *)(p[i] + k), 0);
			memset(p[i], 0xee, PS);
		}
		for (int i = 0; i < 16; i++)
			contig_free(p[i]);
		assert_true(wait_pool_idle(5000));
	}
	/* Same frames as at start: nothing was given back to the kernel. */
	assert_int_equal(raw_pages(d.socket, &after), 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(after[i].phys, before[i].phys);
	free(before);
	free(after);
	assert_int_equal(raw_stat(d.socket, "zeroed_in_place"), 48);
	assert_int_equal(raw_stat(d.socket, "phys_changed"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zeroed_in_place),
	};
	int failed = cmocka_run_group_tests_name("integration-trusted", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
