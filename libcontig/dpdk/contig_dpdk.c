/* SPDX-License-Identifier: MIT */
/*
 * contig_dpdk.c - DPDK external malloc heaps backed by contig regions, and
 * DMA registration of contig regions (see contig_dpdk.h).
 *
 * Owns the registry of heaps this library added memory to: for each heap,
 * the contig regions ("chunks") it holds, in the order they were added.
 * Invariants, under `lock`: every chunk in the registry is a live contig
 * region that is added to its DPDK heap as one memory segment list whose
 * page IOVAs are the region's physical addresses; a heap is in the registry
 * iff it holds at least one chunk. Failure of any call leaves the registry
 * and DPDK as they were before it.
 */
#define _GNU_SOURCE
/* rte_dev_dma_map/unmap are still "experimental" in 22.11. */
#define ALLOW_EXPERIMENTAL_API
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "contig.h"
#include "contig_dpdk.h"

#define CD_EXPORT __attribute__((visibility("default")))

/* DPDK's limit (lib/eal/common/malloc_heap.h, not installed), NUL included. */
#define HEAP_NAME_MAX 32

struct chunk {
	void *base;
	size_t len; /* whole pool pages: all of the region */
	size_t page_size;
	uint64_t phys;
};

struct heap {
	struct heap *next;
	char name[HEAP_NAME_MAX];
	struct chunk *chunks;
	size_t nchunks;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct heap *heaps;

/* rte_errno holds errno values, except DPDK's own codes above
 * __ELASTERROR; give callers something errno(3) knows. */
static int rte_err(void)
{
	switch (rte_errno) {
	case 0:
		return -EIO;
	case E_RTE_SECONDARY:
		return -EPERM;
	case E_RTE_NO_CONFIG:
		return -ENODEV;
	default:
		return rte_errno < RTE_MAX_ERRNO ? -rte_errno : -EIO;
	}
}

static int eal_ready(void)
{
	/* rte_eal_init counts the lcores; before it the count is 0. */
	if (rte_lcore_count() == 0)
		return -ENODEV;
	/* A secondary process would need rte_malloc_heap_memory_attach. */
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return -EPERM;
	return 0;
}

static struct heap *heap_find(const char *name)
{
	for (struct heap *h = heaps; h; h = h->next)
		if (!strcmp(h->name, name))
			return h;
	return NULL;
}

static void heap_unlink(struct heap *h)
{
	for (struct heap **pp = &heaps; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	free(h->chunks);
	free(h);
}

/* One IOVA per pool page: the region is physically contiguous, so page k
 * lies at phys + k * page_size. Caller frees. */
static rte_iova_t *iova_table(uint64_t phys, size_t len, size_t page_size)
{
	size_t n = len / page_size;
	rte_iova_t *t = calloc(n, sizeof(*t));

	for (size_t k = 0; t && k < n; k++)
		t[k] = phys + k * page_size;
	return t;
}

static int chunk_of(void *base, struct chunk *ret)
{
	struct contig_region_info ri;

	if (contig_region_info(base, &ri) < 0)
		return -errno;
	/* rte_malloc_heap_memory_add wants page_sz-aligned va and len. */
	if ((uintptr_t)ri.base % ri.page_size || ri.mapped_bytes % ri.page_size)
		return -EINVAL;
	*ret = (struct chunk){
	    .base = ri.base, .len = ri.mapped_bytes, .page_size = ri.page_size, .phys = ri.phys};
	return 0;
}

static int chunk_add(const char *name, const struct chunk *c)
{
	rte_iova_t *t = iova_table(c->phys, c->len, c->page_size);
	int r = 0;

	if (!t)
		return -ENOMEM;
	if (rte_malloc_heap_memory_add(name, c->base, c->len, t, c->len / c->page_size,
				       c->page_size) < 0)
		r = rte_err();
	free(t);
	return r;
}

static int chunk_remove(const char *name, const struct chunk *c)
{
	return rte_malloc_heap_memory_remove(name, c->base, c->len) < 0 ? rte_err() : 0;
}

/*
 * Take `bytes` (a multiple of the pool page size ps) from contigd below
 * ceiling: one region if the pool has such a run, else halve the piece
 * size until pieces fit (never below one page). All or nothing.
 */
static int chunks_alloc(size_t bytes, uint64_t ceiling, size_t ps, struct chunk **ret,
			size_t *ret_n)
{
	size_t piece = bytes, left = bytes, n = 0, cap = bytes / ps;
	struct chunk *v = calloc(cap, sizeof(*v));
	int r = 0;

	if (!v)
		return -ENOMEM;
	while (left > 0) {
		size_t want = piece < left ? piece : left;
		void *p = contig_alloc(want, ceiling);

		if (!p) {
			r = -errno;
			if (r != -ENOMEM || want == ps)
				goto rollback;
			piece = (want / 2 + ps - 1) / ps * ps;
			continue;
		}
		r = chunk_of(p, &v[n]);
		if (r < 0) {
			contig_free(p);
			goto rollback;
		}
		n++;
		left -= want;
	}
	*ret = v;
	*ret_n = n;
	return 0;
rollback:
	while (n > 0)
		contig_free(v[--n].base);
	free(v);
	return r;
}

/* Add the new chunks to the heap; on failure take back those added. */
static int heap_add_chunks(const char *name, const struct chunk *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = chunk_add(name, &v[i]);
		if (r < 0) {
			while (i > 0)
				(void)chunk_remove(name, &v[--i]);
			return r;
		}
	}
	return 0;
}

static int heap_grow(const char *name, size_t bytes, uint64_t ceiling)
{
	struct heap *h = heap_find(name);
	struct contig_pool_info info = {0};
	struct chunk *v = NULL, *all;
	bool created = false;
	size_t ps, n = 0;
	int r;

	if (contig_query(&info) < 0)
		return -errno;
	ps = info.page_size;
	/* More than the whole pool: say so before taking any of it. */
	if (bytes > info.total_bytes)
		return -ENOMEM;
	bytes = (bytes + ps - 1) / ps * ps;
	if (rte_malloc_heap_get_socket(name) < 0) {
		if (rte_malloc_heap_create(name) < 0)
			return rte_err();
		created = true;
	}
	r = chunks_alloc(bytes, ceiling, ps, &v, &n);
	if (r < 0)
		goto undo_heap;
	r = -ENOMEM;
	if (!h && !(h = calloc(1, sizeof(*h))))
		goto free_chunks;
	all = realloc(h->chunks, (h->nchunks + n) * sizeof(*all));
	if (!all)
		goto free_record;
	h->chunks = all;
	r = heap_add_chunks(name, v, n);
	if (r < 0)
		goto free_record;
	memcpy(h->chunks + h->nchunks, v, n * sizeof(*v));
	if (h->nchunks == 0) {
		snprintf(h->name, sizeof(h->name), "%s", name);
		h->next = heaps;
		heaps = h;
	}
	h->nchunks += n;
	free(v);
	r = rte_malloc_heap_get_socket(name);
	return r < 0 ? rte_err() : r;

free_record:
	if (h->nchunks == 0) {
		free(h->chunks);
		free(h);
	}
free_chunks:
	while (n > 0)
		contig_free(v[--n].base);
	free(v);
undo_heap:
	if (created)
		(void)rte_malloc_heap_destroy(name);
	return r;
}

static bool name_ok(const char *name)
{
	return name && name[0] && strnlen(name, HEAP_NAME_MAX) < HEAP_NAME_MAX;
}

/* The public boundary: -errno becomes -1 with errno; on success errno is
 * what it was before the call (the halving retries leave ENOMEM in it). */
static int public_ret(int r, int saved)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved;
	return r;
}

