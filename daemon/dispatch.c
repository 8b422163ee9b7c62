/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - the request handlers, behind one bounds-checked table (s6
 * s6-fdholderd). A message reaches a handler only after proto_decode
 * accepted it; a handler refuses requests with a PROTO_STATUS reply and
 * returns -errno only for protocol violations, which close the session.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

typedef int (*handler_fn)(struct session *s, const struct proto_msg *m);

static uint64_t region_bytes(const struct server *srv, const struct region *rg)
{
	return (uint64_t)rg->npages * srv->pool.page_size;
}

/* Queue the datagrams that hand a leased region's pages to the client. */
static int send_region(struct session *s, uint32_t request, const struct region *rg)
{
	const struct pool *p = &s->srv->pool;

	for (uint32_t first = 0; first < rg->npages; first += PROTO_MAX_FDS) {
		uint32_t count = rg->npages - first;
		if (count > PROTO_MAX_FDS)
			count = PROTO_MAX_FDS;
		struct proto_region body = {
			.region_id = rg->id,
			.nbytes = rg->nbytes,
			.phys = rg->phys,
			.page_size = p->page_size,
			.npages = rg->npages,
			.first = first,
			.count = count,
			.node = p->ext.pages[rg->ids[0]].node,
		};
		int r = session_queue_region(s, request, &body);
		if (r < 0)
			return r;
	}
	return 0;
}

int session_region_fds(struct session *s, uint64_t region_id, uint32_t first, uint32_t n,
		       int *fds)
{
	struct pool *p = &s->srv->pool;
	struct region *rg = pool_region_find(p, region_id);

	if (!rg || !pool_lease_of(rg, s) || first > rg->npages || n > rg->npages - first)
		return -ESTALE;
	for (uint32_t k = 0; k < n; k++)
		fds[k] = p->pages[rg->ids[first + k]].fd;
	return 0;
}

struct usage {
	uint32_t sessions, regions;
	uint64_t bytes;
};

static struct usage uid_usage(const struct server *srv, uid_t uid)
{
	struct usage u = { 0 };
	struct list_node *n, *t;

	list_for_each_safe(n, t, &srv->sessions) {
		const struct session *o = container_of(n, struct session, link);
		if (o->dead || o->cred.uid != uid)
			continue;
		u.sessions++;
		u.regions += o->nregions;
		u.bytes += o->bytes;
	}
	return u;
}

static int on_hello(struct session *s, const struct proto_msg *m)
{
	struct proto_hello_reply rep = {
		.version = PROTO_VERSION,
		.max_fds = PROTO_MAX_FDS,
		.page_size = s->srv->pool.page_size,
		.session_id = s->id,
		.pool_bytes = (uint64_t)s->srv->pool.npages * s->srv->pool.page_size,
	};

	if (s->hello)
		return -EPROTO;
	if (m->body.hello.version < 1) {
		struct proto_status st = { .error = EPROTONOSUPPORT, .value = PROTO_VERSION };
		uint8_t out[sizeof(struct proto_hdr) + sizeof(st)];
		size_t len = proto_encode(out, PROTO_STATUS, m->hdr.request, &st, sizeof(st));
		(void)proto_send(s->src.fd, out, len, NULL, 0);
		return -EPROTONOSUPPORT;
	}
	/* Session limits applied at accept (session.c: admit). */
	s->hello = true;
	return session_queue(s, PROTO_HELLO_REPLY, m->hdr.request, &rep, sizeof(rep));
}

/* Would one more region of bytes put the session or its uid over quota? */
static bool over_quota(const struct session *s, uint64_t bytes)
{
	const struct limits *lim = &s->srv->limits;
	struct usage u;

	if (s->nregions + 1 > lim->session_max_regions || bytes > lim->session_max_bytes ||
	    s->bytes > lim->session_max_bytes - bytes)
		return true;
	if (s->cred.uid == 0)
		return false;
	u = uid_usage(s->srv, s->cred.uid);
	return u.regions + 1 > lim->uid_max_regions || bytes > lim->uid_max_bytes ||
	       u.bytes > lim->uid_max_bytes - bytes;
}

static void lease_account(struct session *s, struct lease *l, bool is_new)
{
	if (!is_new)
		return;
	list_add_tail(&s->leases, &l->by_holder);
	s->nregions++;
	s->bytes += region_bytes(s->srv, l->region);
}

