/* SPDX-License-Identifier: MIT */
/*
 * carve_check.h - what the carving tests (test_carve.c, test_carve_life.c;
 * one binary, one daemon) share: the pool they run on, checks of a carved
 * region made through this process's own /proc/self/pagemap, patterns that
 * show an overlap, the regions a test holds (freed by its teardown), and a
 * fresh process that counts regions until ENOMEM.
 *
 * The check_* functions are cmocka assertions (main thread only); the rest
 * assert nothing unless said, so threads and fork children use them.
 */
#ifndef CONTIG_TEST_CARVE_CHECK_H
#define CONTIG_TEST_CARVE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

#define KiB        (1024ull)
#define MiB        (1024ull * KiB)
#define PS         (2 * MiB)              /* pool page */
#define POOL       (256 * MiB)            /* contigd --pool */
#define POOL_PAGES ((int)(POOL / PS))

/* The daemon every test talks to (started by the group setup). */
extern struct daemon_proc carve_daemon;

size_t round4k(size_t n);
/* Physical address of va by pagemap (present pages), else UINT64_MAX. */
uint64_t pm_phys(const void *va);
/* The node move_pages(2) says the page at va is on, or a negative number. */
int kernel_node_of(const void *va);

/* Remember p (NULL passes through) for release_all. */
void *track(void *p);
/* Forget every tracked region (the test freed them itself). */
void untrack_all(void);
/* Free the tracked array (group teardown). */
void track_done(void);
/* Per-test teardown: free every tracked region, then wait until the pool
 * is whole again; -1 (the test fails) if it does not get there. */
int release_all(void **state);

/* Every byte of [p, p + n) reads zero (asserts; p may be NULL: fails with errno). */
void check_zero(const uint8_t *p, size_t n);
/* NULL when [p, p + n) is 4 KiB aligned, physically contiguous from
 * contig_phys_addr(p) by pagemap at every 4 KiB, contig_phys_addr right on
 * each 4 KiB's first and last byte; else what is wrong. Asserts nothing. */
const char *phys_problem(const uint8_t *p, size_t n, uint64_t *ret_phys);
/* The above, interior bytes at odd offsets, and contig_region_info says a
 * live carved region (base, nbytes, page_size, phys; mapped_bytes n rounded
 * to 4 KiB). Returns the physical address. */
uint64_t check_carved(const uint8_t *p, size_t n);
/* Every byte by pagemap in [lo, hi]; no multiple of boundary (non-zero) crossed. */
void check_window(const uint8_t *p, size_t n, uint64_t lo, uint64_t hi, uint64_t boundary);

/* A pattern unique to id over all n bytes; first_bad: offset of the first
 * byte that changed, or n; check_intact asserts none did. */
void fill(uint8_t *p, size_t n, uint64_t id);
size_t first_bad(const uint8_t *p, size_t n, uint64_t id);
void check_intact(const uint8_t *p, size_t n, uint64_t id);
/* A live region whose mapping is n rounded to 4 KiB (not a pool page). */
bool is_carved(const void *p, size_t n);

uint64_t rnd(uint64_t *s);                   /* xorshift64 */
int cmp_u64(const void *a, const void *b);   /* for qsort */
/* 1 B..1 MiB, mostly 4-64 KiB; idx: a random permutation of 0..n-1. */
size_t random_size(uint64_t *s);
void shuffle(size_t *idx, size_t n, uint64_t *s);

/* Lowest and highest pool page by the daemon's page table. */
void pool_bounds(uint64_t *ret_lo, uint64_t *ret_hi);
/* Pool pages not FREE in the daemon's page table (a LIST takes nothing). */
int pages_not_free(void);
/* Exit status of a child that must exit (asserts it was not killed). */
int wait_child(pid_t pid);

/* A fresh process (this binary exec'd with --count SIZE CAP) allocates
 * SIZE-byte regions until one fails and reports: */
struct count_result {
	long count, whole, carved, bad; /* regions; whole pool pages; carved; broken promises */
	int err, export_ok, export_notsup; /* errno of the failure; exports of the first 4 */
};
int count_main(size_t size, long cap);
/* Run it with $CONTIG_SOCKET socket and $CONTIG_CARVE carve (unset: NULL). */
void run_count(const char *socket, const char *carve, size_t size, long cap,
	       struct count_result *ret);

/* test_carve_life.c */
void test_random_free(void **state);
void test_exit_and_idle(void **state);
void test_sigkill(void **state);
void test_parked_pages_taken(void **state);
void test_threads_2(void **state);
void test_threads_8(void **state);

#endif
