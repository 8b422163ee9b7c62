/* SPDX-License-Identifier: MIT */
/*
 * relcommon.h - helpers the reliability tests share: a witness client that
 * must keep getting correct service while others misbehave, raw protocol
 * requests with arbitrary ancillary data, children running as other users,
 * and waiting for the daemon's fd count to come back to a baseline.
 */
#ifndef CONTIG_TEST_RELCOMMON_H
#define CONTIG_TEST_RELCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "proto.h"

#define MiB (1ull << 20)
#define PS  (2 * MiB)

/* A libcontig client in this process: one region (a pool page) held across
 * the test with a known pattern, and a fresh allocation checked at every
 * step. */
struct witness {
	uint8_t *held;
	size_t len;
	uint64_t phys;
	uint8_t pattern;
	unsigned checks;
};
void witness_start(struct witness *w);
/* Held region intact and where it was; a new region zero, contiguous, where
 * contig_phys_addr says; freed again. cmocka-asserts. */
void witness_check(struct witness *w);
void witness_stop(struct witness *w);

/* Every byte of [p, p+n) zero. */
bool all_zero(const void *p, size_t n);
/* Region checks through /proc/self/pagemap: mapped, zero, contiguous. */
void check_region(const uint8_t *p, size_t n);

/* sendmsg of one datagram with optional SCM_RIGHTS fds and optional
 * SCM_CREDENTIALS; returns 0 or -errno. */
int raw_sendmsg(int fd, const void *buf, size_t len, const int *fds, size_t nfds,
		const void *cred /* struct ucred or NULL */);
/* Encode and send one request: 0 or -errno. */
int raw_send(int fd, uint16_t type, uint32_t request, const void *body, size_t len);
/* Receive one reply (up to 5 s) and decode it; fds are closed. Returns the
 * reply type, 0 if the daemon closed the connection, or -errno. */
int raw_reply(int fd, struct proto_msg *ret);
/* Request with a STATUS answer: the status error (>= 0), -EPIPE if the
 * connection was closed instead, -EPROTO for any other reply. */
int raw_status(int fd, uint16_t type, const void *body, size_t len);
/* Allocate through the raw protocol: region id, or 0 with *ret_error set. */
uint64_t raw_alloc(int fd, uint64_t nbytes, int *ret_error);
/* True when the daemon hung up on fd within 5 s (replies before it are
 * read and dropped; *ret_status gets the error of the last STATUS seen,
 * -1 if none). */
bool raw_expect_hangup(int fd, int *ret_status);
/* Region ids of every live region (root's view), up to max. */
int raw_region_ids(const char *socket, uint64_t *ids, int max);

/* Wait (up to 5 s) until the daemon counts n sessions besides the raw one
 * this opens to ask; true when it did. */
bool wait_sessions(const char *socket, uint32_t n);
/* Wait up to ms for the daemon's fd count to be <= baseline; the count. */
int wait_daemon_fds(const struct daemon_proc *d, int baseline, int ms);
/* Make the daemon's socket (and its directory) world-connectable. */
void socket_world_connectable(const struct daemon_proc *d);

/* fork; in the child drop to uid/gid (and supplementary groups), run fn and
 * _exit with what it returns; in the parent wait and return the child's
 * exit status (0 = fn returned 0), or -1. ngroups 0: no supplementary. */
int run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, int (*fn)(void *), void *arg);

/* Anonymous and kernel memory of a process, from /proc/PID/status (KiB). */
long proc_rss_anon_kb(pid_t pid);

void sleep_ms(int ms);
/* The output of `$CONTIGCTL --socket <d's> ARGS` (malloc'd, NUL-terminated)
 * and its exit status in *status. */
char *contigctl_out(const struct daemon_proc *d, const char *args, int *status);
/* SIGHUP the daemon and wait until its log holds nth "reloaded" lines. */
void daemon_reload_wait(const struct daemon_proc *d, int nth);
uint64_t mono_ns(void);

#endif
