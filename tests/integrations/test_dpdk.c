/* SPDX-License-Identifier: MIT */
/*
 * test_dpdk.c - libcontig-dpdk against a real contigd and a real DPDK EAL
 * with a software PMD (net_ring0: its TX ring is its RX ring).
 *
 * Run as `test-dpdk va` (EAL --no-huge: DPDK takes no hugepages and picks
 * IOVA-as-VA for its own memory) or `test-dpdk pa` (EAL --in-memory -m 2
 * --iova-mode=pa: one system hugepage for EAL, IOVA-as-PA). In both, the
 * contig heap's IOVAs must be contig's physical addresses, checked against
 * contig_phys_addr and independently against /proc/self/pagemap (root).
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_dpdk.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ALLOW_EXPERIMENTAL_API
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>

#include "harness.h"
#include "rawclient.h"

#define MiB (1ull << 20)
#define PS (2 * MiB)

#define EXPECT_ERR(call, e)                                                                        \
	do {                                                                                       \
		errno = 0;                                                                         \
		assert_int_equal(call, -1);                                                        \
		assert_int_equal(errno, e);                                                        \
	} while (0)

static struct daemon_proc d;
static int teardown_status;
static bool pa_mode;
static const uint16_t port = 0;

/* ---- before rte_eal_init ---- */

static int setup_daemon(void **state)
{
	static const char *const args[] = {"--pool", "64M", NULL};

	(void)state;
	return daemon_start(&d, args);
}

static void test_before_eal(void **state)
{
	(void)state;
	errno = 0;
	assert_int_equal(contig_dpdk_heap_create("early", PS, CONTIG_MAX_ADDRESS), -1);
	assert_int_equal(errno, ENODEV);
	errno = 0;
	assert_int_equal(contig_dpdk_heap_destroy("early"), -1);
	assert_int_equal(errno, ENODEV);
}

/* ---- with EAL ---- */

