/* SPDX-License-Identifier: MIT */
/*
 * guest_numa.c - NUMA placement on a guest with two nodes (tests/guest/run.sh
 * boots it: vCPU 0 on node 0, vCPU 1 on node 1). A contigd with
 * --pool node0:32M,node1:32M; every page a client gets is checked where the
 * kernel says it is, from the client: move_pages(2) with no target nodes
 * (it reports each page's node) and get_mempolicy(2) MPOL_F_NODE|MPOL_F_ADDR,
 * neither of which asks contig anything. Whole pages, then carved small
 * regions (carving is the default under half a pool page); contigctl's
 * per-node figures, in its JSON and in its Prometheus labels.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define PS (2ull << 20)
#define PAGES_PER_NODE 16 /* 32 MiB of 2 MiB pages */
#define NODE_BYTES (PAGES_PER_NODE * PS)

static struct daemon_proc d;
static int teardown_status;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "node0:32M,node1:32M", NULL };

	(void)state;
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

/* The node the kernel has the page at va on: move_pages(2) with nodes
 * NULL only reports. -errno for a page it cannot find. */
static int kernel_node_of(const void *va)
{
	void *pages[1] = { (void *)((uintptr_t)va & ~4095ul) };
	int status[1] = { -1 };

	if (syscall(SYS_move_pages, 0, 1ul, pages, NULL, status, 0) < 0)
		return -errno;
	return status[0];
}

/* The same through get_mempolicy(2): MPOL_F_NODE|MPOL_F_ADDR gives the
 * node of the page at addr. */
static int policy_node_of(const void *va)
{
	int node = -1;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0ul, va, (unsigned long)(MPOL_F_NODE | MPOL_F_ADDR)) < 0)
		return -errno;
	return node;
}

/* Every 4 KiB page of [p, p + n) is on node, by both system calls and by
 * contig_region_info; the physical address contig reports is the kernel's. */
static void assert_on_node(void *p, size_t n, int node)
{
	struct contig_region_info ri;

	assert_non_null(p);
	memset(p, 0x5a, n); /* touched: the pages are the ones mapped now */
	for (size_t off = 0; off < n; off += 4096) {
		assert_int_equal(kernel_node_of((char *)p + off), node);
		assert_int_equal(policy_node_of((char *)p + off), node);
		assert_int_equal(contig_phys_addr((char *)p + off), pagemap_phys((char *)p + off));
	}
	assert_int_equal(contig_region_info(p, &ri), 0);
	assert_int_equal(ri.node, node);
}

/* Freed pages come back after contigd reclaims them (zeroing under TCG is
 * slow): each test starts from a whole pool. */
static int idle(void **state)
{
	char cmd[512];

	(void)state;
	if (wait_pool_idle(30000))
		return 0;
	snprintf(cmd, sizeof(cmd), "%s --socket %s status >&2", getenv("CONTIGCTL"), d.socket);
	(void)!system(cmd);
	return -1;
}

static void *strict_on(size_t n, int node)
{
	return contig_alloc_node_strict(n, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, node);
}

static void *preferred_on(size_t n, int node)
{
	return contig_alloc_node(n, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, node);
}

/* Take every whole page of node strictly, each checked; out[PAGES_PER_NODE]. */
static void fill_node(int node, void **out)
{
	for (int i = 0; i < PAGES_PER_NODE; i++) {
		out[i] = strict_on(PS, node);
		assert_on_node(out[i], PS, node);
	}
}

static uint64_t free_now(void)
{
	struct contig_pool_info info = { 0 };

	assert_int_equal(contig_query(&info), 0);
	return info.free_bytes;
}

/* Free these whole pages and wait until contigd has them back: a freed
 * page is zeroed and re-faulted before it can be handed out again, and
 * under TCG that takes long enough for the next strict request to find
 * its node short. Up to 30 s, a hang guard. */
