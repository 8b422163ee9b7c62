/* SPDX-License-Identifier: MIT */
/*
 * session.c - one connection: credentials, reading datagrams, the queue of
 * replies, and the end of a session (every lease it holds is dropped, so a
 * client killed with SIGKILL gives everything back).
 *
 * Back-pressure instead of buffers: a session is read only while its reply
 * queue is empty and it has no request waiting for reclaim, so one request
 * at a time is in progress per session and the daemon's memory per session
 * is bounded by one reply (at most ceil(PROTO_MAX_REGION_PAGES / max fds)
 * datagrams). A client that never reads its replies only stalls itself.
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define READS_PER_TURN 16

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

static void on_session(struct loop_source *src, uint32_t events);

void server_access_recheck(struct server *srv)
{
	struct list_node *n;
	uint32_t lost = 0, gained = 0;

	/* From the groups SO_PEERGROUPS gave at connect: what the peer was
	 * then, judged by the rules as they are now. */
	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);
		bool may = access_allows(&srv->access, &s->cred, &s->groups);

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
	uint32_t untrusted = 0, same_uid = 0;
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
		same_uid += o->cred.uid == c->uid;
	}
	if (!trusted && untrusted >= l->max_sessions / 2)
		return false;
	return same_uid < l->uid_max_sessions;
}

static void refuse_connection(struct server *srv, int fd, const struct ucred *c)
{
	/* An unsolicited STATUS (request 0) tells the client why before the
	 * close, so it reports EDQUOT rather than a reset. The socket is new
	 * and empty: this send cannot block. */
	struct proto_status st = { .error = EDQUOT };
	uint8_t out[sizeof(struct proto_hdr) + sizeof(st)];
	size_t n = proto_encode(out, PROTO_STATUS, 0, &st, sizeof(st));

	(void)proto_send(fd, out, n, NULL, 0);
	srv->pool.stats.fail_edquot++;
	if (!srv->refused_sessions++)
		log_warn("refusing a connection of uid %u: over a session limit (max-sessions %u, "
			 "uid-max-sessions %u); logged once",
			 (unsigned)c->uid, srv->limits.max_sessions, srv->limits.uid_max_sessions);
	close(fd);
}

int server_accept(struct server *srv)
{
	struct peer_groups groups;
	struct session *s;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool trusted;
	int fd;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	peer_groups(fd, cred.gid, &groups);
	trusted = access_allows(&srv->access, &cred, &groups);
	if (!admit(srv, &cred, trusted)) {
		refuse_connection(srv, fd, &cred);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->cred = cred;
	s->groups = groups;
	s->srv = srv;
	s->id = ++srv->next_session_id;
	s->connected_ns = now_ns();
	s->out_tail = &s->out_head;
	s->may_alloc = trusted;
	read_comm(s->cred.pid, s->comm);
	list_init(&s->leases);
	list_init(&s->parked_link);
	if (loop_add(&srv->loop, &s->src, fd, EPOLLIN, on_session) < 0) {
		close(fd);
		free(s);
		return -errno;
	}
	list_add_tail(&srv->sessions, &s->link);
	srv->nsessions++;
	srv->pool.stats.sessions_total++;
	log_debug("session %llu: pid %d uid %u (%s) connected", (unsigned long long)s->id,
		  (int)s->cred.pid, (unsigned)s->cred.uid, s->comm);
	return 0;
}

static void out_free(struct outmsg *m)
{
	/* A stash table of ours: closing it never blocks. */
	if (m->owned_fd >= 0)
		close(m->owned_fd);
	free(m);
}

static void out_free_all(struct session *s)
{
	while (s->out_head) {
		struct outmsg *m = s->out_head;
		s->out_head = m->next;
		out_free(m);
	}
	s->out_tail = &s->out_head;
	s->nout = 0;
}

/* Mark dead now, free at the end of the loop turn: other handlers of this
 * turn may still hold a pointer to it. Its pages are released at once. */
void session_close(struct session *s)
{
	struct list_node *n, *t;

	if (s->dead)
		return;
	s->dead = true;
	loop_del(&s->srv->loop, &s->src);
	close(s->src.fd);
	s->src.fd = -1;
	out_free_all(s);
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
	s->nregions = 0;
	s->bytes = 0;
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
			session_close(s);
		}
	}
}

