/* SPDX-License-Identifier: MIT */
/*
 * test_carve.c - page granularity (issue 15): a request smaller than a
 * pool page is carved in the client from pool pages the process leases.
 * Against a real contigd on a 256 MiB pool of real 2 MiB hugepages, checked
 * from the client through its own /proc/self/pagemap (the tests run as
 * root, so pagemap shows real PFNs):
 *   - how many 4 KiB regions live at once (>= 65,000; CONTIG_CARVE=0 in a
 *     fresh process gives whole pages again, one per region), and the same
 *     on 1 GiB pages when this machine can give two of them;
 *   - every constraint on every byte: ceilings inside and just above a
 *     leased page's blocks, floors (in a leased page and in a free one),
 *     64 KiB boundaries with 48 KiB regions, strict and preferred nodes;
 *   - contiguity of every 4 KiB of a carved region, 4 KiB alignment,
 *     contig_phys_addr on interior bytes, contig_region_info's sizes;
 *   - zero on handout, blocks reused after a free that wrote a pattern;
 *   - export (ENOTSUP carved, CONTIG_SHAREABLE exports and imports);
 *   - interior and double frees, fork, contig_alloc_flags' arguments.
 * Memory coming back (leaks, exit, SIGKILL, threads) is test_carve_life.c,
 * in this binary. A carved region is told from a whole-page one by
 * contig_region_info's mapped_bytes (its size rounded to 4 KiB, not a pool
 * page): the tests assert it, so they fail when carving is off or broken.
 * CARVE_TEST_FILTER=pattern (cmocka's) runs some of them.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "carve_check.h"
#include "rawclient.h"

static int teardown_status;

/* ---- group setup */

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "256M", NULL };

	(void)state;
	unsetenv("CONTIG_CARVE");
	unsetenv("CONTIG_STASH");
	(void)pm_phys(&teardown_status); /* open it before any thread can race to */
	return daemon_start(&carve_daemon, args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&carve_daemon) == 0 ? 0 : 1;
	track_done();
	return teardown_status ? -1 : 0;
}

/* ---- exhaustion */

/* 65,536 blocks of 4 KiB in a 256 MiB pool: at least 65,000 live at once,
 * each zero, each its own physical block; the pool reports the leased
 * pages as used. (Whole pages per region would stop at 128.) */
