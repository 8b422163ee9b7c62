/* SPDX-License-Identifier: MIT */
/*
 * unitmap.h - which 4 KiB units of one pool page are free, and where a run
 * of them fits under a request's constraints. Pure: no memory of the page
 * itself, no lock, no system call; unit-tested on synthetic layouts
 * (tests/test_unitmap.c).
 *
 * One bit per unit, and two summaries of one bit per 64-unit word (some
 * unit free; every unit free), so that finding a run in a 1 GiB page
 * (262,144 units) skips full and empty stretches a word of summary at a
 * time instead of a word of units at a time.
 */
#ifndef LIBCONTIG_UNITMAP_H
#define LIBCONTIG_UNITMAP_H

#include <stdbool.h>
#include <stdint.h>

#define UNITMAP_NONE UINT32_MAX

struct unitmap {
	uint32_t nunits;
	uint32_t nwords;
	uint32_t nfree;
	uint32_t first_free;   /* every unit below it is taken */
	uint64_t *free;        /* bit per unit: 1 free */
	uint64_t *some;        /* bit per word: some unit of it free */
	uint64_t *all;         /* bit per word: every unit of it free */
};

/* nunits free units (at least 1). 0 or -ENOMEM. */
int unitmap_init(struct unitmap *m, uint32_t nunits);
void unitmap_fini(struct unitmap *m);
/* Every unit free again (the arrays are kept). */
void unitmap_reset(struct unitmap *m);

/*
 * The lowest start s with lo <= s <= last_start and s + n <= nunits where
 * units [s, s + n) are all free and, when window is not 0, lie in one
 * window-aligned stretch of window units (s / window == (s + n - 1) /
 * window). UNITMAP_NONE if there is none.
 */
uint32_t unitmap_find(const struct unitmap *m, uint32_t n, uint32_t lo, uint32_t last_start,
		      uint32_t window);
/* Mark [at, at + n) taken / free; the caller knows they were free / taken. */
void unitmap_take(struct unitmap *m, uint32_t at, uint32_t n);
void unitmap_give(struct unitmap *m, uint32_t at, uint32_t n);
bool unitmap_is_free(const struct unitmap *m, uint32_t u);

#endif
