/* SPDX-License-Identifier: MIT */
/*
 * conn.h - one client connection, the transport alone: datagrams in,
 * through the codec, to one callback; replies out, through one queue. It
 * knows nothing of pools, leases or users, and calls up only through its
 * ops (dbus-broker's connection under its peer).
 *
 * Back-pressure instead of buffers: a connection is read only while its
 * reply queue is empty and its owner does not hold it (a request waiting
 * for reclaim), so one request at a time is in progress and the memory a
 * connection costs is bounded by one reply. A client that never reads its
 * replies stalls only itself.
 *
 * A queued reply keeps no fd number borrowed from elsewhere: by the time it
 * leaves, the file that number named may be gone and the number reused (a
 * reclaimed page, a new connection). A REGION datagram keeps the region's
 * id and its slice of pages, and asks the owner for the fds at the
 * sendmsg; any other fd in the queue is the queue's own.
 *
 * Under systemd's fd store (fdstore.h) a connection is also a record of
 * what was asked: a request is read with MSG_PEEK and taken out of the
 * socket only once its whole reply has left, and replies leave only at
 * the end of the loop turn, through the outbox, after the state they speak
 * of is stored (state.h). A contigd killed at any point leaves every
 * request it did not answer in its socket, for the next one.
 *
 * Clients never send fds. The listening socket refuses them where the
 * kernel can (SO_PASSRIGHTS); any that arrive anyway end the connection and
 * are closed off the loop thread (fdreap.h), since closing a file a client
 * chose can block.
 */
#ifndef CONTIG_CONN_H
#define CONTIG_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fdreap.h"
#include "list.h"
#include "loop.h"
#include "proto.h"

struct conn;

/* Why a connection ended, as the transport saw it. */
enum conn_end {
	CONN_HUNG_UP,           /* orderly: the peer closed, or an I/O error */
	CONN_OVERSIZED,         /* a datagram larger than the protocol allows */
	CONN_SENT_FDS,          /* a datagram carrying fds */
	CONN_MALFORMED,         /* rejected by the codec */
	CONN_OLD_VERSION,       /* a protocol version we do not speak (told so) */
};

/* A violation, as opposed to a hang-up or an honest version mismatch. */
static inline bool conn_end_is_violation(enum conn_end why)
{
	return why == CONN_OVERSIZED || why == CONN_SENT_FDS || why == CONN_MALFORMED;
}

struct conn_ops {
	/* One decoded message. The owner may queue replies, hold the
	 * connection, or close it. */
	void (*message)(struct conn *c, const struct proto_msg *m);
	/* The transport ended the connection: the owner must conn_close() it
	 * (now or later in this loop turn). Called at most once. */
	void (*ended)(struct conn *c, enum conn_end why, int error);
	/* The fds of pages [first, first + n) of region_id as they are now,
	 * for a region the peer still holds; -errno if it holds none (the
	 * connection is then closed). Borrowed for one sendmsg. */
	int (*region_fds)(struct conn *c, uint64_t region_id, uint32_t first, uint32_t n, int *fds);
};

/* A queued reply (read-only outside conn.c: tests walk the queue). */
struct outmsg {
	struct outmsg *next;
	size_t len;
	uint64_t region_id;             /* 0, or the region whose pages go with it */
	uint32_t first, nfds;           /* its pages [first, first + nfds) */
	int owned_fd;                   /* -1, or an fd closed once sent (or dropped) */
	uint8_t buf[];
};

/* Connections with replies to send at the end of the turn. */
struct conn_outbox {
	struct list_node conns;
};

struct conn {
	struct loop_source src;
	struct loop *loop;
	const struct conn_ops *ops;
	struct fdreap *fdreap;          /* for fds a client sent; NULL: closed here */
	struct outmsg *out_head, **out_tail;
	uint32_t nout, max_out;
	bool dead;                      /* closed: no I/O, waits to be freed by its owner */
	bool held;                      /* not read while set (a request waits) */
	bool gated;                     /* not read while set (conn_gate) */
	bool out_held;                  /* replies stay at the turn's end (conn_hold_out) */
	bool ending;                    /* ops->ended was called */
	/* The fd store's mode (conn_defer): */
	struct conn_outbox *outbox;     /* NULL: replies leave at once */
	struct list_node outbox_link;
	bool peek;                      /* requests leave the socket once answered */
	bool pending;                   /* a request read and acted on is still in the socket */
	uint32_t reply_sent;            /* datagrams of its reply that left */
};

/* Take fd (consumed, also on failure) and watch it on loop. 0 or -errno. */
int conn_open(struct conn *c, struct loop *loop, int fd, const struct conn_ops *ops,
	      struct fdreap *fdreap, uint32_t max_out);
/* Close now. With flush, first send what of the queue can go without
 * blocking (a refusal the peer should read before the hang-up). */
void conn_close(struct conn *c, bool flush);

/* Queue a reply; sent as soon as the socket takes it. 0, -ENOBUFS (the
 * queue is full or the body too long), -ENOMEM or -EPIPE (closed). */
int conn_queue(struct conn *c, uint16_t type, uint32_t request, const void *body, size_t len);
/* One REGION datagram, its page fds looked up at the sendmsg. */
int conn_queue_region(struct conn *c, uint32_t request, const struct proto_region *body);
/* A reply carrying fd, which the queue owns from now on (closed once sent,
 * or with the queue, or here on failure). */
int conn_queue_fd(struct conn *c, uint16_t type, uint32_t request, const void *body, size_t len,
		  int fd);

/* Replies leave through outbox (at conn_outbox_flush); with peek, a
 * request leaves the socket only once its reply did. */
void conn_defer(struct conn *c, struct conn_outbox *outbox, bool peek);
void conn_outbox_init(struct conn_outbox *o);
/* Send what every connection queued this turn. */
void conn_outbox_flush(struct conn_outbox *o);
/* The header of the request at the head of the socket, not taken out:
 * 0, -EAGAIN (none) or -errno. */
int conn_peek_head(struct conn *c, struct proto_hdr *ret);
/* A restart found the request at the head answered already: its reply is
 * queued again (skipping the first skip datagrams, which had left), and
 * the request leaves the socket after it. */
void conn_resume_reply(struct conn *c, uint32_t skip);

/* Stop or resume reading (a request that waits for reclaim). */
void conn_hold(struct conn *c, bool held);
/* Not read until opened again, whatever holds it: a session whose socket
 * is not in systemd's fd store yet must not be answered (a restart would
 * not know it, and would release what the answers handed out). Opening
 * kicks it. */
void conn_gate(struct conn *c, bool gated);
/* From ops->message, in the fd store's mode (peek): the request being
 * served is not answered now but stays in the socket, read again once the
 * gate opens. */
void conn_regate(struct conn *c);
/* In the fd store's mode: what is queued stays queued at the end of the
 * turn (conn_outbox_flush passes it by) until released; a reply that hands
 * out a file the store does not hold yet must not leave. */
void conn_hold_out(struct conn *c, bool held);
/* Send what was queued outside an event of this connection, and watch for
 * what it needs next (after a held request was answered). */
void conn_kick(struct conn *c);
/* Replies still waiting for room in the socket. */
static inline bool conn_busy(const struct conn *c)
{
	return c->out_head != NULL;
}

#endif
