/* SPDX-License-Identifier: MIT */
/*
 * pool.c - see pool.h for the ownership rules. This file turns allocator
 * decisions (extent.c) into regions and leases, and revoked pages into
 * reclaim jobs (reclaim.c).
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct fault_job {
	struct pool *p;
	uint32_t *next;              /* shared: the next id to fault */
	uint32_t end;
	int error;
	int *pinned;                 /* shared, by id: the pin's result, accounted later */
	const struct start_watch *watch;
};

/* Start-up fault-in: the kernel's zeroing of each page is what costs, so
 * every thread takes the next page from one counter (a thread whose CPU is
 * busy elsewhere simply takes fewer). */
static void *fault_worker(void *arg)
{
	struct fault_job *job = arg;
	struct pool *p = job->p;

	for (;;) {
		uint32_t id;
		int r;

		/* A stop is seen before an id is taken: every id taken is filled
		 * (the caller drops the prepared pages from *next on). */
		if (!start_watch_tick(job->watch, "faulting the pool",
				      __atomic_load_n(job->next, __ATOMIC_RELAXED), job->end)) {
			job->error = -EINTR;
			break;
		}
		id = __atomic_fetch_add(job->next, 1, __ATOMIC_RELAXED);
		if (id >= job->end)
			break;
		if (p->want_node && p->ops->bind) {
			r = p->ops->bind(p->ops_ctx, p->want_node[id]);
			if (r < 0) {
				job->error = r;
				break;
			}
		}
		r = p->ops->fill ? p->ops->fill(p->ops_ctx, p->page_size, &p->pages[id])
				 : p->ops->acquire(p->ops_ctx, p->page_size, &p->pages[id]);
		if (r < 0) {
			job->error = r;
			break;
		}
		/* Pinned here, while the other workers zero theirs (the
		 * kernel serialises the pins themselves on the ring). */
		if (job->pinned)
			job->pinned[id] = p->ops->pin(p->ops_ctx, id, &p->pages[id], p->page_size);
	}
	if (p->want_node && p->ops->bind)
		(void)p->ops->bind(p->ops_ctx, -1);
	return NULL;
}

static int fault_all(struct pool *p, uint32_t nfault, uint32_t threads, int *pinned,
		     const struct start_watch *watch, uint32_t *ret_got)
{
	struct fault_job jobs[16];
	pthread_t tids[16];
	uint32_t n = threads, got = 0, next = 0;
	int r = 0;

	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (uint32_t)cpus : 1;
	}
	if (n > 16)
		n = 16;
	if (n > nfault)
		n = nfault ? nfault : 1;
	/* The cheap half first, here, for every page; a shortage stops it. */
	uint32_t end = nfault;
	for (uint32_t id = 0; p->ops->prepare && id < nfault; id++) {
		r = p->ops->prepare(p->ops_ctx, p->page_size, &p->pages[id]);
		if (r < 0) {
			end = id;
			break;
		}
	}
	for (uint32_t k = 0; k < n; k++) {
		jobs[k] = (struct fault_job){ .p = p, .next = &next, .end = end, .pinned = pinned,
					      .watch = watch };
		if (k > 0 && pthread_create(&tids[k], NULL, fault_worker, &jobs[k]) != 0) {
			jobs[k].error = -EAGAIN;
			fault_worker(&jobs[k]);
		}
	}
	fault_worker(&jobs[0]);
	for (uint32_t k = 1; k < n; k++)
		pthread_join(tids[k], NULL);
	for (uint32_t k = 0; k < n; k++)
		if (jobs[k].error && jobs[k].error != -EAGAIN)
			r = jobs[k].error;
	/* Pages prepared but never filled (a worker stopped on an error). */
	for (uint32_t id = next < end ? next : end; id < end; id++)
		backing_page_drop(&p->pages[id], p->page_size);
	for (uint32_t id = 0; id < nfault; id++)
		got += p->pages[id].fd >= 0;
	*ret_got = got;
	return r;
}

/* Pin a page against migration; a failure is counted and logged once, the
 * page still serves (audits then catch a move). */
static void pin_account(struct pool *p, uint32_t id, int r)
{
	if (r == -EOPNOTSUPP) /* pinning off (--no-pin) or no io_uring: said at start */
		return;
	if (r < 0 && !p->stats.pin_failures++)
		log_warn("cannot pin page %u against migration: %s", id, strerror(-r));
	if (r == 0)
		p->stats.pinned++;
}

