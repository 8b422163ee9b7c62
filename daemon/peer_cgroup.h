/* SPDX-License-Identifier: MIT */
/*
 * peer_cgroup.h - which cgroup v2 a connected peer is in.
 *
 * Read from /proc/PID/cgroup (the "0::" line) for the SO_PEERCRED pid, and
 * made sure of with the SO_PEERPIDFD pidfd: if the process it names has
 * not exited after the read, the pid was not recycled in between, so the
 * file read was the peer's.
 */
#ifndef CONTIG_PEER_CGROUP_H
#define CONTIG_PEER_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/* Into path (len bytes, TENANT_PATH_MAX will do) the cgroup v2 path of the
 * peer of connected socket fd, whose SO_PEERCRED pid is pid. 0 or:
 * -ESRCH the peer process is gone (it exited, maybe handing the socket
 * on: its cgroup cannot be known); -ENOTSUP the kernel cannot tell (no
 * SO_PEERPIDFD, no cgroup v2 line); -EINVAL a line we do not understand;
 * other -errno. */
int peer_cgroup(int fd, pid_t pid, char *path, size_t len);

/* The same, from the text of a /proc/PID/cgroup file (pure; for tests). */
int peer_cgroup_parse(const char *text, size_t n, char *path, size_t len);

#endif
