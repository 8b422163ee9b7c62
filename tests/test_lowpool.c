/* SPDX-License-Identifier: MIT */
/*
 * test_lowpool.c - --low-pool 16M@4G for real: the daemon digs through the
 * kernel's hugepage pool until it holds 16 MiB below 4 GiB (ZONE_DMA32 is
 * used last: ~20 GiB deep on this 24 GiB machine), gives the rest back, and
 * then serves 32-bit DMA requests from it while keeping it from requests
 * that can live anywhere.
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

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define MiB (1ull << 20)
#define PS  (2 * MiB)
#define G4  0xFFFFFFFFull

static struct daemon_proc d;
static uint64_t nr_before;
static int teardown_status;

static uint64_t nr_hugepages(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "re");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "32M", "--low-pool", "16M@4G", NULL };

	(void)state;
	nr_before = nr_hugepages();
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static void test_dig_gave_back(void **state)
{
	(void)state;
	/* The dig raised nr_hugepages by gigabytes; afterwards it is back
	 * to where it was, plus at most what the pools hold. */
	assert_true(nr_hugepages() <= nr_before + 16 + 8);
}

static void test_low_pages_held(void **state)
{
	struct raw_page *pg;
	int n = raw_pages(d.socket, &pg), low = 0;

	(void)state;
	assert_int_equal(n, 16 + 8);
	for (int i = 0; i < n; i++)
		low += pg[i].phys + PS - 1 <= G4;
	free(pg);
	assert_true(low >= 8);
}

static void test_32bit_requests(void **state)
{
	struct raw_page *pg;
	int n = raw_pages(d.socket, &pg), low = 0;
	uint8_t *p[24];

	(void)state;
	/* The dug pages, plus any of the normal pool's that happen to lie
	 * below 4 GiB (the kernel's free pool may keep some after a dig). */
	for (int i = 0; i < n; i++)
		low += pg[i].phys + PS - 1 <= G4;
	free(pg);
	assert_true(low >= 8 && low < n);
	/* A request that may live anywhere does not take low memory. */
	uint8_t *high = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(high);
	assert_true(contig_phys_addr(high) > G4);
	/* As many 2 MiB regions wholly below 4 GiB as there are low pages. */
	for (int i = 0; i < low; i++) {
		p[i] = contig_alloc(PS, G4);
		assert_non_null(p[i]);
		uint64_t ph = contig_phys_addr(p[i]);
		assert_true(ph + PS - 1 <= G4);
		assert_int_equal(pagemap_phys(p[i]), ph);
		assert_int_equal(pagemap_phys(p[i] + PS - 4096), ph + PS - 4096);
		for (size_t k = 0; k < PS; k += 4096)
			assert_int_equal(p[i][k], 0);
		memset(p[i], i, PS);
	}
	/* Then there is no more. */
	errno = 0;
	assert_null(contig_alloc(4096, G4));
	assert_int_equal(errno, ENOMEM);
	for (int i = 0; i < low; i++)
		contig_free(p[i]);
	contig_free(high);
	assert_true(wait_pool_idle(10000));
	/* Reclaimed pages may come back elsewhere, but a 32-bit request that
	 * fits is still served from what is below 4 GiB now. */
	uint8_t *again = contig_alloc(4096, G4);
	if (again) {
		assert_true(contig_phys_addr(again) + 4095 <= G4);
		contig_free(again);
	} else {
		assert_int_equal(errno, ENOMEM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dig_gave_back),
		cmocka_unit_test(test_low_pages_held),
		cmocka_unit_test(test_32bit_requests),
	};
	int failed = cmocka_run_group_tests_name("integration-lowpool", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
