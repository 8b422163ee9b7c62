/* SPDX-License-Identifier: MIT */
/*
 * test_tenant.c - the tree of cgroup tenants (daemon/tenant.c) and the
 * /proc/PID/cgroup parser, on synthetic trees: nested limits, siblings,
 * reload, node lifetimes, hostile paths; and the parser against the real
 * file of this process.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "peer_cgroup.h"
#include "tenant.h"

#define MiB (1024ull * 1024)

static struct tenant_limit lim(const char *path, uint64_t bytes)
{
	struct tenant_limit l = { .bytes = bytes };

	snprintf(l.path, sizeof(l.path), "%s", path);
	return l;
}

static struct tenant *join(struct tenants *t, const char *path)
{
	struct tenant *n = NULL;

	assert_int_equal(tenant_join(t, path, &n), 0);
	assert_non_null(n);
	assert_string_equal(n->path, path);
	return n;
}

static void test_paths(void **state)
{
	(void)state;
	assert_true(tenant_path_valid("/"));
	assert_true(tenant_path_valid("/a"));
	assert_true(tenant_path_valid("/kubepods.slice/pod-1/x"));
	assert_false(tenant_path_valid(""));
	assert_false(tenant_path_valid("a"));
	assert_false(tenant_path_valid("//a"));
	assert_false(tenant_path_valid("/a/"));
	assert_false(tenant_path_valid("/a//b"));
	assert_false(tenant_path_valid("/a/./b"));
	assert_false(tenant_path_valid("/a/../b"));
	assert_false(tenant_path_valid("/.."));
	assert_false(tenant_path_valid("/a\nb"));
	assert_true(tenant_path_valid("/..a/.b"));

	char *longp = malloc(TENANT_PATH_MAX + 2);
	assert_non_null(longp);
	memset(longp, 'a', TENANT_PATH_MAX + 1);
	longp[0] = '/';
	longp[TENANT_PATH_MAX + 1] = '\0';
	struct tenants t;
	struct tenant *n;
	tenants_init(&t);
	assert_int_equal(tenant_join(&t, longp, &n), -ENAMETOOLONG);
	assert_int_equal(tenant_join(&t, "/a/../b", &n), -EINVAL);
	assert_int_equal(t.nodes, 0);
	tenants_fini(&t);
	free(longp);
}

static void test_nested_limits(void **state)
{
	struct tenants t;
	struct tenant_limit l[] = { lim("/A", 100 * MiB), lim("/A/x", 10 * MiB) };

	(void)state;
	tenants_init(&t);
	assert_int_equal(tenants_set_limits(&t, l, 2), 0);
	struct tenant *ax = join(&t, "/A/x"), *ay = join(&t, "/A/y"), *b = join(&t, "/B");

	/* A/x stops at its own limit, below A's. */
	assert_null(tenant_over(ax, 10 * MiB));
	tenant_charge(ax, 10 * MiB);
	const struct tenant *over = tenant_over(ax, 4096);
	assert_non_null(over);
	assert_string_equal(over->path, "/A/x");
	/* Its sibling goes on, up to what A leaves. */
	assert_null(tenant_over(ay, 90 * MiB));
	tenant_charge(ay, 90 * MiB);
	over = tenant_over(ay, 4096);
	assert_non_null(over);
	assert_string_equal(over->path, "/A");
	/* B is nobody's: no limit at all. */
	assert_null(tenant_over(b, UINT64_MAX));
	tenant_charge(b, 1000 * MiB);
	assert_int_equal(t.root.subtree_bytes, 1100 * MiB);
	/* Giving back makes room again. */
	tenant_uncharge(ax, 10 * MiB);
	assert_null(tenant_over(ax, 10 * MiB));
	assert_non_null(tenant_over(ax, 10 * MiB + 1));
	/* An overflowing request is over, not wrapped. */
	assert_non_null(tenant_over(ay, UINT64_MAX));

	tenant_uncharge(ay, 90 * MiB);
	tenant_uncharge(b, 1000 * MiB);
	assert_int_equal(t.root.subtree_bytes, 0);
	tenant_leave(&t, ax);
	tenant_leave(&t, ay);
	tenant_leave(&t, b);
	/* What stays is what the limits name: /A and /A/x. */
	assert_int_equal(t.nodes, 2);
	tenants_fini(&t);
}

