/* SPDX-License-Identifier: MIT */
/*
 * test_slow_clients.c - clients that are slow, stuck or half-there cannot
 * take the daemon away from the others:
 *  - one that sends ALLOCs as fast as it can and never reads a reply (the
 *    daemon stops reading it once its replies back up; session-max-regions
 *    keeps it from taking the pool meanwhile);
 *  - 1,000 connections that never send anything, and some that send HELLO
 *    and then nothing;
 *  - ones that send half a message: on SOCK_SEQPACKET that is a datagram
 *    with a truncated body (or a header split over two datagrams), which
 *    must be refused, not waited on.
 * While they all hang on, a well-behaved libcontig client allocates and
 * frees; every operation must succeed, and its median alloc+free latency is
 * printed next to the one measured before (no threshold: machines differ).
 * The daemon's anonymous memory stays bounded, and when they go its fd
 * count comes back to the baseline and the pool to idle.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"
#include "relcommon.h"

#define IDLE_CONNS 1000
#define ROUNDS     300

static struct daemon_proc d;
static char conf[128];
static int teardown_status;

static int setup(void **state)
{
	static const char *args[] = { "--pool", "64M", "--config", NULL, NULL };
	FILE *f;

	(void)state;
	snprintf(conf, sizeof(conf), "/tmp/contig-slow-%d.conf", (int)getpid());
	f = fopen(conf, "we");
	if (!f)
		return -1;
	/* The stuck client may hold a few regions, not the pool. */
	fputs("session-max-regions = 4\n", f);
	fclose(f);
	args[3] = conf;
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf);
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ROUNDS alloc+free pairs, each checked; the median in microseconds. */
static double service_median_us(void)
{
	static uint64_t ns[ROUNDS];

	for (int i = 0; i < ROUNDS; i++) {
		size_t n = i % 3 == 0 ? PS : 4096;
		uint64_t t0 = mono_ns();
		uint8_t *p = contig_alloc(n, CONTIG_MAX_ADDRESS);
		assert_non_null(p);
		p[0] = 1;
		contig_free(p);
		ns[i] = mono_ns() - t0;
	}
	qsort(ns, ROUNDS, sizeof(ns[0]), cmp_u64);
	return (double)ns[ROUNDS / 2] / 1000.0;
}

