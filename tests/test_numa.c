/* SPDX-License-Identifier: MIT */
/*
 * test_numa.c - NUMA placement on this one-node machine, for real: a pool
 * named per node (--pool node0:32M, faulted under MPOL_BIND and read back),
 * node 0 served, node 1 refused when strict and fallen back from when only
 * preferred, per-node figures, and a pool asked on a node without memory
 * refused at start with one clear line. The multi-node placement logic
 * itself is unit-tested on synthetic layouts (test_extent.c).
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define PS (2ull << 20)

static struct daemon_proc d;
static int teardown_status;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "node0:32M", NULL };

	(void)state;
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static void test_pages_on_node0(void **state)
{
	struct raw_page *pg;
	int n = raw_pages(d.socket, &pg);

	(void)state;
	assert_int_equal(n, 16);
	for (int i = 0; i < n; i++)
		assert_int_equal(pg[i].node, 0);
	free(pg);
	assert_int_equal(raw_stat(d.socket, "wrong_node"), 0);
}

static void test_alloc_node(void **state)
{
	struct contig_region_info ri;
	void *p;

	(void)state;
	p = contig_alloc_node(PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 0);
	assert_non_null(p);
	assert_int_equal(contig_region_info(p, &ri), 0);
	assert_int_equal(ri.node, 0);
	contig_free(p);
	p = contig_alloc_node_strict(PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 0);
	assert_non_null(p);
	contig_free(p);
	/* CONTIG_NODE_ANY: the caller's node first (0 here). */
	p = contig_alloc_node(PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, CONTIG_NODE_ANY);
	assert_non_null(p);
	assert_int_equal(contig_region_info(p, &ri), 0);
	assert_int_equal(ri.node, 0);
	contig_free(p);
	/* Node 1 has nothing: strict fails, preferred falls back. */
	errno = 0;
	assert_null(contig_alloc_node_strict(PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 1));
	assert_int_equal(errno, ENOMEM);
	p = contig_alloc_node(PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 1);
	assert_non_null(p);
	assert_int_equal(contig_region_info(p, &ri), 0);
	assert_int_equal(ri.node, 0);
	contig_free(p);
	/* Out of range. */
	errno = 0;
	assert_null(contig_alloc_node(PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 64));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(contig_alloc_node_strict(PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, -1));
	assert_int_equal(errno, EINVAL);
}

static void test_query_node(void **state)
{
	struct contig_pool_info all = { 0 }, n0 = { 0 }, n1 = { 0 };

	(void)state;
	assert_true(wait_pool_idle(5000));
	assert_int_equal(contig_query(&all), 0);
	assert_int_equal(contig_query_node(0, &n0), 0);
	assert_int_equal(contig_query_node(1, &n1), 0);
	assert_int_equal(n0.total_bytes, all.total_bytes);
	assert_int_equal(n0.free_bytes, all.free_bytes);
	assert_int_equal(n0.largest_free_run, all.largest_free_run);
	assert_int_equal(n1.total_bytes, 0);
	assert_int_equal(n1.free_bytes, 0);
	errno = 0;
	assert_int_equal(contig_query_node(-2, &n1), -1);
	assert_int_equal(errno, EINVAL);
}

/* contigctl status shows the per-node figures. */
static void test_status_per_node(void **state)
{
	const char *ctl = getenv("CONTIGCTL");
	char cmd[512], out[4096] = "";
	FILE *f;

	(void)state;
	assert_true(wait_pool_idle(5000));
	snprintf(cmd, sizeof(cmd), "%s --socket %s status --json", ctl ? ctl : "build/cli/contigctl",
		 d.socket);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, sizeof(out), f));
	assert_int_equal(pclose(f), 0);
	assert_non_null(strstr(out, "\"per_node\":[{\"node\":0,\"total_bytes\":33554432,"
				    "\"free_bytes\":33554432,"));
}

/* A pool on a node without memory: refused at start, one clear line. */
static void test_no_memory_node_refused(void **state)
{
	const char *bin = getenv("CONTIGD");
	char cmd[512], line[512] = "";
	FILE *f;
	int status;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s --socket /tmp/contig-numa-%d.sock --pool node1:32M 2>&1",
		 bin ? bin : "build/daemon/contigd", (int)getpid());
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	status = pclose(f);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(line, "node 1 has no memory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_on_node0),
		cmocka_unit_test(test_alloc_node),
		cmocka_unit_test(test_query_node),
		cmocka_unit_test(test_status_per_node),
		cmocka_unit_test(test_no_memory_node_refused),
	};
	int failed = cmocka_run_group_tests_name("integration-numa", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
