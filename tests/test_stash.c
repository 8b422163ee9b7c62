/* SPDX-License-Identifier: MIT */
/*
 * test_stash.c - freed private regions kept by libcontig for reuse (the
 * stash, on by default): a reuse costs no round trip (the daemon's alloc
 * counter does not move) and reads zero, however much of the page earlier
 * regions were given; a freed region is invisible; the daemon takes
 * stashed regions back before it describes the pool and before it refuses
 * anyone memory, so another process gets all of it, zeroed; shared regions
 * are never stashed; nothing crosses fork; idle entries go back by the
 * daemon's idle scan, and entries it took leave no mapping behind; and a
 * client that scribbles over its table hurts only itself.
 *
 * The stash keeps whole-page regions only, so those tests run with
 * carving off (CONTIG_CARVE=0), where every region is one, whatever its
 * size. With carving on (the default) the stash serves the regions carving
 * does not (CONTIG_SHAREABLE ones, a pool page or more), and the carve layer
 * parks an emptied page in a slot of the same table: the carving group
 * checks that the two never trade pages, that the daemon takes both kinds
 * when another process needs memory or when this one asks about the pool,
 * and that neither outlives its session. CONTIG_CARVE is read once per
 * process, so each group runs in a process of its own.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define MIB (1024u * 1024u)
#define POOL_PAGES 16

static struct daemon_proc d;
static const char *const daemon_args[] = { "--pool", "32M", NULL };

static int setup(void **state)
{
	(void)state;
	/* The stash keeps whole-page regions: with carving off every region
	 * here is one, whatever its size (read at the first allocation). */
	setenv("CONTIG_CARVE", "0", 1);
	unsetenv("CONTIG_STASH");
	return daemon_start(&d, daemon_args);
}

static int teardown(void **state)
{
	(void)state;
	return daemon_stop(&d) == 0 ? 0 : -1;
}

static int64_t allocs(void)
{
	return raw_stat(d.socket, "allocs");
}

static int64_t stat_of(const char *name)
{
	return raw_stat(d.socket, name);
}

static void assert_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			fail_msg("byte %zu of %zu reads %#x, not zero", i, n, p[i]);
}

static void assert_phys(const uint8_t *p, size_t n)
{
	uint64_t ph = contig_phys_addr(p);

	assert_int_not_equal(ph, CONTIG_PHYS_INVALID);
	for (size_t off = 0; off < n; off += 4096)
		assert_int_equal(pagemap_phys(p + off), ph + off);
	assert_int_equal(contig_phys_addr(p + n - 1), ph + n - 1);
}

/* Leave nothing stashed for the next test: the daemon takes it all. */
static void settle(void)
{
	assert_true(wait_pool_idle(10000));
}

static void test_reuse_no_trip_zeroed(void **state)
{
	(void)state;
	uint8_t *p = contig_alloc(8192, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0xff, 8192);
	contig_free(p);
	int64_t before = allocs();

	/* Smaller: the same page, zeroed, and no request reached the daemon. */
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, p);
	assert_zero(q, 4096);
	assert_phys(q, 4096);
	memset(q, 0xee, 4096);
	contig_free(q);

	/* Larger than the last use, but the page once gave out 8 KiB: all of
	 * that must be zeroed again, not just the last region's 4 KiB. */
	q = contig_alloc(64 * 1024, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, p);
	assert_zero(q, 64 * 1024);
	assert_phys(q, 64 * 1024);
	struct contig_region_info ri;
	assert_int_equal(contig_region_info(q + 100, &ri), 0);
	assert_int_equal(ri.nbytes, 64 * 1024);
	memset(q, 0xdd, 64 * 1024);
	contig_free(q);

	/* The whole page. */
	q = contig_alloc(2 * MIB, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, p);
	assert_zero(q, 2 * MIB);
	contig_free(q);
	assert_int_equal(allocs(), before);
	settle();
}

/* A region of several pages is kept too, but serves only a request of as
 * many pages: a small one never sits on it. */