static void test_exhaustion_4k(void **state)
{
	enum { CAP = 70000 };
	uint8_t **p = calloc(CAP, sizeof(*p));
	uint64_t *ph = calloc(CAP, sizeof(*ph));
	struct contig_pool_info info = { 0 };
	size_t n = 0;
	int err;

	(void)state;
	assert_non_null(p);
	assert_non_null(ph);
	errno = 0;
	while (n < CAP && (p[n] = track(contig_alloc(4096, CONTIG_MAX_ADDRESS)))) {
		uint64_t tag = n + 1;
		assert_int_equal((uintptr_t)p[n] % 4096, 0);
		check_zero(p[n], 4096);
		memcpy(p[n], &tag, 8);
		memcpy(p[n] + 4088, &tag, 8);
		n++;
	}
	err = errno;
	print_message("%zu regions of 4 KiB live at once from a %llu MiB pool of 2 MiB pages\n", n,
		      POOL / MiB);
	assert_int_equal(err, ENOMEM);
	if (n < 65000)
		fail_msg("only %zu regions of 4 KiB from a 256 MiB pool (65,000 wanted)", n);
	for (size_t i = 0; i < n; i++) {
		uint64_t a, b, tag = i + 1;
		struct contig_region_info ri = { 0 };
		memcpy(&a, p[i], 8);
		memcpy(&b, p[i] + 4088, 8);
		if (a != tag || b != tag)
			fail_msg("region %zu overwritten: regions overlap", i);
		ph[i] = contig_phys_addr(p[i]);
		assert_int_equal(pm_phys(p[i]), ph[i]);
		assert_int_equal(pm_phys(p[i] + 4095), ph[i] + 4095);
		assert_int_equal(contig_region_info(p[i], &ri), 0);
		assert_int_equal(ri.mapped_bytes, 4096);
	}
	qsort(ph, n, sizeof(*ph), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (ph[i] < ph[i - 1] + 4096)
			fail_msg("two live regions share physical block %#" PRIx64, ph[i]);
	/* Leased pages count as used, whole. */
	assert_int_equal(contig_query(&info), 0);
	assert_true(info.free_bytes + n * 4096 <= info.total_bytes);
	for (size_t i = 0; i < n; i++)
		contig_free(p[i]);
	untrack_all();
	free(p);
	free(ph);
	assert_true(wait_pool_idle(10000));
}

/* The escape hatch: CONTIG_CARVE=0 in a fresh process gives whole pool
 * pages per region again, so the same loop stops at the page count, and
 * each region is a whole, exportable page. */
static void test_carve_off(void **state)
{
	struct count_result r;

	(void)state;
	run_count(carve_daemon.socket, "0", 4096, 70000, &r);
	assert_int_equal(r.err, ENOMEM);
	assert_int_equal(r.bad, 0);
	assert_true(r.count >= POOL_PAGES - 4 && r.count <= POOL_PAGES);
	assert_int_equal(r.whole, r.count);
	assert_int_equal(r.export_ok, 4);
	/* And a fresh process with CONTIG_CARVE unset carves. */
	run_count(carve_daemon.socket, NULL, 65536, 70000, &r);
	assert_int_equal(r.err, ENOMEM);
	assert_int_equal(r.bad, 0);
	assert_true(r.count >= (long)(POOL / (64 * KiB)) * 95 / 100);
	assert_int_equal(r.carved, r.count);
	assert_int_equal(r.export_notsup, 4);
}

static const char *const hp1g = "/sys/kernel/mm/hugepages/hugepages-1048576kB";

static long read_hp(const char *name)
{
	char path[160];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", hp1g, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool write_hp(long nr)
{
	char path[160];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/nr_hugepages", hp1g);
	f = fopen(path, "w");
	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", nr) > 0;
	return fclose(f) == 0 && ok;
}

/* 524,288 blocks of 4 KiB in a 2 GiB pool of 1 GiB pages: at least
 * 500,000 live at once, when this machine can give two 1 GiB hugepages. */
static void test_exhaustion_1g(void **state)
{
	static const char *const args[] = { "--page-size", "1G", "--pool", "2G", "--no-raise",
					     NULL };
	struct daemon_proc big = { 0 };
	struct count_result r;
	long nr, nfree;

	(void)state;
	if (access(hp1g, F_OK) != 0) {
		print_message("skipped: this kernel offers no 1 GiB hugepages (%s missing)\n", hp1g);
		skip();
	}
	nr = read_hp("nr_hugepages");
	nfree = read_hp("free_hugepages");
	if (nr < 0 || nfree < 0) {
		print_message("skipped: cannot read %s\n", hp1g);
		skip();
	}
	if (nfree < 2 && (!write_hp(nr + 2 - nfree) || read_hp("free_hugepages") < 2)) {
		long got = read_hp("free_hugepages");
		write_hp(nr);
		print_message("skipped: the kernel gave %ld free 1 GiB hugepages, 2 needed\n", got);
		skip();
	}
	int started = daemon_start(&big, args);
	setenv("CONTIG_SOCKET", carve_daemon.socket, 1);
	if (started < 0) {
		write_hp(nr);
		fail_msg("contigd --page-size 1G --pool 2G did not start");
	}
	run_count(big.socket, NULL, 4096, 540000, &r);
	int stopped = daemon_stop(&big);
	write_hp(nr);
	assert_int_equal(stopped, 0);
	assert_int_equal(r.err, ENOMEM);
	assert_int_equal(r.bad, 0);
	if (r.count < 500000)
		fail_msg("only %ld regions of 4 KiB from a 2 GiB pool of 1 GiB pages", r.count);
	assert_int_equal(r.carved, r.count);
}

/* ---- constraints */

/* Ceilings: inside the lowest pool page only its first blocks qualify, and
 * exactly those are given; a ceiling just above a leased page's block is
 * met or refused, never broken; a ceiling inside the page of a region
 * leased without constraints is served from that page's free blocks. */
static void test_ceiling(void **state)
{
	uint64_t lo, hi;
	uint8_t *r0, *r1, *r;

	(void)state;
	pool_bounds(&lo, &hi);

	/* Only block 0 of the lowest page is at or below lo + 4095. */
	r0 = track(contig_alloc(4096, lo + 4095));
	check_zero(r0, 4096);
	assert_int_equal(check_carved(r0, 4096), lo);
	memset(r0, 0xa5, 4096);
	/* lo + 8191 + 2048: block 1 fits, block 2 does not. */
	r1 = track(contig_alloc(4096, lo + 8191 + 2048));
	check_zero(r1, 4096);
	assert_int_equal(check_carved(r1, 4096), lo + 4096);
	errno = 0;
	assert_null(track(contig_alloc(4096, lo + 8191 + 2048)));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(track(contig_alloc(8192, lo + 8191)));
	assert_int_equal(errno, ENOMEM);
	/* Block 0 again, after a free that wrote a pattern: zero. */
	contig_free(r0);
	r0 = track(contig_alloc(4096, lo + 4095));
	check_zero(r0, 4096);
	assert_int_equal(check_carved(r0, 4096), lo);
	/* Two blocks, the next two. */
	r = track(contig_alloc_specify_cache(8192, 0, lo + 16383, 0, CONTIG_CACHED));
	check_zero(r, 8192);
	assert_int_equal(check_carved(r, 8192), lo + 8192);

	/* A region leased anywhere; then ceilings inside its page. */
	uint8_t *a = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
	uint64_t pa = check_carved(a, 4096), pb = pa & ~(PS - 1);
	for (int i = 0; i < 8; i++) {
		uint64_t ceil = pb + 64 * KiB - 1;
		r = track(contig_alloc(4096, ceil));
		if (!r)
			fail_msg("ceiling %#" PRIx64 " with blocks free below it in a leased page: "
				 "errno %d",
				 ceil, errno);
		check_zero(r, 4096);
		check_carved(r, 4096);
		check_window(r, 4096, 0, ceil, 0);
	}
	/* Just above a's block: its next block ends past the ceiling. */
	for (int i = 0; i < 4; i++) {
		uint64_t ceil = pa + 4096 + 2047;
		errno = 0;
		r = track(contig_alloc(4096, ceil));
		if (r) {
			check_zero(r, 4096);
			check_carved(r, 4096);
			check_window(r, 4096, 0, ceil, 0);
		} else {
			assert_int_equal(errno, ENOMEM);
		}
		ceil = pa + 4096 + 4095 + 17; /* now the next block does fit */
		r = track(contig_alloc_specify_cache(4096, 0, ceil, 0, CONTIG_CACHED));
		if (r) {
			check_carved(r, 4096);
			check_window(r, 4096, 0, ceil, 0);
		}
	}
	/* A bigger one under a ceiling in the middle of the pool. */
	uint64_t mid = lo + (hi - lo) / 2;
	for (int i = 0; i < 16; i++) {
		size_t n = (size_t)(i + 1) * 20000;
		r = track(contig_alloc(n, mid));
		assert_non_null(r);
		check_zero(r, n);
		check_carved(r, n);
		check_window(r, n, 0, mid, 0);
	}
	/* Below the whole pool: nothing. */
	errno = 0;
	assert_null(track(contig_alloc(4096, lo + 4094)));
	assert_int_equal(errno, ENOMEM);
}

/* Floors inside a page of the highest one this process leases (a floor
 * at the page's start leases it): only its last block is at or above
 * hi + PS - 4096, and exactly it is given. */
static void test_floor(void **state)
{
	uint64_t lo, hi, top;
	uint8_t *r;

	(void)state;
	pool_bounds(&lo, &hi);
	top = hi + PS;

	r = track(contig_alloc_specify_cache(4096, hi, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED));
	check_zero(r, 4096);
	assert_int_equal(check_carved(r, 4096) & ~(PS - 1), hi);
	r = track(contig_alloc_specify_cache(4096, top - 4096, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED));
	check_zero(r, 4096);
	assert_int_equal(check_carved(r, 4096), top - 4096);
	memset(r, 0x5a, 4096);
	errno = 0;
	assert_null(track(contig_alloc_specify_cache(4096, top - 4095, CONTIG_MAX_ADDRESS, 0,
						    CONTIG_CACHED)));
	assert_int_equal(errno, ENOMEM);
	/* 64 KiB in the last 128 KiB, beside it. */
	r = track(contig_alloc_specify_cache(64 * KiB, top - 128 * KiB, CONTIG_MAX_ADDRESS, 0,
					     CONTIG_CACHED));
	check_zero(r, 64 * KiB);
	check_carved(r, 64 * KiB);
	check_window(r, 64 * KiB, top - 128 * KiB, top - 4096 - 1, 0);
	/* A floor and a ceiling inside one page, with a boundary. */
	for (int i = 0; i < 3; i++) {
		r = track(contig_alloc_specify_cache(48 * KiB, hi + 256 * KiB, hi + 512 * KiB - 1,
						     64 * KiB, CONTIG_CACHED));
		check_zero(r, 48 * KiB);
		check_carved(r, 48 * KiB);
		check_window(r, 48 * KiB, hi + 256 * KiB, hi + 512 * KiB - 1, 64 * KiB);
	}
	/* An unaligned floor in the page of a region leased anywhere. */
	uint8_t *a = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
	uint64_t pb = check_carved(a, 4096) & ~(PS - 1);
	for (int i = 0; i < 16; i++) {
		uint64_t floor = pb + 12 * KiB + 5;
		size_t n = 4096 * (size_t)(1 + i % 3);
		r = track(contig_alloc_specify_cache(n, floor, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED));
		assert_non_null(r);
		check_zero(r, n);
		check_carved(r, n);
		check_window(r, n, floor, UINT64_MAX, 0);
	}
	/* Above the whole pool: nothing. */
	errno = 0;
	assert_null(track(contig_alloc_specify_cache(4096, top, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED)));
	assert_int_equal(errno, ENOMEM);
}

/* A floor inside a pool page nobody leases: the upper half of the highest
 * page, and its last block, are in the pool and free, so they are given
 * (ENOMEM would say the pool cannot satisfy it). */
static void test_floor_unleased_page(void **state)
{
	uint64_t lo, hi, top;
	uint8_t *r;

	(void)state;
	pool_bounds(&lo, &hi);
	top = hi + PS;
	assert_int_equal(pages_not_free(), 0);
	r = track(contig_alloc_specify_cache(4096, hi + MiB, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED));
	if (!r)
		fail_msg("4 KiB at or above %#" PRIx64 " (upper half of the free pool page at %#" PRIx64
			 "): errno %d",
			 (uint64_t)(hi + MiB), hi, errno);
	check_zero(r, 4096);
	check_carved(r, 4096);
	check_window(r, 4096, hi + MiB, UINT64_MAX, 0);
	contig_free(r);
	assert_true(wait_pool_idle(10000));
	r = track(contig_alloc_specify_cache(4096, top - 4096, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED));
	if (!r)
		fail_msg("4 KiB at %#" PRIx64 " (last block of the free pool page at %#" PRIx64
			 "): errno %d",
			 top - 4096, hi, errno);
	assert_int_equal(check_carved(r, 4096), top - 4096);
}

/* 48 KiB regions that must not cross a 64 KiB boundary, many of them,
 * between 4 KiB ones that push the carving off any alignment. */
static void test_boundary(void **state)
{
	enum { N = 400 };
	static uint8_t *p[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		uint8_t *s = track(contig_alloc(4096 * (size_t)(1 + i % 3), CONTIG_MAX_ADDRESS));
		assert_non_null(s);
		p[i] = track(contig_alloc_specify_cache(48 * KiB, 0, CONTIG_MAX_ADDRESS, 64 * KiB,
							CONTIG_CACHED));
		if (!p[i])
			fail_msg("48 KiB region %d with a 64 KiB boundary: errno %d", i, errno);
		check_zero(p[i], 48 * KiB);
		check_carved(p[i], 48 * KiB);
		check_window(p[i], 48 * KiB, 0, UINT64_MAX, 64 * KiB);
		fill(p[i], 48 * KiB, (uint64_t)i);
	}
	for (int i = 0; i < N; i++)
		check_intact(p[i], 48 * KiB, (uint64_t)i);
	/* A region as large as its boundary is aligned to it. */
	for (int i = 0; i < 64; i++) {
		uint8_t *r = track(contig_alloc_specify_cache(64 * KiB, 0, CONTIG_MAX_ADDRESS, 64 * KiB,
							      CONTIG_CACHED));
		assert_non_null(r);
		check_zero(r, 64 * KiB);
		assert_int_equal(check_carved(r, 64 * KiB) % (64 * KiB), 0);
		r = track(contig_alloc_flags(12 * KiB, 0, CONTIG_MAX_ADDRESS, 16 * KiB, CONTIG_NODE_ANY,
					     0));
		assert_non_null(r);
		check_carved(r, 12 * KiB);
		check_window(r, 12 * KiB, 0, UINT64_MAX, 16 * KiB);
	}
	/* A boundary smaller than the size is a bad argument. */
	errno = 0;
	assert_null(track(contig_alloc_specify_cache(48 * KiB, 0, CONTIG_MAX_ADDRESS, 32 * KiB,
						    CONTIG_CACHED)));
	assert_int_equal(errno, EINVAL);
}

/* Node 0 (strict or preferred) is served carved and is on node 0 by the
 * kernel's own account; strict node 1 on this one-node machine is ENOMEM
 * although a leased page has free blocks; preferred node 1 falls back. */
static void test_node(void **state)
{
	struct contig_region_info ri = { 0 };
	uint8_t *r;

	(void)state;
	r = track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, 0, CONTIG_NODE_STRICT));
	assert_non_null(r);
	check_zero(r, 4096);
	check_carved(r, 4096);
	assert_int_equal(contig_region_info(r, &ri), 0);
	assert_int_equal(ri.node, 0);
	assert_int_equal(kernel_node_of(r), 0);
	r = track(contig_alloc_node_strict(8192, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 0));
	assert_non_null(r);
	check_carved(r, 8192);
	assert_int_equal(kernel_node_of(r), 0);
	for (int i = 0; i < 3; i++) {
		errno = 0;
		assert_null(track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, 1,
						     CONTIG_NODE_STRICT)));
		assert_int_equal(errno, ENOMEM);
		errno = 0;
		assert_null(track(contig_alloc_node_strict(4096, 0, CONTIG_MAX_ADDRESS, 0,
							   CONTIG_CACHED, 1)));
		assert_int_equal(errno, ENOMEM);
	}
	r = track(contig_alloc_node(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 1));
	assert_non_null(r);
	check_carved(r, 4096);
	assert_int_equal(contig_region_info(r, &ri), 0);
	assert_int_equal(ri.node, 0);
	r = track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, 1, 0));
	assert_non_null(r);
	check_carved(r, 4096);
	/* Strict with a window too. */
	uint64_t lo, hi;
	pool_bounds(&lo, &hi);
	r = track(contig_alloc_flags(16 * KiB, lo, hi + PS - 1, 16 * KiB, 0, CONTIG_NODE_STRICT));
	assert_non_null(r);
	check_carved(r, 16 * KiB);
	check_window(r, 16 * KiB, lo, hi + PS - 1, 16 * KiB);
	assert_int_equal(kernel_node_of(r), 0);
}

