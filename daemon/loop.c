/* SPDX-License-Identifier: MIT */
/*
 * loop.c - see loop.h. Level-triggered: a handler that stops early (to be
 * fair to other sessions) is simply called again on the next turn.
 */
#include "loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

int loop_init(struct loop *l)
{
	l->stop = false;
	l->turn_end = NULL;
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return l->epoll_fd < 0 ? -errno : 0;
}

void loop_fini(struct loop *l)
{
	if (l->epoll_fd >= 0)
		close(l->epoll_fd);
	l->epoll_fd = -1;
}

int loop_add(struct loop *l, struct loop_source *src, int fd, uint32_t events, loop_fn fn)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	src->fd = fd;
	src->events = events;
	src->fn = fn;
	return epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int loop_set(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (src->events == events)
		return 0;
	src->events = events;
	return epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, struct loop_source *src)
{
	if (src->fd >= 0)
		epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, src->fd, NULL);
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	while (!l->stop) {
		int n = epoll_wait(l->epoll_fd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A handler may free another source (a session it closes): each
		 * handler only ever frees its own, and sources freed in this
		 * batch are never among later entries because session close is
		 * deferred to the end of the turn (server_reap). */
		for (int i = 0; i < n; i++) {
			struct loop_source *src = evs[i].data.ptr;
			src->fn(src, evs[i].events);
		}
		if (l->turn_end)
			l->turn_end(l);
	}
	return 0;
}