void server_close_all(struct server *srv)
{
	struct list_node *n, *t;

	srv->stopping = true;
	list_for_each_safe(n, t, &srv->sessions)
		session_close(container_of(n, struct session, link));
	server_reap(srv);
}

/* Send one queued datagram: 0, or -errno (-EAGAIN: no room yet). */
static int out_send(struct session *s, struct outmsg *m)
{
	int fds[PROTO_MAX_FDS];

	if (m->region_id) {
		/* Looked up now, not when queued: the numbers are the pool's
		 * as they are at this sendmsg, for a region this session
		 * still holds, or nothing is sent. */
		int r = session_region_fds(s, m->region_id, m->first, m->nfds, fds);
		if (r < 0) {
			log_warn("session %llu: region %llu went away before its reply left: %s",
				 (unsigned long long)s->id, (unsigned long long)m->region_id,
				 strerror(-r));
			return r;
		}
		return proto_send(s->src.fd, m->buf, m->len, fds, m->nfds);
	}
	return proto_send(s->src.fd, m->buf, m->len, &m->owned_fd, m->owned_fd >= 0);
}

static int session_flush(struct session *s)
{
	while (s->out_head) {
		struct outmsg *m = s->out_head;
		int r = out_send(s, m);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		s->out_head = m->next;
		if (!s->out_head)
			s->out_tail = &s->out_head;
		s->nout--;
		out_free(m);
	}
	return 0;
}

void session_update_interest(struct session *s)
{
	uint32_t ev = 0;

	if (s->dead)
		return;
	if (s->out_head)
		ev = EPOLLOUT;
	else if (!s->parked)
		ev = EPOLLIN;
	/* With no interest, EPOLLHUP and EPOLLERR still wake us: a parked
	 * client that dies is noticed. */
	if (loop_set(&s->srv->loop, &s->src, ev) < 0)
		session_close(s);
}

static struct outmsg *out_new(struct session *s, uint16_t type, uint32_t request,
			      const void *body, size_t body_len)
{
	size_t len = sizeof(struct proto_hdr) + body_len;
	struct outmsg *m;

	if (len > PROTO_MAX_MSG || s->nout >= s->srv->limits.max_out)
		return NULL;
	m = malloc(sizeof(*m) + len);
	if (!m)
		return NULL;
	*m = (struct outmsg){ .owned_fd = -1 };
	m->len = proto_encode(m->buf, type, request, body, body_len);
	return m;
}

static void out_append(struct session *s, struct outmsg *m)
{
	*s->out_tail = m;
	s->out_tail = &m->next;
	s->nout++;
}

int session_queue(struct session *s, uint16_t type, uint32_t request, const void *body,
		  size_t body_len)
{
	struct outmsg *m;

	if (s->dead)
		return -EPIPE;
	m = out_new(s, type, request, body, body_len);
	if (!m)
		return -ENOBUFS;
	out_append(s, m);
	return 0;
}

int session_queue_region(struct session *s, uint32_t request, const struct proto_region *body)
{
	struct outmsg *m;

	if (s->dead)
		return -EPIPE;
	if (!body->region_id || body->count > PROTO_MAX_FDS)
		return -EINVAL;
	m = out_new(s, PROTO_REGION, request, body, sizeof(*body));
	if (!m)
		return -ENOBUFS;
	m->region_id = body->region_id;
	m->first = body->first;
	m->nfds = body->count;
	out_append(s, m);
	return 0;
}