/* Every 4 KiB of a carved region of up to a page less 4 KiB is physically
 * contiguous; contig_phys_addr(base + k) is phys + k on interior bytes and
 * agrees with pagemap; sizes round up to 4 KiB; addresses are 4 KiB
 * aligned. */
static void test_contiguity(void **state)
{
	static const size_t sizes[] = { 2 * MiB - 4096, 2 * MiB - 4097, 1 * MiB + 1, 1 * MiB,
					1 * MiB - 1, 512 * KiB + 4096, 300 * KiB + 7,
					12345, 4097, 4096, 100, 1 };

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			uint8_t *p = track(contig_alloc(n, CONTIG_MAX_ADDRESS));
			assert_non_null(p);
			check_zero(p, n);
			uint64_t ph = check_carved(p, n);
			/* Every byte at a 4 KiB stride plus a drifting offset. */
			for (size_t k = 0; k < n; k += 4096) {
				size_t j = k + (k / 4096 * 97) % 4096;
				if (j >= n)
					j = n - 1;
				assert_int_equal(contig_phys_addr(p + j), ph + j);
				assert_int_equal(pm_phys(p + j), ph + j);
			}
			memset(p, 0xff, n);
		}
	}
	/* Two 1 MiB regions at once; then a whole page's worth of 1 MiB
	 * regions stays within what the pool has. */
	uint8_t *a = track(contig_alloc(MiB, CONTIG_MAX_ADDRESS));
	uint8_t *b = track(contig_alloc(MiB, CONTIG_MAX_ADDRESS));
	check_carved(a, MiB);
	check_carved(b, MiB);
	fill(a, MiB, 1);
	fill(b, MiB, 2);
	check_intact(a, MiB, 1);
	check_intact(b, MiB, 2);
	/* A whole page's worth is a region of whole pool pages. */
	struct contig_region_info ri = { 0 };
	uint8_t *w = track(contig_alloc(PS, CONTIG_MAX_ADDRESS));
	assert_non_null(w);
	assert_int_equal(contig_region_info(w, &ri), 0);
	assert_int_equal(ri.mapped_bytes, PS);
	assert_int_equal((uintptr_t)w & (PS - 1), 0);
}

