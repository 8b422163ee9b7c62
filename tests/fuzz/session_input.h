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

/* FZ_OPEN flags */
#define FZ_OPEN_DENY  (1u << 0) /* access control said no (session.may_alloc false) */
#define FZ_OPEN_UID   (1u << 1) /* pretend the peer is uid 1000 + (flags >> 2) % 4 */
#define FZ_OPEN_STUCK (1u << 4) /* never read its replies */

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
			  * PROTO_STASH sent by FZ_MSG), write into slot % 64 the id of
			  * region k, or with k & 0x80 an id made of k; with slot & 0x80,
			  * then make the daemon take every stash at once, with slot &
			  * 0x40 run its idle scan (as its timer does) */
	FZ_CMD_MAX,
};

#define FZ_MAX_CONNS   6
#define FZ_MAX_KNOWN   64

#endif
