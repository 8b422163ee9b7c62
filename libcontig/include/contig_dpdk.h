/* SPDX-License-Identifier: MIT */
/*
 * contig_dpdk.h - contig memory inside DPDK applications (libcontig-dpdk,
 * pkg-config libcontig-dpdk). Built against DPDK 22.11.
 *
 * A contig heap is a DPDK external malloc heap whose memory is contig
 * regions, registered page by page with the physical addresses contigd
 * reports as their IOVAs. Everything DPDK allocates on the heap's socket id
 * (rte_malloc_socket, rte_memzone_reserve, rte_mempool_create,
 * rte_pktmbuf_pool_create) then lies in contig memory, below the ceiling
 * asked for, and carries contig's physical addresses as IOVAs (mbuf
 * buf_iova, mempool object iova, memzone iova).
 *
 * EAL options: contig owns the hugepages, so EAL should take none of its
 * own: "--no-huge -m 64 --no-shconf" and a unique "--file-prefix"
 * (--in-memory cannot be combined with --no-huge). Without hugepages EAL
 * cannot know the physical addresses of its own memory, so DPDK 22.11 runs
 * in IOVA-as-VA mode (measured: it does so even when --iova-mode=pa is
 * given). That does not change the IOVAs of a contig heap: for external
 * memory DPDK keeps the IOVA table given to rte_malloc_heap_memory_add in
 * every IOVA mode (rte_malloc_virt2iova and the mempool populate path read
 * the memseg's iova), so mbuf buf_iova is the physical address. Physical
 * addresses are what a device without an IOMMU (igb_uio, vfio-noiommu)
 * must be given, i.e. IOVA-as-PA semantics for contig memory; an
 * application whose EAL has hugepages of its own ("--in-memory -m 2") should
 * pass --iova-mode=pa so DPDK's own memory follows the same rule. Both
 * setups are tested (tests/integrations/test_dpdk.c, "va" and "pa").
 *
 * All calls: after rte_eal_init(), primary process only, thread-safe
 * between themselves. Errors set errno (the library never logs):
 *   EINVAL   bad argument (NULL or empty name, name longer than 31 bytes,
 *            zero size, a region not aligned to the pool page size)
 *   ENODEV   rte_eal_init() has not run
 *   ENOENT   no such heap made by this library / no such region
 *   EBUSY    the heap (or a region) still holds allocations
 *   ENOSPC   DPDK has no room for another memory segment list
 *   and every error of contig_alloc (ENOMEM, EDQUOT, EACCES, ECONNREFUSED ...)
 */
#ifndef CONTIG_DPDK_H
#define CONTIG_DPDK_H

#include <stddef.h>
#include <stdint.h>

#include "contig.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Create a DPDK malloc heap named heap_name, or grow it if it exists, with
 * `bytes` (rounded up to the pool page size) of contig memory whose every
 * byte lies at or below highest_acceptable_address, registered with its
 * per-page IOVAs. The memory is one physically contiguous region when the
 * pool has a run that large, else several smaller regions (each one
 * contiguous, each its own DPDK memory segment list). Returns the heap's
 * socket id, or -1 with errno; on failure nothing was added.
 */
int contig_dpdk_heap_create(const char *heap_name, size_t bytes,
			    uint64_t highest_acceptable_address);

/*
 * Remove the heap (every allocation on it must have been freed: EBUSY
 * otherwise, and the heap is left as it was) and give its memory back to
 * contigd. 0 or -1 with errno.
 */
int contig_dpdk_heap_destroy(const char *heap_name);

/* Bytes of contig memory this library added to the heap, or 0 (ENOENT). */
size_t contig_dpdk_heap_bytes(const char *heap_name);

/*
 * For applications that manage their own memory: register
 * [base, base + len) - inside one live contig region, base aligned to the
 * pool page size, len rounded up to it - with DPDK as external memory
 * (rte_extmem_register, IOVAs = physical addresses) and map it for DMA on
 * every probed ethdev (rte_dev_dma_map; a virtual device without a DMA map
 * operation accepts it as a no-op). With no device probed it only
 * registers. On failure nothing stays registered or mapped. 0 or -1/errno.
 */
int contig_dpdk_dma_map(void *base, size_t len);

/* Undo contig_dpdk_dma_map with the same base and len. 0 or -1/errno. */
int contig_dpdk_dma_unmap(void *base, size_t len);

