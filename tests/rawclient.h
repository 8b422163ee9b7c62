/* SPDX-License-Identifier: MIT */
/*
 * rawclient.h - speak the wire protocol directly, as a hostile or curious
 * client would: raw datagrams, and the daemon's page table for tests that
 * must know the exact physical layout of the pool.
 */
#ifndef CONTIG_TEST_RAWCLIENT_H
#define CONTIG_TEST_RAWCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Connect to path; with hello, also send HELLO and wait for its answer,
 * whatever it says (-EPROTO if none comes). fd or -errno. */
int raw_connect(const char *path, int hello);
/* Send a request and wait (up to 5 s) for one reply datagram; fds it
 * carried are closed. Returns the reply length, 0 if the daemon closed the
 * connection, or -errno. */
ssize_t raw_call(int fd, const void *buf, size_t len, void *reply, size_t cap);

/* Walk every row of a LIST table through all its pages (proto_client_list);
 * fn gets each item (at least as long as the table's proto_*_item). Rows
 * seen, or -errno. */
int raw_list(const char *path, uint32_t table, void (*fn)(const void *item, void *ctx), void *ctx);

struct raw_page {
	uint64_t phys;
	uint8_t state;
	int32_t node;
};
/* The pool's pages in physical order; *ret to free(). Count or -errno. */
int raw_pages(const char *path, struct raw_page **ret);

/* One counter of the daemon's STATS table, or -errno / -ENOENT. */
int64_t raw_stat(const char *path, const char *name);

#endif
