/* SPDX-License-Identifier: MIT */
/*
 * test_xdp.c - libcontig-xdp against a real contigd and the real kernel:
 * a veth pair with its peer end in a network namespace this test makes
 * (removed at exit, also on failure), generic-mode XDP, copy-mode AF_XDP.
 * Frames from the peer must arrive byte for byte in contig UMEM through the
 * RX ring; frames put on the TX ring must arrive byte for byte at the peer.
 * The UMEM geometry check must agree with the kernel's own verdict.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_xdp.h>
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <linux/if_xdp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "vethns.h"

#define MiB (1ull << 20)
#define ETH_P_CONTIG 0x88B5
#define ETH_P_OTHER 0x88B6
#define NCHUNKS 1024u
#define RX_CHUNKS 512u

static struct daemon_proc d;
static struct vethns v;
static const char *ethertype_obj; /* argv[1]: examples/bpf/xsk_ethertype.bpf.o */
static int teardown_status;

static int setup(void **state)
{
	static const char *const args[] = {"--pool", "64M", NULL};

	(void)state;
	if (daemon_start(&d, args) < 0)
		return -1;
	return vethns_create(&v, "xdptest") < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	vethns_destroy(&v);
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

/* ---- the geometry check agrees with the kernel ---- */

struct geom {
	size_t size;
	uint32_t chunk, headroom, flags, fill;
	const char *why; /* a word the refusal must contain, NULL: accepted */
};

/* The kernel's verdict on the same UMEM, registered raw on a contig region. */
static int kernel_verdict(void *area, const struct geom *g)
{
	struct xdp_umem_reg mr = {.addr = (uintptr_t)area,
				  .len = g->size,
				  .chunk_size = g->chunk,
				  .headroom = g->headroom,
				  .flags = g->flags};
	uint32_t fill = g->fill ? g->fill : 2048;
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0), r;

	assert_true(fd >= 0);
	r = setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr));
	if (r == 0)
		r = setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &fill, sizeof(fill));
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

static void test_umem_check_matches_kernel(void **state)
{
	const uint32_t U = XDP_UMEM_UNALIGNED_CHUNK_FLAG;
	const struct geom table[] = {
	    {2 * MiB, 2048, 0, 0, 0, NULL},
	    {2 * MiB, 4096, 0, 0, 0, NULL},
	    {2 * MiB, 2048, 2048 - CONTIG_XSK_CHUNK_RESERVE, 0, 0, NULL},
	    {2 * MiB, 2048, 2048 - CONTIG_XSK_CHUNK_RESERVE + 1, 0, 0, "headroom"},
	    {2 * MiB, 4096, 4096 - CONTIG_XSK_CHUNK_RESERVE, 0, 0, NULL},
	    {2 * MiB, 4096, 4096 - CONTIG_XSK_CHUNK_RESERVE + 8, 0, 0, "headroom"},
	    {2 * MiB, 2048, 1792, 0, 0, "headroom"}, /* old kernels' limit - 1 */
	    {2 * MiB, 1024, 0, 0, 0, "chunk_size 1024"},
	    {2 * MiB, 8192, 0, 0, 0, "chunk_size 8192"},
	    {2 * MiB, 2 * MiB, 0, 0, 0, "chunk_size"}, /* hugepage-sized chunks */
	    {2 * MiB, 8192, 0, U, 0, "chunk_size"},
	    {2 * MiB, 3000, 0, 0, 0, "power of two"},
	    {2 * MiB, 3000, 0, U, 0, NULL},
	    {2 * MiB - 100, 2048, 0, 0, 0, "multiple"},
	    {2 * MiB - 100, 2048, 0, U, 0, NULL},
	    {1000, 2048, 0, 0, 0, "smaller than one chunk"},
	    {2 * MiB, 2048, 0, 0x80, 0, "flags"},
	    {2 * MiB, 2048, 0, 0, 1000, "fill_size"},
	    {2 * MiB, 2048, 0, 0, 4096, NULL},
	};
	void *area = contig_alloc(2 * MiB, CONTIG_MAX_ADDRESS);
	char why[200];

	(void)state;
	assert_non_null(area);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct geom *g = &table[i];
		struct contig_xsk_umem_config c = {.size = g->size,
						   .chunk_size = g->chunk,
						   .headroom = g->headroom,
						   .flags = g->flags,
						   .fill_size = g->fill};
		int ours = contig_xsk_umem_check(&c, why, sizeof(why));
		int kernel = kernel_verdict(area, g);

		printf("size %zu chunk %u headroom %u flags %#x fill %u: kernel %d, ours %d %s\n",
		       g->size, g->chunk, g->headroom, g->flags, g->fill, kernel, ours, why);
		assert_int_equal(ours == 0, kernel == 0);
		if (g->why) {
			assert_int_equal(ours, -1);
			assert_int_equal(errno, EINVAL);
			assert_int_equal(kernel, -EINVAL);
			assert_non_null(strstr(why, g->why));
		} else {
			assert_int_equal(ours, 0);
			assert_string_equal(why, "");
		}
	}
	contig_free(area);
}

