/* SPDX-License-Identifier: MIT */
/*
 * reclaim.h - the reclaim workers (up to RECLAIM_MAX_THREADS): turn revoked
 * page ids back into fresh, kernel-zeroed, located pages off the loop thread
 * (a refault is too slow for the loop, mostly the kernel zeroing the page;
 * BENCHMARKS.md has the figures).
 *
 * The loop submits jobs in batches (reclaim_submit); a worker acquires a new
 * backing page for each, or zeroes the job's own page in place (trusted
 * mode), and queues the result; the loop is woken through an eventfd and
 * pops results (reclaim_pop). Both queues are rings of capacity npages: a
 * page is in at most one of them at a time, so they never overflow.
 */
#ifndef CONTIG_RECLAIM_H
#define CONTIG_RECLAIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backing.h"

struct reclaim_done {
	uint32_t id;
	int error;                   /* 0 or -errno from acquire */
	uint64_t ns;                 /* time the acquire took */
	bool kept;                   /* page zeroed in place: still the pool's own */
	struct backing_page page;
};

#define RECLAIM_MAX_THREADS 8

struct reclaim {
	pthread_t threads[RECLAIM_MAX_THREADS];
	uint32_t nthreads;           /* running */
	bool stop;
	pthread_mutex_t lock;
	pthread_mutex_t prepare_lock;  /* around backing prepare (see backing.h) */
	pthread_cond_t wake;
	int event_fd;                /* readable when results wait */
	uint32_t cap;
	uint32_t *todo;              /* ring of page ids */
	int32_t *node;               /* by page id: the node its page should come from */
	struct backing_page *keep;   /* by page id: the page to zero in place, when fd >= 0 */
	uint32_t todo_head, todo_len;
	struct reclaim_done *done;   /* ring of results */
	uint32_t done_head, done_len;
	uint32_t in_flight;          /* submitted and not yet popped */
	const struct backing_ops *ops;
	void *ops_ctx;
	uint64_t page_size;
};

/* nthreads workers (the kernel's zeroing of refaulted pages is what costs,
 * so one per core makes reclaim that much faster). */
int reclaim_start(struct reclaim *rc, uint32_t cap, uint32_t nthreads,
		  const struct backing_ops *ops, void *ops_ctx, uint64_t page_size);
/* Stops the workers; the pages of results not popped go straight back to
 * the kernel, except pages zeroed in place (the pool's table still holds
 * those, and drops them). */
void reclaim_stop(struct reclaim *rc);
/* Reclaim page id, from node (or any node for -1). */
struct reclaim_job {
	uint32_t id;
	int32_t node;                /* refault on this node, or any for -1 */
	struct backing_page keep;    /* fd >= 0: zero this page in place instead (borrowed
					until its result is popped, and returned as the result) */
};

/* Queue jobs under one lock and wake the workers once. */
void reclaim_submit(struct reclaim *rc, const struct reclaim_job *jobs, uint32_t n);
/* Pop one result; returns false when there is none. Clears the eventfd
 * when the queue runs empty. */
bool reclaim_pop(struct reclaim *rc, struct reclaim_done *ret);

#endif
