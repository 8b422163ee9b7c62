/* SPDX-License-Identifier: MIT */
/*
 * test_dpdk_shared.c - one mbuf pool in contig memory used by two
 * independent DPDK processes (each its own EAL, --no-huge --no-shconf),
 * shared through contigd: contig_dpdk_mempool_export in this process (the
 * primary), contig_dpdk_mempool_import in a secondary that is this binary
 * exec'd with "--secondary MODE FD". The two talk over a SEQPACKET socket
 * (fd 3 in the secondary): the share goes one way, reports the other; the
 * packets go through an rte_ring in the shared heap.
 *
 * Modes of the secondary:
 *   ring    its net_ring0 port (RX queue on the imported pool) moves
 *           numbered packets it allocates from the pool; the primary reads
 *           and frees every one, so the pool recycles across processes;
 *           then the secondary takes every mbuf, the primary sees the pool
 *           empty, the secondary gives them back and detaches.
 *   null    its net_null0 port (copy=1) receives: the PMD allocates mbufs
 *           from the imported pool and writes 64 zero bytes into each;
 *           the primary sees those bytes where it had written 0xEE.
 *   errors  imports that must fail, and leave nothing mapped or registered.
 *   hold    imports, takes 100 mbufs and waits to be killed.
 * Every mbuf's buf_iova is checked in both processes against
 * contig_phys_addr and /proc/self/pagemap (root), and in the secondary
 * against its own EAL's memseg of the imported memory.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_dpdk.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_version.h>

#include "harness.h"
#include "rawclient.h"

#define MiB (1ull << 20)
#define PS (2 * MiB)
#define HEAP "shared"
#define NB_MBUF 1023
#define BURST 32
#define PAYLOAD 64
#define RING_PACKETS 32768u /* 32 rounds of the whole pool */
#define NULL_PACKETS 8192u
#define HOLD 100u
#define NERR 8
#define STALL_NS (10ull * 1000000000ull) /* a deadlock guard, not a timing check */

#define EXPECT_ERR(call, e)                                                                        \
	do {                                                                                       \
		errno = 0;                                                                         \
		assert_int_equal(call, -1);                                                        \
		assert_int_equal(errno, e);                                                        \
	} while (0)

/* Primary -> secondary. */
struct offer {
	struct contig_dpdk_share share;
	uint64_t ring;
	uint32_t packets;
};

/* Secondary -> primary, after each phase. */
struct report {
	int32_t err;  /* errno of the first failure, or 0 */
	int32_t line; /* and where, in the secondary */
	double eal_ms, import_ms, detach_ms;
	uint64_t mp; /* the pool pointer import returned */
	uint64_t moved, checked, bad_iova, bad_pagemap, bad_memseg;
	uint64_t avail; /* rte_mempool_avail_count as the secondary sees it */
	int32_t results[NERR];
	int32_t gone; /* after detach: nothing of the share mapped or registered */
};

static struct daemon_proc d;
static int teardown_status;
static const char *self_path;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

static int eal_start(const char *argv0, const char *role, bool ports)
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
		       "--vdev=net_ring0",
		       "--vdev=net_null0,copy=1,size=64"};
	int n = sizeof(eal) / sizeof(eal[0]) - (ports ? 0 : 2);

	snprintf(prefix, sizeof(prefix), "--file-prefix=contig-tshared-%s-%d", role, (int)getpid());
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

struct iova_count {
	uint64_t checked, bad_iova, bad_pagemap, bad_memseg;
	bool memseg; /* the secondary: also against its EAL's memseg */
};

/* The buffer's IOVA, as contig, the kernel and (in the secondary) DPDK's
 * registration of the imported memory see it in this process. */
static void check_iova(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	struct iova_count *c = arg;
	struct rte_mbuf *m = obj;
	volatile uint8_t *buf = m->buf_addr;

	(void)mp, (void)idx;
	(void)buf[0]; /* present, so pagemap can tell */
	c->checked++;
	c->bad_iova += m->buf_iova != contig_phys_addr(m->buf_addr);
	c->bad_pagemap += m->buf_iova != pagemap_phys(m->buf_addr);
	if (c->memseg) {
		const struct rte_memseg_list *msl = rte_mem_virt2memseg_list(m->buf_addr);
		const struct rte_memseg *ms = msl ? rte_mem_virt2memseg(m->buf_addr, msl) : NULL;
		c->bad_memseg +=
		    !ms || !msl->external ||
		    ms->iova + ((uintptr_t)m->buf_addr - (uintptr_t)ms->addr) != m->buf_iova;
	}
}

