/* SPDX-License-Identifier: MIT */
/*
 * session_input.h - the byte format fuzz_session reads: what a fuzz input
 * makes the clients and the pretend kernel do. gen_corpus writes seeds in it.
 *
 *   input   := config command*
 *   config  := u8 flags, u8 flags2, u8 npages_less
 *              (pool of 32 - npages_less % 29 pages, or 260 with FZ_CFG_BIG)
 *   command := u8 cmd (taken modulo FZ_CMD_MAX), arguments as below
 *
 * Numbers are little-endian. A command cut short by the end of the input is
 * ignored. "conn" picks a client connection modulo the number open (a
 * command on none is skipped); "k" picks a remembered region or handle
 * modulo the number remembered.
 *
 * Region ids written into a stash table ("id k", FZ_STASH, FZ_STASH_RACE,
 * FZ_BURST) by the top bits of k:
 *   0x00-0x3f  a region id learnt from a reply (any client's), k % known
 *   0x40-0x5f  the (k & 31)-th newest region the client's session holds now
 *              (a client may name what it holds before it reads the reply)
 *   0x60-0x7f  the id the (k & 31)-th next allocation will get (ids are
 *              predictable: slot and generation)
 *   0x80-0xbf  garbage made of k
 *   0xc0-0xff  a region another session holds now, (k & 63)-th found
 *
 * Who a client is: the harness plays the kernel's part for SO_PEERCRED and
 * SO_PEERGROUPS (fake_socket.c), so admission at accept, access and quotas
 * see the uid and groups the script gives. Access at start: root, and uids
 * 1000-1003 by name; FZ_ACCESS changes it as a reload would.
 */
#ifndef CONTIG_FUZZ_SESSION_INPUT_H
#define CONTIG_FUZZ_SESSION_INPUT_H

/* config flags */
#define FZ_CFG_SMALL_LIMITS (1u << 0) /* small quotas: 3 regions, 8 MiB per session, ... */
#define FZ_CFG_QUARANTINE   (1u << 1) /* dead sessions' pages go through quarantine */
#define FZ_CFG_GAPS         (1u << 2) /* holes in the physical layout: several runs */
#define FZ_CFG_NODES        (1u << 3) /* pages on two NUMA nodes */
#define FZ_CFG_LOW          (1u << 4) /* the pool straddles 4 GiB */
#define FZ_CFG_BIG          (1u << 5) /* 260 pages: a region can span several REGION datagrams */
#define FZ_CFG_MAX_OUT      (1u << 6) /* a tiny reply queue (limits.max_out = 2) */
#define FZ_CFG_ABRUPT       (1u << 7) /* end as SIGTERM does: clients still there, reclaim
					* in flight; then only fds and memory are checked */

/* config flags2 */
#define FZ_CFG2_TRUSTED    (1u << 0) /* zero-in-place: freed pages zeroed, not revoked */
#define FZ_CFG2_OVERSAMPLE (1u << 1) /* a repair round looking at 6 spare pages after start */
#define FZ_CFG2_EXTRA      (1u << 2) /* 2 pages acquired beforehand join the pool (low pool) */
#define FZ_CFG2_WANT_NODE  (1u << 3) /* pages asked for on nodes 0 and 1 in turn */
#define FZ_CFG2_HIGH       (1u << 4) /* frames from 8 GiB up (repair never swaps out a
				      * page below 4 GiB), unless FZ_CFG_LOW */

#define FZ_CFG2_NO_PASSRIGHTS (1u << 5) /* SO_PASSRIGHTS off on the listening socket, as
					 * contigd sets it: clients' fds refused at sendmsg */

/* FZ_OPEN flags */
#define FZ_OPEN_DENY  (1u << 0) /* the peer is uid 2000 + (flags >> 2) % 4: on no allow-list */
#define FZ_OPEN_UID   (1u << 1) /* the peer is uid 1000 + (flags >> 2) % 4 (allowed by name) */
#define FZ_OPEN_STUCK (1u << 4) /* starts paused: reads no reply until FZ_PAUSE resumes it */
#define FZ_OPEN_GROUP_A (1u << 5) /* the peer is in group 3000 (FZ_ACCESS: the socket's group) */
#define FZ_OPEN_GROUP_B (1u << 6) /* the peer is in group 3001 (FZ_ACCESS: allowed, import) */
#define FZ_OPEN_TABLE (1u << 7) /* says HELLO and asks for its stash table at once, and
				 * reads both replies (paused or not) */

/* FZ_FD_MSG "what" */
#define FZ_FDS_EMPTY  (1u << 6) /* the fds come with an empty datagram, no request */
enum fz_fd_kind {
	FZ_FD_PIPE = 0,          /* the write end of a pipe (the harness watches for its close) */
	FZ_FD_OWN_SOCKET,        /* the client's own connection */
	FZ_FD_PAGE,              /* a page fd the client kept from a REGION reply */
	FZ_FD_SOCKETPAIR,        /* one end of a fresh socketpair */
	FZ_FD_TABLE,             /* its stash table */
	FZ_FD_DEVNULL,
	FZ_FD_MEMFD,
	FZ_FD_LISTEN,            /* the daemon's own listening socket */
	FZ_FD_KINDS,
};

