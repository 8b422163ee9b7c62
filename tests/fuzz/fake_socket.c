/* SPDX-License-Identifier: MIT */
/*
 * fake_socket.c - see fake_socket.h.
 *
 * The real calls: through the sanitizer's interceptor when there is one
 * (libFuzzer builds: ASan keeps checking the buffers), else the system call.
 */
#define _GNU_SOURCE
#include "fake_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern int __interceptor_getsockopt(int, int, int, void *, socklen_t *) __attribute__((weak));
extern ssize_t __interceptor_sendmsg(int, const struct msghdr *, int) __attribute__((weak));

static struct fake_peer peer;
static bool armed;
static fake_sent_fn on_sent;

void fake_peer_arm(const struct fake_peer *p)
{
	peer = *p;
	armed = true;
}

void fake_peer_disarm(void)
{
	armed = false;
}

void fake_on_sent(fake_sent_fn fn)
{
	on_sent = fn;
}

static int real_getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	if (__interceptor_getsockopt)
		return __interceptor_getsockopt(fd, level, opt, val, len);
	return (int)syscall(SYS_getsockopt, fd, level, opt, val, len);
}

static ssize_t real_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (__interceptor_sendmsg)
		return __interceptor_sendmsg(fd, msg, flags);
	return (ssize_t)syscall(SYS_sendmsg, fd, msg, flags);
}

int getsockopt(int fd, int level, int opt, void *restrict val, socklen_t *restrict len)
{
	int r = real_getsockopt(fd, level, opt, val, len);

	if (r < 0 || !armed || level != SOL_SOCKET)
		return r;
	if (opt == SO_PEERCRED && *len >= sizeof(struct ucred)) {
		struct ucred *c = val;
		c->uid = peer.uid;
		c->gid = peer.gid;
	} else if (opt == SO_PEERGROUPS) {
		socklen_t want = (socklen_t)(peer.ngroups * (int)sizeof(gid_t));
		if (*len < want) {
			*len = want;
			errno = ERANGE;
			return -1;
		}
		memcpy(val, peer.groups, want);
		*len = want;
	}
	return r;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t n = real_sendmsg(fd, msg, flags);

	if (n >= 0 && on_sent) {
		int e = errno;
		on_sent(fd, msg, n);
		errno = e;
	}
	return n;
}
