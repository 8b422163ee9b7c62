/* SPDX-License-Identifier: MIT */
/*
 * restart.c - see restart.h.
 */
#define _GNU_SOURCE
#include "restart.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* A new state file's slots: room for the pool and some sessions; a state
 * that outgrows them moves to a file twice the size it needed. */
static uint64_t slot_estimate(uint32_t npages)
{
	return (uint64_t)npages * 256 + (256u << 10);
}

bool restart_load(struct restart *rs)
{
	*rs = (struct restart){ .listen_fd = -1, .state_fd = -1, .state = { .fd = -1 },
				.store = { .sock = -1 } };
	if (fdstore_open(&rs->store) < 0)
		log_warn("NOTIFY_SOCKET: cannot connect: %s; systemd's fd store is not kept",
			 strerror(errno));
	if (fdstore_passed_load(&rs->passed, &rs->npassed) < 0) {
		log_warn("the file descriptors systemd passed are unusable: starting cold");
		return false;
	}
	for (uint32_t i = 0; i < rs->npassed; i++) {
		struct fdstore_passed *e = &rs->passed[i];

		if (e->kind == FDSTORE_LISTEN && rs->listen_fd < 0) {
			/* Ours (listen) or a socket unit's: either way systemd
			 * keeps it, so it is never stored again. */
			rs->listen_fd = e->fd;
			rs->listen_held = true;
			rs->listen_stored = !strcmp(e->name, "listen");
			e->fd = -1;
		} else if (e->kind == FDSTORE_STATE &&
			   (rs->state_fd < 0 || e->num > rs->state_gen)) {
			rs->state_fd = e->fd;
			rs->state_gen = (uint32_t)e->num;
		}
	}
	if (rs->state_fd >= 0)
		for (uint32_t i = 0; i < rs->npassed; i++)
			if (rs->passed[i].fd == rs->state_fd)
				rs->passed[i].fd = -1; /* ours now */
	return rs->state_fd >= 0;
}

void restart_cold(struct restart *rs)
{
	uint32_t closed = 0;

	if (rs->state_fd >= 0)
		close(rs->state_fd);
	rs->state_fd = -1;
	for (uint32_t i = 0; i < rs->npassed; i++) {
		struct fdstore_passed *e = &rs->passed[i];
		bool seen = false;

		if (e->kind == FDSTORE_LISTEN)
			continue;
		/* A session of the old pool ends now, for its client to see. */
		if (e->fd >= 0 && e->kind == FDSTORE_SESS)
			(void)shutdown(e->fd, SHUT_RDWR);
		if (e->fd >= 0) {
			close(e->fd);
			closed++;
		}
		e->fd = -1;
		for (uint32_t k = 0; k < i && !seen; k++)
			seen = !strcmp(rs->passed[k].name, e->name);
		if (!seen)
			fdstore_remove(&rs->store, e->name, 1);
	}
	if (!closed && !rs->store.ngone)
		return;
	log_notice("starting cold: %u stored files closed and taken out of systemd's fd store "
		   "(pages clients still map stay theirs; a new pool is reserved beside them)",
		   closed);
	/* Their pages go back to the kernel only once the manager closed its
	 * copies too: wait for that before a new pool is reserved. */
	if (fdstore_on(&rs->store)) {
		(void)fdstore_flush_wait(&rs->store, 1000);
		if (fdstore_barrier(&rs->store, 1000) < 0)
			log_warn("systemd did not confirm the removals in time; the new pool may "
				 "find fewer free hugepages");
	}
}

static struct fdstore_passed *find_passed(struct restart *rs, enum fdstore_kind kind,
					  uint64_t num)
{
	for (uint32_t i = 0; i < rs->npassed; i++)
		if (rs->passed[i].kind == kind && rs->passed[i].num == num &&
		    rs->passed[i].fd >= 0)
			return &rs->passed[i];
	return NULL;
}

static struct fdstore_passed *find_page_file(struct restart *rs, uint64_t ino)
{
	for (uint32_t i = 0; ino && i < rs->npassed; i++)
		if (rs->passed[i].kind == FDSTORE_PAGES && rs->passed[i].ino == ino &&
		    rs->passed[i].fd >= 0)
			return &rs->passed[i];
	return NULL;
}

