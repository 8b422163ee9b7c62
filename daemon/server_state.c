/* SPDX-License-Identifier: MIT */
/*
 * server_state.c - the sessions across a restart from systemd's fd store
 * (restart.h, state.h): written into the state, given their sockets back
 * (each checked against its record: the same socket file, the same peer),
 * and the reply a dead contigd owed sent again.
 *
 * A restored session is exactly the session it was: the kernel keeps the
 * peer's credentials with the socket, so no other process can step into
 * it; a socket that does not match its record is ended, and what the
 * record held is released as a dead session's is (revoked first).
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static uint64_t holder_id(const void *holder)
{
	return ((const struct session *)holder)->id;
}

void server_save(struct server *srv, struct state *st)
{
	const struct list_node *n;

	pool_save(&srv->pool, st, holder_id);
	state_begin_section(st, STATE_SESSIONS, sizeof(struct state_session));
	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		const struct session *s = container_of(n, struct session, link);
		struct state_session *ss;

		if (s->dead)
			continue;
		ss = state_item(st);
		if (!ss)
			break;
		*ss = (struct state_session){
			.id = s->id, .connected_ns = s->connected_ns, .pid = s->cred.pid,
			.uid = s->cred.uid, .gid = s->cred.gid,
			.flags = (s->hello ? STATE_SESSION_HELLO : 0) |
				 (s->stash.slots ? STATE_SESSION_STASH : 0),
			.sock_ino = s->sock_ino, .reply = s->reply,
			.grant_id = s->grant ? s->grant->id : 0,
		};
		memcpy(ss->comm, s->comm, sizeof(ss->comm));
		/* What of the reply had left (it is the one in progress while
		 * its request is still in the socket). */
		ss->reply.sent = s->conn.pending ? s->conn.reply_sent : 0;
	}
	state_end_section(st);
	state_begin_section(st, STATE_GRANTS, sizeof(struct state_grant));
	for (n = srv->grants.all.next; n != &srv->grants.all; n = n->next) {
		const struct grant *gr = container_of(n, struct grant, link);
		struct state_grant *sg = state_item(st);

		if (!sg)
			break;
		*sg = (struct state_grant){ .id = gr->id, .bytes = gr->bytes,
					    .flags = gr->revoked ? STATE_GRANT_REVOKED : 0 };
		memcpy(sg->token, gr->token, sizeof(sg->token));
	}
	state_end_section(st);
	state_begin_section(st, STATE_SERVER, sizeof(struct state_server));
	struct state_server *sv = state_item(st);
	if (sv) {
		sv->next_session_id = srv->next_session_id;
		sv->next_grant_id = srv->grants.next_id;
	}
	state_end_section(st);
}

int server_restore_session(struct server *srv, const struct state_session *rec, int fd,
			   int stash_fd, struct session **ret)
{
	struct session *s = NULL;
	struct stat sb;
	int r;

	/* The peer is who it was: the kernel kept its credentials with the
	 * socket (SO_PEERCRED is what connect() recorded), and the file is
	 * the one recorded. A socket that is not is refused, and ended for
	 * whoever is at its other end. */
	if (fstat(fd, &sb) < 0 || !S_ISSOCK(sb.st_mode) || (uint64_t)sb.st_ino != rec->sock_ino) {
		r = fstat(fd, &sb) < 0 ? -errno : -EPERM;
		goto fail;
	}
	(void)!fcntl(fd, F_SETFD, FD_CLOEXEC);
	r = fcntl(fd, F_GETFL);
	if (r < 0 || fcntl(fd, F_SETFL, r | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	r = session_open(srv, fd, &s);
	fd = -1; /* consumed */
	if (r < 0)
		goto fail;
	if (s->cred.pid != rec->pid || s->cred.uid != rec->uid || s->cred.gid != rec->gid) {
		r = -EPERM;
		goto fail;
	}
	/* The store's mode from the start (srv->store is set only once the
	 * whole resume succeeded). */
	conn_defer(&s->conn, &srv->outbox, true);
	s->id = rec->id;
	s->hello = rec->flags & STATE_SESSION_HELLO;
	memcpy(s->comm, rec->comm, sizeof(s->comm));
	s->comm[sizeof(s->comm) - 1] = 0;
	s->connected_ns = rec->connected_ns;
	s->reply = rec->reply;
	s->sock_ino = rec->sock_ino;
	s->store_held = true;
	if (stash_fd >= 0) {
		r = stash_adopt(&s->stash, stash_fd);
		if (r == 0) {
			/* Kept until the reply that handed it out is known sent. */
			s->stash_fd = stash_fd;
			s->stash_held = true;
		} else {
			close(stash_fd);
		}
		stash_fd = -1;
	}
	/* Its cgroup as it is now (the state keeps no path); its grant as it
	 * was (adopted before the sessions). A grant the state names but
	 * does not hold: the session may take nothing more. */
	r = account_join(&srv->accounts, s->cred.uid, &s->account);
	if (r < 0)
		goto fail;
	(void)session_join_tenant(srv, s, false);
	if (rec->grant_id) {
		struct grant *gr = grant_by_id(&srv->grants, rec->grant_id);
		if (gr) {
			grant_join(gr);
			s->grant = gr;
		} else {
			s->may_alloc = false;
		}
	}
	list_add_tail(&srv->sessions, &s->link);
	srv->nsessions++;
	if (s->id > srv->next_session_id)
		srv->next_session_id = s->id;
	srv->version++;
	*ret = s;
	return 0;
fail:
	if (s) {
		(void)shutdown(s->conn.src.fd, SHUT_RDWR);
		conn_close(&s->conn, false);
		stash_close(&s->stash);
		if (s->stash_fd >= 0)
			close(s->stash_fd);
		free(s);
	}
	if (fd >= 0) {
		(void)shutdown(fd, SHUT_RDWR);
		close(fd);
	}
	if (stash_fd >= 0)
		close(stash_fd);
	return r;
}

bool session_reply_owed(struct session *s)
{
	struct proto_hdr h;

	return s->reply.request && conn_peek_head(&s->conn, &h) == 0 &&
	       h.request == s->reply.request && h.type == s->reply.request_type;
}

uint32_t server_resend_replies(struct server *srv)
{
	struct list_node *n;
	uint32_t sent = 0;

	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);
		if (s->dead || !session_reply_owed(s))
			continue; /* not served yet: it will be, as usual */
		s->cur_request = s->reply.request;
		s->cur_type = s->reply.request_type;
		if (srv->handlers->resend(s, &s->reply) < 0) {
			/* Its reply cannot be made again (its region did not come
			 * back): the request is served anew instead. */
			log_notice("session %llu: the reply to request %u cannot be sent again; "
				   "serving the request anew", (unsigned long long)s->id,
				   s->reply.request);
			continue;
		}
		conn_resume_reply(&s->conn, s->reply.sent);
		conn_kick(&s->conn);
		sent++;
	}
	return sent;
}
