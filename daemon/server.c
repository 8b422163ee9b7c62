/* SPDX-License-Identifier: MIT */
/*
 * server.c - see server.h: the sessions and everything about them that is
 * not the transport: who the peer is and what it may do (decided at accept,
 * again on reload), what it holds and its quotas, requests parked for
 * reclaim, stash take-back, and the one answer path.
 *
 * Admission: every connection counts against its uid from accept on (not
 * from HELLO, or silent connections would be free), and the last slots are
 * kept for those who may allocate, the very last for root, so no other
 * user can lock them out by connecting many times.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

void limits_default(struct limits *l)
{
	*l = (struct limits){
		.max_sessions = 4096,
		.session_max_regions = 65536,
		.session_max_bytes = UINT64_MAX,
		.uid_max_sessions = 256,
		.uid_max_regions = 65536,
		.uid_max_bytes = UINT64_MAX,
		.max_out = 512,
	};
}

void server_init(struct server *srv, const struct server_handlers *handlers)
{
	srv->handlers = handlers;
	srv->listen_fd = -1;
	list_init(&srv->sessions);
	list_init(&srv->parked);
	tenants_init(&srv->tenants);
	grants_init(&srv->grants);
	conn_outbox_init(&srv->outbox);
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void read_comm(pid_t pid, char comm[16])
{
	char path[64];
	ssize_t n;
	int fd;

	memset(comm, 0, 16);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 15);
	close(fd);
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = 0;
}

/* The peer's groups as the kernel recorded them at connect time
 * (SO_PEERGROUPS, Linux 4.13): no /proc lookup a reused pid could fool. */

static void peer_groups(int fd, gid_t gid, struct peer_groups *g)
{
	socklen_t len = sizeof(g->list);

	g->gid = gid;
	g->n = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g->list, &len) == 0)
		g->n = (int)(len / sizeof(gid_t));
}

static bool in_group(const struct peer_groups *g, gid_t want)
{
	if (g->gid == want)
		return true;
	for (int i = 0; i < g->n; i++)
		if (g->list[i] == want)
			return true;
	return false;
}

bool session_in_group(const struct session *s, gid_t want)
{
	return in_group(&s->groups, want);
}

/* Root, the socket's group, and the configured allow-lists may allocate. */
static bool access_allows(const struct access *a, const struct ucred *c,
			  const struct peer_groups *g)
{
	if (c->uid == 0)
		return true;
	if (a->socket_gid_set && in_group(g, a->socket_gid))
		return true;
	for (uint32_t i = 0; i < a->nuids; i++)
		if (a->uids[i] == c->uid)
			return true;
	for (uint32_t i = 0; i < a->ngids; i++)
		if (in_group(g, a->gids[i]))
			return true;
	return false;
}

/* Slots kept for root alone, and for root and allowed users: a sixteenth
 * and a half of max_sessions (at least one each). */
static uint32_t root_reserve(const struct limits *l)
{
	return l->max_sessions / 16 ? l->max_sessions / 16 : 1;
}

/* May a connection of this peer have a session now? Decided at accept,
 * before it can send anything. */
static bool admit(const struct server *srv, const struct ucred *c, bool trusted)
{
	const struct limits *l = &srv->limits;
	const struct account *acc = account_find(&srv->accounts, c->uid);
	uint32_t untrusted = 0;
	const struct list_node *n;

	if (srv->nsessions >= l->max_sessions)
		return false;
	if (c->uid == 0)
		return true;
	if (srv->nsessions + root_reserve(l) >= l->max_sessions)
		return false;
	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		const struct session *o = container_of(n, struct session, link);
		if (o->dead)
			continue;
		untrusted += !o->may_alloc;
	}
	if (!trusted && untrusted >= l->max_sessions / 2)
		return false;
	return !acc || acc->sessions < l->uid_max_sessions;
}

/* ---- the connection's callbacks ---- */

/* Serve one request; what it was is kept for session_replied. */
static void serve(struct session *s, const struct proto_msg *m)
{
	s->cur_request = m->hdr.request;
	s->cur_type = m->hdr.type;
	session_answer(s, m->hdr.request, s->srv->handlers->request(s, m));
}

static void on_message(struct conn *c, const struct proto_msg *m)
{
	struct session *s = container_of(c, struct session, conn);

	s->srv->last_request_ns = now_ns();
	serve(s, m);
}

