/* SPDX-License-Identifier: MIT */
/*
 * test_carve_life.c - carved memory comes back (issue 15), part of the
 * test-carve binary (test_carve.c has main and the daemon): frees in random
 * order, a process that exits or just idles, one SIGKILLed with 10,000
 * regions, emptied pages the daemon takes for another process, and threads
 * that free each other's regions; every time the pool ends whole.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "carve_check.h"
#include "rawclient.h"

/* A process's own pool, in any order: every region checked when handed out
 * and intact when freed, then the pool whole again. */
void test_random_free(void **state)
{
	enum { N = 3000 };
	static uint8_t *p[N];
	static size_t sz[N], idx[N];
	uint64_t s = 0x2545f4914f6cdd1dull;

	(void)state;
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < N; i++) {
			sz[i] = random_size(&s);
			p[i] = track(contig_alloc(sz[i], CONTIG_MAX_ADDRESS));
			if (!p[i])
				fail_msg("region %zu of %zu bytes: errno %d", i, sz[i], errno);
			check_zero(p[i], sz[i]);
			check_carved(p[i], sz[i]);
			fill(p[i], sz[i], i);
		}
		shuffle(idx, N, &s);
		for (size_t k = 0; k < N; k++) {
			size_t i = idx[k];
			check_intact(p[i], sz[i], i);
			contig_free(p[i]);
			assert_int_equal(contig_phys_addr(p[i]), CONTIG_PHYS_INVALID);
		}
		untrack_all();
		/* contig_query gives this process's idle pages back first. */
		assert_true(wait_pool_idle(10000));
	}
}

/* Another process's view: contig_query from a fresh child. */
static bool child_sees_whole_pool(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct contig_pool_info info = { 0 };
		_exit(contig_query(&info) == 0 && info.free_bytes == info.total_bytes ? 0 : 1);
	}
	return wait_child(pid) == 0;
}

/* A process that exits holding half its regions (the other half freed in
 * random order) leaves the pool whole; one that frees everything and just
 * lives on gives its leased pages back after the idle time, without
 * calling anything. */
void test_exit_and_idle(void **state)
{
	enum { N = 2000 };
	static uint8_t *p[N];
	static size_t sz[N], idx[N];
	uint64_t s = 0x9e3779b97f4a7c15ull;

	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (size_t i = 0; i < N; i++) {
			sz[i] = random_size(&s);
			p[i] = contig_alloc(sz[i], CONTIG_MAX_ADDRESS);
			if (!p[i] || !is_carved(p[i], sz[i]))
				_exit(2);
			fill(p[i], sz[i], i);
		}
		shuffle(idx, N, &s);
		for (size_t k = 0; k < N / 2; k++) {
			if (first_bad(p[idx[k]], sz[idx[k]], idx[k]) != sz[idx[k]])
				_exit(3);
			contig_free(p[idx[k]]);
		}
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	assert_true(wait_pool_idle(15000));

	/* This process: allocate, free all in random order, then say nothing
	 * to the daemon; another session sees the pool whole. */
	for (size_t i = 0; i < N; i++) {
		sz[i] = random_size(&s);
		p[i] = track(contig_alloc(sz[i], CONTIG_MAX_ADDRESS));
		assert_non_null(p[i]);
		check_carved(p[i], sz[i]);
		fill(p[i], sz[i], i);
	}
	assert_true(pages_not_free() > 0);
	shuffle(idx, N, &s);
	for (size_t k = 0; k < N; k++) {
		check_intact(p[idx[k]], sz[idx[k]], idx[k]);
		contig_free(p[idx[k]]);
	}
	untrack_all();
	bool whole = false;
	for (int t = 0; t < 200 && !(whole = child_sees_whole_pool()); t++)
		usleep(100 * 1000);
	assert_true(whole);
	/* And the daemon has every page back (a LIST takes nothing from us):
	 * the idle pages went back while this process said nothing. */
	int busy = POOL_PAGES;
	for (int t = 0; t < 400 && (busy = pages_not_free()) > 0; t++)
		usleep(50 * 1000);
	if (busy)
		fail_msg("%d pool pages still leased to this idle process after 20 s", busy);
}