enum fz_cmd {
	FZ_OPEN = 0,     /* u8 flags: connect a new client (at most FZ_MAX_CONNS) */
	FZ_CLOSE,        /* u8 conn: the client closes its end (or dies) */
	FZ_RAW,          /* u8 conn, u16 len, bytes: one datagram as is (zero-padded to
			  * len when the input ends first: oversized ones too) */
	FZ_MSG,          /* u8 conn, u16 type, u16 body_len, body: header made right */
	FZ_FDS,          /* u8 conn, u8 n, u16 len, bytes: datagram with fds: n % 8 + 1
			  * of them, or 250 + n % 4 for n >= 248 */
	FZ_REGION_OP,    /* u8 conn, u8 op, u8 k: FREE (op even) or EXPORT of region k */
	FZ_HANDLE_OP,    /* u8 conn, u8 op, u8 k: IMPORT (op even) or REVOKE of handle k */
	FZ_RECLAIM,      /* end quarantine, let reclaim finish, retry parked requests */
	FZ_FAIL_ACQUIRE, /* u8 n: the next n % 8 acquires fail (pages get LOST) */
	FZ_RETRY_LOST,   /* pool_retry_lost, as the daemon's timer does */
	FZ_AUDIT,        /* pool_audit */
	FZ_MIGRATE,      /* u8 page: the kernel moves page id (mod npages) to a new frame */
	FZ_REPAIR,       /* u8 n: settle, then a repair round looking at n % 16 + 1 spare
			  * pages (with n & 16: new frames without holes meanwhile) */
	FZ_STASH,        /* u8 conn, u8 slot, u8 k: once conn has its stash table (a
			  * PROTO_STASH sent by FZ_MSG), write id k (top of this file)
			  * into slot % 64; with slot & 0x80, then make the daemon take
			  * every stash at once, with slot & 0x40 run its idle scan (as
			  * its timer does) */
	/* Several sessions at once, send buffers full, stash tables written
	 * while the daemon works, fds attached: */
	FZ_PAUSE,        /* u8 conn, u8 n: n & 0x80: resume (read every reply from now
			  * on); else pause it and read n % 128 replies now (a slow
			  * reader). A paused client's replies fill the daemon's small
			  * send buffer (11 small datagrams), then its reply queue; the
			  * daemon stops reading it and its requests pile up */
	FZ_BURST,        /* u8 conn, u8 n, u8 kind, u8 arg: n % 32 + 1 requests back to
			  * back, no reply read in between; kind % 8: 0 ALLOC of arg % 4
			  * + 1 pages (arg & 0x80: NOWAIT, arg & 0x40: CARVE), 1 FREE
			  * of id arg, 2 QUERY,
			  * 3 LIST of table arg % 5 + 1, 4 EXPORT of id arg, 5 IMPORT
			  * of handle arg, 6 STASH, 7 ALLOC of one page then FREE of the
			  * id it will get (freed before the reply is read) */
	FZ_STASH_RACE,   /* u8 conn, u8 seed: a second thread writes conn's stash table
			  * without pause (a fixed sequence of slots and ids: its own
			  * regions, other sessions', predicted, garbage, 0, per
			  * seed) while the next commands run, until an FZ_STASH_RACE
			  * with seed & 0x80 or the end of the input; one at a time */
	FZ_TAKE,         /* u8 how, u8 conn: take stashes by path how % 8: 0 every
			  * session's (server_take_stashes, as SIGHUP does first), 1 the
			  * idle scan, 2 QUERY from conn, 3 LIST (regions, cursor 0) from
			  * conn, 4 an ALLOC from conn bigger than the pool (ENOMEM:
			  * everyone's), 5 an ALLOC from conn over a quota lowered for
			  * this command (EDQUOT: its uid's), 6 server_take_stashes_of
			  * conn's uid, 7 conn's session closes */
	FZ_ACCESS,       /* u8 uids, u8 flags: a reload with new access lists, then
			  * server_access_recheck. uids bit i (0-3): uid 1000 + i
			  * allowed, bit 4 + i: uid 2000 + i; flags bit 0: socket group
			  * 3000, bit 1: allowed group 3001, bit 2: import group 3000,
			  * bit 3: import group 3001, bit 4: without the take of every
			  * stash that SIGHUP makes first */
	FZ_FD_MSG,       /* u8 conn, u8 what, u16 type, u16 len, body: a request with
			  * fds: (what >> 3) % 8 + 1 of kinds what + i (enum
			  * fz_fd_kind), and a watched pipe's write end; with
			  * FZ_FDS_EMPTY on an empty datagram. The daemon must close
			  * the session and every fd, and never answer the request */
	FZ_CARVE_REPORT, /* u8 conn, u8 line, u64 value: once conn has its stash table,
			  * write value into its carve report line line % 8 (proto.h),
			  * or with line & 0x80 into every line: what the daemon shows
			  * of it stays capped at what the session leased for carving */
	FZ_CMD_MAX,
};

#define FZ_MAX_CONNS   6
#define FZ_MAX_KNOWN   64

#endif