/* The page files, each checked against its record: consumed into pages. */
static uint32_t adopt_pages(struct restart *rs, const struct state_view *v, uint64_t ps,
			    struct backing_linux *bl, struct backing_page *pages)
{
	uint32_t n = state_count(v, STATE_PAGES), dropped = 0;

	for (uint32_t id = 0; id < n; id++) {
		struct state_page sg;
		struct fdstore_passed *e;
		int r;

		state_get(v, STATE_PAGES, id, &sg, sizeof(sg));
		pages[id] = (struct backing_page){ .fd = -1 };
		if (sg.state == EXTENT_RECLAIMING || sg.state == EXTENT_LOST)
			continue;
		e = find_page_file(rs, sg.ino);
		if (!e) {
			log_warn("restore: page %u (%#" PRIx64 "): its file (inode %" PRIu64 ") is not "
				 "in the store; dropped, never handed out", id, sg.phys, sg.ino);
			dropped++;
			continue;
		}
		r = backing_linux_ops.adopt(bl, ps, e->fd, sg.ino, &pages[id]);
		e->fd = -1;
		if (r < 0) {
			log_warn("restore: page %u (%#" PRIx64 "): its file does not check out (%s); "
				 "dropped, never handed out", id, sg.phys, strerror(-r));
			dropped++;
			continue;
		}
		if (pages[id].phys != sg.phys) {
			log_warn("restore: page %u: its frame is %#" PRIx64 ", not the %#" PRIx64
				 " recorded; dropped, never handed out", id, pages[id].phys, sg.phys);
			backing_page_drop(&pages[id], ps);
			dropped++;
		}
	}
	return dropped;
}

static struct session *session_by_id(struct server *srv, uint64_t id)
{
	struct list_node *n;

	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);
		if (!s->dead && s->id == id)
			return s;
	}
	return NULL;
}

static uint32_t adopt_sessions(struct restart *rs, struct server *srv, const struct state_view *v)
{
	uint32_t back = 0;

	for (uint32_t i = 0; i < state_count(v, STATE_SESSIONS); i++) {
		struct state_session ss;
		struct fdstore_passed *e, *st;
		struct session *s;
		int sfd = -1, r;

		state_get(v, STATE_SESSIONS, i, &ss, sizeof(ss));
		e = find_passed(rs, FDSTORE_SESS, ss.id);
		if (!e || session_by_id(srv, ss.id)) {
			log_info("restore: session %" PRIu64 " (pid %d %.16s) hung up while contigd "
				 "was down; what it held is released", ss.id, ss.pid, ss.comm);
			continue;
		}
		st = (ss.flags & STATE_SESSION_STASH) ? find_passed(rs, FDSTORE_STASH, ss.id) : NULL;
		if (st) {
			sfd = st->fd;
			st->fd = -1;
		}
		r = server_restore_session(srv, &ss, e->fd, sfd, &s);
		e->fd = -1;
		if (r < 0) {
			char name[FDSTORE_NAME_MAX];

			log_warn("restore: session %" PRIu64 " (pid %d): %s; what it held is released",
				 ss.id, ss.pid, r == -EPERM ? "its socket has another peer" :
				 strerror(-r));
			/* Nothing names them any more: out of the store too. */
			snprintf(name, sizeof(name), "sess-%" PRIu64, ss.id);
			fdstore_remove(&rs->store, name, 1);
			if (st) {
				snprintf(name, sizeof(name), "stash-%" PRIu64, ss.id);
				fdstore_remove(&rs->store, name, 1);
			}
			continue;
		}
		if ((ss.flags & STATE_SESSION_STASH) && !s->stash.slots)
			log_warn("restore: session %" PRIu64 ": its stash table is gone; what it "
				 "stashed stays leased until it frees it or ends", ss.id);
		back++;
	}
	return back;
}

/* Before the sessions, which name them by id. A state written before
 * grants has none. */
static uint32_t adopt_grants(struct server *srv, const struct state_view *v)
{
	uint32_t back = 0;

	for (uint32_t i = 0; i < state_count(v, STATE_GRANTS); i++) {
		struct state_grant sg;
		struct grant *gr;

		state_get(v, STATE_GRANTS, i, &sg, sizeof(sg));
		if (grant_restore(&srv->grants, sg.id, sg.bytes, sg.token,
				  sg.flags & STATE_GRANT_REVOKED, &gr) < 0) {
			log_warn("restore: grant %" PRIu64 " is not usable; its sessions get no "
				 "more memory", sg.id);
			continue;
		}
		back++;
	}
	return back;
}