int session_queue_owned_fd(struct session *s, uint16_t type, uint32_t request, const void *body,
			   size_t body_len, int fd)
{
	struct outmsg *m = s->dead ? NULL : out_new(s, type, request, body, body_len);

	if (!m) {
		close(fd);
		return s->dead ? -EPIPE : -ENOBUFS;
	}
	m->owned_fd = fd;
	out_append(s, m);
	return 0;
}

int session_reply_status(struct session *s, uint32_t request, int error, uint64_t value)
{
	struct proto_status st = { .error = error < 0 ? -error : error, .value = value };

	return session_queue(s, PROTO_STATUS, request, &st, sizeof(st));
}

static void violation(struct session *s, const char *what, int r)
{
	s->srv->pool.stats.protocol_errors++;
	/* Logged once per session: a hostile client cannot flood the log. */
	if (!s->violations++)
		log_notice("session %llu (pid %d uid %u %s): %s: %s; closing it",
			   (unsigned long long)s->id, (int)s->cred.pid, (unsigned)s->cred.uid,
			   s->comm, what, strerror(r < 0 ? -r : r));
	session_close(s);
}

static void session_read(struct session *s)
{
	static uint8_t buf[PROTO_MAX_MSG]; /* loop thread only: not on its stack */
	int fds[PROTO_RECV_MAX_FDS];

	for (int i = 0; i < READS_PER_TURN && !s->dead && !s->out_head && !s->parked; i++) {
		struct proto_msg m;
		size_t nfds;
		ssize_t n = proto_recv_untrusted(s->src.fd, buf, sizeof(buf), fds, &nfds);

		/* Clients never send fds, and the socket refuses them where
		 * the kernel can (SO_PASSRIGHTS). Any that came anyway make the
		 * message a violation, and are closed off this thread: closing
		 * a file the client chose can block (fdreap.h). */
		if (nfds) {
			fdreap_push(&s->srv->fdreap, fds, nfds);
			if (n >= 0)
				n = -EBADMSG;
		}
		if (n == -EAGAIN)
			return;
		if (n == 0) {
			session_close(s);
			return;
		}
		if (n < 0) {
			if (n == -EMSGSIZE)
				violation(s, "oversized datagram", (int)n);
			else if (n == -EBADMSG)
				violation(s, "fds sent to the daemon", (int)n);
			else
				session_close(s);
			return;
		}
		int r = proto_decode(buf, (size_t)n, 0, &m);
		if (r == -EPROTONOSUPPORT) {
			struct proto_hdr h;
			memcpy(&h, buf, sizeof(h));
			struct proto_status st = { .error = EPROTONOSUPPORT, .value = PROTO_VERSION };
			uint8_t out[sizeof(struct proto_hdr) + sizeof(st)];
			size_t len = proto_encode(out, PROTO_STATUS, h.request, &st, sizeof(st));
			(void)proto_send(s->src.fd, out, len, NULL, 0);
		}
		if (r < 0) {
			violation(s, "malformed message", r);
			return;
		}
		r = dispatch(s, &m);
		if (r == -EDQUOT || r == -EPROTONOSUPPORT) {
			/* Refused at HELLO (the reason was sent): not a violation. */
			session_close(s);
			return;
		}
		if (r < 0) {
			violation(s, "protocol violation", r);
			return;
		}
	}
}

static void on_session(struct loop_source *src, uint32_t events)
{
	struct session *s = container_of(src, struct session, src);

	if (s->dead)
		return;
	if (events & EPOLLOUT) {
		if (session_flush(s) < 0) {
			session_close(s);
			return;
		}
	}
	if (events & EPOLLIN)
		session_read(s);
	else if (events & (EPOLLHUP | EPOLLERR)) {
		session_close(s);
		return;
	}
	if (!s->dead && s->out_head && session_flush(s) < 0)
		session_close(s);
	session_update_interest(s);
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
		if (dispatch(s, &m) < 0)
			session_close(s);
		if (!s->dead && s->out_head && session_flush(s) < 0)
			session_close(s);
		session_update_interest(s);
	}
}
