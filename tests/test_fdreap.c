/* SPDX-License-Identifier: MIT */
/*
 * test_fdreap.c - the reaper that closes fds clients sent, off the loop
 * thread (daemon/fdreap.c). This kernel refuses such fds at sendmsg
 * (SO_PASSRIGHTS), so the integration tests never reach the reaper; here it
 * is driven directly: every fd pushed is closed, none is leaked, and a close
 * that blocks (a TCP socket lingering over unsent data) blocks the reaper,
 * never the caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdreap.h"

/* The write end of a pipe learns that every copy of its read end is closed. */
static bool read_end_closed(int wr)
{
	return write(wr, "x", 1) < 0 && errno == EPIPE;
}

static bool wait_closed(int wr, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (read_end_closed(wr))
			return true;
		usleep(10000);
	}
	return read_end_closed(wr);
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void test_all_closed(void **state)
{
	struct fdreap r;
	int rd[64], wr[64];
	int before = open_fds();

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(fdreap_start(&r), 0);
	for (int i = 0; i < 64; i++) {
		int p[2];
		assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		rd[i] = p[0];
		wr[i] = p[1];
	}
	/* In batches of several sizes, as sessions would push them. */
	fdreap_push(&r, rd, 1);
	fdreap_push(&r, rd + 1, 13);
	fdreap_push(&r, rd + 14, 50);
	for (int i = 0; i < 64; i++)
		assert_int_equal(rd[i], -1); /* consumed */
	for (int i = 0; i < 64; i++)
		assert_true(wait_closed(wr[i], 5000));
	fdreap_stop(&r);
	for (int i = 0; i < 64; i++)
		close(wr[i]);
	assert_int_equal(open_fds(), before);
}

/* No reaper running (the fuzzers, the tests of the session code): closed at
 * once, in the caller. */
static void test_without_thread(void **state)
{
	struct fdreap r = { 0 };
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	fdreap_push(&r, &p[0], 1);
	assert_int_equal(p[0], -1);
	assert_true(read_end_closed(p[1]));
	close(p[1]);
	fdreap_push(NULL, NULL, 0);
}

/* A TCP socket whose unsent data cannot leave and which lingers: its last
 * close blocks for the linger time. Returns it, or -1. */
static int lingering_socket(int *ret_listener, int seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct linger lg = { .l_onoff = 1, .l_linger = seconds };
	int small = 4096, l, c;
	static char junk[65536];

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	(void)setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	(void)setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* Nobody reads the peer: fill both buffers until the send would block. */
	fcntl(c, F_SETFL, O_NONBLOCK);
	while (send(c, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
		;
	fcntl(c, F_SETFL, 0);
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	*ret_listener = l;
	return c;
}

static void test_blocking_close_stays_off_caller(void **state)
{
	struct fdreap r;
	int listener, p[2];
	int fds[2];

	(void)state;
	assert_int_equal(fdreap_start(&r), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	fds[0] = lingering_socket(&listener, 2);
	fds[1] = p[0];
	/* The reaper closes the socket first and blocks there for the linger
	 * time; the pipe behind it is still open when push has returned, so
	 * the push did not close anything itself (an inline close would have
	 * blocked here and closed the pipe before returning). */
	fdreap_push(&r, fds, 2);
	assert_false(read_end_closed(p[1]));
	assert_true(wait_closed(p[1], 10000));
	fdreap_stop(&r);
	close(p[1]);
	close(listener);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_closed),
		cmocka_unit_test(test_without_thread),
		cmocka_unit_test(test_blocking_close_stays_off_caller),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