static void free_all(void **p, int n)
{
	uint64_t want = free_now() + (uint64_t)n * PS;

	for (int i = 0; i < n; i++)
		contig_free(p[i]);
	for (int t = 0; t < 3000 && free_now() < want; t++)
		usleep(10000);
	assert_true(free_now() >= want);
}

static void free_one(void *p)
{
	free_all(&p, 1);
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void unpin(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CPU_SET(1, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

/* The pool as contigd sees it, then every page as a client sees it. */
static void numa_pages_on_their_node(void **state)
{
	void *p[2][PAGES_PER_NODE];
	struct raw_page *pg;
	int n, count[2] = { 0, 0 };

	(void)state;
	n = raw_pages(d.socket, &pg);
	assert_int_equal(n, 2 * PAGES_PER_NODE);
	for (int i = 0; i < n; i++) {
		assert_in_range(pg[i].node, 0, 1);
		count[pg[i].node]++;
	}
	free(pg);
	assert_int_equal(count[0], PAGES_PER_NODE);
	assert_int_equal(count[1], PAGES_PER_NODE);
	assert_int_equal(raw_stat(d.socket, "wrong_node"), 0);
	fill_node(0, p[0]);
	fill_node(1, p[1]);
	free_all(p[0], PAGES_PER_NODE);
	free_all(p[1], PAGES_PER_NODE);
}

/* A node with no free page: strict says ENOMEM, whatever the other node has. */
static void numa_strict_enomem(void **state)
{
	void *p[PAGES_PER_NODE];

	(void)state;
	for (int node = 0; node < 2; node++) {
		fill_node(node, p);
		errno = 0;
		assert_null(strict_on(PS, node));
		assert_int_equal(errno, ENOMEM);
		/* The other node is untouched and still serves strictly. */
		void *q = strict_on(PS, !node);
		assert_on_node(q, PS, !node);
		free_one(q);
		free_all(p, PAGES_PER_NODE);
	}
}

/* Preferred: that node while it has pages, the other one once it is full. */
static void numa_preferred_falls_back(void **state)
{
	void *p[PAGES_PER_NODE], *q;

	(void)state;
	for (int node = 0; node < 2; node++) {
		q = preferred_on(PS, node);
		assert_on_node(q, PS, node);
		free_one(q);
		fill_node(node, p);
		q = preferred_on(2 * PS, node);
		assert_on_node(q, 2 * PS, !node);
		contig_free(q); /* two pages: the next step waits for all of them */
		free_all(p, PAGES_PER_NODE);
	}
}

/* CONTIG_NODE_ANY: the node of the CPU the caller runs on. */
static void numa_any_follows_cpu(void **state)
{
	unsigned cpu, node;
	void *q;

	(void)state;
	for (int c = 0; c < 2; c++) {
		pin_to_cpu(c);
		assert_int_equal(getcpu(&cpu, &node), 0);
		assert_int_equal(cpu, c);
		assert_int_equal(node, c); /* the guest's topology: vCPU n on node n */
		q = preferred_on(PS, CONTIG_NODE_ANY);
		assert_on_node(q, PS, c);
		free_one(q);
	}
	unpin();
}

/* contigctl status --json OUT: its first line. */
static void ctl(const char *args, char *out, size_t n)
{
	const char *bin = getenv("CONTIGCTL");
	char cmd[512];
	FILE *f;
	size_t got;

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s", bin ? bin : "build/cli/contigctl", d.socket,
		 args);
	f = popen(cmd, "r");
	assert_non_null(f);
	got = fread(out, 1, n - 1, f);
	out[got] = 0;
	assert_int_equal(pclose(f), 0);
}

/* Three pages held on node 1: node 1's figures drop by them, node 0's not. */
static void numa_contigctl_figures(void **state)
{
	char out[8192], text[8192], want[256];
	void *p[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		p[i] = strict_on(PS, 1);
		assert_on_node(p[i], PS, 1);
	}
	ctl("status --json", out, sizeof(out));
	ctl("status", text, sizeof(text));
	free_all(p, 3);
	snprintf(want, sizeof(want),
		 "\"per_node\":[{\"node\":0,\"total_bytes\":%llu,\"free_bytes\":%llu,",
		 NODE_BYTES, NODE_BYTES);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "{\"node\":1,\"total_bytes\":%llu,\"free_bytes\":%llu,",
		 NODE_BYTES, NODE_BYTES - 3 * PS);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\"nodes\":[0,1]"));
	assert_non_null(strstr(text, "  node 0         32 MiB total, 32 MiB free, largest run"));
	assert_non_null(strstr(text, "  node 1         32 MiB total, 26 MiB free, largest run"));
}