/* ---- zeroing */

/* A block freed with a pattern in it reads zero when it is handed out
 * again, whatever size comes next; and blocks are indeed reused. */
static void test_zeroed_on_reuse(void **state)
{
	enum { ROUNDS = 2000, MANY = 512 };
	static uint64_t old[MANY];
	static uint8_t *p[MANY];
	uint64_t prev = 0;
	int reused = 0;

	(void)state;
	for (int i = 0; i < ROUNDS; i++) {
		uint8_t *q = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
		assert_non_null(q);
		check_zero(q, 4096);
		uint64_t ph = check_carved(q, 4096);
		reused += ph == prev;
		prev = ph;
		memset(q, 0xa5, 4096);
		contig_free(q);
	}
	print_message("4 KiB: %d of %d handouts reused the block just freed\n", reused, ROUNDS);
	assert_true(reused > 0);

	/* 64 KiB regions dirtied and freed, then 4 KiB ones over them. */
	int over = 0;
	for (int i = 0; i < 32; i++) {
		p[i] = track(contig_alloc(64 * KiB, CONTIG_MAX_ADDRESS));
		assert_non_null(p[i]);
		check_zero(p[i], 64 * KiB);
		old[i] = check_carved(p[i], 64 * KiB);
		memset(p[i], 0xa5, 64 * KiB);
	}
	for (int i = 0; i < 32; i++)
		contig_free(p[i]);
	for (int i = 0; i < MANY; i++) {
		p[i] = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
		assert_non_null(p[i]);
		check_zero(p[i], 4096);
		uint64_t ph = check_carved(p[i], 4096);
		for (int j = 0; j < 32; j++)
			over += ph >= old[j] && ph < old[j] + 64 * KiB;
		memset(p[i], 0xa5, 4096);
	}
	print_message("%d of %d 4 KiB regions reused blocks of freed 64 KiB regions\n", over, MANY);
	assert_true(over > 0);
	/* And the other way round: 4 KiB ones dirtied, freed, then larger. */
	for (int i = 0; i < MANY; i++)
		contig_free(p[i]);
	for (int i = 0; i < 64; i++) {
		size_t n = 4096 * (size_t)(1 + i % 16);
		uint8_t *q = track(contig_alloc(n, CONTIG_MAX_ADDRESS));
		assert_non_null(q);
		check_zero(q, n);
		check_carved(q, n);
	}
}