static void test_umem_create_refusals(void **state)
{
	struct contig_xsk_umem_config bad = {.size = 2 * MiB, .chunk_size = 3000};
	struct contig_xsk_umem_config low = {
	    .size = 2 * MiB, .chunk_size = 2048, .highest_acceptable_address = 0xFFFFF};
	int fds = fd_count();

	(void)state;
	assert_true(wait_pool_idle(5000));
	errno = 0;
	assert_null(contig_xsk_umem_create(&bad));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(contig_xsk_last_error(), "power of two"));
	errno = 0;
	assert_null(contig_xsk_umem_create(&low));
	assert_int_equal(errno, ENOMEM);
	assert_non_null(strstr(contig_xsk_last_error(), "contig_alloc"));
	errno = 0;
	assert_null(contig_xsk_umem_create(NULL));
	assert_int_equal(errno, EINVAL);
	/* Nothing taken, nothing left open. */
	assert_true(wait_pool_idle(5000));
	assert_int_equal(fd_count(), fds);
}

/* ---- packets ---- */

struct rig {
	struct contig_xsk_umem *u;
	struct contig_xsk_socket *s;
	struct contig_xdp_prog *prog;
	int peer;
};

static void rig_up(struct rig *r, const char *obj)
{
	struct contig_xsk_umem_config c = {
	    .size = NCHUNKS * 2048, .chunk_size = 2048, .headroom = 64};

	r->u = contig_xsk_umem_create(&c);
	assert_non_null(r->u);
	r->s = contig_xsk_socket_create(r->u, v.host, 0, 0, 0, XDP_FLAGS_SKB_MODE, XDP_COPY);
	if (!r->s)
		fail_msg("socket: %s", contig_xsk_last_error());
	r->prog = contig_xdp_prog_attach(obj, v.host, XDP_FLAGS_SKB_MODE);
	if (!r->prog)
		fail_msg("program: %s", contig_xsk_last_error());
	assert_int_equal(contig_xdp_prog_add_socket(r->prog, 0, r->s), 0);
	assert_int_equal(contig_xsk_umem_fill(r->u, 0, RX_CHUNKS), RX_CHUNKS);
	r->peer = vethns_peer_socket(&v, ETH_P_CONTIG);
	assert_true(r->peer >= 0);
}

static void rig_down(struct rig *r)
{
	close(r->peer);
	contig_xdp_prog_detach(r->prog);
	contig_xsk_socket_destroy(r->s);
	assert_int_equal(contig_xsk_umem_destroy(r->u), 0);
}

static size_t make_frame(uint8_t *f, uint16_t type, unsigned int seq, const uint8_t *dst,
			 const uint8_t *src)
{
	size_t len = 60 + (seq * 97) % 1455; /* 60 .. 1514 */

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = type >> 8;
	f[13] = type & 0xff;
	f[14] = (uint8_t)(seq >> 8);
	f[15] = (uint8_t)seq;
	for (size_t k = 16; k < len; k++)
		f[k] = (uint8_t)(seq * 31 + k * 7);
	return len;
}

