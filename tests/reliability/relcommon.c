/* SPDX-License-Identifier: MIT */
/*
 * relcommon.c - see relcommon.h.
 */
#define _GNU_SOURCE
#include "relcommon.h"

#include <contig.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool all_zero(const void *p, size_t n)
{
	static const uint8_t zero[4096];
	const uint8_t *b = p;

	for (size_t off = 0; off < n; off += 4096) {
		size_t k = n - off < 4096 ? n - off : 4096;
		if (memcmp(b + off, zero, k))
			return false;
	}
	return true;
}

void check_region(const uint8_t *p, size_t n)
{
	uint64_t base;

	assert_non_null(p);
	assert_true(all_zero(p, n));
	base = pagemap_phys(p);
	assert_int_not_equal(base, UINT64_MAX);
	assert_int_equal(contig_phys_addr(p), base);
	for (size_t off = 0; off < n; off += PS)
		assert_int_equal(pagemap_phys(p + off), base + off);
	assert_int_equal(contig_phys_addr(p + n - 1), base + n - 1);
}

void witness_start(struct witness *w)
{
	memset(w, 0, sizeof(*w));
	w->len = PS;
	w->pattern = 0x5c;
	w->held = contig_alloc(w->len, CONTIG_MAX_ADDRESS);
	assert_non_null(w->held);
	check_region(w->held, w->len);
	memset(w->held, w->pattern, w->len);
	w->phys = contig_phys_addr(w->held);
}

void witness_check(struct witness *w)
{
	/* One pool page at most: the pool's runs depend on what the kernel
	 * gave, and tests must not fail on a fragmented pool. */
	size_t sizes[] = { 4096, PS, PS - 4096 };
	size_t n = sizes[w->checks++ % 3];
	uint8_t *p;

	for (size_t off = 0; off < w->len; off += 4096)
		assert_int_equal(w->held[off], w->pattern);
	assert_int_equal(w->held[w->len - 1], w->pattern);
	assert_int_equal(contig_phys_addr(w->held), w->phys);
	assert_int_equal(pagemap_phys(w->held), w->phys);
	assert_int_equal(pagemap_phys(w->held + PS - 1), w->phys + PS - 1);
	p = contig_alloc(n, CONTIG_MAX_ADDRESS);
	check_region(p, n);
	memset(p, 0xee, n);
	contig_free(p);
}

void witness_stop(struct witness *w)
{
	witness_check(w);
	contig_free(w->held);
	w->held = NULL;
}

int raw_sendmsg(int fd, const void *buf, size_t len, const int *fds, size_t nfds, const void *cred)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	size_t used = 0;

	if (nfds > 253)
		return -EINVAL;
	memset(&control, 0, sizeof(control));
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	c = CMSG_FIRSTHDR(&msg);
	if (nfds) {
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		used += CMSG_SPACE(sizeof(int) * nfds);
		c = (struct cmsghdr *)(void *)(control.buf + used);
	}
	if (cred) {
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
		memcpy(CMSG_DATA(c), cred, sizeof(struct ucred));
		used += CMSG_SPACE(sizeof(struct ucred));
	}
	msg.msg_controllen = used;
	if (!used)
		msg.msg_control = NULL;
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int raw_send(int fd, uint16_t type, uint32_t request, const void *body, size_t len)
{
	uint8_t buf[PROTO_MAX_MSG];
	size_t n = proto_encode(buf, type, request, body, len);

	return raw_sendmsg(fd, buf, n, NULL, 0, NULL);
}

int raw_reply(int fd, struct proto_msg *ret)
{
	static uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t nfds = 0;
	ssize_t n;
	int r;

	if (poll(&pfd, 1, 5000) != 1)
		return -ETIMEDOUT;
	n = proto_recv(fd, buf, sizeof(buf), fds, PROTO_MAX_FDS, &nfds);
	if (n == 0 || n == -ECONNRESET)
		return 0;
	if (n < 0)
		return (int)n;
	r = proto_decode(buf, (size_t)n, nfds, ret);
	proto_close_fds(fds, nfds);
	if (r < 0)
		return r;
	ret->items = NULL; /* points into a buffer the next call reuses */
	return ret->hdr.type;
}

int raw_status(int fd, uint16_t type, const void *body, size_t len)
{
	struct proto_msg m;
	int r = raw_send(fd, type, 77, body, len);

	if (r == -EPIPE || r == -ECONNRESET)
		return -EPIPE;
	if (r < 0)
		return r;
	r = raw_reply(fd, &m);
	if (r == 0)
		return -EPIPE;
	if (r != PROTO_STATUS)
		return -EPROTO;
	return m.body.status.error;
}