static void test_multi_page(void **state)
{
	(void)state;
	size_t big = 3 * 2 * MIB - 100;
	uint8_t *p = contig_alloc(big, CONTIG_MAX_ADDRESS);
	if (!p)
		skip(); /* no run of 3 pages in this pool: nothing to check */
	memset(p, 0xff, big);
	uint64_t ph = contig_phys_addr(p);
	contig_free(p);
	int64_t before = allocs();
	uint8_t *small = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(small);
	assert_false(small >= p && small < p + big);
	assert_int_equal(allocs(), before + 1);
	uint8_t *q = contig_alloc(2 * 2 * MIB + 1, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, p);
	assert_int_equal(contig_phys_addr(q), ph);
	assert_zero(q, 2 * 2 * MIB + 1);
	assert_phys(q, 2 * 2 * MIB + 1);
	assert_int_equal(allocs(), before + 1);
	contig_free(q);
	contig_free(small);
	settle();
}

static void test_freed_is_invisible(void **state)
{
	(void)state;
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	struct contig_region_info ri;
	struct contig_handle h;

	assert_non_null(p);
	contig_free(p);
	assert_int_equal(contig_phys_addr(p), CONTIG_PHYS_INVALID);
	assert_int_equal(contig_region_info(p, &ri), -1);
	errno = 0;
	assert_int_equal(contig_export(p, &h), -1);
	assert_int_equal(errno, ENOENT);
	contig_free(p); /* a double free is still a no-op */
	int64_t before = allocs();
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, p); /* it was stashed once, not twice */
	uint8_t *r = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(r);
	assert_ptr_not_equal(r, q);
	assert_int_equal(allocs(), before + 1);
	contig_free(q);
	contig_free(r);
	settle();
}

static void test_constraints(void **state)
{
	(void)state;
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	uint64_t ph = contig_phys_addr(p);
	contig_free(p);
	/* Requests that reached the daemon, served or not (the pool may
	 * have nothing below or above the stashed page). */
	int64_t before = allocs() + stat_of("fail_enomem");

	/* A ceiling below the stashed page: the daemon serves it. */
	uint8_t *q = contig_alloc_specify_cache(4096, 0, ph - 1, 0, CONTIG_CACHED);
	if (q) {
		assert_ptr_not_equal(q, p);
		assert_true(contig_phys_addr(q) + 4095 <= ph - 1);
		contig_free(q);
	}
	assert_int_equal(allocs() + stat_of("fail_enomem"), before + 1);
	/* A floor above it: not from the stash either. */
	q = contig_alloc_specify_cache(4096, ph + 2 * MIB, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED);
	if (q) {
		assert_true(contig_phys_addr(q) >= ph + 2 * MIB);
		contig_free(q);
	}
	assert_int_equal(allocs() + stat_of("fail_enomem"), before + 2);
	settle();
}

static void test_query_takes_it(void **state)
{
	(void)state;
	int64_t taken = stat_of("stash_taken");
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0xab, 4096);
	contig_free(p);

	/* The pool as it is: the stashed page is free memory. */
	assert_true(wait_pool_idle(10000));
	assert_true(stat_of("stash_taken") > taken);
	int64_t before = allocs();
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_zero(q, 4096);
	assert_phys(q, 4096);
	assert_int_equal(allocs(), before + 1);
	contig_free(q);
	settle();
}

static void count_row(const void *item, void *ctx)
{
	(void)item;
	(*(int *)ctx)++;
}

/* Inspection from another session costs the stash's owner nothing (a take
 * would force a round trip and a refault on it): the stashed region is
 * still listed right after the free, and the idle scan takes it back. Our
 * own QUERY takes our own stash (a client sees its frees). */
