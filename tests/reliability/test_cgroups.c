/* SPDX-License-Identifier: MIT */
/*
 * test_cgroups.c - tenants by cgroup against a real contigd and real cgroup
 * v2 directories: client processes moved into cgroups A, A/x and B (made
 * for the test under the cgroup2 mount found in /proc/mounts) are held to
 * cgroup-max-bytes at A and at A/x, siblings are independent, SIGHUP
 * applies new limits to bytes already held, a client that migrates after
 * connecting stays charged where it connected from, and contigctl shows
 * each session's cgroup (clients --json) and per-cgroup gauges
 * (stats --prometheus). Every region is touched whole: a client at its
 * limit gets EDQUOT at the call, never a fault later.
 *
 * Clients are kids (kid.h), so that several hold memory at once in
 * different cgroups.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kid.h"
#include "relcommon.h"

static struct daemon_proc d;
static char conf[128];
static char mnt[256];   /* the cgroup2 mount */
static char top[64];    /* our subtree, as /proc/PID/cgroup writes it */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A client in cgroup path (under top) before it first connects. */
static struct kid kid_in(const char *path)
{
	struct kid k = kid_start(NULL);
	char procs[512];

	snprintf(procs, sizeof(procs), "%s%s%s/cgroup.procs", mnt, top, path);
	assert_int_equal(kid_do(&k, 'm', procs), 0);
	return k;
}

static int fill(struct kid *k, int most, int *why)
{
	return kid_fill(k, most, why);
}

static char *run_ctl(const char *a1, const char *a2)
{
	char args[256];
	int status;
	char *out;

	snprintf(args, sizeof(args), "%s %s", a1, a2 ? a2 : "");
	out = contigctl_out(&d, args, &status);
	assert_int_equal(status, 0);
	return out;
}

static void reload(int nth)
{
	daemon_reload_wait(&d, nth);
}

static void limits(const char *a, const char *ax)
{
	char text[512];

	snprintf(text, sizeof(text), "cgroup-max-bytes = %s/A %s\ncgroup-max-bytes = %s/A/x %s\n",
		 top, a, top, ax);
	write_file(conf, text);
}

static int setup(void **state)
{
	static const char *args[] = { "--pool", "64M", "--config", NULL, NULL };
	char line[1024], path[512];
	FILE *f = fopen("/proc/mounts", "re");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char dev[128], dir[256], type[32];
		if (sscanf(line, "%127s %255s %31s", dev, dir, type) == 3 && !strcmp(type, "cgroup2")) {
			snprintf(mnt, sizeof(mnt), "%s", dir);
			break;
		}
	}
	fclose(f);
	if (!mnt[0]) {
		print_message("no cgroup2 mount in /proc/mounts\n");
		return -1;
	}
	snprintf(top, sizeof(top), "/contig-test-%d", (int)getpid());
	for (const char *sub = "\0/A\0/A/x\0/B\0"; ; sub += strlen(sub) + 1) {
		snprintf(path, sizeof(path), "%s%s%s", mnt, top, sub);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			print_message("mkdir %s: %s\n", path, strerror(errno));
			return -1;
		}
		if (!strcmp(sub, "/B"))
			break;
	}
	snprintf(conf, sizeof(conf), "/tmp/contig-cgroups-%d.conf", (int)getpid());
	limits("8M", "4M");
	args[3] = conf;
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	char path[512];

	(void)state;
	if (d.pid > 0)
		daemon_stop(&d);
	unlink(conf);
	for (const char *sub = "/A/x\0/A\0/B\0\0"; *sub; sub += strlen(sub) + 1) {
		snprintf(path, sizeof(path), "%s%s%s", mnt, top, sub);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s%s", mnt, top);
	rmdir(path);
	return 0;
}

