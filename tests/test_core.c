/* SPDX-License-Identifier: MIT */
/*
 * test_core.c - the core contract against a real contigd with real
 * hugepages, verified from the client through its own /proc/self/pagemap
 * (the tests run as root, so pagemap shows real PFNs).
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define MiB (1ull << 20)
#define PS  (2 * MiB)

static struct daemon_proc d;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "64M", NULL };

	(void)state;
	return daemon_start(&d, args);
}

static int teardown_status;

static int teardown(void **state)
{
	(void)state;
	/* cmocka reports a failed group teardown but does not count it. */
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zero[4096];

	for (size_t off = 0; off < n; off += 4096) {
		size_t k = n - off < 4096 ? n - off : 4096;
		if (memcmp(p + off, zero, k))
			return false;
	}
	return true;
}

/* Every 4 KiB page of [p, p+n) is mapped, zero, physically contiguous, and
 * contig_phys_addr agrees with pagemap at every page. */
static void check_region(const uint8_t *p, size_t n)
{
	uint64_t base;

	if (!p)
		fail_msg("no region of %zu bytes: %s", n, strerror(errno));
	assert_int_equal((uintptr_t)p % 4096, 0);
	assert_true(all_zero(p, n));
	base = pagemap_phys(p);
	assert_int_not_equal(base, UINT64_MAX);
	assert_int_equal(contig_phys_addr(p), base);
	for (size_t off = 0; off < n; off += 4096) {
		uint64_t pm = pagemap_phys(p + off);
		assert_int_equal(pm, base + off);
		assert_int_equal(contig_phys_addr(p + off + 17 % (n - off)), pm + 17 % (n - off));
	}
	assert_int_equal(contig_phys_addr(p + n - 1), base + n - 1);
}

static void test_contiguity(void **state)
{
	static const size_t sizes[] = { 4096, 64 << 10, PS, 3 * PS + 4096, 6 * PS };
	struct contig_pool_info info = { 0 };

	(void)state;
	assert_int_equal(contig_query(&info), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Which hugepages the kernel gave the pool decides how long its
		 * runs are; sizes beyond the largest run are tested below. */
		if (sizes[i] > info.largest_free_run)
			continue;
		uint8_t *p = contig_alloc(sizes[i], CONTIG_MAX_ADDRESS);
		check_region(p, sizes[i]);
		assert_int_equal((uintptr_t)p % PS, 0);
		contig_free(p);
	}
	/* The largest run the daemon reports is what a client can take. */
	assert_true(wait_pool_idle(5000));
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(info.page_size, PS);
	assert_int_equal(info.total_bytes, 64 * MiB);
	assert_true(info.largest_free_run >= PS);
	uint8_t *big = contig_alloc(info.largest_free_run, CONTIG_MAX_ADDRESS);
	check_region(big, info.largest_free_run);
	contig_free(big);
}