uint64_t raw_alloc(int fd, uint64_t nbytes, int *ret_error)
{
	struct proto_alloc a = { .nbytes = nbytes, .highest = UINT64_MAX, .node = PROTO_NODE_ANY };
	struct proto_msg m;
	uint64_t id = 0;
	uint32_t got = 0;
	int r;

	*ret_error = 0;
	r = raw_send(fd, PROTO_ALLOC, 5, &a, sizeof(a));
	if (r < 0) {
		*ret_error = -r;
		return 0;
	}
	do {
		r = raw_reply(fd, &m);
		if (r == PROTO_STATUS) {
			*ret_error = m.body.status.error ? m.body.status.error : EPROTO;
			return 0;
		}
		if (r != PROTO_REGION) {
			*ret_error = r == 0 ? EPIPE : EPROTO;
			return 0;
		}
		id = m.body.region.region_id;
		got += m.body.region.count;
	} while (got < m.body.region.npages);
	return id;
}

bool raw_expect_hangup(int fd, int *ret_status)
{
	struct proto_msg m;

	if (ret_status)
		*ret_status = -1;
	for (int i = 0; i < 64; i++) {
		int r = raw_reply(fd, &m);
		if (r == 0)
			return true;
		if (r == -ETIMEDOUT)
			return false;
		if (r == PROTO_STATUS && ret_status)
			*ret_status = m.body.status.error;
	}
	return false;
}

int raw_region_ids(const char *socket, uint64_t *ids, int max)
{
	static uint8_t buf[PROTO_MAX_MSG];
	int fd = raw_connect(socket, 1), n = 0;
	uint64_t cursor = 0;

	if (fd < 0)
		return fd;
	do {
		struct proto_list l = { .table = PROTO_TABLE_REGIONS, .cursor = cursor };
		struct proto_msg m;
		size_t len = proto_encode(buf, PROTO_LIST, 3, &l, sizeof(l));
		ssize_t got = raw_call(fd, buf, len, buf, sizeof(buf));

		if (got <= 0 || proto_decode(buf, (size_t)got, 0, &m) < 0 ||
		    m.hdr.type != PROTO_LIST_REPLY) {
			close(fd);
			return -EPROTO;
		}
		for (uint32_t i = 0; i < m.body.list_reply.count && n < max; i++) {
			struct proto_region_item it;
			memcpy(&it, m.items + (size_t)i * m.body.list_reply.item_size, sizeof(it));
			ids[n++] = it.region_id;
		}
		cursor = m.body.list_reply.next;
	} while (cursor);
	close(fd);
	return n;
}

bool wait_sessions(const char *socket, uint32_t n)
{
	int fd = raw_connect(socket, 1);
	bool ok = false;

	if (fd < 0)
		return false;
	for (int i = 0; i < 500 && !ok; i++) {
		struct proto_query q = { PROTO_NODE_ANY, 0 };
		struct proto_msg m;
		if (raw_send(fd, PROTO_QUERY, 3, &q, sizeof(q)) < 0 || raw_reply(fd, &m) != PROTO_POOL_INFO)
			break;
		ok = m.body.pool_info.sessions == n + 1;
		if (!ok)
			sleep_ms(10);
	}
	close(fd);
	return ok;
}

int wait_daemon_fds(const struct daemon_proc *d, int baseline, int ms)
{
	int n = daemon_fd_count(d);

	for (int t = 0; t < ms && n > baseline; t += 20) {
		sleep_ms(20);
		n = daemon_fd_count(d);
	}
	return n;
}

void socket_world_connectable(const struct daemon_proc *d)
{
	assert_int_equal(chmod(d->dir, 0755), 0);
	assert_int_equal(chmod(d->socket, 0666), 0);
}

int run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			perror("run_as: dropping privileges");
			_exit(120);
		}
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status)) {
		fprintf(stderr, "run_as: child killed by signal %d\n", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

long proc_rss_anon_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void daemon_reload_wait(const struct daemon_proc *d, int nth)
{
	char cmd[256];

	assert_int_equal(kill(d->pid, SIGHUP), 0);
	snprintf(cmd, sizeof(cmd), "test $(grep -c reloaded %s) -ge %d", d->log, nth);
	for (int i = 0; i < 500; i++) {
		if (system(cmd) == 0)
			return;
		sleep_ms(10);
	}
	fail_msg("contigd did not log its reload");
}

char *contigctl_out(const struct daemon_proc *d, const char *args, int *status)
{
	char cmd[1024], *out = calloc(1, 1 << 20);
	size_t n = 0, r;
	FILE *p;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd), "%s --socket %s %s", getenv("CONTIGCTL"), d->socket, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((r = fread(out + n, 1, (1 << 20) - 1 - n, p)) > 0)
		n += r;
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	return out;
}