/* ---- sharing */

static void test_export(void **state)
{
	struct contig_handle h;
	struct contig_region_info ri = { 0 };

	(void)state;
	/* Carved regions cannot be exported, whichever call made them. */
	uint8_t *c1 = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
	uint8_t *c2 = track(contig_alloc(MiB, CONTIG_MAX_ADDRESS));
	uint8_t *c3 = track(contig_alloc_flags(8192, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY, 0));
	uint8_t *carved[] = { c1, c2, c3 };
	size_t csz[] = { 4096, MiB, 8192 };
	for (int i = 0; i < 3; i++) {
		check_carved(carved[i], csz[i]);
		errno = 0;
		assert_int_equal(contig_export(carved[i], &h), -1);
		assert_int_equal(errno, ENOTSUP);
	}
	memset(c1, 0x11, 4096);

	/* CONTIG_SHAREABLE: a whole page, its own, exportable. */
	uint8_t *s = track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY,
					      CONTIG_SHAREABLE));
	assert_non_null(s);
	assert_int_equal((uintptr_t)s % PS, 0);
	check_zero(s, PS);
	assert_int_equal(contig_region_info(s, &ri), 0);
	assert_int_equal(ri.mapped_bytes, PS);
	uint64_t sph = contig_phys_addr(s);
	assert_int_equal(pm_phys(s), sph);
	for (int i = 0; i < 3; i++)
		assert_int_not_equal(contig_phys_addr(carved[i]) & ~(PS - 1), sph & ~(PS - 1));
	fill(s, 4096, 77);
	assert_int_equal(contig_export(s, &h), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t *m = contig_import(&h, NULL);
		int bad = 0;
		if (!m)
			_exit(2);
		bad |= first_bad(m, 4096, 77) != 4096 ? 4 : 0;
		bad |= contig_phys_addr(m) != sph ? 8 : 0;
		bad |= pm_phys(m) != sph ? 16 : 0;
		m[100] = 0x99;
		contig_free(m);
		_exit(bad);
	}
	assert_int_equal(wait_child(pid), 0);
	assert_int_equal(s[100], 0x99);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(c1[i], 0x11); /* the carved neighbour saw nothing */

	/* SHAREABLE with a strict node and a window: also exportable. */
	uint64_t lo, hi;
	pool_bounds(&lo, &hi);
	uint8_t *t = track(contig_alloc_flags(16 * KiB, lo, hi + PS - 1, 0, 0,
					      CONTIG_SHAREABLE | CONTIG_NODE_STRICT));
	assert_non_null(t);
	assert_int_equal(contig_region_info(t, &ri), 0);
	assert_int_equal(ri.mapped_bytes, PS);
	assert_int_equal(contig_export(t, &h), 0);
	contig_free(t);
	errno = 0;
	assert_null(contig_import(&h, NULL)); /* gone with its only holder */
	assert_int_equal(errno, ENOENT);
}

