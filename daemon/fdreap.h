/* SPDX-License-Identifier: MIT */
/*
 * fdreap.h - closes file descriptors that came from clients, off the loop
 * thread.
 *
 * Clients never send fds, and the listening socket refuses them
 * (SO_PASSRIGHTS off), but a kernel without SO_PASSRIGHTS delivers them
 * anyway. close() of the last reference to a file a client chose can block:
 * a TCP socket with SO_LINGER and unsent data blocks for the linger time, a
 * FUSE file for as long as its server likes. On the loop thread that would
 * stall every client, so such fds go to one thread whose only work is to
 * close them. Without a started reaper (tests, fuzzers) fds are closed at
 * once.
 */
#ifndef CONTIG_FDREAP_H
#define CONTIG_FDREAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct fdreap {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	bool stop;
	int *fds;               /* waiting to be closed */
	size_t n, cap;
	unsigned long closed;   /* for tests: fds closed so far */
};

int fdreap_start(struct fdreap *r);
/* Consumes fds[0..n): each is closed on the reaper's thread (or here, if
 * none runs or memory is short: never leaked). Sets each entry to -1. */
void fdreap_push(struct fdreap *r, int *fds, size_t n);
/* Waits up to a second for the backlog; a close still blocked then is left
 * to the process's exit. */
void fdreap_stop(struct fdreap *r);

#endif
