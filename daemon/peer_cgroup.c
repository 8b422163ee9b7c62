/* SPDX-License-Identifier: MIT */
/*
 * peer_cgroup.c - see peer_cgroup.h. Called on the loop thread at accept:
 * a procfs read and three system calls, none of which can block on anything
 * a client controls.
 */
#define _GNU_SOURCE
#include "peer_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tenant.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; Debian 12's headers predate it */
#endif

/* One line per hierarchy: v1 ones ("N:controllers:path") come and go with
 * the host's set-up; only the v2 line ("0::path") is ours, and there must
 * be exactly one. */
int peer_cgroup_parse(const char *text, size_t n, char *path, size_t len)
{
	const char *p = text, *end = text + n, *found = NULL;
	size_t flen = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t llen = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (llen >= 3 && !memcmp(p, "0::", 3)) {
			if (found)
				return -EINVAL;
			found = p + 3;
			flen = llen - 3;
		}
		p += llen + 1;
	}
	if (!found)
		return -ENOTSUP;
	if (flen >= len || flen >= TENANT_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(path, found, flen);
	path[flen] = '\0';
	/* " (deleted)" and the like: not a path we can charge. */
	return tenant_path_valid(path) ? 0 : -EINVAL;
}

static int read_cgroup_file(pid_t pid, char *buf, size_t cap, size_t *n)
{
	char name[64];
	ssize_t r;
	int fd;

	snprintf(name, sizeof(name), "/proc/%d/cgroup", (int)pid);
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	*n = 0;
	/* procfs hands the file out in pieces; a file that does not fit is
	 * one we refuse rather than cut. */
	while ((r = read(fd, buf + *n, cap - *n)) > 0 && *n + (size_t)r < cap)
		*n += (size_t)r;
	close(fd);
	if (r < 0)
		return errno == ESRCH ? -ESRCH : -EIO;
	return r == 0 ? 0 : -EFBIG;
}

int peer_cgroup(int fd, pid_t pid, char *path, size_t len)
{
	static char buf[64 * 1024]; /* the loop thread's only */
	socklen_t sl = sizeof(int);
	int pidfd = -1, r;
	size_t n = 0;

	if (pid <= 0)
		return -ESRCH;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &sl) < 0)
		return errno == ENOPROTOOPT ? -ENOTSUP : errno == ESRCH ? -ESRCH : -errno;
	r = read_cgroup_file(pid, buf, sizeof(buf), &n);
	if (r == 0)
		r = peer_cgroup_parse(buf, n, path, len);
	/* Not exited now means the pid named the peer all along: a pid is
	 * not reused while the process it belonged to exists. A pidfd polls
	 * readable once its process has exited. */
	if (r == 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		int p = poll(&pfd, 1, 0);
		if (p < 0)
			r = -errno;
		else if (p > 0)
			r = -ESRCH;
	}
	close(pidfd);
	return r;
}