static void test_inspection_leaves_it(void **state)
{
	(void)state;
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	int64_t taken = stat_of("stash_taken");
	int rows = 0;

	assert_non_null(p);
	contig_free(p);
	/* Well inside the idle scan's second: nothing but a LIST could take it. */
	assert_true(raw_list(d.socket, PROTO_TABLE_REGIONS, count_row, &rows) >= 0);
	assert_int_equal(rows, 1);
	for (int i = 0; i < 100 && rows; i++) {
		usleep(50000);
		rows = 0;
		assert_true(raw_list(d.socket, PROTO_TABLE_REGIONS, count_row, &rows) >= 0);
	}
	assert_int_equal(rows, 0);
	assert_true(stat_of("stash_taken") > taken);

	p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	contig_free(p);
	taken = stat_of("stash_taken");
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(stat_of("stash_taken"), taken + 1);
	settle();
}

/* A stash full of this process's dirty pages must not keep a single byte of
 * the pool from another process, nor show it one of those bytes. */
static void test_other_process_gets_everything(void **state)
{
	uint8_t *p[POOL_PAGES];
	int status;

	(void)state;
	for (int i = 0; i < POOL_PAGES; i++) {
		p[i] = contig_alloc(4096 * (1 + i % 4), CONTIG_MAX_ADDRESS);
		assert_non_null(p[i]);
		memset(p[i], 0x5a, 4096 * (1 + i % 4));
	}
	for (int i = 0; i < POOL_PAGES; i++)
		contig_free(p[i]);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Every page of the pool (one by one: its runs are whatever
		 * the kernel gave), each all zero. */
		uint8_t *all[POOL_PAGES];
		for (int i = 0; i < POOL_PAGES; i++) {
			all[i] = contig_alloc(2 * MIB, CONTIG_MAX_ADDRESS);
			if (!all[i])
				_exit(2);
			for (size_t k = 0; k < 2 * MIB; k++)
				if (all[i][k])
					_exit(3);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(stat_of("stash_taken") >= POOL_PAGES);
	/* Our entries were taken: the next allocation is a fresh page. */
	int64_t before = allocs();
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_zero(q, 4096);
	assert_phys(q, 4096);
	assert_int_equal(allocs(), before + 1);
	contig_free(q);
	settle();
}

static void test_shared_never_stashed(void **state)
{
	(void)state;
	struct contig_handle h;
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(contig_export(p, &h), 0);
	contig_free(p);
	/* Gone from everyone: the handle is dead, and the next allocation
	 * goes to the daemon. */
	errno = 0;
	assert_null(contig_import(&h, NULL));
	assert_int_equal(errno, ENOENT);
	int64_t before = allocs();
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_int_equal(allocs(), before + 1);
	contig_free(q);
	settle();
}

/* The address of a region this process freed is free to it: importing a
 * region exactly there works although the freed one was stashed. */
static void test_fixed_import_over_freed(void **state)
{
	(void)state;
	uint8_t *shared = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	struct contig_handle h;
	assert_non_null(shared);
	memset(shared, 0x6b, 4096);
	assert_int_equal(contig_export(shared, &h), 0);
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	contig_free(p); /* stashed, still mapped here */
	uint8_t *q = contig_import(&h, p);
	assert_ptr_equal(q, p);
	assert_int_equal(q[0], 0x6b);
	assert_int_equal(contig_phys_addr(q), contig_phys_addr(shared));
	contig_free(q);
	contig_free(shared);
	settle();
}

static void test_fork_inherits_nothing(void **state)
{
	int status;

	(void)state;
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0x77, 4096);
	contig_free(p);
	int64_t before = allocs();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Not the parent's entry (q may well land at the same
		 * address: p is not mapped here), a page of its own. */
		uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
		if (!q)
			_exit(2);
		for (int i = 0; i < 4096; i++)
			if (q[i])
				_exit(3);
		_exit(0); /* its region goes back with its session */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(allocs(), before + 1);
	/* Ours is still ours. */
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, p);
	assert_zero(q, 4096);
	assert_int_equal(allocs(), before + 1);
	contig_free(q);
	settle();
}

static int page_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "contig-page") != NULL;
	fclose(f);
	return n;
}

/* Entries the daemon took leave nothing behind here: their mappings go
 * when the next allocation or keep finds them taken. */
