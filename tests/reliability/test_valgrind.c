/* SPDX-License-Identifier: MIT */
/*
 * test_valgrind.c - contigd under valgrind memcheck through a short but
 * wide scenario: allocations of every shape, frees, sharing, inspection of
 * every table, a client SIGKILLed while holding regions (quarantine, then
 * reclaim), garbage and fds from a hostile client, SIGHUP and SIGUSR1, then
 * SIGTERM. valgrind runs with --error-exitcode=99 and definite leaks count
 * as errors, so the daemon's exit status 0 means zero reports.
 *
 * Skipped (77) when valgrind is not installed, and in sanitizer builds
 * (an ASan binary cannot run under valgrind).
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

#include "rawclient.h"
#include "relcommon.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static struct daemon_proc d;
static char dir[64], wrapper[128], vglog[128];
static int teardown_status = 1;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "32M", "--threads", "1", NULL };
	const char *real = getenv("CONTIGD");
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/contig-vg-XXXXXX");
	if (!real || !mkdtemp(dir))
		return -1;
	snprintf(wrapper, sizeof(wrapper), "%s/contigd-vg", dir);
	snprintf(vglog, sizeof(vglog), "%s/valgrind.log", dir);
	f = fopen(wrapper, "we");
	if (!f)
		return -1;
	/* One line per option, each of which matters:
	 *   --error-exitcode: any report turns exit 0 into 99;
	 *   --errors-for-leak-kinds=definite: a definite leak is a report. */
	fprintf(f, "#!/bin/sh\nexec valgrind -q --error-exitcode=99 --leak-check=full "
		   "--errors-for-leak-kinds=definite --show-leak-kinds=definite "
		   "--track-fds=no --log-file=%s %s \"$@\"\n", vglog, real);
	fclose(f);
	chmod(wrapper, 0755);
	setenv("CONTIGD", wrapper, 1);
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	char cmd[512];
	int status;

	(void)state;
	status = daemon_stop(&d);
	printf("valgrind: contigd exited with %d%s\n", status,
	       status == 99 ? " (valgrind found errors)" : "");
	snprintf(cmd, sizeof(cmd), "test -s %s && { echo '--- valgrind log:'; cat %s; }", vglog, vglog);
	(void)!system(cmd);
	unlink(vglog);
	unlink(wrapper);
	rmdir(dir);
	teardown_status = status == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static void test_scenario(void **state)
{
	static const size_t sizes[] = { 1, 4096, 65536, PS - 1, PS };
	uint8_t *p[8];
	struct contig_pool_info info = { 0 };
	struct contig_handle h;
	uint8_t *q;
	int status;

	(void)state;
	/* Shapes of allocations, then frees. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = contig_alloc(sizes[i], CONTIG_MAX_ADDRESS);
		check_region(p[i], sizes[i]);
	}
	/* Larger ones need a physically contiguous run: ENOMEM is an answer. */
	q = contig_alloc(3 * PS, CONTIG_MAX_ADDRESS);
	if (q)
		check_region(q, 3 * PS);
	else
		assert_int_equal(errno, ENOMEM);
	contig_free(q);
	assert_int_equal(contig_query(&info), 0);
	uint64_t top = contig_phys_addr(p[3]) + PS - 1;
	q = contig_alloc_specify_cache(4096, 0, top, 4 * MiB, CONTIG_CACHED);
	if (q)
		contig_free(q);
	errno = 0;
	assert_null(contig_alloc(0, CONTIG_MAX_ADDRESS));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(contig_alloc_specify_cache(4096, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_NON_CACHED));
	assert_int_equal(errno, ENOTSUP);
	errno = 0;
	assert_null(contig_alloc(64 * MiB, CONTIG_MAX_ADDRESS));
	assert_int_equal(errno, ENOMEM);
	/* Sharing. */
	assert_int_equal(contig_export(p[4], &h), 0); /* whole pool page: a carved one is not exportable */
	q = contig_import(&h, NULL);
	assert_non_null(q);
	contig_free(q);
	assert_int_equal(contig_revoke(&h), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		contig_free(p[i]);

	/* Inspection: every table, as root. */
	for (uint32_t t = PROTO_TABLE_RUNS; t < PROTO_TABLE_MAX; t++) {
		int fd = raw_connect(d.socket, 1);
		struct proto_list l = { .table = t };
		struct proto_msg m;
		assert_true(fd >= 0);
		assert_int_equal(raw_send(fd, PROTO_LIST, 1, &l, sizeof(l)), 0);
		assert_int_equal(raw_reply(fd, &m), PROTO_LIST_REPLY);
		close(fd);
	}
	const char *ctl = getenv("CONTIGCTL");
	if (ctl) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "%s --socket %s status --json >/dev/null", ctl, d.socket);
		assert_int_equal(system(cmd), 0);
	}

	/* A client killed while holding regions and with a request parked. */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < 4; i++)
			if (!contig_alloc(PS, CONTIG_MAX_ADDRESS))
				_exit(1);
		(void)!write(pfd[1], "x", 1);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pfd[0]);
	close(pfd[1]);

	/* Garbage and fds. */
	uint8_t buf[64];
	struct proto_hello hello = { .version = PROTO_VERSION };
	size_t n = proto_encode(buf, PROTO_HELLO, 1, &hello, sizeof(hello));
	int nul[3] = { open("/dev/null", O_RDONLY), open("/dev/null", O_RDONLY),
		       open("/dev/null", O_RDONLY) };
	for (int i = 0; i < 8; i++) {
		int fd = raw_connect(d.socket, i % 2);
		assert_true(fd >= 0);
		if (i == 0)
			(void)raw_sendmsg(fd, buf, n, nul, 3, NULL);
		else if (i == 1)
			(void)raw_sendmsg(fd, "", 0, nul, 1, NULL);
		else if (i == 2)
			(void)raw_sendmsg(fd, buf, 7, NULL, 0, NULL);
		else {
			uint8_t junk[64];
			memcpy(junk, buf, n);
			junk[i] ^= 0x40;
			(void)raw_sendmsg(fd, junk, n, NULL, 0, NULL);
		}
		raw_expect_hangup(fd, NULL);
		close(fd);
	}
	proto_close_fds(nul, 3);
	/* A client that leaves with a request in flight and replies unread. */
	int fd = raw_connect(d.socket, 1);
	struct proto_alloc a = { .nbytes = PS, .highest = UINT64_MAX, .node = PROTO_NODE_ANY };
	for (int i = 0; i < 3; i++)
		raw_send(fd, PROTO_ALLOC, (uint32_t)i, &a, sizeof(a));
	close(fd);

	/* Signals the daemon handles besides SIGTERM. */
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	assert_int_equal(kill(d.pid, SIGUSR1), 0);

	/* Everything back, then the daemon is stopped by the teardown. */
	assert_true(wait_pool_idle(60000));
	uint8_t *last = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	check_region(last, PS);
	contig_free(last);
	assert_true(wait_pool_idle(60000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenario),
	};

#ifdef SANITIZED
	printf("valgrind: skipped in a sanitizer build\n");
	return 77;
#endif
	if (system("valgrind --version >/dev/null 2>&1") != 0) {
		printf("valgrind: not installed, skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	int failed = cmocka_run_group_tests_name("reliability-valgrind", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
