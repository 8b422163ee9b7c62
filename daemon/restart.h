/* SPDX-License-Identifier: MIT */
/*
 * restart.h - a restart that clients do not notice: at the end of every
 * loop turn the pool's page files, the listening socket, every session's
 * socket and stash table and the state memfd are in systemd's fd store
 * (fdstore.h, state.h), and a contigd started with them resumes from them
 * instead of reserving a pool.
 *
 * The order of a turn's end is what makes a SIGKILL at any instant safe:
 *   1. new files into the store (pages, sessions, stash tables);
 *   2. the state, if anything changed (one store of its active word);
 *   3. the replies (conn.h: the outbox), each request leaving its socket
 *      only once its whole reply has;
 *   4. removals from the store of what the state no longer names.
 * So a reply a client saw refers to a state the store holds, every file the
 * state names is in the store (unless the manager was behind: then the page
 * is dropped at restore, safely), and a request the dead contigd had not
 * answered is still in its socket: the next contigd serves it, or, if the
 * state says it was served, sends the recorded reply (server.h). A session
 * the manager has not taken yet (behind: EAGAIN) gets no memory and no
 * stash table until it has (session_wait_for_store): the next contigd
 * would not know it, and would release what it was given. Likewise the
 * reply that hands out a stash table leaves once the store holds the table
 * (conn_hold_out): the next contigd would not see what the client stashes.
 *
 * The resume trusts nothing it cannot check: the state's checksum and
 * structure (else a cold start: every stored file is closed and removed,
 * only the listening socket is kept, and a new pool is reserved beside
 * whatever clients still map), each page file against its recorded inode
 * and frame through a fresh pagemap read (else that page is never handed
 * out), each session's peer against its recorded credentials.
 *
 * Without NOTIFY_SOCKET none of this happens: today's behaviour.
 */
#ifndef CONTIG_RESTART_H
#define CONTIG_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#include "backing.h"
#include "fdstore.h"
#include "server.h"
#include "settings.h"
#include "state.h"

struct restart {
	struct fdstore store;
	struct state state;
	struct fdstore_passed *passed;
	uint32_t npassed;
	int listen_fd;               /* passed to us (taken by main), or -1 */
	int state_fd;                /* the state a restore will read, or -1 */
	uint32_t state_gen;
	uint64_t written_pool, written_srv; /* versions the state holds */
	bool written;                /* a generation is in the state */
	bool listen_held;            /* the store (or a socket unit) holds the listening socket */
	bool listen_stored;          /* ... under our name, listen */
	bool state_held;             /* ... and the state memfd */
	bool restored;               /* this contigd resumed */
	/* Figures, for the log and the tests. */
	uint64_t writes, write_ns, write_bytes;
};

/* Take what systemd passed (sd_listen_fds_with_names) and find the state
 * among it. Returns true when there is a state to resume from. */
bool restart_load(struct restart *rs);

/* Resume: the pool, regions, leases and sessions from the state and the
 * passed files (srv's loop must exist). 0, or -errno: nothing was kept (the
 * caller starts cold, restart_cold). */
int restart_resume(struct restart *rs, struct server *srv, const struct settings *arg,
		   struct backing_linux *bl, bool no_pin);
/* A cold start: every passed file is closed and taken out of the store,
 * except the listening socket. */
void restart_cold(struct restart *rs);

/* The store, once serving (npages: the pool's). 0 or -errno. */
int restart_open_store(struct restart *rs, struct server *srv);
/* Steps 1 and 2 of the turn's end (before the replies), and 4 (after). */
void restart_persist(struct restart *rs, struct server *srv);
void restart_after_replies(struct restart *rs);
/* At a stop: everything stored, waiting (boundedly) for the manager.
 * Returns true when the store holds the whole daemon: then nothing may be
 * given back (the next contigd resumes it). */
bool restart_stop(struct restart *rs, struct server *srv);
void restart_fini(struct restart *rs);

#endif