static void test_query_agrees(void **state)
{
	struct contig_pool_info a = { 0 }, b = { 0 };
	uint8_t *p, *q;

	(void)state;
	assert_true(wait_pool_idle(5000));
	assert_int_equal(contig_query(&a), 0);
	assert_int_equal(a.free_bytes, a.total_bytes);
	p = contig_alloc(a.largest_free_run, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(contig_query(&b), 0);
	assert_int_equal(b.free_bytes, a.free_bytes - a.largest_free_run);
	/* More than the largest run that is left cannot be had. */
	errno = 0;
	q = contig_alloc(b.largest_free_run + PS, CONTIG_MAX_ADDRESS);
	assert_null(q);
	assert_int_equal(errno, ENOMEM);
	if (b.largest_free_run) {
		q = contig_alloc(b.largest_free_run, CONTIG_MAX_ADDRESS);
		check_region(q, b.largest_free_run);
		contig_free(q);
	}
	contig_free(p);
}

/* Free pages of the pool right now, in physical order. */
static int free_pages(uint64_t *out, int max)
{
	struct raw_page *pg;
	int n = raw_pages(d.socket, &pg), k = 0;

	assert_true(n > 0);
	for (int i = 0; i < n && k < max; i++)
		if (pg[i].state == 0)
			out[k++] = pg[i].phys;
	free(pg);
	return k;
}

static void test_ceiling_floor(void **state)
{
	uint64_t fp[64];
	uint8_t *p;
	int n;

	(void)state;
	assert_true(wait_pool_idle(5000));
	n = free_pages(fp, 64);
	assert_int_equal(n, 32);
	uint64_t lo = fp[0], hi = fp[n - 1];

	/* Ceiling: only the lowest page lies wholly below lo + PS - 1. */
	p = contig_alloc(PS, lo + PS - 1);
	check_region(p, PS);
	assert_int_equal(contig_phys_addr(p), lo);
	/* It is taken now, and one byte less fits nowhere. */
	errno = 0;
	assert_null(contig_alloc(PS, lo + PS - 1));
	assert_int_equal(errno, ENOMEM);
	contig_free(p);
	errno = 0;
	assert_null(contig_alloc(PS, lo + PS - 2));
	assert_int_equal(errno, ENOMEM);

	/* A small region: its bytes, not its page, must be below the ceiling. */
	assert_true(wait_pool_idle(5000));
	n = free_pages(fp, 64);
	lo = fp[0];
	p = contig_alloc(4096, lo + 4095);
	check_region(p, 4096);
	assert_int_equal(contig_phys_addr(p), lo);
	contig_free(p);

	/* Floor: only the highest page starts at or above hi. */
	p = contig_alloc_specify_cache(PS, hi, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED);
	check_region(p, PS);
	assert_int_equal(contig_phys_addr(p), hi);
	contig_free(p);
	errno = 0;
	assert_null(contig_alloc_specify_cache(PS, hi + 1, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED));
	assert_int_equal(errno, ENOMEM);

	/* A window holding exactly one page. */
	assert_true(wait_pool_idle(5000));
	n = free_pages(fp, 64);
	uint64_t mid = fp[n / 2];
	p = contig_alloc_specify_cache(PS, mid, mid + PS - 1, 0, CONTIG_CACHED);
	check_region(p, PS);
	assert_int_equal(contig_phys_addr(p), mid);
	contig_free(p);
	/* A window smaller than the size is ENOMEM, not EINVAL. */
	errno = 0;
	assert_null(contig_alloc_specify_cache(2 * PS, mid, mid + PS - 1, 0, CONTIG_CACHED));
	assert_int_equal(errno, ENOMEM);
	/* No pool page lies below 1 MiB: an impossible ceiling. */
	errno = 0;
	assert_null(contig_alloc(4096, 0xFFFFF));
	assert_int_equal(errno, ENOMEM);
}

/* Are two adjacent free pages there whose first sz bytes cross no multiple
 * of window? What a region of sz bytes (past one page, at most two) with
 * that boundary needs. Read once the pool is idle. */
static bool free_pair_within(uint64_t window, uint64_t sz)
{
	uint64_t fp[64];
	int n;

	assert_true(wait_pool_idle(5000));
	n = free_pages(fp, 64);
	for (int i = 0; i + 1 < n; i++)
		if (fp[i + 1] == fp[i] + PS && fp[i] / window == (fp[i] + sz - 1) / window)
			return true;
	return false;
}

/* One region of sz bytes that crosses no multiple of boundary: the
 * region's check, or ENOMEM, which is right only while no two adjacent free
 * pages fit inside one window (the idle repair may bring a pair at any
 * time: a failure with a pair there is tried again, up to three times).
 * Returns whether it was allocated. */
static bool alloc_within(size_t sz, uint64_t boundary)
{
	for (int tries = 0; tries < 3; tries++) {
		uint8_t *p = contig_alloc_specify_cache(sz, 0, CONTIG_MAX_ADDRESS, boundary,
							CONTIG_CACHED);
		if (p) {
			uint64_t ph = contig_phys_addr(p);
			assert_int_equal(ph / boundary, (ph + sz - 1) / boundary);
			check_region(p, sz);
			contig_free(p);
			return true;
		}
		assert_int_equal(errno, ENOMEM);
		if (!free_pair_within(boundary, sz))
			return false;
	}
	fail_msg("ENOMEM three times while two adjacent free pages lay within one %llu-byte "
		 "window", (unsigned long long)boundary);
	return false;
}

static void test_boundary(void **state)
{
	(void)state;
	/* The boundary as large as the size: only a pair starting on a 4 MiB
	 * multiple will do; without one, ENOMEM is the answer. */
	(void)alloc_within(4 * MiB, 4 * MiB);
	/* A boundary larger than the size, crossing avoided: without a pair
	 * inside an 8 MiB window the host's free hugepages were too scattered
	 * for the check, and that is said. */
	for (int k = 0; k < 8; k++) {
		if (!alloc_within(PS + 4096, 8 * MiB)) {
			fprintf(stderr, "no two adjacent free pages within an 8 MiB window "
				"(the host's free hugepages were scattered); skipped\n");
			skip();
		}
	}
}

static void test_einval(void **state)
{
	(void)state;
#define EXPECT_ERR(call, e)                \
	do {                               \
		errno = 0;                 \
		assert_null(call);         \
		assert_int_equal(errno, e); \
	} while (0)
	EXPECT_ERR(contig_alloc(0, CONTIG_MAX_ADDRESS), EINVAL);
	EXPECT_ERR(contig_alloc_specify_cache(4096, 2 * MiB, MiB, 0, CONTIG_CACHED), EINVAL);
	EXPECT_ERR(contig_alloc_specify_cache(4096, 0, CONTIG_MAX_ADDRESS, 3 * 4096, CONTIG_CACHED),
		   EINVAL);
	EXPECT_ERR(contig_alloc_specify_cache(4 * MiB, 0, CONTIG_MAX_ADDRESS, 2 * MiB, CONTIG_CACHED),
		   EINVAL);
	EXPECT_ERR(contig_alloc_specify_cache(4096, 0, CONTIG_MAX_ADDRESS, 0, (enum contig_cache)3),
		   EINVAL);
	EXPECT_ERR(contig_alloc_specify_cache(4096, 0, CONTIG_MAX_ADDRESS, 0, (enum contig_cache)-1),
		   EINVAL);
	EXPECT_ERR(contig_alloc_node(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, -2), EINVAL);
	EXPECT_ERR(contig_alloc_node(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 1 << 20), EINVAL);
	EXPECT_ERR(contig_alloc_specify_cache(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NON_CACHED),
		   ENOTSUP);
	EXPECT_ERR(contig_alloc_specify_cache(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_WRITE_COMBINED),
		   ENOTSUP);
	EXPECT_ERR(contig_alloc(65 * MiB, CONTIG_MAX_ADDRESS), ENOMEM);
	EXPECT_ERR(contig_alloc((size_t)-1, CONTIG_MAX_ADDRESS), ENOMEM);
	/* Nothing was allocated by any of them. */
	assert_true(wait_pool_idle(5000));
	/* Boundary equal to the size is fine. */
	void *p = contig_alloc_specify_cache(PS, 0, CONTIG_MAX_ADDRESS, PS, CONTIG_CACHED);
	assert_non_null(p);
	contig_free(p);
	/* errno is preserved on success. */
	errno = 1234;
	p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(errno, 1234);
	contig_free(p);
	assert_int_equal(errno, 1234);
}

static void test_free_misuse(void **state)
{
	int on_stack;
	uint8_t *p;

	(void)state;
	contig_free(NULL);
	contig_free(&on_stack);
	p = contig_alloc(2 * PS, CONTIG_MAX_ADDRESS);
	if (!p && pool_lacks_run(2 * PS))
		skip();
	assert_non_null(p);
	uint64_t ph = contig_phys_addr(p);
	contig_free(p + 4096);   /* interior: ignored */
	contig_free(p + PS);
	assert_int_equal(contig_phys_addr(p), ph);
	p[0] = 1;                /* still mapped */
	contig_free(p);
	contig_free(p);          /* double free: ignored */
	assert_int_equal(contig_phys_addr(p), CONTIG_PHYS_INVALID);
	assert_int_equal(contig_phys_addr(&on_stack), CONTIG_PHYS_INVALID);
	assert_true(wait_pool_idle(5000));
}

static void test_zero_after_reuse(void **state)
{
	(void)state;
	for (int round = 0; round < 4; round++) {
		assert_true(wait_pool_idle(5000));
		uint8_t *p = contig_alloc(64 * MiB, CONTIG_MAX_ADDRESS);
		if (!p) /* not one run: take it page by page */
			p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
		assert_non_null(p);
		struct contig_region_info ri;
		assert_int_equal(contig_region_info(p, &ri), 0);
		assert_true(all_zero(p, ri.nbytes));
		memset(p, 0xa5, ri.nbytes);
		contig_free(p);
	}
}

/* A client SIGKILLed while holding most of the pool gives all of it back. */
static void test_kill_reclaim(void **state)
{
	int pfd[2];
	pid_t pid;
	char c;

	(void)state;
	assert_true(wait_pool_idle(5000));
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int got = 0;
		for (int i = 0; i < 24; i++) {
			uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
			if (p) {
				memset(p, 0x5a, PS);
				got++;
			}
		}
		c = (char)got;
		(void)!write(pfd[1], &c, 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, 24);
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(info.free_bytes, info.total_bytes - 24 * PS);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	close(pfd[1]);
	/* A dead client's pages sit in quarantine (default 1 s) before they
	 * are revoked: a device may still be writing into them. */
	int quarantined = 0;
	for (int t = 0; t < 200 && quarantined < 24; t++) {
		struct raw_page *pg;
		int n = raw_pages(d.socket, &pg);
		quarantined = 0;
		for (int i = 0; i < n; i++)
			quarantined += pg[i].state == PROTO_PAGE_QUARANTINED;
		free(pg);
		if (quarantined < 24)
			usleep(2000);
	}
	assert_int_equal(quarantined, 24);
	assert_true(wait_pool_idle(10000));
	/* And what comes back is zero. */
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	check_region(p, PS);
	contig_free(p);
}

/* A client that kept its page's file (through /proc/self/map_files) after
 * free reads zeros, never the next owner's data. */
static void test_kept_mapping(void **state)
{
	char path[128];
	uint8_t *p, *buf = malloc(PS);
	int fd;

	(void)state;
	assert_true(wait_pool_idle(5000));
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0x11, PS);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p,
		 (unsigned long)(p + PS));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 4096, 0), 4096);
	assert_int_equal(buf[0], 0x11);
	contig_free(p);
	/* The next owners fill the whole pool with their pattern. */
	uint8_t *all[32];
	int n = 0;
	assert_true(wait_pool_idle(5000));
	while (n < 32 && (all[n] = contig_alloc(PS, CONTIG_MAX_ADDRESS)))
		memset(all[n++], 0x22, PS);
	assert_int_equal(n, 32);
	/* Reading through the kept file sees a hole: zeros. */
	assert_int_equal(pread(fd, buf, PS, 0), (ssize_t)PS);
	assert_true(all_zero(buf, PS));
	/* Mapping it again shows zeros too, never 0x22 or 0x11. */
	uint8_t *m = mmap(NULL, PS, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		assert_true(all_zero(m, PS));
		munmap(m, PS);
	}
	close(fd);
	for (int i = 0; i < n; i++)
		contig_free(all[i]);
	free(buf);
	assert_true(wait_pool_idle(5000));
}

