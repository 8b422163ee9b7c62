/* SPDX-License-Identifier: MIT */
/*
 * dispatch.h - the request handlers, behind one bounds-checked table (s6
 * s6-fdholderd). A message reaches a handler only after proto_decode
 * accepted it; a handler queues its reply, or returns the outcome the
 * server answers with (server.c: session_answer).
 */
#ifndef CONTIG_DISPATCH_H
#define CONTIG_DISPATCH_H

#include <stdint.h>

#include "outcome.h"
#include "proto.h"
#include "server.h"

/* For server_init: dispatch, and the page fds of a region a session holds
 * (-ESTALE if it holds no such region). */
extern const struct server_handlers dispatch_handlers;

enum outcome dispatch(struct session *s, const struct proto_msg *m);

/* PROTO_LIST (inspect.c). */
enum outcome inspect_list(struct session *s, const struct proto_msg *m);

#endif