static int setup_eal(void **state)
{
	char prefix[64];
	char *va[] = {
	    "test-dpdk", "--no-huge",	     "-m", "64", "--no-shconf",	   prefix,
	    "--no-pci",	 "--vdev=net_ring0", "-l", "0",	 "--no-telemetry", "--log-level=*:warning"};
	char *pa[] = {
	    "test-dpdk", "--in-memory",	     "-m", "2", "--iova-mode=pa", prefix,
	    "--no-pci",	 "--vdev=net_ring0", "-l", "0", "--no-telemetry", "--log-level=*:warning"};

	(void)state;
	snprintf(prefix, sizeof(prefix), "--file-prefix=contig-test-dpdk-%d", (int)getpid());
	if (rte_eal_init(12, pa_mode ? pa : va) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rte_eal_cleanup();
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static void test_eal_mode(void **state)
{
	(void)state;
	/* The premise of each run: VA with no hugepages, or PA. */
	if (pa_mode) {
		assert_int_equal(rte_eal_iova_mode(), RTE_IOVA_PA);
	} else {
		assert_int_equal(rte_eal_iova_mode(), RTE_IOVA_VA);
		assert_int_equal(rte_eal_has_hugepages(), 0);
	}
	assert_int_equal(rte_eth_dev_count_avail(), 1);
}

/* Physical address of the k-th lowest free pool page. */
static uint64_t kth_free_page(int k)
{
	struct raw_page *pg;
	int n = raw_pages(d.socket, &pg), seen = 0;
	uint64_t phys = UINT64_MAX;

	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		if (pg[i].state == 0 && seen++ == k) {
			phys = pg[i].phys;
			break;
		}
	free(pg);
	assert_int_not_equal(phys, UINT64_MAX);
	return phys;
}

static unsigned long bad_iova;
static uint64_t iter_ceiling;

/* The IOVA of an mbuf's buffer is contig's physical address of it, what
 * the kernel's pagemap says, and below the ceiling. */
static void check_mbuf(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	struct rte_mbuf *m = obj;
	uint8_t *buf = m->buf_addr;

	(void)mp, (void)arg, (void)idx;
	buf[0] = buf[0]; /* present, so pagemap can tell */
	if (m->buf_iova != contig_phys_addr(buf) || m->buf_iova != pagemap_phys(buf) ||
	    m->buf_iova + m->buf_len - 1 > iter_ceiling)
		bad_iova++;
}

static void check_chunk(struct rte_mempool *mp, void *arg, struct rte_mempool_memhdr *hdr,
			unsigned int idx)
{
	(void)mp, (void)arg, (void)idx;
	if (hdr->iova != contig_phys_addr(hdr->addr))
		bad_iova++;
}

static void port_start(struct rte_mempool *mp, int socket)
{
	struct rte_eth_conf conf = {0};

	assert_int_equal(rte_eth_dev_configure(port, 1, 1, &conf), 0);
	assert_int_equal(rte_eth_rx_queue_setup(port, 0, 512, socket, NULL, mp), 0);
	assert_int_equal(rte_eth_tx_queue_setup(port, 0, 512, socket, NULL), 0);
	assert_int_equal(rte_eth_dev_start(port), 0);
}

/* rounds bursts of 32 numbered frames of 60..187 bytes through the port;
 * every byte comes back, in contig mbufs. Returns packets moved. */
static unsigned int move_packets(struct rte_mempool *mp, unsigned int rounds, uint8_t seed)
{
	struct rte_mbuf *tx[32], *rx[32];
	unsigned int moved = 0;

	for (unsigned int r = 0; r < rounds; r++) {
		assert_int_equal(rte_pktmbuf_alloc_bulk(mp, tx, 32), 0);
		for (unsigned int i = 0; i < 32; i++) {
			uint16_t len = 60 + (r * 32 + i) % 128;
			uint8_t *p = (uint8_t *)rte_pktmbuf_append(tx[i], len);
			assert_non_null(p);
			for (uint16_t k = 0; k < len; k++)
				p[k] = (uint8_t)(seed + r * 7 + i * 13 + k);
		}
		assert_int_equal(rte_eth_tx_burst(port, 0, tx, 32), 32);
		assert_int_equal(rte_eth_rx_burst(port, 0, rx, 32), 32);
		for (unsigned int i = 0; i < 32; i++) {
			uint16_t len = 60 + (r * 32 + i) % 128;
			const uint8_t *p = rte_pktmbuf_mtod(rx[i], const uint8_t *);
			assert_int_equal(rte_pktmbuf_pkt_len(rx[i]), len);
			for (uint16_t k = 0; k < len; k++)
				assert_int_equal(p[k], (uint8_t)(seed + r * 7 + i * 13 + k));
			check_mbuf(mp, NULL, rx[i], 0);
			rte_pktmbuf_free(rx[i]);
		}
		moved += 32;
	}
	return moved;
}

static void test_mbuf_pool_ring(void **state)
{
	struct rte_eth_stats st;
	struct rte_mempool *mp;
	int socket;

	(void)state;
	assert_true(wait_pool_idle(5000));
	/* A ceiling that admits only the 8 lowest pool pages: without it the
	 * daemon serves high memory first, so the ceiling is really tested. */
	iter_ceiling = kth_free_page(7) + PS - 1;
	socket = contig_dpdk_heap_create("mbufs", 16 * MiB, iter_ceiling);
	assert_true(socket >= RTE_MAX_NUMA_NODES);
	assert_int_equal(rte_malloc_heap_socket_is_external(socket), 1);
	assert_int_equal(rte_malloc_heap_get_socket("mbufs"), socket);
	assert_int_equal(contig_dpdk_heap_bytes("mbufs"), 16 * MiB);

	mp = rte_pktmbuf_pool_create("contig_mbufs", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	assert_non_null(mp);
	assert_true(contig_phys_addr(mp) <= iter_ceiling);
	bad_iova = 0;
	rte_mempool_obj_iter(mp, check_mbuf, NULL);
	rte_mempool_mem_iter(mp, check_chunk, NULL);
	assert_int_equal(bad_iova, 0);

	port_start(mp, socket);
	assert_int_equal(move_packets(mp, 64, 1), 2048);
	assert_int_equal(bad_iova, 0);
	assert_int_equal(rte_eth_stats_get(port, &st), 0);
	assert_int_equal(st.opackets, 2048);
	assert_int_equal(st.ipackets, 2048);

	/* Not empty: destroy refuses and changes nothing. */
	errno = 0;
	assert_int_equal(contig_dpdk_heap_destroy("mbufs"), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(rte_malloc_heap_get_socket("mbufs"), socket);
	assert_int_equal(move_packets(mp, 4, 2), 128);
	assert_int_equal(bad_iova, 0);

	assert_int_equal(rte_eth_dev_stop(port), 0);
	assert_int_equal(rte_eth_dev_close(port), 0);
	rte_mempool_free(mp);
	assert_int_equal(contig_dpdk_heap_destroy("mbufs"), 0);
	assert_true(rte_malloc_heap_get_socket("mbufs") < 0);
	/* Every page went back to contigd. */
	assert_true(wait_pool_idle(5000));
}

/* Does the heap on socket have a memory segment list (one contig region)
 * of at least two pool pages? */
static int multi_page_msl(const struct rte_memseg_list *msl, void *arg)
{
	int *socket = arg;

	return msl->socket_id == *socket && msl->memseg_arr.len >= 2;
}

static void test_malloc_and_grow(void **state)
{
	struct rte_malloc_socket_stats st;
	const struct rte_memzone *mz;
	void *a, *b;
	int s1, s2;

	(void)state;
	s1 = contig_dpdk_heap_create("grow", 4 * MiB, CONTIG_MAX_ADDRESS);
	assert_true(s1 >= 0);
	/* Sizes round up to whole pool pages. */
	s2 = contig_dpdk_heap_create("grow", PS + 1, CONTIG_MAX_ADDRESS);
	assert_int_equal(s2, s1);
	assert_int_equal(contig_dpdk_heap_bytes("grow"), 8 * MiB);
	assert_int_equal(rte_malloc_get_socket_stats(s1, &st), 0);
	assert_int_equal(st.heap_totalsz_bytes, 8 * MiB);

	a = rte_malloc_socket("a", MiB, 4096, s1);
	b = rte_malloc_socket("b", MiB, 4096, s1);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(rte_malloc_virt2iova(a), contig_phys_addr(a));
	assert_int_equal(rte_malloc_virt2iova(b), contig_phys_addr(b));
	assert_int_equal(pagemap_phys(memset(a, 1, 4096)), contig_phys_addr(a));

	/* A memzone that must be IOVA-contiguous across two pool pages: DPDK
	 * finds one exactly when a region of the heap has two pages (the pool
	 * had a 4 MiB run), since pages of one region are contiguous. */
	bool two_pages = rte_memseg_list_walk(multi_page_msl, &s1) == 1;
	mz = rte_memzone_reserve("contig_mz", PS + 4096, s1, RTE_MEMZONE_IOVA_CONTIG);
	assert_int_equal(mz != NULL, two_pages);
	if (mz) {
		assert_int_equal(mz->iova, contig_phys_addr(mz->addr));
		assert_int_equal(mz->iova + PS, contig_phys_addr((uint8_t *)mz->addr + PS));
		assert_int_equal(mz->iova + PS,
				 pagemap_phys(memset((uint8_t *)mz->addr + PS, 1, 64)));
		assert_int_equal(rte_memzone_free(mz), 0);
	}
	rte_free(a);
	rte_free(b);
	assert_int_equal(contig_dpdk_heap_destroy("grow"), 0);
	errno = 0;
	assert_int_equal(contig_dpdk_heap_bytes("grow"), 0);
	assert_int_equal(errno, ENOENT);
	assert_true(wait_pool_idle(5000));
}

static int count_msl(const struct rte_memseg_list *msl, void *arg)
{
	int *n = arg;

	n[0] += msl->socket_id == n[1];
	return 0;
}

/* Free pool pages now, and the longest run of adjacent ones, in pages. */
static int free_runs(int *ret_longest)
{
	struct raw_page *pg;
	int n = raw_pages(d.socket, &pg), nfree = 0, run = 0;

	assert_true(n > 0);
	*ret_longest = 0;
	for (int i = 0; i < n; i++) {
		if (pg[i].state != 0) {
			run = 0;
			continue;
		}
		nfree++;
		run = run && pg[i].phys == pg[i - 1].phys + PS ? run + 1 : 1;
		if (run > *ret_longest)
			*ret_longest = run;
	}
	free(pg);
	return nfree;
}

/* A pool with no two adjacent free pages still gives a heap, page by page. */
static void test_fragmented_pool(void **state)
{
	struct rte_malloc_socket_stats st;
	uint8_t *pages[32];
	void *pieces[4];
	int n = 0, longest = 0, msls[2] = {0, 0};

	(void)state;
	assert_true(wait_pool_idle(5000));
	while (n < 32 && (pages[n] = contig_alloc(PS, CONTIG_MAX_ADDRESS)))
		n++;
	assert_int_equal(n, 32);
	for (int i = 0; i < n; i += 2)
		contig_free(pages[i]);
	for (int ms = 0; free_runs(&longest) < 16 && ms < 5000; ms += 10)
		usleep(10000);
	assert_int_equal(free_runs(&longest), 16);

	errno = 1234; /* kept on success, though 8 and 4 MiB were refused first */
	msls[1] = contig_dpdk_heap_create("frag", 8 * MiB, CONTIG_MAX_ADDRESS);
	assert_true(msls[1] >= 0);
	assert_int_equal(errno, 1234);
	assert_int_equal(contig_dpdk_heap_bytes("frag"), 8 * MiB);
	assert_int_equal(rte_malloc_get_socket_stats(msls[1], &st), 0);
	assert_int_equal(st.heap_totalsz_bytes, 8 * MiB);
	rte_memseg_list_walk(count_msl, msls);
	printf("fragmented pool: longest free run %d page(s); heap of 8 MiB in %d region(s)\n",
	       longest, msls[0]);
	/* Freed pages normally come back where they were (the kernel's free
	 * list is LIFO): then no run is longer than a page and the heap is
	 * four single-page regions. */
	if (longest == 1)
		assert_int_equal(msls[0], 4);
	assert_true(msls[0] >= 1 && msls[0] <= 4);
	for (int i = 0; i < 4; i++) {
		pieces[i] = rte_malloc_socket("piece", MiB, 0, msls[1]);
		assert_non_null(pieces[i]);
		assert_int_equal(rte_malloc_virt2iova(pieces[i]), contig_phys_addr(pieces[i]));
	}
	EXPECT_ERR(contig_dpdk_heap_destroy("frag"), EBUSY);
	for (int i = 0; i < 4; i++)
		rte_free(pieces[i]);
	assert_int_equal(contig_dpdk_heap_destroy("frag"), 0);
	for (int i = 1; i < n; i += 2)
		contig_free(pages[i]);
	assert_true(wait_pool_idle(5000));
}

static void test_errors(void **state)
{
	(void)state;
	EXPECT_ERR(contig_dpdk_heap_create(NULL, PS, CONTIG_MAX_ADDRESS), EINVAL);
	EXPECT_ERR(contig_dpdk_heap_create("", PS, CONTIG_MAX_ADDRESS), EINVAL);
	EXPECT_ERR(
	    contig_dpdk_heap_create("0123456789012345678901234567890123", PS, CONTIG_MAX_ADDRESS),
	    EINVAL);
	EXPECT_ERR(contig_dpdk_heap_create("zero", 0, CONTIG_MAX_ADDRESS), EINVAL);
	EXPECT_ERR(contig_dpdk_heap_destroy("never-made"), ENOENT);
	EXPECT_ERR(contig_dpdk_heap_destroy(NULL), EINVAL);
	/* No pool page lies below 1 MiB; more than the pool cannot be had.
	 * Neither failure leaves a heap or a region behind. */
	assert_true(wait_pool_idle(5000));
	EXPECT_ERR(contig_dpdk_heap_create("low", PS, 0xFFFFF), ENOMEM);
	assert_true(rte_malloc_heap_get_socket("low") < 0);
	EXPECT_ERR(contig_dpdk_heap_create("huge", 65 * MiB, CONTIG_MAX_ADDRESS), ENOMEM);
	assert_true(rte_malloc_heap_get_socket("huge") < 0);
	assert_true(wait_pool_idle(5000));
	/* A heap the application made itself can be grown, and destroyed. */
	assert_int_equal(rte_malloc_heap_create("own"), 0);
	assert_true(contig_dpdk_heap_create("own", PS, CONTIG_MAX_ADDRESS) >= 0);
	assert_int_equal(contig_dpdk_heap_destroy("own"), 0);
	assert_true(rte_malloc_heap_get_socket("own") < 0);
	assert_true(wait_pool_idle(5000));
}

static void test_dma_map(void **state)
{
	const struct rte_memseg_list *msl;
	const struct rte_memseg *ms;
	uint8_t *p = contig_alloc(4 * MiB, CONTIG_MAX_ADDRESS);
	int on_stack;

	(void)state;
	if (!p && pool_lacks_run(4 * MiB))
		skip();
	assert_non_null(p);
	assert_null(rte_mem_virt2memseg_list(p));
	assert_int_equal(contig_dpdk_dma_map(p, 4 * MiB), 0);
	msl = rte_mem_virt2memseg_list(p);
	assert_non_null(msl);
	assert_true(msl->external);
	for (int k = 0; k < 2; k++) {
		ms = rte_mem_virt2memseg(p + k * PS + 100, msl);
		assert_non_null(ms);
		assert_int_equal(ms->iova, contig_phys_addr(p + k * PS));
		assert_int_equal(ms->len, PS);
	}
	EXPECT_ERR(contig_dpdk_dma_map(p, 4 * MiB), EEXIST);
	assert_int_equal(contig_dpdk_dma_unmap(p, 4 * MiB), 0);
	assert_null(rte_mem_virt2memseg_list(p));
	/* The second page alone; len rounds up to the page. */
	assert_int_equal(contig_dpdk_dma_map(p + PS, 1), 0);
	assert_null(rte_mem_virt2memseg_list(p));
	ms = rte_mem_virt2memseg(p + PS, rte_mem_virt2memseg_list(p + PS));
	assert_non_null(ms);
	assert_int_equal(ms->iova, contig_phys_addr(p + PS));
	assert_int_equal(contig_dpdk_dma_unmap(p + PS, 1), 0);

	EXPECT_ERR(contig_dpdk_dma_map(p + 4096, PS), EINVAL);
	EXPECT_ERR(contig_dpdk_dma_map(p, 4 * MiB + 1), EINVAL);
	EXPECT_ERR(contig_dpdk_dma_map(p, 0), EINVAL);
	EXPECT_ERR(contig_dpdk_dma_map(&on_stack, 4096), ENOENT);
	EXPECT_ERR(contig_dpdk_dma_unmap(p, 4 * MiB), ENOENT);
	contig_free(p);
}

static bool system_hugepage_free(void)
{
	char line[128];
	long n = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n > 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest early[] = {
	    cmocka_unit_test(test_before_eal),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eal_mode),	    cmocka_unit_test(test_mbuf_pool_ring),
	    cmocka_unit_test(test_malloc_and_grow), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_dma_map),	    cmocka_unit_test(test_fragmented_pool),
	};
	int failed;

	pa_mode = argc > 1 && !strcmp(argv[1], "pa");
	if (geteuid() != 0) {
		printf("skipped: needs root (pagemap physical addresses, DPDK EAL)\n");
		return 77;
	}
	/* EAL in PA mode takes one system hugepage of its own. */
	if (pa_mode && !system_hugepage_free()) {
		printf("skipped: PA mode needs one free system hugepage for EAL\n");
		return 77;
	}
	failed = cmocka_run_group_tests_name("dpdk-before-eal", early, setup_daemon, NULL);
	failed += cmocka_run_group_tests_name(pa_mode ? "dpdk-pa" : "dpdk-va", tests, setup_eal,
					      teardown);
	return failed ? failed : teardown_status;
}