/*
 * Frees of private regions go out without waiting for the answer. The daemon
 * handles a session's requests in order, so a full pool freed this way is
 * whole again for the very next allocations (which wait for the reclaim,
 * never fail), and answers that pile up are read before the next reply.
 */
static void test_free_unanswered(void **state)
{
	uint8_t *all[32];
	int n = 0;

	(void)state;
	assert_true(wait_pool_idle(5000));
	for (int round = 0; round < 3; round++) {
		n = 0;
		while (n < 32 && (all[n] = contig_alloc(4096 + (size_t)round, CONTIG_MAX_ADDRESS))) {
			assert_true(all_zero(all[n], 4096));
			memset(all[n], 0x33, 4096);
			n++;
		}
		assert_int_equal(n, 32); /* one page each: the whole 64 MiB pool */
		for (int i = 0; i < n; i++)
			contig_free(all[i]);
	}
	/* The last round's 32 answers are still owed: a query reads past them. */
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(info.total_bytes, 64 * MiB);
	/* Whole pages this time, then the whole pool at once right after. */
	for (n = 0; n < 32; n++)
		assert_non_null(all[n] = contig_alloc(PS, CONTIG_MAX_ADDRESS));
	for (int i = 0; i < n; i++)
		contig_free(all[i]);
	uint8_t *p = contig_alloc(32 * PS, CONTIG_MAX_ADDRESS);
	if (!p) {
		/* Pages came back from reclaim at other addresses: no single
		 * run of 64 MiB, but every page is there. */
		assert_int_equal(errno, ENOMEM);
		assert_true(wait_pool_idle(5000));
	} else {
		check_region(p, 32 * PS);
		contig_free(p);
	}
	assert_true(wait_pool_idle(5000));
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

#define HP_DIR "/sys/kernel/mm/hugepages/hugepages-2048kB/"

static bool log_has(const char *path, const char *text)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return strstr(buf, text) != NULL;
}

