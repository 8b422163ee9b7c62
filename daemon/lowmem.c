/* SPDX-License-Identifier: MIT */
/*
 * lowmem.c - see lowmem.h.
 *
 * Every free hugepage is faulted into a "chunk" memfd of many pages (one fd
 * per step, not one per page: a dig may hold tens of thousands of pages).
 * The pages of a chunk that lie below the ceiling are punched out of it and
 * at once faulted into per-page files: at that moment they are the only free
 * hugepages in the system (we hold all the others), so the per-page files
 * get exactly those frames, whatever order the kernel's free list keeps.
 */
#define _GNU_SOURCE
#include "lowmem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hugetlb.h"
#include "log.h"
#include "pool.h"

struct chunk {
	int fd;
	uint8_t *map;
	uint64_t pages;
};

static uint64_t mem_available(void)
{
	char line[256];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb << 10;
}

static uint64_t phys_of(struct backing_linux *bl, const void *va)
{
	uint64_t e;

	if (pread(bl->pagemap_fd, &e, sizeof(e), (off_t)((uintptr_t)va / 4096 * 8)) != sizeof(e) ||
	    !(e & (1ull << 63)))
		return UINT64_MAX;
	return (e & ((1ull << 55) - 1)) * 4096;
}

/* Fault up to n free hugepages into one new memfd; page by page, so a
 * shortage (someone else took some) still leaves us what we got, and a stop
 * asked for is seen within a page (-EINTR, the chunk still to drop). */
static int chunk_fill(struct backing_linux *bl, const struct lowmem_request *rq,
		      const char *phase, const struct lowmem_report *rep, uint64_t n,
		      struct chunk *c)
{
	uint64_t ps = rq->page_size;

	c->fd = memfd_create("contig-dig", MFD_CLOEXEC | MFD_HUGETLB |
						  ((unsigned)bl->page_shift << MFD_HUGE_SHIFT));
	c->map = NULL;
	c->pages = 0;
	if (c->fd < 0)
		return -errno;
	if (ftruncate(c->fd, (off_t)(n * ps)) < 0)
		return -errno;
	while (c->pages < n && fallocate(c->fd, 0, (off_t)(c->pages * ps), (off_t)ps) == 0) {
		c->pages++;
		if (!start_watch_tick(rq->watch, phase, rep->got, rq->want))
			return -EINTR;
	}
	if (!c->pages)
		return 0;
	c->map = mmap(NULL, c->pages * ps, PROT_READ, MAP_SHARED | MAP_POPULATE, c->fd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return -errno;
	}
	return 0;
}

static void chunk_drop(struct chunk *c, uint64_t ps)
{
	if (c->map)
		munmap(c->map, c->pages * ps);
	if (c->fd >= 0)
		close(c->fd);
	c->map = NULL;
	c->fd = -1;
}

/* Move the chunk's pages below the ceiling into per-page files. */
static int harvest(struct backing_linux *bl, const struct lowmem_request *rq, struct chunk *c,
		   struct backing_page *pages, struct lowmem_report *rep,
		   struct backing_page *strays, uint32_t *nstrays, uint32_t max_strays)
{
	uint64_t ps = rq->page_size;
	uint32_t low = 0;

	for (uint64_t i = 0; i < c->pages && rep->got + low < rq->want; i++) {
		uint64_t phys = phys_of(bl, c->map + i * ps);
		rep->scanned++;
		if (phys == UINT64_MAX || phys + ps > rq->ceiling)
			continue;
		if (fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(i * ps),
			      (off_t)ps) == 0)
			low++;
	}
	/* The punched frames are now the only free hugepages we did not take. */
	for (uint32_t k = 0; k < low; k++) {
		struct backing_page pg;
		int r = backing_linux_ops.acquire(bl, ps, &pg);
		if (r < 0)
			return r;
		if (pg.phys + ps <= rq->ceiling)
			pages[rep->got++] = pg;
		else if (*nstrays < max_strays)
			strays[(*nstrays)++] = pg; /* someone else's free page: hold it for now */
		else
			backing_page_drop(&pg, ps);
	}
	return 0;
}

