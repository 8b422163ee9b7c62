/* SPDX-License-Identifier: MIT */
/*
 * inspect.c - PROTO_LIST: the pool's tables, one reply datagram per page of
 * rows, for contigctl. A cursor is a plain index into the table (sessions:
 * the last id sent), so a page costs O(rows in the page) plus, for the run
 * table, a scan from the cursor; nothing is kept between requests and
 * allocation never waits on it. A table changing between two pages may
 * show a row twice or miss one: inspection is a view, not a snapshot.
 *
 * Visibility: root sees every row; any other user sees the pool's shape
 * (runs, pages, stats) and only the regions and sessions of its own uid: a
 * region its uid allocated or holds through an import, a session of its
 * uid. Per uid, not per session, because contigctl inspects from a session
 * of its own that never holds anything; a process of the same uid could
 * read the owner's memory anyway (ptrace), so this shows it nothing new.
 *
 * Physical addresses of the pool (runs, pages) only to those who may
 * allocate: the kernel hides frame numbers from unprivileged users (they
 * help Rowhammer), and a user refused the pool has no need of them. Others
 * see the same rows with phys 0: sizes, states and counts.
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

#define LIST_BYTES (PROTO_MAX_MSG - sizeof(struct proto_hdr) - sizeof(struct proto_list_reply))

struct page_out {
	uint8_t buf[PROTO_MAX_MSG];
	struct proto_list_reply *rep;
	uint8_t *items;
	size_t item_size;
	uint32_t max;
};

static void out_init(struct page_out *o, uint32_t table, size_t item_size)
{
	o->rep = (struct proto_list_reply *)(void *)o->buf;
	memset(o->rep, 0, sizeof(*o->rep));
	o->rep->table = table;
	o->rep->item_size = (uint32_t)item_size;
	o->items = o->buf + sizeof(*o->rep);
	o->item_size = item_size;
	o->max = (uint32_t)(LIST_BYTES / item_size);
}

static void *out_next(struct page_out *o)
{
	if (o->rep->count >= o->max)
		return NULL;
	void *it = o->items + (size_t)o->rep->count++ * o->item_size;
	memset(it, 0, o->item_size);
	return it;
}

static enum outcome out_send(struct session *s, const struct proto_msg *m, struct page_out *o)
{
	int r = conn_queue(&s->conn, PROTO_LIST_REPLY, m->hdr.request, o->buf,
			   sizeof(*o->rep) + (size_t)o->rep->count * o->item_size);

	return r < 0 ? OUTCOME_UNDELIVERABLE : OUTCOME_REPLIED;
}

static bool privileged(const struct session *s)
{
	return s->cred.uid == 0;
}

static bool sees_phys(const struct session *s)
{
	return privileged(s) || s->may_alloc;
}

static bool region_visible(const struct session *s, const struct region *rg)
{
	const struct list_node *n;

	if (privileged(s) || rg->owner.uid == s->cred.uid)
		return true;
	for (n = rg->leases.next; n != &rg->leases; n = n->next) {
		const struct lease *l = container_of(n, struct lease, by_region);
		const struct session *h = l->holder;
		if (h->cred.uid == s->cred.uid)
			return true;
	}
	return false;
}

static bool session_visible(const struct session *s, const struct session *other)
{
	return privileged(s) || other->cred.uid == s->cred.uid;
}

static void list_runs(struct session *s, uint64_t cursor, struct page_out *o)
{
	const struct extent_pool *ext = &s->srv->pool.ext;
	uint32_t pos = (uint32_t)cursor;
	struct extent_run_info ri;

	if (cursor >= ext->npages)
		return;
	while (o->rep->count < o->max && extent_run_next(ext, &pos, &ri)) {
		struct proto_run_item *it = out_next(o);
		it->phys = sees_phys(s) ? ri.phys : 0;
		it->pages = ri.pages;
		it->free = ri.nstate[EXTENT_FREE];
		it->used = ri.nstate[EXTENT_USED];
		it->reclaiming = ri.nstate[EXTENT_RECLAIMING];
		it->quarantined = ri.nstate[EXTENT_QUARANTINED];
		it->node = ri.node;
	}
	o->rep->next = pos < ext->npages ? pos : 0;
}

static void list_pages(struct session *s, uint64_t cursor, struct page_out *o)
{
	const struct extent_pool *ext = &s->srv->pool.ext;
	uint64_t k = cursor;

	for (; k < ext->npages && o->rep->count < o->max; k++) {
		const struct extent_page *pg = &ext->pages[extent_id_at(ext, (uint32_t)k)];
		struct proto_page_item *it = out_next(o);
		it->phys = sees_phys(s) ? pg->phys : 0;
		it->state = pg->state;
		it->node = pg->node;
	}
	o->rep->next = k < ext->npages ? k : 0;
}

static void list_regions(struct session *s, uint64_t cursor, struct page_out *o)
{
	const struct pool *p = &s->srv->pool;
	uint64_t now = now_ns();
	uint64_t k = cursor;

	for (; k < p->npages && o->rep->count < o->max; k++) {
		const struct region *rg = pool_region_at(p, (uint32_t)k);
		if (!rg)
			continue;
		if (!region_visible(s, rg))
			continue;
		struct proto_region_item *it = out_next(o);
		it->region_id = rg->id;
		it->session_id = rg->owner.session_id;
		it->nbytes = rg->nbytes;
		it->phys = rg->phys;
		it->lowest = rg->rq.lowest;
		it->highest = rg->rq.highest;
		it->boundary = rg->rq.boundary;
		it->age_ns = now - rg->created_ns;
		it->npages = rg->npages;
		it->node = rg->rq.node;
		it->pid = rg->owner.pid;
		it->uid = rg->owner.uid;
		it->holders = rg->nleases;
		it->flags = rg->carve ? PROTO_REGION_ITEM_CARVE : 0;
		memcpy(it->comm, rg->owner.comm, sizeof(it->comm));
	}
	o->rep->next = k < p->npages ? k : 0;
}

/* A path into a table's field: cut with "..." when it does not fit. */
static void cgroup_copy(char dst[PROTO_CGROUP_MAX], const char *path)
{
	size_t n = strlen(path);

	if (n < PROTO_CGROUP_MAX) {
		memcpy(dst, path, n + 1);
		return;
	}
	memcpy(dst, path, PROTO_CGROUP_MAX - 4);
	memcpy(dst + PROTO_CGROUP_MAX - 4, "...", 4);
}

