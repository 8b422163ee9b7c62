/* SPDX-License-Identifier: MIT */
/*
 * client.c - see client.h. Built as its own static library (proto-client):
 * the daemon never links it, libcontig links it with hidden symbols.
 */
#define _GNU_SOURCE
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int proto_client_connect(const char *path, int timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (timeout_s > 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
			      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0))
		goto fail;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

int proto_client_send(int fd, uint16_t type, uint32_t request, const void *body, size_t len)
{
	uint8_t buf[sizeof(struct proto_hdr) + sizeof(union proto_body)];
	size_t n = proto_encode(buf, type, request, body, len);
	int r = proto_send(fd, buf, n, NULL, 0);

	return r == -EPIPE ? -ECONNRESET : r;
}

ssize_t proto_client_recv(int fd, int timeout_ms, void *buf, size_t cap, int *fds,
			  size_t *ret_nfds)
{
	ssize_t n;

	*ret_nfds = 0;
	if (timeout_ms >= 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r;

		do
			r = poll(&pfd, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
	}
	n = proto_recv(fd, buf, cap, fds, PROTO_MAX_FDS, ret_nfds);
	return n == -EAGAIN ? -ETIMEDOUT : n; /* (a blocking socket's SO_RCVTIMEO ran out) */
}

int proto_client_reply(const struct proto_msg *m, uint32_t request, uint16_t want)
{
	if (m->hdr.request != request)
		return -EPROTO;
	if (m->hdr.type == PROTO_STATUS && want != PROTO_STATUS)
		return m->body.status.error ? -m->body.status.error : -EPROTO;
	return m->hdr.type == want ? 0 : -EPROTO;
}

int proto_client_call(int fd, int timeout_ms, uint32_t request, uint16_t type, const void *body,
		      size_t len, uint16_t want, uint8_t buf[PROTO_MAX_MSG], struct proto_msg *ret)
{
	int fds[PROTO_MAX_FDS];
	size_t nfds;
	ssize_t got;
	int r;

	r = proto_client_send(fd, type, request, body, len);
	if (r < 0)
		return r;
	got = proto_client_recv(fd, timeout_ms, buf, PROTO_MAX_MSG, fds, &nfds);
	if (got <= 0)
		return got == 0 || got == -EPIPE ? -ECONNRESET : (int)got;
	proto_close_fds(fds, nfds);
	r = proto_decode(buf, (size_t)got, 0, ret);
	if (r < 0)
		return r == -EPROTONOSUPPORT ? r : -EPROTO;
	return proto_client_reply(ret, request, want);
}

int proto_client_hello_send(int fd, uint32_t request)
{
	struct proto_hello hello = { .version = PROTO_VERSION };

	return proto_client_send(fd, PROTO_HELLO, request, &hello, sizeof(hello));
}

int proto_client_hello_check(const struct proto_msg *m)
{
	const struct proto_hello_reply *h = &m->body.hello_reply;

	if (m->hdr.type == PROTO_STATUS)
		return m->body.status.error ? -m->body.status.error : -EPROTO;
	if (m->hdr.type != PROTO_HELLO_REPLY)
		return -EPROTO;
	/* A daemon that answers in our header version but settles on another
	 * session version does not speak our bodies. */
	if (h->version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->page_size < 4096 || (h->page_size & (h->page_size - 1)))
		return -EPROTO;
	return 0;
}

int proto_client_hello(int fd, int timeout_ms, uint32_t request, uint8_t buf[PROTO_MAX_MSG],
		       struct proto_hello_reply *ret)
{
	struct proto_hello hello = { .version = PROTO_VERSION };
	struct proto_msg m;
	int r;

	r = proto_client_call(fd, timeout_ms, request, PROTO_HELLO, &hello, sizeof(hello),
			      PROTO_HELLO_REPLY, buf, &m);
	if (r == 0)
		r = proto_client_hello_check(&m);
	if (r < 0)
		return r;
	*ret = m.body.hello_reply;
	return 0;
}

int proto_client_list(int fd, int timeout_ms, uint32_t *request, uint32_t table,
		      uint32_t max_pages, uint8_t buf[PROTO_MAX_MSG], proto_client_rows_fn fn,
		      void *ctx)
{
	struct proto_list req = { .table = table };
	const struct proto_list_reply *lr;
	uint32_t pages = 0;
	struct proto_msg m;
	int r;

	do {
		r = proto_client_call(fd, timeout_ms, ++*request, PROTO_LIST, &req, sizeof(req),
				      PROTO_LIST_REPLY, buf, &m);
		if (r < 0)
			return r;
		lr = &m.body.list_reply;
		if (lr->table != table || (lr->next && lr->next == req.cursor) || ++pages > max_pages)
			return -EPROTO;
		r = fn(m.items, lr->count, lr->item_size, ctx);
		if (r < 0)
			return r;
		req.cursor = lr->next;
	} while (req.cursor);
	return 0;
}
