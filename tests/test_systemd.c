/* SPDX-License-Identifier: MIT */
/*
 * test_systemd.c - contigd as systemd runs it, with this test playing
 * systemd: the sd_notify protocol on a NOTIFY_SOCKET (READY=1 only once the
 * pool is pinned, STATUS= lines, STOPPING=1 on SIGTERM), and socket
 * activation (a pre-bound listening socket passed as fd 3 with
 * LISTEN_FDS/LISTEN_PID) serving a real client.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

static const char *contigd_path(void)
{
	const char *p = getenv("CONTIGD");

	return p ? p : "build/daemon/contigd";
}

static int bind_unix(int type, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		errno = ENAMETOOLONG;
		return -1;
	}
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* Wait up to ms for a notify datagram containing what; returns true. */
static bool notify_wait(int fd, const char *what, int ms, char *last, size_t n)
{
	for (int t = 0; t < ms; t += 100) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) != 1)
			continue;
		ssize_t got = recv(fd, last, n - 1, 0);
		if (got <= 0)
			continue;
		last[got] = 0;
		if (strstr(last, what))
			return true;
	}
	return false;
}

static void test_notify(void **state)
{
	char dir[] = "/tmp/contig-notify-XXXXXX", nsock[128], csock[128], msg[512];
	struct contig_pool_info info = { 0 };
	int nfd, status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(nsock, sizeof(nsock), "%s/notify", dir);
	snprintf(csock, sizeof(csock), "%s/contigd.sock", dir);
	nfd = bind_unix(SOCK_DGRAM, nsock);
	assert_true(nfd >= 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", nsock, 1);
		/* A unit without a file descriptor store (test_restart.c plays
		 * one): a stop then gives everything back. */
		setenv("FDSTORE", "0", 1);
		unsetenv("LISTEN_FDS");
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		execl(contigd_path(), "contigd", "--socket", csock, "--pool", "32M", (char *)NULL);
		_exit(127);
	}
	assert_true(notify_wait(nfd, "READY=1", 60000, msg, sizeof(msg)));
	/* READY=1 only once the whole pool is pinned and served. */
	setenv("CONTIG_SOCKET", csock, 1);
	assert_int_equal(contig_query(&info), 0);
	assert_int_equal(info.total_bytes, 32ull << 20);
	assert_int_equal(info.free_bytes, info.total_bytes);
	assert_int_equal(raw_stat(csock, "pinned"), 16);
	/* STATUS= lines follow (one per second). */
	assert_true(notify_wait(nfd, "STATUS=pool 32 MiB", 5000, msg, sizeof(msg)));
	kill(pid, SIGTERM);
	assert_true(notify_wait(nfd, "STOPPING=1", 10000, msg, sizeof(msg)));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* It removed the socket it had bound itself. */
	assert_int_equal(access(csock, F_OK), -1);
	close(nfd);
	unlink(nsock);
	rmdir(dir);
}

static void test_socket_activation(void **state)
{
	char dir[] = "/tmp/contig-activate-XXXXXX", csock[128];
	int lfd, status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(csock, sizeof(csock), "%s/contigd.sock", dir);
	lfd = bind_unix(SOCK_SEQPACKET, csock);
	assert_true(lfd >= 0);
	assert_int_equal(listen(lfd, 16), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char spid[16];
		/* What systemd does: fd 3, LISTEN_PID = the service's pid. */
		if (lfd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(lfd, 3) < 0)
			_exit(126);
		snprintf(spid, sizeof(spid), "%d", (int)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", spid, 1);
		unsetenv("NOTIFY_SOCKET");
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		/* No --socket: the passed one is used. */
		execl(contigd_path(), "contigd", "--pool", "32M", (char *)NULL);
		_exit(127);
	}
	close(lfd);
	/* The socket existed before the daemon: clients may connect at once;
	 * their HELLO is answered as soon as the pool is ready. */
	setenv("CONTIG_SOCKET", csock, 1);
	uint8_t *p = contig_alloc(2u << 20, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_not_equal(contig_phys_addr(p), CONTIG_PHYS_INVALID);
	assert_int_equal(pagemap_phys(p), contig_phys_addr(p));
	p[0] = 1;
	contig_free(p);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* systemd owns the socket file: the daemon leaves it alone. */
	assert_int_equal(access(csock, F_OK), 0);
	unlink(csock);
	rmdir(dir);
}

/* Under systemd (JOURNAL_STREAM set) every line carries a <N> syslog
 * priority the journal understands; otherwise a plain level word. */
static void test_log_prefixes(void **state)
{
	char cmd[512], line[512];
	FILE *f;
	int journal_lines = 0, plain_lines = 0;

	(void)state;
	for (int journal = 0; journal < 2; journal++) {
		snprintf(cmd, sizeof(cmd),
			 "%s %s --socket /tmp/contig-log-%d.sock --pool 999999G --no-raise 2>&1",
			 journal ? "JOURNAL_STREAM=8:1234" : "env -u JOURNAL_STREAM", contigd_path(),
			 (int)getpid());
		f = popen(cmd, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			if (journal && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>')
				journal_lines++;
			if (!journal && !strncmp(line, "contigd: ", 9))
				plain_lines++;
		}
		assert_int_not_equal(pclose(f), 0); /* the pool is impossible: it fails */
	}
	assert_true(journal_lines >= 1);
	assert_true(plain_lines >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_prefixes),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_socket_activation),
	};

	return cmocka_run_group_tests_name("integration-systemd", tests, NULL, NULL);
}