/* ---- frees that are not frees */

static void test_interior_and_double_free(void **state)
{
	enum { N = 2048 };
	static uint8_t *q[N];
	static uint64_t ph[N];
	int on_stack = 0;

	(void)state;
	uint8_t *a = track(contig_alloc(16 * KiB, CONTIG_MAX_ADDRESS));
	uint8_t *b = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
	uint64_t pa = check_carved(a, 16 * KiB), pb = check_carved(b, 4096);
	fill(a, 16 * KiB, 1);
	fill(b, 4096, 2);

	contig_free(a + 4096);
	contig_free(a + 1);
	contig_free(a + 16 * KiB - 1);
	contig_free(&on_stack);
	/* a lives on, where it was, with its bytes. */
	assert_int_equal(contig_phys_addr(a), pa);
	assert_int_equal(check_carved(a, 16 * KiB), pa);
	check_intact(a, 16 * KiB, 1);

	contig_free(a);
	assert_int_equal(contig_phys_addr(a), CONTIG_PHYS_INVALID);
	struct contig_region_info ri;
	errno = 0;
	assert_int_equal(contig_region_info(a, &ri), -1);
	assert_int_equal(errno, ENOENT);
	contig_free(a);        /* double free */
	contig_free(a + 4096); /* interior of a freed region */
	contig_free(a);
	check_intact(b, 4096, 2);
	assert_int_equal(contig_phys_addr(b), pb);

	/* Had a's blocks gone back twice, two of these would share them. */
	for (int i = 0; i < N; i++) {
		q[i] = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
		assert_non_null(q[i]);
		check_zero(q[i], 4096);
		ph[i] = check_carved(q[i], 4096);
		assert_true(q[i] + 4096 <= b || q[i] >= b + 4096);
		fill(q[i], 4096, (uint64_t)i + 10);
	}
	for (int i = 0; i < N; i++)
		check_intact(q[i], 4096, (uint64_t)i + 10);
	check_intact(b, 4096, 2);
	qsort(ph, N, sizeof(*ph), cmp_u64);
	for (int i = 1; i < N; i++)
		if (ph[i] == ph[i - 1])
			fail_msg("two live regions at %#" PRIx64 " after a double free", ph[i]);
	/* Freeing them all twice, interleaved, leaves the pool whole
	 * (release_all checks it). */
	for (int i = 0; i < N; i++) {
		contig_free(q[i]);
		contig_free(q[i]);
		contig_free(q[(i * 7) % N] + 8);
	}
	contig_free(b);
	contig_free(b);
}

