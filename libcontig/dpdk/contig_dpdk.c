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
 *
 * Also owns sharing (the end of the file): shares describe registry heaps
 * to other processes; the registry of imports holds, for each share this
 * process imported, the regions it mapped at the exporter's addresses and
 * registered as external memory - all of the share's regions, or none.
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
#include <rte_mempool.h>
#include <rte_version.h>

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
		return errno > 0 ? -errno : -EINVAL; /* never 0: callers read *ret on 0 */
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

/* ---- sharing a heap with other processes (contig_dpdk_share) ---- */

/* The share crosses process (and build) boundaries as bytes. */
_Static_assert(sizeof(struct contig_dpdk_share_chunk) == 64, "contig_dpdk_share_chunk");
_Static_assert(sizeof(struct contig_dpdk_share) == 152 + 64 * CONTIG_DPDK_SHARE_CHUNKS,
	       "contig_dpdk_share");

/* A share this process imported: its regions, mapped at the exporter's
 * addresses and registered as external memory. */
struct import {
	struct import *next;
	size_t nchunks;
	struct chunk chunks[CONTIG_DPDK_SHARE_CHUNKS];
};

static struct import *imports;

/* Does [p, p + len) lie inside one of the chunks? */
static bool in_chunks(const struct chunk *v, size_t n, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	for (size_t i = 0; i < n; i++) {
		uintptr_t b = (uintptr_t)v[i].base;
		if (a >= b && len <= v[i].len && a - b <= v[i].len - len)
			return true;
	}
	return false;
}

/* Describe heap h: one handle per chunk (contig_export is idempotent, so
 * exporting a heap twice gives the same handles). */
static int share_fill(const struct heap *h, struct contig_dpdk_share *s)
{
	if (h->nchunks > CONTIG_DPDK_SHARE_CHUNKS)
		return -E2BIG;
	memset(s, 0, sizeof(*s));
	s->magic = CONTIG_DPDK_SHARE_MAGIC;
	s->nchunks = (uint32_t)h->nchunks;
	snprintf(s->heap_name, sizeof(s->heap_name), "%s", h->name);
	snprintf(s->dpdk_version, sizeof(s->dpdk_version), "%s", rte_version());
	for (size_t i = 0; i < h->nchunks; i++) {
		const struct chunk *c = &h->chunks[i];
		struct contig_dpdk_share_chunk *sc = &s->chunks[i];

		if (contig_export(c->base, &sc->handle) < 0)
			return -errno;
		sc->va = (uintptr_t)c->base;
		sc->len = c->len;
		sc->phys = c->phys;
		sc->page_size = c->page_size;
	}
	return 0;
}

CD_EXPORT int contig_dpdk_heap_export(const char *heap_name, struct contig_dpdk_share *ret_share)
{
	struct contig_dpdk_share s;
	struct heap *h;
	int saved = errno, r;

	if (!name_ok(heap_name) || !ret_share)
		return public_ret(-EINVAL, saved);
	r = eal_ready();
	if (r < 0)
		return public_ret(r, saved);
	pthread_mutex_lock(&lock);
	h = heap_find(heap_name);
	r = h ? share_fill(h, &s) : -ENOENT;
	pthread_mutex_unlock(&lock);
	if (r == 0)
		*ret_share = s;
	return public_ret(r, saved);
}

static struct heap *heap_of_socket(int socket)
{
	for (struct heap *h = heaps; h; h = h->next)
		if (rte_malloc_heap_get_socket(h->name) == socket)
			return h;
	return NULL;
}

struct span_check {
	const struct heap *h;
	bool ok;
};

static void memhdr_check(struct rte_mempool *mp, void *arg, struct rte_mempool_memhdr *m,
			 unsigned int idx)
{
	struct span_check *c = arg;

	(void)mp, (void)idx;
	if (!in_chunks(c->h->chunks, c->h->nchunks, m->addr, m->len))
		c->ok = false;
}

/*
 * Everything a user of the pool touches lies in h: the header with its
 * private area (mbuf data room size ...), the pool data (the ring of free
 * objects: a memzone, and a malloc element never crosses a memory segment
 * list, so its first byte says where all of it is) and every memory chunk
 * holding objects. The memory chunk headers themselves do not: DPDK
 * allocates them on the exporter's own heap, so an importer must not walk
 * them (rte_mempool_mem_iter); rte_mempool_obj_iter is fine.
 */
