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

struct session;

enum outcome dispatch(struct session *s, const struct proto_msg *m);

/* The fds of pages [first, first + n) of a region s holds, as they are now
 * (borrowed for one sendmsg), or -ESTALE if s holds no such region. */
int dispatch_region_fds(struct session *s, uint64_t region_id, uint32_t first, uint32_t n,
			int *fds);

/* PROTO_LIST (inspect.c). */
enum outcome inspect_list(struct session *s, const struct proto_msg *m);

#endif
