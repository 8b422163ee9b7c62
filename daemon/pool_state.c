/* SPDX-License-Identifier: MIT */
/*
 * pool_state.c - the pool in the state memfd (pool.h says what it keeps
 * and how a restart rebuilds it; state.h frames it).
 *
 * What the restore trusts: nothing it cannot check. Structure (ids in
 * range, each page in at most one region, a USED page in exactly one, a
 * region's pages contiguous at its address, slots unique) or the pool is
 * not rebuilt at all; a page's file and frame were checked by the caller.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "state.h"

void pool_save(const struct pool *p, struct state *st, uint64_t (*holder_id)(const void *holder))
{
	struct state_pool *sp;
	struct state_page *pages = NULL;
	uint32_t first = 0;

	state_begin_section(st, STATE_POOL, sizeof(*sp));
	sp = state_item(st);
	if (sp)
		*sp = (struct state_pool){
			.page_size = p->page_size,
			.npages = p->npages,
			.nbase = p->nbase,
			.next_seq = p->next_seq,
			.quarantine_ns = p->quarantine_ns,
			.started_ns = p->started_ns,
			.flags = p->zero_in_place ? STATE_POOL_ZERO_IN_PLACE : 0,
			.oversample = p->oversample,
		};
	state_end_section(st);

	state_begin_section(st, STATE_PAGES, sizeof(struct state_page));
	for (uint32_t id = 0; id < p->npages; id++) {
		struct state_page *sg = state_item(st);
		if (!sg)
			break;
		if (!pages)
			pages = sg;
		sg->phys = p->ext.pages[id].phys;
		sg->ino = p->pages[id].fd >= 0 ? p->pages[id].ino : 0;
		sg->node = p->ext.pages[id].node;
		sg->want_node = p->want_node ? p->want_node[id] : -1;
		sg->state = p->ext.pages[id].state;
	}
	state_end_section(st);
	/* Quarantine deadlines, from the ring. */
	for (uint32_t k = 0; pages && k < p->q_len; k++) {
		const struct quarantine_entry *e = &p->quarantine[(p->q_head + k) % p->npages];
		pages[e->id].deadline = e->deadline;
	}

	state_begin_section(st, STATE_REGIONS, sizeof(struct state_region));
	for (uint32_t slot = 0; slot < p->npages; slot++) {
		const struct region *rg = p->slots[slot];
		struct state_region *sr;

		if (!rg)
			continue;
		sr = state_item(st);
		if (!sr)
			break;
		*sr = (struct state_region){
			.id = rg->id, .nbytes = rg->nbytes, .phys = rg->phys,
			.created_ns = rg->created_ns, .lowest = rg->rq.lowest,
			.highest = rg->rq.highest, .boundary = rg->rq.boundary,
			.node = rg->rq.node, .rq_flags = rg->rq.flags,
			.owner_session = rg->owner.session_id, .owner_pid = rg->owner.pid,
			.owner_uid = rg->owner.uid, .owner_gid = rg->owner.gid,
			.npages = rg->npages, .first = first,
			.flags = (rg->exported ? STATE_REGION_EXPORTED : 0) |
				 (rg->revoked ? STATE_REGION_REVOKED : 0) |
				 (rg->holder_died ? STATE_REGION_HOLDER_DIED : 0) |
				 (rg->carve ? STATE_REGION_CARVE : 0),
		};
		memcpy(sr->owner_comm, rg->owner.comm, sizeof(sr->owner_comm));
		memcpy(sr->token, rg->token, sizeof(sr->token));
		first += rg->npages;
	}
	state_end_section(st);

	state_begin_section(st, STATE_REGION_PAGES, sizeof(uint32_t));
	for (uint32_t slot = 0; slot < p->npages; slot++) {
		const struct region *rg = p->slots[slot];
		for (uint32_t k = 0; rg && k < rg->npages; k++) {
			uint32_t *id = state_item(st);
			if (id)
				*id = rg->ids[k];
		}
	}
	state_end_section(st);

	state_begin_section(st, STATE_LEASES, sizeof(struct state_lease));
	for (uint32_t slot = 0; slot < p->npages; slot++) {
		const struct region *rg = p->slots[slot];
		const struct list_node *n;

		if (!rg)
			continue;
		for (n = rg->leases.next; n != &rg->leases; n = n->next) {
			const struct lease *l = container_of(n, struct lease, by_region);
			struct state_lease *sl = state_item(st);
			if (!sl)
				break;
			sl->region_id = rg->id;
			sl->session_id = holder_id(l->holder);
			sl->refs = l->refs;
		}
	}
	state_end_section(st);
}