static void on_ended(struct conn *c, enum conn_end why, int error)
{
	static const char *const what[] = {
		[CONN_OVERSIZED] = "oversized datagram",
		[CONN_SENT_FDS] = "fds sent to the daemon",
		[CONN_MALFORMED] = "malformed message",
		[CONN_OLD_VERSION] = "protocol version not spoken here",
	};
	struct session *s = container_of(c, struct session, conn);

	if (why != CONN_HUNG_UP) {
		s->srv->stats.protocol_errors++;
		/* One line per session: a hostile client cannot flood the log. */
		log_notice("session %llu (pid %d uid %u %s): %s: %s; closing it",
			   (unsigned long long)s->id, (int)s->cred.pid, (unsigned)s->cred.uid,
			   s->comm, what[why], strerror(error));
	}
	/* A version refusal was queued for the peer to read first. */
	conn_close(&s->conn, why == CONN_OLD_VERSION);
	session_end(s);
}

static int on_region_fds(struct conn *c, uint64_t region_id, uint32_t first, uint32_t n,
			 int *fds)
{
	struct session *s = container_of(c, struct session, conn);
	int r = s->srv->handlers->region_fds(s, region_id, first, n, fds);

	if (r < 0)
		log_warn("session %llu: region %llu went away before its reply left: %s",
			 (unsigned long long)s->id, (unsigned long long)region_id, strerror(-r));
	return r;
}

static const struct conn_ops session_conn_ops = {
	.message = on_message,
	.ended = on_ended,
	.region_fds = on_region_fds,
};

/* ---- sessions ---- */

int session_open(struct server *srv, int fd, struct session **ret)
{
	socklen_t len = sizeof(struct ucred);
	struct session *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &s->cred, &len) < 0) {
		r = -errno;
		close(fd);
		free(s);
		return r;
	}
	r = conn_open(&s->conn, &srv->loop, fd, &session_conn_ops, &srv->fdreap,
		      srv->limits.max_out);
	if (r < 0) {
		free(s);
		return r;
	}
	s->srv = srv;
	s->stash_fd = -1;
	if (srv->store)
		conn_defer(&s->conn, &srv->outbox, true);
	peer_groups(s->conn.src.fd, s->cred.gid, &s->groups);
	s->may_alloc = access_allows(&srv->access, &s->cred, &s->groups);
	list_init(&s->leases);
	list_init(&s->parked_link);
	list_init(&s->link);
	*ret = s;
	return 0;
}

/* A connection refused at the fd limit: said once a minute at most. */
static void note_busy(struct server *srv)
{
	uint64_t now = now_ns();
	struct rlimit rl = { 0 };

	srv->refused_busy++;
	if (srv->busy_logged_ns && now - srv->busy_logged_ns < 60ull * 1000000000u)
		return;
	srv->busy_logged_ns = now;
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	log_warn("at the fd limit (RLIMIT_NOFILE %llu, %u sessions): refusing new connections "
		 "with EAGAIN (%llu so far); the sessions there are served as before",
		 (unsigned long long)rl.rlim_cur, srv->nsessions,
		 (unsigned long long)srv->refused_busy);
}

/* accept4 failed for want of fds: the connection would wait in the
 * backlog, its client blocked on a HELLO no one reads. Give up the spare
 * fd to accept it, tell it EAGAIN (request 0: unasked, before the close),
 * and take the spare again. */
static int refuse_at_fd_limit(struct server *srv, int error)
{
	int fd;

	if (srv->spare_fd < 0)
		return -error;
	close(srv->spare_fd);
	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0) {
		struct proto_status st = { .error = EAGAIN };
		uint8_t buf[sizeof(struct proto_hdr) + sizeof(st)];
		size_t n = proto_encode(buf, PROTO_STATUS, 0, &st, sizeof(st));
		(void)proto_send(fd, buf, n, NULL, 0);
		close(fd);
		srv->stats.fail_other++;
		note_busy(srv);
	} else {
		error = errno;
	}
	/* Another thread (reclaim, the fd reaper) may have taken the slot:
	 * then the caller pauses listening until fds come back. */
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (srv->spare_fd < 0)
		return -EMFILE;
	return fd >= 0 ? 0 : -error;
}

