/* SPDX-License-Identifier: MIT */
/*
 * fuzz_session.h - what the session fuzzer's driver (fuzz_session.c) and its
 * checks (fuzz_session_check.c) share: the harness state (the daemon's
 * struct server on a fake backing, the clients' ends of their connections,
 * what they learnt from replies) and the checks' entry points.
 */
#ifndef CONTIG_FUZZ_SESSION_H
#define CONTIG_FUZZ_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fake_backing.h"
#include "fake_socket.h"
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

/* The type remembered for a request sent with fds (FZ_FD_MSG): the daemon
 * must never answer it. */
#define FZ_SENT_WITH_FDS 0xfffe

/* A datagram with fds the daemon sent on a connection (seen at its sendmsg)
 * that the client has not read yet: what the fds were then. */
struct inflight {
	uint16_t type;
	uint64_t region_id;
	uint32_t first, count;
	uint64_t file[PROTO_MAX_FDS];  /* file_id of each fd as sent */
};
#define FZ_MAX_INFLIGHT 32

struct client {
	int fd;                      /* the client's end */
	bool paused;                 /* reads no reply (FZ_OPEN_STUCK, FZ_PAUSE) */
	bool eof;                    /* the daemon hung up */
	bool root;                   /* the daemon sees uid 0 */
	uid_t uid;                   /* who the daemon was told the peer is */
	uint64_t session_id;         /* 0 until accepted */
	uint64_t *stash;             /* its stash table, mapped once the daemon sent it */
	int table_fd;                /* the table's fd, kept (FZ_FD_TABLE), or -1 */
	int kept_page;               /* the last page fd it was sent, kept (FZ_FD_PAGE), or -1 */
	struct sent sent[64];        /* last requests sent, for matching replies */
	uint32_t nsent;
	struct inflight fly[FZ_MAX_INFLIGHT]; /* ring, oldest at fly_head */
	uint32_t fly_head, fly_len;
};

/* A pipe whose write end a client sent to the daemon (FZ_FD_MSG); the
 * harness keeps the read end, which reports POLLHUP once no write end is
 * left anywhere: in the daemon, or in flight in its socket. */
struct probe {
	int rfd;
	uint64_t session_id;
};
#define FZ_MAX_PROBES 32

/* FZ_STASH_RACE: the second thread writing a stash table. */
struct racer {
	pthread_t thread;
	bool running;
	uint32_t conn;
	uint64_t *table;
	uint64_t ids[16];
	uint32_t nids;
	uint8_t seed;
	int stop;                    /* atomic */
	uint64_t writes;             /* the thread's own; read after join */
};

struct harness {
	struct fake_backing fb;
	struct server srv;
	struct client conns[FZ_MAX_CONNS];
	uint32_t nconns;
	uint64_t regions[FZ_MAX_KNOWN];
	uint32_t nregions;
	struct proto_handle handles[FZ_MAX_KNOWN];
	uint32_t nhandles;
	uint32_t next_request;
	bool migrated;               /* a page moved: the pool's addresses may be stale */
	bool abrupt;                 /* FZ_CFG_ABRUPT */
	bool passrights_off;         /* FZ_CFG2_NO_PASSRIGHTS, and the kernel has it */
	bool access_changed;         /* an FZ_ACCESS ran: trust may differ from admission's */
	bool restore_limits;         /* FZ_TAKE lowered a quota for one command */
	struct limits saved_limits;
	struct probe probes[FZ_MAX_PROBES];
	uint32_t nprobes;
	struct racer racer;
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
	uint32_t sent_datagrams, sent_fds; /* seen at the daemon's sendmsg */
	uint32_t max_queued;         /* longest reply queue seen */
	uint32_t refused;            /* connections refused at accept */
	uint32_t fd_msgs, probes_closed, takes[8], rechecks;
	uint64_t race_writes;
};

extern struct harness H;

/* The daemon's state obeys its rules (after every command). */
void check_state(void);
/* One datagram a client read: valid, and true to the pool (fds closed by the caller). */
void check_reply(struct client *c, const uint8_t *buf, size_t len, int *fds, size_t nfds);
/* Remember a request sent on c, for matching its reply. */
void remember_sent(struct client *c, uint32_t request, uint16_t type);
struct session *session_by_id(uint64_t id);
uint32_t reclaim_in_flight(void);
/* The daemon sent a datagram (fake_socket.c's hook): if on a session's
 * socket, it must be right now, and its fds are remembered for the client. */
void check_sent(int sock, const struct msghdr *msg, ssize_t sent);
/* Pipes sent with requests: closed by the daemon exactly when their session is gone. */
void check_probes(void);
/* Who may allocate, by the access lists as they are (server.h: struct access). */
bool access_model(const struct access *a, const struct session *s);
/* A file's identity (device and inode), to tell the same file under two fd numbers. */
uint64_t file_id(int fd);

#endif
