/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - see dispatch.h. Handlers reach the pool through its
 * functions and the session's accounting through server.h, and say what
 * became of a request as an outcome.
 */
#define _GNU_SOURCE
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "server.h"

typedef enum outcome (*handler_fn)(struct session *s, const struct proto_msg *m);

/* A reply queued, or the session closed (which rolls back what it handed out). */
static enum outcome replied(int r)
{
	return r < 0 ? OUTCOME_UNDELIVERABLE : OUTCOME_REPLIED;
}

static uint64_t region_bytes(const struct server *srv, const struct region *rg)
{
	return (uint64_t)rg->npages * srv->pool.page_size;
}

/* Queue the datagrams that hand a leased region's pages to the client. */
static enum outcome send_region(struct session *s, uint32_t request, const struct region *rg)
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
			.node = pool_page_node(p, rg->ids[0]),
		};
		if (conn_queue_region(&s->conn, request, &body) < 0)
			return OUTCOME_UNDELIVERABLE;
	}
	session_replied(s, PROTO_REGION, 0, 0, rg->id);
	log_debug("session %llu: request %u -> region %llu", (unsigned long long)s->id, request,
		  (unsigned long long)rg->id);
	return OUTCOME_REPLIED;
}

static int region_fds(struct session *s, uint64_t region_id, uint32_t first, uint32_t n,
		       int *fds)
{
	struct pool *p = &s->srv->pool;
	struct region *rg = pool_region_find(p, region_id);

	if (!rg || !pool_lease_of(rg, s) || first > rg->npages || n > rg->npages - first)
		return -ESTALE;
	for (uint32_t k = 0; k < n; k++)
		fds[k] = pool_page_fd(p, rg->ids[first + k]);
	return 0;
}

static enum outcome on_hello(struct session *s, const struct proto_msg *m)
{
	struct proto_hello_reply rep = {
		.version = PROTO_VERSION,
		.max_fds = PROTO_MAX_FDS,
		.page_size = s->srv->pool.page_size,
		.session_id = s->id,
		.pool_bytes = (uint64_t)s->srv->pool.npages * s->srv->pool.page_size,
	};

	if (s->hello)
		return OUTCOME_VIOLATION;
	if (m->body.hello.version < 1)
		return OUTCOME_CLOSE_VERSION;
	/* Session limits applied at accept (server.c: admit). */
	s->hello = true;
	session_replied(s, PROTO_HELLO_REPLY, 0, 0, 0);
	return replied(conn_queue(&s->conn, PROTO_HELLO_REPLY, m->hdr.request, &rep, sizeof(rep)));
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
	if (!s->may_alloc || (s->grant && s->grant->revoked))
		return -EACCES;
	uint64_t pages = (a->nbytes - 1) / srv->pool.page_size + 1; /* nbytes > 0: no wrap */
	if (pages > srv->pool.npages)
		return -ENOMEM;
	if (session_over_quota(s, pages * srv->pool.page_size))
		return -EDQUOT;
	memcpy(owner->comm, s->comm, sizeof(owner->comm));
	return pool_alloc(&srv->pool, rq, owner, (a->flags & PROTO_ALLOC_CARVE) != 0, s,
			  ret_lease);
}

static enum outcome on_alloc(struct session *s, const struct proto_msg *m)
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
		return OUTCOME_INVALID;
	for (int pass = 0;; pass++) {
		r = alloc_try(s, m, &rq, &owner, &l);
		/* Short of memory or quota: stashed regions are free memory in
		 * all but name, so take them back and try again: everyone's for
		 * memory, only our uid's for quota (nobody else's counts). */
		if (pass == 0 && r == -ENOMEM && server_take_for_memory(srv))
			continue;
		if (pass == 0 && r == -EDQUOT && server_take_stashes_of(srv, s->cred.uid))
			continue;
		break;
	}
	if (r == -EAGAIN && !(a->flags & PROTO_ALLOC_NOWAIT)) {
		session_park(s, m);
		return OUTCOME_WAITING;
	}
	if (r < 0)
		return outcome_of_errno(r);
	session_lease_added(s, l, true);
	/* A reply that cannot be delivered closes the session, which rolls
	 * the allocation back with everything else it held. */
	return send_region(s, m->hdr.request, l->region);
}


static struct lease *own_lease(struct session *s, uint64_t region_id)
{
	struct region *rg = pool_region_find(&s->srv->pool, region_id);

	return rg ? pool_lease_of(rg, s) : NULL;
}

static enum outcome on_stash(struct session *s, const struct proto_msg *m)
{
	struct proto_stash_table rep = { .slots = PROTO_STASH_SLOTS, .bytes = PROTO_STASH_BYTES };
	int fd;

