/* SPDX-License-Identifier: MIT */
/*
 * test_threads.c - libcontig from many threads at once, for its own sake
 * and for ThreadSanitizer (scripts/tsan.sh): four workers allocate regions
 * of mixed sizes and constraints, check them (zeroed, contiguous, the
 * physical address contig_phys_addr gives is the one /proc/self/pagemap
 * shows), tag them and pass them on; a region is usually freed by another
 * thread than the one that allocated it, after checking the tag survived;
 * one in 16 is exported and imported again first (a carved one must
 * refuse, ENOTSUP). A fifth thread asks contig_query all along. Three
 * rounds: the defaults (regions smaller than a pool page carved, larger
 * ones stashed when freed), carving off (in a child, which reads
 * CONTIG_CARVE afresh: every region whole pages, every size through the
 * stash), and the daemon killed and restarted twice with the workers
 * paused between two steps, which must notice on their own.
 *
 * Bounded: CONTIG_TEST_THREADS_SECONDS per round (default 4) and at most
 * MAX_ITERS allocations per worker. cmocka is not thread-safe: threads count
 * failures and keep the first message; the main thread asserts.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define KiB       (1ull << 10)
#define MiB       (1ull << 20)
#define PS        (2 * MiB)
#define NWORKERS  4
#define MAX_ITERS 100000
#define QCAP      8

static const char *const daemon_args[] = { "--pool", "64M", NULL };
static struct daemon_proc d;
static int teardown_status;

struct region {
	uint8_t *p;
	size_t nbytes;
	uint64_t phys;
	uint64_t tag;
};

/* What the threads share: the hand-off queue, the pause gate and the
 * failure record. */
static struct {
	pthread_mutex_t lock;
	struct region q[QCAP];
	unsigned nq;
	/* The pause gate: a step runs only while not paused; a restart waits
	 * for the steps under way (a rwlock would starve the writer). */
	pthread_cond_t gate;
	unsigned active;
	bool paused;
	bool stop;
	bool restarting;           /* connection errors are expected now */
	unsigned failures;
	char first[256];
	unsigned long allocs, enomem, conn_errors, handed, queries;
} sh = { .lock = PTHREAD_MUTEX_INITIALIZER, .gate = PTHREAD_COND_INITIALIZER };

__attribute__((format(printf, 1, 2))) static void failf(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&sh.lock);
	if (!sh.failures++) {
		va_start(ap, fmt);
		vsnprintf(sh.first, sizeof(sh.first), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&sh.lock);
}

static bool stopping(void)
{
	return __atomic_load_n(&sh.stop, __ATOMIC_RELAXED);
}

static bool restarting(void)
{
	return __atomic_load_n(&sh.restarting, __ATOMIC_RELAXED);
}

static void gate_enter(void)
{
	pthread_mutex_lock(&sh.lock);
	while (sh.paused)
		pthread_cond_wait(&sh.gate, &sh.lock);
	sh.active++;
	pthread_mutex_unlock(&sh.lock);
}

static void gate_leave(void)
{
	pthread_mutex_lock(&sh.lock);
	if (!--sh.active)
		pthread_cond_broadcast(&sh.gate);
	pthread_mutex_unlock(&sh.lock);
}