/* ---- the secondary ---- */

#define FAIL_IF(cond, e)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			int e_ = (e);                                                              \
			rep->err = e_ ? e_ : EIO;                                                  \
			rep->line = __LINE__;                                                      \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static int sec_port(const char *name, struct rte_mempool *mp, uint16_t *ret, struct report *rep)
{
	struct rte_eth_conf conf = {0};
	uint16_t port;

	FAIL_IF(rte_eth_dev_get_port_by_name(name, &port) != 0, ENODEV);
	FAIL_IF(rte_eth_dev_configure(port, 1, 1, &conf) != 0, EIO);
	FAIL_IF(rte_eth_rx_queue_setup(port, 0, 512, SOCKET_ID_ANY, NULL, mp) != 0, EIO);
	FAIL_IF(rte_eth_tx_queue_setup(port, 0, 512, SOCKET_ID_ANY, NULL) != 0, EIO);
	FAIL_IF(rte_eth_dev_start(port) != 0, EIO);
	*ret = port;
	return 0;
}

static int hand_over(struct rte_ring *ring, struct rte_mbuf **m, unsigned int n, struct report *rep)
{
	uint64_t t0 = now_ns();
	unsigned int done = 0;

	while (done < n) {
		done += rte_ring_sp_enqueue_burst(ring, (void **)m + done, n - done, NULL);
		FAIL_IF(now_ns() - t0 > STALL_NS, ETIMEDOUT);
	}
	return 0;
}

/* Numbered packets allocated from the shared pool, sent and received on
 * net_ring0, handed to the primary, which frees them into the pool. */
static int sec_ring(struct rte_mempool *mp, const struct offer *o, struct report *rep)
{
	struct rte_ring *ring = (struct rte_ring *)(uintptr_t)o->ring;
	struct rte_mbuf *tx[BURST], *rx[BURST];
	uint64_t last = now_ns();
	uint16_t port;

	if (sec_port("net_ring0", mp, &port, rep) < 0)
		return -1;
	while (rep->moved < o->packets) {
		unsigned int want =
		    o->packets - rep->moved < BURST ? o->packets - rep->moved : BURST;

		if (rte_pktmbuf_alloc_bulk(mp, tx, want)) {
			FAIL_IF(now_ns() - last > STALL_NS, ETIMEDOUT);
			rte_pause();
			continue;
		}
		for (unsigned int i = 0; i < want; i++)
			payload_fill((uint8_t *)rte_pktmbuf_append(tx[i], PAYLOAD), rep->moved + i);
		FAIL_IF(rte_eth_tx_burst(port, 0, tx, want) != want, EIO);
		FAIL_IF(rte_eth_rx_burst(port, 0, rx, BURST) != want, EIO);
		for (unsigned int i = 0; i < want; i++) {
			FAIL_IF(!payload_ok(rx[i], rep->moved + i) || rx[i]->pool != mp, EBADMSG);
			rep->bad_iova += rx[i]->buf_iova != contig_phys_addr(rx[i]->buf_addr);
		}
		if (hand_over(ring, rx, want, rep) < 0)
			return -1;
		rep->moved += want;
		last = now_ns();
	}
	FAIL_IF(rte_eth_dev_stop(port) != 0 || rte_eth_dev_close(port) != 0, EIO);
	return 0;
}

/* net_null0 in copy mode: its RX allocates from the pool and copies its
 * 64-byte (zeroed) packet into each mbuf. */
static int sec_null(struct rte_mempool *mp, const struct offer *o, struct report *rep)
{
	struct rte_ring *ring = (struct rte_ring *)(uintptr_t)o->ring;
	struct rte_mbuf *rx[BURST];
	uint64_t last = now_ns();
	uint16_t port;

	if (sec_port("net_null0", mp, &port, rep) < 0)
		return -1;
	while (rep->moved < o->packets) {
		unsigned int want =
		    o->packets - rep->moved < BURST ? o->packets - rep->moved : BURST;
		unsigned int got = rte_eth_rx_burst(port, 0, rx, want);

		if (got == 0) { /* the pool is empty until the primary frees */
			FAIL_IF(now_ns() - last > STALL_NS, ETIMEDOUT);
			rte_pause();
			continue;
		}
		for (unsigned int i = 0; i < got; i++) {
			FAIL_IF(rx[i]->pool != mp || rx[i]->port != port, EBADMSG);
			rep->bad_iova += rx[i]->buf_iova != contig_phys_addr(rx[i]->buf_addr);
		}
		if (hand_over(ring, rx, got, rep) < 0)
			return -1;
		rep->moved += got;
		last = now_ns();
	}
	FAIL_IF(rte_eth_dev_stop(port) != 0 || rte_eth_dev_close(port) != 0, EIO);
	return 0;
}