	if (!s->may_alloc)
		return OUTCOME_DENIED;
	fd = stash_open(&s->stash);
	if (fd < 0)
		return fd == -EEXIST ? OUTCOME_INVALID : outcome_of_errno(fd);
	/* systemd's fd store keeps the table across a restart (restart.c
	 * stores this copy, then closes it). */
	if (s->srv->store && s->stash_fd < 0)
		s->stash_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	session_replied(s, PROTO_STASH_TABLE, 0, 0, 0);
	return replied(conn_queue_fd(&s->conn, PROTO_STASH_TABLE, m->hdr.request, &rep,
				     sizeof(rep), fd));
}

static enum outcome on_free(struct session *s, const struct proto_msg *m)
{
	struct lease *l = own_lease(s, m->body.free.region_id);

	/* Not ours (never was, freed already, another session's): a refused
	 * request, not a violation, and nothing changes. */
	if (!l)
		return OUTCOME_NOT_FOUND;
	session_lease_release(s, l);
	return OUTCOME_DONE;
}

static enum outcome on_query(struct session *s, const struct proto_msg *m)
{
	struct pool_figures f;

	/* Only our own: describing the pool to one client must cost the
	 * others nothing (a take forces a round trip and a refault on them).
	 * What other live clients keep stashed counts as used until it sits
	 * idle for a second or someone needs the memory. */
	session_take_stash(s);
	pool_figures(&s->srv->pool, m->body.query.node, &f);
	struct proto_pool_info info = {
		.page_size = f.page_size,
		.total_bytes = f.total_bytes,
		.free_bytes = f.free_bytes,
		.largest_free_run = f.largest_free_run,
		.reclaiming_bytes = f.reclaiming_bytes,
		.quarantined_bytes = f.quarantined_bytes,
		.lost_bytes = f.lost_bytes,
		.runs = f.runs,
		.sessions = s->srv->nsessions,
		.regions = f.regions,
		.nodes = f.nodes,
		.uptime_ns = f.uptime_ns,
		.below_4g_total = f.below_4g_total,
		.below_4g_free = f.below_4g_free,
		.below_16m_total = f.below_16m_total,
		.below_16m_free = f.below_16m_free,
	};
	return replied(conn_queue(&s->conn, PROTO_POOL_INFO, m->hdr.request, &info, sizeof(info)));
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

static enum outcome on_export(struct session *s, const struct proto_msg *m)
{
	struct lease *l = own_lease(s, m->body.export_.region_id);
	struct proto_handle h;
	struct region *rg;

	if (!l)
		return OUTCOME_NOT_FOUND;
	rg = l->region;
	if (!owns(s, rg) || rg->revoked)
		return OUTCOME_DENIED;
	if (!rg->exported) {
		if (getrandom(rg->token, sizeof(rg->token), 0) != sizeof(rg->token))
			return OUTCOME_TRY_AGAIN;
		rg->exported = true;
		s->srv->stats.exports++;
	}
	handle_pack(rg, &h);
	session_replied(s, PROTO_HANDLE, 0, 0, rg->id);
	return replied(conn_queue(&s->conn, PROTO_HANDLE, m->hdr.request, &h, sizeof(h)));
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

static enum outcome on_import(struct session *s, const struct proto_msg *m)
{
	struct region *rg;
	struct lease *l;
	bool is_new;
	int r;

	for (int pass = 0;; pass++) {
		rg = handle_lookup(s->srv, &m->body.handle);
		if (!rg || rg->revoked)
			return OUTCOME_NOT_FOUND;
		if (!s->may_alloc || !may_import(s, rg))
			return OUTCOME_DENIED;
		is_new = pool_lease_of(rg, s) == NULL;
		if (!is_new || !session_over_quota(s, region_bytes(s->srv, rg)))
			break;
		/* Taking stashes may free regions, this one too if its holders
		 * stashed it: look it up again rather than keep the pointer. */
		if (pass > 0 || !server_take_stashes_of(s->srv, s->cred.uid))
			return OUTCOME_OVER_QUOTA;
	}
	r = pool_lease_add(&s->srv->pool, rg, s, &l);
	if (r < 0)
		return outcome_of_errno(r);
	session_lease_added(s, l, is_new);
	s->srv->stats.imports++;
	return send_region(s, m->hdr.request, rg);
}

static enum outcome on_revoke(struct session *s, const struct proto_msg *m)
{
	struct region *rg = handle_lookup(s->srv, &m->body.handle);

	if (!rg || !pool_lease_of(rg, s))
		return OUTCOME_NOT_FOUND;
	if (!owns(s, rg))
		return OUTCOME_DENIED;
	rg->revoked = true;
	return OUTCOME_DONE;
}

/* Grants: any session may use one; only root makes or ends them (the
 * device plugin runs as root beside the kubelet). Tokens never reach a log. */
static enum outcome on_grant(struct session *s, const struct proto_msg *m)
{
	const struct proto_grant *g = &m->body.grant;
	struct grants *gs = &s->srv->grants;
	struct grant *gr;
	int r;