void pool_page_pin(struct pool *p, uint32_t id)
{
	if (p->ops->pin)
		pin_account(p, id, p->ops->pin(p->ops_ctx, id, &p->pages[id], p->page_size));
}

int pool_init(struct pool *p, const struct pool_config *cfg, const struct backing_ops *ops,
	      void *ops_ctx, uint32_t *ret_got)
{
	uint64_t *phys = NULL;
	int32_t *node = NULL;
	int *pinned = NULL;
	int r;

	uint32_t cap = cfg->npages + cfg->nextra;

	*p = (struct pool){ .page_size = cfg->page_size, .npages = cfg->npages + cfg->nextra,
			    .nbase = cfg->npages, .ops = ops,
			    .ops_ctx = ops_ctx, .next_seq = 1, .started_ns = now_ns(),
			    .quarantine_ns = (uint64_t)cfg->quarantine_ms * 1000000u,
			    .pages_cap = cap, .zero_in_place = cfg->zero_in_place,
			    .oversample = cfg->want_node ? 0 : cfg->oversample,
			    .reclaim = { .event_fd = -1 } };
	*ret_got = 0;
	if (!p->npages || cfg->npages > PROTO_MAX_REGION_PAGES * 4u ||
	    cfg->nextra > PROTO_MAX_REGION_PAGES * 4u)
		return -EINVAL;
	p->pages = calloc(cap, sizeof(*p->pages));
	/* Before anything can fail: pool_destroy must not close fd 0. */
	for (uint32_t i = 0; p->pages && i < cap; i++)
		p->pages[i].fd = -1;
	p->slots = calloc(p->npages, sizeof(*p->slots));
	p->free_slots = calloc(p->npages, sizeof(*p->free_slots));
	p->quarantine = calloc(p->npages, sizeof(*p->quarantine));
	p->pending = calloc(p->npages, sizeof(*p->pending));
	phys = calloc(p->npages, sizeof(*phys));
	node = calloc(p->npages, sizeof(*node));
	if (!p->pages || !p->slots || !p->free_slots || !p->quarantine || !p->pending || !phys ||
	    !node) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < p->npages; i++)
		p->free_slots[i] = p->npages - 1 - i;
	p->nfree_slots = p->npages;

	if (cfg->want_node) {
		p->want_node = calloc(p->npages, sizeof(*p->want_node));
		if (!p->want_node) {
			r = -ENOMEM;
			goto out;
		}
		for (uint32_t i = 0; i < p->npages; i++)
			p->want_node[i] = i < cfg->npages ? cfg->want_node[i] : -1;
	}
	if (ops->pin) {
		pinned = calloc(cfg->npages, sizeof(*pinned));
		if (!pinned) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = fault_all(p, cfg->npages, cfg->threads, pinned, cfg->watch, ret_got);
	if (*ret_got < cfg->npages) {
		if (r == 0)
			r = -ENOMEM;
		goto out;
	}
	r = 0;
	*ret_got = cfg->npages;
	for (uint32_t i = 0; i < cfg->nextra; i++) {
		p->pages[cfg->npages + i] = cfg->extra[i];
		cfg->extra[i] = (struct backing_page){ .fd = -1 };
	}
	for (uint32_t i = 0; p->want_node && i < cfg->npages; i++) {
		if (p->pages[i].node == p->want_node[i])
			continue;
		/* Counted where it is, not where it was asked for. */
		p->stats.wrong_node++;
		log_warn("page %u landed on node %d instead of node %d", i, p->pages[i].node,
			 p->want_node[i]);
	}
	for (uint32_t i = 0; i < p->npages; i++) {
		phys[i] = p->pages[i].phys;
		node[i] = p->pages[i].node;
	}
	for (uint32_t i = 0; pinned && i < cfg->npages; i++)
		pin_account(p, i, pinned[i]);
	for (uint32_t i = cfg->npages; i < p->npages; i++)
		pool_page_pin(p, i);
	r = extent_pool_init(&p->ext, p->page_size, p->npages, phys, node);
	if (r < 0)
		goto out;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	r = reclaim_start(&p->reclaim, p->npages, cfg->reclaim_threads ? cfg->reclaim_threads
				     : (uint32_t)(cpus > 0 ? cpus : 1), ops, ops_ctx, p->page_size);
out:
	free(pinned);
	free(phys);
	free(node);
	return r;
}


