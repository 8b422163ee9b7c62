/* SPDX-License-Identifier: MIT */
/*
 * contig.c - the public API: argument checks, errno at the boundary (saved
 * and restored on success), one lock, one retry after a lost daemon, and
 * fork handling (regions are MADV_DONTFORK; the child starts a session of
 * its own on first use).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "contig.h"
#include "internal.h"

struct lc_state lc = { .lock = PTHREAD_MUTEX_INITIALIZER, .table = PTHREAD_MUTEX_INITIALIZER,
			.sock = -1 };

static void atfork_prepare(void)
{
	small_atfork_lock();
	pthread_mutex_lock(&lc.lock);
	pthread_mutex_lock(&lc.table);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&lc.table);
	pthread_mutex_unlock(&lc.lock);
	small_atfork_unlock();
}

/* The child has none of the parent's regions (MADV_DONTFORK) and must not
 * speak on the parent's session: drop both, quietly. */
static void atfork_child(void)
{
	if (lc.sock >= 0)
		close(lc.sock);
	lc.sock = -1;
	lc.owed = 0;
	lc.session_gen++;
	regions_clear();
	small_forget();
	stash_forget();
	pthread_mutex_unlock(&lc.table);
	pthread_mutex_unlock(&lc.lock);
	small_atfork_unlock();
}

__attribute__((constructor)) static void lc_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void *fail_null(int r)
{
	errno = -r;
	return NULL;
}

/* Run a region request (ALLOC or IMPORT) and map what comes back, without
 * recording it anywhere. A daemon lost between calls costs one reconnect;
 * one lost during the call is retried once on a fresh session (the dead
 * daemon's state died with it). Called with lc.lock held. */
static int region_fetch(uint16_t type, const void *body, size_t len, void *fixed_va,
			struct lc_region *ret)
{
	int r = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		/* A first request rides right behind the HELLO: one wait saved. */
		r = link_ensure_async();
		if (r < 0)
			break;
		uint32_t request = ++lc.next_request;
		r = link_send(type, request, body, len);
		if (r == 0)
			r = link_recv_region(request, fixed_va, ret);
		if (r != -ECONNRESET)
			break;
	}
	return r;
}

/*
 * A region only this process ever mapped needs no answer to its FREE: our
 * mapping is gone before the message leaves, and the daemon handles a
 * session's requests in order, so it revokes the pages before it serves our
 * next request, and before anyone else can be given them. A shared region
 * waits for the answer, so that when contig_free returns the pages have
 * been revoked from every mapping (unless another holder keeps them).
 */
void lc_region_release(const struct lc_region *reg)
{
	munmap((void *)reg->base, reg->mapped);
	pthread_mutex_lock(&lc.lock);
	if (reg->session_gen == lc.session_gen && lc.sock >= 0) {
		struct proto_free f = { .region_id = reg->id };
		struct proto_msg rep;

		if (!reg->shared && lc.owed < LC_MAX_OWED) {
			if (link_send(PROTO_FREE, ++lc.next_request, &f, sizeof(f)) == 0)
				lc.owed++;
		} else {
			(void)link_call(PROTO_FREE, &f, sizeof(f), PROTO_STATUS, &rep);
		}
	}
	pthread_mutex_unlock(&lc.lock);
}

int lc_region_alloc(const struct proto_alloc *a, struct lc_region *ret)
{
	int r;

	pthread_mutex_lock(&lc.lock);
	r = region_fetch(PROTO_ALLOC, a, sizeof(*a), NULL, ret);
	pthread_mutex_unlock(&lc.lock);
	return r;
}

