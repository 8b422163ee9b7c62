/* SPDX-License-Identifier: MIT */
/*
 * carve_threads.c - the threads figure's loop, the same for contig, DPDK
 * and the machine's floor (see carve.h): n threads, each leasing or warming
 * its allocator before a common start line, then allocating, touching and
 * freeing 4 KiB back to back until the stop line; the figure is their pairs
 * per second together. The allocator is called through pointers here: both
 * sides pay the same indirection, and a ratio of 2 threads to 1 of the same
 * allocator does not see it.
 */
#define _GNU_SOURCE
#include "carve.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

struct thr_shared {
	const struct carve_thr_cfg *cfg;
	_Atomic unsigned ready;
	_Atomic int go, stop;
};

struct thr {
	pthread_t t;
	struct thr_shared *sh;
	unsigned long ops, fails;
};

/* The floor: what a carved 4 KiB costs at least, zeroing and touching a
 * private one (its own cache lines, as a carved block would be). */
static unsigned long floor_loop(struct thr_shared *sh)
{
	static _Thread_local uint8_t mine[CARVE_UNIT] __attribute__((aligned(CARVE_UNIT)));
	unsigned long ops = 0;

	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		memset(mine, 0, sizeof(mine));
		__asm__ volatile("" : : "r"(mine) : "memory");
		carve_touch(mine, CARVE_UNIT);
		ops++;
	}
	return ops;
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	const struct carve_thr_cfg *cfg = t->sh->cfg;
	void *kept = NULL;

	if (cfg->on_start)
		cfg->on_start();
	/* Lease (or warm) this thread's memory before the start line. */
	if (cfg->alloc)
		for (unsigned i = 0; i < 64; i++)
			cfg->release(cfg->alloc(CARVE_UNIT));
	/* With one region kept live, the thread's page never empties: the
	 * loop never parks it (nor takes it back). */
	if (cfg->alloc && cfg->keep)
		kept = cfg->alloc(CARVE_UNIT);
	atomic_fetch_add(&t->sh->ready, 1);
	while (!atomic_load_explicit(&t->sh->go, memory_order_acquire))
		;
	if (!cfg->alloc) {
		t->ops = floor_loop(t->sh);
		return NULL;
	}
	while (!atomic_load_explicit(&t->sh->stop, memory_order_relaxed)) {
		void *p = cfg->alloc(CARVE_UNIT);
		if (!p) {
			t->fails++;
			continue;
		}
		carve_touch(p, CARVE_UNIT);
		cfg->release(p);
		t->ops++;
	}
	if (kept)
		cfg->release(kept);
	return NULL;
}

double carve_thr_run(const struct carve_thr_cfg *cfg, unsigned n, unsigned ms,
		     unsigned long *fails)
{
	struct thr_shared sh = { .cfg = cfg };
	struct thr t[CARVE_THR_MAX];
	unsigned long ops = 0;
	unsigned started = 0;
	uint64_t t0, t1;

	if (n < 1 || n > CARVE_THR_MAX)
		return -EINVAL;
	memset(t, 0, sizeof(t));
	for (; started < n; started++) {
		t[started].sh = &sh;
		if (pthread_create(&t[started].t, NULL, thr_main, &t[started]) != 0)
			break;
	}
	while (atomic_load(&sh.ready) < started)
		sleep_us(100);
	t0 = now_ns();
	atomic_store_explicit(&sh.go, 1, memory_order_release);
	if (started == n)
		sleep_us(ms * 1000);
	atomic_store(&sh.stop, 1);
	t1 = now_ns();
	for (unsigned i = 0; i < started; i++) {
		pthread_join(t[i].t, NULL);
		ops += t[i].ops;
		*fails += t[i].fails;
	}
	if (started < n)
		return -EAGAIN;
	return (double)ops / ((double)(t1 - t0) / 1e9);
}

void carve_thr_round(const struct carve_thr_cfg *cfg, unsigned ms, struct carve_thr_samples *s,
		     unsigned long *fails)
{
	double a = carve_thr_run(cfg, 1, ms, fails), b = carve_thr_run(cfg, 2, ms, fails);

	if (a <= 0 || b <= 0)
		return;
	samples_add(&s->one, a);
	samples_add(&s->two, b);
	samples_add(&s->ratio, b / a);
}

void carve_thr_samples_free(struct carve_thr_samples *s)
{
	samples_free(&s->one);
	samples_free(&s->two);
	samples_free(&s->ratio);
}
