/* SPDX-License-Identifier: MIT */
/*
 * contig.c - the public API, the top layer of libcontig: argument checks,
 * errno at the boundary (saved and restored on success), the order in which
 * the layers below are asked (carving, the stash, the daemon), the
 * translation of addresses to physical ones, and fork handling (regions are
 * MADV_DONTFORK; the child starts a session of its own on first use).
 *
 * Layers, each calling only the ones below it:
 *   contig.c   the API
 *   carve.c    page granularity: small regions carved from leased pages
 *   stash.c    freed regions kept (and the table carve.c parks pages in)
 *   regions.c  the region index (stash.c keeps its entries under its lock)
 *   link.c     the session with contigd, over proto/client.c
 * Lock order: an arena's lock (carve.c), then the stash's asking lock,
 * then link's, then the regions lock.
 *
 * contig_phys_addr is on DMA hot paths, so its common case is one
 * thread-local compare: each thread caches the last regions it translated
 * with the generation it saw; every removal of a region from the index bumps
 * the generation, so a cached region is only used while it is certainly
 * still live. Carved regions are not cached: their lookup takes no lock
 * anyway (carve.c), and a free per generation bump would make every
 * thread's frees write one shared line (ixy and VPP do the same
 * translation, run->pa + (va - run->va), without the safety).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contig.h"
#include "link.h"
#include "regions.h"
#include "carve.h"
#include "stash.h"

#define LC_EXPORT __attribute__((visibility("default")))

/* Whole pool pages (CONTIG_SHAREABLE): alloc_common's own flag, never sent. */
#define ALLOC_WHOLE (1u << 31)

/* A few entries: code that alternates between its RX and TX rings, or
 * walks several buffers, stays on the fast path. */
#define XLATE_WAYS 4

struct xlate {
	uintptr_t base, end;
	uint64_t phys;
	uint64_t gen;
};
static __thread struct xlate xlate[XLATE_WAYS] __attribute__((tls_model("initial-exec")));
static __thread unsigned xlate_next __attribute__((tls_model("initial-exec")));
/* Read by every translation, bumped whenever one may have gone stale. */
static _Atomic uint64_t xlate_gen = 1;

static uint64_t xlate_gen_now(void)
{
	return atomic_load_explicit(&xlate_gen, memory_order_acquire);
}

/* A region left the index: every thread's cached translations are stale. Called before the memory can be reused. */
static void xlate_forget(void)
{
	atomic_fetch_add_explicit(&xlate_gen, 1, memory_order_release);
}

/* Cache [base, end) -> phys for this thread; gen read before the lookup it
 * describes (any removal since then makes the entry stale). */
static uint64_t xlate_fill(uintptr_t va, uintptr_t base, uint64_t nbytes, uint64_t phys,
			   uint64_t gen)
{
	xlate[xlate_next++ % XLATE_WAYS] = (struct xlate){ base, base + nbytes, phys, gen };
	return phys + (va - base);
}

static void atfork_prepare(void)
{
	carve_fork_prepare();
	stash_fork_prepare();
	link_fork_prepare();
	regions_lock();
}

static void atfork_parent(void)
{
	regions_unlock();
	link_fork_parent();
	stash_fork_parent();
	carve_fork_parent();
}

/* The child has none of the parent's regions (MADV_DONTFORK) and must not
 * speak on the parent's session: drop both, quietly. */
static void atfork_child(void)
{
	regions_clear();
	xlate_forget();
	regions_unlock();
	link_fork_child();
	stash_fork_child();
	carve_fork_child();
}