static void list_sessions(struct session *s, uint64_t cursor, struct page_out *o)
{
	struct list_node *n, *t;
	uint64_t now = now_ns();
	uint64_t last = 0;
	bool more = false;

	/* Session ids only grow and the list is in id order: the cursor is
	 * the last id sent, so a page is stable while sessions come and go. */
	list_for_each_safe(n, t, &s->srv->sessions) {
		const struct session *o2 = container_of(n, struct session, link);
		if (o2->dead || o2->id <= cursor)
			continue;
		if (!session_visible(s, o2))
			continue;
		if (o->rep->count >= o->max) {
			more = true;
			break;
		}
		struct proto_session_item *it = out_next(o);
		it->session_id = o2->id;
		it->bytes = o2->bytes;
		it->age_ns = now - o2->connected_ns;
		it->pid = o2->cred.pid;
		it->uid = o2->cred.uid;
		it->gid = o2->cred.gid;
		it->regions = o2->nregions;
		memcpy(it->comm, o2->comm, sizeof(it->comm));
		it->carve_leased_bytes = o2->carve_bytes;
		it->carve_in_use_bytes = session_carve_in_use(o2);
		cgroup_copy(it->cgroup, o2->tenant ? o2->tenant->path : "/");
		last = o2->id;
	}
	o->rep->next = more ? last : 0;
}

/* Tables whose rows come from a walk (counters, cgroups): the cursor is the
 * index of the next row, so a table that outgrows a datagram still arrives
 * whole. */
struct index_walk {
	struct page_out *o;
	uint64_t cursor;
	uint64_t k;        /* index of the row being put */
};

/* The slot for the walk's next row, or NULL if it is before the cursor or
 * past this page (then the reply says where the next page starts). */
static void *walk_next(struct index_walk *w)
{
	void *it;

	if (w->k++ < w->cursor)
		return NULL;
	it = out_next(w->o);
	if (!it && !w->o->rep->next)
		w->o->rep->next = w->k - 1;
	return it;
}

static void cgroup_put(void *arg, const struct tenant *n)
{
	struct proto_cgroup_item *it = walk_next(arg);

	if (!it)
		return;
	cgroup_copy(it->path, n->path);
	it->bytes = n->subtree_bytes;
	it->limit = n->limit;
	it->sessions = n->sessions;
}

/* Others' cgroups are others' business: root only. The cursor is an index
 * into the walk, so a tree that changes between pages may repeat or skip
 * a node; the figures are of one moment per page anyway. */
static void list_cgroups(struct session *s, uint64_t cursor, struct page_out *o)
{
	struct index_walk w = { .o = o, .cursor = cursor };

	if (privileged(s))
		tenants_for_each_labelled(&s->srv->tenants, cgroup_put, &w);
}