static int connect_nb(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Refused: the daemon hangs up (maybe after saying why). */
static void expect_refused(int fd)
{
	assert_true(raw_expect_hangup(fd, NULL));
	close(fd);
}

/* The most regions any session holds (root sees every session). */
static uint32_t max_session_regions(void)
{
	static uint8_t buf[PROTO_MAX_MSG];
	int fd = raw_connect(d.socket, 1);
	uint64_t cursor = 0;
	uint32_t most = 0;

	assert_true(fd >= 0);
	do {
		struct proto_list l = { .table = PROTO_TABLE_SESSIONS, .cursor = cursor };
		struct proto_msg m;
		size_t len = proto_encode(buf, PROTO_LIST, 3, &l, sizeof(l));
		ssize_t got = raw_call(fd, buf, len, buf, sizeof(buf));

		assert_true(got > 0);
		assert_int_equal(proto_decode(buf, (size_t)got, 0, &m), 0);
		assert_int_equal(m.hdr.type, PROTO_LIST_REPLY);
		for (uint32_t i = 0; i < m.body.list_reply.count; i++) {
			struct proto_session_item it;
			memcpy(&it, m.items + (size_t)i * m.body.list_reply.item_size, sizeof(it));
			if (it.regions > most)
				most = it.regions;
		}
		cursor = m.body.list_reply.next;
	} while (cursor);
	close(fd);
	return most;
}

static void test_stuck_and_idle(void **state)
{
	static int idle[IDLE_CONNS], hello_only[32];
	struct rlimit rl;
	uint8_t buf[256];
	int stuck, sent = 0, baseline;
	long rss0, rss1;
	double before, during;

	(void)state;
	/* 1,000+ sockets of our own. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < IDLE_CONNS + 256) {
		rl.rlim_cur = rl.rlim_max < IDLE_CONNS + 256 ? rl.rlim_max : IDLE_CONNS + 256;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	assert_true(rl.rlim_cur >= IDLE_CONNS + 256);

	before = service_median_us();
	assert_true(wait_pool_idle(10000));
	/* The baseline: this process's own session is connected. */
	baseline = daemon_fd_count(&d);
	rss0 = proc_rss_anon_kb(d.pid);

	/* Stuck: ALLOCs until its socket is full, never a recv. */
	stuck = raw_connect(d.socket, 1);
	assert_true(stuck >= 0);
	assert_int_equal(fcntl(stuck, F_SETFL, O_NONBLOCK), 0);
	struct proto_alloc a = { .nbytes = 4096, .highest = UINT64_MAX, .node = PROTO_NODE_ANY };
	size_t n = proto_encode(buf, PROTO_ALLOC, 1, &a, sizeof(a));
	for (; sent < 100000; sent++) {
		if (send(stuck, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
	}
	assert_true(sent > 10);

	/* Idle: connected, nothing sent, ever. */
	for (int i = 0; i < IDLE_CONNS; i++)
		idle[i] = connect_nb(d.socket);
	/* HELLO, then silence. */
	for (int i = 0; i < 32; i++)
		hello_only[i] = raw_connect(d.socket, 1);

	/* Half messages: a body cut short (the header says 24 bytes, 20
	 * come), a header-only ALLOC, a HELLO split over two datagrams, the
	 * first 20 bytes of an ALLOC after a good HELLO. */
	size_t hn = proto_encode(buf, PROTO_HELLO, 1,
				 &(struct proto_hello){ .version = PROTO_VERSION }, sizeof(struct proto_hello));
	int h1 = connect_nb(d.socket);
	assert_int_equal(send(h1, buf, hn - 4, MSG_NOSIGNAL), (ssize_t)(hn - 4));
	int h2 = raw_connect(d.socket, 1);
	size_t an = proto_encode(buf, PROTO_ALLOC, 2, NULL, 0);
	assert_int_equal(send(h2, buf, an, MSG_NOSIGNAL), (ssize_t)an);
	int h3 = connect_nb(d.socket);
	hn = proto_encode(buf, PROTO_HELLO, 1, &(struct proto_hello){ .version = PROTO_VERSION },
			  sizeof(struct proto_hello));
	assert_int_equal(send(h3, buf, 10, MSG_NOSIGNAL), 10);
	(void)send(h3, buf + 10, hn - 10, MSG_NOSIGNAL);
	int h4 = raw_connect(d.socket, 1);
	an = proto_encode(buf, PROTO_ALLOC, 2, &a, sizeof(a));
	assert_int_equal(send(h4, buf, 20, MSG_NOSIGNAL), 20);
	expect_refused(h1);
	expect_refused(h2);
	expect_refused(h3);
	expect_refused(h4);

	/* Service while they hang on. */
	during = service_median_us();
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	rss1 = proc_rss_anon_kb(d.pid);
	printf("slow clients: stuck client sent %d ALLOCs unread; %d idle + 32 hello-only connections; "
	       "daemon fds %d -> %d\n", sent, IDLE_CONNS, baseline, daemon_fd_count(&d));
	printf("slow clients: alloc+free median %.1f us alone, %.1f us with them hanging on "
	       "(%d rounds each); daemon anonymous memory %ld -> %ld KiB\n",
	       before, during, ROUNDS, rss0, rss1);
	/* Bounded: a session costs a few hundred bytes, and the stuck one's
	 * queue is one reply deep; 1,000+ sessions stay far below 32 MiB. */
	assert_true(rss1 - rss0 < 32 * 1024);

	/* The stuck client got its quota's worth and no more. */
	assert_int_equal(max_session_regions(), 4);

	/* They go; everything comes back. */
	for (int i = 0; i < IDLE_CONNS; i++)
		close(idle[i]);
	for (int i = 0; i < 32; i++)
		close(hello_only[i]);
	close(stuck);
	assert_true(wait_pool_idle(10000));
	int now = wait_daemon_fds(&d, baseline, 10000);
	printf("slow clients: daemon fds back to %d (baseline %d)\n", now, baseline);
	assert_true(now <= baseline);
	/* And service is as it was. */
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	check_region(p, PS);
	contig_free(p);
}

/* A client that reads its replies very slowly still gets all of them, in
 * order, and never more than it asked for in flight. */
static void test_slow_reader(void **state)
{
	uint8_t buf[256];
	int fd;

	(void)state;
	fd = raw_connect(d.socket, 1);
	assert_true(fd >= 0);
	struct proto_query q = { PROTO_NODE_ANY, 0 };
	for (uint32_t i = 0; i < 200; i++) {
		size_t n = proto_encode(buf, PROTO_QUERY, 1000 + i, &q, sizeof(q));
		assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
	}
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	check_region(p, PS);
	contig_free(p);
	for (uint32_t i = 0; i < 200; i++) {
		struct proto_msg m;
		if (i % 50 == 0)
			sleep_ms(50);
		assert_int_equal(raw_reply(fd, &m), PROTO_POOL_INFO);
		assert_int_equal(m.hdr.request, 1000 + i);
	}
	close(fd);
	assert_true(wait_pool_idle(10000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stuck_and_idle),
		cmocka_unit_test(test_slow_reader),
	};

	signal(SIGPIPE, SIG_IGN);
	int failed = cmocka_run_group_tests_name("reliability-slow-clients", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
