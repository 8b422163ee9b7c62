/* SPDX-License-Identifier: MIT */
/*
 * conn.h - contigctl's session with contigd: connect, HELLO, and one
 * request/reply at a time. Separate from libcontig's session on purpose:
 * inspecting must not open regions or change the caller's own session.
 */
#ifndef CONTIGCTL_CONN_H
#define CONTIGCTL_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

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

#endif
