/* SPDX-License-Identifier: MIT */
/*
 * conn.h - contigctl's session with contigd: connect, HELLO, one
 * request/reply at a time, and whole inspection tables read page by page,
 * over the client side of the protocol libcontig uses too
 * (proto/client.h). Separate from libcontig's session on purpose:
 * inspecting must not open regions or change the caller's own session.
 */
#ifndef CONTIGCTL_CONN_H
#define CONTIGCTL_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Seconds to wait for any one reply: a wedged daemon must not hang a
 * monitoring script forever (-ETIMEDOUT then). */
#define CONN_TIMEOUT_S 10

/* Most rows accepted from one table: far above any real pool (the daemon
 * has at most one region per page and one page per fd), low enough that a
 * broken daemon cannot make us eat all memory. */
#define CONN_MAX_ROWS (16u << 20)

struct conn {
	int fd;
	uint32_t request;
	struct proto_hello_reply hello;
	uint8_t buf[PROTO_MAX_MSG];   /* the last reply; items point into it */
};

/* Connect to path and say HELLO. -errno: -ENOENT/-ECONNREFUSED (no daemon),
 * -EACCES (permission), -EPROTONOSUPPORT (version mismatch), -EPROTO. */
int conn_open(struct conn *c, const char *path);
void conn_close(struct conn *c);
/* Send one request and receive its reply of type want (or a STATUS, turned
 * into its -errno). */
int conn_call(struct conn *c, uint16_t type, const void *body, size_t len, uint16_t want,
	      struct proto_msg *ret);

/*
 * Read a whole PROTO_LIST table: request page after page, each with the
 * previous reply's next cursor, until next is 0. Rows are copied into one
 * array of item_size bytes per row (the caller's struct): a longer row from
 * a newer daemon is cut to it, so only fields we know are read. On success
 * *ret_rows (to free(), NULL when empty) and *ret_count are set. -EPROTO if
 * a reply is for another table or the cursor does not move; -E2BIG past
 * CONN_MAX_ROWS; else conn_call's errors.
 */
int conn_list(struct conn *c, uint32_t table, size_t item_size, void **ret_rows,
	      size_t *ret_count);

#endif