__attribute__((constructor)) static void libcontig_init(void)
{
	link_init(stash_end);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void *fail_null(int r)
{
	errno = -r;
	return NULL;
}

static int fail(int r)
{
	errno = -r;
	return -1;
}

/* Fetch a region and record it in the region index. */
static void *region_request(uint16_t type, const void *body, size_t len, void *fixed_va)
{
	struct region reg = { 0 };
	int saved = errno, r;

	r = link_region_fetch(type, body, len, fixed_va, &reg);
	reg.shared = type == PROTO_IMPORT;
	if (r == 0) {
		regions_lock();
		r = regions_insert(&reg);
		regions_unlock();
		if (r < 0)
			link_region_free(&reg);
	}
	if (r < 0)
		return fail_null(r);
	errno = saved;
	return (void *)reg.base;
}

static void *alloc_common(size_t nbytes, uint64_t lowest, uint64_t highest, uint64_t boundary,
			  enum contig_cache cache, int node, uint32_t flags)
{
	struct proto_alloc a = {
		.nbytes = nbytes, .lowest = lowest, .highest = highest, .boundary = boundary,
		.cache = (uint32_t)cache, .node = node, .flags = flags & ~ALLOC_WHOLE,
	};
	int saved = errno, r;
	void *p = NULL;

	/* An out-of-range int node must not wrap into a valid one. */
	if ((unsigned)cache >= PROTO_CACHE_MAX || node < CONTIG_NODE_ANY || node >= PROTO_MAX_NODES)
		return fail_null(-EINVAL);
	r = proto_alloc_check(&a);
	if (r < 0)
		return fail_null(r);
	if (cache != CONTIG_CACHED)
		return fail_null(-ENOTSUP);
	if (!(flags & ALLOC_WHOLE)) {
		r = carve_alloc(&a, &p);
		if (r == 0) {
			errno = saved;
			return p;
		}
		if (r != -ENOTSUP)
			return fail_null(r);
	}
	if (stash_get(&a, &p) == 0) {
		errno = saved;
		return p;
	}
	return region_request(PROTO_ALLOC, &a, sizeof(a), NULL);
}

static int current_node(void)
{
	unsigned cpu, node;

	return getcpu(&cpu, &node) == 0 ? (int)node : CONTIG_NODE_ANY;
}

LC_EXPORT void *contig_alloc(size_t nbytes, uint64_t highest_acceptable_address)
{
	return alloc_common(nbytes, 0, highest_acceptable_address, 0, CONTIG_CACHED,
			    CONTIG_NODE_ANY, 0);
}

LC_EXPORT void *contig_alloc_specify_cache(size_t nbytes, uint64_t lowest, uint64_t highest,
					   uint64_t boundary, enum contig_cache cache_type)
{
	return alloc_common(nbytes, lowest, highest, boundary, cache_type, CONTIG_NODE_ANY, 0);
}

LC_EXPORT void *contig_alloc_node(size_t nbytes, uint64_t lowest, uint64_t highest,
				  uint64_t boundary, enum contig_cache cache_type, int preferred_node)
{
	if (preferred_node == CONTIG_NODE_ANY)
		preferred_node = current_node();
	return alloc_common(nbytes, lowest, highest, boundary, cache_type, preferred_node, 0);
}

LC_EXPORT void *contig_alloc_node_strict(size_t nbytes, uint64_t lowest, uint64_t highest,
					 uint64_t boundary, enum contig_cache cache_type, int node)
{
	if (node < 0)
		return fail_null(-EINVAL);
	return alloc_common(nbytes, lowest, highest, boundary, cache_type, node,
			    PROTO_ALLOC_NODE_STRICT);
}

LC_EXPORT void *contig_alloc_flags(size_t nbytes, uint64_t lowest, uint64_t highest,
				   uint64_t boundary, int node, unsigned flags)
{
	if (flags & ~(unsigned)(CONTIG_SHAREABLE | CONTIG_NODE_STRICT))
		return fail_null(-EINVAL);
	if ((flags & CONTIG_NODE_STRICT) && node < 0)
		return fail_null(-EINVAL);
	return alloc_common(nbytes, lowest, highest, boundary, CONTIG_CACHED, node,
			    ((flags & CONTIG_NODE_STRICT) ? PROTO_ALLOC_NODE_STRICT : 0) |
				    ((flags & CONTIG_SHAREABLE) ? ALLOC_WHOLE : 0));
}

LC_EXPORT void contig_free(void *base)
{
	struct region *r, reg;
	int saved = errno, kept;

	if (!base)
		return;
	if (carve_free(base)) {
		errno = saved;
		return;
	}
	regions_lock();
	r = regions_find((uintptr_t)base);
	if (!r || r->base != (uintptr_t)base) {
		regions_unlock();
		return;
	}
	reg = *r;
	regions_remove(r);
	xlate_forget();
	kept = stash_put(&reg);
	regions_unlock();
	/* A session's first keep asks the daemon for its table. */
	if (kept == -ENOENT && stash_want_table(&reg)) {
		regions_lock();
		kept = stash_put(&reg);
		regions_unlock();
	}
	if (kept < 0)
		link_region_free(&reg);
	errno = saved;
}

/* The physical address of va in the region index; the answer is cached
 * for this thread. */
__attribute__((noinline)) static uint64_t phys_slow(uintptr_t va)
{
	uint64_t gen = xlate_gen_now(), phys = CONTIG_PHYS_INVALID;
	struct region *r;

	regions_lock();
	r = regions_find(va);
	/* Only bytes the caller asked for have a meaningful address. */
	if (r && va - r->base < r->nbytes)
		phys = xlate_fill(va, r->base, r->nbytes, r->phys, gen);
	regions_unlock();
	return phys;
}

LC_EXPORT uint64_t contig_phys_addr(const void *va)
{
	uintptr_t a = (uintptr_t)va;
	uint64_t gen = xlate_gen_now(), phys;

	for (unsigned i = 0; i < XLATE_WAYS; i++) {
		const struct xlate *c = &xlate[i];
		if (a - c->base < c->end - c->base && c->gen == gen)
			return c->phys + (a - c->base);
	}
	if (carve_phys(va, &phys))
		return phys;
	return phys_slow(a);
}

LC_EXPORT int contig_query_node(int node, struct contig_pool_info *info)
{
	struct proto_pool_info pi;
	int saved = errno, r;

	if (!info || node < CONTIG_NODE_ANY || node >= PROTO_MAX_NODES)
		return fail(-EINVAL);
	/* Describe the pool as it is: pages this process keeps idle for
	 * carving go back first. */
	carve_trim();
	r = link_query(node, &pi);
	if (r < 0)
		return fail(r);
	info->page_size = pi.page_size;
	info->total_bytes = pi.total_bytes;
	info->free_bytes = pi.free_bytes;
	info->largest_free_run = pi.largest_free_run;
	errno = saved;
	return 0;
}

LC_EXPORT int contig_query(struct contig_pool_info *info)
{
	return contig_query_node(CONTIG_NODE_ANY, info);
}

LC_EXPORT int contig_export(const void *base, struct contig_handle *ret_handle)
{
	struct region *reg, copy = { 0 };
	struct proto_handle h;
	int saved = errno, r;

	if (!ret_handle)
		return fail(-EINVAL);
	if (carve_owns(base))
		return fail(-ENOTSUP); /* its page holds this process's other regions */
	regions_lock();
	reg = regions_find((uintptr_t)base);
	if (reg && reg->base == (uintptr_t)base) {
		/* Shared from now on (even if the call fails half-way): its
		 * free waits for the answer. */
		reg->shared = true;
		copy = *reg;
	}
	regions_unlock();
	if (!copy.base)
		return fail(-ENOENT);
	r = link_export(&copy, &h);
	if (r < 0)
		return fail(r);
	static_assert(sizeof(ret_handle->opaque) == sizeof(h.bytes), "contig_handle");
	memcpy(ret_handle->opaque, h.bytes, sizeof(ret_handle->opaque));
	errno = saved;
	return 0;
}

LC_EXPORT void *contig_import(const struct contig_handle *handle, void *fixed_va)
{
	struct proto_handle h;

	if (!handle)
		return fail_null(-EINVAL);
	/* Addresses of regions this process freed are free to it: stashed
	 * ones are given up rather than make a fixed import fail EEXIST. */
	if (fixed_va)
		stash_flush();
	memcpy(h.bytes, handle->opaque, sizeof(h.bytes));
	return region_request(PROTO_IMPORT, &h, sizeof(h), fixed_va);
}

LC_EXPORT int contig_revoke(const struct contig_handle *handle)
{
	struct proto_handle h;
	int saved = errno, r;

	if (!handle)
		return fail(-EINVAL);
	memcpy(h.bytes, handle->opaque, sizeof(h.bytes));
	r = link_revoke(&h);
	if (r < 0)
		return fail(r);
	errno = saved;
	return 0;
}

LC_EXPORT int contig_region_info(const void *va, struct contig_region_info *ret)
{
	struct region *reg;
	int saved = errno, found;

	if (!ret)
		return fail(-EINVAL);
	regions_lock();
	reg = regions_find((uintptr_t)va);
	found = reg != NULL;
	if (reg)
		*ret = (struct contig_region_info){
			.base = (void *)reg->base, .nbytes = reg->nbytes, .mapped_bytes = reg->mapped,
			.page_size = reg->page_size, .phys = reg->phys, .node = reg->node,
		};
	regions_unlock();
	if (!found)
		found = carve_info(va, ret) == 0;
	if (!found)
		return fail(-ENOENT);
	errno = saved;
	return 0;
}
