/* SPDX-License-Identifier: MIT */
/*
 * harness.h - integration test helpers: a real contigd on a private socket
 * with real hugepages (dbus-broker util_broker_spawn), and the client-side
 * checks made through the test process's own /proc/self/pagemap.
 */
#ifndef CONTIG_TEST_HARNESS_H
#define CONTIG_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon_proc {
	pid_t pid;
	char dir[64];
	char socket[108];
	char log[128];
	bool keep_dir;     /* daemon_restart: same directory and socket */
};

/* Start build/daemon/contigd (path from $CONTIGD, set by meson) with extra
 * arguments (NULL-terminated), wait until its socket accepts, and point
 * $CONTIG_SOCKET at it. Returns 0 or -1 (the reason printed). */
int daemon_start(struct daemon_proc *d, const char *const *extra_args);
/* SIGKILL the daemon and start a new one on the same socket. */
int daemon_restart(struct daemon_proc *d, const char *const *extra_args);
/* SIGTERM, wait; returns the exit status (0 when it stopped cleanly). */
int daemon_stop(struct daemon_proc *d);
/* Wait up to ms for text to appear in the daemon's log; true if it did. */
bool daemon_wait_log(const struct daemon_proc *d, const char *text, int ms);
/* Number of fds the daemon has open (/proc/PID/fd). */
int daemon_fd_count(const struct daemon_proc *d);

/* Physical address of the 4 KiB page holding va, via /proc/self/pagemap
 * (the caller touches it first). UINT64_MAX if not present. */
uint64_t pagemap_phys(const void *va);

/* After an allocation of bytes failed with ENOMEM: true when the pool has
 * no free run that long (the host's free hugepages were scattered when
 * contigd took them), so that a test can skip, saying so, rather than
 * assert on the host's layout. */
bool pool_lacks_run(uint64_t bytes);

/* Poll contig_query until free == total (all reclaim done), up to ms.
 * Returns true when it got there. */
bool wait_pool_idle(int ms);

/* Open fds of this process. */
int fd_count(void);

#endif