static uint32_t adopt_leases(struct server *srv, const struct state_view *v)
{
	uint32_t back = 0;

	for (uint32_t i = 0; i < state_count(v, STATE_LEASES); i++) {
		struct state_lease sl;
		struct session *s;
		struct lease *l;

		state_get(v, STATE_LEASES, i, &sl, sizeof(sl));
		s = session_by_id(srv, sl.session_id);
		if (!s || pool_lease_restore(&srv->pool, sl.region_id, s, sl.refs, &l) < 0)
			continue;
		session_lease_added(s, l, true);
		back++;
	}
	return back;
}

/* Takes of stashed regions the killed contigd began (its marks in the
 * tables) but may not have recorded: the regions its state still lists as
 * held are freed now (proto.h, PROTO_STASH_TAKEN). */
static uint32_t finish_takes(struct server *srv)
{
	struct list_node *n;
	uint32_t freed = 0;

	for (n = srv->sessions.next; n != &srv->sessions; n = n->next)
		freed += session_finish_takes(container_of(n, struct session, link));
	return freed;
}

/* A resume that failed after the sessions came back: undo it without
 * revoking anything or ending a session for its peer (the cold start that
 * follows takes every stored file out of the store, which ends them). */
static void undo(struct server *srv, struct backing_linux *bl)
{
	srv->stopping = true;
	server_close_all(srv);
	srv->stopping = false;
	srv->nsessions = 0;
	pool_destroy(&srv->pool);
	memset(&srv->pool, 0, sizeof(srv->pool));
	backing_linux_close(bl);
}

int restart_resume(struct restart *rs, struct server *srv, const struct settings *arg,
		   struct backing_linux *bl, bool no_pin)
{
	struct pool_restore_report rep;
	struct backing_page *pages = NULL;
	struct state_view v;
	struct state_pool sp;
	struct state_store sto;
	struct state_server sv;
	uint64_t t0 = now_ns();
	uint32_t dropped, nsess, nleases, resent, finished;
	char why[256];
	int r;