int server_accept(struct server *srv)
{
	struct session *s;
	int fd, r;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		return refuse_at_fd_limit(srv, errno);
	if (fd < 0)
		return -errno;
	r = session_open(srv, fd, &s);
	if (r < 0)
		return r;
	if (!admit(srv, &s->cred, s->may_alloc)) {
		/* Told why before the close (request 0: unsolicited), so the
		 * client reports EDQUOT rather than a reset. */
		if (!srv->refused_sessions++)
			log_warn("refusing a connection of uid %u: over a session limit "
				 "(max-sessions %u, uid-max-sessions %u); logged once",
				 (unsigned)s->cred.uid, srv->limits.max_sessions,
				 srv->limits.uid_max_sessions);
		session_answer(s, 0, OUTCOME_CLOSE_OVER_QUOTA);
		free(s);
		return 0;
	}
	if (account_join(&srv->accounts, s->cred.uid, &s->account) < 0) {
		note_busy(srv);
		session_answer(s, 0, OUTCOME_CLOSE_BUSY);
		free(s);
		return 0;
	}
	if (session_join_tenant(srv, s, true) < 0) {
		account_leave(&srv->accounts, s->account);
		note_busy(srv);
		session_answer(s, 0, OUTCOME_CLOSE_BUSY);
		free(s);
		return 0;
	}
	s->id = ++srv->next_session_id;
	s->connected_ns = now_ns();
	struct stat sb;
	if (fstat(s->conn.src.fd, &sb) == 0)
		s->sock_ino = (uint64_t)sb.st_ino;
	srv->version++;
	read_comm(s->cred.pid, s->comm);
	list_add_tail(&srv->sessions, &s->link);
	srv->nsessions++;
	srv->stats.sessions_total++;
	log_debug("session %llu: pid %d uid %u (%s) connected", (unsigned long long)s->id,
		  (int)s->cred.pid, (unsigned)s->cred.uid, s->comm);
	return 0;
}

bool session_wait_for_store(struct session *s)
{
	if (!s->srv->gate_unstored || s->store_held || s->store_unheld)
		return false;
	conn_regate(&s->conn);
	s->srv->ngated++;
	return true;
}

void session_open_gate(struct session *s)
{
	if (!s->conn.gated)
		return;
	s->srv->ngated--;
	conn_gate(&s->conn, false);
}

void server_open_gates(struct server *srv)
{
	struct list_node *n;

	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);

		session_open_gate(s);
		conn_hold_out(&s->conn, false); /* (flushed at this turn's end) */
	}
}

void session_end(struct session *s)
{
	struct list_node *n, *t;

	if (s->dead)
		return;
	if (s->conn.gated) {
		s->srv->ngated--;
		s->conn.gated = false;
	}
	s->dead = true;
	s->srv->version++;
	/* systemd's fd store holds the socket too: the peer must see the end
	 * now, not when the store lets go of it (but a daemon that stops
	 * leaves every session to the next one). */
	if (s->store_held && !s->srv->stopping && !s->conn.dead && s->conn.src.fd >= 0)
		(void)shutdown(s->conn.src.fd, SHUT_RDWR);
	conn_close(&s->conn, false);
	if (s->stash_fd >= 0)
		close(s->stash_fd);
	s->stash_fd = -1;
	/* Empty the table before the pages go: a client still running would
	 * otherwise take back an entry whose page is being revoked, and fault
	 * in another frame than the address it was told. Not when the session
	 * is handed over to the next contigd: the stored state says those
	 * regions are leased and stashed, and the next contigd takes them
	 * from this very table. */
	uint64_t ids[PROTO_STASH_SLOTS];
	if (!s->srv->handed_over)
		(void)stash_drain(&s->stash, ids);
	stash_close(&s->stash);
	list_del(&s->parked_link);
	s->parked = false;
	list_for_each_safe(n, t, &s->leases) {
		struct lease *l = container_of(n, struct lease, by_holder);
		/* At shutdown nothing is revoked: clients keep the pages they
		 * map across a daemon restart; pool_destroy frees the leases. */
		if (s->srv->stopping)
			list_del(&l->by_holder);
		else
			pool_lease_drop(&s->srv->pool, l);
	}
	tenant_uncharge(s->tenant, s->bytes);
	tenant_leave(&s->srv->tenants, s->tenant);
	s->tenant = NULL;
	if (s->account) {
		s->account->regions -= s->nregions;
		s->account->bytes -= s->bytes;
		account_leave(&s->srv->accounts, s->account);
		s->account = NULL;
	}
	if (s->grant) {
		s->grant->held -= s->bytes;
		grant_leave(&s->srv->grants, s->grant);
		s->grant = NULL;
	}
	s->nregions = 0;
	s->bytes = 0;
	s->carve_bytes = 0;
	s->srv->nsessions--;
	s->srv->reap = true;
	log_debug("session %llu closed", (unsigned long long)s->id);
}