/*
 * Once ready, a daemon looks at spare free hugepages for longer runs
 * (oversample = 1: up to the pool's size again), swaps free pool pages for
 * them where that makes runs longer, and gives the rest back. Which frames
 * the kernel hands out is not ours to choose, so whether it swaps is not
 * asserted (the fuzzer's fake backing covers the swaps); that it looked,
 * left the pool whole and consistent, served what it says from pagemap's
 * point of view and kept no candidate is.
 */
static void test_repair_real(void **state)
{
	static const char *const args[] = { "--pool", "16M", NULL };
	struct daemon_proc d2 = { 0 }, d3 = { 0 };
	struct raw_page *pg = NULL;
	int64_t looked = 0;
	int n;

	(void)state;
	/* Spare free hugepages to look at: 8 for the pool, 8 candidates, slack. */
	long nr = read_long(HP_DIR "nr_hugepages"), fr = read_long(HP_DIR "free_hugepages");
	if (fr < 32) {
		FILE *f = fopen(HP_DIR "nr_hugepages", "w");
		assert_non_null(f);
		fprintf(f, "%ld", nr + 32 - fr);
		fclose(f);
	}
	assert_int_equal(daemon_start(&d2, args), 0);
	setenv("CONTIG_SOCKET", d.socket, 1); /* this process stays with d */
	for (int t = 0; t < 1000 && looked < 8; t++) {
		looked = raw_stat(d2.socket, "repair_looked");
		if (looked < 8)
			usleep(10000);
	}
	assert_int_equal(looked, 8);
	assert_true(log_has(d2.log, "repair: looked at 8 spare hugepages"));
	/* The pool is whole: 8 free pages at distinct aligned addresses. */
	n = raw_pages(d2.socket, &pg);
	assert_int_equal(n, 8);
	uint32_t run = 1, longest = 1;
	for (int k = 0; k < n; k++) {
		assert_int_equal(pg[k].state, 0); /* FREE */
		assert_int_equal(pg[k].phys % PS, 0);
		if (k) {
			assert_true(pg[k].phys > pg[k - 1].phys);
			run = pg[k].phys == pg[k - 1].phys + PS ? run + 1 : 1;
		}
		if (run > longest)
			longest = run;
	}
	/* The longest run it reports is contiguous for a client, by pagemap. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("CONTIG_SOCKET", d2.socket, 1);
		uint8_t *p = contig_alloc(longest * PS, CONTIG_MAX_ADDRESS);
		if (!p)
			_exit(2);
		for (size_t off = 0; off < longest * PS; off += 4096)
			if (pagemap_phys(p + off) != pagemap_phys(p) + off || p[off])
				_exit(3);
		if (pagemap_phys(p) != pg[0].phys && pagemap_phys(p) < pg[0].phys)
			_exit(4);
		contig_free(p);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* No candidate kept: as many fds as a daemon that never looked, plus
	 * the repair's eventfd. */
	char conf[128];
	snprintf(conf, sizeof(conf), "%s/no-repair.conf", d2.dir);
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs("oversample = 0\n", f);
	fclose(f);
	const char *const args3[] = { "--pool", "16M", "--config", conf, NULL };
	assert_int_equal(daemon_start(&d3, args3), 0);
	setenv("CONTIG_SOCKET", d.socket, 1);
	assert_int_equal(raw_stat(d3.socket, "repair_looked"), 0);
	/* A daemon closes a finished session's fd when it reads the EOF. */
	int n2 = -1, n3 = -1;
	for (int t = 0; t < 200 && n2 != n3 + 1; t++) {
		usleep(10000);
		n2 = daemon_fd_count(&d2);
		n3 = daemon_fd_count(&d3);
	}
	assert_int_equal(n2, n3 + 1);
	free(pg);
	assert_int_equal(daemon_stop(&d3), 0);
	assert_int_equal(daemon_stop(&d2), 0);
}