void pool_destroy(struct pool *p)
{
	reclaim_stop(&p->reclaim);
	for (uint32_t s = 0; p->slots && s < p->npages; s++) {
		struct region *rg = p->slots[s];
		if (!rg)
			continue;
		while (!list_empty(&rg->leases)) {
			struct lease *l = container_of(rg->leases.next, struct lease, by_region);
			list_del(&l->by_region);
			list_del(&l->by_holder);
			free(l);
		}
		free(rg);
	}
	/* Not revoked: clients that still map pages keep them (daemon restart),
	 * the rest go back to the kernel when the fds close. */
	for (uint32_t i = 0; p->pages && i < p->pages_cap; i++)
		backing_page_drop(&p->pages[i], p->page_size);
	extent_pool_destroy(&p->ext);
	free(p->pages);
	free(p->slots);
	free(p->free_slots);
	free(p->quarantine);
	free(p->pending);
	p->pending = NULL;
	free(p->want_node);
	p->want_node = NULL;
	p->quarantine = NULL;
	p->pages = NULL;
	p->slots = NULL;
	p->free_slots = NULL;
}

void pool_set_quarantine(struct pool *p, uint32_t ms)
{
	p->quarantine_ns = (uint64_t)ms * 1000000u;
	p->version++;
}

struct region *pool_region_find(struct pool *p, uint64_t id)
{
	uint32_t slot = (uint32_t)(id & 0xffffffffu);
	struct region *rg;

	if (slot >= p->npages)
		return NULL;
	rg = p->slots[slot];
	return rg && rg->id == id ? rg : NULL;
}

struct lease *pool_lease_of(struct region *r, void *holder)
{
	struct list_node *n, *t;

	list_for_each_safe(n, t, &r->leases) {
		struct lease *l = container_of(n, struct lease, by_region);
		if (l->holder == holder)
			return l;
	}
	return NULL;
}