int lowmem_dig(struct backing_linux *bl, const struct lowmem_request *rq,
	       struct backing_page *pages, struct lowmem_report *rep)
{
	uint64_t ps = rq->page_size, t0 = now_ns(), released = 0;
	struct hugetlb_counts start, c;
	struct chunk *chunks = NULL;
	struct backing_page strays[64];
	uint32_t nchunks = 0, nstrays = 0;
	char phase[128];
	int r;

	memset(rep, 0, sizeof(*rep));
	r = hugetlb_read(ps, &start);
	if (r < 0)
		return r;
	rep->peak_nr = start.nr;
	for (;;) {
		snprintf(phase, sizeof(phase),
			 "low-pool dig, step %u, nr_hugepages %" PRIu64 ", %" PRIu64 " looked at",
			 rep->steps, rep->peak_nr, rep->scanned);
		if (!start_watch_tick(rq->watch, phase, rep->got, rq->want)) {
			snprintf(rep->why, sizeof(rep->why), "stopped by a signal");
			r = -EINTR;
			break;
		}
		if (rep->got >= rq->want)
			break;
		if (now_ns() - t0 > rq->time_limit_ns) {
			snprintf(rep->why, sizeof(rep->why), "the time limit of %" PRIu64 " s ran out",
				 rq->time_limit_ns / 1000000000u);
			break;
		}
		if ((r = hugetlb_read(ps, &c)) < 0)
			break;
		uint64_t avail = c.free > c.resv ? c.free - c.resv : 0;
		if (!avail) {
			/* Grow the kernel's pool into memory we have not seen. */
			uint64_t ma = mem_available();
			uint64_t room = ma > rq->margin ? (ma - rq->margin) / ps : 0;
			uint64_t step = room < rq->step ? room : rq->step;
			rep->mem_available = ma;
			if (!step) {
				snprintf(rep->why, sizeof(rep->why),
					 "MemAvailable (%" PRIu64 " MiB) reached the margin of %" PRIu64
					 " MiB", ma >> 20, rq->margin >> 20);
				break;
			}
			int64_t nr = hugetlb_set_nr(ps, c.nr + step);
			if (nr > 0 && (uint64_t)nr > rep->peak_nr)
				rep->peak_nr = (uint64_t)nr;
			if ((r = hugetlb_read(ps, &c)) < 0)
				break;
			avail = c.free > c.resv ? c.free - c.resv : 0;
			if (!avail) {
				snprintf(rep->why, sizeof(rep->why),
					 "the kernel gave no more hugepages at nr_hugepages %" PRIu64,
					 c.nr);
				break;
			}
			rep->steps++;
		}
		struct chunk *nc = realloc(chunks, (nchunks + 1) * sizeof(*chunks));
		if (!nc) {
			r = -ENOMEM;
			break;
		}
		chunks = nc;
		r = chunk_fill(bl, rq, phase, rep, avail, &chunks[nchunks]);
		nchunks++;
		if (r < 0)
			break;
		r = harvest(bl, rq, &chunks[nchunks - 1], pages, rep, strays, &nstrays, 64);
		if (r < 0)
			break;
	}

	/* Give back everything that is not below the ceiling, then shrink the
	 * kernel's pool by what we added for the dig. */
	for (uint32_t i = 0; i < nchunks; i++) {
		released += chunks[i].pages;
		chunk_drop(&chunks[i], ps);
	}
	for (uint32_t i = 0; i < nstrays; i++)
		backing_page_drop(&strays[i], ps);
	free(chunks);
	if (hugetlb_read(ps, &c) == 0 && c.nr > start.nr)
		hugetlb_set_nr(ps, c.nr > released + start.nr ? c.nr - released : start.nr);
	rep->ns = now_ns() - t0;
	if (r < 0) {
		for (uint32_t i = 0; i < rep->got; i++)
			backing_page_drop(&pages[i], ps);
		rep->got = 0;
		return r;
	}
	return 0;
}