static void test_nested_and_siblings(void **state)
{
	int why;

	(void)state;
	struct kid x = kid_in("/A/x"), a = kid_in("/A"), b = kid_in("/B");

	/* A/x: its own 4 MiB, below A's 8. */
	assert_int_equal(fill(&x, 10, &why), 2);
	assert_int_equal(why, EDQUOT);
	/* A: what A/x left of A's 8 MiB. */
	assert_int_equal(fill(&a, 10, &why), 2);
	assert_int_equal(why, EDQUOT);
	/* B: nobody's limit; 8 regions of the 64 MiB pool, all granted. */
	assert_int_equal(fill(&b, 8, &why), 8);
	/* A frees one: A/x still at its own limit, A has room again. */
	assert_int_equal(kid_do(&a, 'f', NULL), 0);
	assert_int_equal(kid_do(&x, 'a', NULL), EDQUOT);
	assert_int_equal(kid_do(&a, 'a', NULL), 0);

	/* The CLI: every session's cgroup, and the gauges. */
	char *out = run_ctl("clients", "--json"), want[256];
	snprintf(want, sizeof(want), "\"pid\":%d,", (int)x.pid);
	char *row = strstr(out, want);
	assert_non_null(row);
	snprintf(want, sizeof(want), "\"cgroup\":\"%s/A/x\"}", top);
	char *cg = strstr(row, want), *next = strstr(row + 1, "{\"session\"");
	assert_non_null(cg);
	assert_true(!next || cg < next);
	free(out);
	out = run_ctl("stats", "--prometheus");
	snprintf(want, sizeof(want), "contig_cgroup_bytes{cgroup=\"%s/A\"} %u\n", top, 8u << 20);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "contig_cgroup_limit_bytes{cgroup=\"%s/A/x\"} %u\n", top,
		 4u << 20);
	assert_non_null(strstr(out, want));
	/* The test's top-level cgroup is labelled; B, under it and unlimited, is not. */
	snprintf(want, sizeof(want), "contig_cgroup_bytes{cgroup=\"%s\"} %u\n", top, 24u << 20);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "{cgroup=\"%s/B\"}", top);
	assert_null(strstr(out, want));
	free(out);

	kid_end(&x);
	kid_end(&a);
	kid_end(&b);
	assert_true(wait_pool_idle(10000));
}

static void test_reload_and_migration(void **state)
{
	int why;

	(void)state;
	limits("8M", "4M");
	reload(1);
	struct kid x = kid_in("/A/x");
	assert_int_equal(fill(&x, 10, &why), 2);
	assert_int_equal(why, EDQUOT);
	/* Live: a higher limit at A/x lets it grow to A's. */
	limits("8M", "6M");
	reload(2);
	assert_int_equal(fill(&x, 10, &why), 1);
	assert_int_equal(why, EDQUOT);
	/* Lower than what it holds: nothing is taken, nothing more given. */
	limits("8M", "2M");
	reload(3);
	assert_int_equal(kid_do(&x, 'a', NULL), EDQUOT);
	/* A region freed and asked again comes from the client's stash: its
	 * bytes were never given back, so they are no new charge. */
	assert_int_equal(kid_do(&x, 'f', NULL), 0);
	assert_int_equal(kid_do(&x, 'a', NULL), 0);
	assert_int_equal(kid_do(&x, 'a', NULL), EDQUOT);

	/* It moves to B after connecting: the charge stays with A/x, so B's
	 * freedom is not its. */
	char to[512];
	snprintf(to, sizeof(to), "%s%s/B/cgroup.procs", mnt, top);
	assert_int_equal(kid_do(&x, 'm', to), 0);
	assert_int_equal(kid_do(&x, 'a', NULL), EDQUOT);
	/* A new process in B is B's. */
	struct kid b = kid_in("/B");
	assert_int_equal(fill(&b, 2, &why), 2);

	/* No limits at all: both go on. */
	write_file(conf, "\n");
	reload(4);
	assert_int_equal(kid_do(&x, 'a', NULL), 0);
	kid_end(&x);
	kid_end(&b);
	assert_true(wait_pool_idle(10000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_and_siblings),
		cmocka_unit_test(test_reload_and_migration),
	};

	return cmocka_run_group_tests_name("cgroups", tests, setup, teardown);
}
