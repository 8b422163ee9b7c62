/* SPDX-License-Identifier: MIT */
/*
 * link.h - this process's session with contigd, the bottom layer of
 * libcontig: everything that talks to the daemon is here, and nothing here
 * calls into the layers above (the session's end reaches the stash through
 * the hook given to link_init).
 *
 * Each call takes the link's lock itself: one request at a time, possibly
 * waiting long for the daemon. Lock order: the small-region cache's lock
 * and the stash's asking lock, then the link's, then the regions lock.
 */
#ifndef LIBCONTIG_LINK_H
#define LIBCONTIG_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/* One region as the daemon gave it and link mapped it. */
struct region {
	uintptr_t base;
	size_t mapped;        /* npages * page_size */
	uint64_t nbytes;
	uint64_t phys;
	uint64_t id;
	uint64_t page_size;
	uint64_t session_gen; /* the session it came from; stale after reconnect */
	uint64_t dirty;       /* bytes of it this process was ever given (the stash zeroes them) */
	int node;
	bool shared;          /* exported or imported: other processes may map it */
};

/* on_end runs whenever a session ends, with the link's lock held, before
 * its socket is closed (so that nobody watches a number that may name
 * another file next). */
void link_init(void (*on_end)(void));

/* Fork handlers: take the lock before, release it after; in the child the
 * parent's session is dropped quietly (on_end is not called). */
void link_fork_prepare(void);
void link_fork_parent(void);
void link_fork_child(void);

/* The current session's generation: it names a session once its HELLO is
 * answered, and changes whenever a session ends. For a caller that holds
 * no link lock (whatever it learns may be stale at once). */
uint64_t link_session_gen(void);
/* End the session now if the daemon has closed it (a restart, a crash):
 * whatever was of it goes stale at once. Takes the link's lock. */
void link_check_hangup(void);

/* The pool page size of the session, connecting if need be; 0 if there is
 * no session or its figure is not known yet. */
uint64_t link_page_size(void);

/* Run an ALLOC or IMPORT (type, body) and map what comes back, at fixed_va
 * (MAP_FIXED_NOREPLACE) or anywhere, without recording it anywhere. A daemon
 * lost between calls costs one reconnect; one lost during the call is
 * retried once on a fresh session. 0 and *ret, or -errno, nothing mapped. */
int link_region_fetch(uint16_t type, const void *body, size_t len, void *fixed_va,
		      struct region *ret);
/* Unmap a region and tell its daemon, if its session still lives: a region
 * only this process ever mapped without waiting for the answer, a shared
 * one waiting (see link.c). */
void link_region_free(const struct region *reg);

/* PROTO_QUERY, retried once on a fresh session. 0 or -errno. */
int link_query(int node, struct proto_pool_info *ret);
/* PROTO_EXPORT of reg: -ECONNRESET when its session is over (nothing to
 * share it through). 0 and *ret, or -errno. */
int link_export(const struct region *reg, struct proto_handle *ret);
/* PROTO_REVOKE. 0 or -errno. */
int link_revoke(const struct proto_handle *h);

/* The stash table of session gen: the daemon's sealed memfd, checked and
 * mapped (MADV_DONTFORK); sock is the session's socket, to watch for a
 * hang-up. -ESTALE when gen is not the session connected now; else 0 or
 * the -errno of a refused, malformed or unusable table. */
struct link_stash_table {
	uint64_t *slots;      /* PROTO_STASH_SLOTS, PROTO_STASH_BYTES mapped */
	int sock;             /* borrowed: valid until on_end */
};
int link_stash_table(uint64_t gen, struct link_stash_table *ret);

#endif
