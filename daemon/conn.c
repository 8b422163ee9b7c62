/* SPDX-License-Identifier: MIT */
/*
 * conn.c - see conn.h.
 */
#define _GNU_SOURCE
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "list.h"

/* Messages read per wake-up: one busy client cannot starve the others. */
#define READS_PER_TURN 16

static uint8_t rbuf[PROTO_MAX_MSG]; /* loop thread only: not on its stack */

static void on_conn(struct loop_source *src, uint32_t events);
static void update_interest(struct conn *c);

int conn_open(struct conn *c, struct loop *loop, int fd, const struct conn_ops *ops,
	      struct fdreap *fdreap, uint32_t max_out)
{
	int r;

	*c = (struct conn){ .loop = loop, .ops = ops, .fdreap = fdreap, .max_out = max_out };
	c->out_tail = &c->out_head;
	list_init(&c->outbox_link);
	r = loop_add(loop, &c->src, fd, EPOLLIN, on_conn);
	if (r < 0) {
		close(fd);
		c->src.fd = -1;
		c->dead = true;
	}
	return r;
}

static void out_free(struct outmsg *m)
{
	/* A stash table of ours: closing it never blocks. */
	if (m->owned_fd >= 0)
		close(m->owned_fd);
	free(m);
}

/* Send one queued datagram: 0, or -errno (-EAGAIN: no room yet). */
static int out_send(struct conn *c, struct outmsg *m)
{
	int fds[PROTO_MAX_FDS];

	if (m->region_id) {
		/* Looked up now, not when queued: the numbers are the pool's
		 * as they are at this sendmsg, for a region the peer still
		 * holds, or nothing is sent. */
		int r = c->ops->region_fds(c, m->region_id, m->first, m->nfds, fds);
		if (r < 0)
			return r;
		return proto_send(c->src.fd, m->buf, m->len, fds, m->nfds);
	}
	return proto_send(c->src.fd, m->buf, m->len, &m->owned_fd, m->owned_fd >= 0);
}

/* The answered request leaves the socket (peek mode). */
static void consume(struct conn *c)
{
	int fds[PROTO_RECV_MAX_FDS];
	size_t nfds = 0;

	(void)proto_recv_untrusted(c->src.fd, rbuf, sizeof(rbuf), fds, &nfds);
	if (nfds)
		fdreap_push(c->fdreap, fds, nfds);
	c->pending = false;
	c->reply_sent = 0;
}

static int flush(struct conn *c)
{
	while (c->out_head) {
		struct outmsg *m = c->out_head;
		int r = out_send(c, m);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		c->out_head = m->next;
		if (!c->out_head)
			c->out_tail = &c->out_head;
		c->nout--;
		c->reply_sent++;
		out_free(m);
	}
	if (c->peek && c->pending && !c->held)
		consume(c);
	return 0;
}

void conn_close(struct conn *c, bool flush_first)
{
	if (c->dead)
		return;
	if (flush_first)
		(void)flush(c); /* non-blocking socket: what fits, now */
	c->dead = true;
	list_del(&c->outbox_link);
	if (c->src.fd >= 0) {
		loop_del(c->loop, &c->src);
		close(c->src.fd);
		c->src.fd = -1;
	}
	while (c->out_head) {
		struct outmsg *m = c->out_head;
		c->out_head = m->next;
		out_free(m);
	}
	c->out_tail = &c->out_head;
	c->nout = 0;
}

static void end(struct conn *c, enum conn_end why, int error)
{
	if (c->dead || c->ending)
		return;
	c->ending = true;
	c->ops->ended(c, why, error);
}

static struct outmsg *out_new(struct conn *c, uint16_t type, uint32_t request, const void *body,
			      size_t body_len)
{
	size_t len = sizeof(struct proto_hdr) + body_len;
	struct outmsg *m;

	if (len > PROTO_MAX_MSG || c->nout >= c->max_out)
		return NULL;
	m = malloc(sizeof(*m) + len);
	if (!m)
		return NULL;
	*m = (struct outmsg){ .owned_fd = -1 };
	m->len = proto_encode(m->buf, type, request, body, body_len);
	return m;
}

