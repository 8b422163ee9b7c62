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
#include "grant.h"
#include "limits.h"
#include "list.h"
#include "loop.h"
#include "outcome.h"
#include "pool.h"
#include "proto.h"
#include "repair.h"
#include "account.h"
#include "stash.h"
#include "tenant.h"
#include "state.h"

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
	struct tenant *tenant;          /* the cgroup it connected from (tenant.h); NULL once ended */
	struct account *account;        /* its uid's (account.h); NULL once ended */
	struct grant *grant;            /* the grant it presented (grant.h), or NULL */
	uint64_t connected_ns;
	bool hello;
	bool dead;
	bool may_alloc;                 /* access control, worked out at accept and on reload */
	struct peer_groups groups;
	struct list_node link;          /* server.sessions */
	struct list_node leases;        /* lease.by_holder */
	uint32_t nregions;
	uint64_t bytes;
	uint64_t carve_bytes;           /* of bytes, in regions leased for carving (region.carve) */
	/* An ALLOC or IMPORT that waits for reclaim in flight. */
	bool parked;
	struct proto_msg parked_msg;
	struct list_node parked_link;   /* server.parked */
	struct stash stash;             /* regions the client freed but keeps (proto.h) */
	/* A restart (state.h): the request being served, and the last one
	 * that was, with its reply. */
	uint32_t cur_request;
	uint16_t cur_type;
	struct state_reply reply;
	uint64_t sock_ino;
	/* systemd's fd store (restart.c's): it holds the socket / the stash
	 * table; stash_fd is a copy of the table kept until it is stored. */
	bool store_held;
	bool store_unheld;              /* the store refused it (full): it will not be */
	bool stash_held;
	int stash_fd;
};

/* What serves requests (dispatch.h): given to server_init, so that the
 * server never calls up into the handlers by name. */
