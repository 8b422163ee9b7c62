/* SPDX-License-Identifier: MIT */
/*
 * fake_backing.h - a pretend kernel for the pool: struct backing_ops over
 * plain (not hugetlb) memfds with made-up physical addresses, so the whole
 * daemon core runs in a fuzzer or a unit test without hugepages or root.
 *
 * Frames. Every live fake page sits on one synthetic frame (a page-aligned
 * "physical address"); a revoked page's frame goes on a LIFO free list and
 * is what the next acquire gets back, as the kernel's hugepage free list
 * does, so the pool's "page came back at another page's old address" path
 * (place_page) runs. fake_migrate moves a live page to a fresh frame behind
 * the pool's back, as hugepage migration would, for the audit to find.
 *
 * Determinism. acquire called from any thread but the one that created the
 * fake (the reclaim thread) waits until the gate is open, so reclaim makes
 * progress only where the driver says (fake_gate), and a fuzz input replays
 * the same way every time.
 *
 * Checks made here (a violation aborts): a page is never revoked while it
 * is pinned (the pool must unpin first), never revoked twice, and the fds
 * handed to revoke are ones acquire made.
 */
#ifndef CONTIG_FAKE_BACKING_H
#define CONTIG_FAKE_BACKING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backing.h"

#define FAKE_MAX_FD    4096
#define FAKE_MAX_SLOTS 1024

struct fake_backing {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t owner;             /* acquires from other threads wait for the gate */
	bool gate_open;
	uint64_t page_size;
	uint64_t next_frame;         /* lowest never-used frame */
	uint32_t gap_every;          /* leave a hole after every n-th new frame (0: never) */
	uint32_t made;               /* frames made so far */
	unsigned node_shift;         /* node = (frame >> node_shift) & 1; 0: all on node 0 */
	uint64_t free_frames[FAKE_MAX_FD];
	uint32_t nfree;
	uint32_t fail_next;          /* this many acquires fail with -ENOMEM */
	uint64_t frame_of_fd[FAKE_MAX_FD]; /* 0: fd is not a live fake page */
	uint64_t ino_of_fd[FAKE_MAX_FD];   /* its memfd's inode: a reused fd number is told apart */
	int pinned_fd[FAKE_MAX_SLOTS];     /* slot -> fd pinned there, or -1 */
	uint32_t live;               /* fake pages alive (acquired, not revoked) */
	uint64_t acquires, revokes, pins, zeroes, binds;
};

/* Frames start at base (page aligned, not 0); gap_every and node_shift as above. */
void fake_init(struct fake_backing *fb, uint64_t page_size, uint64_t base, uint32_t gap_every,
	       unsigned node_shift);
void fake_fini(struct fake_backing *fb);
/* Let the reclaim thread's acquires through (open) or hold them (closed). */
void fake_gate(struct fake_backing *fb, bool open);
void fake_fail_next(struct fake_backing *fb, uint32_t n);
/* From now on leave a hole after every n-th new frame (0: never), e.g. to
 * offer a repair round candidates longer runs than the pool has. */
void fake_set_gaps(struct fake_backing *fb, uint32_t gap_every);
/* Move the live page behind fd to a new frame; its old frame becomes free.
 * Returns false if fd is no live fake page. */
bool fake_migrate(struct fake_backing *fb, int fd);
/* The frame the fake page behind fd really is on (0: not a fake page). */
uint64_t fake_frame(struct fake_backing *fb, int fd);

extern const struct backing_ops fake_backing_ops;

#endif
