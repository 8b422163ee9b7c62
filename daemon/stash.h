/* SPDX-License-Identifier: MIT */
/*
 * stash.h - the daemon's side of a session's stash table (see proto.h): a
 * sealed memfd the client maps, where it leaves one-page regions it freed
 * but keeps, to hand out again without asking. The daemon takes them back
 * whenever it needs the memory or is asked to describe the pool.
 *
 * The table is shared with a client that may write anything into it at any
 * time: every id read out of it is only a candidate, which the caller
 * validates (a region of this session, or nothing happens).
 */
#ifndef CONTIG_STASH_H
#define CONTIG_STASH_H

#include <stdint.h>

#include "proto.h"

struct stash {
	uint64_t *slots;             /* PROTO_STASH_SLOTS, mapped shared; NULL: none yet */
	uint64_t seen[PROTO_STASH_SLOTS]; /* what each slot held at the last idle scan */
	uint64_t marked;             /* bit per slot we took and left marked (proto.h) */
};

/* Create the session's table: its memfd (for the client, the caller's to
 * close), or -EEXIST if it has one (one per session: the fd is not kept,
 * so a session costs the daemon no fd for it), or -errno. */
int stash_open(struct stash *st);
void stash_close(struct stash *st);
/* Map the table a previous contigd made (a restart): fd borrowed, checked
 * to be a sealed table of PROTO_STASH_BYTES. 0 or -errno. */
int stash_adopt(struct stash *st, int fd);
/* Take every entry (the daemon's half of the handshake: exchange id ->
 * id | PROTO_STASH_TAKEN) and return the ids taken, at most
 * PROTO_STASH_SLOTS, into ids. The slots stay marked until stash_unmark. */
uint32_t stash_drain(struct stash *st, uint64_t *ids);

/* The idle scan, once a second: take (compare-and-swap id -> marked id)
 * the slots that hold the same id as at the last scan, an entry the client
 * has not touched for about a second. Ids taken go to ids; returns how many. */
uint32_t stash_drain_idle(struct stash *st, uint64_t *ids);

/* The frees of the taken entries are recorded (the restart state is
 * written): their slots go back to 0. */
void stash_unmark(struct stash *st);

/* A table adopted from a killed contigd: the ids of the slots it marked
 * but did not unmark (its takes, maybe not in its state), into ids; the
 * slots count as ours to unmark. Returns how many. */
uint32_t stash_marked(struct stash *st, uint64_t *ids);

/* The client's carve report (proto.h: PROTO_CARVE_REPORT_OFF): the sum of
 * its lines, saturating, at most cap (what the session leased for
 * carving: the client may write anything there). 0 without a table. */
uint64_t stash_carve_report(const struct stash *st, uint64_t cap);

#endif