static int send_report(int fd, const struct report *rep)
{
	return send(fd, rep, sizeof(*rep), 0) == (ssize_t)sizeof(*rep) ? 0 : -1;
}

static int wait_go(int fd)
{
	char c;

	return recv(fd, &c, 1, 0) == 1 ? 0 : -1;
}

/* After detach: nothing of the share left in this process. */
static bool share_gone(const struct contig_dpdk_share *s)
{
	for (uint32_t i = 0; i < s->nchunks; i++) {
		const void *va = (const void *)(uintptr_t)s->chunks[i].va;
		if (contig_phys_addr(va) != CONTIG_PHYS_INVALID || rte_mem_virt2memseg_list(va))
			return false;
	}
	return true;
}

/* The pool's mbufs, all of them, taken here; the primary then sees the
 * pool empty; given back. */
static int sec_take_all(int fd, struct rte_mempool *mp, struct report *rep)
{
	struct rte_mbuf **all = calloc(mp->size, sizeof(*all));
	int r;

	FAIL_IF(!all, ENOMEM);
	rep->avail = rte_mempool_avail_count(mp);
	r = rte_pktmbuf_alloc_bulk(mp, all, mp->size);
	if (r == 0 && (send_report(fd, rep) < 0 || wait_go(fd) < 0))
		r = -EPIPE;
	if (r == 0)
		rte_pktmbuf_free_bulk(all, mp->size);
	free(all);
	FAIL_IF(r != 0, r < 0 ? -r : ENOBUFS);
	return 0;
}

static int import_err(struct contig_dpdk_share s)
{
	errno = 0;
	if (contig_dpdk_mempool_import(&s)) {
		(void)contig_dpdk_heap_detach(&s);
		return 0;
	}
	return errno;
}

/* Imports that must fail here, each leaving nothing behind. The share has
 * two regions, so a failure at the second undoes the first. */