static void test_reload(void **state)
{
	struct tenants t;
	struct tenant_limit before[] = { lim("/A", 8 * MiB), lim("/C/d/e", 1 * MiB) };
	struct tenant_limit after[] = { lim("/A", 2 * MiB), lim("/A", 4 * MiB), lim("/B", 1) };

	(void)state;
	tenants_init(&t);
	assert_int_equal(tenants_set_limits(&t, before, 2), 0);
	assert_int_equal(t.nodes, 4); /* /A, /C, /C/d, /C/d/e */
	struct tenant *a = join(&t, "/A/s");
	tenant_charge(a, 3 * MiB);
	assert_null(tenant_over(a, 5 * MiB));

	/* Live: the held bytes stay, the new limit applies at once; the same
	 * path twice keeps the smaller; /C's nodes go with their limit. */
	assert_int_equal(tenants_set_limits(&t, after, 3), 0);
	assert_non_null(tenant_over(a, 1));
	assert_int_equal(a->parent->limit, 2 * MiB);
	assert_int_equal(t.nodes, 3); /* /A, /A/s, /B */

	/* A bad line changes nothing. */
	struct tenant_limit bad[] = { lim("/Z", 1), lim("not/a/path", 1) };
	assert_int_equal(tenants_set_limits(&t, bad, 2), -EINVAL);
	assert_int_equal(a->parent->limit, 2 * MiB);
	assert_int_equal(t.nodes, 3);

	/* No limits at all: only the session's nodes stay. */
	assert_int_equal(tenants_set_limits(&t, NULL, 0), 0);
	assert_null(tenant_over(a, UINT64_MAX - 3 * MiB));
	assert_int_equal(t.nodes, 2);
	tenant_uncharge(a, 3 * MiB);
	tenant_leave(&t, a);
	assert_int_equal(t.nodes, 0);
	tenants_fini(&t);
}

static void test_root_limit(void **state)
{
	struct tenants t;
	struct tenant_limit l[] = { lim("/", 4 * MiB) };

	(void)state;
	tenants_init(&t);
	assert_int_equal(tenants_set_limits(&t, l, 1), 0);
	struct tenant *r = join(&t, "/"), *x = join(&t, "/x");
	assert_ptr_equal(r, &t.root);
	tenant_charge(r, 3 * MiB);
	const struct tenant *over = tenant_over(x, 2 * MiB);
	assert_non_null(over);
	assert_string_equal(over->path, "/");
	tenant_uncharge(r, 3 * MiB);
	tenant_leave(&t, r);
	tenant_leave(&t, x);
	assert_int_equal(t.nodes, 0);
	assert_int_equal(tenants_set_limits(&t, NULL, 0), 0);
	assert_int_equal(t.root.limit, TENANT_NO_LIMIT);
	tenants_fini(&t);
}

/* Sessions come and go from ever new cgroups: the tree keeps only what is
 * connected or configured. */
static void test_churn_frees(void **state)
{
	struct tenants t;
	struct tenant *n[64];
	char path[128];

	(void)state;
	tenants_init(&t);
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 64; i++) {
			snprintf(path, sizeof(path), "/pods/p%d/c%d/x", round, i);
			n[i] = join(&t, path);
			tenant_charge(n[i], 4096);
		}
		assert_int_equal(t.root.subtree_bytes, 64 * 4096);
		for (int i = 0; i < 64; i++) {
			tenant_uncharge(n[i], 4096);
			tenant_leave(&t, n[i]);
		}
		assert_int_equal(t.nodes, 0);
	}
	tenants_fini(&t);
}

/* A path deeper than TENANT_DEPTH_MAX costs no more nodes than that depth,
 * and is charged (and limited) there. */