static void park(struct session *s, const struct proto_msg *m)
{
	s->parked = true;
	s->parked_msg = *m;
	list_add_tail(&s->srv->parked, &s->parked_link);
	s->srv->pool.stats.waits++;
}

static int refuse(struct session *s, const struct proto_msg *m, int error)
{
	struct pool_stats *st = &s->srv->pool.stats;

	switch (error) {
	case EINVAL: st->fail_einval++; break;
	case ENOMEM: st->fail_enomem++; break;
	case EDQUOT: st->fail_edquot++; break;
	case EACCES: st->fail_eacces++; break;
	default: st->fail_other++; break;
	}
	return session_reply_status(s, m->hdr.request, error, 0);
}

/* One placement attempt: 0 with *ret_lease, or the -errno on_alloc refuses
 * (or waits, for -EAGAIN) with. */
static int alloc_try(struct session *s, const struct proto_msg *m, const struct extent_request *rq,
		     struct region_owner *owner, struct lease **ret_lease)
{
	const struct proto_alloc *a = &m->body.alloc;
	struct server *srv = s->srv;

	/* hugetlb pages are mapped write-back; user space cannot change a
	 * page's memory type (no set_memory_uc), so only CACHED is honoured. */
	if (a->cache != PROTO_CACHED)
		return -ENOTSUP;
	if (!s->may_alloc)
		return -EACCES;
	uint64_t pages = (a->nbytes - 1) / srv->pool.page_size + 1; /* nbytes > 0: no wrap */
	if (pages > srv->pool.npages)
		return -ENOMEM;
	if (over_quota(s, pages * srv->pool.page_size))
		return -EDQUOT;
	memcpy(owner->comm, s->comm, sizeof(owner->comm));
	return pool_alloc(&srv->pool, rq, owner, s, ret_lease);
}

/* Everyone's stash for a request short of memory, at most once per
 * TAKE_FOR_MEMORY_NS: a client asking again and again for what cannot fit
 * must not drain the other clients' stashes at its own pace. */
#define TAKE_FOR_MEMORY_NS (100ull * 1000000u)
static uint32_t take_for_memory(struct server *srv)
{
	uint64_t now = now_ns();

	if (srv->last_memory_take_ns && now - srv->last_memory_take_ns < TAKE_FOR_MEMORY_NS)
		return 0;
	srv->last_memory_take_ns = now;
	return server_take_stashes(srv);
}

static int on_alloc(struct session *s, const struct proto_msg *m)
{
	const struct proto_alloc *a = &m->body.alloc;
	struct server *srv = s->srv;
	struct region_owner owner = {
		.session_id = s->id, .pid = s->cred.pid, .uid = s->cred.uid, .gid = s->cred.gid,
	};
	struct extent_request rq = {
		.nbytes = a->nbytes, .lowest = a->lowest, .highest = a->highest,
		.boundary = a->boundary, .node = a->node,
		.flags = (a->flags & PROTO_ALLOC_NODE_STRICT) ? EXTENT_NODE_STRICT : 0,
	};
	struct lease *l;
	int r;

	if (proto_alloc_check(a) < 0 || extent_request_check(&rq) < 0)
		return refuse(s, m, EINVAL);
	for (int pass = 0;; pass++) {
		r = alloc_try(s, m, &rq, &owner, &l);
		/* Short of memory or quota: stashed regions are free memory in
		 * all but name, so take them back and try again: everyone's for
		 * memory, only our uid's for quota (nobody else's counts). */
		if (pass == 0 && r == -ENOMEM && take_for_memory(srv))
			continue;
		if (pass == 0 && r == -EDQUOT && server_take_stashes_of(srv, s->cred.uid))
			continue;
		break;
	}
	if (r == -EAGAIN && !(a->flags & PROTO_ALLOC_NOWAIT)) {
		park(s, m);
		return 0;
	}
	if (r < 0)
		return refuse(s, m, r == -EAGAIN ? ENOMEM : -r);
	lease_account(s, l, true);
	r = send_region(s, m->hdr.request, l->region);
	if (r < 0)
		log_warn("session %llu: cannot queue region: %s", (unsigned long long)s->id,
			 strerror(-r));
	/* A reply that cannot be delivered closes the session, which rolls
	 * the allocation back with everything else it held. */
	return r;
}


static struct lease *own_lease(struct session *s, uint64_t region_id)
{
	struct region *rg = pool_region_find(&s->srv->pool, region_id);

	return rg ? pool_lease_of(rg, s) : NULL;
}

