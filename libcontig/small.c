/* SPDX-License-Identifier: MIT */
/*
 * small.c - the small-region cache, on when CONTIG_SMALL_CACHE=1.
 *
 * A request of at most 64 KiB without a floor, ceiling or node is carved
 * from a pool page this process leases for one size class (4, 8, 16, 32 or
 * 64 KiB): no round trip to the daemon, no syscall. A block is aligned to
 * its class size, so it is physically contiguous (it lies in one hugepage)
 * and crosses no boundary >= its size. Blocks are zeroed when freed, so they
 * are zero when handed out; they are only ever reused inside this process.
 * A slab page whose blocks are all free goes back to the daemon, except one
 * kept per class (hysteresis), and all of them before contig_query.
 *
 * What it costs: a carved region cannot be exported (its page holds other
 * regions of this process): contig_export says ENOTSUP. That is why the
 * cache is opt-in.
 *
 * The slabs are the lock's. nslabs and enabled are atomic everywhere:
 * small_free and the lookups peek at them without the lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "contig.h"
#include "link.h"
#include "small.h"

#define SMALL_MAX    (64u << 10)
#define CLASS_MIN    12 /* 4 KiB */
#define NCLASSES     5  /* 4 .. 64 KiB */

struct slab {
	struct region reg;      /* one pool page, outside the region index */
	unsigned cls;           /* log2 of the block size */
	uint32_t nblocks, nfree;
	uint64_t *used;         /* bit per block */
	uint32_t *nbytes;       /* size asked, per block */
};

struct small {
	pthread_mutex_t lock;
	struct slab *slabs;
	_Atomic size_t nslabs;
	size_t cap;
	/* -1: not decided yet. Two first readers only store the same
	 * answer twice. */
	_Atomic int enabled;
	void (*freed)(void);
};

static struct small self = { .lock = PTHREAD_MUTEX_INITIALIZER, .enabled = -1 };

void small_init(void (*freed)(void))
{
	self.freed = freed;
}

static size_t count(void)
{
	return atomic_load_explicit(&self.nslabs, memory_order_acquire);
}

static void set_count(size_t n)
{
	atomic_store_explicit(&self.nslabs, n, memory_order_release);
}

static int small_enabled(void)
{
	return atomic_load_explicit(&self.enabled, memory_order_relaxed);
}

void small_fork_prepare(void)
{
	pthread_mutex_lock(&self.lock);
}

void small_fork_parent(void)
{
	pthread_mutex_unlock(&self.lock);
}

bool small_wanted(const struct proto_alloc *a)
{
	int on = small_enabled();

	if (on < 0) {
		/* A setuid program must not take its caller's settings. */
		const char *e = secure_getenv("CONTIG_SMALL_CACHE");
		on = e && !strcmp(e, "1");
		atomic_store_explicit(&self.enabled, on, memory_order_relaxed);
	}
	return on && a->nbytes <= SMALL_MAX && a->lowest == 0 &&
	       a->highest == CONTIG_MAX_ADDRESS && a->node == CONTIG_NODE_ANY && !a->flags;
}

static unsigned class_of(uint64_t nbytes)
{
	unsigned c = CLASS_MIN;

	while ((1ull << c) < nbytes)
		c++;
	return c;
}

/* The slab holding va, or NULL. Called with the lock held. */
static struct slab *slab_of(uintptr_t va)
{
	for (size_t i = 0, n = count(); i < n; i++)
		if (va - self.slabs[i].reg.base < self.slabs[i].reg.mapped)
			return &self.slabs[i];
	return NULL;
}