/* Take every frame on the RX ring: check where it lies, count the
 * expected ones (byte-exact) by seq, give the chunks back. */
static unsigned int rx_drain(struct rig *r, uint16_t type, bool *seen, unsigned int lo,
			     unsigned int hi, unsigned int *others)
{
	uint8_t want[2048];
	uint32_t idx = 0;
	unsigned int got = 0, k = xsk_ring_cons__peek(&r->s->rx, 64, &idx);
	uint64_t base_phys = contig_phys_addr(r->u->area);

	for (unsigned int i = 0; i < k; i++) {
		const struct xdp_desc *dsc = xsk_ring_cons__rx_desc(&r->s->rx, idx + i);
		const uint8_t *f = xsk_umem__get_data(r->u->area, dsc->addr);
		unsigned int seq = (unsigned int)(f[14] << 8 | f[15]);

		/* In the UMEM, after the headroom, and physically where contig says. */
		assert_true(dsc->addr + dsc->len <= r->u->size);
		assert_true(dsc->addr % 2048 >= 64);
		assert_int_equal(contig_phys_addr(f), base_phys + dsc->addr);
		assert_int_equal(pagemap_phys(f), contig_phys_addr(f));
		if ((f[12] << 8 | f[13]) != type || seq < lo || seq >= hi) {
			(*others)++;
		} else {
			size_t len = make_frame(want, type, seq, v.host_mac, v.peer_mac);
			assert_int_equal(dsc->len, len);
			assert_memory_equal(f, want, len);
			assert_false(seen[seq - lo]);
			seen[seq - lo] = true;
			got++;
		}
	}
	if (k) {
		uint32_t fidx = 0;
		assert_int_equal(xsk_ring_prod__reserve(&r->u->fill, k, &fidx), k);
		for (unsigned int i = 0; i < k; i++)
			*xsk_ring_prod__fill_addr(&r->u->fill, fidx + i) =
			    xsk_ring_cons__rx_desc(&r->s->rx, idx + i)->addr & ~2047ull;
		xsk_ring_prod__submit(&r->u->fill, k);
		xsk_ring_cons__release(&r->s->rx, k);
	}
	return got;
}

/* Wait (poll, up to 2 s per quiet spell) until the frames numbered
 * lo..hi-1 came; returns how many did. */
static unsigned int rx_collect(struct rig *r, uint16_t type, unsigned int lo, unsigned int hi,
			       unsigned int *others)
{
	bool *seen = calloc(hi - lo, sizeof(*seen));
	unsigned int got = 0;

	assert_non_null(seen);
	while (got < hi - lo) {
		struct pollfd p = {.fd = r->s->fd, .events = POLLIN};
		unsigned int k = rx_drain(r, type, seen, lo, hi, others);
		got += k;
		if (!k && poll(&p, 1, 2000) == 0)
			break;
	}
	free(seen);
	return got;
}

static void test_rx_into_contig_umem(void **state)
{
	const unsigned int n = 2000, batch = 100;
	unsigned int others = 0, got = 0;
	uint8_t f[2048];
	struct rig r;

	(void)state;
	rig_up(&r, NULL); /* built-in program: every frame to the socket */
	/* 2000 frames through 512 fill chunks: chunks must be recycled. */
	for (unsigned int first = 0; first < n; first += batch) {
		for (unsigned int seq = first; seq < first + batch; seq++) {
			size_t len = make_frame(f, ETH_P_CONTIG, seq, v.host_mac, v.peer_mac);
			assert_int_equal(vethns_peer_send(r.peer, f, len), 0);
		}
		got += rx_collect(&r, ETH_P_CONTIG, first, first + batch, &others);
	}
	assert_int_equal(got, n);
	assert_int_equal(others, 0); /* IPv6 is off: the kernel sent nothing of its own */
	printf("rx: %u frames (60..1514 bytes) from netns %s arrived byte-exact in contig UMEM\n",
	       n, v.ns);
	rig_down(&r);
}

