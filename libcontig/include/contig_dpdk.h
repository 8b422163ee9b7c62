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

#ifdef __cplusplus
}
#endif

#endif