/* The number after "-> " in the first log line holding text, or -1. */
static long log_runs_after(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	char line[512];
	long v = -1;

	assert_non_null(f);
	while (v < 0 && fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, text), *arrow = at ? strstr(at, "-> ") : NULL;
		if (arrow)
			v = strtol(arrow + 3, NULL, 10);
	}
	fclose(f);
	return v;
}

static int pool_runs(const char *sock)
{
	struct raw_page *pg = NULL;
	int n = raw_pages(sock, &pg), runs = 0;

	for (int k = 0; k < n; k++)
		runs += !k || pg[k].phys != pg[k - 1].phys + PS;
	free(pg);
	return runs;
}

/*
 * Runs erode under churn (a refault lands wherever the kernel likes, the
 * more so while another process takes hugepages); once the daemon has been
 * idle for repair-idle seconds it runs another round. The erosion itself
 * cannot be forced: a run where the pool kept its runs skips.
 */
static void test_repair_when_idle(void **state)
{
	static const char *const conf_text = "repair-idle = 1\nquarantine = 0\n";
	struct daemon_proc d4 = { 0 };
	char conf[128];

	(void)state;
	long nr = read_long(HP_DIR "nr_hugepages"), fr = read_long(HP_DIR "free_hugepages");
	if (fr < 64) {
		FILE *f = fopen(HP_DIR "nr_hugepages", "w");
		assert_non_null(f);
		fprintf(f, "%ld", nr + 64 - fr);
		fclose(f);
	}
	snprintf(conf, sizeof(conf), "/tmp/contig-test-idle-%d.conf", (int)getpid());
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs(conf_text, f);
	fclose(f);
	const char *const args[] = { "--pool", "16M", "--config", conf, NULL };
	assert_int_equal(daemon_start(&d4, args), 0);
	setenv("CONTIG_SOCKET", d.socket, 1); /* this process stays with d */
	assert_true(daemon_wait_log(&d4, "repair: looked at", 20000));
	long after = log_runs_after(d4.log, "repair: looked at");
	assert_true(after >= 1);

	/* Churn: a client takes and frees the whole pool, one page at a time
	 * and without its stash, while a thief faults hugepages in between. */
	pid_t thief = fork();
	assert_true(thief >= 0);
	if (thief == 0) {
		for (int i = 0; i < 4000; i++) {
			void *h = mmap(NULL, PS, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
			if (h != MAP_FAILED) {
				*(volatile char *)h = 1;
				if (i % 3)
					munmap(h, PS); /* every third one is kept */
			}
		}
		_exit(0);
	}
	pid_t churn = fork();
	assert_true(churn >= 0);
	if (churn == 0) {
		setenv("CONTIG_SOCKET", d4.socket, 1);
		setenv("CONTIG_STASH", "0", 1);
		for (int round = 0; round < 40; round++) {
			void *p[8];
			int n = 0;
			while (n < 8 && (p[n] = contig_alloc(PS, CONTIG_MAX_ADDRESS)))
				n++;
			while (n)
				contig_free(p[--n]);
		}
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(churn, &st, 0), churn);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(waitpid(thief, &st, 0), thief);
	/* Reclaim done: all 8 pages free again. */
	for (int t = 0; t < 500; t++) {
		struct raw_page *pg = NULL;
		int n = raw_pages(d4.socket, &pg), nfree = 0;
		for (int k = 0; k < n; k++)
			nfree += pg[k].state == 0;
		free(pg);
		if (nfree == 8)
			break;
		usleep(10000);
	}
	int eroded = pool_runs(d4.socket);
	if (eroded <= after) {
		assert_int_equal(daemon_stop(&d4), 0);
		unlink(conf);
		skip(); /* the churn left the runs as they were: nothing to mend */
	}
	/* Idle now (no request for 1 s): another round, which looks again. */
	assert_true(daemon_wait_log(&d4, "repair: idle for", 10000));
	for (int t = 0; t < 1000 && raw_stat(d4.socket, "repair_looked") <= 8; t++)
		usleep(10000);
	assert_true(raw_stat(d4.socket, "repair_looked") > 8);
	/* The pool is whole and consistent after it: 8 free, distinct pages. */
	struct raw_page *pg = NULL;
	int n = raw_pages(d4.socket, &pg);
	assert_int_equal(n, 8);
	for (int k = 0; k < n; k++) {
		assert_int_equal(pg[k].state, 0);
		assert_true(!k || pg[k].phys > pg[k - 1].phys);
	}
	free(pg);
	assert_int_equal(daemon_stop(&d4), 0);
	unlink(conf);
}

struct thread_arg {
	int id;
	int failures;
	int one_page;        /* requests of at most one pool page */
	int one_page_refused; /* of those, refused (ENOMEM) even after a query */
	int done;            /* requests served */
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t lo, hi;
	int owner;
} live[64];

static void *thread_main(void *arg)
{
	struct thread_arg *ta = arg;
	unsigned seed = (unsigned)ta->id * 7919u;

	for (int i = 0; i < 60; i++) {
		size_t sz = (size_t)(rand_r(&seed) % (3 * PS)) + 1;
		uint8_t *p = contig_alloc(sz, CONTIG_MAX_ADDRESS);
		if (!p && errno == ENOMEM && sz <= PS) {
			/* The free pages may all sit in this process's stash
			 * (the daemon takes stashes for want of memory at most
			 * ten times a second): a query takes ours back. */
			struct contig_pool_info info = { 0 };
			if (contig_query(&info) < 0)
				ta->failures++;
			p = contig_alloc(sz, CONTIG_MAX_ADDRESS);
		}
		ta->one_page += sz <= PS;
		if (!p) {
			/* ENOMEM: two or three pages need a physically
			 * contiguous run, which the pool's layout may not
			 * have; one page only if pages were lost (below). */
			if (errno != ENOMEM)
				ta->failures++;
			ta->one_page_refused += sz <= PS;
			continue;
		}
		ta->done++;
		uint64_t ph = contig_phys_addr(p);
		pthread_mutex_lock(&live_lock);
		for (int k = 0; k < 64; k++)
			if (live[k].owner && ph <= live[k].hi && live[k].lo <= ph + sz - 1)
				ta->failures++; /* overlap with a live region */
		live[ta->id].lo = ph;
		live[ta->id].hi = ph + sz - 1;
		live[ta->id].owner = ta->id + 1;
		pthread_mutex_unlock(&live_lock);
		if (!all_zero(p, sz))
			ta->failures++;
		memset(p, ta->id + 1, sz);
		sched_yield();
		for (size_t k = 0; k < sz; k += 4096)
			if (p[k] != ta->id + 1)
				ta->failures++;
		pthread_mutex_lock(&live_lock);
		live[ta->id].owner = 0;
		pthread_mutex_unlock(&live_lock);
		contig_free(p);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[8];
	struct thread_arg a[8];

	(void)state;
	assert_true(wait_pool_idle(5000));
	int64_t lost = raw_stat(d.socket, "lost");
	assert_true(lost >= 0);
	for (int i = 0; i < 8; i++) {
		a[i] = (struct thread_arg){ .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &a[i]), 0);
	}
	/* All joined before any assert: a failed one leaves this frame. */
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	/* A page the kernel did not give back to a reclaim (another process
	 * took the hugepage meanwhile) leaves the pool short until a retry. */
	int64_t lost_after = raw_stat(d.socket, "lost");
	assert_true(lost_after >= 0);
	lost = lost_after - lost;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(a[i].failures, 0);
		/* The eight threads hold at most 24 of the 32 pages at once
		 * (one region of up to three pages each), so a page is always
		 * free, on its way back or in our stash: every request of one
		 * page is served, and those are the concurrent allocations
		 * checked here at the least. */
		assert_true(a[i].one_page > 0);
		if (a[i].one_page_refused && !lost)
			fail_msg("thread %d: %d of its %d one-page requests refused, no page lost",
				 i, a[i].one_page_refused, a[i].one_page);
		assert_true(a[i].done >= a[i].one_page - a[i].one_page_refused);
	}
	assert_true(wait_pool_idle(10000));
}

