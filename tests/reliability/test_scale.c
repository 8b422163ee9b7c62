/* SPDX-License-Identifier: MIT */
/*
 * test_scale.c - reliability at scale, bounded in time (issue 19):
 *
 *   - 1,000 client processes connected at once, each holding a region, all
 *     SIGKILLed together: the pool comes back whole, the daemon has not one
 *     fd more than before, and no session is left;
 *   - the daemon at its fd limit (RLIMIT_NOFILE) refuses a new connection
 *     with a clear error (EAGAIN, told before the close, not a connection
 *     left hanging in the backlog), keeps serving the sessions it has, and
 *     takes connections again, whole, once fds come back.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"
#include "relcommon.h"

#define NKIDS 1000

static struct daemon_proc d;

static bool log_has(const struct daemon_proc *dp, const char *text)
{
	return daemon_wait_log(dp, text, 0);
}

/* A client that holds one region and says so on ready, then waits to die. */
static void kid_hold(int ready)
{
	uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	char c = p ? 1 : 0;

	if (p)
		memset(p, 0x6b, 4096);
	if (write(ready, &c, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void test_thousand_killed(void **state)
{
	static const char *const args[] = { "--pool", "2100M", NULL };
	struct contig_pool_info before = { 0 }, during = { 0 }, after = { 0 };
	static pid_t kids[NKIDS];
	int ready[2], held = 0;

	(void)state;
	assert_int_equal(daemon_start(&d, args), 0);
	assert_true(wait_pool_idle(10000));
	assert_int_equal(contig_query(&before), 0);
	int baseline = daemon_fd_count(&d);
	assert_true(baseline > 0);

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	for (int i = 0; i < NKIDS; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			close(ready[0]);
			kid_hold(ready[1]);
		}
	}
	close(ready[1]);
	for (int got = 0; got < NKIDS;) {
		struct pollfd p = { .fd = ready[0], .events = POLLIN };
		char buf[256];
		assert_int_equal(poll(&p, 1, 60000), 1);
		ssize_t n = read(ready[0], buf, sizeof(buf));
		assert_true(n > 0);
		for (ssize_t k = 0; k < n; k++)
			held += buf[k];
		got += (int)n;
	}
	close(ready[0]);
	/* All of them at once, each holding its page. */
	assert_int_equal(held, NKIDS);
	assert_true(wait_sessions(d.socket, NKIDS + 1)); /* and ours */
	assert_int_equal(contig_query(&during), 0);
	assert_true(during.free_bytes <= before.free_bytes - (uint64_t)NKIDS * PS);

	for (int i = 0; i < NKIDS; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < NKIDS; i++)
		assert_int_equal(waitpid(kids[i], NULL, 0), kids[i]);

	/* Every page back (after revocation and reclaim), every session gone,
	 * every fd of theirs closed. */
	assert_true(wait_sessions(d.socket, 1));
	assert_true(wait_pool_idle(60000));
	assert_int_equal(contig_query(&after), 0);
	assert_int_equal(after.total_bytes, before.total_bytes);
	assert_int_equal(after.free_bytes, before.free_bytes);
	assert_int_equal(wait_daemon_fds(&d, baseline, 10000), baseline);
	assert_int_equal(daemon_stop(&d), 0);
}

/* Connect and say HELLO: 1 if a session, -errno if the daemon refused it
 * (the STATUS it sent unasked), 0 if it just hung up. *ret_fd: the
 * connection, kept open when it is a session. */
static int try_session(const char *sock, int *ret_fd)
{
	struct proto_hello h = { .version = PROTO_VERSION };
	struct proto_msg m;
	int fd = raw_connect(sock, 0), t;

	*ret_fd = -1;
	if (fd < 0)
		return fd;
	if (raw_send(fd, PROTO_HELLO, 1, &h, sizeof(h)) < 0) {
		/* Refused and closed before the HELLO went: the STATUS may
		 * still be there to read. */
	}
	t = raw_reply(fd, &m);
	/* A unix socket may report the peer's close (ECONNRESET) before the
	 * datagram it sent first: read on, as libcontig does. */
	for (int i = 0; i < 2 && t == 0; i++)
		t = raw_reply(fd, &m);
	if (t == PROTO_HELLO_REPLY) {
		*ret_fd = fd;
		return 1;
	}
	close(fd);
	if (t == PROTO_STATUS && m.hdr.request == 0)
		return -(int)m.body.status.error;
	return t < 0 ? t : 0;
}

/* A libcontig client in a child: the errno of one contig_alloc (0: it got
 * a region, and freed it). */
static int child_alloc(void)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		void *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
		int e = p ? 0 : errno;
		if (p)
			contig_free(p);
		_exit(e);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_fd_limit(void **state)
{
	static const char *const args[] = { "--pool", "16M", NULL };
	struct rlimit low = { 96, 96 };
	struct contig_pool_info before = { 0 }, after = { 0 };
	struct witness w;
	int fds[256], nfds = 0, r = 0;

	(void)state;
	/* Lowered under the running daemon (it raises its soft limit to the
	 * hard one at start, so both are set). */
	assert_int_equal(daemon_start(&d, args), 0);
	assert_int_equal(prlimit(d.pid, RLIMIT_NOFILE, &low, NULL), 0);
	assert_true(wait_pool_idle(10000));
	assert_int_equal(contig_query(&before), 0);
	witness_start(&w);
	int baseline = daemon_fd_count(&d);

	/* Sessions until the daemon has no fd for one more. */
	while (nfds < 256) {
		int fd;
		r = try_session(d.socket, &fd);
		if (r <= 0)
			break;
		fds[nfds++] = fd;
	}
	fprintf(stderr, "%d sessions at RLIMIT_NOFILE 96 (%d fds before them), then %s\n", nfds,
		baseline, r < 0 ? strerror(-r) : "a hang-up");
	assert_true(nfds > 10 && nfds < 96);
	/* A clear refusal, not a hang-up: EAGAIN, try again later. */
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(child_alloc(), EAGAIN);
	assert_true(log_has(&d, "at the fd limit"));
	/* The sessions it has are served as before. */
	witness_check(&w);
	struct proto_query q = { .node = PROTO_NODE_ANY };
	struct proto_msg m;
	assert_int_equal(raw_send(fds[nfds - 1], PROTO_QUERY, 2, &q, sizeof(q)), 0);
	assert_int_equal(raw_reply(fds[nfds - 1], &m), PROTO_POOL_INFO);

	/* Fds back: connections are taken again, and nothing was lost (a
	 * reclaim that found no fd for a fresh page retries). */
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	assert_int_equal(wait_daemon_fds(&d, baseline, 10000), baseline);
	assert_int_equal(child_alloc(), 0);
	witness_check(&w);
	witness_stop(&w);
	assert_true(wait_pool_idle(20000));
	assert_int_equal(contig_query(&after), 0);
	assert_int_equal(after.total_bytes, before.total_bytes);
	assert_int_equal(after.free_bytes, before.free_bytes);
	assert_int_equal(daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thousand_killed),
		cmocka_unit_test(test_fd_limit),
	};

	if (geteuid() != 0) {
		printf("not root: skipping\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("reliability-scale", tests, NULL, NULL);
}