static void out_append(struct conn *c, struct outmsg *m)
{
	*c->out_tail = m;
	c->out_tail = &m->next;
	c->nout++;
}

int conn_queue(struct conn *c, uint16_t type, uint32_t request, const void *body, size_t len)
{
	struct outmsg *m;

	if (c->dead)
		return -EPIPE;
	m = out_new(c, type, request, body, len);
	if (!m)
		return -ENOBUFS;
	out_append(c, m);
	return 0;
}

int conn_queue_region(struct conn *c, uint32_t request, const struct proto_region *body)
{
	struct outmsg *m;

	if (c->dead)
		return -EPIPE;
	if (!body->region_id || body->count > PROTO_MAX_FDS)
		return -EINVAL;
	m = out_new(c, PROTO_REGION, request, body, sizeof(*body));
	if (!m)
		return -ENOBUFS;
	m->region_id = body->region_id;
	m->first = body->first;
	m->nfds = body->count;
	out_append(c, m);
	return 0;
}

int conn_queue_fd(struct conn *c, uint16_t type, uint32_t request, const void *body, size_t len,
		  int fd)
{
	struct outmsg *m = c->dead ? NULL : out_new(c, type, request, body, len);

	if (!m) {
		close(fd);
		return c->dead ? -EPIPE : -ENOBUFS;
	}
	m->owned_fd = fd;
	out_append(c, m);
	return 0;
}

static void update_interest(struct conn *c)
{
	uint32_t ev = 0;

	if (c->dead || c->ending)
		return;
	if (c->out_head)
		ev = EPOLLOUT;
	else if (!c->held && !c->gated)
		ev = EPOLLIN;
	/* With no interest, EPOLLHUP and EPOLLERR still wake us: a held
	 * client that dies is noticed. */
	if (loop_set(c->loop, &c->src, ev) < 0)
		end(c, CONN_HUNG_UP, errno);
}

void conn_hold(struct conn *c, bool held)
{
	c->held = held;
}

void conn_gate(struct conn *c, bool gated)
{
	c->gated = gated;
	if (!gated)
		conn_kick(c);
}

void conn_regate(struct conn *c)
{
	c->pending = false;
	c->gated = true;
}

void conn_kick(struct conn *c)
{
	int r;

	if (c->dead || c->ending)
		return;
	if (c->outbox && c->out_head) {
		/* Sent at the end of the turn, after the state is stored. */
		if (list_empty(&c->outbox_link))
			list_add_tail(&c->outbox->conns, &c->outbox_link);
		return;
	}
	if (c->out_head && (r = flush(c)) < 0) {
		end(c, CONN_HUNG_UP, -r);
		return;
	}
	update_interest(c);
}

/* A datagram in a version we do not speak: say which we do, then end. */
static void old_version(struct conn *c, const uint8_t *buf)
{
	struct proto_status st = { .error = EPROTONOSUPPORT, .value = PROTO_VERSION };
	struct proto_hdr h;

	memcpy(&h, buf, sizeof(h));
	(void)conn_queue(c, PROTO_STATUS, h.request, &st, sizeof(st));
	end(c, CONN_OLD_VERSION, EPROTONOSUPPORT);
}

/* recvmsg with MSG_PEEK: the datagram stays for conn_consume. Any fds
 * it carries are installed (each peek again) and are the caller's. */
static ssize_t recv_peek(int fd, void *buf, size_t cap, int fds[PROTO_RECV_MAX_FDS],
			 size_t *ret_nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * PROTO_RECV_MAX_FDS)];
	} cb;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			     .msg_controllen = sizeof(cb.b) };
	ssize_t n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*ret_nfds = 0;
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (*ret_nfds + k > PROTO_RECV_MAX_FDS)
			k = PROTO_RECV_MAX_FDS - *ret_nfds;
		memcpy(fds + *ret_nfds, CMSG_DATA(cm), k * sizeof(int));
		*ret_nfds += k;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	if (n == 0 && *ret_nfds)
		return -EBADMSG;
	return n;
}