/* Root only; the order of creation; never a token. */
static void list_grants(struct session *s, uint64_t cursor, struct page_out *o)
{
	struct index_walk w = { .o = o, .cursor = cursor };
	const struct list_node *n;

	if (!privileged(s))
		return;
	for (n = s->srv->grants.all.next; n != &s->srv->grants.all; n = n->next) {
		const struct grant *gr = container_of(n, struct grant, link);
		struct proto_grant_item *it = walk_next(&w);
		if (!it)
			continue;
		it->id = gr->id;
		it->bytes = gr->bytes;
		it->held_bytes = gr->held;
		it->sessions = gr->sessions;
		it->flags = gr->revoked ? PROTO_GRANT_ITEM_REVOKED : 0;
	}
}

static void stat_put(struct index_walk *w, const char *name, uint64_t v)
{
	struct proto_stat_item *it = walk_next(w);

	if (!it)
		return;
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->value = v;
}

static void list_stats(struct session *s, uint64_t cursor, struct page_out *o)
{
	const struct pool_stats *st = &s->srv->pool.stats;
	const struct server_stats *sv = &s->srv->stats;
	struct index_walk w = { .o = o, .cursor = cursor };
	uint64_t carve_leased, carve_in_use;

	/* In the order contigctl has always shown them, wherever each is
	 * counted: the pool's, and the server's (SV). */
#define STAT(f) stat_put(&w, #f, st->f)
#define SV(f) stat_put(&w, #f, sv->f)
	STAT(allocs);
	STAT(frees);
	SV(fail_einval);
	SV(fail_enomem);
	SV(fail_edquot);
	SV(fail_eacces);
	SV(fail_other);
	SV(waits);
	STAT(bytes_served);
	STAT(reclaims);
	STAT(zeroed_in_place);
	STAT(reclaim_ns);
	STAT(revoke_errors);
	STAT(quarantined);
	STAT(pinned);
	STAT(pin_failures);
	STAT(phys_changed);
	STAT(lost);
	STAT(audits);
	STAT(wrong_node);
	STAT(audit_moved);
	SV(imports);
	SV(exports);
	SV(protocol_errors);
	SV(sessions_total);
	stat_put(&w, "repair_looked", s->srv->repair.looked);
	STAT(repair_swapped);
	SV(stash_taken);
	SV(stash_bogus);
	/* Not counters but figures of now, over every session (one figure
	 * each, not a row per session: the sessions table has those). */
	server_carve_totals(s->srv, &carve_leased, &carve_in_use);
	stat_put(&w, "carve_leased_bytes", carve_leased);
	stat_put(&w, "carve_in_use_bytes", carve_in_use);
#undef STAT
#undef SV
}

enum outcome inspect_list(struct session *s, const struct proto_msg *m)
{
	static const size_t item_size[PROTO_TABLE_MAX] = {
		[PROTO_TABLE_RUNS] = sizeof(struct proto_run_item),
		[PROTO_TABLE_REGIONS] = sizeof(struct proto_region_item),
		[PROTO_TABLE_SESSIONS] = sizeof(struct proto_session_item),
		[PROTO_TABLE_PAGES] = sizeof(struct proto_page_item),
		[PROTO_TABLE_STATS] = sizeof(struct proto_stat_item),
		[PROTO_TABLE_CGROUPS] = sizeof(struct proto_cgroup_item),
		[PROTO_TABLE_GRANTS] = sizeof(struct proto_grant_item),
	};
	uint32_t table = m->body.list.table;
	uint64_t cursor = m->body.list.cursor;
	static struct page_out o; /* 32 KiB: not on the loop's stack */

	/* Our own stash is free memory in all but name: take it, so a client
	 * sees its frees. Not the others': looking must cost them nothing.
	 * Only before a first page, so that paging through a table sees one
	 * state; counters do not need it. */
	if (cursor == 0 && table != PROTO_TABLE_STATS && table != PROTO_TABLE_CGROUPS &&
	    table != PROTO_TABLE_GRANTS)
		session_take_stash(s);
	out_init(&o, table, item_size[table]);
	switch (table) {
	case PROTO_TABLE_RUNS: list_runs(s, cursor, &o); break;
	case PROTO_TABLE_PAGES: list_pages(s, cursor, &o); break;
	case PROTO_TABLE_REGIONS: list_regions(s, cursor, &o); break;
	case PROTO_TABLE_SESSIONS: list_sessions(s, cursor, &o); break;
	case PROTO_TABLE_STATS: list_stats(s, cursor, &o); break;
	case PROTO_TABLE_CGROUPS: list_cgroups(s, cursor, &o); break;
	case PROTO_TABLE_GRANTS: list_grants(s, cursor, &o); break;
	default: return OUTCOME_VIOLATION;
	}
	return out_send(s, m, &o);
}