static int mempool_in_heap(const struct rte_mempool *mp, const struct heap *h)
{
	/* The iterator and rte_mempool_get_priv take a non-const pool. */
	struct rte_mempool *m = (struct rte_mempool *)(uintptr_t)mp;
	size_t hdr = (size_t)((const char *)rte_mempool_get_priv(m) - (const char *)mp) +
		     mp->private_data_size;
	struct span_check c = {.h = h, .ok = true};

	if (!in_chunks(h->chunks, h->nchunks, mp, hdr) || !mp->pool_data ||
	    !in_chunks(h->chunks, h->nchunks, mp->pool_data, 1))
		return -ENOENT;
	rte_mempool_mem_iter(m, memhdr_check, &c);
	return c.ok ? 0 : -ENOENT;
}

static int mempool_share(const struct rte_mempool *mp, struct contig_dpdk_share *s)
{
	const struct heap *h = heap_of_socket(mp->socket_id);
	int r;

	if (!h)
		return -ENOENT;
	r = mempool_in_heap(mp, h);
	if (r == 0)
		r = share_fill(h, s);
	if (r < 0)
		return r;
	s->mempool = (uintptr_t)mp;
	s->ops_index = (uint32_t)mp->ops_index;
	s->mempool_hdr_size = sizeof(struct rte_mempool);
	snprintf(s->ops_name, sizeof(s->ops_name), "%s", rte_mempool_get_ops(mp->ops_index)->name);
	return 0;
}

CD_EXPORT int contig_dpdk_mempool_export(const struct rte_mempool *mp,
					 struct contig_dpdk_share *ret_share)
{
	struct contig_dpdk_share s;
	int saved = errno, r;

	/* A per-lcore cache would be shared by lcores of the same id in
	 * different EALs; an unpopulated pool has nothing to share yet. */
	if (!mp || !ret_share || mp->cache_size != 0 || !(mp->flags & RTE_MEMPOOL_F_POOL_CREATED))
		return public_ret(-EINVAL, saved);
	r = eal_ready();
	if (r < 0)
		return public_ret(r, saved);
	pthread_mutex_lock(&lock);
	r = mempool_share(mp, &s);
	pthread_mutex_unlock(&lock);
	if (r == 0)
		*ret_share = s;
	return public_ret(r, saved);
}

/* The share is well formed (it came over some channel: trust no field). */
static int share_check(const struct contig_dpdk_share *s)
{
	if (!s || s->magic != CONTIG_DPDK_SHARE_MAGIC || s->nchunks == 0 ||
	    s->nchunks > CONTIG_DPDK_SHARE_CHUNKS)
		return -EINVAL;
	for (uint32_t i = 0; i < s->nchunks; i++) {
		const struct contig_dpdk_share_chunk *c = &s->chunks[i];
		uint64_t ps = c->page_size;

		if (ps < 4096 || (ps & (ps - 1)) || c->va == 0 || c->va % ps || c->len == 0 ||
		    c->len % ps || c->va + c->len < c->va)
			return -EINVAL;
	}
	return 0;
}

static struct import *import_find(const struct contig_dpdk_share *s)
{
	for (struct import *im = imports; im; im = im->next)
		if ((uintptr_t)im->chunks[0].base == s->chunks[0].va && im->nchunks == s->nchunks)
			return im;
	return NULL;
}

static void import_unlink(struct import *im)
{
	for (struct import **pp = &imports; *pp; pp = &(*pp)->next)
		if (*pp == im) {
			*pp = im->next;
			break;
		}
}

static void chunk_detach(const struct chunk *c)
{
	(void)dma_unmap(c->base, c->len);
	contig_free(c->base);
}

/* Unregister and unmap every region of an import, and forget it. */
static void import_drop(struct import *im)
{
	while (im->nchunks > 0)
		chunk_detach(&im->chunks[--im->nchunks]);
	free(im);
}

/*
 * Map one region at the exporter's address and register it. The daemon
 * says which region the handle names: it must be the one the share
 * describes, or pointers into it would lead elsewhere.
 */