static void test_taken_entries_unmapped(void **state)
{
	uint8_t *p[POOL_PAGES];

	(void)state;
	int base = page_mappings();
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < POOL_PAGES; i++) {
			p[i] = contig_alloc(4096, CONTIG_MAX_ADDRESS);
			assert_non_null(p[i]);
			assert_zero(p[i], 4096);
			memset(p[i], round + 1, 4096);
		}
		for (int i = 0; i < POOL_PAGES; i++)
			contig_free(p[i]);
		settle(); /* the daemon takes every entry */
	}
	assert_true(page_mappings() <= base + POOL_PAGES);
	/* And the last round's are unmapped by the next allocation: q is
	 * this process's only pool page now. */
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_int_equal(page_mappings(), 1);
	contig_free(q);
	settle();
}

/* A client that stashes and then never calls again: the daemon's once a
 * second scan takes an entry it sees twice, so the memory goes back. */
static void test_daemon_takes_idle(void **state)
{
	(void)state;
	int64_t taken = stat_of("stash_taken");
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	contig_free(p);
	for (int i = 0; i < 50 && stat_of("stash_taken") == taken; i++)
		usleep(100 * 1000);
	assert_int_equal(stat_of("stash_taken"), taken + 1);
	int64_t before = allocs();
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_zero(q, 4096);
	assert_int_equal(allocs(), before + 1);
	contig_free(q);
	settle();
}

struct phys_rows {
	uint64_t phys;
	int rows;
};

static void phys_row(const void *item, void *ctx)
{
	struct phys_rows *c = ctx;
	struct proto_region_item it;

	memcpy(&it, item, sizeof(it));
	c->rows += it.phys == c->phys;
}

/* Regions of this process the daemon lists at phys. */
static int listed_at(uint64_t phys)
{
	struct phys_rows c = { phys, 0 };

	assert_true(raw_list(d.socket, PROTO_TABLE_REGIONS, phys_row, &c) >= 0);
	return c.rows;
}

/* Stash two regions, then have the daemon die and come back (a new
 * daemon, a new pool) while the library has not said a word since. */
static void stash_then_restart(uint8_t **p)
{
	for (int i = 0; i < 2; i++) {
		p[i] = contig_alloc(4096, CONTIG_MAX_ADDRESS);
		assert_non_null(p[i]);
		memset(p[i], 0x42, 4096);
	}
	contig_free(p[0]);
	contig_free(p[1]);
	/* Stashed indeed: taking one back reaches nobody. */
	int64_t before = allocs();
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, p[1]);
	assert_int_equal(allocs(), before);
	contig_free(q);
	assert_int_equal(daemon_restart(&d, daemon_args), 0);
}

/* A stashed region does not outlive its session: after the daemon that
 * gave it is gone, an allocation is served by the new daemon (which knows
 * the region, at the physical address the client sees), never by an entry
 * of the old session, whose pages belong to no pool any more. */
static void test_restart_drops_stash(void **state)
{
	uint8_t *p[2];

	(void)state;
	stash_then_restart(p);
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_int_equal(allocs(), 1);
	assert_zero(q, 4096);
	assert_phys(q, 4096);
	assert_int_equal(listed_at(contig_phys_addr(q)), 1);
	contig_free(q);
	/* The new session stashes again. */
	int64_t before = allocs();
	uint8_t *r = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(r, q);
	assert_int_equal(allocs(), before);
	contig_free(r);
	settle();
}

/* When the library notices the session ended (here: a query on the dead
 * socket), every entry of it is unmapped then and there, none reused. */
static void test_session_end_unmaps_stash(void **state)
{
	struct contig_pool_info info = { 0 };
	uint8_t *p[2];

	(void)state;
	stash_then_restart(p);
	int base = page_mappings();
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(page_mappings(), base - 2);
	assert_int_equal(page_mappings(), 0);
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_int_equal(allocs(), 1);
	assert_phys(q, 4096);
	contig_free(q);
	settle();
}