static void lease_release(struct session *s, struct lease *l)
{
	uint64_t bytes = region_bytes(s->srv, l->region);

	if (l->refs == 1) {
		s->nregions--;
		s->bytes -= bytes;
	}
	pool_lease_put(&s->srv->pool, l);
}

/* Free what a session's stash named, as FREEs of it would. */
static uint32_t take_ids(struct session *s, const uint64_t *ids, uint32_t n)
{
	struct pool_stats *st = &s->srv->pool.stats;
	uint32_t taken = 0;

	for (uint32_t i = 0; i < n; i++) {
		/* The client wrote this id: it must name a region this session
		 * holds, or it is ignored. Taking one is what a FREE of it would
		 * have done, so a client gains nothing by lying here that it
		 * could not get by asking. */
		struct lease *l = own_lease(s, ids[i]);
		if (!l) {
			st->stash_bogus++;
			continue;
		}
		lease_release(s, l);
		st->stash_taken++;
		taken++;
	}
	return taken;
}

/* A session with a reply still queued keeps its stash: the reply may hand
 * out a region the client also named in a slot (nothing stops it lying),
 * and that region must stay leased until the reply has left. A session is
 * read only once its queue is empty, so nothing else frees while one waits. */
static uint32_t take_one(struct session *s, uint32_t (*drain)(struct stash *, uint64_t *))
{
	uint64_t ids[PROTO_STASH_SLOTS];

	if (s->dead || s->out_head)
		return 0;
	/* A session that may no longer allocate keeps nothing stashed. */
	if (!s->may_alloc)
		drain = stash_drain;
	return take_ids(s, ids, drain(&s->stash, ids));
}

static uint32_t take_every(struct server *srv, uint32_t (*drain)(struct stash *, uint64_t *),
			   bool any_uid, uid_t uid)
{
	struct list_node *n, *t;
	uint32_t taken = 0;

	list_for_each_safe(n, t, &srv->sessions) {
		struct session *s = container_of(n, struct session, link);
		if (any_uid || s->cred.uid == uid)
			taken += take_one(s, drain);
	}
	return taken;
}

uint32_t server_take_stashes(struct server *srv)
{
	return take_every(srv, stash_drain, true, 0);
}

uint32_t server_take_stashes_of(struct server *srv, uid_t uid)
{
	return take_every(srv, stash_drain, false, uid);
}

uint32_t session_take_stash(struct session *s)
{
	return take_one(s, stash_drain);
}

uint32_t server_take_idle_stashes(struct server *srv)
{
	return take_every(srv, stash_drain_idle, true, 0);
}

static int on_stash(struct session *s, const struct proto_msg *m)
{
	struct proto_stash_table rep = { .slots = PROTO_STASH_SLOTS, .bytes = PROTO_STASH_BYTES };
	int r;

	if (!s->may_alloc)
		return refuse(s, m, EACCES);
	r = stash_open(&s->stash);
	if (r < 0)
		return refuse(s, m, -r);
	return session_queue_owned_fd(s, PROTO_STASH_TABLE, m->hdr.request, &rep, sizeof(rep), r);
}

static int on_free(struct session *s, const struct proto_msg *m)
{
	struct lease *l = own_lease(s, m->body.free.region_id);

	/* Not ours (never was, freed already, another session's): a refused
	 * request, not a violation, and nothing changes. */
	if (!l)
		return session_reply_status(s, m->hdr.request, ENOENT, 0);
	lease_release(s, l);
	return session_reply_status(s, m->hdr.request, 0, 0);
}

static int on_query(struct session *s, const struct proto_msg *m)
{
	struct proto_pool_info info;

	/* Only our own: describing the pool to one client must cost the
	 * others nothing (a take forces a round trip and a refault on them).
	 * What other live clients keep stashed counts as used until it sits
	 * idle for a second or someone needs the memory. */
	session_take_stash(s);
	pool_info(&s->srv->pool, m->body.query.node, &info);
	info.sessions = s->srv->nsessions;
	return session_queue(s, PROTO_POOL_INFO, m->hdr.request, &info, sizeof(info));
}

/* Handle layout: region id (8 bytes, host order) then the 24-byte token. */
static void handle_pack(const struct region *rg, struct proto_handle *h)
{
	memcpy(h->bytes, &rg->id, 8);
	memcpy(h->bytes + 8, rg->token, sizeof(rg->token));
}

