/* SPDX-License-Identifier: MIT */
/*
 * conn.c - see conn.h.
 */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
		return (int)got;
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

int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proto_hello hello = { .version = PROTO_VERSION };
	struct proto_msg rep;
	int r;

	c->fd = -1;
	c->request = 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		conn_close(c);
		return r;
	}
	r = conn_call(c, PROTO_HELLO, &hello, sizeof(hello), PROTO_HELLO_REPLY, &rep);
	if (r < 0) {
		conn_close(c);
		return r;
	}
	c->hello = rep.body.hello_reply;
	return 0;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
