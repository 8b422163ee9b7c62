/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - unit tests of the config file and the key table
 * (daemon/config.c): every key with good and bad values, through the file
 * and through config_apply (the command line), the file syntax (comments,
 * whitespace, CRLF, long lines, duplicates), I/O errors, and SIGHUP
 * (config_reload, config_apply_live) on a hand-built struct server: live keys are applied to
 * the server, restart-only keys are reported and left alone, the command
 * line wins, and a bad file changes nothing.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "settings.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static char dir[64];
static char conf[128]; /* the file every test writes and loads */
static char err[1024];

/* ---- helpers ---- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/contigd.conf", dir);
	return 0;
}

static int group_teardown(void **state)
{
	char log[160];

	(void)state;
	snprintf(log, sizeof(log), "%s/log", dir);
	unlink(conf);
	unlink(log);
	return rmdir(dir);
}

/* Write text byte for byte (no newline added) as the config file. */
static const char *write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return conf;
}

/* Load text on top of the defaults. */
static int load(const char *text, struct settings *s)
{
	settings_default(s);
	err[0] = 0;
	return config_load(write_conf(text), s, err, sizeof(err));
}

static void load_ok(const char *text, struct settings *s)
{
	int r = load(text, s);

	if (r < 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(r, 0);
}

/* The file must be refused with exactly "conf:line: reason". */
static void load_fails(const char *text, unsigned line, const char *reason)
{
	struct settings s;
	char want[1024];

	assert_int_equal(load(text, &s), -EINVAL);
	snprintf(want, sizeof(want), "%s:%u: %s", conf, line, reason);
	assert_string_equal(err, want);
}

static uid_t uid_of(const char *name)
{
	struct passwd *pw = getpwnam(name);

	assert_non_null(pw);
	return pw->pw_uid;
}

static gid_t gid_of(const char *name)
{
	struct group *gr = getgrnam(name);

	assert_non_null(gr);
	return gr->gr_gid;
}

/* ---- every key: good values ---- */

static void test_empty_file_keeps_defaults(void **state)
{
	struct settings s, d;

	(void)state;
	load_ok("", &s);
	settings_default(&d);
	assert_memory_equal(&s, &d, sizeof(s));
}

static void test_good_paths_and_sizes(void **state)
{
	char long_path[160];
	struct settings s;

	(void)state;
	load_ok("socket = /tmp/x.sock\n", &s);
	assert_string_equal(s.socket, "/tmp/x.sock");
	/* 107 bytes and its NUL fill sun_path exactly. */
	memset(long_path, 'a', sizeof(long_path));
	memcpy(long_path, "socket = /", 10);
	long_path[9 + 107] = 0;
	load_ok(long_path, &s);
	assert_int_equal(strlen(s.socket), 107);

	load_ok("pool = 1G\n", &s);
	assert_int_equal(s.pool_bytes, GiB);
	load_ok("pool = 512MiB\n", &s);
	assert_int_equal(s.pool_bytes, 512 * MiB);

	const char *two_m[] = { "2M", "2m", "2MiB", "2MB", "2048K", "2097152" };
	for (size_t i = 0; i < sizeof(two_m) / sizeof(two_m[0]); i++) {
		char line[64];

		snprintf(line, sizeof(line), "page-size = %s\n", two_m[i]);
		load_ok(line, &s);
		assert_int_equal(s.page_size, 2 * MiB);
	}
	load_ok("page-size = 1G\n", &s);
	assert_int_equal(s.page_size, GiB);
	load_ok("page-size = 1024M\n", &s);
	assert_int_equal(s.page_size, GiB);

	load_ok("low-pool = 512M@4G\n", &s);
	assert_int_equal(s.low_pool_bytes, 512 * MiB);
	assert_int_equal(s.low_pool_ceiling, 4 * GiB);
	load_ok("low-pool = none\n", &s);
	assert_int_equal(s.low_pool_bytes, 0);
	assert_int_equal(s.low_pool_ceiling, 0);

	load_ok("low-pool-margin = 0\n", &s);
	assert_int_equal(s.low_pool_margin, 0);
	load_ok("low-pool-margin = 2G\n", &s);
	assert_int_equal(s.low_pool_margin, 2 * GiB);
}

static void test_good_numbers(void **state)
{
	struct settings s;

	(void)state;
	load_ok("threads = 0\n", &s);
	assert_int_equal(s.threads, 0);
	load_ok("threads = 64\n", &s);
	assert_int_equal(s.threads, 64);
	load_ok("oversample = 0\n", &s);
	assert_int_equal(s.oversample, 0);
	load_ok("oversample = 8\n", &s);
	assert_int_equal(s.oversample, 8);
	load_ok("repair-idle = 0\n", &s);
	assert_int_equal(s.repair_idle_s, 0);
	load_ok("repair-idle = 86400\n", &s);
	assert_int_equal(s.repair_idle_s, 86400);
	load_ok("audit-interval = 0\n", &s);
	assert_int_equal(s.audit_interval_s, 0);
	load_ok("audit-interval = 86400\n", &s);
	assert_int_equal(s.audit_interval_s, 86400);

	load_ok("quarantine = 250\n", &s);
	assert_int_equal(s.quarantine_ms, 250);
	load_ok("quarantine = 250ms\n", &s);
	assert_int_equal(s.quarantine_ms, 250);
	load_ok("quarantine = 2s\n", &s);
	assert_int_equal(s.quarantine_ms, 2000);
	load_ok("quarantine = 60s\n", &s);
	assert_int_equal(s.quarantine_ms, 60000);
	load_ok("quarantine = 0\n", &s);
	assert_int_equal(s.quarantine_ms, 0);

	load_ok("max-sessions = 1\n", &s);
	assert_int_equal(s.limits.max_sessions, 1);
	load_ok("max-sessions = 4294967295\n", &s);
	assert_int_equal(s.limits.max_sessions, UINT32_MAX);
	load_ok("session-max-regions = 10\nuid-max-sessions = 20\nuid-max-regions = 30\n", &s);
	assert_int_equal(s.limits.session_max_regions, 10);
	assert_int_equal(s.limits.uid_max_sessions, 20);
	assert_int_equal(s.limits.uid_max_regions, 30);

	load_ok("session-max-bytes = 1G\nuid-max-bytes = 4G\n", &s);
	assert_int_equal(s.limits.session_max_bytes, GiB);
	assert_int_equal(s.limits.uid_max_bytes, 4 * GiB);
	load_ok("session-max-bytes = unlimited\nuid-max-bytes = unlimited\n", &s);
	assert_int_equal(s.limits.session_max_bytes, UINT64_MAX);
	assert_int_equal(s.limits.uid_max_bytes, UINT64_MAX);
}

static void test_good_words(void **state)
{
	static const struct {
		const char *value;
		int level;
	} levels[] = {
		{ "err", 3 },    { "error", 3 }, { "warning", 4 }, { "warn", 4 }, { "notice", 5 },
		{ "info", 6 },   { "debug", 7 }, { "DEBUG", 7 },   { "3", 3 },    { "7", 7 },
	};
	static const struct {
		const char *value;
		bool yes;
	} bools[] = {
		{ "yes", true },  { "true", true },   { "1", true }, { "YES", true },
		{ "no", false },  { "false", false }, { "0", false },
	};
	struct settings s;
	char line[64];

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(line, sizeof(line), "log-level = %s\n", levels[i].value);
		load_ok(line, &s);
		assert_int_equal(s.log_level, levels[i].level);
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		snprintf(line, sizeof(line), "raise-hugepages = %s\n", bools[i].value);
		load_ok(line, &s);
		assert_int_equal(s.may_raise_hugepages, bools[i].yes);
	}
	load_ok("socket-group = root\n", &s);
	assert_string_equal(s.socket_group, "root");
	load_ok("socket-group =\n", &s);
	assert_string_equal(s.socket_group, "");
}