	r = state_read(rs->state_fd, &v, why, sizeof(why));
	if (r < 0) {
		log_err("restore: the stored state (state-%u) is unusable: %s; starting cold",
			rs->state_gen, why);
		return r;
	}
	state_get(&v, STATE_POOL, 0, &sp, sizeof(sp));
	state_get(&v, STATE_STORE, 0, &sto, sizeof(sto));
	state_get(&v, STATE_SERVER, 0, &sv, sizeof(sv));
	if (sto.flags & STATE_STORE_INCOMPLETE) {
		log_err("restore: systemd's fd store was missing files when the state was "
			"written (it was full); starting cold");
		r = -ENOSPC;
		goto out;
	}
	if (sp.page_size != arg->page_size || !sp.npages || sp.npages > PROTO_MAX_REGION_PAGES * 8u ||
	    state_count(&v, STATE_PAGES) != sp.npages) {
		log_err("restore: the stored pool (%u pages of %" PRIu64 " bytes) is not one of "
			"page size %" PRIu64 "; starting cold", sp.npages, sp.page_size,
			arg->page_size);
		r = -EINVAL;
		goto out;
	}
	r = backing_linux_open(bl, sp.page_size, no_pin ? 0 : sp.npages);
	if (r < 0) {
		log_err("restore: cannot open /proc/self/pagemap: %s", strerror(-r));
		goto out;
	}
	pages = calloc(sp.npages, sizeof(*pages));
	if (!pages) {
		r = -ENOMEM;
		backing_linux_close(bl);
		goto out;
	}
	dropped = adopt_pages(rs, &v, sp.page_size, bl, pages);
	struct pool_config cfg = {
		.page_size = sp.page_size,
		.npages = sp.npages,
		.quarantine_ms = arg->quarantine_ms,
		.zero_in_place = arg->zero_in_place,
		.oversample = sp.oversample,
	};
	r = pool_restore(&srv->pool, &cfg, &backing_linux_ops, bl, &v, pages, &rep);
	for (uint32_t id = 0; id < sp.npages; id++)
		backing_page_drop(&pages[id], sp.page_size); /* what pool_restore did not take */
	free(pages);
	if (r < 0) {
		log_err("restore: the stored state does not hold together (%s); starting cold",
			strerror(-r));
		pool_destroy(&srv->pool);
		memset(&srv->pool, 0, sizeof(srv->pool));
		backing_linux_close(bl);
		goto out;
	}
	(void)adopt_grants(srv, &v);
	nsess = adopt_sessions(rs, srv, &v);
	nleases = adopt_leases(srv, &v);
	grants_prune(&srv->grants);
	pool_restore_finish(&srv->pool);
	if (sv.next_session_id > srv->next_session_id)
		srv->next_session_id = sv.next_session_id;
	if (sv.next_grant_id > srv->grants.next_id)
		srv->grants.next_id = sv.next_grant_id;
	if (pool_check(&srv->pool, why, sizeof(why)) < 0 ||
	    server_check(srv, why, sizeof(why)) < 0) {
		log_err("restore: the rebuilt pool is inconsistent (%s); starting cold", why);
		undo(srv, bl);
		r = -EBADMSG;
		goto out;
	}
	r = state_adopt(&rs->state, rs->state_fd, rs->state_gen);
	rs->state_fd = -1;
	if (r < 0) {
		log_err("restore: cannot map the state file: %s; starting cold", strerror(-r));
		undo(srv, bl);
		goto out;
	}
	rs->state_held = true;
	/* Lost pages get fresh ones now, not at the next second's retry. */
	(void)pool_retry_lost(&srv->pool);
	srv->store = true;
	finished = finish_takes(srv);
	resent = server_resend_replies(srv);
	rs->restored = true;
	log_notice("restored from systemd's fd store (state generation %" PRIu64 " of pid %d) in "
		   "%" PRIu64 " us: %u pages (%u dropped), %u regions (%u left to their holders), "
		   "%u sessions, %u leases, %u replies sent again, %u stash takes finished, %u "
		   "pages quarantined, %u being reclaimed", v.seq, v.pid, (now_ns() - t0) / 1000,
		   rep.pages, dropped, rep.regions, rep.detached, nsess, nleases, resent, finished,
		   rep.quarantined, rep.reclaiming);
	r = 0;
out:
	state_view_free(&v);
	return r;
}

int restart_open_store(struct restart *rs, struct server *srv)
{
	int r;

	srv->store = srv->store || fdstore_on(&rs->store);
	srv->gate_unstored = fdstore_on(&rs->store);
	if (!fdstore_on(&rs->store)) {
		fdstore_passed_free(rs->passed, rs->npassed);
		rs->passed = NULL;
		rs->npassed = 0;
		return 0;
	}
	r = fdstore_size(&rs->store, srv->pool.npages);
	if (r < 0)
		return r;
	if (rs->restored) {
		uint64_t *ino = calloc(srv->pool.npages ? srv->pool.npages : 1, sizeof(*ino));
		for (uint32_t id = 0; ino && id < srv->pool.npages; id++)
			(void)pool_page_file(&srv->pool, id, &ino[id]);
		if (ino)
			fdstore_resume(&rs->store, rs->passed, rs->npassed, ino);
		free(ino);
		/* Whatever of the store we did not take back goes. */
		for (uint32_t i = 0; i < rs->npassed; i++) {
			struct fdstore_passed *e = &rs->passed[i];
			bool dup = false;

			if (e->fd < 0 || e->kind == FDSTORE_PAGES || e->kind == FDSTORE_LISTEN)
				continue;
			for (uint32_t k = 0; k < i && !dup; k++)
				dup = !strcmp(rs->passed[k].name, e->name);
			if (!dup)
				fdstore_remove(&rs->store, e->name, 1);
		}
	}
	fdstore_passed_free(rs->passed, rs->npassed);
	rs->passed = NULL;
	rs->npassed = 0;
	return 0;
}

static int page_file(void *ctx, uint32_t id, uint64_t *ret_ino)
{
	return pool_page_file(ctx, id, ret_ino);
}

