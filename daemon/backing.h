/* SPDX-License-Identifier: MIT */
/*
 * backing.h - everything the pool asks of the operating system about one
 * pool page, behind one ops struct, so the pool and the session handlers run
 * on fake pages in unit tests and fuzzing (jemalloc hpa_hooks, mimalloc prim).
 *
 * A backing page is one hugetlb memfd holding exactly one page, mapped once
 * in the daemon. One file per page is what makes revocation possible:
 * punching the page out of its file unmaps it from every process that maps
 * that file, and the replacement page goes into a new file that no former
 * holder has ever seen.
 */
#ifndef CONTIG_BACKING_H
#define CONTIG_BACKING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct backing_page {
	int fd;          /* owned; -1 when empty */
	void *map;       /* the daemon's own mapping of the page; NULL when empty */
	uint64_t phys;
	int32_t node;
	uint64_t ino;    /* the file's inode number (names it in systemd's fd store); 0: unknown */
};

struct backing_ops {
	/* Create, fault in and locate a fresh zeroed page. Thread-safe: the
	 * reclaim workers call it. Returns 0, -ENOMEM/-ENOSPC when the kernel
	 * has no free hugepage, or -errno. *ret untouched on failure. */
	int (*acquire)(void *ctx, uint64_t page_size, struct backing_page *ret);
	/* Optional, both or neither: acquire in two halves, for the start-up
	 * fault-in. prepare (cheap, one thread) makes the file and a mapping
	 * with the page reserved; fill (costly: the kernel zeroes the page;
	 * any thread, in parallel) allocates, maps and locates it, and on
	 * failure empties pg. Two threads creating and mapping files at once
	 * contend in the kernel and take longer than one alone (BENCHMARKS.md),
	 * so only the zeroing is done in parallel. */
	int (*prepare)(void *ctx, uint64_t page_size, struct backing_page *ret);
	int (*fill)(void *ctx, uint64_t page_size, struct backing_page *pg);
	/* Take the page away from every process that maps it (punch it out of
	 * its file) and drop the daemon's fd and mapping; pg is emptied. Never
	 * fails in a way that leaves the page reachable: on error it still
	 * closes what it can and returns -errno for the log. */
	int (*revoke)(void *ctx, uint64_t page_size, struct backing_page *pg);
	/* Re-read the physical address and node of a live page (audit). */
	int (*locate)(void *ctx, const struct backing_page *pg, uint64_t *ret_phys, int32_t *ret_node);
	/* Optional (NULL: no pinning). Pin the page long-term so that the
	 * kernel cannot migrate it (its physical address is promised to
	 * clients); slot is the page id. unpin undoes it before a revoke. */
	int (*pin)(void *ctx, uint32_t slot, const struct backing_page *pg, uint64_t page_size);
	void (*unpin)(void *ctx, uint32_t slot);
	/* Optional. Make the calling thread's next acquire take its page from
	 * NUMA node (or from anywhere for -1). Returns 0 or -errno. */
	int (*bind)(void *ctx, int32_t node);
	/* Optional. Zero the page in place through the daemon's mapping
	 * (trusted mode: no revocation). Thread-safe. */
	int (*zero)(void *ctx, struct backing_page *pg, uint64_t page_size);
	/* Optional. Take over a page file a previous contigd made (a restart
	 * from systemd's fd store): it must be a hugetlb file of exactly one
	 * page of page_size, sealed as prepare seals it and holding its page;
	 * it is mapped without touching its bytes, located, and must be the
	 * inode ino. Consumes fd (closed on failure). Returns 0, -ESTALE (not
	 * that file, or no page in it) or -errno. */
	int (*adopt)(void *ctx, uint64_t page_size, int fd, uint64_t ino, struct backing_page *ret);
};

/* Zero n bytes (a multiple of 64, 16-byte aligned) with non-temporal stores:
 * the zeroes go to memory without reading every line in first and without
 * evicting the cache (BENCHMARKS.md compares it with the kernel's zeroing). */
void zero_nt(void *p, uint64_t n);

/* The real thing: hugetlb memfds, /proc/self/pagemap, get_mempolicy.
 * backing_linux_open opens pagemap once (needs CAP_SYS_ADMIN for PFNs). */
struct backing_linux {
	int pagemap_fd;
	unsigned page_shift;
	bool pinning;          /* the io_uring buffer table is there */
	struct io_uring ring;  /* only its registered-buffer table is used */
};
/*
 * Open pagemap and, with slots > 0, an io_uring whose sparse table of slots
 * registered buffers long-term pins pool pages (FOLL_LONGTERM: a pinned
 * page cannot be migrated; io_uring accepts hugetlb file pages for this).
 * Pinning is best effort: without it, audits still detect moves.
 */
int backing_linux_open(struct backing_linux *b, uint64_t page_size, uint32_t slots);
void backing_linux_close(struct backing_linux *b);
extern const struct backing_ops backing_linux_ops;

/* Release a page without revoking it (shutdown path: the pages go back to
 * the kernel when the last mapping goes). Accepts an empty page. */
void backing_page_drop(struct backing_page *pg, uint64_t page_size);

#endif
