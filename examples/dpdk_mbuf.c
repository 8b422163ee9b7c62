/* SPDX-License-Identifier: MIT */
/*
 * dpdk_mbuf.c - a DPDK mbuf pool in contig memory, with packets moved
 * through a software PMD (net_ring: its TX queue feeds its own RX queue).
 *
 * Run (as root, contigd running; DPDK takes no hugepages of its own):
 *   build/daemon/contigd --socket /tmp/c.sock --pool 64M & sleep 1; CONTIG_SOCKET=/tmp/c.sock
 * build/examples/contig-dpdk-mbuf
 *
 * The lines a DPDK application adds are marked "contig:". Everything else
 * is ordinary DPDK: EAL init, a port, an mbuf pool, rx/tx bursts. The
 * program checks what the library promises: every mbuf's buf_iova is the
 * physical address contigd gave its buffer, and lies below the ceiling
 * (optional argument, e.g. 0xffffffff; default none).
 *
 * EAL runs with --no-huge (contig owns the hugepages), which makes DPDK
 * choose IOVA-as-VA for its own small memory; the contig heap keeps the
 * physical addresses it was registered with as IOVAs all the same (see
 * contig_dpdk.h).
 */
#include <contig.h>
#include <contig_dpdk.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define HEAP "contig"
#define NB_MBUF 4095
#define BURST 32
#define ROUNDS 64

static uint64_t ceiling = CONTIG_MAX_ADDRESS;
static unsigned long bad_iova;

/* Each mbuf's buffer: its IOVA is what contig says about its address. */
static void check_mbuf(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	struct rte_mbuf *m = obj;

	(void)mp, (void)arg, (void)idx;
	if (m->buf_iova != contig_phys_addr(m->buf_addr) || m->buf_iova + m->buf_len - 1 > ceiling)
		bad_iova++;
}

/* contig: queues on the heap's socket too, so a hardware PMD puts its
 * descriptor rings in contig memory (net_ring has none). */
static int port_start(uint16_t port, struct rte_mempool *mp, int socket)
{
	struct rte_eth_conf conf = {0};
	int r;

	r = rte_eth_dev_configure(port, 1, 1, &conf);
	if (r == 0)
		r = rte_eth_rx_queue_setup(port, 0, 512, socket, NULL, mp);
	if (r == 0)
		r = rte_eth_tx_queue_setup(port, 0, 512, socket, NULL);
	if (r == 0)
		r = rte_eth_dev_start(port);
	return r;
}

/* Send ROUNDS bursts with a numbered payload; receive and check them. */
static int move_packets(uint16_t port, struct rte_mempool *mp, unsigned long *moved)
{
	struct rte_mbuf *tx[BURST], *rx[BURST];

	for (unsigned int round = 0; round < ROUNDS; round++) {
		if (rte_pktmbuf_alloc_bulk(mp, tx, BURST))
			return -ENOMEM;
		for (unsigned int i = 0; i < BURST; i++) {
			char *p = rte_pktmbuf_append(tx[i], 64);
			if (!p) {
				rte_pktmbuf_free_bulk(tx, BURST);
				return -ENOMEM;
			}
			memset(p, 0, 64);
			snprintf(p, 64, "contig packet %u/%u", round, i);
		}
		uint16_t sent = rte_eth_tx_burst(port, 0, tx, BURST);
		uint16_t got = rte_eth_rx_burst(port, 0, rx, BURST);
		if (sent != BURST || got != sent)
			return -EIO;
		for (unsigned int i = 0; i < got; i++) {
			char want[64] = {0};
			snprintf(want, sizeof(want), "contig packet %u/%u", round, i);
			if (rte_pktmbuf_data_len(rx[i]) != 64 ||
			    memcmp(rte_pktmbuf_mtod(rx[i], char *), want, 64))
				return -EBADMSG;
			check_mbuf(mp, NULL, rx[i], 0);
			rte_pktmbuf_free(rx[i]);
		}
		*moved += got;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = {
	    argv[0],	"--no-huge",	    "-m", "64", "--no-shconf",	  prefix,
	    "--no-pci", "--vdev=net_ring0", "-l", "0",	"--no-telemetry", "--log-level=*:warning"};
	struct timespec t0, t1;
	struct rte_mempool *mp;
	unsigned long moved = 0;
	uint16_t port = 0;
	int socket, r;

	if (argc > 1)
		ceiling = strtoull(argv[1], NULL, 0);
	snprintf(prefix, sizeof(prefix), "--file-prefix=contig-mbuf-%d", (int)getpid());
	if (rte_eal_init(sizeof(eal) / sizeof(eal[0]), eal) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	/* contig: a heap of 16 MiB of contig memory, every byte <= ceiling. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	socket = contig_dpdk_heap_create(HEAP, 16 << 20, ceiling);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (socket < 0) {
		fprintf(stderr, "contig_dpdk_heap_create: %s (is contigd running?)\n",
			strerror(errno));
		rte_eal_cleanup();
		return 1;
	}
	/* contig: ordinary DPDK allocation, on the heap's socket id. */
	mp = rte_pktmbuf_pool_create("mbufs", NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!mp || port_start(port, mp, socket) < 0) {
		fprintf(stderr, "pool or port: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	r = move_packets(port, mp, &moved);
	rte_mempool_obj_iter(mp, check_mbuf, NULL);
	printf("heap \"%s\": socket %d, 16 MiB made in %.2f ms; IOVA mode %s; %lu packets "
	       "moved through net_ring0; %u mbufs checked, %lu with an IOVA that is not their "
	       "physical address or is above the ceiling\n",
	       HEAP, socket,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	       rte_eal_iova_mode() == RTE_IOVA_PA ? "PA" : "VA", moved, mp->size, bad_iova);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_mempool_free(mp);
	/* contig: the heap is empty again; give its memory back. */
	if (contig_dpdk_heap_destroy(HEAP) < 0)
		fprintf(stderr, "contig_dpdk_heap_destroy: %s\n", strerror(errno));
	rte_eal_cleanup();
	return r < 0 || bad_iova ? 1 : 0;
}
