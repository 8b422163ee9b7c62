/* SPDX-License-Identifier: MIT */
/*
 * dpdk_shared.c - one mbuf pool used by two independent DPDK processes,
 * without DPDK's multi-process machinery (no --proc-type=secondary, no
 * shared config, no IPC): the memory is shared through contigd.
 *
 * Run (as root, contigd running; DPDK takes no hugepages of its own):
 *   build/daemon/contigd --socket /tmp/c.sock --pool 64M & sleep 1; CONTIG_SOCKET=/tmp/c.sock
 * build/examples/contig-dpdk-shared
 *
 * The primary makes a contig heap, an mbuf pool on it (cache_size 0: lcore
 * ids of two EALs collide) and an rte_ring on it for the hand-off, exports
 * the pool (contig_dpdk_mempool_export) and starts the secondary: itself,
 * exec'd with "--secondary FD", an EAL of its own. The share and the ring's
 * address go over the socket FD. The secondary imports the pool at the same
 * address (contig_dpdk_mempool_import), gives it to the RX queue of its own
 * net_ring0 port, sends numbered packets allocated from the pool and
 * receives them, and enqueues every received mbuf on the shared ring. The
 * primary dequeues them, checks each payload and that the buffer's IOVA is
 * its physical address, and frees the mbuf into the pool, from which the
 * secondary allocates again: 131072 packets go through a pool of 1023
 * mbufs, so each buffer goes round the two processes ~128 times. Both
 * check every mbuf's buf_iova against contig_phys_addr in their own
 * address space. The lines that are not plain DPDK are marked "contig:".
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_dpdk.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>

#define HEAP "shared"
#define NB_MBUF 1023
#define PACKETS (1u << 17)
#define BURST 32
#define PAYLOAD 64
#define STALL_NS (10ull * 1000000000ull) /* no progress for that long: the peer is gone */

/* Primary -> secondary. */
struct offer {
	struct contig_dpdk_share share;
	uint64_t ring; /* the hand-off ring, in the shared heap */
	uint32_t packets;
};