static void test_stash_off(void **state)
{
	int status;

	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("CONTIG_STASH", "0", 1);
		int64_t before = allocs();
		for (int i = 0; i < 5; i++) {
			uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
			if (!q)
				_exit(2);
			contig_free(q);
		}
		_exit(allocs() == before + 5 ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	settle();
}

/* A raw client writes what it likes into its table: ids of nothing, the id
 * of another session's region, and one of its own. Only its own is taken;
 * the daemon survives, and it cannot resize the table under the daemon. */
static void test_hostile_table(void **state)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	size_t nfds = 0;
	struct proto_msg m;
	ssize_t n;

	(void)state;
	uint8_t *witness = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(witness);
	memset(witness, 0x3c, 4096);
	uint64_t witness_phys = contig_phys_addr(witness);
	struct contig_handle wh;
	assert_int_equal(contig_export(witness, &wh), 0);
	uint64_t witness_id;
	memcpy(&witness_id, wh.opaque, 8); /* the handle starts with the region id */

	int fd = raw_connect(d.socket, 1);
	assert_true(fd >= 0);
	struct proto_alloc a = { .nbytes = 4096, .highest = UINT64_MAX, .node = PROTO_NODE_ANY };
	size_t len = proto_encode(buf, PROTO_ALLOC, 2, &a, sizeof(a));
	n = raw_call(fd, buf, len, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, 1, &m), 0);
	assert_int_equal(m.hdr.type, PROTO_REGION);
	uint64_t own_id = m.body.region.region_id;

	struct proto_stash st = { 0 };
	len = proto_encode(buf, PROTO_STASH, 3, &st, sizeof(st));
	assert_int_equal(proto_send(fd, buf, len, NULL, 0), 0);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	n = proto_recv(fd, buf, sizeof(buf), fds, PROTO_MAX_FDS, &nfds);
	assert_true(n > 0);
	assert_int_equal(nfds, 1);
	assert_int_equal(proto_decode(buf, (size_t)n, nfds, &m), 0);
	assert_int_equal(m.hdr.type, PROTO_STASH_TABLE);
	uint64_t *slots = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	assert_true(slots != MAP_FAILED);
	/* Sealed: the daemon's mapping cannot be cut short under it. */
	assert_int_equal(ftruncate(fds[0], 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fds[0], 1 << 20), -1);

	int64_t bogus = stat_of("stash_bogus"), taken = stat_of("stash_taken");
	for (uint32_t i = 0; i < PROTO_STASH_SLOTS; i++)
		slots[i] = (0x9e3779b97f4a7c15ull * (i + 1)) & ~PROTO_STASH_TAKEN;
	slots[5] = witness_id;
	slots[6] = own_id;
	slots[7] = own_id; /* twice: taken once, then it names nothing */
	/* A forged mark of a take, naming the witness's region: not a take,
	 * nothing to free, left as it is. */
	slots[8] = witness_id | PROTO_STASH_TAKEN;
	/* The session's own QUERY takes its own stash. */
	struct proto_query qy = { .node = PROTO_NODE_ANY };
	len = proto_encode(buf, PROTO_QUERY, 9, &qy, sizeof(qy));
	n = raw_call(fd, buf, len, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, 0, &m), 0);
	assert_int_equal(m.hdr.type, PROTO_POOL_INFO);
	assert_int_equal(stat_of("stash_taken"), taken + 1);
	assert_int_equal(stat_of("stash_bogus"), bogus + PROTO_STASH_SLOTS - 2);
	/* The reply left after the takes were recorded: every slot the
	 * daemon took is empty again. */
	for (uint32_t i = 0; i < PROTO_STASH_SLOTS; i++)
		assert_int_equal(slots[i], i == 8 ? (witness_id | PROTO_STASH_TAKEN) : 0);

	/* The raw session lives on (a lie is not a violation) and its
	 * region is gone; the witness kept its page and its bytes. */
	struct proto_free f = { .region_id = own_id };
	len = proto_encode(buf, PROTO_FREE, 4, &f, sizeof(f));
	n = raw_call(fd, buf, len, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, 0, &m), 0);
	assert_int_equal(m.hdr.type, PROTO_STATUS);
	assert_int_equal(m.body.status.error, ENOENT);
	assert_int_equal(contig_phys_addr(witness), witness_phys);
	assert_int_equal(pagemap_phys(witness), witness_phys);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(witness[i], 0x3c);
	munmap(slots, PROTO_STASH_BYTES);
	close(fds[0]);
	close(fd);
	contig_free(witness);
	settle();
}

