/* SPDX-License-Identifier: MIT */
/*
 * xdp_echo.c - an AF_XDP echo server whose UMEM is contig memory.
 *
 * Run (as root, contigd running):
 *   build/daemon/contigd --socket /tmp/c.sock --pool 64M & sleep 1; CONTIG_SOCKET=/tmp/c.sock
 * build/examples/contig-xdp-echo
 *
 * It makes a veth pair with one end in a network namespace of its own
 * (local traffic only, removed at exit), attaches an XDP program in generic
 * (SKB) mode that sends frames of ethertype 0x88B5 to an AF_XDP socket in
 * copy mode, and from inside the namespace sends numbered frames. Each
 * frame lands in the contig UMEM (RX ring), is echoed from the same chunk
 * with its MAC addresses swapped (TX ring), and comes back to the sender,
 * which checks every byte. The lines an application adds are marked
 * "contig:". Optional argument: the number of frames (default 1000).
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_xdp.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vethns.h"

#ifndef XSK_ETHERTYPE_OBJ
#define XSK_ETHERTYPE_OBJ NULL /* the library's built-in redirect-all program */
#endif
#define ETH_P_CONTIG 0x88B5
#define NCHUNKS 1024

static size_t make_frame(uint8_t *f, const struct vethns *v, unsigned int seq)
{
	size_t len = 60 + (seq * 37) % 1455;

	memcpy(f, v->host_mac, 6);
	memcpy(f + 6, v->peer_mac, 6);
	f[12] = ETH_P_CONTIG >> 8;
	f[13] = ETH_P_CONTIG & 0xff;
	for (size_t k = 14; k < len; k++)
		f[k] = (uint8_t)(seq * 131 + k);
	return len;
}

/* Echo whatever the RX ring holds: swap the MACs in place and put the
 * same chunk on the TX ring; chunks TX is done with go back to fill. */
static unsigned int echo_some(struct contig_xsk_umem *u, struct contig_xsk_socket *s)
{
	uint32_t rx_idx, tx_idx, comp_idx, fill_idx;
	unsigned int n = xsk_ring_cons__peek(&s->rx, 64, &rx_idx);

	if (n && xsk_ring_prod__reserve(&s->tx, n, &tx_idx) == n) {
		for (unsigned int i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s->rx, rx_idx + i);
			uint8_t *f = xsk_umem__get_data(u->area, d->addr), mac[6];

			memcpy(mac, f, 6);
			memcpy(f, f + 6, 6);
			memcpy(f + 6, mac, 6);
			*xsk_ring_prod__tx_desc(&s->tx, tx_idx + i) = *d;
		}
		xsk_ring_prod__submit(&s->tx, n);
		xsk_ring_cons__release(&s->rx, n);
		/* Copy mode sends only when asked. */
		sendto(s->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
	}
	unsigned int done = xsk_ring_cons__peek(&u->comp, 64, &comp_idx);
	if (done && xsk_ring_prod__reserve(&u->fill, done, &fill_idx) == done) {
		for (unsigned int i = 0; i < done; i++)
			*xsk_ring_prod__fill_addr(&u->fill, fill_idx + i) =
			    *xsk_ring_cons__comp_addr(&u->comp, comp_idx + i);
		xsk_ring_prod__submit(&u->fill, done);
		xsk_ring_cons__release(&u->comp, done);
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned int frames = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : 1000;
	struct contig_xsk_umem_config cfg = {.size = NCHUNKS * 2048, .chunk_size = 2048};
	static uint8_t sent[2048], back[2048];
	unsigned int echoed = 0, ok = 0;
	struct contig_xsk_socket *s = NULL;
	struct contig_xdp_prog *prog = NULL;
	struct contig_xsk_umem *u = NULL;
	struct timespec t0, t1;
	struct vethns v;
	int peer = -1, rc = 1;

	if (vethns_create(&v, "echo") < 0)
		return 1;
	/* contig: a UMEM of 1024 chunks of 2 KiB on one contig region. */
	u = contig_xsk_umem_create(&cfg);
	/* contig: an AF_XDP socket on queue 0, generic XDP, copy mode. */
	if (u)
		s = contig_xsk_socket_create(u, v.host, 0, 0, 0, XDP_FLAGS_SKB_MODE, XDP_COPY);
	/* contig: the XDP program, and this socket in its XSKMAP. */
	if (s)
		prog = contig_xdp_prog_attach(XSK_ETHERTYPE_OBJ, v.host, XDP_FLAGS_SKB_MODE);
	if (!prog || contig_xdp_prog_add_socket(prog, 0, s) < 0) {
		fprintf(stderr, "xdp_echo: %s (%s)\n", contig_xsk_last_error(), strerror(errno));
		goto out;
	}
	contig_xsk_umem_fill(u, 0, NCHUNKS / 2);
	peer = vethns_peer_socket(&v, ETH_P_CONTIG);
	if (peer < 0) {
		fprintf(stderr, "xdp_echo: peer socket: %s\n", strerror(-peer));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int seq = 0; seq < frames; seq++) {
		size_t len = make_frame(sent, &v, seq);
		if (vethns_peer_send(peer, sent, len) < 0)
			break;
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		/* veth delivers synchronously, but allow for a busy machine. */
		for (int tries = 0; tries < 100 && !echo_some(u, s); tries++)
			poll(&p, 1, 10);
		int n = vethns_peer_recv(peer, back, sizeof(back), 1000);
		echoed += n > 0;
		/* The echo: the same bytes with source and destination swapped. */
		if (n == (int)len && !memcmp(back, sent + 6, 6) && !memcmp(back + 6, sent, 6) &&
		    !memcmp(back + 12, sent + 12, len - 12))
			ok++;
		echo_some(u, s); /* recycle completions */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%u frames sent from netns %s, %u echoed through contig UMEM (phys 0x%" PRIx64
	       "..0x%" PRIx64 "), %u byte-exact, %.1f ms\n",
	       frames, v.ns, echoed, contig_phys_addr(u->area),
	       contig_phys_addr(u->area) + u->size - 1, ok,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	rc = ok == frames ? 0 : 1;
out:
	if (peer >= 0)
		close(peer);
	contig_xdp_prog_detach(prog);
	contig_xsk_socket_destroy(s);
	contig_xsk_umem_destroy(u);
	vethns_destroy(&v);
	return rc;
}
