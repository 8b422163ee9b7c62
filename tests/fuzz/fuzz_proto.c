/* SPDX-License-Identifier: MIT */
/*
 * fuzz_proto.c - proto_decode, the one validation function both sides run
 * on every datagram, on arbitrary bytes.
 *
 * Input: one byte giving the fd count the datagram "arrived with", then the
 * datagram. Beyond "no crash, no read outside the buffer" (ASan), a message
 * that decodes must obey what the decoder promises: its header matches the
 * bytes, the body is zero-extended, reserved fields are zero, the fd count
 * is one the type allows, list items lie inside the datagram, and encoding
 * the decoded message gives the datagram back (less a zero tail).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_proto: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                        \
		}                                                                       \
	} while (0)

static int zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void check_decoded(const uint8_t *buf, size_t len, size_t nfds, const struct proto_msg *m)
{
	static uint8_t again[PROTO_MAX_MSG];
	size_t want = proto_body_size(m->hdr.type);
	size_t body = len - sizeof(struct proto_hdr);

	CHECK(len >= sizeof(struct proto_hdr) && len <= PROTO_MAX_MSG);
	CHECK(m->hdr.magic == PROTO_MAGIC && m->hdr.version == PROTO_VERSION && m->hdr.length == len);
	CHECK(want > 0 && want <= sizeof(m->body));
	CHECK(body >= want); /* version 1: every body complete */
	CHECK(nfds == 0 || m->hdr.type == PROTO_REGION || m->hdr.type == PROTO_STASH_TABLE);
	if (m->hdr.type == PROTO_REGION) {
		const struct proto_region *r = &m->body.region;
		CHECK(nfds == r->count && r->count >= 1 && r->count <= PROTO_MAX_FDS);
		CHECK(r->first < r->npages && r->count <= r->npages - r->first);
		CHECK(r->nbytes >= 1 && r->nbytes <= (uint64_t)r->npages * r->page_size);
		CHECK((r->phys & (r->page_size - 1)) == 0);
	}
	if (m->hdr.type == PROTO_LIST_REPLY) {
		const struct proto_list_reply *l = &m->body.list_reply;
		CHECK(m->items == buf + sizeof(struct proto_hdr) + want);
		CHECK(m->items_len == body - want);
		CHECK((uint64_t)l->count * l->item_size == m->items_len);
		CHECK(!l->reserved);
	} else {
		CHECK(!m->items && !m->items_len);
		CHECK(zero(buf + sizeof(struct proto_hdr) + want, body - want));
	}
	switch (m->hdr.type) {
	case PROTO_HELLO: CHECK(!m->body.hello.flags); break;
	case PROTO_ALLOC:
		CHECK(!m->body.alloc.reserved && !(m->body.alloc.flags & ~PROTO_ALLOC_FLAGS));
		/* The argument rules must not crash either, whatever they say. */
		(void)proto_alloc_check(&m->body.alloc);
		break;
	case PROTO_STATUS: CHECK(!m->body.status.reserved && m->body.status.error >= 0); break;
	case PROTO_QUERY:
		CHECK(!m->body.query.reserved && m->body.query.node >= PROTO_NODE_ANY &&
		      m->body.query.node < PROTO_MAX_NODES);
		break;
	case PROTO_LIST:
		CHECK(!m->body.list.reserved && m->body.list.table >= 1 &&
		      m->body.list.table < PROTO_TABLE_MAX);
		break;
	case PROTO_STASH: CHECK(!m->body.stash.flags && !m->body.stash.reserved); break;
	case PROTO_STASH_TABLE:
		/* Exactly one fd, and the table's one shape. */
		CHECK(nfds == 1 && m->body.stash_table.slots == PROTO_STASH_SLOTS &&
		      m->body.stash_table.bytes == PROTO_STASH_BYTES);
		break;
	default: break;
	}
	/* Re-encoding gives the same bytes (but for the length of a zero tail). */
	size_t n = proto_encode(again, m->hdr.type, m->hdr.request, &m->body, want);
	CHECK(n == sizeof(struct proto_hdr) + want);
	((struct proto_hdr *)(void *)again)->length = (uint32_t)len;
	CHECK(!memcmp(again, buf, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	size_t nfds;
	uint8_t *copy;
	int r;

	if (size < 1)
		return 0;
	nfds = data[0];
	/* An exact-size copy: any read past the datagram is an ASan report. */
	copy = malloc(size - 1 ? size - 1 : 1);
	CHECK(copy);
	memcpy(copy, data + 1, size - 1);
	memset(&m, 0x5a, sizeof(m));
	r = proto_decode(copy, size - 1, nfds, &m);
	CHECK(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EPROTO);
	if (r == 0)
		check_decoded(copy, size - 1, nfds, &m);
	free(copy);
	return 0;
}