	switch (g->op) {
	case PROTO_GRANT_USE:
		r = session_use_grant(s, g->token);
		return r == -EBUSY ? OUTCOME_INVALID : outcome_of_errno(r);
	case PROTO_GRANT_CREATE: {
		if (s->cred.uid != 0)
			return OUTCOME_DENIED;
		r = grant_create(gs, g->bytes, &gr);
		s->srv->version++;
		if (r == -ENOSPC)
			return OUTCOME_OVER_QUOTA;
		if (r < 0)
			return OUTCOME_TRY_AGAIN;
		struct proto_grant_reply rep = { .id = gr->id, .bytes = gr->bytes };
		memcpy(rep.token, gr->token, sizeof(rep.token));
		log_info("grant %llu: %llu bytes, for session %llu (pid %d)",
			 (unsigned long long)gr->id, (unsigned long long)gr->bytes,
			 (unsigned long long)s->id, (int)s->cred.pid);
		enum outcome o = replied(conn_queue(&s->conn, PROTO_GRANT_REPLY, m->hdr.request,
						    &rep, sizeof(rep)));
		if (o != OUTCOME_REPLIED)
			grant_revoke(gs, gr); /* nobody has its token */
		return o;
	}
	case PROTO_GRANT_REVOKE:
		if (s->cred.uid != 0)
			return OUTCOME_DENIED;
		gr = grant_find(gs, g->token);
		if (!gr)
			return OUTCOME_NOT_FOUND;
		log_info("grant %llu revoked (%u session%s, %llu bytes held)",
			 (unsigned long long)gr->id, gr->sessions, gr->sessions == 1 ? "" : "s",
			 (unsigned long long)gr->held);
		grant_revoke(gs, gr);
		s->srv->version++;
		return OUTCOME_DONE;
	default:
		return OUTCOME_VIOLATION; /* (proto_decode lets no other op through) */
	}
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
	[PROTO_GRANT] = on_grant,
};

enum outcome dispatch(struct session *s, const struct proto_msg *m)
{
	uint16_t type = m->hdr.type;

	log_debug("session %llu: request %u type %u region %llu", (unsigned long long)s->id,
		  m->hdr.request, type,
		  type == PROTO_FREE ? (unsigned long long)m->body.free.region_id : 0ull);
	if (!s->hello)
		return type == PROTO_HELLO ? on_hello(s, m) : OUTCOME_VIOLATION;
	/* Replies sent to the daemon, or a second HELLO: the peer is broken. */
	if (type >= PROTO_TYPE_MAX || !handlers[type])
		return OUTCOME_VIOLATION;
	/* What hands out memory or a table waits for the store to hold the
	 * session (server.h); looking and giving back never do. */
	if ((type == PROTO_ALLOC || type == PROTO_IMPORT || type == PROTO_STASH) &&
	    session_wait_for_store(s))
		return OUTCOME_WAITING;
	return handlers[type](s, m);
}

/* A restart found request r->request unread in the socket, acted on and
 * answered (or about to be) by the previous contigd: the same reply. */
static int resend(struct session *s, const struct state_reply *r)
{
	struct region *rg = r->region_id ? pool_region_find(&s->srv->pool, r->region_id) : NULL;

	switch (r->type) {
	case PROTO_STATUS: {
		struct proto_status st = { .error = r->error, .value = r->value };
		return conn_queue(&s->conn, PROTO_STATUS, r->request, &st, sizeof(st));
	}
	case PROTO_REGION:
		if (!rg || !pool_lease_of(rg, s))
			return -ESTALE;
		return send_region(s, r->request, rg) == OUTCOME_REPLIED ? 0 : -ENOBUFS;
	case PROTO_HANDLE: {
		struct proto_handle h;
		if (!rg || !rg->exported)
			return -ESTALE;
		handle_pack(rg, &h);
		return conn_queue(&s->conn, PROTO_HANDLE, r->request, &h, sizeof(h));
	}
	case PROTO_HELLO_REPLY: {
		struct proto_hello_reply rep = {
			.version = PROTO_VERSION,
			.max_fds = PROTO_MAX_FDS,
			.page_size = s->srv->pool.page_size,
			.session_id = s->id,
			.pool_bytes = (uint64_t)s->srv->pool.npages * s->srv->pool.page_size,
		};
		return conn_queue(&s->conn, PROTO_HELLO_REPLY, r->request, &rep, sizeof(rep));
	}
	case PROTO_STASH_TABLE: {
		struct proto_stash_table rep = { .slots = PROTO_STASH_SLOTS,
						 .bytes = PROTO_STASH_BYTES };
		int fd = s->stash_fd >= 0 ? fcntl(s->stash_fd, F_DUPFD_CLOEXEC, 3) : -1;
		if (fd < 0)
			return -EBADF;
		return conn_queue_fd(&s->conn, PROTO_STASH_TABLE, r->request, &rep, sizeof(rep),
				     fd);
	}
	default:
		return -EINVAL;
	}
}

const struct server_handlers dispatch_handlers = {
	.request = dispatch,
	.region_fds = region_fds,
	.resend = resend,
};