static void test_good_id_lists(void **state)
{
	struct settings s;

	(void)state;
	/* Names and numbers, separated by commas, spaces or tabs. */
	load_ok("allow-users = root, daemon\tbin ,, 0\n", &s);
	assert_int_equal(s.access.nuids, 3); /* root and 0 are one user */
	assert_int_equal(s.access.uids[0], 0);
	assert_int_equal(s.access.uids[1], uid_of("daemon"));
	assert_int_equal(s.access.uids[2], uid_of("bin"));

	load_ok("allow-groups = root 0 daemon\n", &s);
	assert_int_equal(s.access.ngids, 2);
	assert_int_equal(s.access.gids[0], 0);
	assert_int_equal(s.access.gids[1], gid_of("daemon"));

	load_ok("import-groups = daemon\n", &s);
	assert_int_equal(s.access.nimport_gids, 1);
	assert_int_equal(s.access.import_gids[0], gid_of("daemon"));

	/* Empty: nobody beyond root and the socket's group. */
	load_ok("allow-users =\nallow-groups = ,\nimport-groups =\n", &s);
	assert_int_equal(s.access.nuids, 0);
	assert_int_equal(s.access.ngids, 0);
	assert_int_equal(s.access.nimport_gids, 0);
}

/* ---- every key: bad values, same words from the file and the command line ---- */

