/* SPDX-License-Identifier: MIT */
/*
 * pool.h - the pool: pinned pages (backing), the allocator core (extent),
 * regions, the leases that sessions hold on them, and reclaim.
 *
 * Ownership. A region is a run of pool pages handed out together. Every
 * holder of a region (the session that allocated it, and each session that
 * imported it) holds one lease. When the last lease goes, the region's pages
 * are revoked at once (punched out of their files, so no former holder can
 * see them again) and handed to the reclaim workers, which fault a fresh,
 * kernel-zeroed page into a new file for each; only then is a page FREE
 * again. So a FREE page has never been visible to any client.
 *
 * Threads: everything here runs on the loop thread except the acquire calls
 * made by the reclaim threads (reclaim.c) and the repair's harvest thread
 * (repair.c, above the pool), which only touch their own jobs and
 * candidates.
 */
#ifndef CONTIG_POOL_H
#define CONTIG_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backing.h"
#include "clock.h"
#include "extent.h"
#include "start_watch.h"
#include "list.h"
#include "proto.h"
#include "reclaim.h"

struct region;

/* Placeholder addresses of revoked pages whose frame was reused (pool.c). */
#define POOL_STALE_PHYS (1ull << 62)

/* One holder's claim on a region. holder is the session (opaque here). */
struct lease {
	struct region *region;
	void *holder;
	struct list_node by_holder;
	struct list_node by_region;
	uint32_t refs;               /* times this holder mapped it */
};

struct region_owner {
	uint64_t session_id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[16];
};

struct region {
	uint64_t id;
	uint64_t nbytes;
	uint64_t phys;
	uint64_t created_ns;
	uint32_t npages;
	uint32_t slot;
	struct extent_request rq;    /* as asked, for inspection */
	struct region_owner owner;   /* who allocated it */
	struct list_node leases;
	uint32_t nleases;
	bool exported;
	bool revoked;                /* no new imports */
	bool holder_died;            /* quarantine it when it is finally released */
	bool carve;                  /* asked with PROTO_ALLOC_CARVE: its holders carve it */
	uint8_t token[24];           /* export capability, random */
	uint32_t ids[];              /* page ids, in physical order */
};

/* What the pool did (the server counts what happened to requests). */
struct pool_stats {
	uint64_t allocs;
	uint64_t frees;
	uint64_t bytes_served;
	uint64_t reclaims;           /* pages reclaimed */
	uint64_t zeroed_in_place;    /* of which zeroed in place (trusted mode) */
	uint64_t reclaim_ns;         /* time spent refaulting them */
	uint64_t revoke_errors;
	uint64_t pinned;             /* pin operations that succeeded */
	uint64_t pin_failures;
	uint64_t quarantined;        /* pages of dead sessions held back before reclaim */
	uint64_t phys_changed;       /* pages back from reclaim at another address */
	uint64_t lost;               /* pages the kernel did not give back */
	uint64_t audits;
	uint64_t wrong_node;         /* pages the kernel put on another node than asked */
	uint64_t audit_moved;        /* live pages found at another address by an audit */
	uint64_t repair_swapped;     /* free pages exchanged for repair's candidates (longer runs) */
};

struct pool_config {
	uint64_t page_size;
	uint32_t npages;
	uint32_t threads;            /* for the start-up fault-in; 0 = one per CPU */
	uint32_t quarantine_ms;
	uint32_t reclaim_threads;    /* 0 = one per CPU */
	bool zero_in_place;          /* trusted hosts: zero freed pages, do not revoke */
	/* Pages acquired beforehand (the low pool): they join the pool as ids
	 * npages..npages+nextra-1 and are owned by it from pool_init on. */
	struct backing_page *extra;
	uint32_t nextra;
	/* Spare hugepages the background repair may look at once the pool
	 * serves (pool_repair_start(p, p->oversample)); 0: none. Single-node
	 * pools only: a node-bound pool keeps what each node gave. */
	uint32_t oversample;
	/* Node each of the npages pages is faulted on, or NULL: anywhere. */
	const int32_t *want_node;
	/* Start-up progress, and a stop between pages (pool_init then fails
	 * with -EINTR); NULL: neither. */
	const struct start_watch *watch;
};