static void test_depth_capped(void **state)
{
	struct tenants t;
	char path[4096] = "";
	size_t len = 0;

	(void)state;
	tenants_init(&t);
	for (int i = 0; i < 1000; i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/d");
	struct tenant *n = NULL;
	assert_int_equal(tenant_join(&t, path, &n), 0);
	assert_int_equal(n->depth, TENANT_DEPTH_MAX);
	assert_int_equal(t.nodes, TENANT_DEPTH_MAX);
	assert_int_equal(strlen(n->path), 2 * TENANT_DEPTH_MAX);
	tenant_charge(n, 4096);
	assert_int_equal(t.root.subtree_bytes, 4096);
	tenant_uncharge(n, 4096);
	tenant_leave(&t, n);
	assert_int_equal(t.nodes, 0);
	tenants_fini(&t);
}

struct seen {
	char paths[16][64];
	int n;
};

static void collect(void *arg, const struct tenant *n)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	snprintf(s->paths[s->n++], 64, "%s", n->path);
}

static bool has(const struct seen *s, const char *p)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->paths[i], p))
			return true;
	return false;
}

static void test_labels_bounded(void **state)
{
	struct tenants t;
	struct tenant_limit l[] = { lim("/kubepods.slice/burst", 64 * MiB) };
	struct tenant *n[8];
	struct seen s = { .n = 0 };

	(void)state;
	tenants_init(&t);
	assert_int_equal(tenants_set_limits(&t, l, 1), 0);
	n[0] = join(&t, "/kubepods.slice/burst/pod1/c1");
	n[1] = join(&t, "/kubepods.slice/burst/pod2/c1");
	n[2] = join(&t, "/kubepods.slice/guaranteed/pod3");
	n[3] = join(&t, "/system.slice/a.service");
	n[4] = join(&t, "/system.slice/b.service");
	n[5] = join(&t, "/user.slice/user-0.slice/session-1.scope");
	tenants_for_each_labelled(&t, collect, &s);
	assert_int_equal(s.n, 5);
	assert_true(has(&s, "/"));
	assert_true(has(&s, "/kubepods.slice"));
	assert_true(has(&s, "/kubepods.slice/burst"));
	assert_true(has(&s, "/system.slice"));
	assert_true(has(&s, "/user.slice"));
	for (int i = 0; i < 6; i++)
		tenant_leave(&t, n[i]);
	tenants_fini(&t);
}

static void test_parse(void **state)
{
	char path[TENANT_PATH_MAX];
	const char *hybrid = "12:pids:/user.slice\n1:name=systemd:/user.slice/x\n0::/user.slice/x.scope\n";
	const char *two = "0::/a\n0::/b\n";
	const char *v1 = "3:cpu:/a\n";
	const char *deleted = "0::/a (deleted)\n";
	const char *dotdot = "0::/a/../b\n";

	(void)state;
	assert_int_equal(peer_cgroup_parse(hybrid, strlen(hybrid), path, sizeof(path)), 0);
	assert_string_equal(path, "/user.slice/x.scope");
	assert_int_equal(peer_cgroup_parse("0::/\n", 5, path, sizeof(path)), 0);
	assert_string_equal(path, "/");
	assert_int_equal(peer_cgroup_parse(two, strlen(two), path, sizeof(path)), -EINVAL);
	assert_int_equal(peer_cgroup_parse(v1, strlen(v1), path, sizeof(path)), -ENOTSUP);
	assert_int_equal(peer_cgroup_parse(dotdot, strlen(dotdot), path, sizeof(path)), -EINVAL);
	assert_int_equal(peer_cgroup_parse("0::/abc", 7, path, 4), -ENAMETOOLONG);
	/* " (deleted)" has a space: valid as a name, so it is only a path. */
	assert_int_equal(peer_cgroup_parse(deleted, strlen(deleted), path, sizeof(path)), 0);
}

/* Our own file, through the real reader: it must agree with a plain read. */
static void test_self(void **state)
{
	char path[TENANT_PATH_MAX], buf[8192], want[8192] = "";
	FILE *f = fopen("/proc/self/cgroup", "r");

	(void)state;
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "0::", 3)) {
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(want, sizeof(want), "%s", buf + 3);
		}
	fclose(f);
	if (!want[0])
		skip(); /* no cgroup v2 here */
	size_t n = 0;
	f = fopen("/proc/self/cgroup", "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(peer_cgroup_parse(buf, n, path, sizeof(path)), 0);
	assert_string_equal(path, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_nested_limits),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_root_limit),
		cmocka_unit_test(test_churn_frees),
		cmocka_unit_test(test_depth_capped),
		cmocka_unit_test(test_labels_bounded),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests_name("tenant", tests, NULL, NULL);
}