static struct region *handle_lookup(struct server *srv, const struct proto_handle *h)
{
	struct region *rg;
	uint64_t id;
	uint8_t diff = 0;

	memcpy(&id, h->bytes, 8);
	rg = pool_region_find(&srv->pool, id);
	if (!rg || !rg->exported)
		return NULL;
	/* Constant time: a forger learns nothing from how long a refusal takes. */
	for (size_t i = 0; i < sizeof(rg->token); i++)
		diff |= (uint8_t)(rg->token[i] ^ h->bytes[8 + i]);
	return diff ? NULL : rg;
}

/* Only the session that allocated a region shares it: an importer that
 * could export or revoke would hand the owner's memory on, or take the
 * owner's sharing away. A revoke stands: no handle for it ever again. */
static bool owns(const struct session *s, const struct region *rg)
{
	return rg->owner.session_id == s->id;
}

static int on_export(struct session *s, const struct proto_msg *m)
{
	struct lease *l = own_lease(s, m->body.export_.region_id);
	struct proto_handle h;
	struct region *rg;

	if (!l)
		return refuse(s, m, ENOENT);
	rg = l->region;
	if (!owns(s, rg) || rg->revoked)
		return refuse(s, m, EACCES);
	if (!rg->exported) {
		if (getrandom(rg->token, sizeof(rg->token), 0) != sizeof(rg->token))
			return refuse(s, m, EAGAIN);
		rg->exported = true;
		s->srv->pool.stats.exports++;
	}
	handle_pack(rg, &h);
	return session_queue(s, PROTO_HANDLE, m->hdr.request, &h, sizeof(h));
}

static bool may_import(const struct session *s, const struct region *rg)
{
	const struct access *a = &s->srv->access;

	if (s->cred.uid == 0 || s->cred.uid == rg->owner.uid)
		return true;
	for (uint32_t i = 0; i < a->nimport_gids; i++)
		if (session_in_group(s, a->import_gids[i]))
			return true;
	return false;
}

static int on_import(struct session *s, const struct proto_msg *m)
{
	struct region *rg;
	struct lease *l;
	bool is_new;
	int r;

	for (int pass = 0;; pass++) {
		rg = handle_lookup(s->srv, &m->body.handle);
		if (!rg || rg->revoked)
			return refuse(s, m, ENOENT);
		if (!s->may_alloc || !may_import(s, rg))
			return refuse(s, m, EACCES);
		is_new = pool_lease_of(rg, s) == NULL;
		if (!is_new || !over_quota(s, region_bytes(s->srv, rg)))
			break;
		/* Taking stashes may free regions, this one too if its holders
		 * stashed it: look it up again rather than keep the pointer. */
		if (pass > 0 || !server_take_stashes_of(s->srv, s->cred.uid))
			return refuse(s, m, EDQUOT);
	}
	r = pool_lease_add(&s->srv->pool, rg, s, &l);
	if (r < 0)
		return refuse(s, m, r == -EOVERFLOW ? EDQUOT : -r);
	lease_account(s, l, is_new);
	s->srv->pool.stats.imports++;
	return send_region(s, m->hdr.request, rg);
}

static int on_revoke(struct session *s, const struct proto_msg *m)
{
	struct region *rg = handle_lookup(s->srv, &m->body.handle);

	if (!rg || !pool_lease_of(rg, s))
		return refuse(s, m, ENOENT);
	if (!owns(s, rg))
		return refuse(s, m, EACCES);
	rg->revoked = true;
	return session_reply_status(s, m->hdr.request, 0, 0);
}

static const handler_fn handlers[PROTO_TYPE_MAX] = {
	[PROTO_ALLOC] = on_alloc,
	[PROTO_FREE] = on_free,
	[PROTO_QUERY] = on_query,
	[PROTO_EXPORT] = on_export,
	[PROTO_IMPORT] = on_import,
	[PROTO_REVOKE] = on_revoke,
	[PROTO_LIST] = inspect_list,
	[PROTO_STASH] = on_stash,
};

int dispatch(struct session *s, const struct proto_msg *m)
{
	uint16_t type = m->hdr.type;

	s->srv->last_request_ns = now_ns();
	if (!s->hello)
		return type == PROTO_HELLO ? on_hello(s, m) : -EPROTO;
	/* Replies sent to the daemon, or a second HELLO: the peer is broken. */
	if (type >= PROTO_TYPE_MAX || !handlers[type])
		return -EPROTO;
	return handlers[type](s, m);
}
