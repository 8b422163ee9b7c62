/* SPDX-License-Identifier: MIT */
/*
 * rawclient.c - see rawclient.h.
 */
#define _GNU_SOURCE
#include "rawclient.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

ssize_t raw_call(int fd, const void *buf, size_t len, void *reply, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int fds[PROTO_MAX_FDS];
	size_t nfds;
	ssize_t n;

	if (buf && len) {
		int r = proto_send(fd, buf, len, NULL, 0);
		if (r < 0)
			return r;
	}
	if (poll(&pfd, 1, 5000) != 1)
		return -ETIMEDOUT;
	n = proto_recv(fd, reply, cap, fds, PROTO_MAX_FDS, &nfds);
	if (n > 0)
		proto_close_fds(fds, nfds);
	return n;
}

int raw_connect(const char *path, int hello)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proto_hello h = { .version = PROTO_VERSION };
	uint8_t buf[PROTO_MAX_MSG];
	int fd;

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (hello) {
		size_t n = proto_encode(buf, PROTO_HELLO, 1, &h, sizeof(h));
		if (raw_call(fd, buf, n, buf, sizeof(buf)) <= 0) {
			close(fd);
			return -EPROTO;
		}
	}
	return fd;
}

int raw_pages(const char *path, struct raw_page **ret)
{
	uint8_t buf[PROTO_MAX_MSG];
	struct raw_page *pages = NULL;
	uint64_t cursor = 0;
	int n = 0, fd = raw_connect(path, 1);

	if (fd < 0)
		return fd;
	do {
		struct proto_list l = { .table = PROTO_TABLE_PAGES, .cursor = cursor };
		struct proto_msg m;
		size_t len = proto_encode(buf, PROTO_LIST, 2, &l, sizeof(l));
		ssize_t got = raw_call(fd, buf, len, buf, sizeof(buf));

		if (got <= 0 || proto_decode(buf, (size_t)got, 0, &m) < 0 ||
		    m.hdr.type != PROTO_LIST_REPLY) {
			free(pages);
			close(fd);
			return -EPROTO;
		}
		struct raw_page *np = realloc(pages, (n + m.body.list_reply.count) * sizeof(*np));
		if (!np) {
			free(pages);
			close(fd);
			return -ENOMEM;
		}
		pages = np;
		for (uint32_t i = 0; i < m.body.list_reply.count; i++) {
			struct proto_page_item it;
			memcpy(&it, m.items + (size_t)i * m.body.list_reply.item_size, sizeof(it));
			pages[n++] = (struct raw_page){ it.phys, it.state, it.node };
		}
		cursor = m.body.list_reply.next;
	} while (cursor);
	close(fd);
	*ret = pages;
	return n;
}

int64_t raw_stat(const char *path, const char *name)
{
	uint8_t buf[PROTO_MAX_MSG];
	struct proto_list l = { .table = PROTO_TABLE_STATS };
	struct proto_msg m;
	int64_t v = -ENOENT;
	int fd = raw_connect(path, 1);
	size_t n;
	ssize_t got;

	if (fd < 0)
		return fd;
	n = proto_encode(buf, PROTO_LIST, 3, &l, sizeof(l));
	got = raw_call(fd, buf, n, buf, sizeof(buf));
	if (got > 0 && proto_decode(buf, (size_t)got, 0, &m) == 0 && m.hdr.type == PROTO_LIST_REPLY) {
		for (uint32_t i = 0; i < m.body.list_reply.count; i++) {
			struct proto_stat_item it;
			memcpy(&it, m.items + (size_t)i * m.body.list_reply.item_size, sizeof(it));
			if (!strncmp(it.name, name, sizeof(it.name)))
				v = (int64_t)it.value;
		}
	}
	close(fd);
	return v;
}