struct server_handlers {
	enum outcome (*request)(struct session *s, const struct proto_msg *m);
	/* The fds of pages [first, first + n) of a region s holds, as they are
	 * now, or -errno if it holds no such region. */
	int (*region_fds)(struct session *s, uint64_t region_id, uint32_t first, uint32_t n,
			  int *fds);
	/* Queue again the reply r recorded (a restart found its request
	 * unanswered in the socket): 0, or -errno if it cannot be made. */
	int (*resend)(struct session *s, const struct state_reply *r);
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
	bool handed_over;               /* ... and systemd's fd store holds every session for
					 * the next contigd: their stash tables stay as they are */
	uint64_t last_request_ns;       /* when the last request was dispatched */
	uint64_t last_memory_take_ns;   /* when stashes were last taken for want of memory */
	int spare_fd;                   /* given up for the accept that refuses a connection
					 * at the fd limit (EAGAIN), taken again after */
	uint64_t refused_busy;          /* connections refused at the fd limit */
	uint64_t busy_logged_ns;        /* when that was last logged */
	bool stash_marked;              /* some stash table has taken slots to unmark */
	struct server_stats stats;
	const struct server_handlers *handlers;
	struct repair repair;           /* longer runs in the background (repair.h) */
	struct tenants tenants;         /* sessions by cgroup, and cgroup-max-bytes */
	struct accounts accounts;       /* what each uid's sessions hold (the uid quotas) */
	struct grants grants;           /* the device plugin's (grant.h) */
	uint64_t cgroup_fallbacks;      /* sessions charged to "/" for want of their cgroup */
	/* Under systemd's fd store (restart.h): replies leave at the end of the
	 * turn through outbox, requests leave their socket once answered. */
	bool store;
	struct conn_outbox outbox;
	/* Requests that hand out memory wait until their session's socket is
	 * in the store (session_wait_for_store); ngated of them wait now. */
	bool gate_unstored;
	uint32_t ngated;
	uint64_t version;               /* bumped by every change of what server_save writes */
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
/* After server_close_all: free what the server keeps beside its sessions
 * (cgroup tenants, grants). */
void server_fini(struct server *srv);
/* Close connections that have not said HELLO within HELLO_DEADLINE_NS. */
#define HELLO_DEADLINE_NS (5ull * 1000000000u)
void server_expire_silent(struct server *srv, uint64_t now);

/* Apply live settings (a reload): limits and access lists. Access is worked
 * out again for every live session: one that lost the right is refused
 * from its next request on, and its stash is taken back; what it holds it
 * keeps. */
void server_apply(struct server *srv, const struct limits *limits, const struct access *access);

/* The handlers say which reply they queued, for a restart (state.h). */
void session_replied(struct session *s, uint16_t type, int32_t error, uint64_t value,
		     uint64_t region_id);

/* A session for the connected socket fd (consumed, also on failure): its
 * peer's credentials and rights, its connection on the loop; not counted
 * nor listed yet (server_accept and server_restore_session do). 0 or -errno. */
int session_open(struct server *srv, int fd, struct session **ret);

/* server_state.c: the sessions in the state memfd (state.h). server_save
 * writes them (and the pool's sections); server_restore_session gives a
 * stored session its socket back (fd consumed) and its stash table (stash_fd
 * consumed, or -1), or refuses it (-EPERM: another peer; -errno). */
void server_save(struct server *srv, struct state *st);
int server_restore_session(struct server *srv, const struct state_session *rec, int fd,
			   int stash_fd, struct session **ret);
/* After the leases: the reply each session's unread request already got
 * is queued again. Returns how many. */
uint32_t server_resend_replies(struct server *srv);

/* Answer a request with its outcome: the one place where refusals are
 * counted and put on the wire, and where a violation closes the session. */
void session_answer(struct session *s, uint32_t request, enum outcome o);
bool session_in_group(const struct session *s, gid_t gid);

/* Tenant accounting (the handlers call these, never the lists directly). */
/* Would bytes more pass a limit of the session: its own, its uid's, and
 * its grant's if it presented one, else its cgroup's (a grant is the
 * scheduler's word for that container, more exact than any subtree's). */
bool session_over_quota(const struct session *s, uint64_t bytes);
/* Bind s to the grant with this token: 0, -EACCES (unknown or revoked),
 * -EBUSY (s already has one, or holds memory). */
int session_use_grant(struct session *s, const uint8_t *token);
/* Make s the tenant of the cgroup its peer is in now (server_accept; a
 * session restored after a restart: read again). A cgroup that cannot be
 * told for good (no SO_PEERPIDFD, no cgroup v2) is "/", documented; one
 * that cannot be read now for want of fds or memory is -EMFILE, -ENFILE or
 * -ENOMEM with may_refuse (the connection is refused: its tenant must not
 * be guessed), else "/" with no right to allocate. */
int session_join_tenant(struct server *srv, struct session *s, bool may_refuse);
/* Put the cgroup-max-bytes lines in force (start-up and reload); on
 * failure the old ones stay, and the reason is logged. */
void server_set_cgroup_limits(struct server *srv, const struct tenant_limits *tl);
void session_lease_added(struct session *s, struct lease *l, bool is_new);
void session_lease_release(struct session *s, struct lease *l);
/* Of s->carve_bytes, what the client reports in live carved regions (its
 * stash table's carve report, proto.h): untrusted, so only ever shown, and
 * capped at carve_bytes. 0 without a table. */
uint64_t session_carve_in_use(const struct session *s);
/* The same two figures summed over every live session. */
void server_carve_totals(const struct server *srv, uint64_t *ret_leased, uint64_t *ret_in_use);
/* Every session's counters recomputed from the leases it holds
 * (server_check.c, as pool_check is for the pool): 0, or -EUCLEAN with the
 * first broken one described in why. Loop thread only. */
int server_check(const struct server *srv, char *why, size_t len);
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
/* The restart state now records every take so far: the taken slots go
 * back to 0 (proto.h, PROTO_STASH_TAKEN). Call after the state is written. */
void server_unmark_stashes(struct server *srv);
/* A restored session: finish the takes a killed contigd marked in its
 * table but may not have recorded (frees what is still held). Returns how
 * many regions were freed. */
uint32_t session_finish_takes(struct session *s);
/* Under the fd store, a request that would hand out memory or a stash
 * table to a session whose socket is not stored yet (the manager is
 * behind: EAGAIN on its socket) is not served: a SIGKILL then would leave
 * the next contigd without the session, and it would release what the
 * answer handed out while the client still maps it. True: the request
 * stays in the socket and the session is not read until its gate opens:
 * once the socket is stored, or it never will be (the store is full or
 * gone). */
bool session_wait_for_store(struct session *s);
void session_open_gate(struct session *s);
/* The store went away: every gate opens, every held reply goes (once). */
void server_open_gates(struct server *srv);
/* A restored session: is the request at its socket's head the one whose
 * reply the state recorded (the killed contigd acted on it and may have
 * sent the reply, but the request never left the socket)? Only then is
 * that reply owed again. */
bool session_reply_owed(struct session *s);

#endif