void server_reap(struct server *srv)
{
	struct list_node *n, *t;

	/* The end of a loop turn: replies are out, reclaim may start. */
	pool_reclaim_kick(&srv->pool);
	if (!srv->reap)
		return;
	srv->reap = false;
	list_for_each_safe(n, t, &srv->sessions) {
		struct session *s = container_of(n, struct session, link);
		if (!s->dead)
			continue;
		/* Its entries in systemd's fd store go first (restart.c). */
		if ((s->store_held || s->stash_held) && !srv->stopping) {
			srv->reap = true;
			continue;
		}
		list_del(&s->link);
		free(s);
	}
}

/* A connection that never says HELLO holds an fd and a session slot for
 * nothing: close it after HELLO_DEADLINE_NS. Called once a second. */
void server_expire_silent(struct server *srv, uint64_t now)
{
	struct list_node *n, *t;

	list_for_each_safe(n, t, &srv->sessions) {
		struct session *s = container_of(n, struct session, link);
		if (!s->dead && !s->hello && now - s->connected_ns > HELLO_DEADLINE_NS) {
			log_debug("session %llu: no HELLO in time; closing it",
				  (unsigned long long)s->id);
			session_end(s);
		}
	}
}

void server_close_all(struct server *srv)
{
	struct list_node *n, *t;

	srv->stopping = true;
	list_for_each_safe(n, t, &srv->sessions)
		session_end(container_of(n, struct session, link));
	server_reap(srv);
}

void server_apply(struct server *srv, const struct limits *limits, const struct access *access)
{
	struct list_node *n;
	uint32_t lost = 0, gained = 0;

	srv->limits = *limits;
	/* The socket's group comes from the socket, not the file. */
	gid_t socket_gid = srv->access.socket_gid;
	bool socket_gid_set = srv->access.socket_gid_set;
	srv->access = *access;
	srv->access.socket_gid = socket_gid;
	srv->access.socket_gid_set = socket_gid_set;

	/* From the groups SO_PEERGROUPS gave at connect: what the peer was
	 * then, judged by the rules as they are now. */
	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);
		bool may = access_allows(&srv->access, &s->cred, &s->groups);

		s->conn.max_out = srv->limits.max_out;
		if (s->dead || may == s->may_alloc)
			continue;
		lost += !may;
		gained += may;
		s->may_alloc = may;
	}
	if (lost || gained)
		log_info("access: %u open sessions may no longer allocate, %u may now", lost, gained);
	/* Their stashes go back now (take_one drains a session without the
	 * right whole); what they hold they keep until they free it. */
	if (lost)
		server_take_stashes(srv);
}

/* ---- the answer path ---- */

static void count_refusal(struct server_stats *st, enum outcome o)
{
	switch (o) {
	case OUTCOME_INVALID: st->fail_einval++; break;
	case OUTCOME_NO_MEMORY: st->fail_enomem++; break;
	case OUTCOME_OVER_QUOTA:
	case OUTCOME_CLOSE_OVER_QUOTA: st->fail_edquot++; break;
	case OUTCOME_DENIED: st->fail_eacces++; break;
	case OUTCOME_NOT_SUPPORTED:
	case OUTCOME_TRY_AGAIN:
	case OUTCOME_CLOSE_BUSY: st->fail_other++; break;
	default: break; /* NOT_FOUND: a FREE of what is not ours is no failure */
	}
}

