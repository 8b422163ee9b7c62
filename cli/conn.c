/* SPDX-License-Identifier: MIT */
/*
 * conn.c - see conn.h. The wire mechanics are proto/client.c's, shared
 * with libcontig and the tests: every reply is checked by proto_decode
 * before any field of it is read, and tables are read with the daemon's
 * cursors, so a table of any length costs one round trip per datagram of
 * rows. What is contigctl's own: the timeout, and the limits on a table.
 */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* Pages of one table before we call the daemon broken (a cursor that keeps
 * moving without ever ending). */
#define CONN_MAX_PAGES (1u << 20)

int conn_call(struct conn *c, uint16_t type, const void *body, size_t len, uint16_t want,
	      struct proto_msg *ret)
{
	/* The socket's own timeouts (CONN_TIMEOUT_S) bound the wait. */
	return proto_client_call(c->fd, -1, ++c->request, type, body, len, want, c->buf, ret);
}

int conn_open(struct conn *c, const char *path)
{
	int r;

	c->fd = -1;
	c->request = 0;
	r = proto_client_connect(path, CONN_TIMEOUT_S);
	if (r < 0)
		return r;
	c->fd = r;
	r = proto_client_hello(c->fd, -1, ++c->request, c->buf, &c->hello);
	if (r < 0)
		conn_close(c);
	return r;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

struct rows {
	size_t item_size;
	uint8_t *v;
	size_t count, cap;
};

/* Append the rows of one page (grown by doubling), each cut or
 * zero-extended to the caller's item_size. */
static int rows_append(const uint8_t *items, uint32_t n, uint32_t stride, void *ctx)
{
	struct rows *rs = ctx;
	size_t take = stride < rs->item_size ? stride : rs->item_size;

	if (rs->count + n > CONN_MAX_ROWS)
		return -E2BIG;
	if (rs->count + n > rs->cap) {
		size_t ncap = rs->cap ? rs->cap : 256;
		while (ncap < rs->count + n)
			ncap *= 2;
		uint8_t *v = realloc(rs->v, ncap * rs->item_size);
		if (!v)
			return -ENOMEM;
		rs->v = v;
		rs->cap = ncap;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *dst = rs->v + (rs->count + i) * rs->item_size;
		memset(dst, 0, rs->item_size);
		memcpy(dst, items + (size_t)i * stride, take);
	}
	rs->count += n;
	return 0;
}

int conn_list(struct conn *c, uint32_t table, size_t item_size, void **ret_rows,
	      size_t *ret_count)
{
	struct rows rs = { .item_size = item_size };
	int r;

	r = proto_client_list(c->fd, -1, &c->request, table, CONN_MAX_PAGES, c->buf, rows_append,
			      &rs);
	if (r < 0) {
		free(rs.v);
		return r;
	}
	*ret_rows = rs.v;
	*ret_count = rs.count;
	return 0;
}