/* Sessions: new sockets and stash tables in, ended ones out. */
static void sync_sessions(struct restart *rs, struct server *srv)
{
	struct list_node *n;
	char name[FDSTORE_NAME_MAX];

	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);

		if (s->dead) {
			if (s->store_held) {
				snprintf(name, sizeof(name), "sess-%" PRIu64, s->id);
				fdstore_remove(&rs->store, name, 1);
			}
			if (s->stash_held) {
				snprintf(name, sizeof(name), "stash-%" PRIu64, s->id);
				fdstore_remove(&rs->store, name, 1);
			}
			s->store_held = s->stash_held = false;
			srv->reap = true;
			continue;
		}
		if (!s->store_held && !s->conn.dead) {
			snprintf(name, sizeof(name), "sess-%" PRIu64, s->id);
			int r = fdstore_put(&rs->store, name, s->conn.src.fd);
			s->store_held = r == 0;
			/* Stored; or it will not be (the store is full: said
			 * once, and a restart ends this session): served now. */
			s->store_unheld = r < 0 && r != -EAGAIN;
			if (r != -EAGAIN)
				session_open_gate(s);
		}
		if (s->stash_fd >= 0 && !s->stash_held) {
			snprintf(name, sizeof(name), "stash-%" PRIu64, s->id);
			int r = fdstore_put(&rs->store, name, s->stash_fd);
			s->stash_held = r == 0;
			/* The reply that hands the table out leaves once the
			 * store holds it (or refuses it: full): a restart
			 * without the table would never see what the client
			 * stashes in it. */
			conn_hold_out(&s->conn, r == -EAGAIN);
		}
		/* Stored: our copy is not needed any more. */
		if (s->stash_fd >= 0 && s->stash_held) {
			close(s->stash_fd);
			s->stash_fd = -1;
		}
	}
}

static bool sessions_held(const struct server *srv)
{
	const struct list_node *n;

	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		const struct session *s = container_of(n, struct session, link);
		if (!s->dead && (!s->store_held || (s->stash.slots && !s->stash_held)))
			return false;
	}
	return true;
}

static int write_state(struct restart *rs, struct server *srv, bool incomplete)
{
	uint64_t t0 = now_ns();
	int r;

	state_begin(&rs->state);
	server_save(srv, &rs->state);
	state_begin_section(&rs->state, STATE_STORE, sizeof(struct state_store));
	struct state_store *sto = state_item(&rs->state);
	if (sto) {
		sto->flags = incomplete ? STATE_STORE_INCOMPLETE : 0;
		sto->held = rs->store.held;
	}
	state_end_section(&rs->state);
	r = state_commit(&rs->state);
	if (r == 0) {
		rs->writes++;
		rs->write_ns += now_ns() - t0;
		rs->write_bytes = state_used(&rs->state);
	}
	return r;
}

/* A state too large for its file moves to a new one twice its size. */
static int grow_state(struct restart *rs, struct server *srv, bool incomplete)
{
	struct state old = rs->state;
	char name[FDSTORE_NAME_MAX];
	int r = state_create(&rs->state, old.gen + 1, 2 * state_used(&old));

	if (r < 0) {
		rs->state = old;
		return r;
	}
	r = write_state(rs, srv, incomplete);
	if (r == 0) {
		snprintf(name, sizeof(name), "state-%u", rs->state.gen);
		r = fdstore_put(&rs->store, name, rs->state.fd);
	}
	if (r < 0) {
		state_close(&rs->state);
		rs->state = old;
		return r;
	}
	if (rs->state_held) {
		snprintf(name, sizeof(name), "state-%u", old.gen);
		fdstore_remove(&rs->store, name, 1);
	}
	rs->state_held = true;
	state_close(&old);
	return 0;
}