void session_answer(struct session *s, uint32_t request, enum outcome o)
{
	struct proto_status st = {
		.error = (uint32_t)outcome_errno(o),
		.value = o == OUTCOME_CLOSE_VERSION ? PROTO_VERSION : 0,
	};

	if (s->dead || s->conn.dead)
		return;
	switch (o) {
	case OUTCOME_REPLIED:
	case OUTCOME_WAITING:
		return;
	case OUTCOME_VIOLATION:
		s->srv->stats.protocol_errors++;
		log_notice("session %llu (pid %d uid %u %s): protocol violation; closing it",
			   (unsigned long long)s->id, (int)s->cred.pid, (unsigned)s->cred.uid,
			   s->comm);
		session_end(s);
		return;
	case OUTCOME_UNDELIVERABLE:
		/* Closing rolls back what the reply would have handed out. */
		log_warn("session %llu: cannot queue a reply; closing it",
			 (unsigned long long)s->id);
		session_end(s);
		return;
	case OUTCOME_CLOSE_OVER_QUOTA:
	case OUTCOME_CLOSE_BUSY:
	case OUTCOME_CLOSE_VERSION:
		/* Told why, then closed: the peer reads the STATUS before the
		 * hang-up. Not admitted yet (id 0 at accept): nothing to end. */
		count_refusal(&s->srv->stats, o);
		(void)conn_queue(&s->conn, PROTO_STATUS, request, &st, sizeof(st));
		conn_close(&s->conn, true);
		if (s->id)
			session_end(s);
		return;
	default:
		count_refusal(&s->srv->stats, o);
		if (conn_queue(&s->conn, PROTO_STATUS, request, &st, sizeof(st)) < 0)
			session_end(s);
		else if (request && request == s->cur_request)
			session_replied(s, PROTO_STATUS, st.error, st.value, 0);
		return;
	}
}

void session_replied(struct session *s, uint16_t type, int32_t error, uint64_t value,
		     uint64_t region_id)
{
	/* Asking to look changes nothing: a restart serves it again. */
	if (s->cur_type == PROTO_QUERY || s->cur_type == PROTO_LIST)
		return;
	s->reply = (struct state_reply){ .request = s->cur_request, .request_type = s->cur_type,
					 .type = type, .error = error, .value = value,
					 .region_id = region_id };
	s->srv->version++;
}

/* ---- tenant accounting ---- */

bool session_over_quota(const struct session *s, uint64_t bytes)
{
	const struct limits *lim = &s->srv->limits;
	const struct account *u = s->account;

	if (s->nregions + 1 > lim->session_max_regions || bytes > lim->session_max_bytes ||
	    s->bytes > lim->session_max_bytes - bytes)
		return true;
	/* Root's sessions too: a cgroup limit, or the grant in its place, is
	 * the operator's word on what a container may hold, whoever runs in
	 * it. */
	if (s->grant ? grant_over(s->grant, bytes) : tenant_over(s->tenant, bytes) != NULL)
		return true;
	if (s->cred.uid == 0 || !u)
		return false;
	return u->regions + 1 > lim->uid_max_regions || bytes > lim->uid_max_bytes ||
	       u->bytes > lim->uid_max_bytes - bytes;
}

static uint64_t lease_bytes(const struct session *s, const struct lease *l)
{
	return (uint64_t)l->region->npages * s->srv->pool.page_size;
}

/* Every holder of a carve region counts it, as it counts it in bytes: an
 * importer holds the same page (a raw client may export one). */
void session_lease_added(struct session *s, struct lease *l, bool is_new)
{
	if (!is_new)
		return;
	list_add_tail(&s->leases, &l->by_holder);
	s->nregions++;
	s->bytes += lease_bytes(s, l);
	if (s->account) {
		s->account->regions++;
		s->account->bytes += lease_bytes(s, l);
	}
	tenant_charge(s->tenant, lease_bytes(s, l));
	if (s->grant)
		s->grant->held += lease_bytes(s, l);
	if (l->region->carve)
		s->carve_bytes += lease_bytes(s, l);
}

void session_lease_release(struct session *s, struct lease *l)
{
	if (l->refs == 1) {
		s->nregions--;
		s->bytes -= lease_bytes(s, l);
		if (s->account) {
			s->account->regions--;
			s->account->bytes -= lease_bytes(s, l);
		}
		tenant_uncharge(s->tenant, lease_bytes(s, l));
		if (s->grant)
			s->grant->held -= lease_bytes(s, l);
		if (l->region->carve)
			s->carve_bytes -= lease_bytes(s, l);
	}
	pool_lease_put(&s->srv->pool, l);
}

uint64_t session_carve_in_use(const struct session *s)
{
	if (s->dead)
		return 0;
	return stash_carve_report(&s->stash, s->carve_bytes);
}

