/* SPDX-License-Identifier: MIT */
/*
 * repair.h - make the pool's runs longer while it serves: fault spare free
 * hugepages of the kernel (candidates) in the background, then swap FREE
 * pool pages for candidates wherever that gives longer physically contiguous
 * free runs (a page held by a region ends a run), and give the rest back.
 *
 * Why it is safe: only FREE pages are swapped out, and a FREE page has never
 * been visible to any client since it was last zeroed; a candidate is a
 * fresh, kernel-zeroed page. Live regions never move (their physical
 * addresses are promised to their holders).
 *
 * Why it is worth it: which frames the kernel hands out is beyond our
 * control, and faulting more than we need and keeping the longest runs is
 * the only lever we have (DPDK's legacy mode does the same at start-up, in
 * the caller's time). Done here after the daemon is ready, the start-up
 * costs only the pool's own pages.
 *
 * Layering: repair sits above the pool. It reads the pool's pages through
 * pool.h and swaps through pool_page_swap; the pool knows nothing of it.
 * It owns its policy too: a round once the daemon serves, and another when
 * the daemon has been idle for idle_s seconds and churn has left more runs
 * than the last round did, or a shorter largest free run (repair_idle_due).
 */
#ifndef CONTIG_REPAIR_H
#define CONTIG_REPAIR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backing.h"

struct pool;

struct repair {
	/* Policy. */
	uint32_t want;               /* spare hugepages a round looks at; 0: no repair */
	uint32_t idle_s;             /* another round after this long idle; 0: never */
	uint64_t moved_at;           /* the pool's phys_changed when the last round started */
	uint32_t runs_after;         /* runs the last round left */
	uint32_t largest_free_after; /* pages in the longest free run it left */
	uint64_t looked;             /* candidates faulted, all rounds (a counter) */
	/* The round under way. */
	pthread_t thread;
	bool running;                /* thread started and not joined */
	bool stop;                   /* ask the thread to stop early (shutdown) */
	int event_fd;                /* readable when the harvest is done; -1 when none */
	uint32_t ncand;              /* faulted; written by the thread before it signals */
	int error;                   /* why the harvest ended early, 0 if it did not */
	struct backing_page *cand;
	const struct backing_ops *ops;
	void *ops_ctx;
	uint64_t page_size;
	uint64_t started_ns;
	uint64_t harvest_ns;
};

/* What a repair round did (for the log and the counters). */
struct repair_result {
	uint32_t looked;             /* candidates faulted */
	uint32_t swapped;            /* pool pages exchanged for candidates */
	/* Runs of the pool's free frames (all of its frames when none is
	 * held, as at start), and the longest, in pages. */
	uint32_t runs_before, runs_after;
	uint32_t largest_before, largest_after;
	uint64_t score_before, score_after;     /* repair_score of the pool's frames */
	uint64_t harvest_ns;
};

/* No round yet; want 0 turns repair off. */
void repair_init(struct repair *rp, uint32_t want, uint32_t idle_s);
/*
 * Start faulting rp->want candidates (through the pool's backing) in a
 * background thread at low priority. The event loop polls repair_fd() and
 * then calls repair_apply(). Returns 0, -EBUSY if a round is under way, or
 * -errno.
 */
int repair_start(struct repair *rp, const struct pool *p);
/* The fd to poll, or -1 when no round was started. */
int repair_fd(const struct repair *rp);
/*
 * Wait for the harvest (it is done when the fd is readable), swap where it
 * makes runs longer, drop every other candidate. Returns 0 (and *ret), or
 * -ENOENT when no round was under way.
 */
int repair_apply(struct repair *rp, struct pool *p, struct repair_result *ret);
/* Stop a round under way and drop its candidates (shutdown). */
void repair_stop(struct repair *rp);
/* Is another round due (once a second): idle long enough, pages moved
 * since the last round, reclaim and quarantine settled, and more runs than
 * the last round left, or a shorter largest free run? */
bool repair_idle_due(struct repair *rp, const struct pool *p, uint64_t now,
		     uint64_t last_request_ns);

/*
 * The choice, pure (unit-tested on synthetic layouts): frames sorted or not,
 * each FIXED (owned and not free: it stays), FREE (a free pool page: may go)
 * or CANDIDATE (may come in). Keep exactly quota movable frames (FREE or
 * CANDIDATE), taking whole runs of the combined set longest first (fixed
 * frames count in a run's length, not in the quota); keep[i] says which.
 * Sorts f by phys. Returns how many were kept.
 */
enum repair_kind { REPAIR_FIXED, REPAIR_FREE, REPAIR_CANDIDATE };
struct repair_frame {
	uint64_t phys;
	int32_t node;
	uint32_t ref;                /* page id (FREE, FIXED) or candidate index */
	uint8_t kind;                /* enum repair_kind */
	uint8_t keep;                /* out: movable frame kept */
};
uint32_t repair_choose(struct repair_frame *f, uint32_t n, uint64_t page_size, uint32_t quota);
/* Runs of the frames with keep set or FIXED, and the longest, in pages;
 * f sorted by phys. Returns the sum of squared run lengths (a score: longer
 * runs count more than the same pages in shorter ones). */
uint64_t repair_score(const struct repair_frame *f, uint32_t n, uint64_t page_size,
		      uint32_t *ret_runs, uint32_t *ret_largest);

#endif
