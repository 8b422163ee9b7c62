/* SPDX-License-Identifier: MIT */
/*
 * fuzz_session.h - what the session fuzzer's driver (fuzz_session.c) and its
 * checks (fuzz_session_check.c) share: the harness state (the daemon's
 * struct server on a fake backing, the clients' ends of their connections,
 * what they learnt from replies) and the checks' entry points.
 */
#ifndef CONTIG_FUZZ_SESSION_H
#define CONTIG_FUZZ_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fake_backing.h"
#include "proto.h"
#include "server.h"
#include "session_input.h"

#define PS     (2ull << 20)
#define TAG    0xc0ffee00c0ffee00ull /* what a client writes at the start of each page */

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz_session: %s:%d: check failed: %s: ", \
				__FILE__, __LINE__, #cond);                     \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

struct sent {
	uint32_t request;
	uint16_t type;
};

struct conn {
	int fd;                      /* the client's end */
	bool stuck;                  /* never reads */
	bool eof;                    /* the daemon hung up */
	bool root;                   /* the daemon sees uid 0 */
	uint64_t session_id;         /* 0 until accepted */
	uint64_t *stash;             /* its stash table, mapped once the daemon sent it */
	struct sent sent[64];        /* last requests sent, for matching replies */
	uint32_t nsent;
};

struct harness {
	struct fake_backing fb;
	struct server srv;
	struct conn conns[FZ_MAX_CONNS];
	uint32_t nconns;
	uint64_t regions[FZ_MAX_KNOWN];
	uint32_t nregions;
	struct proto_handle handles[FZ_MAX_KNOWN];
	uint32_t nhandles;
	uint32_t next_request;
	bool migrated;               /* a page moved: the pool's addresses may be stale */
	bool abrupt;                 /* FZ_CFG_ABRUPT */
	/* Regions a holder died holding while others held on: when they go,
	 * their pages must go to quarantine (the dead client's device may
	 * still write to them). */
	struct tainted {
		uint64_t id;
		uint32_t npages;
		uint32_t ids[8];
	} tainted[16];
	uint32_t ntainted;
	/* What happened, for FUZZ_VERBOSE. */
	uint32_t replies[PROTO_TYPE_MAX];
	uint32_t statuses[8];        /* 0, EINVAL, ENOMEM, ENOTSUP, EDQUOT, EACCES, ENOENT, other */
	uint32_t pages_checked;
	uint32_t hangups;            /* connections the daemon closed */
};

extern struct harness H;

/* The daemon's state obeys its rules (after every command). */
void check_state(void);
/* One datagram a client read: valid, and true to the pool (fds closed by the caller). */
void check_reply(struct conn *c, const uint8_t *buf, size_t len, int *fds, size_t nfds);
/* Remember a request sent on c, for matching its reply. */
void remember_sent(struct conn *c, uint32_t request, uint16_t type);
struct session *session_by_id(uint64_t id);
uint32_t reclaim_in_flight(void);

#endif
