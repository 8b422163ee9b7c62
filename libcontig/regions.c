/* SPDX-License-Identifier: MIT */
/*
 * regions.c - the region index (see regions.h): a sorted array searched by
 * bisection. Translating an address to a physical one is contig.c's (the
 * per-thread cache in front of this index).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "regions.h"

struct regions {
	pthread_mutex_t lock;
	struct region *v;     /* sorted by base */
	size_t n, cap;
};

static struct regions self = { .lock = PTHREAD_MUTEX_INITIALIZER };

void regions_lock(void)
{
	pthread_mutex_lock(&self.lock);
}

void regions_unlock(void)
{
	pthread_mutex_unlock(&self.lock);
}

static size_t lower_bound(uintptr_t va)
{
	size_t lo = 0, hi = self.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (self.v[mid].base <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo; /* first region with base > va */
}

struct region *regions_find(uintptr_t va)
{
	size_t i = lower_bound(va);

	if (i == 0)
		return NULL;
	struct region *r = &self.v[i - 1];
	return va - r->base < r->mapped ? r : NULL;
}

int regions_insert(const struct region *r)
{
	size_t i;

	if (self.n == self.cap) {
		size_t cap = self.cap ? self.cap * 2 : 16;
		struct region *n = realloc(self.v, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		self.v = n;
		self.cap = cap;
	}
	i = lower_bound(r->base);
	memmove(&self.v[i + 1], &self.v[i], (self.n - i) * sizeof(*r));
	self.v[i] = *r;
	self.n++;
	return 0;
}

void regions_remove(struct region *r)
{
	size_t i = (size_t)(r - self.v);

	memmove(&self.v[i], &self.v[i + 1], (self.n - i - 1) * sizeof(*r));
	self.n--;
}

void regions_clear(void)
{
	free(self.v);
	self.v = NULL;
	self.n = self.cap = 0;
}