int pool_lease_add(struct pool *p, struct region *rg, void *holder, struct lease **ret)
{
	struct lease *l = pool_lease_of(rg, holder);

	(void)p;
	if (l) {
		/* The count must not wrap back to a lease that one free ends. */
		if (l->refs >= POOL_MAX_LEASE_REFS)
			return -EOVERFLOW;
		l->refs++;
		p->version++;
		*ret = l;
		return 0;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->region = rg;
	l->holder = holder;
	l->refs = 1;
	list_init(&l->by_holder);
	list_add_tail(&rg->leases, &l->by_region);
	rg->nleases++;
	p->version++;
	*ret = l;
	return 0;
}

/* Would the frees in flight make rq fit? Pages in reclaim usually come back
 * at the same frames (the kernel's free list is LIFO), so the core answers
 * as if they will (EXTENT_WITH_PENDING); if one comes back elsewhere, the
 * waiting request is tried again then and answered. Pages still in
 * quarantine join reclaim when it ends: while they wait, so does a request
 * that their number could satisfy. */
static bool wait_could_help(struct pool *p, const struct extent_request *rq)
{
	struct extent_request pending = *rq;
	struct extent_range range;

	pending.flags |= EXTENT_WITH_PENDING;
	if (pool_reclaiming(p) && extent_find(&p->ext, &pending, &range) == 0)
		return true;
	return p->q_len && (uint64_t)(p->ext.nstate[EXTENT_FREE] + pool_reclaiming(p) + p->q_len) *
				   p->page_size >= rq->nbytes;
}

int pool_alloc(struct pool *p, const struct extent_request *rq, const struct region_owner *owner,
	       bool carve, void *holder, struct lease **ret)
{
	struct extent_range range;
	struct region *rg;
	struct lease *l;
	int r;

	r = extent_find(&p->ext, rq, &range);
	if (r == -ENOMEM && wait_could_help(p, rq))
		return -EAGAIN;
	if (r < 0)
		return r;
	if (!p->nfree_slots)
		return -ENOMEM;

	rg = calloc(1, sizeof(*rg) + range.count * sizeof(rg->ids[0]));
	if (!rg)
		return -ENOMEM;
	rg->slot = p->free_slots[--p->nfree_slots];
	/* 31 bits of sequence: bit 63 marks a taken stash slot (proto.h),
	 * and an id is never 0 (an empty slot). The sequence wraps after
	 * 2^31 - 1 regions; an id then repeats only for the same slot. */
	if ((p->next_seq & 0x7fffffffu) == 0)
		p->next_seq++;
	rg->id = ((p->next_seq++ & 0x7fffffffu) << 32) | rg->slot;
	rg->nbytes = rq->nbytes;
	rg->phys = range.phys;
	rg->npages = range.count;
	rg->rq = *rq;
	rg->owner = *owner;
	rg->carve = carve;
	rg->created_ns = now_ns();
	list_init(&rg->leases);
	for (uint32_t k = 0; k < range.count; k++)
		rg->ids[k] = extent_id_at(&p->ext, range.pos + k);
	extent_take(&p->ext, &range);
	p->slots[rg->slot] = rg;
	p->nregions++;

	r = pool_lease_add(p, rg, holder, &l);
	if (r < 0) {
		pool_region_release(p, rg, false);
		return r;
	}
	p->stats.allocs++;
	p->stats.bytes_served += rq->nbytes;
	p->version++;
	*ret = l;
	return 0;
}

static void page_revoke(struct pool *p, uint32_t id)
{
	int r;

	/* Trusted mode: the page keeps its file and frame; former holders
	 * that kept a mapping could see the next owner's data. */
	if (p->zero_in_place && p->ops->zero) {
		extent_set_state(&p->ext, id, EXTENT_RECLAIMING);
		p->pending[p->npending++] = (struct reclaim_job){ id, -1, p->pages[id] };
		return;
	}

	/* Unpinned first, or the punched page could not go back to the
	 * kernel's free list (and so not come back to us on refault). */
	if (p->ops->unpin)
		p->ops->unpin(p->ops_ctx, id);
	r = p->ops->revoke(p->ops_ctx, p->page_size, &p->pages[id]);

	if (r < 0) {
		p->stats.revoke_errors++;
		log_warn("revoke of page %u (phys 0x%" PRIx64 ") failed: %s", id,
			 p->ext.pages[id].phys, strerror(-r));
	}
	extent_set_state(&p->ext, id, EXTENT_RECLAIMING);
	p->pending[p->npending++] = (struct reclaim_job){
		id, p->want_node ? p->want_node[id] : -1, { .fd = -1 } };
}

/* Hand the pages revoked during this loop turn to the reclaim workers: after
 * the replies of the turn went out, so a worker waking on the second core
 * never delays the FREE answer, and with one lock and one wake-up. */
void pool_reclaim_kick(struct pool *p)
{
	reclaim_submit(&p->reclaim, p->pending, p->npending);
	p->npending = 0;
}

/* Revoke every page now (or after quarantine), then let the reclaim workers
 * refault them. */
void pool_region_release(struct pool *p, struct region *rg, bool quarantine)
{
	uint64_t deadline = now_ns() + p->quarantine_ns;

	p->version++;
	for (uint32_t k = 0; k < rg->npages; k++) {
		uint32_t id = rg->ids[k];

		if (quarantine && p->quarantine_ns) {
			extent_set_state(&p->ext, id, EXTENT_QUARANTINED);
			p->quarantine[(p->q_head + p->q_len++) % p->npages] =
				(struct quarantine_entry){ id, deadline };
			continue;
		}
		page_revoke(p, id);
	}
	if (quarantine && p->quarantine_ns)
		p->stats.quarantined += rg->npages;
	p->slots[rg->slot] = NULL;
	p->free_slots[p->nfree_slots++] = rg->slot;
	p->nregions--;
	p->stats.frees++;
	free(rg);
}

uint64_t pool_quarantine_expire(struct pool *p, uint64_t now)
{
	while (p->q_len) {
		struct quarantine_entry *e = &p->quarantine[p->q_head];
		/* Deadlines only grow, unless SIGHUP shortened the delay: then
		 * an entry behind a later one waits a little longer. Harmless. */
		if (e->deadline > now) {
			pool_reclaim_kick(p);
			return e->deadline;
		}
		page_revoke(p, e->id);
		p->q_head = (p->q_head + 1) % p->npages;
		p->q_len--;
		p->version++;
	}
	pool_reclaim_kick(p); /* from a timer: no reply is waiting on us */
	return 0;
}

static void lease_unlink(struct lease *l)
{
	list_del(&l->by_holder);
	list_del(&l->by_region);
	l->region->nleases--;
}

void pool_lease_drop(struct pool *p, struct lease *l)
{
	struct region *rg = l->region;

	p->version++;
	lease_unlink(l);
	free(l);
	/* A dead holder may have left a device writing into the region: it
	 * goes through quarantine even if a live holder frees it last. */
	rg->holder_died = true;
	if (!rg->nleases)
		pool_region_release(p, rg, true);
}

void pool_lease_put(struct pool *p, struct lease *l)
{
	struct region *rg = l->region;

	p->version++;
	if (--l->refs)
		return;
	lease_unlink(l);
	free(l);
	if (!rg->nleases)
		pool_region_release(p, rg, rg->holder_died);
}

uint32_t pool_reclaiming(const struct pool *p)
{
	return p->ext.nstate[EXTENT_RECLAIMING];
}

/*
 * Record where a reclaimed page landed. The kernel may hand us the frame
 * that another page of ours held before it was revoked; that page's record
 * is stale (it owns no memory until its own refault), so it moves to a
 * placeholder address above any real memory, unique per id, where it forms
 * no run with anything and is never handed out.
 */
static int place_page(struct pool *p, uint32_t id, uint64_t phys, int32_t node)
{
	int r = extent_set_phys(&p->ext, id, phys, node);

	if (r != -EEXIST)
		return r;
	for (uint32_t o = 0; o < p->npages; o++) {
		struct extent_page *pg = &p->ext.pages[o];
		if (o == id || pg->phys != phys)
			continue;
		if (pg->state != EXTENT_RECLAIMING && pg->state != EXTENT_LOST)
			return -EEXIST; /* a live page: a real inconsistency */
		r = extent_set_phys(&p->ext, o, POOL_STALE_PHYS + (uint64_t)o * p->page_size,
				    pg->node);
		if (r < 0)
			return r;
		return extent_set_phys(&p->ext, id, phys, node);
	}
	return -EEXIST;
}

int pool_page_swap(struct pool *p, uint32_t id, struct backing_page *pg)
{
	int r;

	if (id >= p->npages || p->ext.pages[id].state != EXTENT_FREE)
		return -EINVAL;
	r = place_page(p, id, pg->phys, pg->node);
	if (r < 0)
		return r;
	if (p->ops->unpin)
		p->ops->unpin(p->ops_ctx, id);
	/* Dropped, not revoked: a FREE page is mapped by no client. */
	backing_page_drop(&p->pages[id], p->page_size);
	p->pages[id] = *pg;
	*pg = (struct backing_page){ .fd = -1 };
	pool_page_pin(p, id);
	p->stats.repair_swapped++;
	p->version++;
	return 0;
}

uint32_t pool_reclaim_collect(struct pool *p)
{
	struct reclaim_done d;
	uint32_t back = 0;

	while (reclaim_pop(&p->reclaim, &d)) {
		uint64_t old = p->ext.pages[d.id].phys;

		p->version++;
		if (d.error < 0) {
			/* The kernel had no page for us (someone took it between
			 * punch and refault): retried by pool_retry_lost. A page
			 * that failed to zero in place is revoked instead. */
			if (d.page.fd >= 0) {
				if (p->ops->unpin)
					p->ops->unpin(p->ops_ctx, d.id);
				(void)p->ops->revoke(p->ops_ctx, p->page_size, &d.page);
			}
			p->pages[d.id] = (struct backing_page){ .fd = -1 };
			extent_set_state(&p->ext, d.id, EXTENT_LOST);
			p->stats.lost++;
			log_warn("reclaim of page %u failed: %s; pool is %u pages short", d.id,
				 strerror(-d.error), p->ext.nstate[EXTENT_LOST]);
			continue;
		}
		if (place_page(p, d.id, d.page.phys, d.page.node) < 0) {
			log_err("reclaimed page %u came back at 0x%" PRIx64 ", already in the pool",
				d.id, d.page.phys);
			backing_page_drop(&d.page, p->page_size);
			extent_set_state(&p->ext, d.id, EXTENT_LOST);
			p->stats.lost++;
			continue;
		}
		if (d.page.phys != old) {
			p->stats.phys_changed++;
			log_debug("page %u came back at 0x%" PRIx64 " (was 0x%" PRIx64 ")", d.id,
				  d.page.phys, old);
		}
		bool same = d.page.fd == p->pages[d.id].fd; /* zeroed in place: still pinned */
		p->pages[d.id] = d.page;
		if (!same)
			pool_page_pin(p, d.id);
		else
			p->stats.zeroed_in_place++;
		extent_set_state(&p->ext, d.id, EXTENT_FREE);
		p->stats.reclaims++;
		p->stats.reclaim_ns += d.ns;
		back++;
	}
	return back;
}

uint32_t pool_retry_lost(struct pool *p)
{
	uint32_t n = 0;

	for (uint32_t id = 0; id < p->npages; id++) {
		if (p->ext.pages[id].state != EXTENT_LOST)
			continue;
		extent_set_state(&p->ext, id, EXTENT_RECLAIMING);
		p->pending[p->npending++] = (struct reclaim_job){
			id, p->want_node ? p->want_node[id] : -1, { .fd = -1 } };
		n++;
		p->version++;
	}
	return n;
}

uint32_t pool_audit(struct pool *p)
{
	p->audit_cursor = 0;
	return pool_audit_step(p, p->npages);
}

uint32_t pool_audit_step(struct pool *p, uint32_t n)
{
	uint32_t moved = 0, end = p->audit_cursor + n;

	if (end > p->npages)
		end = p->npages;
	for (uint32_t id = p->audit_cursor; id < end; id++) {
		struct backing_page *pg = &p->pages[id];
		uint64_t phys;
		int32_t node;

		if (pg->fd < 0 || p->ext.pages[id].state == EXTENT_RECLAIMING)
			continue;
		if (p->ops->locate(p->ops_ctx, pg, &phys, &node) < 0 || phys == pg->phys)
			continue;
		moved++;
		p->version++;
		p->stats.audit_moved++;
		log_err("page %u moved from 0x%" PRIx64 " to 0x%" PRIx64 " (%s): the kernel migrated it",
			id, pg->phys, phys,
			p->ext.pages[id].state == EXTENT_USED ? "IN USE: its holder's DMA address is stale" : "free");
		if (p->ext.pages[id].state == EXTENT_FREE && extent_set_phys(&p->ext, id, phys, node) == 0)
			pg->phys = phys;
	}
	/* A pass is done when the cursor wraps. */
	p->audit_cursor = end < p->npages ? end : 0;
	if (!p->audit_cursor)
		p->stats.audits++;
	return moved;
}

void pool_figures(const struct pool *p, int32_t node, struct pool_figures *ret)
{
	struct extent_stats st;
	uint64_t ps = p->page_size;

	extent_stats(&p->ext, node, &st);
	memset(ret, 0, sizeof(*ret));
	ret->page_size = ps;
	ret->total_bytes = (uint64_t)st.pages * ps;
	ret->free_bytes = (uint64_t)st.nstate[EXTENT_FREE] * ps;
	ret->largest_free_run = (uint64_t)st.largest_free * ps;
	ret->reclaiming_bytes = (uint64_t)st.nstate[EXTENT_RECLAIMING] * ps;
	ret->quarantined_bytes = (uint64_t)st.nstate[EXTENT_QUARANTINED] * ps;
	ret->lost_bytes = (uint64_t)st.nstate[EXTENT_LOST] * ps;
	ret->runs = st.runs;
	ret->regions = p->nregions;
	ret->uptime_ns = now_ns() - p->started_ns;
	for (uint32_t id = 0; id < p->npages; id++) {
		const struct extent_page *pg = &p->ext.pages[id];
		/* Only whole pages count as below a line. */
		bool free = pg->state == EXTENT_FREE;

		if (pg->node >= 0 && pg->node < 32)
			ret->nodes |= 1u << pg->node;
		if (node != EXTENT_NODE_ANY && pg->node != node)
			continue;
		if (pg->phys + ps <= (1ull << 32)) {
			ret->below_4g_total += ps;
			ret->below_4g_free += free ? ps : 0;
		}
		if (pg->phys + ps <= (16ull << 20)) {
			ret->below_16m_total += ps;
			ret->below_16m_free += free ? ps : 0;
		}
	}
}