struct pool {
	uint64_t page_size;
	uint32_t npages;
	uint32_t nbase;              /* ids below are the pool proper; from here, the low pool */
	const struct backing_ops *ops;
	void *ops_ctx;
	struct backing_page *pages;  /* by page id; pages_cap entries, npages in use */
	uint32_t pages_cap;
	int32_t *want_node;          /* by page id: its node when asked, else NULL */
	struct extent_pool ext;
	struct region **slots;       /* region by slot; npages slots suffice */
	uint32_t *free_slots;
	uint32_t nfree_slots;
	uint32_t nregions;
	uint64_t next_seq;
	struct reclaim reclaim;
	uint64_t quarantine_ns;      /* how long a dead session's pages wait */
	bool zero_in_place;
	struct quarantine_entry {
		uint32_t id;
		uint64_t deadline;
	} *quarantine;               /* FIFO ring of npages */
	uint32_t q_head, q_len;
	struct reclaim_job *pending; /* revoked this turn, for pool_reclaim_kick */
	uint32_t npending;
	uint32_t audit_cursor;
	uint32_t oversample;         /* from pool_config: what repair may look at (repair.h) */
	struct pool_stats stats;
	uint64_t started_ns;
	uint64_t version;            /* bumped by every change a restart must know of (state.h) */
};

/* A page's fd (borrowed: valid until the loop next changes the pool) and
 * node. */
static inline int pool_page_fd(const struct pool *p, uint32_t id)
{
	return p->pages[id].fd;
}

static inline int32_t pool_page_node(const struct pool *p, uint32_t id)
{
	return p->ext.pages[id].node;
}

/*
 * Acquire cfg->npages pages through ops (in parallel), locate them and set
 * up the allocator. Returns 0 or -errno; on -ENOMEM *ret_got says how many
 * pages could be had. A half-built pool is torn down by pool_destroy.
 */
int pool_init(struct pool *p, const struct pool_config *cfg, const struct backing_ops *ops,
	      void *ops_ctx, uint32_t *ret_got);
void pool_destroy(struct pool *p);

/*
 * Allocate a region for holder and give it its first lease; carve marks it
 * as leased for carving (for accounting and inspection only: the pool
 * treats it as any other). Returns 0, -EINVAL, -ENOMEM, or -EAGAIN: it does
 * not fit now but would once the reclaim in flight ends (the caller waits
 * and retries).
 */
int pool_alloc(struct pool *p, const struct extent_request *rq, const struct region_owner *owner,
	       bool carve, void *holder, struct lease **ret);

/* A new lease (or one more ref on holder's lease) on a live region;
 * -EOVERFLOW past POOL_MAX_LEASE_REFS refs of one holder. */
#define POOL_MAX_LEASE_REFS 65536u
int pool_lease_add(struct pool *p, struct region *r, void *holder, struct lease **ret);

/* Drop one ref of a lease; the last lease of a region releases it. */
void pool_lease_put(struct pool *p, struct lease *l);
/*
 * Drop a lease whatever its refs: its holder is gone. If that was the last
 * lease, the region's pages go to quarantine first (a dead client may have
 * left a device DMA-ing into them; without an IOMMU nothing stops it), and
 * are revoked and reclaimed when it ends (pool_quarantine_expire).
 */
void pool_lease_drop(struct pool *p, struct lease *l);

/* Revoke and reclaim quarantined pages whose time is up; returns the
 * deadline (CLOCK_MONOTONIC ns) of the next one, or 0 if none is left. */
uint64_t pool_quarantine_expire(struct pool *p, uint64_t now);

struct region *pool_region_find(struct pool *p, uint64_t id);
/* The lease holder has on r, or NULL. */
struct lease *pool_lease_of(struct region *r, void *holder);

/* Collect pages the reclaim workers finished; returns how many came back. */
uint32_t pool_reclaim_collect(struct pool *p);
/* Put LOST pages back on the reclaim queue; returns how many. */
uint32_t pool_retry_lost(struct pool *p);
/* Readable when reclaim finished pages (then pool_reclaim_collect). */
static inline int pool_reclaim_fd(const struct pool *p)
{
	return p->reclaim.event_fd;
}
/* Pages still being reclaimed. */
uint32_t pool_reclaiming(const struct pool *p);

/* Re-read every page's physical address; returns pages that moved. */
uint32_t pool_audit(struct pool *p);
/* The same for the next n pages (the periodic audit, in slices, so the loop
 * never stalls on a large pool). A wrap completes a pass (stats.audits). */