static const struct {
	const char *key, *value, *reason;
} bad[] = {
	{ "socket", "run/contigd.sock", "must be an absolute path: 'run/contigd.sock'" },
	{ "socket", "", "must be an absolute path: ''" },
	{ "pool", "12Q", "not a size: '12Q'" },
	{ "pool", "0", "must be greater than 0" },
	{ "pool", "-1G", "not a size: '-1G'" },
	{ "pool", "99999999999T", "too large: '99999999999T'" },
	{ "pool", "node0:1G,node1", "expected nodeN:SIZE[,nodeM:SIZE...]: 'node0:1G,node1'" },
	{ "pool", "node64:1G", "node must be 0..63: 'node64'" },
	{ "pool", "nodex:1G", "node must be 0..63: 'nodex'" },
	{ "pool", "node0:1Q", "not a size: '1Q'" },
	{ "pool", "node0:0", "not a size: '0'" },
	{ "pool", "node1:1G,node1:2G", "node1 given twice" },
	{ "pool", "n0:1G", "expected nodeN:SIZE[,nodeM:SIZE...]: 'n0:1G'" },
	{ "page-size", "4K", "must be 2M or 1G: '4K'" },
	{ "page-size", "16M", "must be 2M or 1G: '16M'" },
	{ "page-size", "huge", "must be 2M or 1G: 'huge'" },
	{ "low-pool", "1G", "expected SIZE@CEILING or 'none': '1G'" },
	{ "low-pool", "x@4G", "expected SIZE@CEILING or 'none': 'x@4G'" },
	{ "low-pool", "1G@", "expected SIZE@CEILING or 'none': '1G@'" },
	{ "low-pool", "0@4G", "needs 0 < SIZE < CEILING: '0@4G'" },
	{ "low-pool", "4G@4G", "needs 0 < SIZE < CEILING: '4G@4G'" },
	{ "low-pool", "off", "expected SIZE@CEILING or 'none': 'off'" },
	{ "low-pool-margin", "lots", "not a size: 'lots'" },
	{ "threads", "65", "must be a number from 0 to 64: '65'" },
	{ "threads", "-1", "must be a number from 0 to 64: '-1'" },
	{ "threads", "0x10", "must be a number from 0 to 64: '0x10'" },
	{ "threads", "", "must be a number from 0 to 64: ''" },
	{ "oversample", "9", "must be a number from 0 to 8: '9'" },
	{ "oversample", "x", "must be a number from 0 to 8: 'x'" },
	{ "repair-idle", "86401", "must be a number from 0 to 86400: '86401'" },
	{ "repair-idle", "-1", "must be a number from 0 to 86400: '-1'" },
	{ "audit-interval", "86401", "must be a number from 0 to 86400: '86401'" },
	{ "audit-interval", "10s", "must be a number from 0 to 86400: '10s'" },
	{ "quarantine", "60001", "must be 0 to 60000 ms, as '500', '500ms' or '2s': '60001'" },
	{ "quarantine", "61s", "must be 0 to 60000 ms, as '500', '500ms' or '2s': '61s'" },
	{ "quarantine", "1.5s", "must be 0 to 60000 ms, as '500', '500ms' or '2s': '1.5s'" },
	{ "quarantine", "5m", "must be 0 to 60000 ms, as '500', '500ms' or '2s': '5m'" },
	{ "quarantine", "ms", "must be 0 to 60000 ms, as '500', '500ms' or '2s': 'ms'" },
	{ "quarantine", "99999999999999999999s",
	  "must be 0 to 60000 ms, as '500', '500ms' or '2s': '99999999999999999999s'" },
	{ "log-level", "loud", "must be err, warning, notice, info, debug or 3..7: 'loud'" },
	{ "log-level", "8", "must be err, warning, notice, info, debug or 3..7: '8'" },
	{ "raise-hugepages", "maybe", "must be yes or no: 'maybe'" },
	{ "socket-group", "no-such-group-contig", "no such group: 'no-such-group-contig'" },
	{ "socket-group", "g234567890123456789012345678901234567890123456789012345678901234",
	  "too long: 64 bytes, at most 63" },
	{ "max-sessions", "0", "must be a number from 1 to 4294967295: '0'" },
	{ "max-sessions", "4294967296", "must be a number from 1 to 4294967295: '4294967296'" },
	{ "session-max-regions", "0", "must be a number from 1 to 4294967295: '0'" },
	{ "uid-max-sessions", "many", "must be a number from 1 to 4294967295: 'many'" },
	{ "uid-max-regions", "1.5", "must be a number from 1 to 4294967295: '1.5'" },
	{ "session-max-bytes", "0", "must be greater than 0" },
	{ "session-max-bytes", "infinite", "not a size: 'infinite'" },
	{ "uid-max-bytes", "Unlimited", "not a size: 'Unlimited'" },
	{ "allow-users", "root, no-such-user-contig", "no such user: 'no-such-user-contig'" },
	{ "allow-users", "4294967295", "no such user: '4294967295'" },
	{ "allow-groups", "root no-such-group-contig", "no such group: 'no-such-group-contig'" },
	{ "import-groups", "-1", "no such group: '-1'" },
};

