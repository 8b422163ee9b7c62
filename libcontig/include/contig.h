/* SPDX-License-Identifier: MIT */
/*
 * contig.h - physically contiguous, zeroed DMA memory for Linux processes,
 * served by contigd. The calls mirror the Windows kernel's
 * MmAllocateContiguousMemory family; see libcontig(3).
 *
 * Every call is thread-safe. The library connects to contigd on first use:
 * the socket is $CONTIG_SOCKET, else /run/contigd/contigd.sock. No call needs
 * any privilege beyond access to that socket.
 *
 * Errors: the allocation calls return NULL and set errno; the int calls
 * return -1 and set errno; on success errno is left as it was.
 *   EINVAL        bad arguments (zero size, lowest > highest, boundary not a
 *                 power of two or smaller than the size, cache type outside
 *                 the enum, node out of range, misaligned fixed address)
 *   ENOMEM        the pool cannot satisfy the request now (this includes a
 *                 window [lowest, highest] too small for the size)
 *   ENOTSUP       a cache type other than CONTIG_CACHED
 *   EDQUOT        over the caller's quota
 *   EACCES        not allowed to use the pool (or to import that handle)
 *   ECONNREFUSED, ENOENT   no daemon at the socket
 *   ECONNRESET    the daemon went away during the call (live regions stay
 *                 mapped and valid; the next call reconnects)
 *   EPROTO        the daemon answered something this library cannot accept
 *
 * File descriptors: the library keeps one socket fd per process (CLOEXEC)
 * and no fd per region: page fds are closed once mapped.
 */
#ifndef CONTIG_H
#define CONTIG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONTIG_MAX_ADDRESS  UINT64_MAX /* "no ceiling", like MAXULONG64 */
#define CONTIG_PHYS_INVALID UINT64_MAX
#define CONTIG_NODE_ANY     (-1)

enum contig_cache { CONTIG_CACHED = 0, CONTIG_NON_CACHED = 1, CONTIG_WRITE_COMBINED = 2 };

struct contig_pool_info {          /* may grow at the end; callers zero it */
	uint64_t page_size;        /* bytes of one pool page */
	uint64_t total_bytes;      /* pool size */
	uint64_t free_bytes;       /* free now, reclaim in flight excluded */
	uint64_t largest_free_run; /* bytes of the largest physically contiguous free run */
};

/*
 * Granularity. A request smaller than a pool page (2 MiB or 1 GiB) that
 * is not CONTIG_SHAREABLE is carved, in this process, from pool
 * pages it leases from contigd; its size is rounded up to a multiple of
 * 4 KiB. A carved region keeps every promise of any other: 4 KiB aligned,
 * physically contiguous, zeroed, every constraint met on every byte,
 * contig_phys_addr on any byte, and never visible to another process (a
 * leased page is mapped here alone). A page whose carved regions are all
 * freed goes back to the pool; contigd can take one it idles at any time.
 * Larger requests, and CONTIG_SHAREABLE ones, get whole pool pages.
 * CONTIG_CARVE=0 in the environment turns carving off: whole pages for
 * every region, as before page granularity.
 *
 * Allocate nbytes of zeroed memory, physically contiguous, every byte at or
 * below highest_acceptable_address. Returns a 4 KiB-aligned address (a
 * pool-page-aligned one when not carved), or NULL with errno. The caller
 * must not touch memory past nbytes.
 */
void *contig_alloc(size_t nbytes, uint64_t highest_acceptable_address);

/*
 * The same with a floor, a boundary (0, or a power of two >= nbytes that
 * [phys, phys + nbytes - 1] must not cross) and a cache type (only
 * CONTIG_CACHED can be honoured: ENOTSUP for the others).
 */
void *contig_alloc_specify_cache(size_t nbytes, uint64_t lowest_acceptable_address,
				 uint64_t highest_acceptable_address,
				 uint64_t boundary_address_multiple, enum contig_cache cache_type);

