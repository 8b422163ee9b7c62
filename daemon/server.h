/* SPDX-License-Identifier: MIT */
/*
 * server.h - the daemon's state outside the pool: the listening socket,
 * the sessions (one per connection: who the peer is, what it may do, what
 * it holds), the limits that bound what a client can make the daemon do,
 * the requests waiting for reclaim, and the counters of what happened to
 * requests (the pool counts what it does itself).
 *
 * A session is a connection (conn.h: the transport) plus the tenant state;
 * requests go to the handlers (dispatch.h), whose outcome comes back here
 * to be answered and counted in one place (answer, in server.c).
 */
#ifndef CONTIG_SERVER_H
#define CONTIG_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conn.h"
#include "fdreap.h"
#include "limits.h"
#include "list.h"
#include "loop.h"
#include "outcome.h"
#include "pool.h"
#include "proto.h"
#include "repair.h"
#include "stash.h"

/* The peer's groups, as SO_PEERGROUPS gave them at connect. */
struct peer_groups {
	gid_t gid;
	int n;
	gid_t list[256];
};

struct session {
	struct conn conn;
	struct server *srv;
	uint64_t id;
	struct ucred cred;
	char comm[16];
	uint64_t connected_ns;
	bool hello;
	bool dead;
	bool may_alloc;                 /* access control, worked out at accept and on reload */
	struct peer_groups groups;
	struct list_node link;          /* server.sessions */
	struct list_node leases;        /* lease.by_holder */
	uint32_t nregions;
	uint64_t bytes;
	/* An ALLOC or IMPORT that waits for reclaim in flight. */
	bool parked;
	struct proto_msg parked_msg;
	struct list_node parked_link;   /* server.parked */
	struct stash stash;             /* regions the client freed but keeps (proto.h) */
};

/* What serves requests (dispatch.h): given to server_init, so that the
 * server never calls up into the handlers by name. */
struct server_handlers {
	enum outcome (*request)(struct session *s, const struct proto_msg *m);
	/* The fds of pages [first, first + n) of a region s holds, as they are
	 * now, or -errno if it holds no such region. */
	int (*region_fds)(struct session *s, uint64_t region_id, uint32_t first, uint32_t n,
			  int *fds);
};

/* What happened to requests and sessions (the pool counts its own). */
struct server_stats {
	uint64_t fail_einval;
	uint64_t fail_enomem;
	uint64_t fail_edquot;
	uint64_t fail_eacces;
	uint64_t fail_other;
	uint64_t waits;                 /* requests that waited for reclaim */
	uint64_t imports;
	uint64_t exports;
	uint64_t protocol_errors;
	uint64_t sessions_total;
	uint64_t stash_taken;           /* stashed regions taken back (freed) */
	uint64_t stash_bogus;           /* stash ids that named no region of their session */
};

struct server {
	struct loop loop;
	struct pool pool;
	struct limits limits;
	struct access access;
	struct loop_source listen_src;
	int listen_fd;
	struct list_node sessions;
	struct list_node parked;
	uint32_t nsessions;
	uint64_t refused_sessions;      /* over a session limit (logged once) */
	struct fdreap fdreap;           /* closes fds clients sent, off this thread */
	uint64_t next_session_id;
	bool reap;                      /* some session is dead and waits to be freed */
	bool stopping;                  /* shutting down: close sessions, revoke nothing */
	uint64_t last_request_ns;       /* when the last request was dispatched */
	uint64_t last_memory_take_ns;   /* when stashes were last taken for want of memory */
	struct server_stats stats;
	const struct server_handlers *handlers;
	struct repair repair;           /* longer runs in the background (repair.h) */
};

/* Set up what server_accept needs (the pool, the loop and the listening
 * socket are the caller's); requests go to handlers. */
void server_init(struct server *srv, const struct server_handlers *handlers);

/* Accept one connection: a session, or a refusal sent and the connection
 * closed (0 either way); -EAGAIN when none is waiting, or -errno. */
int server_accept(struct server *srv);
/* End a session now: everything it holds is dropped (revoked, after
 * quarantine), unless the daemon is stopping. Freed at the end of the turn. */
void session_end(struct session *s);
/* End of a loop turn: free ended sessions, hand revoked pages to reclaim. */
void server_reap(struct server *srv);
void server_close_all(struct server *srv);
/* Close connections that have not said HELLO within HELLO_DEADLINE_NS. */
#define HELLO_DEADLINE_NS (5ull * 1000000000u)
void server_expire_silent(struct server *srv, uint64_t now);

/* Apply live settings (a reload): limits and access lists. Access is worked
 * out again for every live session: one that lost the right is refused
 * from its next request on, and its stash is taken back; what it holds it
 * keeps. */
void server_apply(struct server *srv, const struct limits *limits, const struct access *access);

/* Answer a request with its outcome: the one place where refusals are
 * counted and put on the wire, and where a violation closes the session. */
void session_answer(struct session *s, uint32_t request, enum outcome o);
bool session_in_group(const struct session *s, gid_t gid);

/* Tenant accounting (the handlers call these, never the lists directly). */
bool session_over_quota(const struct session *s, uint64_t bytes);
void session_lease_added(struct session *s, struct lease *l, bool is_new);
void session_lease_release(struct session *s, struct lease *l);
/* Wait for reclaim: held, retried by server_retry_parked. */
void session_park(struct session *s, const struct proto_msg *m);
/* Retry parked requests after reclaim (or repair) brought pages back. */
void server_retry_parked(struct server *srv);

/* Take stashed regions back, as FREEs of their owners would. A session with
 * a reply still queued keeps its stash: its regions stay leased until the
 * reply that hands them out has left. Each returns how many were taken. */
/* Every session's (on reload). */
uint32_t server_take_stashes(struct server *srv);
/* For a request refused for want of memory: everyone's, at most once per
 * TAKE_FOR_MEMORY_NS, so that asking again and again for what cannot fit
 * does not drain the others' stashes at the asker's pace. */
uint32_t server_take_for_memory(struct server *srv);
/* The sessions of one uid (a quota refusal: only its own memory counts). */
uint32_t server_take_stashes_of(struct server *srv, uid_t uid);
/* One session's (it asks to see the pool). */
uint32_t session_take_stash(struct session *s);
/* Once a second: what clients left stashed since the last call. */
uint32_t server_take_idle_stashes(struct server *srv);

#endif