/* Secondary -> primary, when it is done. */
struct report {
	int32_t err; /* 0, or the errno of what failed */
	char what[64];
	double eal_ms, import_ms, detach_ms;
	uint64_t moved, bad_iova;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int eal_start(const char *argv0, const char *role, bool with_port)
{
	char prefix[64];
	char *eal[] = {(char *)argv0,
		       "--no-huge",
		       "-m",
		       "64",
		       "--no-shconf",
		       prefix,
		       "--no-pci",
		       "--no-telemetry",
		       "-l",
		       "0",
		       "--log-level=*:warning",
		       "--vdev=net_ring0"};
	int n = sizeof(eal) / sizeof(eal[0]) - (with_port ? 0 : 1);

	snprintf(prefix, sizeof(prefix), "--file-prefix=contig-shared-%s-%d", role, (int)getpid());
	if (rte_eal_init(n, eal) < 0) {
		fprintf(stderr, "%s: rte_eal_init: %s\n", role, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* EAL leaves its (empty, with --no-shconf) runtime directory behind. */
static void eal_stop(void)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
}

/* The buffer's IOVA is the physical address contigd gave it, as this
 * process sees it. */
static bool iova_ok(const struct rte_mbuf *m)
{
	return m->buf_iova == contig_phys_addr(m->buf_addr);
}

static void count_bad_iova(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	(void)mp, (void)idx;
	*(uint64_t *)arg += !iova_ok(obj);
}

static void payload_fill(uint8_t *p, uint64_t seq)
{
	memcpy(p, &seq, sizeof(seq));
	for (unsigned int k = sizeof(seq); k < PAYLOAD; k++)
		p[k] = (uint8_t)(seq * 7 + k);
}

static bool payload_ok(const struct rte_mbuf *m, uint64_t seq)
{
	uint8_t want[PAYLOAD];

	payload_fill(want, seq);
	return rte_pktmbuf_pkt_len(m) == PAYLOAD &&
	       !memcmp(rte_pktmbuf_mtod(m, const uint8_t *), want, PAYLOAD);
}

/* ---- secondary ---- */

static int port_start(uint16_t port, struct rte_mempool *mp)
{
	struct rte_eth_conf conf = {0};
	int r;

	r = rte_eth_dev_configure(port, 1, 1, &conf);
	if (r == 0)
		r = rte_eth_rx_queue_setup(port, 0, 512, SOCKET_ID_ANY, NULL, mp);
	if (r == 0)
		r = rte_eth_tx_queue_setup(port, 0, 512, SOCKET_ID_ANY, NULL);
	if (r == 0)
		r = rte_eth_dev_start(port);
	return r;
}

/* Allocate from the shared pool (waiting while the primary still holds
 * every mbuf), send through the port, receive, hand over. */
static int move_packets(uint16_t port, struct rte_mempool *mp, struct rte_ring *ring,
			uint32_t packets, struct report *rep)
{
	struct rte_mbuf *tx[BURST], *rx[BURST];
	uint64_t last = now_ns();

	while (rep->moved < packets) {
		unsigned int want = packets - rep->moved < BURST ? packets - rep->moved : BURST;
		unsigned int got, done = 0;

		if (rte_pktmbuf_alloc_bulk(mp, tx, want)) {
			if (now_ns() - last > STALL_NS)
				return -ETIMEDOUT;
			rte_pause();
			continue;
		}
		for (unsigned int i = 0; i < want; i++)
			payload_fill((uint8_t *)rte_pktmbuf_append(tx[i], PAYLOAD), rep->moved + i);
		if (rte_eth_tx_burst(port, 0, tx, want) != want)
			return -EIO;
		got = rte_eth_rx_burst(port, 0, rx, BURST);
		if (got != want)
			return -EIO;
		for (unsigned int i = 0; i < got; i++) {
			if (!payload_ok(rx[i], rep->moved + i) || rx[i]->pool != mp)
				return -EBADMSG;
			rep->bad_iova += !iova_ok(rx[i]);
		}
		while (done < got) {
			done +=
			    rte_ring_sp_enqueue_burst(ring, (void **)rx + done, got - done, NULL);
			if (now_ns() - last > STALL_NS)
				return -ETIMEDOUT;
		}
		rep->moved += got;
		last = now_ns();
	}
	return 0;
}

static int secondary(const char *argv0, int fd)
{
	struct report rep = {0};
	struct timespec t0;
	struct rte_mempool *mp;
	struct offer o;
	uint16_t port = 0;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (eal_start(argv0, "secondary", true) < 0)
		return 1;
	rep.eal_ms = ms_since(&t0);
	if (recv(fd, &o, sizeof(o), 0) != (ssize_t)sizeof(o)) {
		perror("secondary: recv offer");
		return 1;
	}
	/* contig: map the pool's heap at the primary's addresses, register it
	 * with this EAL (IOVAs = physical addresses), get the pool as is. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mp = contig_dpdk_mempool_import(&o.share);
	rep.import_ms = ms_since(&t0);
	if (!mp) {
		rep.err = errno;
		snprintf(rep.what, sizeof(rep.what), "contig_dpdk_mempool_import");
		goto out;
	}
	rte_mempool_obj_iter(mp, count_bad_iova, &rep.bad_iova);
	/* Imported: the primary stops waiting and starts reading. */
	if (send(fd, &rep, sizeof(rep), 0) != (ssize_t)sizeof(rep)) {
		perror("secondary: send");
		return 1;
	}
	r = port_start(port, mp);
	if (r == 0)
		r = move_packets(port, mp, (struct rte_ring *)(uintptr_t)o.ring, o.packets, &rep);
	if (r < 0) {
		rep.err = -r;
		snprintf(rep.what, sizeof(rep.what), "port or packets");
	}
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	/* contig: this process's references go; the primary's pool stays. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (contig_dpdk_heap_detach(&o.share) < 0 && !rep.err) {
		rep.err = errno;
		snprintf(rep.what, sizeof(rep.what), "contig_dpdk_heap_detach");
	}
	rep.detach_ms = ms_since(&t0);
out:
	if (send(fd, &rep, sizeof(rep), 0) != (ssize_t)sizeof(rep))
		perror("secondary: send report");
	eal_stop();
	return rep.err ? 1 : 0;
}

/* ---- primary ---- */

static pid_t spawn_secondary(int fd)
{
	char self[4096], fdarg[16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;

	if (n < 0)
		return -1;
	self[n] = 0;
	pid = fork();
	if (pid == 0) {
		/* dup2 drops CLOEXEC: the secondary inherits this one fd. */
		if (dup2(fd, 3) < 0)
			_exit(127);
		snprintf(fdarg, sizeof(fdarg), "%d", 3);
		execl(self, self, "--secondary", fdarg, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Take every packet the secondary hands over, check it, free it into the
 * pool for the secondary to allocate again. */
static int drain(struct rte_ring *ring, struct rte_mempool *mp, pid_t child, uint64_t *bad_iova)
{
	struct rte_mbuf *m[BURST];
	uint64_t seen = 0, last = now_ns();

	while (seen < PACKETS) {
		unsigned int n = rte_ring_sc_dequeue_burst(ring, (void **)m, BURST, NULL);

		if (n == 0) {
			if (now_ns() - last > STALL_NS || waitpid(child, NULL, WNOHANG) == child)
				return -ECHILD;
			rte_pause();
			continue;
		}
		for (unsigned int i = 0; i < n; i++, seen++) {
			if (!payload_ok(m[i], seen) || m[i]->pool != mp)
				return -EBADMSG;
			*bad_iova += !iova_ok(m[i]);
			rte_pktmbuf_free(m[i]);
		}
		last = now_ns();
	}
	return 0;
}

static int primary(const char *argv0)
{
	struct rte_mempool *mp = NULL;
	struct rte_ring *ring = NULL;
	struct report rep = {0};
	struct offer o = {.packets = PACKETS};
	struct timespec t0;
	uint64_t bad_iova = 0;
	double export_ms;
	int sv[2] = {-1, -1}, socket, r = -1, status;
	pid_t child = -1;

	if (eal_start(argv0, "primary", false) < 0)
		return 1;
	/* contig: 8 MiB of contig memory as a DPDK heap; on its socket id,
	 * the pool (no per-lcore cache) and the hand-off ring. */
	socket = contig_dpdk_heap_create(HEAP, 8 << 20, CONTIG_MAX_ADDRESS);
	if (socket < 0) {
		fprintf(stderr, "contig_dpdk_heap_create: %s (is contigd running?)\n",
			strerror(errno));
		goto out;
	}
	mp = rte_pktmbuf_pool_create("shared_mbufs", NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     socket);
	ring = rte_ring_create("handoff", 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!mp || !ring) {
		fprintf(stderr, "pool or ring: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	rte_mempool_obj_iter(mp, count_bad_iova, &bad_iova);
	/* contig: the share: a handle and an address per region, the pool's
	 * address and ops. Plain bytes, sent here over a socket. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (contig_dpdk_mempool_export(mp, &o.share) < 0) {
		fprintf(stderr, "contig_dpdk_mempool_export: %s\n", strerror(errno));
		goto out;
	}
	export_ms = ms_since(&t0);
	o.ring = (uintptr_t)ring;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (child = spawn_secondary(sv[1])) < 0) {
		perror("secondary");
		goto out;
	}
	close(sv[1]);
	sv[1] = -1;
	if (send(sv[0], &o, sizeof(o), 0) != (ssize_t)sizeof(o)) {
		perror("send offer");
		goto out;
	}
	/* Wait (asleep, so the secondary's start has the CPUs) until it has
	 * imported the pool; then read what it receives; then its report. */
	if (recv(sv[0], &rep, sizeof(rep), 0) != (ssize_t)sizeof(rep) || rep.err)
		r = -EPIPE;
	else
		r = drain(ring, mp, child, &bad_iova);
	if ((!rep.err && recv(sv[0], &rep, sizeof(rep), 0) != (ssize_t)sizeof(rep)) ||
	    (r < 0 && !rep.err)) {
		rep.err = EPIPE;
		snprintf(rep.what, sizeof(rep.what), "no report");
	}
	if (rep.err)
		fprintf(stderr, "secondary: %s: %s\n", rep.what, strerror(rep.err));
	else if (r < 0)
		fprintf(stderr, "primary: receiving: %s\n", strerror(-r));
	else
		printf(
		    "secondary (pid %d, an EAL of its own): rte_eal_init %.1f ms; "
		    "contig_dpdk_mempool_import %.3f ms (%u region(s), %" PRIu64 " MiB at %p); "
		    "detach %.3f ms\n"
		    "%" PRIu64 " packets received by the secondary on net_ring0 into the pool of "
		    "%u mbufs, read and freed by the primary (each mbuf went round ~%" PRIu64
		    " times); export %.3f ms; mbufs with buf_iova != contig_phys_addr: primary "
		    "%" PRIu64 ", secondary %" PRIu64 "; all %u mbufs back in the pool: %s\n",
		    (int)child, rep.eal_ms, rep.import_ms, o.share.nchunks,
		    o.share.chunks[0].len >> 20, (void *)(uintptr_t)o.share.chunks[0].va,
		    rep.detach_ms, rep.moved, mp->size, rep.moved / mp->size, export_ms, bad_iova,
		    rep.bad_iova, mp->size, rte_mempool_avail_count(mp) == mp->size ? "yes" : "NO");
	if (waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    r == 0 && !rep.err && !bad_iova && !rep.bad_iova &&
	    rte_mempool_avail_count(mp) == mp->size)
		r = 0;
	else
		r = -1;
	child = -1;
out:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	rte_ring_free(ring);
	rte_mempool_free(mp);
	/* contig: the regions go back to contigd once no process holds them. */
	if (socket >= 0 && contig_dpdk_heap_destroy(HEAP) < 0)
		fprintf(stderr, "contig_dpdk_heap_destroy: %s\n", strerror(errno));
	eal_stop();
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--secondary"))
		return secondary(argv[0], atoi(argv[2]));
	return primary(argv[0]);
}