static void test_fork(void **state)
{
	uint8_t *p;
	pid_t pid;
	int status;

	(void)state;
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0x77, PS);
	uint64_t ph = contig_phys_addr(p);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char vec[1];
		int bad = 0;
		/* Not inherited: not mapped, unknown to the library. */
		if (mincore(p, 4096, vec) == 0 || errno != ENOMEM)
			bad |= 1;
		if (contig_phys_addr(p) != CONTIG_PHYS_INVALID)
			bad |= 2;
		/* A session of its own works. */
		uint8_t *q = contig_alloc(PS, CONTIG_MAX_ADDRESS);
		if (!q || q[0] != 0 || contig_phys_addr(q) == ph)
			bad |= 4;
		contig_free(q);
		contig_free(p); /* not ours: ignored, and must not free the parent's */
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent's region is untouched. */
	assert_int_equal(contig_phys_addr(p), ph);
	assert_int_equal(pagemap_phys(p), ph);
	for (size_t k = 0; k < PS; k += 4096)
		assert_int_equal(p[k], 0x77);
	contig_free(p);
	assert_true(wait_pool_idle(5000));
}

/* Garbage on raw connections closes those, and only those. */
static void test_garbage(void **state)
{
	uint8_t buf[PROTO_MAX_MSG], rep[PROTO_MAX_MSG];
	struct proto_hello h = { .version = PROTO_VERSION };
	int before, fd;
	uint8_t *held;

	(void)state;
	held = contig_alloc(PS, CONTIG_MAX_ADDRESS); /* a session that must survive */
	assert_non_null(held);
	before = daemon_fd_count(&d);

	/* Random bytes. */
	fd = raw_connect(d.socket, 0);
	memset(buf, 0xab, 100);
	assert_true(raw_call(fd, buf, 100, rep, sizeof(rep)) <= 0);
	close(fd);
	/* Zero-length datagram. */
	fd = raw_connect(d.socket, 0);
	assert_int_equal(send(fd, buf, 0, 0), 0);
	close(fd);
	/* Truncated header, then a header whose length lies. */
	fd = raw_connect(d.socket, 0);
	size_t n = proto_encode(buf, PROTO_HELLO, 1, &h, sizeof(h));
	assert_true(raw_call(fd, buf, 10, rep, sizeof(rep)) <= 0);
	close(fd);
	fd = raw_connect(d.socket, 0);
	((struct proto_hdr *)(void *)buf)->length = 4096;
	assert_true(raw_call(fd, buf, n, rep, sizeof(rep)) <= 0);
	close(fd);
	/* Wrong version: a STATUS saying so, then the connection closes. */
	fd = raw_connect(d.socket, 0);
	n = proto_encode(buf, PROTO_HELLO, 1, &h, sizeof(h));
	((struct proto_hdr *)(void *)buf)->version = 99;
	ssize_t got = raw_call(fd, buf, n, rep, sizeof(rep));
	assert_true(got > 0);
	assert_int_equal(((struct proto_status *)(void *)(rep + sizeof(struct proto_hdr)))->error,
			 EPROTONOSUPPORT);
	assert_int_equal(raw_call(fd, NULL, 0, rep, sizeof(rep)), 0);
	close(fd);
	/* fds attached to a HELLO: the kernel refuses them (the daemon turned
	 * SO_PASSRIGHTS off), or, on a kernel without it, the daemon closes
	 * them and drops the connection. */
	fd = raw_connect(d.socket, 0);
	int extra[3] = { open("/dev/null", O_RDONLY), open("/dev/null", O_RDONLY),
			 open("/dev/null", O_RDONLY) };
	n = proto_encode(buf, PROTO_HELLO, 1, &h, sizeof(h));
	int sent = proto_send(fd, buf, n, extra, 3);
	assert_true(sent == -EPERM || sent == 0);
	if (sent == 0)
		assert_true(raw_call(fd, NULL, 0, rep, sizeof(rep)) <= 0);
	close(fd);
	proto_close_fds(extra, 3);
	/* A request before HELLO, and an oversized datagram. */
	fd = raw_connect(d.socket, 0);
	struct proto_free f = { .region_id = 1 };
	n = proto_encode(buf, PROTO_FREE, 1, &f, sizeof(f));
	assert_true(raw_call(fd, buf, n, rep, sizeof(rep)) <= 0);
	close(fd);
	fd = raw_connect(d.socket, 1);
	static uint8_t big[PROTO_MAX_MSG + 100];
	assert_true(raw_call(fd, big, sizeof(big), rep, sizeof(rep)) <= 0);
	close(fd);
	/* Freeing a region of another session: refused, nothing changes. */
	fd = raw_connect(d.socket, 1);
	struct contig_region_info ri;
	(void)ri;
	for (uint64_t id = 0; id < 64; id++) {
		f.region_id = (1ull << 32) | id;
		n = proto_encode(buf, PROTO_FREE, 2, &f, sizeof(f));
		got = raw_call(fd, buf, n, rep, sizeof(rep));
		assert_true(got > 0);
		assert_int_equal(((struct proto_status *)(void *)(rep + sizeof(struct proto_hdr)))->error,
				 ENOENT);
	}
	close(fd);

	/* Everyone else is still served, and no fd leaked in the daemon. */
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	check_region(p, PS);
	contig_free(p);
	held[0] = 1;
	assert_int_equal(held[0], 1);
	contig_free(held);
	assert_true(wait_pool_idle(5000));
	for (int i = 0; i < 100 && daemon_fd_count(&d) > before; i++)
		usleep(10000);
	assert_true(daemon_fd_count(&d) <= before);
}

