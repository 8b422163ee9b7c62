/* SPDX-License-Identifier: MIT */
/*
 * loop.h - one epoll, one thread, a callback per fd (redis ae_epoll shape).
 * Sources are owned by their users; the loop only borrows them.
 */
#ifndef CONTIG_LOOP_H
#define CONTIG_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop_source;
typedef void (*loop_fn)(struct loop_source *src, uint32_t events);

struct loop_source {
	int fd;            /* borrowed */
	uint32_t events;   /* current interest */
	loop_fn fn;
};

struct loop {
	int epoll_fd;
	bool stop;
	void (*turn_end)(struct loop *l); /* after each batch of events */
	void *ctx;
};

int loop_init(struct loop *l);
void loop_fini(struct loop *l);
int loop_add(struct loop *l, struct loop_source *src, int fd, uint32_t events, loop_fn fn);
/* Change interest; a no-op when it is already that. */
int loop_set(struct loop *l, struct loop_source *src, uint32_t events);
void loop_del(struct loop *l, struct loop_source *src);
/* Run until loop->stop; returns 0 or -errno. */
int loop_run(struct loop *l);

#endif