static int sec_errors(const struct offer *o, struct report *rep)
{
	struct contig_dpdk_share s = o->share;
	void *last = (void *)(uintptr_t)s.chunks[s.nchunks - 1].va, *p;

	FAIL_IF(s.nchunks < 2, EINVAL);
	/* The second region's address is taken here. */
	p = mmap(last, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	FAIL_IF(p != last, errno);
	rep->results[0] = import_err(s);
	munmap(p, PS);
	rep->results[1] = share_gone(&s) ? 0 : -1;
	/* A forged handle for the second region. */
	memset(s.chunks[1].handle.opaque, 0x5a, sizeof(s.chunks[1].handle.opaque));
	rep->results[2] = import_err(s);
	/* A handle that names another region than the one described. */
	s = o->share;
	s.chunks[1].phys ^= PS;
	rep->results[3] = import_err(s);
	/* A pool address past every region of the share. */
	s = o->share;
	s.mempool = 0;
	for (uint32_t i = 0; i < s.nchunks; i++)
		if (s.chunks[i].va + s.chunks[i].len > s.mempool)
			s.mempool = s.chunks[i].va + s.chunks[i].len;
	s.mempool += PS;
	rep->results[4] = import_err(s);
	rep->results[5] = share_gone(&o->share) ? 0 : -1;
	/* Imported twice: the addresses are taken by the first. */
	s = o->share;
	FAIL_IF(!contig_dpdk_mempool_import(&s), errno);
	rep->results[6] = import_err(s);
	FAIL_IF(contig_dpdk_heap_detach(&s) != 0, errno);
	errno = 0;
	rep->results[7] = contig_dpdk_heap_detach(&s) == -1 ? errno : 0;
	rep->gone = share_gone(&s);
	return 0;
}

static int sec_run(const char *mode, int fd, const struct offer *o, struct report *rep)
{
	struct iova_count c = {.memseg = true};
	struct rte_mempool *mp;
	uint64_t t0;
	int r;

	if (!strcmp(mode, "errors"))
		return sec_errors(o, rep);
	t0 = now_ns();
	mp = contig_dpdk_mempool_import(&o->share);
	rep->import_ms = ms_since(t0);
	FAIL_IF(!mp, errno);
	rep->mp = (uintptr_t)mp;
	rte_mempool_obj_iter(mp, check_iova, &c);
	rep->checked = c.checked;
	rep->bad_iova = c.bad_iova;
	rep->bad_pagemap = c.bad_pagemap;
	rep->bad_memseg = c.bad_memseg;
	if (!strcmp(mode, "hold")) {
		struct rte_mbuf *m[HOLD];
		FAIL_IF(rte_pktmbuf_alloc_bulk(mp, m, HOLD) != 0, ENOBUFS);
		FAIL_IF(send_report(fd, rep) < 0, EPIPE);
		pause(); /* until killed */
		return 0;
	}
	r = !strcmp(mode, "ring") ? sec_ring(mp, o, rep) : sec_null(mp, o, rep);
	if (r < 0)
		return r;
	FAIL_IF(send_report(fd, rep) < 0 || wait_go(fd) < 0, EPIPE);
	if (!strcmp(mode, "ring") && sec_take_all(fd, mp, rep) < 0)
		return -1;
	t0 = now_ns();
	FAIL_IF(contig_dpdk_heap_detach(&o->share) != 0, errno);
	rep->detach_ms = ms_since(t0);
	rep->gone = share_gone(&o->share);
	return 0;
}

static int secondary_main(const char *argv0, const char *mode, int fd)
{
	struct report rep = {0};
	uint64_t t0 = now_ns();
	struct offer o;

	if (eal_start(argv0, "secondary", true) < 0)
		return 1;
	rep.eal_ms = ms_since(t0);
	if (recv(fd, &o, sizeof(o), 0) != (ssize_t)sizeof(o))
		return 1;
	(void)sec_run(mode, fd, &o, &rep);
	(void)send_report(fd, &rep);
	eal_stop();
	return rep.err ? 1 : 0;
}

/* ---- the primary: this process ---- */

struct peer {
	pid_t pid;
	int fd;
};

static void peer_start(struct peer *p, const char *mode, const struct offer *o)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		/* dup2 drops CLOEXEC: the secondary inherits fd 3 only. */
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execl(self_path, self_path, "--secondary", mode, "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	p->fd = sv[0];
	assert_int_equal(send(p->fd, o, sizeof(*o), 0), (ssize_t)sizeof(*o));
}

static void peer_report(struct peer *p, struct report *rep)
{
	memset(rep, 0, sizeof(*rep));
	assert_int_equal(recv(p->fd, rep, sizeof(*rep), 0), (ssize_t)sizeof(*rep));
	if (rep->err)
		fprintf(stderr, "secondary failed at line %d: %s\n", rep->line, strerror(rep->err));
	assert_int_equal(rep->err, 0);
}

static void peer_go(struct peer *p)
{
	assert_int_equal(send(p->fd, "g", 1, 0), 1);
}

static void peer_wait(struct peer *p)
{
	int status;

	close(p->fd);
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The shared objects: a contig heap, the pool and the hand-off ring. */
struct world {
	int socket;
	struct rte_mempool *mp;
	struct rte_ring *ring;
	struct offer o;
};

static void world_make(struct world *w, size_t heap_bytes, int grows)
{
	memset(w, 0, sizeof(*w));
	assert_true(wait_pool_idle(5000));
	w->socket = contig_dpdk_heap_create(HEAP, heap_bytes, CONTIG_MAX_ADDRESS);
	assert_true(w->socket >= 0);
	for (int i = 0; i < grows; i++)
		assert_int_equal(contig_dpdk_heap_create(HEAP, PS, CONTIG_MAX_ADDRESS), w->socket);
	w->mp = rte_pktmbuf_pool_create("shared_mbufs", NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					w->socket);
	assert_non_null(w->mp);
	w->ring = rte_ring_create("handoff", 1024, w->socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(w->ring);
	assert_int_equal(contig_dpdk_mempool_export(w->mp, &w->o.share), 0);
	w->o.ring = (uintptr_t)w->ring;
}

static void world_free(struct world *w)
{
	rte_ring_free(w->ring);
	rte_mempool_free(w->mp);
	assert_int_equal(contig_dpdk_heap_destroy(HEAP), 0);
	/* Every page back in the pool: no process holds any region. */
	assert_true(wait_pool_idle(5000));
}

static void check_pool_iova(struct rte_mempool *mp)
{
	struct iova_count c = {0};

	rte_mempool_obj_iter(mp, check_iova, &c);
	assert_int_equal(c.checked, mp->size);
	assert_int_equal(c.bad_iova, 0);
	assert_int_equal(c.bad_pagemap, 0);
}

static void check_secondary_iova(const struct report *rep, const struct world *w)
{
	assert_int_equal(rep->mp, (uintptr_t)w->mp);
	assert_int_equal(rep->checked, w->mp->size);
	assert_int_equal(rep->bad_iova, 0);
	assert_int_equal(rep->bad_pagemap, 0);
	assert_int_equal(rep->bad_memseg, 0);
}

/* Dequeue n mbufs from the ring as the secondary hands them over; check
 * each with `check`; free them into the pool. */
static void drain(struct world *w, struct peer *p, uint32_t n,
		  void (*check)(struct rte_mbuf *m, uint64_t seq))
{
	struct rte_mbuf *m[BURST];
	uint64_t seen = 0, last = now_ns();

	while (seen < n) {
		unsigned int k = rte_ring_sc_dequeue_burst(w->ring, (void **)m, BURST, NULL);

		if (k == 0) {
			assert_true(now_ns() - last < STALL_NS);
			assert_int_equal(waitpid(p->pid, NULL, WNOHANG), 0);
			rte_pause();
			continue;
		}
		for (unsigned int i = 0; i < k; i++, seen++) {
			assert_ptr_equal(m[i]->pool, w->mp);
			assert_int_equal(m[i]->buf_iova, contig_phys_addr(m[i]->buf_addr));
			check(m[i], seen);
			rte_pktmbuf_free(m[i]);
		}
		last = now_ns();
	}
}

static void check_numbered(struct rte_mbuf *m, uint64_t seq)
{
	assert_true(payload_ok(m, seq));
}

static int setup_daemon(void **state)
{
	static const char *const args[] = {"--pool", "64M", NULL};

	(void)state;
	return daemon_start(&d, args);
}

static void test_before_eal(void **state)
{
	struct contig_dpdk_share s = {0};

	(void)state;
	EXPECT_ERR(contig_dpdk_heap_export(HEAP, &s), ENODEV);
	s.magic = CONTIG_DPDK_SHARE_MAGIC;
	s.nchunks = 1;
	s.chunks[0] = (struct contig_dpdk_share_chunk){.va = PS, .len = PS, .page_size = PS};
	EXPECT_ERR(contig_dpdk_heap_import(&s), ENODEV);
	EXPECT_ERR(contig_dpdk_heap_detach(&s), ENODEV);
}

static int setup_eal(void **state)
{
	(void)state;
	return eal_start(self_path, "primary", false);
}

static int teardown(void **state)
{
	(void)state;
	eal_stop();
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

/* What the share says, in the exporting process. */
static void test_export(void **state)
{
	struct contig_dpdk_share s, s2;
	struct contig_handle h;
	struct world w;

	(void)state;
	world_make(&w, 8 * MiB, 1);
	assert_int_equal(contig_dpdk_heap_export(HEAP, &s), 0);
	assert_int_equal(s.magic, CONTIG_DPDK_SHARE_MAGIC);
	/* Grown once: two regions at least (more if the pool had no 8 MiB run). */
	assert_true(s.nchunks >= 2);
	assert_string_equal(s.heap_name, HEAP);
	assert_string_equal(s.dpdk_version, rte_version());
	assert_int_equal(s.mempool, 0);
	for (uint32_t i = 0; i < s.nchunks; i++) {
		const void *va = (const void *)(uintptr_t)s.chunks[i].va;
		assert_int_equal(s.chunks[i].phys, contig_phys_addr(va));
		assert_int_equal(s.chunks[i].page_size, PS);
		assert_int_equal(contig_export(va, &h), 0);
		assert_memory_equal(&h, &s.chunks[i].handle, sizeof(h));
	}
	size_t sum = 0;
	for (uint32_t i = 0; i < s.nchunks; i++)
		sum += s.chunks[i].len;
	assert_int_equal(sum, contig_dpdk_heap_bytes(HEAP));
	/* The pool's share: the same regions, and the pool. */
	s2 = w.o.share;
	assert_int_equal(s2.mempool, (uintptr_t)w.mp);
	assert_int_equal(s2.ops_index, w.mp->ops_index);
	assert_string_equal(s2.ops_name, rte_mempool_get_ops(w.mp->ops_index)->name);
	assert_string_equal(s2.ops_name, "ring_mp_mc");
	assert_int_equal(s2.mempool_hdr_size, sizeof(struct rte_mempool));
	assert_memory_equal(s2.chunks, s.chunks, sizeof(s.chunks));
	check_pool_iova(w.mp);
	world_free(&w);
}

static void test_export_errors(void **state)
{
	struct contig_dpdk_share s;
	struct rte_mempool *cached, *elsewhere, *empty;
	struct world w;
	int socket;

	(void)state;
	memset(&s, 0x77, sizeof(s));
	EXPECT_ERR(contig_dpdk_heap_export("never-made", &s), ENOENT);
	EXPECT_ERR(contig_dpdk_heap_export(NULL, &s), EINVAL);
	EXPECT_ERR(contig_dpdk_mempool_export(NULL, &s), EINVAL);
	assert_int_equal(s.magic, 0x77777777); /* untouched on failure */

	world_make(&w, 8 * MiB, 0);
	EXPECT_ERR(contig_dpdk_heap_export(HEAP, NULL), EINVAL);
	socket = w.socket;
	/* A per-lcore cache cannot be shared by two EALs. */
	cached = rte_pktmbuf_pool_create("cached", 255, 32, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	assert_non_null(cached);
	EXPECT_ERR(contig_dpdk_mempool_export(cached, &s), EINVAL);
	rte_mempool_free(cached);
	/* Not populated yet. */
	empty = rte_mempool_create_empty("empty", 63, 2048, 0, 0, socket, 0);
	assert_non_null(empty);
	EXPECT_ERR(contig_dpdk_mempool_export(empty, &s), EINVAL);
	rte_mempool_free(empty);
	/* In EAL's own memory, not in a contig heap. */
	elsewhere = rte_pktmbuf_pool_create("elsewhere", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					    SOCKET_ID_ANY);
	assert_non_null(elsewhere);
	EXPECT_ERR(contig_dpdk_mempool_export(elsewhere, &s), ENOENT);
	rte_mempool_free(elsewhere);
	assert_int_equal(s.magic, 0x77777777);
	world_free(&w);
}

/* A heap of more regions than a share holds. */
static void test_export_too_many(void **state)
{
	struct contig_dpdk_share s;

	(void)state;
	assert_true(wait_pool_idle(5000));
	for (int i = 0; i < CONTIG_DPDK_SHARE_CHUNKS; i++)
		assert_true(contig_dpdk_heap_create("many", PS, CONTIG_MAX_ADDRESS) >= 0);
	assert_int_equal(contig_dpdk_heap_export("many", &s), 0);
	assert_int_equal(s.nchunks, CONTIG_DPDK_SHARE_CHUNKS);
	assert_true(contig_dpdk_heap_create("many", PS, CONTIG_MAX_ADDRESS) >= 0);
	EXPECT_ERR(contig_dpdk_heap_export("many", &s), E2BIG);
	assert_int_equal(contig_dpdk_heap_destroy("many"), 0);
	assert_true(wait_pool_idle(5000));
}

/* Imports refused before anything is mapped (here, in the exporter, a
 * good share would fail on its own taken addresses: EEXIST). */
static void test_import_checks(void **state)
{
	struct contig_dpdk_share s;
	struct world w;

	(void)state;
	world_make(&w, 4 * MiB, 0);
	s = w.o.share;
	EXPECT_ERR(contig_dpdk_heap_import(&s), EEXIST);
	assert_null(contig_dpdk_mempool_import(&s));
	assert_int_equal(errno, EEXIST);
	EXPECT_ERR(contig_dpdk_heap_detach(&s), ENOENT);
	s.magic++;
	assert_null(contig_dpdk_mempool_import(&s));
	assert_int_equal(errno, EINVAL);
	s = w.o.share;
	s.chunks[0].va += 4096; /* not page aligned */
	EXPECT_ERR(contig_dpdk_heap_import(&s), EINVAL);
	s = w.o.share;
	s.nchunks = CONTIG_DPDK_SHARE_CHUNKS + 1;
	EXPECT_ERR(contig_dpdk_heap_import(&s), EINVAL);
	s = w.o.share;
	s.mempool = 0;
	assert_null(contig_dpdk_mempool_import(&s));
	assert_int_equal(errno, EINVAL);
	/* Another DPDK, another struct, other ops at the index. */
	s = w.o.share;
	s.dpdk_version[5] ^= 1;
	assert_null(contig_dpdk_mempool_import(&s));
	assert_int_equal(errno, EPROTO);
	s = w.o.share;
	s.mempool_hdr_size += 64;
	assert_null(contig_dpdk_mempool_import(&s));
	assert_int_equal(errno, EPROTO);
	s = w.o.share;
	snprintf(s.ops_name, sizeof(s.ops_name), "ring_sp_sc");
	assert_null(contig_dpdk_mempool_import(&s));
	assert_int_equal(errno, EPROTO);
	s = w.o.share;
	s.ops_index = RTE_MEMPOOL_MAX_OPS_IDX;
	assert_null(contig_dpdk_mempool_import(&s));
	assert_int_equal(errno, EPROTO);
	/* The exporter's memory is untouched by all that. */
	check_pool_iova(w.mp);
	world_free(&w);
}

/* The secondary moves packets through its own port into the shared pool;
 * this process reads and frees every one. */
static void test_ring_secondary(void **state)
{
	struct report rep;
	struct peer p;
	struct world w;

	(void)state;
	world_make(&w, 8 * MiB, 0);
	check_pool_iova(w.mp);
	w.o.packets = RING_PACKETS;
	peer_start(&p, "ring", &w.o);
	drain(&w, &p, RING_PACKETS, check_numbered);
	peer_report(&p, &rep);
	check_secondary_iova(&rep, &w);
	assert_int_equal(rep.moved, RING_PACKETS);
	assert_int_equal(rep.bad_iova, 0);
	/* All back: the secondary takes every mbuf, this process sees none. */
	peer_go(&p);
	peer_report(&p, &rep);
	assert_int_equal(rep.avail, NB_MBUF);
	assert_int_equal(rte_mempool_avail_count(w.mp), 0);
	assert_null(rte_pktmbuf_alloc(w.mp));
	peer_go(&p);
	peer_report(&p, &rep);
	assert_true(rep.gone);
	printf("secondary: own rte_eal_init %.1f ms, contig_dpdk_mempool_import %.3f ms, "
	       "detach %.3f ms; %u packets through a pool of %u mbufs\n",
	       rep.eal_ms, rep.import_ms, rep.detach_ms, RING_PACKETS, NB_MBUF);
	peer_wait(&p);
	assert_int_equal(rte_mempool_avail_count(w.mp), NB_MBUF);
	check_pool_iova(w.mp);
	world_free(&w);
}

static void fill_ee(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	struct rte_mbuf *m = obj;

	(void)mp, (void)arg, (void)idx;
	memset(m->buf_addr, 0xEE, m->buf_len);
}

/* The secondary's PMD wrote 64 zero bytes at the data offset; the rest of
 * the buffer is what this process wrote. Restore it for the next round. */
static void check_null_rx(struct rte_mbuf *m, uint64_t seq)
{
	uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);

	(void)seq;
	assert_int_equal(rte_pktmbuf_pkt_len(m), 64);
	assert_int_equal(m->data_off, RTE_PKTMBUF_HEADROOM);
	for (int k = 0; k < 64; k++)
		assert_int_equal(data[k], 0);
	assert_int_equal(data[64], 0xEE);
	assert_int_equal(data[-1], 0xEE);
	memset(data, 0xEE, 64);
}

static void test_null_secondary(void **state)
{
	struct report rep;
	struct peer p;
	struct world w;

	(void)state;
	world_make(&w, 8 * MiB, 0);
	rte_mempool_obj_iter(w.mp, fill_ee, NULL);
	w.o.packets = NULL_PACKETS;
	peer_start(&p, "null", &w.o);
	drain(&w, &p, NULL_PACKETS, check_null_rx);
	peer_report(&p, &rep);
	check_secondary_iova(&rep, &w);
	assert_int_equal(rep.moved, NULL_PACKETS);
	assert_int_equal(rep.bad_iova, 0);
	peer_go(&p);
	peer_report(&p, &rep);
	assert_true(rep.gone);
	peer_wait(&p);
	assert_int_equal(rte_mempool_avail_count(w.mp), NB_MBUF);
	world_free(&w);
}

static void test_errors_secondary(void **state)
{
	struct report rep;
	struct peer p;
	struct world w;

	(void)state;
	world_make(&w, 4 * MiB, 1);
	assert_true(w.o.share.nchunks >= 2);
	peer_start(&p, "errors", &w.o);
	peer_report(&p, &rep);
	assert_int_equal(rep.results[0], EEXIST); /* second region's address taken */
	assert_int_equal(rep.results[1], 0);	  /* ... and the first was undone */
	assert_int_equal(rep.results[2], ENOENT); /* forged handle */
	assert_int_equal(rep.results[3], EPROTO); /* handle and description disagree */
	assert_int_equal(rep.results[4], EINVAL); /* pool outside the share */
	assert_int_equal(rep.results[5], 0);	  /* nothing left by any of them */
	assert_int_equal(rep.results[6], EEXIST); /* imported twice */
	assert_int_equal(rep.results[7], ENOENT); /* detached twice */
	assert_true(rep.gone);
	peer_wait(&p);
	check_pool_iova(w.mp);
	world_free(&w);
}

/* Sessions holding the region at phys, as the daemon sees them. */
static int holders_of(uint64_t phys)
{
	uint8_t buf[PROTO_MAX_MSG];
	struct proto_list l = {.table = PROTO_TABLE_REGIONS};
	struct proto_msg m;
	int fd = raw_connect(d.socket, 1), holders = -1;
	size_t n = proto_encode(buf, PROTO_LIST, 7, &l, sizeof(l));
	ssize_t got = raw_call(fd, buf, n, buf, sizeof(buf));

	if (got > 0 && proto_decode(buf, (size_t)got, 0, &m) == 0 &&
	    m.hdr.type == PROTO_LIST_REPLY) {
		for (uint32_t i = 0; i < m.body.list_reply.count; i++) {
			struct proto_region_item it;
			memcpy(&it, m.items + (size_t)i * m.body.list_reply.item_size, sizeof(it));
			if (it.phys == phys)
				holders = (int)it.holders;
		}
	}
	close(fd);
	return holders;
}

/* A killed secondary's EAL runtime directory, beside this process's. */
static void rmdir_runtime_of(pid_t pid)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	slash = strrchr(dir, '/');
	if (slash) {
		snprintf(slash + 1, sizeof(dir) - (size_t)(slash + 1 - dir),
			 "contig-tshared-secondary-%d", (int)pid);
		rmdir(dir);
	}
}

/* A secondary killed while holding mbufs: they are lost to the pool (as
 * with DPDK secondaries), the memory is not: its reference dies with it. */
static void test_secondary_killed(void **state)
{
	uint64_t phys;
	struct report rep;
	struct peer p;
	struct world w;
	int status;

	(void)state;
	world_make(&w, 4 * MiB, 0);
	phys = w.o.share.chunks[0].phys;
	assert_int_equal(holders_of(phys), 1);
	peer_start(&p, "hold", &w.o);
	peer_report(&p, &rep);
	check_secondary_iova(&rep, &w);
	assert_int_equal(holders_of(phys), 2);
	assert_int_equal(rte_mempool_avail_count(w.mp), NB_MBUF - HOLD);
	assert_int_equal(kill(p.pid, SIGKILL), 0);
	assert_int_equal(waitpid(p.pid, &status, 0), p.pid);
	close(p.fd);
	rmdir_runtime_of(p.pid);
	for (int ms = 0; holders_of(phys) != 1 && ms < 5000; ms += 10)
		usleep(10000);
	assert_int_equal(holders_of(phys), 1);
	assert_int_equal(rte_mempool_avail_count(w.mp), NB_MBUF - HOLD);
	world_free(&w);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest early[] = {
	    cmocka_unit_test(test_before_eal),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_export),	     cmocka_unit_test(test_export_errors),
	    cmocka_unit_test(test_export_too_many),  cmocka_unit_test(test_import_checks),
	    cmocka_unit_test(test_ring_secondary),   cmocka_unit_test(test_null_secondary),
	    cmocka_unit_test(test_errors_secondary), cmocka_unit_test(test_secondary_killed),
	};
	static char self[4096];
	ssize_t n;
	int failed;

	if (argc == 4 && !strcmp(argv[1], "--secondary"))
		return secondary_main(argv[0], argv[2], atoi(argv[3]));
	if (geteuid() != 0) {
		printf("skipped: needs root (pagemap physical addresses, DPDK EAL)\n");
		return 77;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 1;
	self[n] = 0;
	self_path = self;
	failed = cmocka_run_group_tests_name("dpdk-shared-before-eal", early, setup_daemon, NULL);
	failed += cmocka_run_group_tests_name("dpdk-shared", tests, setup_eal, teardown);
	return failed ? failed : teardown_status;
}
