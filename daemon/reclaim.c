/* SPDX-License-Identifier: MIT */
/*
 * reclaim.c - see reclaim.h. Workers share one queue under one lock; the
 * lock is never held across the acquire, which is where the time goes.
 */
#define _GNU_SOURCE
#include "reclaim.h"

#include "clock.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

static void *reclaim_main(void *arg)
{
	struct reclaim *rc = arg;

	/* Below the loop: on a machine with as many busy workers as cores, the
	 * loop must still get the CPU to answer requests promptly. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10);

	pthread_mutex_lock(&rc->lock);
	for (;;) {
		while (!rc->todo_len && !rc->stop)
			pthread_cond_wait(&rc->wake, &rc->lock);
		if (rc->stop)
			break;
		uint32_t id = rc->todo[rc->todo_head];
		rc->todo_head = (rc->todo_head + 1) % rc->cap;
		rc->todo_len--;
		int32_t node = rc->node[id];
		struct backing_page keep = rc->keep[id];
		rc->keep[id].fd = -1;
		pthread_mutex_unlock(&rc->lock);

		struct reclaim_done d = { .id = id, .page = { .fd = -1 } };
		uint64_t t0 = now_ns();
		if (keep.fd >= 0) {
			d.error = rc->ops->zero(rc->ops_ctx, &keep, rc->page_size);
			d.page = keep;
			d.kept = true;
		} else {
			if (rc->ops->bind)
				(void)rc->ops->bind(rc->ops_ctx, node);
			if (rc->ops->prepare) {
				/* One worker at a time makes files and maps them
				 * (the kernel's own locks spin otherwise); the
				 * zeroing that follows runs in parallel. */
				pthread_mutex_lock(&rc->prepare_lock);
				d.error = rc->ops->prepare(rc->ops_ctx, rc->page_size, &d.page);
				pthread_mutex_unlock(&rc->prepare_lock);
				if (!d.error)
					d.error = rc->ops->fill(rc->ops_ctx, rc->page_size, &d.page);
			} else {
				d.error = rc->ops->acquire(rc->ops_ctx, rc->page_size, &d.page);
			}
		}
		d.ns = now_ns() - t0;

		pthread_mutex_lock(&rc->lock);
		rc->done[(rc->done_head + rc->done_len) % rc->cap] = d;
		rc->done_len++;
		uint64_t one = 1;
		(void)!write(rc->event_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&rc->lock);
	return NULL;
}

int reclaim_start(struct reclaim *rc, uint32_t cap, uint32_t nthreads,
		  const struct backing_ops *ops, void *ops_ctx, uint64_t page_size)
{
	*rc = (struct reclaim){ .event_fd = -1, .cap = cap, .ops = ops, .ops_ctx = ops_ctx,
				.page_size = page_size };
	pthread_mutex_init(&rc->lock, NULL);
	pthread_mutex_init(&rc->prepare_lock, NULL);
	pthread_cond_init(&rc->wake, NULL);
	rc->todo = calloc(cap, sizeof(*rc->todo));
	rc->node = calloc(cap, sizeof(*rc->node));
	rc->keep = calloc(cap, sizeof(*rc->keep));
	rc->done = calloc(cap, sizeof(*rc->done));
	if (!rc->todo || !rc->node || !rc->keep || !rc->done)
		return -ENOMEM;
	for (uint32_t i = 0; i < cap; i++)
		rc->keep[i].fd = -1;
	rc->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rc->event_fd < 0)
		return -errno;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > RECLAIM_MAX_THREADS)
		nthreads = RECLAIM_MAX_THREADS;
	for (uint32_t i = 0; i < nthreads; i++) {
		int r = pthread_create(&rc->threads[i], NULL, reclaim_main, rc);
		if (r)
			return rc->nthreads ? 0 : -r; /* fewer workers still work */
		rc->nthreads++;
	}
	return 0;
}

void reclaim_stop(struct reclaim *rc)
{
	if (rc->nthreads) {
		pthread_mutex_lock(&rc->lock);
		rc->stop = true;
		pthread_cond_broadcast(&rc->wake);
		pthread_mutex_unlock(&rc->lock);
		for (uint32_t i = 0; i < rc->nthreads; i++)
			pthread_join(rc->threads[i], NULL);
		rc->nthreads = 0;
	}
	/* Results never popped: their pages go straight back to the kernel. */
	for (; rc->done && rc->done_len; rc->done_len--) {
		/* A page zeroed in place is still in the pool's table, which
		 * drops it; only fresh pages are ours to give back here. */
		if (!rc->done[rc->done_head].kept)
			backing_page_drop(&rc->done[rc->done_head].page, rc->page_size);
		rc->done_head = (rc->done_head + 1) % rc->cap;
	}
	if (rc->event_fd >= 0)
		close(rc->event_fd);
	rc->event_fd = -1;
	free(rc->todo);
	free(rc->node);
	free(rc->keep);
	free(rc->done);
	rc->node = NULL;
	rc->keep = NULL;
	rc->todo = NULL;
	rc->done = NULL;
	if (rc->cap) {
		pthread_mutex_destroy(&rc->lock);
		pthread_mutex_destroy(&rc->prepare_lock);
		pthread_cond_destroy(&rc->wake);
	}
	rc->cap = 0;
}

void reclaim_submit(struct reclaim *rc, const struct reclaim_job *jobs, uint32_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&rc->lock);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = jobs[i].id;
		rc->node[id] = jobs[i].node;
		rc->keep[id] = jobs[i].keep;
		rc->todo[(rc->todo_head + rc->todo_len) % rc->cap] = id;
		rc->todo_len++;
		rc->in_flight++;
	}
	pthread_cond_broadcast(&rc->wake);
	pthread_mutex_unlock(&rc->lock);
}

bool reclaim_pop(struct reclaim *rc, struct reclaim_done *ret)
{
	bool got = false;

	pthread_mutex_lock(&rc->lock);
	if (rc->done_len) {
		*ret = rc->done[rc->done_head];
		rc->done_head = (rc->done_head + 1) % rc->cap;
		rc->done_len--;
		rc->in_flight--;
		got = true;
	} else {
		uint64_t v;
		(void)!read(rc->event_fd, &v, sizeof(v));
	}
	pthread_mutex_unlock(&rc->lock);
	return got;
}
