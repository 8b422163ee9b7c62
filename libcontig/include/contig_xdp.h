/* SPDX-License-Identifier: MIT */
/*
 * contig_xdp.h - AF_XDP sockets whose UMEM is contig memory
 * (libcontig-xdp, pkg-config libcontig-xdp; uses libxdp's xsk API and
 * libbpf).
 *
 * The UMEM is one contig region: hugepage-backed, aligned to the pool page
 * size, physically contiguous (a frame at UMEM offset `addr` lies at
 * physical address contig_phys_addr(umem->area) + addr). Its geometry is
 * checked before registration, with a message saying which rule was
 * broken, instead of the bare EINVAL the kernel gives:
 *   - chunk_size between 2048 (XDP_UMEM_MIN_CHUNK_SIZE) and the system page
 *     size (4096 here; the kernel refuses larger chunks even on hugepages),
 *     a power of two unless XDP_UMEM_UNALIGNED_CHUNK_FLAG is set;
 *   - size a non-zero multiple of chunk_size unless unaligned;
 *   - headroom <= chunk_size - CONTIG_XSK_CHUNK_RESERVE (XDP_PACKET_HEADROOM,
 *     the skb_shared_info tailroom and 128 bytes: the rule of current
 *     kernels, which older kernels' "headroom < chunk_size - 256" implies);
 *   - fill and completion ring sizes powers of two;
 *   - no flags other than XDP_UMEM_UNALIGNED_CHUNK_FLAG.
 *
 * Errors: NULL or -1 with errno; contig_xsk_last_error() then says why in
 * one line (thread-local, valid until this thread's next call).
 *   EINVAL   a geometry rule above, or a NULL/empty argument
 *   ENODEV   no such interface
 *   ENOENT   the BPF object has no XDP program or no map named xsks_map
 *   EBUSY    contig_xsk_umem_destroy while a socket still uses the UMEM
 *   and the errors of contig_alloc, libxdp, libbpf and the kernel (EPERM
 *   without CAP_NET_RAW / CAP_BPF ...).
 *
 * File descriptors: each UMEM and socket owns one AF_XDP fd (made CLOEXEC
 * right after libxdp creates it: libxdp 1.3 does not ask for it), closed by
 * its destroy call. A program handle owns its BPF object's fds.
 */
#ifndef CONTIG_XDP_H
#define CONTIG_XDP_H

#include <stddef.h>
#include <stdint.h>

#include <xdp/xsk.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of a chunk the kernel keeps from the headroom (x86_64, 6.x). */
#define CONTIG_XSK_CHUNK_RESERVE 704u

struct contig_xsk_umem_config {
	size_t size;	     /* bytes of UMEM (one contig region of this size) */
	uint32_t chunk_size; /* frame size: 2048 or 4096 (any 2048..4096 if unaligned) */
	uint32_t headroom;   /* bytes kept before each received frame's data */
	uint32_t fill_size;  /* fill ring entries, power of two; 0: 2048 */
	uint32_t comp_size;  /* completion ring entries, power of two; 0: 2048 */
	uint32_t flags;	     /* 0 or XDP_UMEM_UNALIGNED_CHUNK_FLAG */
	uint64_t highest_acceptable_address; /* every byte at or below; 0: no ceiling */
};

struct contig_xsk_umem {
	void *area; /* the contig region; frame at addr is area + addr */
	size_t size;
	uint32_t chunk_size;
	uint32_t headroom;
	struct xsk_umem *umem; /* libxdp's handle */
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
};

struct contig_xsk_socket {
	struct xsk_socket *xsk; /* libxdp's handle */
	struct xsk_ring_cons rx;
	struct xsk_ring_prod tx;
	int fd; /* for poll() and the TX kick (sendto) */
};

struct contig_xdp_prog;

/* Check a UMEM geometry without allocating anything. 0, or -1 with errno
 * EINVAL and a one-line reason in why (when why_len > 0). */
int contig_xsk_umem_check(const struct contig_xsk_umem_config *cfg, char *why, size_t why_len);

/* Check, take a contig region and register it as a UMEM with its fill and
 * completion rings. NULL with errno on failure (nothing left behind). */
struct contig_xsk_umem *contig_xsk_umem_create(const struct contig_xsk_umem_config *cfg);

/* Put n chunks, starting at chunk index first, on the fill ring. Returns
 * how many fitted (the ring may have less room), or -1 with errno. */
int contig_xsk_umem_fill(struct contig_xsk_umem *umem, uint32_t first, uint32_t n);

/* Unregister and free. 0, or -1 with errno EBUSY (a socket still uses it:
 * nothing was freed). NULL is a no-op. */
int contig_xsk_umem_destroy(struct contig_xsk_umem *umem);

/*
 * An AF_XDP socket on ifname's queue_id over the UMEM. rx_size/tx_size:
 * ring entries (powers of two; 0: 2048). xdp_flags (XDP_FLAGS_SKB_MODE,
 * XDP_FLAGS_DRV_MODE ...) and bind_flags (XDP_COPY, XDP_ZEROCOPY,
 * XDP_USE_NEED_WAKEUP) as in <linux/if_link.h> and <linux/if_xdp.h>. No XDP
 * program is loaded for it: attach one with contig_xdp_prog_attach and
 * register the socket with contig_xdp_prog_add_socket.
 */
struct contig_xsk_socket *contig_xsk_socket_create(struct contig_xsk_umem *umem, const char *ifname,
						   uint32_t queue_id, uint32_t rx_size,
						   uint32_t tx_size, uint32_t xdp_flags,
						   uint16_t bind_flags);
void contig_xsk_socket_destroy(struct contig_xsk_socket *sock);

/*
 * Load an XDP program and attach it to ifname with xdp_flags. bpf_obj_path
 * NULL: the built-in program (redirect every frame to the socket registered
 * for its RX queue, XDP_PASS when there is none). Otherwise an ELF object
 * (clang -target bpf) with one XDP program and an XSKMAP named xsks_map.
 * NULL with errno on failure; EEXIST: ifname already has a program.
 */
struct contig_xdp_prog *contig_xdp_prog_attach(const char *bpf_obj_path, const char *ifname,
					       uint32_t xdp_flags);
/* Send frames arriving on queue_id to sock. 0 or -1/errno. */
int contig_xdp_prog_add_socket(struct contig_xdp_prog *prog, uint32_t queue_id,
			       const struct contig_xsk_socket *sock);
/* Detach from the interface and unload. NULL is a no-op. */
void contig_xdp_prog_detach(struct contig_xdp_prog *prog);

/* Why this thread's last failed call failed, in one line ("" if none). */
const char *contig_xsk_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
