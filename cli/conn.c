/* SPDX-License-Identifier: MIT */
/*
 * conn.c - see conn.h. Every reply is checked by proto_decode before any
 * field of it is read; tables are read with the daemon's cursors, so a
 * table of any length costs one round trip per datagram of rows.
 */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Pages of one table before we call the daemon broken (a cursor that keeps
 * moving without ever ending). */
#define CONN_MAX_PAGES (1u << 20)

int conn_call(struct conn *c, uint16_t type, const void *body, size_t len, uint16_t want,
	      struct proto_msg *ret)
{
	uint8_t out[sizeof(struct proto_hdr) + sizeof(union proto_body)];
	int fds[PROTO_MAX_FDS];
	size_t nfds, n;
	ssize_t got;
	int r;

	n = proto_encode(out, type, ++c->request, body, len);
	r = proto_send(c->fd, out, n, NULL, 0);
	if (r < 0)
		return r == -EPIPE ? -ECONNRESET : r;
	got = proto_recv(c->fd, c->buf, sizeof(c->buf), fds, PROTO_MAX_FDS, &nfds);
	if (got == 0)
		return -ECONNRESET;
	if (got < 0)
		return got == -EWOULDBLOCK ? -ETIMEDOUT : (int)got;
	proto_close_fds(fds, nfds);
	r = proto_decode(c->buf, (size_t)got, 0, ret);
	if (r < 0)
		return r == -EPROTONOSUPPORT ? r : -EPROTO;
	if (ret->hdr.request != c->request)
		return -EPROTO;
	if (ret->hdr.type == PROTO_STATUS && want != PROTO_STATUS)
		return ret->body.status.error ? -ret->body.status.error : -EPROTO;
	return ret->hdr.type == want ? 0 : -EPROTO;
}

static int conn_connect(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CONN_TIMEOUT_S };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

int conn_open(struct conn *c, const char *path)
{
	struct proto_hello hello = { .version = PROTO_VERSION };
	struct proto_msg rep;
	int r;

	c->fd = -1;
	c->request = 0;
	r = conn_connect(c, path);
	if (r < 0)
		goto fail;
	r = conn_call(c, PROTO_HELLO, &hello, sizeof(hello), PROTO_HELLO_REPLY, &rep);
	if (r < 0)
		goto fail;
	/* A daemon that answers in our header version but settles on another
	 * session version does not speak our tables. */
	if (rep.body.hello_reply.version != PROTO_VERSION) {
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	c->hello = rep.body.hello_reply;
	return 0;
fail:
	conn_close(c);
	return r;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Append the rows of one reply to *rows (grown by doubling). */
static int rows_append(const struct proto_msg *m, size_t item_size, uint8_t **rows,
		       size_t *count, size_t *cap)
{
	const struct proto_list_reply *lr = &m->body.list_reply;
	size_t stride = lr->item_size;
	size_t take = stride < item_size ? stride : item_size;

	if (*count + lr->count > CONN_MAX_ROWS)
		return -E2BIG;
	if (*count + lr->count > *cap) {
		size_t ncap = *cap ? *cap : 256;
		while (ncap < *count + lr->count)
			ncap *= 2;
		uint8_t *n = realloc(*rows, ncap * item_size);
		if (!n)
			return -ENOMEM;
		*rows = n;
		*cap = ncap;
	}
	for (uint32_t i = 0; i < lr->count; i++) {
		uint8_t *dst = *rows + (*count + i) * item_size;
		memset(dst, 0, item_size);
		memcpy(dst, m->items + (size_t)i * stride, take);
	}
	*count += lr->count;
	return 0;
}

int conn_list(struct conn *c, uint32_t table, size_t item_size, void **ret_rows,
	      size_t *ret_count)
{
	struct proto_list req = { .table = table };
	uint8_t *rows = NULL;
	size_t count = 0, cap = 0;
	uint32_t pages = 0;
	struct proto_msg m;
	int r;

	do {
		r = conn_call(c, PROTO_LIST, &req, sizeof(req), PROTO_LIST_REPLY, &m);
		if (r < 0)
			goto fail;
		r = -EPROTO;
		if (m.body.list_reply.table != table ||
		    (m.body.list_reply.next && m.body.list_reply.next == req.cursor) ||
		    ++pages > CONN_MAX_PAGES)
			goto fail;
		r = rows_append(&m, item_size, &rows, &count, &cap);
		if (r < 0)
			goto fail;
		req.cursor = m.body.list_reply.next;
	} while (req.cursor);
	*ret_rows = rows;
	*ret_count = count;
	return 0;
fail:
	free(rows);
	return r;
}
