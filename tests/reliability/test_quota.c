/* SPDX-License-Identifier: MIT */
/*
 * test_quota.c - quotas and access control of a real contigd started with
 * --config: EDQUOT past session-max-regions, session-max-bytes,
 * uid-max-regions, uid-max-bytes, uid-max-sessions and max-sessions, seen
 * from libcontig; limits changed by SIGHUP apply to the next request;
 * with carving on (the default) a page leased to carve from is one region
 * of the session and its uid, counted in whole pool pages however much of
 * it is carved, so EDQUOT arrives when a carved request needs a new lease
 * (not before), and an emptied page parked in the stash table never makes
 * a request EDQUOT;
 * EACCES for a uid that is neither root, nor in the socket's group, nor in
 * allow-users/allow-groups (the socket is made world-connectable so that
 * the refusal comes from the daemon, not from the file mode); success for
 * each way of being allowed.
 *
 * Unprivileged clients are forked children that drop to another uid; they
 * report through their exit code (no cmocka in a child).
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"
#include "relcommon.h"

/* Ids that exist on Debian: nobody/nogroup, daemon, games, users. */
#define NOBODY   65534
#define NOGROUP  65534
#define DAEMON   1
#define GAMES    60
#define USERS    100

static struct daemon_proc d;
static char conf[128];