void server_carve_totals(const struct server *srv, uint64_t *ret_leased, uint64_t *ret_in_use)
{
	const struct list_node *n;
	uint64_t leased = 0, in_use = 0;

	/* No wrap: a session's figures are bytes it holds (in_use is capped
	 * at them), and what all sessions hold is bounded by the pool times
	 * the sessions, far below 2^64. */
	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		const struct session *s = container_of(n, struct session, link);
		if (s->dead)
			continue;
		leased += s->carve_bytes;
		in_use += session_carve_in_use(s);
	}
	*ret_leased = leased;
	*ret_in_use = in_use;
}

/* ---- waiting for reclaim ---- */

void session_park(struct session *s, const struct proto_msg *m)
{
	s->parked = true;
	s->parked_msg = *m;
	conn_hold(&s->conn, true);
	list_add_tail(&s->srv->parked, &s->parked_link);
	s->srv->stats.waits++;
}

void server_retry_parked(struct server *srv)
{
	struct list_node batch, *n, *t;

	if (list_empty(&srv->parked))
		return;
	/* Take the current waiters out first: one that parks again goes back
	 * on srv->parked and waits for the next reclaim, not for this loop. */
	batch = srv->parked;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	list_init(&srv->parked);

	list_for_each_safe(n, t, &batch) {
		struct session *s = container_of(n, struct session, parked_link);
		struct proto_msg m = s->parked_msg;

		list_del(&s->parked_link);
		s->parked = false;
		conn_hold(&s->conn, false);
		serve(s, &m);
		conn_kick(&s->conn);
	}
}

/* ---- stash take-back ---- */

/* Free what a session's stash named, as FREEs of it would. */
static uint32_t take_ids(struct session *s, const uint64_t *ids, uint32_t n)
{
	struct server_stats *st = &s->srv->stats;
	uint32_t taken = 0;

	for (uint32_t i = 0; i < n; i++) {
		/* The client wrote this id: it must name a region this session
		 * holds, or it is ignored. Taking one is what a FREE of it would
		 * have done, so a client gains nothing by lying here that it
		 * could not get by asking. */
		struct region *rg = pool_region_find(&s->srv->pool, ids[i]);
		struct lease *l = rg ? pool_lease_of(rg, s) : NULL;
		if (!l) {
			st->stash_bogus++;
			continue;
		}
		log_debug("session %llu: took stashed region %llu", (unsigned long long)s->id,
			  (unsigned long long)ids[i]);
		session_lease_release(s, l);
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

	if (s->dead || conn_busy(&s->conn))
		return 0;
	/* A session that may no longer allocate keeps nothing stashed. */
	if (!s->may_alloc)
		drain = stash_drain;
	uint32_t n = drain(&s->stash, ids);
	if (s->stash.marked)
		s->srv->stash_marked = true;
	return take_ids(s, ids, n);
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

#define TAKE_FOR_MEMORY_NS (100ull * 1000000u)
uint32_t server_take_for_memory(struct server *srv)
{
	uint64_t now = now_ns();

	if (srv->last_memory_take_ns && now - srv->last_memory_take_ns < TAKE_FOR_MEMORY_NS)
		return 0;
	srv->last_memory_take_ns = now;
	return server_take_stashes(srv);
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

void server_unmark_stashes(struct server *srv)
{
	struct list_node *n;

	if (!srv->stash_marked)
		return;
	srv->stash_marked = false;
	for (n = srv->sessions.next; n != &srv->sessions; n = n->next)
		stash_unmark(&container_of(n, struct session, link)->stash);
}

uint32_t session_finish_takes(struct session *s)
{
	uint64_t ids[PROTO_STASH_SLOTS];
	uint32_t n = stash_marked(&s->stash, ids), k = 0;
	bool owed = session_reply_owed(s);

	if (s->stash.marked)
		s->srv->stash_marked = true;
	/* A reply still owed to the client may hand out a region its table
	 * also names (nothing stops it lying): that one stays, as take_one
	 * would have left it. A recorded reply that left with its request is
	 * no reason to keep anything: the client had the region, stashed it,
	 * and the take of it must be finished like any other. */
	for (uint32_t i = 0; i < n; i++) {
		struct region *rg = pool_region_find(&s->srv->pool, ids[i]);
		/* Freed already: the killed contigd's state recorded it. */
		if (!rg || !pool_lease_of(rg, s))
			continue;
		if (!owed || ids[i] != s->reply.region_id)
			ids[k++] = ids[i];
	}
	return take_ids(s, ids, k);
}
