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

struct outmsg {
	struct outmsg *next;
	size_t len;
	size_t nfds;
	int *fds;                       /* borrowed: pool page fds of a leased region */
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
	bool may_alloc;                 /* access control result at accept */
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
	uint64_t refused_sessions;       /* over max_sessions (logged once) */
	uint64_t next_session_id;
	bool reap;                      /* some session is dead and waits to be freed */
	bool stopping;                  /* shutting down: close sessions, revoke nothing */
	uint64_t last_request_ns;       /* when the last request was dispatched */
};

void limits_default(struct limits *l);

/* Sessions (session.c). */
int server_accept(struct server *srv);
void session_close(struct session *s);
void server_reap(struct server *srv);
void server_close_all(struct server *srv);
/* Close connections that have not said HELLO for 30 s. */
void server_expire_silent(struct server *srv, uint64_t now);
/* Queue a reply (fds borrowed, must stay valid until sent) and try to send. */
int session_queue(struct session *s, uint16_t type, uint32_t request, const void *body,
		  size_t body_len, const int *fds, size_t nfds);
int session_reply_status(struct session *s, uint32_t request, int error, uint64_t value);
/* Queue a reply carrying one fd that becomes the queue's: closed once sent,
 * or when the session dies first (closed here if it cannot be queued). */
int session_queue_owned_fd(struct session *s, uint16_t type, uint32_t request, const void *body,
			   size_t body_len, int fd);
void session_update_interest(struct session *s);
bool session_in_group(const struct session *s, gid_t gid);
/* Retry parked requests after reclaim brought pages back. */
void server_retry_parked(struct server *srv);

/* Requests (dispatch.c): handle one decoded message. Returns 0, or -errno
 * when the session must be closed (protocol violation). */
int dispatch(struct session *s, const struct proto_msg *m);

/* Take every stashed region of every session back, as FREEs of their
 * owners (dispatch.c): before the pool is described, and before a request
 * is refused for want of memory or quota. Returns how many were taken. */
uint32_t server_take_stashes(struct server *srv);
/* Once a second: take back what clients left stashed since the last call
 * (memory goes back when idle even from a client that never calls again). */
uint32_t server_take_idle_stashes(struct server *srv);

/* Inspection (inspect.c): PROTO_LIST. */
int inspect_list(struct session *s, const struct proto_msg *m);

#endif