/* ---- fork */

static void test_fork(void **state)
{
	uint8_t *p = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
	uint8_t *q = track(contig_alloc(64 * KiB, CONTIG_MAX_ADDRESS));

	(void)state;
	uint64_t php = check_carved(p, 4096), qph = check_carved(q, 64 * KiB);
	memset(p, 0x42, 4096);
	fill(q, 64 * KiB, 3);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct contig_region_info ri;
		int bad = 0;
		if (contig_phys_addr(p) != CONTIG_PHYS_INVALID ||
		    contig_phys_addr(q + 100) != CONTIG_PHYS_INVALID)
			bad |= 1;
		if (contig_region_info(p, &ri) == 0)
			bad |= 2;
		contig_free(p); /* not the child's: no-ops */
		contig_free(q);
		for (int i = 0; i < 200; i++) {
			size_t n = 4096 * (size_t)(1 + i % 4);
			uint8_t *r = contig_alloc(n, CONTIG_MAX_ADDRESS);
			if (!r) {
				bad |= 4;
				break;
			}
			for (size_t k = 0; k < n; k++)
				if (r[k])
					bad |= 8;
			uint64_t ph;
			if (phys_problem(r, n, &ph) || !is_carved(r, n))
				bad |= 16;
			/* Never in a page the parent leases. */
			if ((ph & ~(PS - 1)) == (php & ~(PS - 1)) ||
			    (ph & ~(PS - 1)) == (qph & ~(PS - 1)))
				bad |= 32;
		}
		_exit(bad);
	}
	int bad = wait_child(pid);
	if (bad)
		fail_msg("fork child: failure bits %#x", bad);
	/* The parent's regions are untouched and still its own. */
	assert_int_equal(contig_phys_addr(p), php);
	assert_int_equal(pm_phys(p), php);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0x42);
	check_intact(q, 64 * KiB, 3);
	assert_int_equal(check_carved(q, 64 * KiB), qph);
	/* And it carves on. */
	for (int i = 0; i < 64; i++) {
		uint8_t *r = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
		assert_non_null(r);
		check_zero(r, 4096);
		check_carved(r, 4096);
	}
}