/* The daemon goes away: live regions stay valid, calls fail clearly, and
 * the library reconnects when it is back. Last, as it restarts contigd. */
static void test_daemon_gone(void **state)
{
	static const char *const args[] = { "--pool", "64M", NULL };
	uint8_t *p;

	(void)state;
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0x3c, PS);
	uint64_t ph = contig_phys_addr(p);
	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	errno = 0;
	assert_null(contig_alloc(PS, CONTIG_MAX_ADDRESS));
	assert_true(errno == ECONNREFUSED || errno == ENOENT || errno == ECONNRESET);
	assert_int_equal(p[PS - 1], 0x3c);
	assert_int_equal(pagemap_phys(p), ph);
	assert_int_equal(contig_phys_addr(p), ph);

	/* A new daemon on the same socket: the old region's page is still
	 * ours (the kernel will not hand it to the new pool). */
	assert_int_equal(daemon_restart(&d, args), 0);
	/* The new daemon's pool holds none of the frames the old region maps. */
	struct raw_page *pg;
	int n = raw_pages(d.socket, &pg);
	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		assert_true(pg[i].phys < ph || pg[i].phys >= ph + PS);
	free(pg);
	uint8_t *q = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	check_region(q, PS);
	assert_int_not_equal(contig_phys_addr(q), ph);
	assert_int_equal(p[0], 0x3c);
	contig_free(p);  /* the old session's: just unmapped */
	contig_free(q);
	assert_true(wait_pool_idle(5000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contiguity),
		cmocka_unit_test(test_query_agrees),
		cmocka_unit_test(test_ceiling_floor),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_einval),
		cmocka_unit_test(test_free_misuse),
		cmocka_unit_test(test_zero_after_reuse),
		cmocka_unit_test(test_kill_reclaim),
		cmocka_unit_test(test_kept_mapping),
		cmocka_unit_test(test_free_unanswered),
		cmocka_unit_test(test_repair_real),
		cmocka_unit_test(test_repair_when_idle),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_daemon_gone),
	};

	int failed = cmocka_run_group_tests_name("integration-core", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