CD_EXPORT int contig_dpdk_heap_create(const char *heap_name, size_t bytes,
				      uint64_t highest_acceptable_address)
{
	int saved = errno, r;

	if (!name_ok(heap_name) || bytes == 0)
		return public_ret(-EINVAL, saved);
	r = eal_ready();
	if (r < 0)
		return public_ret(r, saved);
	pthread_mutex_lock(&lock);
	r = heap_grow(heap_name, bytes, highest_acceptable_address);
	pthread_mutex_unlock(&lock);
	return public_ret(r, saved);
}

/* Remove every chunk, then the heap; if anything refuses (an allocation is
 * still live: EBUSY), put back what was removed. */
static int heap_teardown(struct heap *h)
{
	size_t i;
	int r = 0;

	for (i = 0; i < h->nchunks; i++) {
		r = chunk_remove(h->name, &h->chunks[i]);
		if (r < 0)
			goto readd;
	}
	if (rte_malloc_heap_destroy(h->name) < 0) {
		r = rte_err();
		goto readd;
	}
	for (i = 0; i < h->nchunks; i++)
		contig_free(h->chunks[i].base);
	heap_unlink(h);
	return 0;
readd:
	while (i > 0)
		(void)chunk_add(h->name, &h->chunks[--i]);
	return r;
}