/* ---- carving on (the default): the stash beside the carve layer ---- */

#define PS (2 * MIB)

static int setup_carving(void **state)
{
	(void)state;
	unsetenv("CONTIG_CARVE");
	unsetenv("CONTIG_STASH");
	return daemon_start(&d, daemon_args);
}

/* A whole-page region of any size, as CONTIG_SHAREABLE gives with carving
 * on: the kind the stash keeps. */
static uint8_t *whole(size_t n)
{
	return contig_alloc_flags(n, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY, CONTIG_SHAREABLE);
}

/* p is a live region of n bytes carved from a pool page (its mapping is n
 * rounded up to 4 KiB), or one of whole pool pages. */
static void assert_region(const uint8_t *p, size_t n, bool carved)
{
	struct contig_region_info ri;

	assert_int_equal(contig_region_info(p, &ri), 0);
	assert_ptr_equal(ri.base, p);
	assert_int_equal(ri.nbytes, n);
	assert_int_equal(ri.page_size, PS);
	assert_int_equal(ri.mapped_bytes, carved ? (n + 4095) / 4096 * 4096 : (n + PS - 1) / PS * PS);
}

/* The physical address of the pool page holding p. */
static uint64_t page_phys(const uint8_t *p)
{
	return contig_phys_addr(p) & ~(uint64_t)(PS - 1);
}

/* The stash serves exactly the regions carving does not, and the two never
 * trade pages: a small request is carved although a stash entry would hold
 * it; the entry serves the next whole-page request (a page, or
 * CONTIG_SHAREABLE) with no round trip, zeroed as far as it was ever
 * written; an emptied carved page is parked for carving, not stashed: a
 * whole-page request does not get it, and the next small request is carved
 * from it again, zeroed, with no round trip. */
