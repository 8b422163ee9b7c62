/* SPDX-License-Identifier: MIT */
/*
 * client.h - the client side of the wire protocol, one copy for libcontig,
 * contigctl and the tests' raw client: connect, send a request, wait for one
 * datagram and its fds, match a reply to its request, the HELLO exchange,
 * and a LIST table read page by page.
 *
 * Mechanism only: no environment, no default socket, no retry, no session
 * state beyond what the caller passes in, no logging. Every fd argument is
 * borrowed. Errors are -errno; past proto_client_recv, a peer that closed
 * the connection is -ECONNRESET, whichever way it showed.
 */
#ifndef CONTIG_PROTO_CLIENT_H
#define CONTIG_PROTO_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/* A SOCK_SEQPACKET | SOCK_CLOEXEC socket connected to path. With
 * timeout_s > 0, every blocking send and receive on it (connect included)
 * gives up after that long (SO_SNDTIMEO, SO_RCVTIMEO; socket(7)). The fd,
 * or -errno: -ENAMETOOLONG, -ENOENT or -ECONNREFUSED (nobody there),
 * -EACCES. */
int proto_client_connect(const char *path, int timeout_s);

/* Encode and send one request. 0, -ECONNRESET (the peer is gone), or
 * another -errno. */
int proto_client_send(int fd, uint16_t type, uint32_t request, const void *body, size_t len);

/* Receive one datagram into buf[0..cap) with at most PROTO_MAX_FDS fds,
 * which are the caller's (*ret_nfds of them). timeout_ms >= 0: wait that
 * long for it (poll(2)) first; -1: block. Returns the datagram's length,
 * 0 when the peer closed (as recv(2) does), -ETIMEDOUT when nothing came in
 * time (the poll, or the socket's SO_RCVTIMEO), or another -errno
 * (proto_recv). */
ssize_t proto_client_recv(int fd, int timeout_ms, void *buf, size_t cap, int *fds,
			  size_t *ret_nfds);

/* Is the decoded m the answer to request, of type want? 0; a PROTO_STATUS
 * when something else was wanted: its -errno (-EPROTO if it says 0);
 * another request id or type: -EPROTO. */
int proto_client_reply(const struct proto_msg *m, uint32_t request, uint16_t want);

/*
 * One request and its reply, for replies that carry no fds (any that come
 * are closed): send, receive (timeout_ms as proto_client_recv), decode
 * into *ret and check it with proto_client_reply. ret->items point into
 * buf. -EPROTONOSUPPORT for a reply in another protocol version, -EPROTO
 * for any other malformed one.
 */
int proto_client_call(int fd, int timeout_ms, uint32_t request, uint16_t type, const void *body,
		      size_t len, uint16_t want, uint8_t buf[PROTO_MAX_MSG], struct proto_msg *ret);

/* HELLO in two halves, for a client that sends its first request before
 * the answer comes: send ours, and check the answer: 0, the -errno of a
 * refusal (-EPROTO if it gives none), -EPROTONOSUPPORT (a session in
 * another version), -EPROTO (not a HELLO_REPLY, or a page size that is not
 * a power of two of at least 4 KiB). */
int proto_client_hello_send(int fd, uint32_t request);
int proto_client_hello_check(const struct proto_msg *m);
/* Both, waiting for the answer; on success *ret is the session's terms. */
int proto_client_hello(int fd, int timeout_ms, uint32_t request, uint8_t buf[PROTO_MAX_MSG],
		       struct proto_hello_reply *ret);

/*
 * Read a whole PROTO_LIST table: page after page, each asked with the
 * previous reply's next cursor and request id ++*request, until next is 0.
 * fn gets each page's rows (count of them, item_size bytes apart, at least
 * the table's proto_*_item each); a negative return stops the walk and is
 * returned. -EPROTO for a reply about another table, a cursor that does
 * not move, or more than max_pages pages; else proto_client_call's errors.
 */
typedef int (*proto_client_rows_fn)(const uint8_t *items, uint32_t count, uint32_t item_size,
				    void *ctx);
int proto_client_list(int fd, int timeout_ms, uint32_t *request, uint32_t table,
		      uint32_t max_pages, uint8_t buf[PROTO_MAX_MSG], proto_client_rows_fn fn,
		      void *ctx);

#endif