/* The same per-node figures as Prometheus samples labelled by node. */
static void numa_prometheus_labels(void **state)
{
	char out[16384], want[128];
	void *p;

	(void)state;
	p = strict_on(PS, 0);
	assert_on_node(p, PS, 0);
	ctl("stats --prometheus", out, sizeof(out));
	contig_free(p);
	snprintf(want, sizeof(want), "\ncontig_node_size_bytes{node=\"0\"} %llu\n", NODE_BYTES);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\ncontig_node_size_bytes{node=\"1\"} %llu\n", NODE_BYTES);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\ncontig_node_free_bytes{node=\"0\"} %llu\n", NODE_BYTES - PS);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\ncontig_node_free_bytes{node=\"1\"} %llu\n", NODE_BYTES);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\n# TYPE contig_node_free_bytes gauge\n"));
}

/* Carved regions (under half a pool page) land on the node asked, by both
 * strict and preferred calls and by the CPU's node for CONTIG_NODE_ANY. */
static void numa_carved(void **state)
{
	static const size_t sizes[] = { 4096, 12288, 65536, 1u << 20 };
	struct contig_region_info ri;
	void *p[2][4], *q;

	(void)state;
	for (int node = 0; node < 2; node++) {
		for (int i = 0; i < 4; i++) {
			p[node][i] = (i % 2 ? strict_on : preferred_on)(sizes[i], node);
			assert_on_node(p[node][i], sizes[i], node);
			/* carved: smaller than a pool page, not a whole page */
			assert_int_equal(contig_region_info(p[node][i], &ri), 0);
			assert_true(ri.mapped_bytes < PS);
		}
	}
	for (int c = 0; c < 2; c++) {
		pin_to_cpu(c);
		q = preferred_on(65536, CONTIG_NODE_ANY);
		assert_on_node(q, 65536, c);
		contig_free(q);
	}
	unpin();
	for (int i = 0; i < 4; i++) {
		contig_free(p[0][i]);
		contig_free(p[1][i]);
	}
}

/* Node 0 full of whole pages: a carved strict request on it is refused with
 * ENOMEM, a carved preferred one falls back to node 1. */
static void numa_carved_strict(void **state)
{
	void *p[PAGES_PER_NODE], *q;

	(void)state;
	fill_node(0, p);
	errno = 0;
	assert_null(strict_on(65536, 0));
	assert_int_equal(errno, ENOMEM);
	q = preferred_on(65536, 0);
	assert_on_node(q, 65536, 1);
	contig_free(q);
	q = strict_on(65536, 1);
	assert_on_node(q, 65536, 1);
	contig_free(q);
	free_all(p, PAGES_PER_NODE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(numa_pages_on_their_node, idle),
		cmocka_unit_test_setup(numa_strict_enomem, idle),
		cmocka_unit_test_setup(numa_preferred_falls_back, idle),
		cmocka_unit_test_setup(numa_any_follows_cpu, idle),
		cmocka_unit_test_setup(numa_contigctl_figures, idle),
		cmocka_unit_test_setup(numa_prometheus_labels, idle),
		cmocka_unit_test_setup(numa_carved, idle),
		cmocka_unit_test_setup(numa_carved_strict, idle),
	};
	int failed = cmocka_run_group_tests_name("guest-numa", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
