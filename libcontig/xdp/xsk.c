/* SPDX-License-Identifier: MIT */
/*
 * xsk.c - AF_XDP UMEMs on contig regions and the sockets over them (see
 * contig_xdp.h).
 *
 * Owns the geometry rules a UMEM must pass before it is registered, and the
 * order of teardown: a UMEM's region is freed only after the kernel has let
 * go of it (xsk_umem__delete succeeded, so no socket pins it any more).
 * Every fd libxdp creates is made CLOEXEC before the call returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_xdp.h>

#include "contig.h"
#include "contig_xdp.h"
#include "xdp_internal.h"

#define XSK_MIN_CHUNK 2048u /* XDP_UMEM_MIN_CHUNK_SIZE, net/xdp/xdp_umem.c */
#define XSK_RING_DEFAULT 2048u
#define BIND_RETRIES 100
#define BIND_RETRY_US 10000

static __thread char last_error[256];

int xdp_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return -err;
}

void xdp_clear_error(void)
{
	last_error[0] = '\0';
}

CX_EXPORT const char *contig_xsk_last_error(void)
{
	return last_error;
}

int xdp_ret(int r, int saved)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved;
	return r;
}

int xdp_set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static bool pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static uint32_t ring_size(uint32_t n)
{
	return n ? n : XSK_RING_DEFAULT;
}

/* The kernel's rules (net/xdp/xdp_umem.c xdp_umem_reg, xsk_init_queue),
 * checked in the order a user most often breaks them. */
static int umem_check(const struct contig_xsk_umem_config *c, char *why, size_t n)
{
	bool unaligned = c->flags & XDP_UMEM_UNALIGNED_CHUNK_FLAG;
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	uint32_t cs = c->chunk_size;

#define REFUSE(...)                                                                                \
	do {                                                                                       \
		if (n > 0)                                                                         \
			snprintf(why, n, __VA_ARGS__);                                             \
		return -EINVAL;                                                                    \
	} while (0)
	if (c->flags & ~(uint32_t)XDP_UMEM_UNALIGNED_CHUNK_FLAG)
		REFUSE("flags 0x%x: only XDP_UMEM_UNALIGNED_CHUNK_FLAG (0x%x) is supported",
		       c->flags, XDP_UMEM_UNALIGNED_CHUNK_FLAG);
	if (cs < XSK_MIN_CHUNK || cs > page)
		REFUSE("chunk_size %u: must be between %u and the page size %u "
		       "(the kernel refuses larger chunks even on hugepages)",
		       cs, XSK_MIN_CHUNK, page);
	if (!unaligned && !pow2(cs))
		REFUSE("chunk_size %u: must be a power of two (2048 or 4096) "
		       "unless XDP_UMEM_UNALIGNED_CHUNK_FLAG is set",
		       cs);
	if (c->size < cs)
		REFUSE("size %zu: smaller than one chunk of %u bytes", c->size, cs);
	if (!unaligned && c->size % cs)
		REFUSE("size %zu: not a multiple of chunk_size %u (%zu bytes left over); "
		       "round it, or set XDP_UMEM_UNALIGNED_CHUNK_FLAG",
		       c->size, cs, c->size % cs);
	if (c->size / cs > UINT32_MAX)
		REFUSE("size %zu: more than 2^32 chunks", c->size);
	if (c->headroom > cs - CONTIG_XSK_CHUNK_RESERVE)
		REFUSE("headroom %u: at most chunk_size - %u = %u (the kernel keeps "
		       "XDP_PACKET_HEADROOM, skb_shared_info and 128 bytes of every chunk)",
		       c->headroom, CONTIG_XSK_CHUNK_RESERVE, cs - CONTIG_XSK_CHUNK_RESERVE);
	if (!pow2(ring_size(c->fill_size)))
		REFUSE("fill_size %u: ring sizes must be powers of two", c->fill_size);
	if (!pow2(ring_size(c->comp_size)))
		REFUSE("comp_size %u: ring sizes must be powers of two", c->comp_size);
#undef REFUSE
	return 0;
}

