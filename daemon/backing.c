/* SPDX-License-Identifier: MIT */
/*
 * backing.c - the Linux backing: one MFD_HUGETLB memfd per pool page.
 *
 * fallocate() allocates the hugepage up front, so a shortage is an error
 * here and now instead of a SIGBUS on first touch (DPDK eal_memalloc does
 * the same). The kernel zeroes a hugetlb page when it allocates it, which is
 * the zeroing every client relies on. Punching the hole
 * (FALLOC_FL_PUNCH_HOLE) unmaps the page from every mapping of the file and
 * frees it; a former holder that touches its stale mapping faults a new,
 * zeroed page into the old file, never anyone else's data.
 */
#define _GNU_SOURCE
#include "backing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <numaif.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "log.h"
#include "proto.h"

#define PM_PRESENT  (1ull << 63)
#define PM_PFN_MASK ((1ull << 55) - 1)

int backing_linux_open(struct backing_linux *b, uint64_t page_size, uint32_t slots)
{
	int r;

	b->page_shift = (unsigned)__builtin_ctzll(page_size);
	b->pinning = false;
	b->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (b->pagemap_fd < 0)
		return -errno;
	if (!slots)
		return 0;
	r = io_uring_queue_init(1, &b->ring, 0);
	if (r < 0) {
		log_warn("io_uring unavailable (%s): pool pages are not pinned against migration",
			 strerror(-r));
		return 0;
	}
	r = io_uring_register_buffers_sparse(&b->ring, slots);
	if (r < 0) {
		log_warn("io_uring buffer table of %u slots: %s: pool pages are not pinned", slots,
			 strerror(-r));
		io_uring_queue_exit(&b->ring);
		return 0;
	}
	b->pinning = true;
	return 0;
}

void backing_linux_close(struct backing_linux *b)
{
	if (b->pinning)
		io_uring_queue_exit(&b->ring);
	b->pinning = false;
	if (b->pagemap_fd >= 0)
		close(b->pagemap_fd);
	b->pagemap_fd = -1;
}

static int linux_pin(void *ctx, uint32_t slot, const struct backing_page *pg, uint64_t page_size)
{
	struct backing_linux *b = ctx;
	struct iovec iov = { .iov_base = pg->map, .iov_len = page_size };
	__u64 tag = 0;
	int r;

	if (!b->pinning)
		return -EOPNOTSUPP;
	r = io_uring_register_buffers_update_tag(&b->ring, slot, &iov, &tag, 1);
	return r < 0 ? r : 0;
}

static void linux_unpin(void *ctx, uint32_t slot)
{
	struct backing_linux *b = ctx;
	struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
	__u64 tag = 0;

	if (b->pinning)
		(void)io_uring_register_buffers_update_tag(&b->ring, slot, &iov, &tag, 1);
}

void backing_page_drop(struct backing_page *pg, uint64_t page_size)
{
	if (pg->map)
		munmap(pg->map, page_size);
	if (pg->fd >= 0)
		close(pg->fd);
	pg->map = NULL;
	pg->fd = -1;
	pg->ino = 0;
}

/* The frame behind a mapped page, from /proc/self/pagemap. */
static int frame_of(const struct backing_linux *b, const void *map, uint64_t *ret_phys)
{
	uint64_t entry;

	if (pread(b->pagemap_fd, &entry, sizeof(entry), (off_t)((uintptr_t)map / 4096 * 8)) !=
	    sizeof(entry))
		return -EIO;
	/* Without CAP_SYS_ADMIN the kernel reports PFN 0 for present pages. */
	if (!(entry & PM_PRESENT) || !(entry & PM_PFN_MASK))
		return -EPERM;
	*ret_phys = (entry & PM_PFN_MASK) * 4096;
	return 0;
}

static int linux_locate(void *ctx, const struct backing_page *pg, uint64_t *ret_phys,
			int32_t *ret_node)
{
	struct backing_linux *b = ctx;
	int node = 0;
	int r = frame_of(b, pg->map, ret_phys);

	if (r < 0)
		return r;
	if (get_mempolicy(&node, NULL, 0, pg->map, MPOL_F_NODE | MPOL_F_ADDR) < 0)
		node = 0;
	*ret_node = node;
	return 0;
}