static void test_carving_passes_stash_by(void **state)
{
	struct contig_handle h;

	(void)state;
	uint8_t *w = whole(8192);
	assert_non_null(w);
	assert_region(w, 8192, false);
	memset(w, 0xff, 8192);
	contig_free(w); /* stashed */
	int64_t before = allocs();

	/* Carved from a page leased for it (one request), not the entry. */
	uint8_t *c = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(c);
	assert_region(c, 4096, true);
	assert_false(c >= w && c < w + PS);
	assert_zero(c, 4096);
	assert_phys(c, 4096);
	assert_int_equal(allocs(), before + 1);
	uint64_t c_page = page_phys(c);
	memset(c, 0xee, 4096);

	/* A page is not carved: the entry. */
	size_t big = PS;
	uint8_t *q = contig_alloc(big, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(q, w);
	assert_region(q, big, false);
	assert_zero(q, big);
	assert_phys(q, big);
	memset(q, 0xdd, big);
	contig_free(q);
	/* CONTIG_SHAREABLE: the entry again, and exportable. */
	q = whole(4096);
	assert_ptr_equal(q, w);
	assert_zero(q, 4096);
	assert_int_equal(allocs(), before + 1);
	assert_int_equal(contig_export(q, &h), 0);
	contig_free(q); /* shared: freed for real, the stash is empty */

	/* c's page, emptied, stays this process's for carving: a whole page
	 * comes from the daemon, and is another page. */
	contig_free(c);
	assert_int_equal(contig_phys_addr(c), CONTIG_PHYS_INVALID);
	q = whole(4096);
	assert_non_null(q);
	assert_int_equal(allocs(), before + 2);
	assert_int_not_equal(contig_phys_addr(q), c_page);
	/* The next small request: carved from it again, zeroed, no trip. */
	uint8_t *c2 = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(c2);
	assert_int_equal(page_phys(c2), c_page);
	assert_region(c2, 4096, true);
	assert_zero(c2, 4096);
	assert_phys(c2, 4096);
	assert_int_equal(allocs(), before + 2);
	contig_free(c2);
	contig_free(q);
	settle();
}

/* Stash entries and a parked page of this process, all dirty, sit in the
 * one table: another process still gets every page of the pool, zeroed
 * (the daemon takes both kinds), and this process then neither reuses an
 * entry nor carves from a page it no longer holds. */
static void test_carving_other_process_gets_everything(void **state)
{
	enum { NW = 4, NC = 600 }; /* 600 carved regions of 4 KiB: two pages */
	uint8_t *w[NW], *c[NC];
	int status;

	(void)state;
	int64_t taken = stat_of("stash_taken");
	for (int i = 0; i < NW; i++) {
		size_t n = i % 2 ? 4096 * (size_t)(i + 1) : PS;
		w[i] = i % 2 ? whole(n) : contig_alloc(n, CONTIG_MAX_ADDRESS);
		assert_non_null(w[i]);
		assert_region(w[i], n, false);
		memset(w[i], 0x5a, n);
	}
	for (int i = 0; i < NC; i++) {
		c[i] = contig_alloc(4096, CONTIG_MAX_ADDRESS);
		assert_non_null(c[i]);
		assert_region(c[i], 4096, true);
		memset(c[i], 0xa5, 4096);
	}
	/* One page emptied last is parked; the first goes back at once. */
	for (int i = 0; i < NC; i++)
		contig_free(c[i]);
	for (int i = 0; i < NW; i++)
		contig_free(w[i]);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t *all[POOL_PAGES];
		for (int i = 0; i < POOL_PAGES; i++) {
			all[i] = contig_alloc(PS, CONTIG_MAX_ADDRESS);
			if (!all[i])
				_exit(2);
			for (size_t k = 0; k < PS; k++)
				if (all[i][k])
					_exit(3);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The entries and the parked page. */
	assert_true(stat_of("stash_taken") >= taken + NW + 1);
	/* A fresh lease for a small region, a fresh page for a whole one. */
	int64_t before = allocs();
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_region(q, 4096, true);
	assert_zero(q, 4096);
	assert_phys(q, 4096);
	assert_int_equal(allocs(), before + 1);
	uint8_t *r = whole(4096);
	assert_non_null(r);
	assert_zero(r, 4096);
	assert_phys(r, 4096);
	assert_int_equal(allocs(), before + 2);
	contig_free(q);
	contig_free(r);
	settle();
}

/* This process's contig_query describes the pool as it is, its own frees
 * included: the parked page goes back before the question and the stash
 * entry is taken by it, so neither is listed once it is answered (their
 * pages then show free when reclaim has zeroed them). */
static void test_carving_query_sees_frees(void **state)
{
	struct contig_pool_info info = { 0 };
	int rows = 0;

	(void)state;
	uint8_t *c = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	uint8_t *w = whole(4096);
	assert_non_null(c);
	assert_non_null(w);
	assert_region(c, 4096, true);
	contig_free(c);
	contig_free(w);
	assert_true(raw_list(d.socket, PROTO_TABLE_REGIONS, count_row, &rows) >= 0);
	assert_int_equal(rows, 2);
	int64_t taken = stat_of("stash_taken");
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(stat_of("stash_taken"), taken + 1);
	rows = 0;
	assert_true(raw_list(d.socket, PROTO_TABLE_REGIONS, count_row, &rows) >= 0);
	assert_int_equal(rows, 0);
	settle();
}

/* A parked page and a stash entry of a session that ended (the daemon was
 * killed and came back, and the library has not heard of it yet) are never
 * handed out again: the new daemon serves both allocations, and knows the
 * pages the client sees. */
static void test_carving_restart_drops_parked(void **state)
{
	(void)state;
	uint8_t *c = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	uint8_t *w = whole(4096);
	assert_non_null(c);
	assert_non_null(w);
	assert_region(c, 4096, true);
	uint64_t c_page = page_phys(c);
	memset(c, 0x42, 4096);
	memset(w, 0x42, 4096);
	contig_free(c); /* parked */
	contig_free(w); /* stashed */
	assert_int_equal(daemon_restart(&d, daemon_args), 0);

	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_region(q, 4096, true);
	if (page_phys(q) == c_page)
		fail_msg("carved at %p from the page parked in the killed daemon's session "
			 "(%" PRId64 " allocations reached the new one)", (void *)q, allocs());
	assert_int_equal(allocs(), 1);
	assert_zero(q, 4096);
	assert_phys(q, 4096);
	assert_int_equal(listed_at(page_phys(q)), 1);
	uint8_t *r = whole(4096);
	assert_non_null(r);
	assert_int_equal(allocs(), 2);
	assert_zero(r, 4096);
	assert_phys(r, 4096);
	assert_int_equal(listed_at(contig_phys_addr(r)), 1);
	contig_free(q);
	contig_free(r);
	settle();
}

/* When the library notices the session ended (a query on the dead socket),
 * the parked page and the stash entry are unmapped then and there. */
static void test_carving_session_end_unmaps(void **state)
{
	struct contig_pool_info info = { 0 };

	(void)state;
	uint8_t *c = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	uint8_t *w = whole(4096);
	assert_non_null(c);
	assert_non_null(w);
	contig_free(c);
	contig_free(w);
	/* Both still mapped here (and maybe entries the daemon took earlier,
	 * which the next reuse or keep would unmap). */
	assert_true(page_mappings() >= 2);
	assert_int_equal(daemon_restart(&d, daemon_args), 0);
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(page_mappings(), 0);
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(q);
	assert_int_equal(allocs(), 1);
	assert_phys(q, 4096);
	contig_free(q);
	settle();
}

int main(void)
{
	const struct CMUnitTest whole_pages[] = {
		cmocka_unit_test(test_reuse_no_trip_zeroed),
		cmocka_unit_test(test_multi_page),
		cmocka_unit_test(test_freed_is_invisible),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_query_takes_it),
		cmocka_unit_test(test_inspection_leaves_it),
		cmocka_unit_test(test_other_process_gets_everything),
		cmocka_unit_test(test_shared_never_stashed),
		cmocka_unit_test(test_fixed_import_over_freed),
		cmocka_unit_test(test_fork_inherits_nothing),
		cmocka_unit_test(test_taken_entries_unmapped),
		cmocka_unit_test(test_daemon_takes_idle),
		cmocka_unit_test(test_restart_drops_stash),
		cmocka_unit_test(test_session_end_unmaps_stash),
		cmocka_unit_test(test_stash_off),
		cmocka_unit_test(test_hostile_table),
	};
	const struct CMUnitTest carving[] = {
		cmocka_unit_test(test_carving_passes_stash_by),
		cmocka_unit_test(test_carving_other_process_gets_everything),
		cmocka_unit_test(test_carving_query_sees_frees),
		cmocka_unit_test(test_carving_session_end_unmaps),
		cmocka_unit_test(test_carving_restart_drops_parked),
	};
	int status, failed;

	if (getenv("CONTIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CONTIG_TEST_FILTER"));
	/* CONTIG_CARVE is read once per process: the whole-page group in a
	 * child of its own (libcontig untouched here until it is done). */
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		failed = cmocka_run_group_tests_name("stash-whole-pages", whole_pages, setup, teardown);
		fflush(NULL);
		_exit(failed > 100 ? 100 : failed);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 1;
	failed = WEXITSTATUS(status);
	return failed + cmocka_run_group_tests_name("stash-carving", carving, setup_carving, teardown);
}