/*
 * The same, preferring memory on NUMA node preferred_node (0..63) and
 * falling back to other nodes; CONTIG_NODE_ANY prefers the node of the CPU
 * the caller runs on. A region never spans nodes.
 */
void *contig_alloc_node(size_t nbytes, uint64_t lowest_acceptable_address,
			uint64_t highest_acceptable_address, uint64_t boundary_address_multiple,
			enum contig_cache cache_type, int preferred_node);

/* Like contig_alloc_node, but only node (0..63) will do: ENOMEM otherwise. */
void *contig_alloc_node_strict(size_t nbytes, uint64_t lowest_acceptable_address,
			       uint64_t highest_acceptable_address,
			       uint64_t boundary_address_multiple, enum contig_cache cache_type,
			       int node);

#define CONTIG_SHAREABLE   (1u << 0)  /* whole pool pages: the region can be exported */
#define CONTIG_NODE_STRICT (1u << 1)  /* that node or ENOMEM */

/*
 * The call every other allocation is (node CONTIG_NODE_ANY, flags 0 for
 * contig_alloc*; CONTIG_NODE_STRICT for contig_alloc_node_strict). node is
 * CONTIG_NODE_ANY for no preference, else 0..63; CONTIG_NODE_STRICT needs a
 * node. Unknown flag bits: EINVAL. The cache type is CONTIG_CACHED (the only
 * one that can be honoured).
 */
void *contig_alloc_flags(size_t nbytes, uint64_t lowest_acceptable_address,
			 uint64_t highest_acceptable_address,
			 uint64_t boundary_address_multiple, int node, unsigned flags);

/*
 * Free a region (drop this process's reference to a shared one). NULL, and
 * anything that is not the base of a live region, is ignored. When it
 * returns, the memory is unmapped here and, unless another process still
 * holds the region, revoked from every mapping before anyone can get it.
 */
void contig_free(void *base);

/* Physical address of any byte inside a live region, or CONTIG_PHYS_INVALID.
 * No syscall, no privilege. */
uint64_t contig_phys_addr(const void *va);

/* The pool as it is now. 0, or -1 with errno. */
int contig_query(struct contig_pool_info *info);
/* The same for the pages on one NUMA node (CONTIG_NODE_ANY: the pool). */
int contig_query_node(int node, struct contig_pool_info *info);

/*
 * Sharing. contig_export gives a 32-byte handle (a capability: 192 random
 * bits) for a live region this process holds; any process of the same user
 * (or allowed by the daemon's config) that presents it to contig_import gets
 * the same pages mapped, anywhere (fixed_va NULL) or exactly at fixed_va,
 * which must be aligned to the pool page size (EINVAL) and free (EEXIST).
 * Each importer holds its own reference, dropped by contig_free or its exit.
 * A dead, revoked or forged handle: ENOENT; not allowed: EACCES.
 * A carved region cannot be exported (ENOTSUP): another process can only
 * map whole pool pages, and its page holds this process's other regions,
 * which the importer would see. Allocate with CONTIG_SHAREABLE to share.
 */
struct contig_handle {
	uint8_t opaque[32];
};
int contig_export(const void *base, struct contig_handle *ret_handle);
void *contig_import(const struct contig_handle *handle, void *fixed_va);
/* No new imports of this handle (holders keep theirs). 0, or -1 with errno. */
int contig_revoke(const struct contig_handle *handle);

/*
 * Where a live region lies: its base, its size as asked, the size mapped
 * (whole pool pages; for a carved region its size rounded up to 4 KiB),
 * the pool page size and the physical address of its
 * first byte. 0, or -1 with errno (ENOENT: not inside a live region).
 */
struct contig_region_info {
	void *base;
	size_t nbytes;
	size_t mapped_bytes;
	size_t page_size;
	uint64_t phys;
	int node;
};
int contig_region_info(const void *va, struct contig_region_info *ret);

#ifdef __cplusplus
}
#endif

#endif