static int linux_prepare(void *ctx, uint64_t page_size, struct backing_page *ret)
{
	struct backing_linux *b = ctx;
	struct backing_page pg = { .fd = -1, .map = NULL };
	struct stat st;
	int r;

	pg.fd = memfd_create("contig-page", MFD_CLOEXEC | MFD_HUGETLB | MFD_ALLOW_SEALING |
					    ((unsigned)b->page_shift << MFD_HUGE_SHIFT));
	if (pg.fd < 0)
		return -errno;
	/* Sealed at its size: a client that holds the fd (it maps it) cannot
	 * truncate the file under the daemon's mapping, which would SIGBUS
	 * the zeroing of trusted mode. Punching a hole (revocation) is still
	 * allowed: it changes no size. */
	if (ftruncate(pg.fd, (off_t)page_size) < 0 ||
	    fcntl(pg.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    fstat(pg.fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	pg.ino = (uint64_t)st.st_ino;
	/* A shared hugetlb mapping reserves its page now: a shortage is an
	 * error here, never a SIGBUS later. */
	pg.map = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, pg.fd, 0);
	if (pg.map == MAP_FAILED) {
		pg.map = NULL;
		r = -errno;
		goto fail;
	}
	/* Clients must never inherit pool pages through a fork of the daemon. */
	(void)madvise(pg.map, page_size, MADV_DONTFORK);
	*ret = pg;
	return 0;
fail:
	backing_page_drop(&pg, page_size);
	return r;
}

static int linux_fill(void *ctx, uint64_t page_size, struct backing_page *pg)
{
	int r = 0;

	/* fallocate allocates (and the kernel zeroes) the page without the
	 * address-space lock, so fills run in parallel; then populating the
	 * mapping only maps a page already there. */
	if (fallocate(pg->fd, 0, 0, (off_t)page_size) < 0) {
		r = -errno;
	} else if (madvise(pg->map, page_size, MADV_POPULATE_WRITE) < 0) {
		if (errno != EINVAL)
			r = -errno;
		else /* before Linux 5.14: the page is there, a write maps it */
			*(volatile uint8_t *)pg->map = 0;
	}
	if (r == 0)
		r = linux_locate(ctx, pg, &pg->phys, &pg->node);
	if (r < 0)
		backing_page_drop(pg, page_size);
	return r;
}

static int linux_acquire(void *ctx, uint64_t page_size, struct backing_page *ret)
{
	struct backing_page pg;
	int r = linux_prepare(ctx, page_size, &pg);

	if (r == 0)
		r = linux_fill(ctx, page_size, &pg);
	if (r == 0)
		*ret = pg;
	return r;
}

static int linux_revoke(void *ctx, uint64_t page_size, struct backing_page *pg)
{
	int r = 0;

	(void)ctx;
	if (pg->fd >= 0 &&
	    fallocate(pg->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)page_size) < 0)
		r = -errno;
	backing_page_drop(pg, page_size);
	return r;
}

/* A thread-local policy (set_mempolicy(2)): hugetlb faults follow it. */
static int linux_bind(void *ctx, int32_t node)
{
	unsigned long mask[PROTO_MAX_NODES / (8 * sizeof(unsigned long))] = { 0 };

	(void)ctx;
	if (node < 0)
		return set_mempolicy(MPOL_DEFAULT, NULL, 0) < 0 ? -errno : 0;
	if (node >= PROTO_MAX_NODES)
		return -EINVAL;
	mask[node / (8 * sizeof(unsigned long))] |= 1ul << (node % (8 * sizeof(unsigned long)));
	return set_mempolicy(MPOL_BIND, mask, PROTO_MAX_NODES + 1) < 0 ? -errno : 0;
}

void zero_nt(void *p, uint64_t n)
{
#if defined(__x86_64__)
	__m128i z = _mm_setzero_si128();
	for (__m128i *q = p, *end = (__m128i *)((char *)p + n); q < end; q += 4) {
		_mm_stream_si128(q, z);
		_mm_stream_si128(q + 1, z);
		_mm_stream_si128(q + 2, z);
		_mm_stream_si128(q + 3, z);
	}
	_mm_sfence(); /* the stores are weakly ordered: fence before anyone reuses it */
#else
	memset(p, 0, n);
#endif
}

static int linux_zero(void *ctx, struct backing_page *pg, uint64_t page_size)
{
	uint64_t phys;
	int r;

	if (!pg->map)
		return -EBADF;
	zero_nt(pg->map, page_size);
	/* A former holder kept a writable fd (trusted mode hands them out)
	 * and may have punched the page out of its file: the zeroing then
	 * faulted a new, unpinned page in, somewhere else. The frame must be
	 * the one the pool says, or the page goes back through revoke and a
	 * fresh refault instead. */
	r = frame_of(ctx, pg->map, &phys);
	if (r < 0)
		return r;
	if (phys != pg->phys)
		return -ESTALE;
	return 0;
}

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6 /* linux/magic.h */
#endif

/* A restart: the file must be one prepare made (hugetlbfs, one page, the
 * seals) and still hold its page. The page is checked present before it
 * is mapped, so mapping it never faults a new page in: the frame read back
 * is the one the file held, which the caller compares with its record. */
static int linux_adopt(void *ctx, uint64_t page_size, int fd, uint64_t ino,
		       struct backing_page *ret)
{
	struct backing_page pg = { .fd = fd, .map = NULL, .ino = ino };
	struct statfs sfs;
	struct stat st;
	int seals, r;

	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	seals = fcntl(fd, F_GET_SEALS);
	r = -ESTALE;
	if ((uint64_t)sfs.f_type != HUGETLBFS_MAGIC || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_ino != ino || (uint64_t)st.st_size != page_size ||
	    (uint64_t)st.st_blocks * 512 < page_size || seals < 0 ||
	    (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		goto fail;
	pg.map = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pg.map == MAP_FAILED) {
		pg.map = NULL;
		r = -errno;
		goto fail;
	}
	(void)madvise(pg.map, page_size, MADV_DONTFORK);
	if (madvise(pg.map, page_size, MADV_POPULATE_READ) < 0)
		(void)*(volatile uint8_t *)pg.map; /* before Linux 5.14 */
	r = linux_locate(ctx, &pg, &pg.phys, &pg.node);
	if (r < 0)
		goto fail;
	*ret = pg;
	return 0;
fail:
	backing_page_drop(&pg, page_size);
	return r;
}

const struct backing_ops backing_linux_ops = {
	.acquire = linux_acquire,
	.prepare = linux_prepare,
	.fill = linux_fill,
	.revoke = linux_revoke,
	.locate = linux_locate,
	.pin = linux_pin,
	.unpin = linux_unpin,
	.bind = linux_bind,
	.zero = linux_zero,
	.adopt = linux_adopt,
};