/* ---- restore ---- */

static int restore_alloc(struct pool *p, const struct pool_config *cfg, uint32_t n)
{
	*p = (struct pool){ .page_size = cfg->page_size, .npages = n, .pages_cap = n,
			    .reclaim = { .event_fd = -1 }, .next_seq = 1 };
	p->pages = calloc(n, sizeof(*p->pages));
	for (uint32_t i = 0; p->pages && i < n; i++)
		p->pages[i].fd = -1;
	p->slots = calloc(n, sizeof(*p->slots));
	p->free_slots = calloc(n, sizeof(*p->free_slots));
	p->quarantine = calloc(n, sizeof(*p->quarantine));
	p->pending = calloc(n, sizeof(*p->pending));
	return p->pages && p->slots && p->free_slots && p->quarantine && p->pending ? 0 : -ENOMEM;
}

static int by_deadline(const void *a, const void *b)
{
	const struct quarantine_entry *x = a, *y = b;

	return x->deadline < y->deadline ? -1 : x->deadline > y->deadline;
}

/* A page that must never be handed out: its file goes (not revoked: a
 * client may map it), it moves to a placeholder address, it is LOST. */
static void page_lose(struct pool *p, uint32_t id)
{
	backing_page_drop(&p->pages[id], p->page_size);
	(void)extent_set_phys(&p->ext, id, POOL_STALE_PHYS + (uint64_t)id * p->page_size,
			      p->ext.pages[id].node);
	extent_set_state(&p->ext, id, EXTENT_LOST);
}

/* One stored region: rebuilt, detached (a page did not check out), or
 * -EBADMSG. owned: by page id, set once a region took it. */
static int region_restore(struct pool *p, const struct state_view *v,
			  const struct state_region *sr, const struct state_page *sp, uint8_t *owned,
			  struct pool_restore_report *rep)
{
	uint32_t slot = (uint32_t)(sr->id & 0xffffffffu), nids = state_count(v, STATE_REGION_PAGES);
	uint64_t ps = p->page_size;
	bool whole = true;
	struct region *rg;

	if (slot >= p->npages || p->slots[slot] || (sr->id >> 63) || !(sr->id >> 32) ||
	    !sr->npages || sr->npages > p->npages ||
	    !sr->nbytes || (sr->nbytes - 1) / ps + 1 != sr->npages || sr->first > nids ||
	    sr->npages > nids - sr->first)
		return -EBADMSG;
	rg = calloc(1, sizeof(*rg) + sr->npages * sizeof(rg->ids[0]));
	if (!rg)
		return -ENOMEM;
	for (uint32_t k = 0; k < sr->npages; k++) {
		uint32_t id;

		state_get(v, STATE_REGION_PAGES, sr->first + k, &id, sizeof(id));
		if (id >= p->npages || owned[id] || sp[id].state != EXTENT_USED) {
			free(rg);
			return -EBADMSG;
		}
		owned[id] = 1;
		rg->ids[k] = id;
		if (sp[id].phys != sr->phys + (uint64_t)k * ps) {
			free(rg);
			return -EBADMSG;
		}
		if (p->pages[id].fd < 0 || p->ext.pages[id].phys != sp[id].phys)
			whole = false;
	}
	if (!whole) {
		log_warn("restore: region %#" PRIx64 " (session %" PRIu64 ", pid %d, %u pages at "
			 "%#" PRIx64 "): a page's file is missing or not where it was; left to "
			 "the processes that map it, its pages dropped from the pool", sr->id,
			 sr->owner_session, sr->owner_pid, sr->npages, sr->phys);
		for (uint32_t k = 0; k < sr->npages; k++)
			page_lose(p, rg->ids[k]);
		rep->detached++;
		free(rg);
		return 0;
	}
	rg->id = sr->id;
	rg->slot = slot;
	rg->nbytes = sr->nbytes;
	rg->phys = sr->phys;
	rg->npages = sr->npages;
	rg->created_ns = sr->created_ns;
	rg->rq = (struct extent_request){ .nbytes = sr->nbytes, .lowest = sr->lowest,
					  .highest = sr->highest, .boundary = sr->boundary,
					  .node = sr->node, .flags = sr->rq_flags };
	rg->owner = (struct region_owner){ .session_id = sr->owner_session, .pid = sr->owner_pid,
					   .uid = sr->owner_uid, .gid = sr->owner_gid };
	memcpy(rg->owner.comm, sr->owner_comm, sizeof(rg->owner.comm));
	rg->owner.comm[sizeof(rg->owner.comm) - 1] = 0;
	rg->exported = sr->flags & STATE_REGION_EXPORTED;
	rg->revoked = sr->flags & STATE_REGION_REVOKED;
	rg->holder_died = sr->flags & STATE_REGION_HOLDER_DIED;
	rg->carve = sr->flags & STATE_REGION_CARVE;
	memcpy(rg->token, sr->token, sizeof(rg->token));
	list_init(&rg->leases);
	for (uint32_t k = 0; k < rg->npages; k++)
		extent_set_state(&p->ext, rg->ids[k], EXTENT_USED);
	p->slots[slot] = rg;
	p->nregions++;
	if ((sr->id >> 32) >= p->next_seq)
		p->next_seq = (sr->id >> 32) + 1;
	rep->regions++;
	return 0;
}