static void test_tx_from_contig_umem(void **state)
{
	const unsigned int n = 300;
	uint8_t want[2048], got[2048];
	unsigned int done = 0, received = 0;
	bool back[300] = {false};
	struct rig r;
	uint32_t idx = 0;

	(void)state;
	rig_up(&r, NULL);
	/* TX from chunks RX_CHUNKS.. (the fill ring holds the others). */
	for (unsigned int seq = 0; seq < n; seq += 50) {
		assert_int_equal(xsk_ring_prod__reserve(&r.s->tx, 50, &idx), 50);
		for (unsigned int i = 0; i < 50; i++) {
			uint64_t addr = (uint64_t)(RX_CHUNKS + seq + i) * 2048;
			struct xdp_desc *dsc = xsk_ring_prod__tx_desc(&r.s->tx, idx + i);
			dsc->addr = addr;
			dsc->len =
			    (uint32_t)make_frame(xsk_umem__get_data(r.u->area, addr), ETH_P_CONTIG,
						 seq + i, v.peer_mac, v.host_mac);
			dsc->options = 0;
		}
		xsk_ring_prod__submit(&r.s->tx, 50);
		/* Copy mode transmits on sendto; it may stop early (EAGAIN)
		 * and wants another kick. */
		for (unsigned int c = 0, spins = 0; c < 50; spins++) {
			assert_true(spins < 2000); /* 2 s without a completion */
			uint32_t cidx = 0;
			(void)sendto(r.s->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
			unsigned int k = xsk_ring_cons__peek(&r.u->comp, 64, &cidx);
			for (unsigned int j = 0; j < k; j++) {
				uint64_t a = *xsk_ring_cons__comp_addr(&r.u->comp, cidx + j);
				assert_int_equal(a, (uint64_t)(RX_CHUNKS + seq + c + j) * 2048);
			}
			xsk_ring_cons__release(&r.u->comp, k);
			c += k;
			done += k;
			if (!k)
				usleep(1000);
		}
		/* The peer has them all now, in order. */
		for (unsigned int i = 0; i < 50; i++) {
			int len = vethns_peer_recv(r.peer, got, sizeof(got), 2000);
			assert_true(len > 0);
			unsigned int s = (unsigned int)(got[14] << 8 | got[15]);
			assert_true(s < n);
			assert_int_equal(len,
					 make_frame(want, ETH_P_CONTIG, s, v.peer_mac, v.host_mac));
			assert_memory_equal(got, want, (size_t)len);
			assert_false(back[s]);
			back[s] = true;
			received++;
		}
	}
	assert_int_equal(done, n);
	assert_int_equal(received, n);
	printf("tx: %u frames from contig UMEM arrived byte-exact at the peer in %s\n", n, v.ns);
	rig_down(&r);
}

/* A program of one's own (examples/bpf/xsk_ethertype.bpf.c): only 0x88B5
 * frames reach the socket, the rest reach the kernel stack. */
static void test_custom_program(void **state)
{
	const char *obj = ethertype_obj;
	uint8_t f[2048];
	unsigned int others = 0;
	struct rig r;
	int stack, n_other = 0;

	(void)state;
	assert_non_null(obj);
	rig_up(&r, obj);
	/* What XDP passes, the stack sees: a packet socket on the host end. */
	struct sockaddr_ll sa = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_OTHER),
				 .sll_ifindex = (int)if_nametoindex(v.host)};
	stack = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_OTHER));
	assert_true(stack >= 0);
	assert_int_equal(bind(stack, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (unsigned int seq = 0; seq < 40; seq++) {
		uint16_t type = seq % 2 ? ETH_P_CONTIG : ETH_P_OTHER;
		size_t len = make_frame(f, type, seq / 2, v.host_mac, v.peer_mac);
		assert_int_equal(vethns_peer_send(r.peer, f, len), 0);
	}
	/* veth delivers in order: once the last 0x88B5 frame is in, every
	 * 0x88B6 frame before it has been decided too. */
	assert_int_equal(rx_collect(&r, ETH_P_CONTIG, 0, 20, &others), 20);
	assert_int_equal(others, 0);
	while (vethns_peer_recv(stack, f, sizeof(f), 200) > 0)
		n_other++;
	assert_int_equal(n_other, 20);
	close(stack);
	rig_down(&r);
}

static void test_refusals_and_teardown(void **state)
{
	struct contig_xsk_umem_config c = {.size = 2 * MiB, .chunk_size = 4096};
	struct contig_xsk_umem *u;
	struct contig_xsk_socket *s;
	struct contig_xdp_prog *p, *q;
	int fds = fd_count();

	(void)state;
	u = contig_xsk_umem_create(&c);
	assert_non_null(u);
	errno = 0;
	assert_null(
	    contig_xsk_socket_create(u, "nonexistent0", 0, 0, 0, XDP_FLAGS_SKB_MODE, XDP_COPY));
	assert_int_equal(errno, ENODEV);
	errno = 0;
	assert_null(contig_xsk_socket_create(u, v.host, 0, 1000, 0, XDP_FLAGS_SKB_MODE, XDP_COPY));
	assert_int_equal(errno, EINVAL);
	s = contig_xsk_socket_create(u, v.host, 0, 0, 0, XDP_FLAGS_SKB_MODE, XDP_COPY);
	assert_non_null(s);
	/* The socket still holds the UMEM: refused, and nothing freed. */
	errno = 0;
	assert_int_equal(contig_xsk_umem_destroy(u), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(contig_phys_addr(u->area) != CONTIG_PHYS_INVALID, 1);

	p = contig_xdp_prog_attach(NULL, v.host, XDP_FLAGS_SKB_MODE);
	assert_non_null(p);
	errno = 0;
	q = contig_xdp_prog_attach(NULL, v.host, XDP_FLAGS_SKB_MODE);
	assert_null(q);
	assert_true(errno == EEXIST || errno == EBUSY);
	errno = 0;
	assert_null(contig_xdp_prog_attach("/nonexistent/prog.o", v.host, XDP_FLAGS_SKB_MODE));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(contig_xdp_prog_attach(NULL, "nonexistent0", XDP_FLAGS_SKB_MODE));
	assert_int_equal(errno, ENODEV);
	errno = 0;
	assert_int_equal(contig_xdp_prog_add_socket(p, 0, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(contig_xdp_prog_add_socket(p, 0, s), 0);
	contig_xdp_prog_detach(p);
	/* Detached: a new program can be attached. */
	p = contig_xdp_prog_attach(NULL, v.host, XDP_FLAGS_SKB_MODE);
	assert_non_null(p);
	contig_xdp_prog_detach(p);

	contig_xsk_socket_destroy(s);
	assert_int_equal(contig_xsk_umem_destroy(u), 0);
	assert_int_equal(contig_xsk_umem_destroy(NULL), 0);
	assert_int_equal(fd_count(), fds);
	assert_true(wait_pool_idle(5000));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_umem_check_matches_kernel),
	    cmocka_unit_test(test_umem_create_refusals),
	    cmocka_unit_test(test_rx_into_contig_umem),
	    cmocka_unit_test(test_tx_from_contig_umem),
	    cmocka_unit_test(test_custom_program),
	    cmocka_unit_test(test_refusals_and_teardown),
	};
	int failed;

	if (geteuid() != 0) {
		printf("skipped: needs root (network namespaces, XDP, AF_XDP)\n");
		return 77;
	}
	ethertype_obj = argc > 1 ? argv[1] : NULL;
	int probe = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (probe < 0 && errno == EAFNOSUPPORT) {
		printf("skipped: this kernel has no AF_XDP (CONFIG_XDP_SOCKETS)\n");
		return 77;
	}
	if (probe >= 0)
		close(probe);
	if (system("ip -V >/dev/null 2>&1") != 0) {
		printf("skipped: ip(8) (iproute2) is not installed\n");
		return 77;
	}
	failed = cmocka_run_group_tests_name("xdp", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
