/* SPDX-License-Identifier: MIT */
/*
 * fdreap.c - see fdreap.h. One thread and a growing array under a lock: the
 * loop thread only appends, the reaper swaps the whole batch out and closes
 * it with the lock dropped, so a close that blocks for a minute delays
 * nothing but later closes.
 */
#define _GNU_SOURCE
#include "fdreap.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static void *reaper(void *arg)
{
	struct fdreap *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->n && !r->stop)
			pthread_cond_wait(&r->wake, &r->lock);
		if (!r->n && r->stop)
			break;
		int *batch = r->fds;
		size_t n = r->n;
		r->fds = NULL;
		r->n = r->cap = 0;
		pthread_mutex_unlock(&r->lock);
		for (size_t i = 0; i < n; i++)
			close(batch[i]);
		free(batch);
		pthread_mutex_lock(&r->lock);
		r->closed += n;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int fdreap_start(struct fdreap *r)
{
	sigset_t all, old;
	int e;

	*r = (struct fdreap){ 0 };
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	/* The loop reads signals from a signalfd: this thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&r->thread, NULL, reaper, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return -e;
	r->running = true;
	return 0;
}

void fdreap_push(struct fdreap *r, int *fds, size_t n)
{
	size_t i = 0;

	if (r && r->running) {
		pthread_mutex_lock(&r->lock);
		if (r->n + n > r->cap) {
			size_t cap = (r->n + n) * 2;
			int *grown = realloc(r->fds, cap * sizeof(*grown));
			if (grown) {
				r->fds = grown;
				r->cap = cap;
			}
		}
		for (; i < n && r->n < r->cap; i++) {
			r->fds[r->n++] = fds[i];
			fds[i] = -1;
		}
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
	}
	/* No reaper, or no memory for the backlog: closing here may block,
	 * but leaking would be worse (and this is the rare path). */
	for (; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

void fdreap_stop(struct fdreap *r)
{
	struct timespec until;

	if (!r->running)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	if (pthread_timedjoin_np(r->thread, NULL, &until) != 0) {
		log_warn("a client's fd is still being closed; leaving it to exit");
		return;
	}
	r->running = false;
	free(r->fds);
	r->fds = NULL;
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
}