static int slab_new(unsigned cls, struct slab **ret)
{
	struct proto_alloc a = { .nbytes = 1, .highest = CONTIG_MAX_ADDRESS, .node = -1 };
	struct slab s = { .cls = cls };
	size_t n = count();
	int r;

	if (n == self.cap) {
		size_t ncap = self.cap ? self.cap * 2 : 8;
		struct slab *v = realloc(self.slabs, ncap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		self.slabs = v;
		self.cap = ncap;
	}
	r = link_region_fetch(PROTO_ALLOC, &a, sizeof(a), NULL, &s.reg);
	if (r < 0)
		return r;
	s.nblocks = (uint32_t)(s.reg.mapped >> cls);
	s.nfree = s.nblocks;
	s.used = calloc((s.nblocks + 63) / 64, sizeof(*s.used));
	s.nbytes = calloc(s.nblocks, sizeof(*s.nbytes));
	if (!s.used || !s.nbytes) {
		free(s.used);
		free(s.nbytes);
		link_region_free(&s.reg);
		return -ENOMEM;
	}
	self.slabs[n] = s;
	*ret = &self.slabs[n];
	set_count(n + 1);
	return 0;
}

static void slab_drop(size_t i)
{
	size_t n = count();
	struct slab s = self.slabs[i];

	self.slabs[i] = self.slabs[n - 1];
	set_count(n - 1);
	free(s.used);
	free(s.nbytes);
	link_region_free(&s.reg);
}

int small_alloc(const struct proto_alloc *a, void **ret)
{
	unsigned cls = class_of(a->nbytes);
	struct slab *s = NULL;
	int r = 0;

	pthread_mutex_lock(&self.lock);
	for (size_t i = 0, n = count(); i < n && !s; i++)
		if (self.slabs[i].cls == cls && self.slabs[i].nfree)
			s = &self.slabs[i];
	if (!s)
		r = slab_new(cls, &s);
	if (r == 0) {
		for (uint32_t w = 0;; w++) {
			if (s->used[w] == UINT64_MAX)
				continue;
			uint32_t b = w * 64 + (uint32_t)__builtin_ctzll(~s->used[w]);
			s->used[w] |= 1ull << (b % 64);
			s->nbytes[b] = (uint32_t)a->nbytes;
			s->nfree--;
			*ret = (void *)(s->reg.base + ((uintptr_t)b << cls));
			break;
		}
	}
	pthread_mutex_unlock(&self.lock);
	return r;
}

/* Keep at most one empty slab per class. Called with the lock held. */
static void trim_class(unsigned cls, bool all)
{
	bool kept = all;

	for (size_t i = count(); i-- > 0;) {
		if (self.slabs[i].cls != cls || self.slabs[i].nfree != self.slabs[i].nblocks)
			continue;
		if (!kept) {
			kept = true;
			continue;
		}
		slab_drop(i);
	}
}

bool small_free(void *base)
{
	uintptr_t va = (uintptr_t)base;
	struct slab *s;
	bool mine = false;

	/* No slab, no small region: the common case (the cache is opt-in)
	 * costs no lock. A region handed out before this free was made in a
	 * slab that existed then, and the caller's own ordering makes that
	 * visible here. */
	if (!count())
		return false;
	pthread_mutex_lock(&self.lock);
	s = slab_of(va);
	if (s) {
		/* Inside a slab: ours whether or not it is a live base (an
		 * interior or stale pointer is ignored, as contig_free says). */
		mine = true;
		uintptr_t off = va - s->reg.base;
		uint32_t b = (uint32_t)(off >> s->cls);
		if (!(off & ((1ull << s->cls) - 1)) && (s->used[b / 64] & (1ull << (b % 64)))) {
			memset(base, 0, 1ull << s->cls);
			s->used[b / 64] &= ~(1ull << (b % 64));
			s->nbytes[b] = 0;
			s->nfree++;
			if (self.freed)
				self.freed();
			if (s->nfree == s->nblocks)
				trim_class(s->cls, false);
		}
	}
	pthread_mutex_unlock(&self.lock);
	return mine;
}

/* The live block holding va, or false. Called with the lock held. */
static bool block_of(uintptr_t va, struct slab **ret_s, uint32_t *ret_b)
{
	struct slab *s = slab_of(va);

	if (!s)
		return false;
	uint32_t b = (uint32_t)((va - s->reg.base) >> s->cls);
	if (!(s->used[b / 64] & (1ull << (b % 64))) ||
	    va - s->reg.base - ((uintptr_t)b << s->cls) >= s->nbytes[b])
		return false;
	*ret_s = s;
	*ret_b = b;
	return true;
}

bool small_owns(const void *va)
{
	struct slab *s;
	uint32_t b;
	bool r;

	pthread_mutex_lock(&self.lock);
	r = block_of((uintptr_t)va, &s, &b);
	pthread_mutex_unlock(&self.lock);
	return r;
}

int small_info(const void *va, struct contig_region_info *ret)
{
	struct slab *s;
	uint32_t b;
	int r = -ENOENT;

	if (small_enabled() <= 0)
		return r;
	pthread_mutex_lock(&self.lock);
	if (block_of((uintptr_t)va, &s, &b)) {
		uintptr_t base = s->reg.base + ((uintptr_t)b << s->cls);
		*ret = (struct contig_region_info){
			.base = (void *)base, .nbytes = s->nbytes[b], .mapped_bytes = 1ull << s->cls,
			.page_size = s->reg.page_size, .phys = s->reg.phys + (base - s->reg.base),
			.node = s->reg.node,
		};
		r = 0;
	}
	pthread_mutex_unlock(&self.lock);
	return r;
}

void small_trim(void)
{
	if (small_enabled() <= 0)
		return;
	pthread_mutex_lock(&self.lock);
	for (unsigned c = CLASS_MIN; c < CLASS_MIN + NCLASSES; c++)
		trim_class(c, true);
	pthread_mutex_unlock(&self.lock);
}

/* In the child after fork: the slab pages were not inherited. */
void small_fork_child(void)
{
	for (size_t i = 0, n = count(); i < n; i++) {
		free(self.slabs[i].used);
		free(self.slabs[i].nbytes);
	}
	free(self.slabs);
	self.slabs = NULL;
	set_count(0);
	self.cap = 0;
	/* The child reads CONTIG_SMALL_CACHE anew. */
	atomic_store_explicit(&self.enabled, -1, memory_order_relaxed);
	pthread_mutex_unlock(&self.lock);
}