CD_EXPORT int contig_dpdk_heap_destroy(const char *heap_name)
{
	struct heap *h;
	int saved = errno, r;

	if (!name_ok(heap_name))
		return public_ret(-EINVAL, saved);
	r = eal_ready();
	if (r < 0)
		return public_ret(r, saved);
	pthread_mutex_lock(&lock);
	h = heap_find(heap_name);
	r = h ? heap_teardown(h) : -ENOENT;
	pthread_mutex_unlock(&lock);
	return public_ret(r, saved);
}

CD_EXPORT size_t contig_dpdk_heap_bytes(const char *heap_name)
{
	struct heap *h;
	size_t sum = 0;

	if (!name_ok(heap_name)) {
		errno = EINVAL;
		return 0;
	}
	pthread_mutex_lock(&lock);
	h = heap_find(heap_name);
	for (size_t i = 0; h && i < h->nchunks; i++)
		sum += h->chunks[i].len;
	pthread_mutex_unlock(&lock);
	if (!h)
		errno = ENOENT;
	return sum;
}

/* The span [base, base + len rounded up) inside one live region. */
static int dma_span(void *base, size_t len, struct chunk *ret)
{
	struct contig_region_info ri;
	size_t off;

	if (!base || len == 0)
		return -EINVAL;
	if (contig_region_info(base, &ri) < 0)
		return -errno;
	off = (uintptr_t)base - (uintptr_t)ri.base;
	if ((uintptr_t)base % ri.page_size || len > ri.mapped_bytes - off)
		return -EINVAL;
	len = (len + ri.page_size - 1) / ri.page_size * ri.page_size;
	*ret = (struct chunk){
	    .base = base, .len = len, .page_size = ri.page_size, .phys = ri.phys + off};
	return 0;
}

static int dev_dma(const struct chunk *c, uint16_t port, bool map)
{
	struct rte_eth_dev_info info;
	int r;

	if (rte_eth_dev_info_get(port, &info) < 0 || !info.device)
		return 0;
	if (map)
		r = rte_dev_dma_map(info.device, c->base, c->phys, c->len);
	else
		r = rte_dev_dma_unmap(info.device, c->base, c->phys, c->len);
	/* A bus that cannot map (ENOTSUP) needs nothing. */
	return r < 0 && rte_errno != ENOTSUP ? rte_err() : 0;
}

/* Map on every ethdev's device, or on none. */
static int devs_map(const struct chunk *c)
{
	uint16_t port, undo;
	int r;

	RTE_ETH_FOREACH_DEV(port)
	{
		r = dev_dma(c, port, true);
		if (r < 0)
			goto undo;
	}
	return 0;
undo:
	RTE_ETH_FOREACH_DEV(undo)
	{
		if (undo == port)
			break;
		(void)dev_dma(c, undo, false);
	}
	return r;
}

/* Unmap from every device even if one refuses; report the first refusal. */
static int devs_unmap(const struct chunk *c)
{
	uint16_t port;
	int r = 0;

	RTE_ETH_FOREACH_DEV(port)
	{
		int k = dev_dma(c, port, false);
		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

static int dma_map(void *base, size_t len)
{
	struct chunk c;
	rte_iova_t *t;
	int r;

	r = dma_span(base, len, &c);
	if (r < 0)
		return r;
	t = iova_table(c.phys, c.len, c.page_size);
	if (!t)
		return -ENOMEM;
	r = rte_extmem_register(c.base, c.len, t, c.len / c.page_size, c.page_size);
	free(t);
	if (r < 0)
		return rte_err();
	r = devs_map(&c);
	if (r < 0)
		(void)rte_extmem_unregister(c.base, c.len);
	return r;
}

static int dma_unmap(void *base, size_t len)
{
	struct chunk c;
	int r;

	r = dma_span(base, len, &c);
	if (r < 0)
		return r;
	r = devs_unmap(&c);
	if (rte_extmem_unregister(c.base, c.len) < 0 && r == 0)
		r = rte_err();
	return r;
}

CD_EXPORT int contig_dpdk_dma_map(void *base, size_t len)
{
	int saved = errno, r = eal_ready();

	if (r == 0)
		r = dma_map(base, len);
	return public_ret(r, saved);
}

CD_EXPORT int contig_dpdk_dma_unmap(void *base, size_t len)
{
	int saved = errno, r = eal_ready();

	if (r == 0)
		r = dma_unmap(base, len);
	return public_ret(r, saved);
}
