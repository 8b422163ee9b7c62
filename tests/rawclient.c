/* SPDX-License-Identifier: MIT */
/*
 * rawclient.c - see rawclient.h. Connecting, waiting for a reply and
 * paging through a table are proto/client.c's, as for libcontig and
 * contigctl; what is the tests' own is sending raw bytes as they are.
 */
#define _GNU_SOURCE
#include "rawclient.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* How long a raw client waits for any one reply. */
#define RAW_TIMEOUT_MS 5000

ssize_t raw_call(int fd, const void *buf, size_t len, void *reply, size_t cap)
{
	int fds[PROTO_MAX_FDS];
	size_t nfds;
	ssize_t n;

	if (buf && len) {
		int r = proto_send(fd, buf, len, NULL, 0);
		if (r < 0)
			return r;
	}
	n = proto_client_recv(fd, RAW_TIMEOUT_MS, reply, cap, fds, &nfds);
	proto_close_fds(fds, nfds);
	return n;
}

int raw_connect(const char *path, int hello)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fd = proto_client_connect(path, 0);

	if (fd < 0)
		return fd;
	/* Any answer will do: what it says is the caller's to look at. */
	if (hello &&
	    (proto_client_hello_send(fd, 1) < 0 || raw_call(fd, NULL, 0, buf, sizeof(buf)) <= 0)) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

struct list_ctx {
	void (*fn)(const void *item, void *ctx);
	void *ctx;
	int rows;
};

static int list_rows(const uint8_t *items, uint32_t n, uint32_t stride, void *arg)
{
	struct list_ctx *l = arg;

	for (uint32_t i = 0; i < n; i++, l->rows++)
		l->fn(items + (size_t)i * stride, l->ctx);
	return 0;
}

int raw_list(const char *path, uint32_t table, void (*fn)(const void *item, void *ctx), void *ctx)
{
	uint8_t buf[PROTO_MAX_MSG];
	struct list_ctx l = { fn, ctx, 0 };
	uint32_t request = 1;
	int r, fd = raw_connect(path, 1);

	if (fd < 0)
		return fd;
	r = proto_client_list(fd, RAW_TIMEOUT_MS, &request, table, UINT32_MAX, buf, list_rows, &l);
	close(fd);
	return r < 0 ? r : l.rows;
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