static void read_some(struct conn *c)
{
	uint8_t *buf = rbuf;
	int fds[PROTO_RECV_MAX_FDS];

	for (int i = 0; i < READS_PER_TURN && !c->dead && !c->ending && !c->out_head && !c->held &&
			!c->gated && !c->pending;
	     i++) {
		struct proto_msg m;
		size_t nfds;
		ssize_t n = c->peek ? recv_peek(c->src.fd, buf, PROTO_MAX_MSG, fds, &nfds)
				    : proto_recv_untrusted(c->src.fd, buf, PROTO_MAX_MSG, fds, &nfds);

		if (nfds) {
			fdreap_push(c->fdreap, fds, nfds);
			end(c, CONN_SENT_FDS, EBADMSG);
			return;
		}
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			end(c, n == -EMSGSIZE ? CONN_OVERSIZED : CONN_HUNG_UP, (int)-n);
			return;
		}
		int r = proto_decode(buf, (size_t)n, 0, &m);
		if (r == -EPROTONOSUPPORT) {
			old_version(c, buf);
			return;
		}
		if (r < 0) {
			end(c, CONN_MALFORMED, -r);
			return;
		}
		c->pending = c->peek;
		c->reply_sent = 0;
		c->ops->message(c, &m);
		/* Answered with nothing to send (never, today): it goes now. */
		if (c->pending && !c->out_head && !c->held && !c->dead && !c->ending)
			consume(c);
	}
}

static void on_conn(struct loop_source *src, uint32_t events)
{
	struct conn *c = container_of(src, struct conn, src);
	int r;

	if (c->dead || c->ending)
		return;
	if ((events & EPOLLOUT) && !c->outbox && (r = flush(c)) < 0) {
		end(c, CONN_HUNG_UP, -r);
		return;
	}
	if (events & EPOLLIN)
		read_some(c);
	else if (events & (EPOLLHUP | EPOLLERR)) {
		end(c, CONN_HUNG_UP, 0);
		return;
	}
	conn_kick(c);
}

void conn_defer(struct conn *c, struct conn_outbox *outbox, bool peek)
{
	c->outbox = outbox;
	c->peek = peek;
}

void conn_outbox_init(struct conn_outbox *o)
{
	list_init(&o->conns);
}

void conn_hold_out(struct conn *c, bool held)
{
	c->out_held = held;
}

void conn_outbox_flush(struct conn_outbox *o)
{
	struct list_node later;

	list_init(&later);
	while (!list_empty(&o->conns)) {
		struct conn *c = container_of(o->conns.next, struct conn, outbox_link);
		int r;

		list_del(&c->outbox_link);
		if (c->dead || c->ending)
			continue;
		if (c->out_held) {
			list_add_tail(&later, &c->outbox_link);
			continue;
		}
		r = flush(c);
		if (r < 0)
			end(c, CONN_HUNG_UP, -r);
		else
			update_interest(c);
	}
	/* Held: at a later turn's end, once released. */
	while (!list_empty(&later)) {
		struct list_node *n = later.next;

		list_del(n);
		list_add_tail(&o->conns, n);
	}
}

int conn_peek_head(struct conn *c, struct proto_hdr *ret)
{
	int fds[PROTO_RECV_MAX_FDS];
	size_t nfds = 0;
	ssize_t n;

	if (c->dead)
		return -EPIPE;
	n = recv_peek(c->src.fd, rbuf, sizeof(rbuf), fds, &nfds);
	if (nfds)
		fdreap_push(c->fdreap, fds, nfds);
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(*ret) || nfds)
		return -EBADMSG;
	memcpy(ret, rbuf, sizeof(*ret));
	return 0;
}

void conn_resume_reply(struct conn *c, uint32_t skip)
{
	c->pending = true;
	c->reply_sent = 0;
	while (skip-- && c->out_head) {
		struct outmsg *m = c->out_head;
		c->out_head = m->next;
		if (!c->out_head)
			c->out_tail = &c->out_head;
		c->nout--;
		c->reply_sent++;
		out_free(m);
	}
	if (!c->out_head && !c->held)
		consume(c);
}
