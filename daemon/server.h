/* SPDX-License-Identifier: MIT */
/*
 * server.h - the daemon's state outside the pool: its listening socket, the
 * sessions, the limits that bound what a client can make it do, and the
 * requests waiting for reclaim.
 *
 * Two error classes never mix (dbus-broker): a refused request is data, a
 * PROTO_STATUS reply with an errno; a broken peer or a protocol violation
 * closes that session and nothing else.
 */
#ifndef CONTIG_SERVER_H
#define CONTIG_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fdreap.h"
#include "list.h"
#include "loop.h"
#include "pool.h"
#include "proto.h"
#include "stash.h"

struct limits {
	uint32_t max_sessions;          /* connections at once, all users */
	uint32_t session_max_regions;
	uint64_t session_max_bytes;
	uint32_t uid_max_sessions;
	uint32_t uid_max_regions;
	uint64_t uid_max_bytes;
	uint32_t max_out;               /* queued reply datagrams per session */
};

#define ACCESS_MAX_IDS 32
struct access {
	gid_t socket_gid;               /* members of the socket's group may allocate */
	bool socket_gid_set;
	uint32_t nuids, ngids;
	uid_t uids[ACCESS_MAX_IDS];     /* extra users allowed */
	gid_t gids[ACCESS_MAX_IDS];     /* extra groups allowed */
	uint32_t nimport_gids;
	gid_t import_gids[ACCESS_MAX_IDS]; /* may import handles of other uids */
};

/* The peer's groups, as SO_PEERGROUPS gave them at connect. */
struct peer_groups {
	gid_t gid;
	int n;
	gid_t list[256];
};

/* A reply waiting for room in the client's socket. It keeps no borrowed
 * fd number: a number taken from the pool when the reply was queued could
 * name another file by the time it leaves (the page reclaimed, the number
 * reused by a new page or a new connection). A REGION datagram keeps the
 * region's id and its slice of pages instead, and the fds are looked up
 * when it is sent, for a region the session still holds; any other fd is
 * the message's own. */
struct outmsg {
	struct outmsg *next;
	size_t len;
	uint64_t region_id;             /* 0, or the region whose pages go with it */
	uint32_t first, nfds;           /* its pages [first, first + nfds) */
	int owned_fd;                   /* -1, or an fd closed once sent (or dropped) */
	uint8_t buf[];
};

struct session {
	struct loop_source src;
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
	struct outmsg *out_head, **out_tail;
	uint32_t nout;
	/* An ALLOC or IMPORT that waits for reclaim in flight. */
	bool parked;
	struct proto_msg parked_msg;
	struct list_node parked_link;   /* server.parked */
	uint32_t violations;
	struct stash stash;             /* regions the client freed but keeps (proto.h) */
};

struct server {
	struct loop loop;
	struct pool pool;
	struct limits limits;
	struct access access;
	struct loop_source listen_src;
	int listen_fd;
	struct loop_source reclaim_src;
	struct list_node sessions;
	struct list_node parked;
	uint32_t nsessions;
	uint64_t refused_sessions;       /* over a session limit (logged once) */
	struct fdreap fdreap;           /* closes fds clients sent, off this thread */
	uint64_t next_session_id;
	bool reap;                      /* some session is dead and waits to be freed */
	bool stopping;                  /* shutting down: close sessions, revoke nothing */
	uint64_t last_request_ns;       /* when the last request was dispatched */
	uint64_t last_memory_take_ns;   /* when stashes were last taken for an ENOMEM */
};

void limits_default(struct limits *l);

/* Sessions (session.c). */
int server_accept(struct server *srv);
void session_close(struct session *s);
void server_reap(struct server *srv);
void server_close_all(struct server *srv);
/* Close connections that have not said HELLO within HELLO_DEADLINE_NS. */
#define HELLO_DEADLINE_NS (5ull * 1000000000u)
void server_expire_silent(struct server *srv, uint64_t now);
/* Queue a reply with no fds. */
int session_queue(struct session *s, uint16_t type, uint32_t request, const void *body,
		  size_t body_len);
/* Queue one REGION datagram: its page fds are looked up when it is sent
 * (session_region_fds), never kept as numbers. */
int session_queue_region(struct session *s, uint32_t request, const struct proto_region *body);
int session_reply_status(struct session *s, uint32_t request, int error, uint64_t value);
/* Queue a reply carrying one fd that becomes the queue's: closed once sent,
 * or when the session dies first (closed here if it cannot be queued). */
int session_queue_owned_fd(struct session *s, uint16_t type, uint32_t request, const void *body,
			   size_t body_len, int fd);
void session_update_interest(struct session *s);
bool session_in_group(const struct session *s, gid_t gid);
/* Work out again who may allocate, for every live session (after a reload
 * changed the access lists): one that lost the right is refused from its
 * next request on, and its stash is taken back; what it holds it keeps. */
void server_access_recheck(struct server *srv);
/* Retry parked requests after reclaim brought pages back. */
void server_retry_parked(struct server *srv);

/* The fds of pages [first, first + n) of a region s holds, as they are now
 * (borrowed: valid until the loop next touches the pool), or -ESTALE if s
 * holds no such region (dispatch.c). */
int session_region_fds(struct session *s, uint64_t region_id, uint32_t first, uint32_t n,
		       int *fds);

/* Requests (dispatch.c): handle one decoded message. Returns 0, or -errno
 * when the session must be closed (protocol violation). */
int dispatch(struct session *s, const struct proto_msg *m);

/* Take every stashed region of every session back, as FREEs of their
 * owners (dispatch.c): before a request is refused for want of memory, and
 * on reload. A session with a reply still queued keeps its stash: its
 * regions stay leased until the reply that hands them out has left.
 * Returns how many were taken. */
uint32_t server_take_stashes(struct server *srv);
/* The same for the sessions of one uid (a quota refusal: only the
 * requester's own memory counts against its quota). */
uint32_t server_take_stashes_of(struct server *srv, uid_t uid);
/* The same for one session (it asks to see the pool). */
uint32_t session_take_stash(struct session *s);
/* Once a second: take back what clients left stashed since the last call
 * (memory goes back when idle even from a client that never calls again). */
uint32_t server_take_idle_stashes(struct server *srv);

/* Inspection (inspect.c): PROTO_LIST. */
int inspect_list(struct session *s, const struct proto_msg *m);

#endif
