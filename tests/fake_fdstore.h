/* SPDX-License-Identifier: MIT */
/*
 * fake_fdstore.h - systemd's file descriptor store, played by a test or a
 * benchmark exactly as sd_notify(3) documents it: a NOTIFY_SOCKET
 * (SOCK_DGRAM) that takes FDSTORE=1 with FDNAME= and the fds of the
 * datagram (one entry per open file: a file it holds already is not taken
 * twice, systemd's same_fd()), FDSTOREREMOVE=1 (every fd of that name goes)
 * and BARRIER=1 (its fd is closed: that is the answer), and counts READY=1
 * and STOPPING=1. A thread serves it; store->lock guards the entries.
 *
 * store_spawn starts a program as systemd starts a unit again: with every
 * stored fd passed as sd_listen_fds(3) says, after every datagram queued
 * so far is taken in (systemd dispatches its notify socket before SIGCHLD,
 * so what a killed unit sent is stored before it is started again). Several stores may run at once
 * (one per daemon), each in a directory of its own.
 */
#ifndef CONTIG_FAKE_FDSTORE_H
#define CONTIG_FAKE_FDSTORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_MAX 4096

struct entry {
	int fd;
	char name[256];
};

struct store {
	int sock;
	char path[128];
	pthread_t thread;
	pthread_mutex_t lock;
	atomic_bool stop;
	atomic_bool busy;        /* the thread holds a datagram it has not taken in yet */
	atomic_bool paused;      /* a manager that is behind: nothing is read */
	atomic_bool still;       /* the thread saw paused and reads nothing */
	struct entry ent[STORE_MAX];
	int n;
	atomic_int ready;        /* READY=1 datagrams */
	atomic_int stopping;     /* STOPPING=1 datagrams */
	uint64_t msgs, fds_in, dups, removes;
};

/* A store that is not open (store_close and a test's teardown accept it). */
#define STORE_INIT { .sock = -1, .lock = PTHREAD_MUTEX_INITIALIZER }

/* Bind DIR/notify and serve it: 0, or -errno. */
int store_open(struct store *s, const char *dir);
/* What systemd does when the unit is stopped for good: every fd closed.
 * Nothing if the store is not open. */
void store_close(struct store *s);
/* A manager that is behind (paused: its socket is not read, so senders
 * get EAGAIN once the queue is full), or catching up again. store_spawn
 * must not be called while paused. */
void store_pause(struct store *s, bool paused);
/* Entries whose name starts with prefix. */
int store_count(struct store *s, const char *prefix);

/*
 * Start argv[0] (argv NULL-terminated) as systemd starts the unit again:
 * every fd the store holds at 3.. in store order with LISTEN_FDS,
 * LISTEN_FDNAMES and LISTEN_PID (the child's own pid) set when it holds
 * any, NOTIFY_SOCKET at the store and FDSTORE=STORE_MAX, the rest of the
 * caller's environment without its LISTEN_*, NOTIFY_SOCKET and FDSTORE;
 * stdout and stderr appended to log; SIGKILLed if the calling thread
 * ends before it (PR_SET_PDEATHSIG). A raw clone(), so no atfork handler
 * runs: another thread of the caller may be inside a libcontig call waiting
 * for the reply this very child will send. The fds are the store's (dup'd
 * into the child only). The child's pid, or -errno.
 */
pid_t store_spawn(struct store *s, const char *const argv[], const char *log);
/* Wait up to timeout_ms for s->ready to pass ready_before (its value before
 * the spawn): 0; -ECHILD if pid exited first (its wait status in
 * *ret_status, which may be NULL; the child is reaped), -ETIMEDOUT. Polls
 * every 50 µs, so the time it returns at is exact to that. */
int store_wait_ready(struct store *s, int ready_before, pid_t pid, unsigned timeout_ms,
		     int *ret_status);

#endif