static void test_bad_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct settings s, before;
		char text[256], reason[512];

		/* The file: "path:line: key: reason". */
		snprintf(text, sizeof(text), "# contigd.conf\n%s = %s\n", bad[i].key, bad[i].value);
		snprintf(reason, sizeof(reason), "%s: %s", bad[i].key, bad[i].reason);
		load_fails(text, 2, reason);

		/* The command line: the same reason, and the settings untouched. */
		settings_default(&s);
		before = s;
		assert_int_equal(config_apply(&s, bad[i].key, bad[i].value, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, bad[i].reason);
		assert_memory_equal(&s, &before, sizeof(s));
	}
}

static void test_unresolvable_numeric_ids(void **state)
{
	char text[64], reason[64];
	unsigned id = 3999999999u;

	(void)state;
	if (getpwuid(id) || getgrgid(id))
		skip();
	snprintf(text, sizeof(text), "allow-users = %u\n", id);
	snprintf(reason, sizeof(reason), "allow-users: no such user: '%u'", id);
	load_fails(text, 1, reason);
	snprintf(text, sizeof(text), "import-groups = %u\n", id);
	snprintf(reason, sizeof(reason), "import-groups: no such group: '%u'", id);
	load_fails(text, 1, reason);
}

static void test_too_long_socket_and_too_many_ids(void **state)
{
	char text[4096] = "socket = /", reason[128];
	struct group *gr;
	int n = 0;

	(void)state;
	memset(text + 10, 'a', 107);
	strcpy(text + 117, "\n");
	load_fails(text, 1, "socket: too long: 108 bytes, at most 107");

	/* 33 distinct groups: one more than ACCESS_MAX_IDS. */
	strcpy(text, "allow-groups =");
	setgrent();
	for (; n < ACCESS_MAX_IDS + 1 && (gr = getgrent()); n++)
		snprintf(text + strlen(text), 16, " %u", (unsigned)gr->gr_gid);
	endgrent();
	if (n < ACCESS_MAX_IDS + 1)
		skip();
	strcat(text, "\n");
	snprintf(reason, sizeof(reason), "allow-groups: more than %d entries", ACCESS_MAX_IDS);
	load_fails(text, 1, reason);
}

/* ---- config_apply: the command line ---- */