/* A child SIGKILLed holding 10,000 carved regions: every page comes back
 * (after the dead session's quarantine), usable and zero. */
void test_sigkill(void **state)
{
	enum { N = 10000 };
	int pfd[2];
	long got = 0;

	(void)state;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		long n = 0;
		for (int i = 0; i < N; i++) {
			size_t sz = 4096 * (size_t)(1 + i % 4);
			uint8_t *p = contig_alloc(sz, CONTIG_MAX_ADDRESS);
			if (!p || !is_carved(p, sz))
				break;
			memset(p, 0x5a, sz);
			n++;
		}
		(void)!write(pfd[1], &n, sizeof(n));
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &got, sizeof(got)), (ssize_t)sizeof(got));
	close(pfd[0]);
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	int busy = pages_not_free();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(got, N);
	/* 10,000 regions of 4-16 KiB: 100,000 KiB in use, in leased pages. */
	assert_true(info.free_bytes + 25000ull * 4096 <= info.total_bytes);
	assert_true(busy >= (int)(25000ull * 4096 / PS));
	assert_true(wait_pool_idle(15000));
	assert_int_equal(pages_not_free(), 0);
	/* All of it usable, every byte zero. */
	for (int i = 0; i < POOL_PAGES; i++) {
		uint8_t *p = track(contig_alloc(PS, CONTIG_MAX_ADDRESS));
		if (!p)
			fail_msg("page %d of %d after the SIGKILL: errno %d", i, POOL_PAGES, errno);
		check_zero(p, PS);
	}
}

/* Pages this process emptied are the daemon's to take the moment another
 * process needs them: that process gets the whole pool, zeroed, and this
 * one never carves from a page it no longer holds (while the other holds
 * every page, it gets ENOMEM, not a view of the other's bytes). */
void test_parked_pages_taken(void **state)
{
	enum { N = 1500 };
	static uint8_t *p[N];
	int to_child[2], to_parent[2];
	char c = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		p[i] = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
		assert_non_null(p[i]);
		check_carved(p[i], 4096);
		memset(p[i], 0xa5, 4096);
	}
	for (int i = 0; i < N; i++)
		contig_free(p[i]);
	untrack_all();
	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	assert_int_equal(pipe2(to_parent, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int got = 0, dirty = 0;
		for (int i = 0; i < POOL_PAGES; i++) {
			uint8_t *q = contig_alloc(PS, CONTIG_MAX_ADDRESS);
			if (!q)
				break;
			for (size_t k = 0; k < PS; k++)
				dirty += q[k] != 0;
			memset(q, 0x77, PS);
			got++;
		}
		c = (char)(got == POOL_PAGES && !dirty ? 'y' : 'n');
		(void)!write(to_parent[1], &c, 1);
		(void)!read(to_child[0], &c, 1);
		_exit(0);
	}
	assert_int_equal(read(to_parent[0], &c, 1), 1);
	errno = 0;
	uint8_t *q = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	int err = errno;
	uint8_t first = q ? q[0] : 0;
	(void)!write(to_child[1], "x", 1);
	assert_int_equal(wait_child(pid), 0);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	if (c != 'y')
		fail_msg("another process could not have the whole pool, zeroed, after this one "
			 "emptied its pages");
	if (q)
		fail_msg("carved %p (first byte %#x) while another process held every pool page",
			 (void *)q, first);
	assert_int_equal(err, ENOMEM);
	/* And carving goes on from fresh pages. */
	for (int i = 0; i < 64; i++) {
		q = track(contig_alloc(4096, CONTIG_MAX_ADDRESS));
		check_zero(q, 4096);
		check_carved(q, 4096);
	}
}

/* ---- threads: each region freed by another thread than its maker */

#define INBOX 64
#define MAX_THREADS 8

struct item {
	uint8_t *p;
	size_t n;
	uint64_t id;
};

struct inbox {
	pthread_mutex_t lock;
	struct item ring[INBOX];
	unsigned head, tail;
};

static struct inbox inboxes[MAX_THREADS];
static atomic_int producers_done;
static int nthreads, nops;
static atomic_int thread_errors;
static atomic_long thread_allocs;
static char thread_error[256];
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;