/*
 * Sharing a heap, or an mbuf pool on it, with other processes - each an
 * independent DPDK primary with its own EAL ("--no-huge --no-shconf" and its
 * own --file-prefix), without DPDK's multi-process machinery (no
 * --proc-type=secondary, no shared runtime directory, no IPC).
 *
 * The exporter describes its heap in a struct contig_dpdk_share: one contig
 * handle per region of the heap with the virtual address it lies at there.
 * The share is plain bytes; send it by any channel (pipe, socket, file).
 * The importer maps every region at the same virtual address
 * (contig_import(handle, va), so pointers inside stay valid) and registers
 * it with its own EAL as external memory whose IOVAs are the regions'
 * physical addresses (rte_extmem_register, then rte_dev_dma_map on every
 * probed ethdev, as contig_dpdk_dma_map does).
 *
 * What the importer may do with it: use the objects the exporter built
 * there, at their addresses - an mbuf pool (get, put, an RX queue of its
 * own ports), rte_rings, plain buffers. What it must not do: rte_malloc,
 * rte_free, rte_mempool_free or rte_ring_free anything in it. The heap's
 * malloc metadata lives in the shared memory but its bookkeeping (the heap,
 * the memzone table) lives in the exporter's EAL only, so the importer has
 * no heap on it, and the import never touches the metadata. A pool shared
 * this way must have no per-lcore cache (cache_size 0): lcore ids of
 * independent EALs collide, so two processes would use one cache at once.
 * The mempool ops (ring_mp_mc ...) are found through a per-process table
 * by index: the importer must have registered the same ops at the same
 * index, which holds for the same DPDK build loading the same drivers;
 * import checks it by name. The exporter must keep the pool and the heap
 * until every importer has detached; mbufs an importer holds when it dies
 * are lost to the pool (as with DPDK secondaries), its memory is not: the
 * regions go back to contigd when their last holder frees them or dies.
 * mbuf dynamic fields and flags are registered per EAL: register the same
 * ones in the same order in every process that shares a pool, or none.
 *
 * Addresses: the exporter's regions lie where contig_alloc put them, in
 * the mmap area the kernel randomises per process, so in another process
 * the same range is almost always free (EAL --no-huge keeps its own memory
 * near 4 GiB); import right after rte_eal_init, before the importer maps
 * much of its own. EEXIST says the range was taken, and nothing is left
 * mapped.
 */

/* Regions of one heap a share can carry (a heap made of more: E2BIG). */
#define CONTIG_DPDK_SHARE_CHUNKS 16
#define CONTIG_DPDK_SHARE_MAGIC 0x31736463u /* "cds1" */

struct contig_dpdk_share_chunk {
	struct contig_handle handle; /* contig_export of the region */
	uint64_t va;		     /* its address in the exporter, and in importers */
	uint64_t len;		     /* bytes mapped: whole pool pages */
	uint64_t phys;		     /* physical address of its first byte */
	uint64_t page_size;	     /* pool page size */
};

struct contig_dpdk_share {
	uint32_t magic;		   /* CONTIG_DPDK_SHARE_MAGIC */
	uint32_t nchunks;	   /* 1..CONTIG_DPDK_SHARE_CHUNKS */
	char heap_name[32];	   /* the exporter's heap */
	char dpdk_version[64];	   /* rte_version() of the exporter */
	uint64_t mempool;	   /* address of the shared rte_mempool, 0 for a bare heap */
	uint32_t ops_index;	   /* its mempool ops: index in rte_mempool_ops_table ... */
	uint32_t mempool_hdr_size; /* sizeof(struct rte_mempool) of the exporter */
	char ops_name[32];	   /* ... and the name registered at that index */
	struct contig_dpdk_share_chunk chunks[CONTIG_DPDK_SHARE_CHUNKS];
};

struct rte_mempool;

/*
 * Exporter: describe the heap heap_name (made by contig_dpdk_heap_create in
 * this process) in *ret_share, with mempool = 0. Every region gets a handle
 * (contig_export). 0 or -1 with errno: EINVAL, ENODEV, ENOENT (no such heap
 * of this library), E2BIG (more than CONTIG_DPDK_SHARE_CHUNKS regions), and
 * the errors of contig_export.
 */
int contig_dpdk_heap_export(const char *heap_name, struct contig_dpdk_share *ret_share);

/*
 * Exporter: the same for the heap holding mp, and mp itself: its address
 * and its mempool ops. mp must have been created on a contig heap's socket
 * id with cache_size 0 and be populated. Errors as above, and: EINVAL (mp
 * NULL, not populated, or with a per-lcore cache), ENOENT (mp's header,
 * pool data or objects are not all in one contig heap of this process).
 */
int contig_dpdk_mempool_export(const struct rte_mempool *mp, struct contig_dpdk_share *ret_share);

/*
 * Importer (another process, after its own rte_eal_init): map every region
 * of the share at its address and register it as external memory with its
 * physical addresses as IOVAs. All or nothing. 0 or -1 with errno: EINVAL
 * (not a share), ENODEV, EEXIST (an address is taken in this process, e.g.
 * by an earlier import of the same share), ENOENT (a region is gone or its
 * handle revoked), EACCES, EPROTO (a handle names another region than the
 * share says), ENOSPC (no memory segment list left in this EAL).
 */
int contig_dpdk_heap_import(const struct contig_dpdk_share *share);

/*
 * Importer: contig_dpdk_heap_import, then the exporter's mempool, checked
 * and returned as is (the same pointer). NULL with errno: the errors of
 * contig_dpdk_heap_import; EINVAL (the share has no mempool, or the pool
 * found there has a cache or lies outside the share); EPROTO (another DPDK
 * version, another struct rte_mempool, or other mempool ops at the pool's
 * ops index: load the same drivers in the same order). On failure nothing
 * stays mapped; the checks that need no mapping come first.
 */
struct rte_mempool *contig_dpdk_mempool_import(const struct contig_dpdk_share *share);

/*
 * Importer: undo contig_dpdk_heap_import or contig_dpdk_mempool_import:
 * unregister the memory and drop this process's references (the exporter's
 * and other importers' mappings stay). Nothing of the share may be in use
 * here (no mbuf held, no port with an RX queue on the pool). 0 or -1 with
 * errno: EINVAL, ENODEV, ENOENT (not imported by this process).
 */
int contig_dpdk_heap_detach(const struct contig_dpdk_share *share);

#ifdef __cplusplus
}
#endif

#endif