static void gate_pause(bool pause)
{
	pthread_mutex_lock(&sh.lock);
	sh.paused = pause;
	pthread_cond_broadcast(&sh.gate);
	while (pause && sh.active)
		pthread_cond_wait(&sh.gate, &sh.lock);
	pthread_mutex_unlock(&sh.lock);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int setup(void **state)
{
	(void)state;
	unsetenv("CONTIG_CARVE");
	unsetenv("CONTIG_STASH");
	return daemon_start(&d, daemon_args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static double seconds(void)
{
	const char *s = getenv("CONTIG_TEST_THREADS_SECONDS");
	double v = s ? atof(s) : 4;

	return v > 0 && v <= 60 ? v : 4;
}

/* ---- one region's checks ---- */

static size_t pick_size(uint64_t *seed)
{
	static const size_t sizes[] = { 4 * KiB, 12 * KiB, 64 * KiB, 200 * KiB, 1 * MiB,
					PS,      PS + 4 * KiB, 3 * MiB };

	return sizes[xorshift(seed) % (sizeof(sizes) / sizeof(sizes[0]))];
}

/* Bytes of r checked: every page's first and last words, all of it when
 * small (a full scan of megabytes per step would only slow the rounds). */
static bool check_bytes(const struct region *r, uint64_t want)
{
	const uint64_t *w;

	if (r->nbytes <= 64 * KiB) {
		for (size_t off = 0; off < r->nbytes; off += 8)
			if (*(const uint64_t *)(const void *)(r->p + off) != want)
				return false;
		return true;
	}
	for (size_t off = 0; off < r->nbytes; off += 4096) {
		w = (const uint64_t *)(const void *)(r->p + off);
		if (w[0] != want || w[4096 / 8 - 1] != want)
			return false;
	}
	return true;
}

static void fill(struct region *r, uint64_t v)
{
	if (r->nbytes <= 64 * KiB) {
		for (size_t off = 0; off < r->nbytes; off += 8)
			*(uint64_t *)(void *)(r->p + off) = v;
		return;
	}
	for (size_t off = 0; off < r->nbytes; off += 4096) {
		uint64_t *w = (uint64_t *)(void *)(r->p + off);
		w[0] = v;
		w[4096 / 8 - 1] = v;
	}
}

/* Physically contiguous where it says, by contig_phys_addr and by pagemap
 * (4 KiB steps for the first 16 pages, then one per pool page). */
static bool check_phys(const struct region *r)
{
	for (size_t off = 0; off < r->nbytes; off += off < 64 * KiB ? 4096 : PS / 2) {
		if (contig_phys_addr(r->p + off) != r->phys + off)
			return false;
		if (pagemap_phys(r->p + off) != r->phys + off)
			return false;
	}
	return contig_phys_addr(r->p + r->nbytes - 1) == r->phys + r->nbytes - 1;
}

static bool conn_error(int e)
{
	return e == ECONNRESET || e == ECONNREFUSED || e == ENOENT || e == EPIPE || e == EPROTO;
}

static uint8_t *alloc_one(uint64_t *seed, size_t n, uint64_t *ret_boundary)
{
	*ret_boundary = 0;
	switch (xorshift(seed) % 4) {
	case 0:
		return contig_alloc_node(n, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, CONTIG_NODE_ANY);
	case 1: {
		uint64_t b = 1;
		while (b < n)
			b <<= 1;
		*ret_boundary = b << (xorshift(seed) % 3);
		return contig_alloc_specify_cache(n, 0, CONTIG_MAX_ADDRESS, *ret_boundary,
						  CONTIG_CACHED);
	}
	default:
		return contig_alloc(n, CONTIG_MAX_ADDRESS);
	}
}

/* Export r and import it again in this process: the same pages. */
static void share(const struct region *r)
{
	struct contig_handle h;
	uint8_t *q;

	if (contig_export(r->p, &h) < 0) {
		int e = errno;
		struct contig_region_info ri;
		/* ENOTSUP is for carved regions only: a mapping short of a
		 * pool page. */
		bool carved = contig_region_info(r->p, &ri) == 0 && ri.mapped_bytes < ri.page_size;
		if (e == ENOTSUP ? !carved : !conn_error(e))
			failf("contig_export of %zu bytes (%s): %s", r->nbytes,
			      carved ? "carved" : "whole pages", strerror(e));
		return;
	}
	q = contig_import(&h, NULL);
	if (!q) {
		if (!conn_error(errno) && errno != ENOMEM)
			failf("contig_import of our own handle: %s", strerror(errno));
		return;
	}
	if (contig_phys_addr(q) != r->phys || q[r->nbytes - 1] != r->p[r->nbytes - 1])
		failf("import at %p: phys %#llx, region's %#llx", (void *)q,
		      (unsigned long long)contig_phys_addr(q), (unsigned long long)r->phys);
	contig_free(q);
}

/* Check what another thread (or this one) tagged, then free it. */
static void retire(const struct region *r)
{
	if (!check_bytes(r, r->tag))
		failf("region %p (%zu bytes) lost its tag %#llx", (void *)r->p, r->nbytes,
		      (unsigned long long)r->tag);
	if (!check_phys(r))
		failf("region %p (%zu bytes) moved from phys %#llx", (void *)r->p, r->nbytes,
		      (unsigned long long)r->phys);
	contig_free(r->p);
}

static void step(int id, uint64_t *seed, unsigned long seq)
{
	struct region r = { .nbytes = pick_size(seed) }, out;
	uint64_t boundary;
	bool got_out = false;

	r.p = alloc_one(seed, r.nbytes, &boundary);
	if (!r.p) {
		int e = errno;
		pthread_mutex_lock(&sh.lock);
		if (e == ENOMEM)
			sh.enomem++;
		else if (conn_error(e) && restarting())
			sh.conn_errors++;
		else
			e = -e;
		pthread_mutex_unlock(&sh.lock);
		if (e < 0)
			failf("thread %d: allocation of %zu bytes: %s", id, r.nbytes, strerror(-e));
		return;
	}
	r.phys = contig_phys_addr(r.p);
	r.tag = ((uint64_t)(id + 1) << 48) | seq;
	if ((uintptr_t)r.p % 4096 || r.phys == CONTIG_PHYS_INVALID)
		failf("thread %d: region %p, phys %#llx", id, (void *)r.p,
		      (unsigned long long)r.phys);
	else if (!check_bytes(&r, 0))
		failf("thread %d: a new region of %zu bytes is not zero", id, r.nbytes);
	else if (!check_phys(&r))
		failf("thread %d: region of %zu bytes at phys %#llx is not what pagemap shows", id,
		      r.nbytes, (unsigned long long)r.phys);
	else if (boundary && r.phys / boundary != (r.phys + r.nbytes - 1) / boundary)
		failf("thread %d: region crosses a boundary of %#llx", id,
		      (unsigned long long)boundary);
	fill(&r, r.tag);
	if (xorshift(seed) % 16 == 0)
		share(&r);

	/* Mostly someone else frees it: hand it over, take one over. */
	pthread_mutex_lock(&sh.lock);
	sh.allocs++;
	if (sh.nq) {
		unsigned k = (unsigned)(xorshift(seed) % sh.nq);
		out = sh.q[k];
		sh.q[k] = sh.q[--sh.nq];
		got_out = true;
	}
	bool keep = sh.nq < QCAP && xorshift(seed) % 4;
	if (keep) {
		sh.q[sh.nq++] = r;
		sh.handed++;
	}
	pthread_mutex_unlock(&sh.lock);
	if (got_out)
		retire(&out);
	if (!keep)
		retire(&r);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);

	for (unsigned long i = 0; i < MAX_ITERS && !stopping(); i++) {
		gate_enter();
		step(id, &seed, i);
		gate_leave();
	}
	return NULL;
}

static void *querier(void *arg)
{
	int local;

	(void)arg;
	while (!stopping()) {
		struct contig_pool_info info = { 0 };
		gate_enter();
		if (contig_query(&info) == 0) {
			if (info.free_bytes > info.total_bytes ||
			    info.largest_free_run > info.free_bytes || !info.page_size)
				failf("contig_query: total %llu free %llu largest %llu",
				      (unsigned long long)info.total_bytes,
				      (unsigned long long)info.free_bytes,
				      (unsigned long long)info.largest_free_run);
		} else if (!conn_error(errno) || !restarting()) {
			failf("contig_query: %s", strerror(errno));
		}
		if (contig_phys_addr(&local) != CONTIG_PHYS_INVALID)
			failf("contig_phys_addr of a stack address is valid");
		pthread_mutex_lock(&sh.lock);
		sh.queries++;
		pthread_mutex_unlock(&sh.lock);
		gate_leave();
		usleep(2000);
	}
	return NULL;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* Run the workers and the querier for secs; restarts: kill and restart the
 * daemon that many times, evenly spaced, with the threads paused between
 * two steps (harness's daemon_start sets CONTIG_SOCKET, and setenv must not
 * race the library's getenv). Returns the failures; the first is in
 * sh.first. */
static unsigned stress(double secs, int restarts)
{
	pthread_t t[NWORKERS + 1];

	memset(sh.q, 0, sizeof(sh.q));
	sh.nq = 0;
	sh.stop = false;
	sh.paused = false;
	sh.active = 0;
	sh.restarting = false;
	sh.failures = 0;
	sh.first[0] = 0;
	sh.allocs = sh.enomem = sh.conn_errors = sh.handed = sh.queries = 0;
	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i))
			return 1;
	if (pthread_create(&t[NWORKERS], NULL, querier, NULL))
		return 1;
	for (int k = 0; k <= restarts; k++) {
		sleep_s(secs / (restarts + 1));
		if (k == restarts)
			break;
		gate_pause(true);
		__atomic_store_n(&sh.restarting, true, __ATOMIC_RELAXED);
		if (daemon_restart(&d, daemon_args) < 0)
			failf("the daemon did not restart");
		gate_pause(false);
	}
	__atomic_store_n(&sh.stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i <= NWORKERS; i++)
		pthread_join(t[i], NULL);
	while (sh.nq)
		retire(&sh.q[--sh.nq]);
	fprintf(stderr, "%lu regions (%lu handed over), %lu ENOMEM, %lu lost to restarts, "
		"%lu queries\n", sh.allocs, sh.handed, sh.enomem, sh.conn_errors, sh.queries);
	if (!sh.allocs || !sh.queries)
		failf("nothing ran: %lu allocations, %lu queries", sh.allocs, sh.queries);
	return sh.failures;
}

static void test_threads_defaults(void **state)
{
	(void)state;
	assert_true(wait_pool_idle(10000));
	if (stress(seconds(), 0))
		fail_msg("%u failures, the first: %s", sh.failures, sh.first);
	assert_true(wait_pool_idle(10000));
}

/* In a child: CONTIG_CARVE is read once per process. */
static void test_threads_whole_pages(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	assert_true(wait_pool_idle(10000));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("CONTIG_CARVE", "0", 1);
		unsigned f = stress(seconds(), 0);
		if (f)
			fprintf(stderr, "%u failures, the first: %s\n", f, sh.first);
		_exit(f ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(wait_pool_idle(10000));
}

/* Regions of a dead session stay valid where they are; stashed ones of it
 * are never handed out again; the threads find the new daemon. */
static void test_threads_restart(void **state)
{
	(void)state;
	assert_true(wait_pool_idle(10000));
	if (stress(seconds(), 2))
		fail_msg("%u failures, the first: %s", sh.failures, sh.first);
	assert_true(wait_pool_idle(10000));
	/* The new daemon serves, and knows every region it gave. */
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(contig_phys_addr(p), pagemap_phys(p));
	contig_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_defaults),
		cmocka_unit_test(test_threads_whole_pages),
		cmocka_unit_test(test_threads_restart),
	};
	int failed = cmocka_run_group_tests_name("integration-threads", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
