/* SPDX-License-Identifier: MIT */
/*
 * test_grants.c - grants against a real contigd, made and ended through
 * contigctl as the Kubernetes device plugin does, presented by libcontig
 * from CONTIG_GRANT: every session presenting one token together holds at
 * most the grant's bytes (EDQUOT one page past it), two grants are
 * independent, a forged, malformed or revoked token gets EACCES, a revoked
 * grant's sessions get no more, only root makes or revokes grants, the
 * grants table counts what each holds and never shows a token.
 *
 * Clients are kids (kid.h), each with its own CONTIG_GRANT.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kid.h"
#include "relcommon.h"

static struct daemon_proc d;

struct made {
	uint64_t id, bytes;
	char token[65];
};

static struct made grant_create(const char *size)
{
	char args[64];
	struct made g = { 0 };
	int status;

	snprintf(args, sizeof(args), "grant create %s --json", size);
	char *out = contigctl_out(&d, args, &status);
	assert_int_equal(status, 0);
	if (sscanf(out, "{\"grant\":%" SCNu64 ",\"token\":\"%64[0-9a-f]\",\"bytes\":%" SCNu64 "}",
		   &g.id, g.token, &g.bytes) != 3)
		fail_msg("grant create: '%s'", out);
	assert_int_equal(strlen(g.token), 64);
	free(out);
	return g;
}

static int grant_revoke(const char *token)
{
	char args[128];
	int status;

	snprintf(args, sizeof(args), "grant revoke %s", token);
	free(contigctl_out(&d, args, &status));
	return status;
}

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "64M", NULL };

	(void)state;
	if (daemon_start(&d, args) < 0)
		return -1;
	socket_world_connectable(&d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return d.pid > 0 && daemon_stop(&d) != 0 ? -1 : 0;
}

static void test_cap_shared_and_independent(void **state)
{
	int why, status;

	(void)state;
	struct made g8 = grant_create("8M"), g4 = grant_create("4M");
	assert_int_equal(g8.bytes, 8u << 20);
	assert_true(g4.id > g8.id);
	assert_string_not_equal(g8.token, g4.token);

	/* Two processes of one container: one cap between them. */
	struct kid a = kid_start(g8.token), b = kid_start(g8.token), c = kid_start(g4.token);
	assert_int_equal(kid_fill(&a, 3, &why), 3);
	assert_int_equal(kid_fill(&b, 10, &why), 1);
	assert_int_equal(why, EDQUOT);
	assert_int_equal(kid_do(&a, 'a', NULL), EDQUOT);
	/* Another container's grant is its own. */
	assert_int_equal(kid_fill(&c, 10, &why), 2);
	assert_int_equal(why, EDQUOT);
	/* A free makes room for any of them: a keeps the freed region in its
	 * stash, and the daemon takes it back before it would say EDQUOT. */
	assert_int_equal(kid_do(&a, 'f', NULL), 0);
	struct kid e = kid_start(g8.token);
	assert_int_equal(kid_do(&e, 'a', NULL), 0);
	assert_int_equal(kid_do(&e, 'a', NULL), EDQUOT);

	char *out = contigctl_out(&d, "grants --json", &status);
	assert_int_equal(status, 0);
	char want[256];
	snprintf(want, sizeof(want),
		 "{\"grant\":%" PRIu64 ",\"bytes\":8388608,\"held_bytes\":8388608,\"sessions\":3,"
		 "\"revoked\":false}",
		 g8.id);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want),
		 "{\"grant\":%" PRIu64 ",\"bytes\":4194304,\"held_bytes\":4194304,\"sessions\":1,"
		 "\"revoked\":false}",
		 g4.id);
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, g8.token));
	assert_null(strstr(out, g4.token));
	free(out);

	/* Revoked: its sessions get no more; a new one is refused. */
	assert_int_equal(grant_revoke(g8.token), 0);
	assert_int_equal(kid_do(&b, 'a', NULL), EACCES);
	struct kid late = kid_start(g8.token);
	assert_int_equal(kid_do(&late, 'a', NULL), EACCES);
	kid_end(&late);
	/* Revoking twice: no such grant any more. */
	assert_int_not_equal(grant_revoke(g8.token), 0);
	/* What its sessions hold stays theirs until they go; then it is gone. */
	kid_end(&a);
	kid_end(&b);
	kid_end(&e);
	out = contigctl_out(&d, "grants --json", &status);
	snprintf(want, sizeof(want), "{\"grant\":%" PRIu64 ",", g8.id);
	assert_null(strstr(out, want));
	free(out);
	kid_end(&c);
	assert_int_equal(grant_revoke(g4.token), 0);
	assert_true(wait_pool_idle(10000));
}

static void test_forged_and_malformed(void **state)
{
	(void)state;
	struct made g = grant_create("2M");
	char forged[65];

	/* The right length and alphabet, one digit off. */
	memcpy(forged, g.token, sizeof(forged));
	forged[10] = forged[10] == '0' ? '1' : '0';
	const char *const bad[] = { forged, "00", "not-hex-at-all", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kid k = kid_start(bad[i]);
		/* "" is no grant at all: an ordinary session. */
		assert_int_equal(kid_do(&k, 'a', NULL), bad[i][0] ? EACCES : 0);
		kid_end(&k);
	}
	struct kid k = kid_start(g.token);
	assert_int_equal(kid_do(&k, 'a', NULL), 0);
	assert_int_equal(kid_do(&k, 'a', NULL), EDQUOT);
	kid_end(&k);
	assert_int_equal(grant_revoke(g.token), 0);
	assert_true(wait_pool_idle(10000));
}

/* Only root makes or ends grants (the socket is world-connectable here, so
 * the refusal is the daemon's). */
static void test_root_only(void **state)
{
	(void)state;
	struct made g = grant_create("2M");
	char cmd[640];

	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
			 "setpriv --reuid=65534 --regid=65534 --clear-groups "
			 "%s --socket %s grant %s%s >/dev/null 2>&1",
			 getenv("CONTIGCTL"), d.socket, i ? "revoke " : "create 2M", i ? g.token : "");
		int st = system(cmd);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 4); /* contigctl(8): permission denied */
	}
	assert_int_equal(grant_revoke(g.token), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_shared_and_independent),
		cmocka_unit_test(test_forged_and_malformed),
		cmocka_unit_test(test_root_only),
	};

	return cmocka_run_group_tests_name("grants", tests, setup, teardown);
}