void restart_persist(struct restart *rs, struct server *srv)
{
	char name[FDSTORE_NAME_MAX];
	bool incomplete;
	int r;

	if (!fdstore_on(&rs->store)) {
		/* Gone (send_msg): nothing waits for it any more. */
		if (srv->gate_unstored) {
			srv->gate_unstored = false;
			server_open_gates(srv);
		}
		return;
	}
	rs->store.behind = false;
	/* 1. Files in. */
	if (!rs->listen_held && srv->listen_fd >= 0)
		rs->listen_stored = rs->listen_held =
			fdstore_put(&rs->store, "listen", srv->listen_fd) == 0;
	fdstore_sync_pages(&rs->store, page_file, &srv->pool);
	sync_sessions(rs, srv);
	if (!rs->state.map) {
		r = state_create(&rs->state, rs->state_gen + 1, slot_estimate(srv->pool.npages));
		if (r < 0) {
			log_err("cannot make the state file: %s; a restart will start cold",
				strerror(-r));
			return;
		}
	}
	if (!rs->state_held) {
		snprintf(name, sizeof(name), "state-%u", rs->state.gen);
		rs->state_held = fdstore_put(&rs->store, name, rs->state.fd) == 0;
	}
	/* 2. The state, if it changed. */
	incomplete = rs->store.full;
	if (rs->written && rs->written_pool == srv->pool.version &&
	    rs->written_srv == srv->version)
		return;
	r = write_state(rs, srv, incomplete);
	if (r == -ENOSPC)
		r = grow_state(rs, srv, incomplete);
	if (r < 0) {
		log_err("cannot write the state: %s; a restart may start cold", strerror(-r));
		return;
	}
	rs->written = true;
	rs->written_pool = srv->pool.version;
	rs->written_srv = srv->version;
}

void restart_after_replies(struct restart *rs)
{
	if (fdstore_on(&rs->store) && rs->store.ngone)
		(void)fdstore_flush(&rs->store);
}

bool restart_stop(struct restart *rs, struct server *srv)
{
	uint64_t end = now_ns() + 2000000000ull;
	bool whole;

	if (!fdstore_on(&rs->store))
		return false;
	for (;;) {
		restart_persist(rs, srv);
		(void)fdstore_flush(&rs->store);
		whole = !rs->store.full && rs->listen_held && rs->state_held && rs->written &&
			!fdstore_pages_missing(&rs->store, page_file, &srv->pool) &&
			sessions_held(srv);
		if ((whole && !rs->store.ngone) || now_ns() >= end || rs->store.full ||
		    !fdstore_on(&rs->store))
			break;
		struct pollfd p = { .fd = rs->store.sock, .events = POLLOUT };
		(void)poll(&p, 1, 20);
	}
	if (!whole) {
		/* What is there cannot be resumed: the state says so (should
		 * the removals not arrive) and everything goes; the next
		 * contigd starts cold, and nothing stays in the store. */
		char name[FDSTORE_NAME_MAX];
		struct list_node *n;

		srv->version++;
		(void)write_state(rs, srv, true);
		fdstore_remove_pages(&rs->store);
		for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
			struct session *s = container_of(n, struct session, link);
			if (s->store_held) {
				snprintf(name, sizeof(name), "sess-%" PRIu64, s->id);
				fdstore_remove(&rs->store, name, 1);
			}
			if (s->stash_held) {
				snprintf(name, sizeof(name), "stash-%" PRIu64, s->id);
				fdstore_remove(&rs->store, name, 1);
			}
			s->store_held = s->stash_held = false;
		}
		if (rs->state_held) {
			snprintf(name, sizeof(name), "state-%u", rs->state.gen);
			fdstore_remove(&rs->store, name, 1);
		}
		if (rs->listen_stored)
			fdstore_remove(&rs->store, "listen", 1);
		log_warn("stopping: systemd's fd store does not hold everything (full, or the "
			 "manager is behind): emptied; the next contigd starts cold");
	} else {
		log_info("stopping: systemd's fd store holds the pool (%u pages), %u sessions and "
			 "the state (%" PRIu64 " writes, %" PRIu64 " us on average, %" PRIu64
			 " bytes; %" PRIu64 " store datagrams): the next contigd resumes them",
			 srv->pool.npages, srv->nsessions, rs->writes,
			 rs->writes ? rs->write_ns / rs->writes / 1000 : 0, rs->write_bytes,
			 rs->store.sent);
	}
	(void)fdstore_flush_wait(&rs->store, 500);
	return whole;
}

void restart_fini(struct restart *rs)
{
	if (rs->state_fd >= 0)
		close(rs->state_fd);
	if (rs->listen_fd >= 0)
		close(rs->listen_fd);
	fdstore_passed_free(rs->passed, rs->npassed);
	state_close(&rs->state);
	fdstore_close(&rs->store);
}