/* Fetch a region and record it in the table of live regions. */
static void *region_request(uint16_t type, const void *body, size_t len, void *fixed_va)
{
	struct lc_region reg = { 0 };
	int saved = errno, r;

	pthread_mutex_lock(&lc.lock);
	r = region_fetch(type, body, len, fixed_va, &reg);
	pthread_mutex_unlock(&lc.lock);
	reg.shared = type == PROTO_IMPORT;
	if (r == 0) {
		pthread_mutex_lock(&lc.table);
		r = regions_insert(&reg);
		pthread_mutex_unlock(&lc.table);
		if (r < 0)
			lc_region_release(&reg);
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
		.cache = (uint32_t)cache, .node = node, .flags = flags,
	};
	int r;

	/* An out-of-range int node must not wrap into a valid one. */
	if ((unsigned)cache >= PROTO_CACHE_MAX || node < CONTIG_NODE_ANY || node >= PROTO_MAX_NODES)
		return fail_null(-EINVAL);
	r = proto_alloc_check(&a);
	if (r < 0)
		return fail_null(r);
	if (cache != CONTIG_CACHED)
		return fail_null(-ENOTSUP);
	if (small_wanted(&a)) {
		int saved = errno;
		void *p = NULL;
		r = small_alloc(&a, &p);
		if (r < 0)
			return fail_null(r);
		errno = saved;
		return p;
	}
	{
		int saved = errno;
		void *p = NULL;
		if (stash_get(&a, &p) == 0) {
			errno = saved;
			return p;
		}
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

LC_EXPORT void contig_free(void *base)
{
	struct lc_region *r, reg;
	int saved = errno;

	if (!base)
		return;
	if (small_free(base)) {
		errno = saved;
		return;
	}
	pthread_mutex_lock(&lc.table);
	r = regions_find((uintptr_t)base);
	if (!r || r->base != (uintptr_t)base) {
		pthread_mutex_unlock(&lc.table);
		return;
	}
	reg = *r;
	regions_remove(r);
	bool kept = stash_put(&reg);
	pthread_mutex_unlock(&lc.table);
	/* A session's first keep asks the daemon for its table. */
	if (!kept && stash_want_table(&reg)) {
		pthread_mutex_lock(&lc.table);
		kept = stash_put(&reg);
		pthread_mutex_unlock(&lc.table);
	}
	if (!kept)
		lc_region_release(&reg);
	errno = saved;
}

LC_EXPORT int contig_query_node(int node, struct contig_pool_info *info)
{
	struct proto_query q = { .node = node };
	struct proto_msg rep;
	int saved = errno, r;

	if (!info || node < CONTIG_NODE_ANY || node >= PROTO_MAX_NODES) {
		errno = EINVAL;
		return -1;
	}
	/* Describe the pool as it is: pages this process keeps idle for small
	 * regions go back first. */
	small_trim();
	pthread_mutex_lock(&lc.lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		r = link_ensure();
		if (r == 0)
			r = link_call(PROTO_QUERY, &q, sizeof(q), PROTO_POOL_INFO, &rep);
		if (r != -ECONNRESET)
			break;
	}
	pthread_mutex_unlock(&lc.lock);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	info->page_size = rep.body.pool_info.page_size;
	info->total_bytes = rep.body.pool_info.total_bytes;
	info->free_bytes = rep.body.pool_info.free_bytes;
	info->largest_free_run = rep.body.pool_info.largest_free_run;
	errno = saved;
	return 0;
}

LC_EXPORT int contig_query(struct contig_pool_info *info)
{
	return contig_query_node(CONTIG_NODE_ANY, info);
}

LC_EXPORT int contig_export(const void *base, struct contig_handle *ret_handle)
{
	struct proto_msg rep;
	struct lc_region *reg;
	int saved = errno, r;

	if (!ret_handle) {
		errno = EINVAL;
		return -1;
	}
	if (small_owns(base)) {
		/* Carved from a page shared with other small regions. */
		errno = ENOTSUP;
		return -1;
	}
	pthread_mutex_lock(&lc.lock);
	pthread_mutex_lock(&lc.table);
	reg = regions_find((uintptr_t)base);
	struct lc_region copy = reg ? *reg : (struct lc_region){ 0 };
	pthread_mutex_unlock(&lc.table);
	if (!reg || copy.base != (uintptr_t)base)
		r = -ENOENT;
	else if (copy.session_gen != lc.session_gen || lc.sock < 0)
		r = -ECONNRESET; /* its daemon is gone: nothing to share it through */
	else {
		struct proto_export e = { .region_id = copy.id };
		/* Shared from now on (even if the call fails half-way): its
		 * free waits for the answer. */
		pthread_mutex_lock(&lc.table);
		reg = regions_find((uintptr_t)base);
		if (reg && reg->base == (uintptr_t)base)
			reg->shared = true;
		pthread_mutex_unlock(&lc.table);
		r = link_call(PROTO_EXPORT, &e, sizeof(e), PROTO_HANDLE, &rep);
	}
	pthread_mutex_unlock(&lc.lock);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	memcpy(ret_handle->opaque, rep.body.handle.bytes, sizeof(ret_handle->opaque));
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
	struct proto_msg rep;
	int saved = errno, r;

	if (!handle) {
		errno = EINVAL;
		return -1;
	}
	memcpy(h.bytes, handle->opaque, sizeof(h.bytes));
	pthread_mutex_lock(&lc.lock);
	r = link_ensure();
	if (r == 0)
		r = link_call(PROTO_REVOKE, &h, sizeof(h), PROTO_STATUS, &rep);
	if (r == 0 && rep.body.status.error)
		r = -rep.body.status.error;
	pthread_mutex_unlock(&lc.lock);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved;
	return 0;
}

LC_EXPORT int contig_region_info(const void *va, struct contig_region_info *ret)
{
	struct lc_region *reg;
	int saved = errno, found;

	if (!ret) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&lc.table);
	reg = regions_find((uintptr_t)va);
	found = reg != NULL;
	if (reg)
		*ret = (struct contig_region_info){
			.base = (void *)reg->base, .nbytes = reg->nbytes, .mapped_bytes = reg->mapped,
			.page_size = reg->page_size, .phys = reg->phys, .node = reg->node,
		};
	pthread_mutex_unlock(&lc.table);
	if (!found)
		found = small_info(va, ret) == 0;
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	errno = saved;
	return 0;
}