static void __attribute__((format(printf, 1, 2))) thread_fail(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&thread_errors, 1) == 0) {
		pthread_mutex_lock(&error_lock);
		va_start(ap, fmt);
		vsnprintf(thread_error, sizeof(thread_error), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&error_lock);
	}
}

static bool push(struct inbox *b, struct item it)
{
	bool ok;

	pthread_mutex_lock(&b->lock);
	ok = b->tail - b->head < INBOX;
	if (ok)
		b->ring[b->tail++ % INBOX] = it;
	pthread_mutex_unlock(&b->lock);
	return ok;
}

static bool pop(struct inbox *b, struct item *ret)
{
	bool ok;

	pthread_mutex_lock(&b->lock);
	ok = b->tail != b->head;
	if (ok)
		*ret = b->ring[b->head++ % INBOX];
	pthread_mutex_unlock(&b->lock);
	return ok;
}

/* Check a region another thread made, and free it. */
static void check_and_free(struct item *it)
{
	size_t k = first_bad(it->p, it->n, it->id);

	if (k != it->n)
		thread_fail("region %#" PRIx64 " (%zu bytes) changed at byte %zu before its free",
			    it->id, it->n, k);
	if (!is_carved(it->p, it->n))
		thread_fail("region %#" PRIx64 " not live or not carved before its free", it->id);
	contig_free(it->p);
}

static void *carver(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct inbox *own = &inboxes[t], *next = &inboxes[(t + 1) % nthreads];
	uint64_t s = 0x853c49e6748fea9bull ^ ((uint64_t)t << 32);
	struct item it;

	for (int i = 0; i < nops && !atomic_load(&thread_errors); i++) {
		size_t n = 4096 + rnd(&s) % (60 * KiB + 1);
		uint8_t *p = contig_alloc(n, CONTIG_MAX_ADDRESS);
		const char *why;
		if (!p) {
			thread_fail("thread %d: %zu bytes: errno %d", t, n, errno);
			break;
		}
		atomic_fetch_add(&thread_allocs, 1);
		for (size_t k = 0; k < n; k++)
			if (p[k]) {
				thread_fail("thread %d: new %zu-byte region not zero at %zu", t, n, k);
				break;
			}
		why = phys_problem(p, n, NULL);
		if (why)
			thread_fail("thread %d: %zu-byte region: %s", t, n, why);
		if (!is_carved(p, n))
			thread_fail("thread %d: %zu-byte region not carved", t, n);
		it = (struct item){ p, n, ((uint64_t)t << 40) | (uint64_t)i };
		fill(p, n, it.id);
		while (!push(next, it)) {
			struct item x;
			if (pop(own, &x))
				check_and_free(&x);
			else
				sched_yield();
		}
		if (pop(own, &it))
			check_and_free(&it);
	}
	/* Keep emptying its own inbox until every thread is done pushing
	 * (one that stopped would leave its neighbour spinning), then the
	 * rest. */
	atomic_fetch_add(&producers_done, 1);
	while (atomic_load(&producers_done) < nthreads) {
		if (pop(own, &it))
			check_and_free(&it);
		else
			sched_yield();
	}
	while (pop(own, &it))
		check_and_free(&it);
	return NULL;
}

static void run_threads(int n, int ops)
{
	pthread_t th[MAX_THREADS];

	nthreads = n;
	nops = ops;
	atomic_store(&thread_errors, 0);
	atomic_store(&thread_allocs, 0);
	for (int i = 0; i < n; i++) {
		pthread_mutex_init(&inboxes[i].lock, NULL);
		inboxes[i].head = inboxes[i].tail = 0;
	}
	atomic_store(&producers_done, 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&th[i], NULL, carver, (void *)(intptr_t)i), 0);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++)
		pthread_mutex_destroy(&inboxes[i].lock);
	if (atomic_load(&thread_errors))
		fail_msg("%d errors; the first: %s", atomic_load(&thread_errors), thread_error);
	assert_int_equal(atomic_load(&thread_allocs), (long)n * ops);
	/* Threads that exited leave nothing leased behind. */
	assert_true(wait_pool_idle(10000));
}

void test_threads_2(void **state)
{
	(void)state;
	run_threads(2, 10000);
}

void test_threads_8(void **state)
{
	(void)state;
	run_threads(8, 2500);
}