int pool_restore(struct pool *p, const struct pool_config *cfg, const struct backing_ops *ops,
		 void *ops_ctx, const struct state_view *v, struct backing_page *pages,
		 struct pool_restore_report *rep)
{
	struct state_pool sp0;
	struct state_page *sp = NULL;
	uint64_t *phys = NULL;
	int32_t *node = NULL;
	uint8_t *owned = NULL;
	uint32_t n, nq = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	state_get(v, STATE_POOL, 0, &sp0, sizeof(sp0));
	n = sp0.npages;
	if (state_count(v, STATE_POOL) != 1 || sp0.page_size != cfg->page_size || !n ||
	    n > PROTO_MAX_REGION_PAGES * 8u || state_count(v, STATE_PAGES) != n ||
	    sp0.nbase > n)
		return -EBADMSG;
	r = restore_alloc(p, cfg, n);
	sp = calloc(n, sizeof(*sp));
	phys = calloc(n, sizeof(*phys));
	node = calloc(n, sizeof(*node));
	owned = calloc(n, 1);
	if (r < 0 || !sp || !phys || !node || !owned) {
		r = -ENOMEM;
		goto out;
	}
	p->nbase = sp0.nbase;
	p->ops = ops;
	p->ops_ctx = ops_ctx;
	p->next_seq = sp0.next_seq ? sp0.next_seq : 1;
	p->quarantine_ns = (uint64_t)cfg->quarantine_ms * 1000000u;
	p->zero_in_place = cfg->zero_in_place;
	p->oversample = cfg->want_node ? 0 : cfg->oversample;
	p->started_ns = sp0.started_ns && sp0.started_ns <= now_ns() ? sp0.started_ns : now_ns();
	for (uint32_t id = 0; id < n; id++) {
		state_get(v, STATE_PAGES, id, &sp[id], sizeof(sp[id]));
		if (sp[id].state >= EXTENT_STATE_MAX || sp[id].phys % cfg->page_size) {
			r = -EBADMSG;
			goto out;
		}
		if (sp[id].want_node >= 0 && !p->want_node) {
			p->want_node = calloc(n, sizeof(*p->want_node));
			if (!p->want_node) {
				r = -ENOMEM;
				goto out;
			}
			for (uint32_t k = 0; k < n; k++)
				p->want_node[k] = -1;
		}
		if (p->want_node)
			p->want_node[id] = sp[id].want_node;
	}
	/* Every file is the pool's from here (pool_destroy drops them). */
	for (uint32_t id = 0; id < n; id++) {
		p->pages[id] = pages[id];
		pages[id] = (struct backing_page){ .fd = -1 };
		bool ok = p->pages[id].fd >= 0 && p->pages[id].phys == sp[id].phys;
		phys[id] = ok ? sp[id].phys : POOL_STALE_PHYS + (uint64_t)id * cfg->page_size;
		node[id] = ok ? p->pages[id].node : sp[id].node;
		if (!ok && p->pages[id].fd >= 0)
			backing_page_drop(&p->pages[id], cfg->page_size);
	}
	r = extent_pool_init(&p->ext, p->page_size, n, phys, node);
	if (r < 0) {
		r = -EBADMSG; /* two pages at one frame */
		goto out;
	}
	for (uint32_t i = 0; i < state_count(v, STATE_REGIONS); i++) {
		struct state_region sr;

		state_get(v, STATE_REGIONS, i, &sr, sizeof(sr));
		r = region_restore(p, v, &sr, sp, owned, rep);
		if (r < 0)
			goto out;
	}
	for (uint32_t id = 0; id < n; id++) {
		struct backing_page *pg = &p->pages[id];

		rep->pages++;
		switch (sp[id].state) {
		case EXTENT_USED:
			if (!owned[id]) {
				r = -EBADMSG; /* used, but by no region */
				goto out;
			}
			break;
		case EXTENT_FREE:
		case EXTENT_QUARANTINED:
			if (pg->fd < 0) {
				rep->dropped++;
				page_lose(p, id);
				break;
			}
			if (sp[id].state == EXTENT_QUARANTINED) {
				extent_set_state(&p->ext, id, EXTENT_QUARANTINED);
				p->quarantine[nq++] = (struct quarantine_entry){ id, sp[id].deadline };
			}
			break;
		case EXTENT_RECLAIMING:
			/* A refault or an in-place zeroing that did not finish:
			 * a fresh page (a file zeroed in place may still be mapped
			 * by a trusted former holder: dropped, not reused). */
			if (pg->fd >= 0)
				backing_page_drop(pg, p->page_size);
			extent_set_state(&p->ext, id, EXTENT_RECLAIMING);
			p->pending[p->npending++] = (struct reclaim_job){
				id, p->want_node ? p->want_node[id] : -1, { .fd = -1 } };
			rep->reclaiming++;
			break;
		default:
			page_lose(p, id);
			break;
		}
	}
	rep->lost = p->ext.nstate[EXTENT_LOST];
	qsort(p->quarantine, nq, sizeof(*p->quarantine), by_deadline);
	p->q_head = 0;
	p->q_len = nq;
	rep->quarantined = nq;
	for (uint32_t s = n; s-- > 0;)
		if (!p->slots[s])
			p->free_slots[p->nfree_slots++] = s;
	for (uint32_t id = 0; id < n; id++)
		if (p->pages[id].fd >= 0)
			pool_page_pin(p, id);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	r = reclaim_start(&p->reclaim, n, cfg->reclaim_threads ? cfg->reclaim_threads
				 : (uint32_t)(cpus > 0 ? cpus : 1), ops, ops_ctx, p->page_size);
out:
	free(sp);
	free(phys);
	free(node);
	free(owned);
	return r;
}

int pool_lease_restore(struct pool *p, uint64_t region_id, void *holder, uint32_t refs,
		       struct lease **ret)
{
	struct region *rg = pool_region_find(p, region_id);
	struct lease *l;

	if (!rg)
		return -ENOENT;
	if (!refs || refs > POOL_MAX_LEASE_REFS || pool_lease_of(rg, holder))
		return -EBADMSG;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->region = rg;
	l->holder = holder;
	l->refs = refs;
	list_init(&l->by_holder);
	list_add_tail(&rg->leases, &l->by_region);
	rg->nleases++;
	*ret = l;
	return 0;
}

void pool_restore_finish(struct pool *p)
{
	for (uint32_t slot = 0; slot < p->npages; slot++) {
		struct region *rg = p->slots[slot];

		if (rg && !rg->nleases) {
			log_info("restore: region %#" PRIx64 " of session %" PRIu64 " has no holder "
				 "any more: released as its holder died", rg->id,
				 rg->owner.session_id);
			rg->holder_died = true;
			pool_region_release(p, rg, true);
		}
	}
	p->version++;
}