CX_EXPORT int contig_xsk_umem_check(const struct contig_xsk_umem_config *cfg, char *why,
				    size_t why_len)
{
	int r;

	if (why_len > 0)
		why[0] = '\0';
	if (!cfg) {
		errno = EINVAL;
		return -1;
	}
	r = umem_check(cfg, why, why_len);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

static int umem_register(struct contig_xsk_umem *u, const struct contig_xsk_umem_config *c)
{
	struct xsk_umem_config xc = {
	    .fill_size = ring_size(c->fill_size),
	    .comp_size = ring_size(c->comp_size),
	    .frame_size = c->chunk_size,
	    .frame_headroom = c->headroom,
	    .flags = c->flags,
	};
	int r;

	r = xsk_umem__create(&u->umem, u->area, u->size, &u->fill, &u->comp, &xc);
	if (r < 0)
		return xdp_fail(-r, "XDP_UMEM_REG of %zu bytes at %p: %s", u->size, u->area,
				strerror(-r));
	r = xdp_set_cloexec(xsk_umem__fd(u->umem));
	if (r < 0) {
		(void)xsk_umem__delete(u->umem);
		return xdp_fail(-r, "FD_CLOEXEC on the UMEM socket: %s", strerror(-r));
	}
	return 0;
}

static int umem_create(const struct contig_xsk_umem_config *c, struct contig_xsk_umem **ret)
{
	uint64_t ceiling =
	    c->highest_acceptable_address ? c->highest_acceptable_address : CONTIG_MAX_ADDRESS;
	struct contig_xsk_umem *u;
	char why[200];
	int r;

	r = umem_check(c, why, sizeof(why));
	if (r < 0)
		return xdp_fail(-r, "%s", why);
	u = calloc(1, sizeof(*u));
	if (!u)
		return xdp_fail(ENOMEM, "out of memory");
	u->size = c->size;
	u->chunk_size = c->chunk_size;
	u->headroom = c->headroom;
	u->area = contig_alloc(c->size, ceiling);
	if (!u->area) {
		r = xdp_fail(errno, "contig_alloc of %zu bytes: %s", c->size, strerror(errno));
		goto free_u;
	}
	r = umem_register(u, c);
	if (r < 0)
		goto free_area;
	*ret = u;
	return 0;
free_area:
	contig_free(u->area);
free_u:
	free(u);
	return r;
}

CX_EXPORT struct contig_xsk_umem *contig_xsk_umem_create(const struct contig_xsk_umem_config *cfg)
{
	struct contig_xsk_umem *u = NULL;
	int saved = errno, r;

	xdp_clear_error();
	r = cfg ? umem_create(cfg, &u) : xdp_fail(EINVAL, "no configuration");
	return xdp_ret(r, saved) < 0 ? NULL : u;
}

CX_EXPORT int contig_xsk_umem_fill(struct contig_xsk_umem *u, uint32_t first, uint32_t n)
{
	uint32_t idx, room;

	xdp_clear_error();
	if (!u || (uint64_t)(first + (uint64_t)n) * u->chunk_size > u->size) {
		errno = -xdp_fail(EINVAL, "chunks %u..%u: outside the UMEM", first, first + n);
		return -1;
	}
	room = xsk_prod_nb_free(&u->fill, n);
	if (room > n)
		room = n;
	if (room == 0 || xsk_ring_prod__reserve(&u->fill, room, &idx) != room)
		return 0;
	for (uint32_t i = 0; i < room; i++)
		*xsk_ring_prod__fill_addr(&u->fill, idx + i) =
		    (uint64_t)(first + i) * u->chunk_size;
	xsk_ring_prod__submit(&u->fill, room);
	return (int)room;
}

CX_EXPORT int contig_xsk_umem_destroy(struct contig_xsk_umem *u)
{
	int r;

	xdp_clear_error();
	if (!u)
		return 0;
	r = xsk_umem__delete(u->umem);
	if (r < 0) {
		errno = -xdp_fail(-r, "UMEM still in use by a socket: destroy the sockets first");
		return -1;
	}
	/* The kernel has unpinned the pages: the region can go back. */
	contig_free(u->area);
	free(u);
	return 0;
}

static int socket_create(struct contig_xsk_umem *u, const char *ifname, uint32_t queue,
			 const struct xsk_socket_config *cfg, struct contig_xsk_socket **ret)
{
	struct contig_xsk_socket *s;
	int r;

	if (!pow2(cfg->rx_size) || !pow2(cfg->tx_size))
		return xdp_fail(EINVAL, "rx_size %u, tx_size %u: ring sizes must be powers of two",
				cfg->rx_size, cfg->tx_size);
	if (!if_nametoindex(ifname))
		return xdp_fail(ENODEV, "interface %s: %s", ifname, strerror(errno));
	s = calloc(1, sizeof(*s));
	if (!s)
		return xdp_fail(ENOMEM, "out of memory");
	/* A socket that just closed on this queue lets go of it from a kernel
	 * work item (xp_release_deferred), after close() returned: until
	 * then bind says EBUSY. Give it up to a second. */
	for (int tries = 0;; tries++) {
		r = xsk_socket__create(&s->xsk, ifname, queue, u->umem, &s->rx, &s->tx, cfg);
		if (r != -EBUSY || tries == BIND_RETRIES)
			break;
		usleep(BIND_RETRY_US);
	}
	if (r < 0) {
		free(s);
		return xdp_fail(-r, "AF_XDP bind to %s queue %u: %s%s", ifname, queue, strerror(-r),
				r == -EBUSY ? " (another AF_XDP socket is bound to that queue)"
					    : "");
	}
	s->fd = xsk_socket__fd(s->xsk);
	r = xdp_set_cloexec(s->fd);
	if (r < 0) {
		xsk_socket__delete(s->xsk);
		free(s);
		return xdp_fail(-r, "FD_CLOEXEC on the AF_XDP socket: %s", strerror(-r));
	}
	*ret = s;
	return 0;
}

CX_EXPORT struct contig_xsk_socket *contig_xsk_socket_create(struct contig_xsk_umem *umem,
							     const char *ifname, uint32_t queue_id,
							     uint32_t rx_size, uint32_t tx_size,
							     uint32_t xdp_flags,
							     uint16_t bind_flags)
{
	struct xsk_socket_config cfg = {
	    .rx_size = ring_size(rx_size),
	    .tx_size = ring_size(tx_size),
	    /* The caller attaches its program (contig_xdp_prog_attach). */
	    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	    .xdp_flags = xdp_flags,
	    .bind_flags = bind_flags,
	};
	struct contig_xsk_socket *s = NULL;
	int saved = errno, r;

	xdp_clear_error();
	if (!umem || !ifname || !ifname[0])
		r = xdp_fail(EINVAL, "no UMEM or no interface name");
	else
		r = socket_create(umem, ifname, queue_id, &cfg, &s);
	return xdp_ret(r, saved) < 0 ? NULL : s;
}

CX_EXPORT void contig_xsk_socket_destroy(struct contig_xsk_socket *s)
{
	if (!s)
		return;
	xsk_socket__delete(s->xsk);
	free(s);
}