static void test_apply(void **state)
{
	struct settings s;

	(void)state;
	settings_default(&s);
	assert_int_equal(config_apply(&s, "pol", "1G", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "unknown key 'pol'");
	assert_int_equal(config_apply(&s, "pool", "node0:1G,node3:512M", err, sizeof(err)), 0);
	assert_int_equal(s.node_pool[0], 1ull << 30);
	assert_int_equal(s.node_pool[3], 512ull << 20);
	assert_int_equal(s.node_pool[1], 0);
	assert_int_equal(s.pool_bytes, 0);
	assert_int_equal(config_apply(&s, "pool", "1G", err, sizeof(err)), 0);
	assert_int_equal(s.node_pool[0], 0);
	assert_int_equal(s.pool_bytes, GiB);
	assert_int_equal(config_apply(&s, "log-level", "debug", err, sizeof(err)), 0);
	assert_int_equal(s.log_level, 7);
}

/* The command line wins over the file, but a bad value in the file is still an error. */
static void test_command_line_wins(void **state)
{
	struct settings s;

	(void)state;
	settings_default(&s);
	assert_int_equal(config_apply(&s, "pool", "1G", err, sizeof(err)), 0);
	assert_int_equal(config_load(write_conf("pool = 512M\nthreads = 3\n"), &s, err,
				     sizeof(err)),
			 0);
	assert_int_equal(s.pool_bytes, GiB);
	assert_int_equal(s.threads, 3);
	assert_int_equal(config_load(write_conf("pool = 12Q\n"), &s, err, sizeof(err)), -EINVAL);
}

/* cgroup-max-bytes: repeatable, each line one limit; checked like the rest. */
static void test_cgroup_limits(void **state)
{
	struct settings s;

	(void)state;
	settings_default(&s);
	load_ok("cgroup-max-bytes = /kubepods.slice 4G\n"
		"cgroup-max-bytes = /kubepods.slice/burst\t512M\n"
		"cgroup-max-bytes = / 0\n",
		&s);
	assert_int_equal(s.cgroup_limits.n, 3);
	assert_string_equal(s.cgroup_limits.l[0].path, "/kubepods.slice");
	assert_int_equal(s.cgroup_limits.l[0].bytes, 4 * GiB);
	assert_string_equal(s.cgroup_limits.l[1].path, "/kubepods.slice/burst");
	assert_int_equal(s.cgroup_limits.l[1].bytes, 512 * MiB);
	assert_string_equal(s.cgroup_limits.l[2].path, "/");
	assert_int_equal(s.cgroup_limits.l[2].bytes, 0);

	load_fails("cgroup-max-bytes = /a 1G\ncgroup-max-bytes = /a 2G\n", 2,
		   "cgroup-max-bytes: '/a' given twice");
	load_fails("cgroup-max-bytes = /a\n", 1, "cgroup-max-bytes: expected 'PATH SIZE': '/a'");
	load_fails("cgroup-max-bytes = /a 1G extra\n", 1,
		   "cgroup-max-bytes: expected 'PATH SIZE': '/a 1G extra'");
	load_fails("cgroup-max-bytes = a/b 1G\n", 1,
		   "cgroup-max-bytes: not a cgroup v2 path (as in /proc/PID/cgroup): 'a/b'");
	load_fails("cgroup-max-bytes = /a/../b 1G\n", 1,
		   "cgroup-max-bytes: not a cgroup v2 path (as in /proc/PID/cgroup): '/a/../b'");
	load_fails("cgroup-max-bytes = /a/ 1G\n", 1,
		   "cgroup-max-bytes: not a cgroup v2 path (as in /proc/PID/cgroup): '/a/'");
	load_fails("cgroup-max-bytes = /a lots\n", 1, "cgroup-max-bytes: not a size: 'lots'");

	/* The command line wins; the file's lines must still be valid. */
	settings_default(&s);
	assert_int_equal(config_apply(&s, "cgroup-max-bytes", "/x 1M", err, sizeof(err)), 0);
	assert_int_equal(config_apply(&s, "cgroup-max-bytes", "/y 2M", err, sizeof(err)), 0);
	assert_int_equal(config_load(write_conf("cgroup-max-bytes = /z 3M\n"), &s, err, sizeof(err)), 0);
	assert_int_equal(s.cgroup_limits.n, 2);
	assert_string_equal(s.cgroup_limits.l[1].path, "/y");
	assert_int_equal(config_load(write_conf("cgroup-max-bytes = z 3M\n"), &s, err, sizeof(err)),
			 -EINVAL);

	/* More lines than the table holds: a clear refusal. */
	char *text = malloc(80 * (TENANT_MAX_LIMITS + 1));
	size_t len = 0;
	assert_non_null(text);
	for (int i = 0; i <= TENANT_MAX_LIMITS; i++)
		len += (size_t)sprintf(text + len, "cgroup-max-bytes = /c%d 1M\n", i);
	load_fails(text, TENANT_MAX_LIMITS + 1, "cgroup-max-bytes: more than 64 cgroup limits");
	free(text);
}

/* ---- syntax ---- */

static void test_comments_whitespace_blank_lines(void **state)
{
	struct settings s;

	(void)state;
	load_ok("# contigd.conf\n"
		"\n"
		"   # indented comment\n"
		"\t#pool = 12Q\n"
		"   \t  \n"
		"pool=1G\n"
		"  \tthreads\t=\t3  \t\n"
		"socket =   /run/a=b.sock   \n"
		"#\n",
		&s);
	assert_int_equal(s.pool_bytes, GiB);
	assert_int_equal(s.threads, 3);
	assert_string_equal(s.socket, "/run/a=b.sock"); /* only the first '=' splits */
}

static void test_crlf_and_no_final_newline(void **state)
{
	struct settings s;

	(void)state;
	load_ok("pool = 1G\r\n# comment\r\n\r\nthreads = 4\r\nsocket = /run/x.sock", &s);
	assert_int_equal(s.pool_bytes, GiB);
	assert_int_equal(s.threads, 4);
	assert_string_equal(s.socket, "/run/x.sock");
	load_ok("threads = 5\r", &s);
	assert_int_equal(s.threads, 5);
	/* Line numbers still count CRLF lines. */
	load_fails("\r\n\r\npol = 1G\r\n", 3, "unknown key 'pol'");
}

static void test_comment_only_at_line_start(void **state)
{
	(void)state;
	load_fails("pool = 1G # one gig\n", 1,
		   "pool: not a size: '1G # one gig' ('#' starts a comment only at line start)");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	load_fails("\n\n\n\npool 1G\n", 5, "expected 'key = value'");
	load_fails("= 1G\n", 1, "expected 'key = value'");
	load_fails("  =\n", 1, "expected 'key = value'");
	load_fails("pool\n", 1, "expected 'key = value'");
	load_fails("# ok\n\nthreads = 1\n\n\n\npol = 1G\n", 7, "unknown key 'pol'");
	load_fails("Pool = 1G\n", 1, "unknown key 'Pool'"); /* keys are case-sensitive */
	load_fails("pool = 1G\nthreads = 2\npool = 1G\n", 3,
		   "key 'pool' given twice (first on line 1)");
	load_fails("\n# c\nlog-level = info\n  log-level=debug\n", 4,
		   "key 'log-level' given twice (first on line 3)");
}

/* A line is up to 4096 bytes without its "\n" or "\r\n". */
static void test_long_lines(void **state)
{
	const size_t max = 4096;
	char *text = malloc(3 * max);
	char reason[64];
	struct settings s;

	(void)state;
	assert_non_null(text);
	snprintf(reason, sizeof(reason), "line longer than %zu bytes", max);

	memset(text, 'x', max);
	text[0] = '#';
	strcpy(text + max, "\nthreads = 7\n");
	load_ok(text, &s);
	assert_int_equal(s.threads, 7);

	strcpy(text + max, "\r\nthreads = 7\r\n");
	load_ok(text, &s);
	assert_int_equal(s.threads, 7);

	text[max] = 0; /* the last line, as long as allowed, without a final newline */
	load_ok(text, &s);

	memset(text, 'x', max + 1);
	text[0] = '#';
	strcpy(text + max + 1, "\n");
	load_fails(text, 1, reason);

	strcpy(text, "threads = 1\n");
	memset(text + 12, 'x', 2 * max);
	strcpy(text + 12 + 2 * max, "\n");
	load_fails(text, 2, reason);

	strcpy(text + 12 + max + 1, ""); /* too long and no final newline */
	load_fails(text, 2, reason);
	free(text);
}

/* ---- I/O errors ---- */

static void test_missing_and_unreadable(void **state)
{
	struct settings s;
	char path[160], want[256];

	(void)state;
	settings_default(&s);
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(config_load(path, &s, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);

	/* A directory opens, but reading it fails. */
	assert_int_equal(config_load(dir, &s, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: %s", dir, strerror(EISDIR));
	assert_string_equal(err, want);

	/* Mode 000 stops everyone but root (CAP_DAC_OVERRIDE). */
	write_conf("pool = 1G\n");
	assert_int_equal(chmod(conf, 0), 0);
	if (geteuid() != 0) {
		assert_int_equal(config_load(conf, &s, err, sizeof(err)), -EACCES);
		snprintf(want, sizeof(want), "%s: %s", conf, strerror(EACCES));
		assert_string_equal(err, want);
	}
	assert_int_equal(chmod(conf, 0644), 0);
}

/* ---- config_reload: SIGHUP ---- */

struct running {
	struct settings arg;
	struct server *srv;
	char log[512];
};

/* What main.c does at start: defaults, the file, the command line, then copy. */
static void daemon_start(struct running *d, const char *text, const char *cmdline_key,
			 const char *cmdline_value)
{
	settings_default(&d->arg);
	assert_int_equal(config_load(write_conf(text), &d->arg, err, sizeof(err)), 0);
	if (cmdline_key)
		assert_int_equal(config_apply(&d->arg, cmdline_key, cmdline_value, err,
					      sizeof(err)),
				 0);
	d->srv = calloc(1, sizeof(*d->srv));
	assert_non_null(d->srv);
	server_init(d->srv, NULL);
	d->srv->limits = d->arg.limits;
	d->srv->access = d->arg.access;
	d->srv->access.socket_gid = 4242; /* main.c sets it from socket-group */
	d->srv->access.socket_gid_set = true;
	log_max_level = d->arg.log_level;
}

/* Reload with stderr (the log) captured into d->log. */
static int daemon_reload(struct running *d, const char *text)
{
	char path[160];
	int fd, saved, r;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/log", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	/* As main.c on SIGHUP: read, then put in force in one place. */
	r = config_reload(write_conf(text), &d->arg, err, sizeof(err));
	if (r == 0)
		config_apply_live(&d->arg, d->srv);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = pread(fd, d->log, sizeof(d->log) - 1, 0);
	assert_true(n >= 0);
	d->log[n] = 0;
	close(fd);
	return r;
}

static void test_reload_applies_live_keys(void **state)
{
	struct running d;
	char want[512];

	(void)state;
	daemon_start(&d, "pool = 1G\nmax-sessions = 100\nlog-level = info\n", NULL, NULL);
	assert_int_equal(daemon_reload(&d, "pool = 2G\n"
					   "page-size = 1G\n"
					   "max-sessions = 100\n"
					   "log-level = debug\n"
					   "uid-max-bytes = 1G\n"
					   "allow-users = daemon\n"
					   "import-groups = root\n"
					   "audit-interval = 0\n"
					   "quarantine = 5s\n"),
			 0);

	/* Live: in the settings and where they are in force. */
	assert_int_equal(log_max_level, LOG_DEBUG);
	assert_int_equal(d.arg.log_level, LOG_DEBUG);
	assert_int_equal(d.srv->limits.uid_max_bytes, GiB);
	assert_int_equal(d.arg.limits.uid_max_bytes, GiB);
	assert_int_equal(d.srv->limits.max_sessions, 100);
	assert_int_equal(d.srv->access.nuids, 1);
	assert_int_equal(d.srv->access.uids[0], uid_of("daemon"));
	assert_int_equal(d.srv->access.nimport_gids, 1);
	assert_int_equal(d.srv->access.import_gids[0], 0);
	assert_int_equal(d.srv->access.socket_gid, 4242);
	assert_true(d.srv->access.socket_gid_set);
	assert_int_equal(d.arg.audit_interval_s, 0);
	assert_int_equal(d.arg.quarantine_ms, 5000);

	/* Restart-only: untouched. */
	assert_int_equal(d.arg.pool_bytes, GiB);
	assert_int_equal(d.arg.page_size, 2 * MiB);

	snprintf(want, sizeof(want),
		 "contigd: notice: %s: not applied until contigd restarts: pool, page-size\n"
		 "contigd: info: %s reloaded: applied log-level, audit-interval, quarantine, "
		 "uid-max-bytes, allow-users, import-groups\n",
		 conf, conf);
	assert_string_equal(d.log, want);
	free(d.srv);
	log_max_level = LOG_INFO;
}

static void test_reload_restores_defaults_and_reports_nothing(void **state)
{
	struct running d;
	char want[512];

	(void)state;
	daemon_start(&d, "session-max-regions = 5\nallow-groups = daemon\n", NULL, NULL);
	assert_int_equal(d.srv->limits.session_max_regions, 5);

	/* Keys taken out of the file go back to their defaults. */
	assert_int_equal(daemon_reload(&d, "# empty now\n"), 0);
	assert_int_equal(d.srv->limits.session_max_regions, 65536);
	assert_int_equal(d.srv->access.ngids, 0);
	snprintf(want, sizeof(want),
		 "contigd: info: %s reloaded: applied session-max-regions, allow-groups\n", conf);
	assert_string_equal(d.log, want);

	assert_int_equal(daemon_reload(&d, "# empty now\n"), 0);
	snprintf(want, sizeof(want), "contigd: info: %s reloaded: no live setting changed\n",
		 conf);
	assert_string_equal(d.log, want);
	free(d.srv);
	log_max_level = LOG_INFO;
}

/* Keys given on the command line are neither applied nor reported. */
static void test_reload_command_line_wins(void **state)
{
	struct running d;
	char want[512];

	(void)state;
	daemon_start(&d, "log-level = info\n", "log-level", "debug");
	assert_int_equal(log_max_level, LOG_DEBUG);
	assert_int_equal(daemon_reload(&d, "log-level = err\n"), 0);
	assert_int_equal(log_max_level, LOG_DEBUG);
	assert_int_equal(d.arg.log_level, LOG_DEBUG);
	snprintf(want, sizeof(want), "contigd: info: %s reloaded: no live setting changed\n",
		 conf);
	assert_string_equal(d.log, want);
	free(d.srv);

	daemon_start(&d, "", "pool", "1G");
	assert_int_equal(daemon_reload(&d, "pool = 2G\n"), 0);
	assert_int_equal(d.arg.pool_bytes, GiB);
	assert_string_equal(d.log, want);
	free(d.srv);
	log_max_level = LOG_INFO;
}

/* A bad file changes nothing, logs nothing, and says why in err. */
static void test_reload_bad_file_changes_nothing(void **state)
{
	struct settings before_arg;
	struct server *before_srv = malloc(sizeof(*before_srv));
	struct running d;
	char want[256];

	(void)state;
	assert_non_null(before_srv);
	daemon_start(&d, "max-sessions = 10\n", NULL, NULL);
	before_arg = d.arg;
	memcpy(before_srv, d.srv, sizeof(*before_srv));

	assert_int_equal(daemon_reload(&d, "max-sessions = 20\nlog-level = debug\npol = 1G\n"),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:3: unknown key 'pol'", conf);
	assert_string_equal(err, want);
	assert_memory_equal(&d.arg, &before_arg, sizeof(before_arg));
	assert_memory_equal(d.srv, before_srv, sizeof(*before_srv));
	assert_int_equal(log_max_level, LOG_INFO);
	assert_string_equal(d.log, "");

	assert_int_equal(unlink(conf), 0);
	assert_int_equal(config_reload(conf, &d.arg, err, sizeof(err)), -ENOENT);
	assert_memory_equal(&d.arg, &before_arg, sizeof(before_arg));
	free(before_srv);
	free(d.srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_file_keeps_defaults),
		cmocka_unit_test(test_good_paths_and_sizes),
		cmocka_unit_test(test_good_numbers),
		cmocka_unit_test(test_good_words),
		cmocka_unit_test(test_good_id_lists),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unresolvable_numeric_ids),
		cmocka_unit_test(test_too_long_socket_and_too_many_ids),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_command_line_wins),
		cmocka_unit_test(test_cgroup_limits),
		cmocka_unit_test(test_comments_whitespace_blank_lines),
		cmocka_unit_test(test_crlf_and_no_final_newline),
		cmocka_unit_test(test_comment_only_at_line_start),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_missing_and_unreadable),
		cmocka_unit_test(test_reload_applies_live_keys),
		cmocka_unit_test(test_reload_restores_defaults_and_reports_nothing),
		cmocka_unit_test(test_reload_command_line_wins),
		cmocka_unit_test(test_reload_bad_file_changes_nothing),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
