/* SPDX-License-Identifier: MIT */
/*
 * internal.h - libcontig's process-wide state and the seams between its
 * files: link.c (the session with contigd), regions.c (the table of live
 * regions and the physical-address fast path), contig.c (the public API).
 *
 * Two locks, always taken in this order: lock guards the session (one
 * request at a time, possibly waiting long for the daemon), table guards the
 * regions, so a lookup never waits for the daemon; contig_phys_addr's fast
 * path takes neither (a per-thread cache validated by a generation counter).
 */
#ifndef LIBCONTIG_INTERNAL_H
#define LIBCONTIG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define LC_EXPORT __attribute__((visibility("default")))

struct lc_region {
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

struct lc_state {
	pthread_mutex_t lock;
	pthread_mutex_t table;
	int sock;             /* -1: not connected */
	uint64_t session_gen; /* bumped on every connect */
	uint64_t page_size;   /* from HELLO_REPLY */
	uint32_t next_request;
	uint32_t owed;        /* FREE replies not read yet (frees sent without waiting) */
	uint32_t hello_request; /* a HELLO sent and not answered yet (0: none) */
	struct lc_region *regions; /* sorted by base */
	size_t nregions, cap;
};

extern struct lc_state lc;

/* link.c: all called with lc.lock held. */
int link_ensure(void);
/* Connect and send HELLO without waiting for its answer, so that the first
 * request goes out right behind it: link_recv reads the answer first. */
int link_ensure_async(void);
void link_drop(void);
int link_send(uint16_t type, uint32_t request, const void *body, size_t len);
/* Receive one reply to request; fds (if any) land in fds[] and are the
 * caller's. A reply to another request id is a protocol error. */
int link_recv(uint32_t request, struct proto_msg *ret, uint8_t *buf, int *fds, size_t *ret_nfds);
/* At most this many frees in flight unanswered: their replies queue in our
 * receive buffer, and a daemon that cannot send stops reading us. */
#define LC_MAX_OWED 32
/* Send a request and receive its single reply (not for REGION replies). */
int link_call(uint16_t type, const void *body, size_t len, uint16_t want_type,
	      struct proto_msg *ret);
/* Receive a region's datagrams and map them: at fixed_va (MAP_FIXED_NOREPLACE)
 * or anywhere. Fills *ret; on failure nothing stays mapped. */
int link_recv_region(uint32_t request, void *fixed_va, struct lc_region *ret);

/* regions.c: called with lc.table held, except lc_phys_slow which takes it. */
int regions_insert(const struct lc_region *r);
struct lc_region *regions_find(uintptr_t va);  /* region containing va */
void regions_remove(struct lc_region *r);
void regions_clear(void);
void regions_changed(void);                    /* invalidate per-thread caches */
uint64_t lc_phys_slow(uintptr_t va);
/* Fill this thread's translation cache; gen read before the lookup it
 * describes (any removal since then makes the entry stale). */
void lc_phys_cache(uintptr_t base, uintptr_t end, uint64_t phys, uint64_t gen);
uint64_t lc_table_gen(void);

/* contig.c: a daemon region outside the table of live regions (for the
 * small-region cache), and its release (munmap + FREE). */
int lc_region_alloc(const struct proto_alloc *a, struct lc_region *ret);
void lc_region_release(const struct lc_region *reg);

/* small.c: the small-region cache (CONTIG_SMALL_CACHE=1). Lock order:
 * small, then lc.lock, then lc.table. */
bool small_wanted(const struct proto_alloc *a);
int small_alloc(const struct proto_alloc *a, void **ret);
bool small_free(void *base);            /* true if it was a small region (or inside a slab) */
bool small_owns(const void *va);
uint64_t small_phys(uintptr_t va);      /* CONTIG_PHYS_INVALID unless inside a live small region */
struct contig_region_info;
int small_info(const void *va, struct contig_region_info *ret);
void small_trim(void);                  /* give idle slab pages back */
void small_forget(void);                /* after fork, in the child */
void small_atfork_lock(void);
void small_atfork_unlock(void);

/* stash.c: freed private regions kept for reuse (CONTIG_STASH=0: off).
 * Entries are guarded by lc.table. */
bool stash_put(const struct lc_region *reg);        /* lc.table held; true: kept */
bool stash_want_table(const struct lc_region *reg); /* no lock held; true: put may keep it now */
int stash_get(const struct proto_alloc *a, void **ret); /* takes lc.table; 0, or -ENOENT */
void stash_forget(void);                            /* after fork, in the child */
void stash_end(void);     /* the session ended: drop every entry unused (lc.lock held) */
void stash_flush(void);                             /* free every entry for real (no lock held) */

#endif