/* ---- arguments */

static void test_flags_einval(void **state)
{
	static const unsigned bad_flags[] = { 1u << 2, 1u << 31, ~0u,
					      CONTIG_SHAREABLE | (1u << 5) };
	struct contig_pool_info info = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		errno = 0;
		assert_null(track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, 0, bad_flags[i])));
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY,
					     CONTIG_NODE_STRICT)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY,
					     CONTIG_NODE_STRICT | CONTIG_SHAREABLE)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, 64, 0)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(track(contig_alloc_flags(0, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY, 0)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(track(contig_alloc_flags(4096, 8192, 4096, 0, CONTIG_NODE_ANY, 0)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 3 * 4096,
					     CONTIG_NODE_ANY, 0)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(track(contig_alloc_flags(8192, 0, CONTIG_MAX_ADDRESS, 4096, CONTIG_NODE_ANY,
					     0)));
	assert_int_equal(errno, EINVAL);
	/* Nothing was allocated by any of them. */
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(info.free_bytes, info.total_bytes);

	/* Success leaves errno as it was, carved or not. */
	errno = EBADF;
	uint8_t *p = track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY, 0));
	assert_non_null(p);
	assert_int_equal(errno, EBADF);
	check_carved(p, 4096);
	errno = EBADF;
	contig_free(p);
	assert_int_equal(errno, EBADF);
	errno = EBADF;
	p = track(contig_alloc_flags(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY,
				     CONTIG_SHAREABLE));
	assert_non_null(p);
	assert_int_equal(errno, EBADF);
}

#define T(f) cmocka_unit_test_teardown(f, release_all)

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--count"))
		return count_main(strtoull(argv[2], NULL, 0), strtol(argv[3], NULL, 0));

	const struct CMUnitTest tests[] = {
		T(test_exhaustion_4k),
		T(test_carve_off),
		T(test_exhaustion_1g),
		T(test_ceiling),
		T(test_floor),
		T(test_floor_unleased_page),
		T(test_boundary),
		T(test_node),
		T(test_contiguity),
		T(test_zeroed_on_reuse),
		T(test_random_free),
		T(test_exit_and_idle),
		T(test_sigkill),
		T(test_parked_pages_taken),
		T(test_export),
		T(test_interior_and_double_free),
		T(test_fork),
		T(test_threads_2),
		T(test_threads_8),
		T(test_flags_einval),
	};
	if (getenv("CARVE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CARVE_TEST_FILTER"));
	int failed = cmocka_run_group_tests_name("integration-carve", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
