/* SPDX-License-Identifier: MIT */
/*
 * rawclient.c - see rawclient.h.
 */
#define _GNU_SOURCE
#include "rawclient.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
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

int raw_list(const char *path, uint32_t table, void (*fn)(const void *item, void *ctx), void *ctx)
{
	uint8_t buf[PROTO_MAX_MSG];
	uint64_t cursor = 0;
	int rows = 0, fd = raw_connect(path, 1);

	if (fd < 0)
		return fd;
	do {
		struct proto_list l = { .table = table, .cursor = cursor };
		struct proto_msg m;
		size_t len = proto_encode(buf, PROTO_LIST, 2, &l, sizeof(l));
		ssize_t got = raw_call(fd, buf, len, buf, sizeof(buf));

		if (got <= 0 || proto_decode(buf, (size_t)got, 0, &m) < 0 ||
		    m.hdr.type != PROTO_LIST_REPLY || m.body.list_reply.table != table) {
			close(fd);
			return -EPROTO;
		}
		for (uint32_t i = 0; i < m.body.list_reply.count; i++, rows++)
			fn(m.items + (size_t)i * m.body.list_reply.item_size, ctx);
		cursor = m.body.list_reply.next;
	} while (cursor);
	close(fd);
	return rows;
}

struct pages_ctx {
	struct raw_page *pages;
	int n, cap;
	bool oom;
};

static void page_row(const void *item, void *arg)
{
	struct pages_ctx *c = arg;
	struct proto_page_item it;

	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 64;
		struct raw_page *np = realloc(c->pages, (size_t)cap * sizeof(*np));
		if (!np) {
			c->oom = true;
			return;
		}
		c->pages = np;
		c->cap = cap;
	}
	memcpy(&it, item, sizeof(it));
	c->pages[c->n++] = (struct raw_page){ it.phys, it.state, it.node };
}

int raw_pages(const char *path, struct raw_page **ret)
{
	struct pages_ctx c = { 0 };
	int r = raw_list(path, PROTO_TABLE_PAGES, page_row, &c);

	if (r >= 0 && c.oom)
		r = -ENOMEM;
	if (r < 0) {
		free(c.pages);
		return r;
	}
	*ret = c.pages;
	return c.n;
}

struct stat_ctx {
	const char *name;
	int64_t value;
};

static void stat_row(const void *item, void *arg)
{
	struct stat_ctx *c = arg;
	struct proto_stat_item it;

	memcpy(&it, item, sizeof(it));
	if (!strncmp(it.name, c->name, sizeof(it.name)))
		c->value = (int64_t)it.value;
}

int64_t raw_stat(const char *path, const char *name)
{
	struct stat_ctx c = { name, -ENOENT };
	int r = raw_list(path, PROTO_TABLE_STATS, stat_row, &c);

	return r < 0 ? r : c.value;
}