uint32_t pool_audit_step(struct pool *p, uint32_t n);
/* Hand this turn's revoked pages to the reclaim workers (end of a turn). */
void pool_reclaim_kick(struct pool *p);

/*
 * Give FREE page id the frame of pg (fresh, zeroed, never handed out) and
 * its old frame back to the kernel; pg is emptied. Returns 0, or -errno
 * and nothing changed.
 */
int pool_page_swap(struct pool *p, uint32_t id, struct backing_page *pg);

/* How long a dead session's pages wait before they are reclaimed. */
void pool_set_quarantine(struct pool *p, uint32_t ms);
/* Pages wait in quarantine (the caller arms a timer for them). */
static inline bool pool_quarantine_waiting(const struct pool *p)
{
	return p->q_len != 0;
}
/* The region in slot, or NULL (slots < npages; for inspection). */
static inline struct region *pool_region_at(const struct pool *p, uint32_t slot)
{
	return slot < p->npages ? p->slots[slot] : NULL;
}

/* pool.c's own, shared with pool_state.c: release a region (its pages
 * revoked and reclaimed, or quarantined first), and pin a page. */
void pool_region_release(struct pool *p, struct region *rg, bool quarantine);
void pool_page_pin(struct pool *p, uint32_t id);

/* A page's file's inode (names it in systemd's fd store), and its fd; -1:
 * no file. */
static inline int pool_page_file(const struct pool *p, uint32_t id, uint64_t *ret_ino)
{
	*ret_ino = p->pages[id].ino;
	return p->pages[id].fd;
}

/*
 * pool_state.c: the pool in the state memfd (state.h).
 *
 * pool_save writes the pool's sections (pool, pages, regions, their pages,
 * leases); holder_id names a lease's holder (the session id).
 *
 * pool_restore builds a pool from a state a previous contigd wrote and the
 * page files a restart adopted: pages[id] (consumed) is the page's file,
 * already checked to be the recorded file at the recorded frame, or fd -1
 * when there is none or it did not check out. A page without its file is
 * never handed out: it is LOST (a fresh page is faulted in its place, a
 * retry of lost pages), and a region with such a page is left to the
 * processes that map it (its other pages' files are dropped too, never
 * put back in the pool): detached. Returns 0, or -EBADMSG when the state
 * does not hold together (then nothing is kept: a cold start), or -errno.
 * Leases are the server's to give back (pool_lease_restore); then
 * pool_restore_finish releases regions nobody came back for, as if their
 * holders died.
 */
struct state;
struct state_view;
void pool_save(const struct pool *p, struct state *st, uint64_t (*holder_id)(const void *holder));
struct pool_restore_report {
	uint32_t pages, regions, leases;
	uint32_t dropped;            /* pages whose file was missing or wrong */
	uint32_t detached;           /* regions left to their holders */
	uint32_t quarantined, reclaiming, lost;
};
int pool_restore(struct pool *p, const struct pool_config *cfg, const struct backing_ops *ops,
		 void *ops_ctx, const struct state_view *v, struct backing_page *pages,
		 struct pool_restore_report *ret);
int pool_lease_restore(struct pool *p, uint64_t region_id, void *holder, uint32_t refs,
		       struct lease **ret);
void pool_restore_finish(struct pool *p);

/* Every invariant of the pool recomputed (pool_check.c): 0, or -EUCLEAN
 * with the first broken one described in why. Loop thread only. */
int pool_check(const struct pool *p, char *why, size_t len);

/* The pool's figures for one node (or EXTENT_NODE_ANY); what goes on the
 * wire is the server's to make of them. */
struct pool_figures {
	uint64_t page_size;
	uint64_t total_bytes;
	uint64_t free_bytes;         /* free now, reclaim in flight excluded */
	uint64_t largest_free_run;   /* bytes */
	uint64_t reclaiming_bytes;
	uint64_t quarantined_bytes;
	uint64_t lost_bytes;
	uint32_t runs;
	uint32_t regions;
	uint32_t nodes;              /* bit i set: node i holds pool pages */
	uint64_t uptime_ns;
	uint64_t below_4g_total, below_4g_free;
	uint64_t below_16m_total, below_16m_free;
};
void pool_figures(const struct pool *p, int32_t node, struct pool_figures *ret);

#endif