static int chunk_import(const struct contig_dpdk_share_chunk *sc, struct chunk *ret)
{
	struct contig_region_info ri;
	void *p = contig_import(&sc->handle, (void *)(uintptr_t)sc->va);
	int r;

	if (!p)
		return -errno;
	if (contig_region_info(p, &ri) < 0 || ri.mapped_bytes != sc->len || ri.phys != sc->phys ||
	    ri.page_size != sc->page_size) {
		contig_free(p);
		return -EPROTO;
	}
	/* Registration only: DPDK learns the IOVAs; nothing is written to
	 * the memory (rte_malloc_heap_memory_add would write a malloc
	 * element over the exporter's heap). */
	r = dma_map(p, sc->len);
	if (r < 0) {
		contig_free(p);
		return r;
	}
	*ret =
	    (struct chunk){.base = p, .len = sc->len, .page_size = sc->page_size, .phys = sc->phys};
	return 0;
}

static int share_import(const struct contig_dpdk_share *s, struct import **ret)
{
	struct import *im = calloc(1, sizeof(*im));
	int r;

	if (!im)
		return -ENOMEM;
	while (im->nchunks < s->nchunks) {
		r = chunk_import(&s->chunks[im->nchunks], &im->chunks[im->nchunks]);
		if (r < 0) {
			import_drop(im);
			return r;
		}
		im->nchunks++;
	}
	im->next = imports;
	imports = im;
	*ret = im;
	return 0;
}

CD_EXPORT int contig_dpdk_heap_import(const struct contig_dpdk_share *share)
{
	struct import *im;
	int saved = errno, r = share_check(share);

	if (r == 0)
		r = eal_ready();
	if (r < 0)
		return public_ret(r, saved);
	pthread_mutex_lock(&lock);
	r = share_import(share, &im);
	pthread_mutex_unlock(&lock);
	return public_ret(r, saved);
}

/* What can be checked before mapping anything: the pool's code in this
 * process is the exporter's (same DPDK, same struct, same ops at the
 * index the pool header names). */
static int mempool_compatible(const struct contig_dpdk_share *s)
{
	const struct rte_mempool_ops *ops;

	if (!s->mempool)
		return -EINVAL;
	if (strncmp(s->dpdk_version, rte_version(), sizeof(s->dpdk_version)) ||
	    s->mempool_hdr_size != sizeof(struct rte_mempool))
		return -EPROTO;
	if (s->ops_index >= rte_mempool_ops_table.num_ops)
		return -EPROTO;
	ops = &rte_mempool_ops_table.ops[s->ops_index];
	return strncmp(ops->name, s->ops_name, sizeof(s->ops_name)) ? -EPROTO : 0;
}

/* And once mapped: the header at that address is the pool described. */
static int mempool_found(const struct contig_dpdk_share *s, const struct import *im)
{
	const struct rte_mempool *mp = (const struct rte_mempool *)(uintptr_t)s->mempool;

	if (!in_chunks(im->chunks, im->nchunks, mp, sizeof(*mp)) || mp->cache_size != 0 ||
	    !(mp->flags & RTE_MEMPOOL_F_POOL_CREATED))
		return -EINVAL;
	return mp->ops_index == (int32_t)s->ops_index ? 0 : -EPROTO;
}

CD_EXPORT struct rte_mempool *contig_dpdk_mempool_import(const struct contig_dpdk_share *share)
{
	struct import *im;
	int saved = errno, r = share_check(share);

	if (r == 0)
		r = eal_ready();
	if (r == 0)
		r = mempool_compatible(share);
	if (r == 0) {
		pthread_mutex_lock(&lock);
		r = share_import(share, &im);
		if (r == 0) {
			r = mempool_found(share, im);
			if (r < 0) {
				import_unlink(im);
				import_drop(im);
			}
		}
		pthread_mutex_unlock(&lock);
	}
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	errno = saved;
	return (struct rte_mempool *)(uintptr_t)share->mempool;
}

CD_EXPORT int contig_dpdk_heap_detach(const struct contig_dpdk_share *share)
{
	struct import *im;
	int saved = errno, r = share_check(share);

	if (r == 0)
		r = eal_ready();
	if (r < 0)
		return public_ret(r, saved);
	pthread_mutex_lock(&lock);
	im = import_find(share);
	if (im) {
		import_unlink(im);
		import_drop(im);
	}
	pthread_mutex_unlock(&lock);
	return public_ret(im ? 0 : -ENOENT, saved);
}