static void write_config(const char *text)
{
	FILE *f = fopen(conf, "we");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A daemon with this config; the socket world-connectable. */
static void start(const char *text)
{
	static const char *args[] = { "--pool", "64M", "--config", NULL, NULL };

	snprintf(conf, sizeof(conf), "/tmp/contig-quota-%d.conf", (int)getpid());
	write_config(text);
	args[3] = conf;
	assert_int_equal(daemon_start(&d, args), 0);
	socket_world_connectable(&d);
	/* libcontig may still hold a connection to the previous daemon: the
	 * first call after a restart can fail with ECONNRESET. */
	for (int i = 0; i < 3; i++) {
		struct contig_pool_info info = { 0 };
		if (contig_query(&info) == 0)
			break;
	}
}

static void stop(void)
{
	assert_true(wait_pool_idle(10000));
	assert_int_equal(daemon_stop(&d), 0);
	unlink(conf);
}

/* After a failed test: whatever is left of its daemon goes. */
static int teardown(void **state)
{
	(void)state;
	if (d.pid > 0)
		daemon_stop(&d);
	unlink(conf);
	return 0;
}

/* A whole-page region of any size (CONTIG_SHAREABLE): one region, and at
 * least one pool page, of the quota each. */
static uint8_t *whole(size_t n)
{
	return contig_alloc_flags(n, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NODE_ANY, CONTIG_SHAREABLE);
}

/* A carved region: its mapping is its size rounded up to 4 KiB. */
static bool is_carved(const void *p, size_t n)
{
	struct contig_region_info ri;

	return contig_region_info(p, &ri) == 0 && ri.mapped_bytes == (n + 4095) / 4096 * 4096 &&
	       ri.mapped_bytes < ri.page_size;
}

/* The pool page holding p, by address. */
static uintptr_t page_of(const void *p)
{
	return (uintptr_t)p & ~(uintptr_t)(PS - 1);
}

static void count_row(const void *item, void *ctx)
{
	(void)item;
	(*(int *)ctx)++;
}

/* Regions the daemon holds for anyone (a LIST from another session takes
 * nothing stashed). */
static int regions_listed(void)
{
	int rows = 0;

	assert_true(raw_list(d.socket, PROTO_TABLE_REGIONS, count_row, &rows) >= 0);
	return rows;
}

#define EXPECT_ERR(call, e)                 \
	do {                                \
		errno = 0;                  \
		assert_null(call);          \
		assert_int_equal(errno, e); \
	} while (0)

/* Nth "reloaded" line in the daemon's log: SIGHUP has been applied. */
static void reload(int nth)
{
	daemon_reload_wait(&d, nth);
}

static void test_session_regions(void **state)
{
	enum { UNITS = PS / 4096 }; /* 4 KiB regions one leased page holds */
	static uint8_t *c[UNITS];
	uint8_t *r[4];

	(void)state;
	start("session-max-regions = 3\n");
	/* Three whole-page regions, then EDQUOT, also for a tiny one: carved,
	 * it needs a page leased, and a lease is a region. */
	for (int i = 0; i < 3; i++) {
		r[i] = whole(4096);
		assert_non_null(r[i]);
	}
	EXPECT_ERR(whole(4096), EDQUOT);
	EXPECT_ERR(contig_alloc(4096, CONTIG_MAX_ADDRESS), EDQUOT);
	EXPECT_ERR(contig_alloc(PS, CONTIG_MAX_ADDRESS), EDQUOT);
	/* Not a pool shortage: the pool has room, and after one free the
	 * same request succeeds. */
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	assert_true(info.free_bytes >= 32 * MiB);
	contig_free(r[0]);
	r[0] = whole(4096);
	assert_non_null(r[0]);
	EXPECT_ERR(whole(4096), EDQUOT);
	/* Another session (a child process) has its own count. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = 0;
		for (int i = 0; i < 3; i++)
			ok += whole(4096) != NULL;
		errno = 0;
		_exit(ok == 3 && !contig_alloc(4096, CONTIG_MAX_ADDRESS) && errno == EDQUOT ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 3; i++)
		contig_free(r[i]);
	assert_true(wait_pool_idle(10000)); /* (takes what this process stashed) */

	/* Carving: the leased page is the third region, and a whole page of
	 * 4 KiB regions is carved from it; the next needs another lease. */
	r[0] = whole(4096);
	r[1] = whole(4096);
	assert_non_null(r[0]);
	assert_non_null(r[1]);
	for (int i = 0; i < UNITS; i++) {
		c[i] = contig_alloc(4096, CONTIG_MAX_ADDRESS);
		if (!c[i])
			fail_msg("carved region %d of %d: errno %d", i, UNITS, errno);
		assert_true(is_carved(c[i], 4096));
		assert_int_equal(page_of(c[i]), page_of(c[0]));
	}
	EXPECT_ERR(contig_alloc(4096, CONTIG_MAX_ADDRESS), EDQUOT);
	EXPECT_ERR(whole(4096), EDQUOT);
	/* Room in the leased page costs no quota. */
	uint8_t *hole = c[UNITS / 2];
	contig_free(hole);
	c[UNITS / 2] = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_ptr_equal(c[UNITS / 2], hole);
	/* A freed whole page sits in the stash, still a region of ours: the
	 * daemon takes it rather than refuse the next lease. */
	contig_free(r[1]);
	assert_int_equal(regions_listed(), 3);
	uint8_t *x = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(x);
	assert_true(is_carved(x, 4096));
	assert_int_not_equal(page_of(x), page_of(c[0]));
	/* The emptied page, parked, is a region too until the daemon takes it,
	 * which it does rather than refuse a request. */
	for (int i = 0; i < UNITS; i++)
		contig_free(c[i]);
	assert_int_equal(regions_listed(), 3);
	r[1] = whole(4096);
	assert_non_null(r[1]);
	contig_free(x);
	contig_free(r[0]);
	contig_free(r[1]);

	/* Live: SIGHUP lowers the limit; the next request is held to it. */
	write_config("session-max-regions = 1\n");
	r[0] = whole(4096);
	assert_non_null(r[0]);
	reload(1);
	EXPECT_ERR(whole(4096), EDQUOT);
	EXPECT_ERR(contig_alloc(4096, CONTIG_MAX_ADDRESS), EDQUOT);
	contig_free(r[0]);
	r[0] = whole(4096);
	assert_non_null(r[0]);
	contig_free(r[0]);
	/* The freed page is stashed, and taken for the lease. */
	r[0] = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(r[0]);
	assert_true(is_carved(r[0], 4096));
	contig_free(r[0]);
	stop();
}

static void test_session_bytes(void **state)
{
	uint8_t *r[5];
	int pfd[2], status;
	struct contig_handle h;
	pid_t pid;

	(void)state;
	start("session-max-bytes = 8M\n");
	/* Counted in whole pool pages: four one-page regions fill it, a 4 KiB
	 * one too when it takes a whole page. A byte more is carved, from a
	 * page that would have to be leased: refused. */
	for (int i = 0; i < 4; i++) {
		r[i] = i % 2 ? whole(4096) : contig_alloc(PS, CONTIG_MAX_ADDRESS);
		assert_non_null(r[i]);
	}
	EXPECT_ERR(contig_alloc(1, CONTIG_MAX_ADDRESS), EDQUOT);
	contig_free(r[3]);
	/* One region past it in one go, whatever the pool could do. */
	EXPECT_ERR(contig_alloc(2 * PS + 1, CONTIG_MAX_ADDRESS), EDQUOT);
	EXPECT_ERR(contig_alloc(8 * MiB + 1, CONTIG_MAX_ADDRESS), EDQUOT);
	r[3] = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(r[3]);

	/* Imports count: a region of another session is refused until this
	 * one has room for it. */
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t *x = contig_alloc(PS, CONTIG_MAX_ADDRESS);
		if (!x || contig_export(x, &h) < 0)
			_exit(1);
		memset(x, 0x42, PS);
		(void)!write(pfd[1], &h, sizeof(h));
		pause();
		_exit(0);
	}
	assert_int_equal(read(pfd[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	EXPECT_ERR(contig_import(&h, NULL), EDQUOT);
	contig_free(r[0]);
	uint8_t *imp = contig_import(&h, NULL);
	assert_non_null(imp);
	assert_int_equal(imp[PS - 1], 0x42);
	EXPECT_ERR(contig_alloc(4096, CONTIG_MAX_ADDRESS), EDQUOT);
	contig_free(imp);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pfd[0]);
	close(pfd[1]);
	for (int i = 1; i < 4; i++)
		contig_free(r[i]);
	assert_true(wait_pool_idle(10000)); /* (takes what this process stashed) */

	/* Carved regions cost the pages leased for them, not their bytes:
	 * with three pages held, the lease for 4 KiB fills the quota, and
	 * the rest of that page is carved with no more; the next 4 KiB
	 * needs a fifth page. */
	for (int i = 0; i < 3; i++) {
		r[i] = contig_alloc(PS, CONTIG_MAX_ADDRESS);
		assert_non_null(r[i]);
	}
	r[3] = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(r[3]);
	assert_true(is_carved(r[3], 4096));
	r[4] = contig_alloc(PS - 4096, CONTIG_MAX_ADDRESS);
	assert_non_null(r[4]);
	assert_true(is_carved(r[4], PS - 4096));
	assert_int_equal(page_of(r[4]), page_of(r[3]));
	EXPECT_ERR(contig_alloc(4096, CONTIG_MAX_ADDRESS), EDQUOT);
	for (int i = 0; i < 5; i++)
		contig_free(r[i]);
	stop();
}

/* ---- per uid: children as nobody ---- */

struct uid_job {
	int go[2], done[2];   /* parent -> child "next step", child -> parent "result" */
};

/* Child side: do the steps the parent asks for, answer each with errno (0
 * for success), hold what it got until told to exit. */
static int uid_worker(void *arg)
{
	struct uid_job *j = arg;
	uint8_t *held[16];
	int n = 0;
	char cmd;

	while (read(j->go[0], &cmd, 1) == 1) {
		/* 'a': 4 KiB, carved; 'w': 4 KiB in a whole page; 'b': three
		 * pages (asked only where the quota refuses it: the pool need
		 * not have three contiguous pages). */
		size_t bytes = cmd == 'a' || cmd == 'w' ? 4096 : cmd == 'b' ? 3 * PS : 0;
		char res;
		if (cmd == 'q') {
			struct contig_pool_info info = { 0 };
			res = contig_query(&info) == 0 ? 0 : (char)errno;
		} else if (!bytes) {
			break;
		} else {
			errno = 0;
			uint8_t *p = cmd == 'w' ? whole(bytes) : contig_alloc(bytes, CONTIG_MAX_ADDRESS);
			res = p ? 0 : (char)errno;
			if (p && (!all_zero(p, bytes) || n == 16 || is_carved(p, bytes) != (cmd == 'a')))
				res = 127;
			if (p && n < 16)
				held[n++] = p;
		}
		if (write(j->done[1], &res, 1) != 1)
			return 3;
	}
	for (int i = 0; i < n; i++)
		contig_free(held[i]);
	return 0;
}

struct uid_child {
	pid_t pid;
	struct uid_job j;
};

static void child_start(struct uid_child *c, uid_t uid, gid_t gid)
{
	assert_int_equal(pipe2(c->j.go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(c->j.done, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		/* Not the pipes of the other children: they would never see EOF. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != c->j.go[0] && fd != c->j.done[1])
				close(fd);
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(120);
		_exit(uid_worker(&c->j));
	}
	close(c->j.go[0]);
	close(c->j.done[1]);
}

/* Ask the child for one step; its errno (0: success). */
static int child_do(struct uid_child *c, char cmd)
{
	char res = 99;

	assert_int_equal(write(c->j.go[1], &cmd, 1), 1);
	assert_int_equal(read(c->j.done[0], &res, 1), 1);
	return res;
}

static void child_stop(struct uid_child *c)
{
	int status;

	close(c->j.go[1]);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	close(c->j.done[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_uid_limits(void **state)
{
	struct uid_child a, b, c;

	(void)state;
	/* Room for a fifth page: a refusal of a fifth region is for the
	 * region count alone. */
	start("allow-users = 65534\nuid-max-regions = 4\nuid-max-bytes = 10M\nuid-max-sessions = 2\n");
	child_start(&a, NOBODY, NOGROUP);
	child_start(&b, NOBODY, NOGROUP);
	/* Regions: four across two sessions of the same uid, then EDQUOT in
	 * both. A page leased for carving is one, however many regions are
	 * carved from it: a carved request is refused only when it needs a
	 * new lease. */
	assert_int_equal(child_do(&a, 'a'), 0);       /* leases a page: 1 */
	assert_int_equal(child_do(&a, 'a'), 0);       /* carved from it: still 1 */
	assert_int_equal(child_do(&a, 'w'), 0);
	assert_int_equal(child_do(&a, 'w'), 0);
	assert_int_equal(child_do(&b, 'w'), 0);       /* 4 */
	assert_int_equal(child_do(&b, 'w'), EDQUOT);
	assert_int_equal(child_do(&b, 'a'), EDQUOT);  /* b has no page to carve from */
	assert_int_equal(child_do(&a, 'w'), EDQUOT);
	assert_int_equal(child_do(&a, 'a'), 0);       /* a has */
	/* root is not bound by the uid quota. */
	uint8_t *mine = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	assert_non_null(mine);
	contig_free(mine);
	mine = whole(4096);
	assert_non_null(mine);
	contig_free(mine);
	child_stop(&a);
	child_stop(&b);
	assert_true(wait_pool_idle(10000));

	/* Bytes: 8 MiB in whole pages across the uid's sessions, with room
	 * for more regions (SIGHUP), so a refusal is for the bytes alone; a
	 * page leased for carving counts whole. */
	write_config("allow-users = 65534\nuid-max-regions = 16\nuid-max-bytes = 8M\n"
		     "uid-max-sessions = 2\n");
	reload(1);
	child_start(&a, NOBODY, NOGROUP);
	child_start(&b, NOBODY, NOGROUP);
	assert_int_equal(child_do(&a, 'w'), 0);
	assert_int_equal(child_do(&b, 'a'), 0);       /* a leased page: 2 pages */
	assert_int_equal(child_do(&b, 'b'), EDQUOT);  /* 2 + 3 pages > 4 pages */
	assert_int_equal(child_do(&b, 'w'), 0);       /* 3 pages */
	assert_int_equal(child_do(&a, 'b'), EDQUOT);
	assert_int_equal(child_do(&a, 'w'), 0);       /* 4 pages: exactly the quota */
	assert_int_equal(child_do(&a, 'a'), EDQUOT);  /* a lease would be a fifth */
	assert_int_equal(child_do(&b, 'a'), 0);       /* carved from b's page */
	assert_int_equal(child_do(&b, 'w'), EDQUOT);

	/* Sessions: the uid's third concurrent session is refused, whether
	 * its first call waits for the HELLO's answer (a query; a carved
	 * allocation, which needs the page size first) or sends its request
	 * right behind the HELLO (a whole-page allocation). */
	child_start(&c, NOBODY, NOGROUP);
	assert_int_equal(child_do(&c, 'q'), EDQUOT);
	child_stop(&c);
	child_start(&c, NOBODY, NOGROUP);
	assert_int_equal(child_do(&c, 'a'), EDQUOT);
	child_stop(&c);
	child_start(&c, NOBODY, NOGROUP);
	assert_int_equal(child_do(&c, 'w'), EDQUOT);
	child_stop(&c);
	child_stop(&a);
	/* One of the uid's sessions went (b and this process's are left): a
	 * new one is accepted. */
	assert_true(wait_sessions(d.socket, 2));
	child_start(&c, NOBODY, NOGROUP);
	assert_int_equal(child_do(&c, 'q'), 0);
	assert_int_equal(child_do(&c, 'a'), 0);
	assert_int_equal(child_do(&c, 'w'), 0);
	child_stop(&c);
	child_stop(&b);
	stop();
}

static int query_errno(void *arg)
{
	struct contig_pool_info info = { 0 };

	(void)arg;
	return contig_query(&info) == 0 ? 0 : errno;
}

static void test_max_sessions(void **state)
{
	struct contig_pool_info info = { 0 };
	int fds[2];

	(void)state;
	start("max-sessions = 3\n");
	/* This process's libcontig session is one of the three. */
	assert_int_equal(contig_query(&info), 0);
	for (int i = 0; i < 2; i++) {
		fds[i] = raw_connect(d.socket, 1);
		assert_true(fds[i] >= 0);
	}
	/* A fourth client: told EDQUOT, not left with a dead connection. */
	assert_int_equal(run_as(0, 0, NULL, 0, query_errno, NULL), EDQUOT);
	assert_int_equal(run_as(NOBODY, NOGROUP, NULL, 0, query_errno, NULL), EDQUOT);
	/* The sessions in place still work. */
	for (int i = 0; i < 2; i++) {
		struct proto_query q = { PROTO_NODE_ANY, 0 };
		uint8_t buf[PROTO_MAX_MSG];
		size_t n = proto_encode(buf, PROTO_QUERY, 2, &q, sizeof(q));
		assert_true(raw_call(fds[i], buf, n, buf, sizeof(buf)) > 0);
	}
	assert_int_equal(contig_query(&info), 0);
	/* One leaves (the daemon counts 2 sessions again): the next client gets in. */
	close(fds[0]);
	for (int i = 0; i < 500; i++) {
		struct proto_query q = { PROTO_NODE_ANY, 0 };
		struct proto_msg m;
		assert_int_equal(raw_send(fds[1], PROTO_QUERY, 3, &q, sizeof(q)), 0);
		assert_int_equal(raw_reply(fds[1], &m), PROTO_POOL_INFO);
		if (m.body.pool_info.sessions == 2)
			break;
		sleep_ms(10);
	}
	assert_int_equal(run_as(0, 0, NULL, 0, query_errno, NULL), 0);
	close(fds[1]);
	stop();
}

/* ---- access ---- */

static int alloc_errno(void *arg)
{
	(void)arg;
	errno = 0;
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	if (!p)
		return errno ? errno : 126;
	if (!all_zero(p, PS))
		return 127;
	memset(p, 1, PS);
	contig_free(p);
	return 0;
}

static int import_errno(void *arg)
{
	errno = 0;
	uint8_t *p = contig_import(arg, NULL);
	if (!p)
		return errno ? errno : 126;
	contig_free(p);
	return 0;
}

static void test_access(void **state)
{
	static const gid_t games[] = { GAMES };
	struct contig_handle h;

	(void)state;
	start("allow-users = daemon\nallow-groups = games\nsocket-group = users\n");
	/* Not allowed: nobody, in no allowed group. */
	assert_int_equal(run_as(NOBODY, NOGROUP, NULL, 0, alloc_errno, NULL), EACCES);
	/* Refused allocation is EACCES whatever its size or constraints. */
	uint8_t *mine = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(mine);
	assert_int_equal(contig_export(mine, &h), 0);
	assert_int_equal(run_as(NOBODY, NOGROUP, NULL, 0, import_errno, &h), EACCES);
	/* Allowed: by uid, by primary group, by supplementary group, by the
	 * socket's group; root always. */
	assert_int_equal(run_as(DAEMON, DAEMON, NULL, 0, alloc_errno, NULL), 0);
	assert_int_equal(run_as(NOBODY, GAMES, NULL, 0, alloc_errno, NULL), 0);
	assert_int_equal(run_as(NOBODY, NOGROUP, games, 1, alloc_errno, NULL), 0);
	assert_int_equal(run_as(NOBODY, USERS, NULL, 0, alloc_errno, NULL), 0);
	assert_int_equal(alloc_errno(NULL), 0);
	/* An allowed user of another uid may not import root's region either
	 * (no import-groups configured). */
	assert_int_equal(run_as(DAEMON, DAEMON, NULL, 0, import_errno, &h), EACCES);
	contig_free(mine);
	stop();

	/* Without any allow-list and with a root-owned socket: only root. */
	start("\n");
	assert_int_equal(run_as(DAEMON, DAEMON, NULL, 0, alloc_errno, NULL), EACCES);
	assert_int_equal(run_as(NOBODY, USERS, NULL, 0, alloc_errno, NULL), EACCES);
	assert_int_equal(alloc_errno(NULL), 0);
	/* SIGHUP adds a user: the next connection of that user is allowed. */
	write_config("allow-users = nobody\n");
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	sleep_ms(300);
	assert_int_equal(run_as(NOBODY, NOGROUP, NULL, 0, alloc_errno, NULL), 0);
	stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_session_regions, teardown),
		cmocka_unit_test_teardown(test_session_bytes, teardown),
		cmocka_unit_test_teardown(test_uid_limits, teardown),
		cmocka_unit_test_teardown(test_max_sessions, teardown),
		cmocka_unit_test_teardown(test_access, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("CONTIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CONTIG_TEST_FILTER"));
	return cmocka_run_group_tests_name("reliability-quota", tests, NULL, NULL);
}
