/* SPDX-License-Identifier: MIT */
/*
 * seccommon.h - helpers of the security regression tests: a contigd started
 * with a config file on a world-connectable socket, "agents" (forked
 * children running as another uid, driven step by step over two pipes) and
 * raw protocol calls that keep the fds a reply carried.
 *
 * Children never use cmocka: they answer the parent through their pipe and
 * their exit code, and say why on stderr.
 */
#ifndef CONTIG_TEST_SECCOMMON_H
#define CONTIG_TEST_SECCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "relcommon.h"

/* Users that exist on Debian (allow-users only takes users that exist),
 * and one that does not (fine for a uid that is never allowed). */
#define SEC_NOBODY   65534u
#define SEC_NOGROUP  65534u
#define SEC_DAEMON   1u   /* "daemon" */
#define SEC_BIN      2u   /* "bin" */
#define SEC_STRANGER 4242u

extern struct daemon_proc sec_d;
extern char sec_conf[128];

/* Write text to sec_conf. */
void sec_write_config(const char *text);
/* Start contigd with --pool pool, --config (text written to sec_conf) and
 * the socket world-connectable. cmocka-asserts. */
void sec_start(const char *pool, const char *config);
/* SIGHUP and wait until the daemon logged its nth "reloaded". */
void sec_reload(int nth);
/* Teardown: kill every agent left, SIGKILL the daemon if it does not stop
 * in 5 s (a test may leave it stuck on purpose), remove the config. */
int sec_teardown(void **state);

/* ---- agents ---- */

struct agent {
	pid_t pid;
	int cmd;     /* parent: write end; child: read end */
	int res;     /* parent: read end; child: write end */
};
typedef int (*agent_fn)(struct agent *self, void *arg);

/* Fork; the child raises RLIMIT_NOFILE to its hard limit, closes every
 * other fd, drops to uid/gid with no supplementary groups, and exits with
 * fn's return value. cmocka-asserts in the parent. */
void agent_start(struct agent *a, uid_t uid, gid_t gid, agent_fn fn, void *arg);
/* Parent: send a value; receive one (up to timeout_ms, cmocka fails after). */
void agent_tell(struct agent *a, int64_t v);
int64_t agent_hear(struct agent *a, int timeout_ms);
/* Parent: close the command pipe and reap the child (SIGKILL after
 * timeout_ms); its exit status, or -1 if it was killed. */
int agent_finish(struct agent *a, int timeout_ms);
/* Child: the next command (-1 when the parent closed the pipe); answer. */
int64_t agent_next(struct agent *self);
void agent_say(struct agent *self, int64_t v);

#define CHILD_FAIL(code, ...)                                  \
	do {                                                   \
		fprintf(stderr, "child %d: ", (int)getpid());  \
		fprintf(stderr, __VA_ARGS__);                  \
		fputc('\n', stderr);                           \
		return code;                                   \
	} while (0)

/* ---- raw protocol, with fds kept ---- */

/* Connect; with hello, HELLO first (up to 10 s). fd, or -errno (-EDQUOT
 * when the daemon answered the HELLO with EDQUOT, -EPIPE when it hung up).
 * *ret_session gets the session id (may be NULL). */
int sec_connect(const char *path, bool hello, uint64_t *ret_session);
/* Receive one datagram within timeout_ms: its type, 0 when the daemon
 * closed the connection, or -errno. With fds non-NULL the caller owns the
 * fds it carried (*ret_nfds of them), else they are closed. */
int sec_recv(int fd, struct proto_msg *ret, int *fds, size_t *ret_nfds, int timeout_ms);
/* Requests answered by STATUS: raw_status (relcommon.h). */
/* LIST one page of a table (cursor 0); the reply's items copied to items
 * (up to cap bytes). Item count, or -errno. */
int sec_list(int fd, uint32_t table, void *items, size_t cap, uint32_t *ret_item_size);

struct mapped_region {
	uint64_t id;
	uint64_t phys;
	uint32_t npages;
	uint64_t page_size;
	uint8_t *va;
	size_t len;  /* npages * page_size */
};
/* ALLOC (or IMPORT with handle non-NULL) and map every page of the reply
 * at consecutive addresses. 0, a positive errno from a STATUS, or -errno. */
int sec_alloc_map(int fd, uint64_t nbytes, const struct proto_handle *handle,
		  struct mapped_region *ret);
void sec_unmap(struct mapped_region *r);

/* The daemon still runs (not exited, not a zombie). */
bool sec_daemon_alive(void);

#endif
