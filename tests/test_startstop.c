/* SPDX-License-Identifier: MIT */
/*
 * test_startstop.c - start and stop leave the host as they found it, with
 * this test playing systemd (NOTIFY_SOCKET, as test_systemd.c does) and a
 * real contigd doing real start-up work:
 *  - SIGTERM in the middle of a low-pool dig (--low-pool 256M@4G: the
 *    ceiling forces a dig of many GiB here) and of a large reserve that
 *    needs nr_hugepages raised: contigd exits within a liveness bound, with
 *    exit status 0 and nr_hugepages back where it was;
 *  - SIGKILL in the middle of a dig: the record beside the socket says
 *    what the dead one raised; the next start puts it back and logs it;
 *  - STATUS= and EXTEND_TIMEOUT_USEC= arrive while the work lasts;
 *  - contigctl status during the dig says "starting: N of M pages" (exit 6).
 * Whatever happens, the group teardown kills what it started and writes
 * back the nr_hugepages it found (other tests use hugepages too).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define NR_PATH "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
/* Liveness, not performance: the fix aims at 1 s; the machine is shared. */
#define STOP_BOUND_MS 5000

struct run {
	pid_t pid;
	int nfd;                 /* our NOTIFY_SOCKET */
	char dir[64], sock[128], nsock[128], log[128], record[128];
	char notes[1 << 14];     /* every notify datagram, one per line */
	size_t nnotes;
};

static struct run run_a = { .nfd = -1 }, run_b = { .nfd = -1 };
static uint64_t nr_found; /* at group setup: written back at teardown */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t nr_read(void)
{
	FILE *f = fopen(NR_PATH, "re");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static void nr_write(uint64_t v)
{
	FILE *f = fopen(NR_PATH, "we");

	if (f) {
		fprintf(f, "%llu\n", (unsigned long long)v);
		fclose(f);
	}
}

static const char *contigd_path(void)
{
	const char *p = getenv("CONTIGD");

	return p ? p : "build/daemon/contigd";
}

static bool log_has(const struct run *r, const char *text)
{
	static char buf[1 << 16];
	int fd = open(r->log, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, text) != NULL;
}

static void log_dump(const struct run *r)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "sed 's/^/  contigd: /' %s >&2", r->log);
	(void)!system(cmd);
}

/* A new directory for socket, log and record (keep: the same as before,
 * as a restart after a crash sees it). */
static void run_prepare(struct run *r, bool keep)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!keep) {
		snprintf(r->dir, sizeof(r->dir), "/tmp/contig-startstop-XXXXXX");
		assert_non_null(mkdtemp(r->dir));
		snprintf(r->sock, sizeof(r->sock), "%s/contigd.sock", r->dir);
		snprintf(r->nsock, sizeof(r->nsock), "%s/notify", r->dir);
		snprintf(r->log, sizeof(r->log), "%s/contigd.log", r->dir);
		snprintf(r->record, sizeof(r->record), "%s/hugepages.record", r->dir);
	}
	r->nnotes = 0;
	r->notes[0] = 0;
	if (r->nfd < 0) {
		assert_true(strlen(r->nsock) < sizeof(sa.sun_path));
		memcpy(sa.sun_path, r->nsock, strlen(r->nsock) + 1);
		unlink(r->nsock);
		r->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		assert_true(r->nfd >= 0);
		assert_int_equal(bind(r->nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
}

static void run_start(struct run *r, const char *const *args)
{
	const char *argv[24];
	int n = 0;

	argv[n++] = contigd_path();
	argv[n++] = "--socket";
	argv[n++] = r->sock;
	for (; *args && n < 22; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		setenv("NOTIFY_SOCKET", r->nsock, 1);
		unsetenv("LISTEN_FDS");
		unsetenv("JOURNAL_STREAM");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

/* Read notify datagrams for up to ms, until one contains what (and, if
 * what2, one contains what2); every datagram is kept in r->notes. */
static bool notify_wait(struct run *r, const char *what, const char *what2, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	bool seen = false, seen2 = !what2;
	char msg[1024];

	while (!(seen && seen2) && now_ms() < end) {
		struct pollfd p = { .fd = r->nfd, .events = POLLIN };

		if (poll(&p, 1, 100) != 1)
			continue;
		ssize_t got = recv(r->nfd, msg, sizeof(msg) - 1, 0);
		if (got <= 0)
			continue;
		msg[got] = 0;
		seen = seen || strstr(msg, what);
		seen2 = seen2 || strstr(msg, what2);
		for (char *c = msg; *c; c++)
			if (*c == '\n')
				*c = ' ';
		r->nnotes += (size_t)snprintf(r->notes + r->nnotes, sizeof(r->notes) - r->nnotes,
					      "%s\n", msg);
		if (r->nnotes >= sizeof(r->notes))
			r->nnotes = 0; /* keep the latest */
	}
	return seen && seen2;
}

/* Send sig, wait up to bound_ms for the exit; returns the elapsed ms, or -1
 * (then it is SIGKILLed). */
static int run_signal(struct run *r, int sig, int bound_ms, int *status)
{
	uint64_t t0 = now_ms();

	kill(r->pid, sig);
	while (now_ms() - t0 < (uint64_t)bound_ms) {
		if (waitpid(r->pid, status, WNOHANG) == r->pid) {
			r->pid = 0;
			return (int)(now_ms() - t0);
		}
		usleep(5000);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, status, 0);
	r->pid = 0;
	return -1;
}

static void run_cleanup(struct run *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
	if (r->nfd >= 0)
		close(r->nfd);
	r->nfd = -1;
	if (r->dir[0]) {
		unlink(r->sock);
		unlink(r->nsock);
		unlink(r->log);
		unlink(r->record);
		/* What a SIGKILL can leave behind, half-written included. */
		static const char *const left[] = { "contigd.starting", "contigd.starting.new",
						    "hugepages.record.new" };
		for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
			char path[160];
			snprintf(path, sizeof(path), "%s/%s", r->dir, left[i]);
			unlink(path);
		}
		rmdir(r->dir);
	}
	r->dir[0] = 0;
}

/* nr_hugepages back to before, unless contigd logged that another writer
 * changed it meanwhile (other tests on this machine use hugepages). */
static void assert_nr_back(const struct run *r, uint64_t before)
{
	uint64_t now = nr_read();

	if (now != before && log_has(r, "another writer changed it")) {
		fprintf(stderr, "note: nr_hugepages %llu, was %llu; contigd saw another writer\n",
			(unsigned long long)now, (unsigned long long)before);
		return;
	}
	if (now != before)
		log_dump(r);
	assert_int_equal(now, before);
}

/* 256 MiB below 4 GiB: more than the kernel's free pool keeps below 4 GiB
 * after earlier digs (16 MiB may be found there at once), so it digs. */
static const char *const dig_args[] = { "--pool", "32M", "--low-pool", "256M@4G", NULL };

/* Wait until the dig has taken at least two steps (nr_hugepages raised). */
static void wait_dig_under_way(struct run *r)
{
	bool ok = notify_wait(r, "low-pool dig, step 2,", "EXTEND_TIMEOUT_USEC=", 60000);

	if (!ok) {
		fprintf(stderr, "notify messages:\n%s", r->notes);
		log_dump(r);
	}
	assert_true(ok);
	/* Every progress message extends systemd's start timeout. */
	assert_non_null(strstr(r->notes, "STATUS=starting: low-pool dig"));
	assert_non_null(strstr(r->notes, "EXTEND_TIMEOUT_USEC=15000000"));
	assert_null(strstr(r->notes, "READY=1"));
}

/* contigctl status while the daemon digs: "starting: N of M pages", exit 6. */
static void assert_ctl_starting(const struct run *r)
{
	const char *ctl = getenv("CONTIGCTL");
	char cmd[512], out[512] = "";
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "CONTIG_SOCKET=%s %s status 2>&1", r->sock,
		 ctl ? ctl : "build/cli/contigctl");
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(out, sizeof(out), f))
		out[0] = 0;
	st = pclose(f);
	fprintf(stderr, "contigctl status during the dig: %s", out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 6);
	assert_int_equal(strncmp(out, "starting: ", 10), 0);
	assert_non_null(strstr(out, " pages"));
}

static void test_sigterm_during_dig(void **state)
{
	struct run *r = &run_a;
	uint64_t before;
	int status, ms;

	(void)state;
	run_prepare(r, false);
	before = nr_read();
	run_start(r, dig_args);
	wait_dig_under_way(r);
	assert_true(nr_read() > before);
	assert_int_equal(access(r->record, F_OK), 0);
	assert_ctl_starting(r);
	ms = run_signal(r, SIGTERM, STOP_BOUND_MS, &status);
	fprintf(stderr, "SIGTERM during the dig: exited after %d ms\n", ms);
	if (ms < 0)
		log_dump(r);
	assert_true(ms >= 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(log_has(r, "during start-up"));
	assert_true(log_has(r, "every page given back"));
	assert_nr_back(r, before);
	/* The raise is undone: no record is left. */
	assert_int_equal(access(r->record, F_OK), -1);
	run_cleanup(r);
}

static void test_sigkill_during_dig_then_restart(void **state)
{
	static const char *const small[] = { "--pool", "32M", NULL };
	struct run *r = &run_b;
	uint64_t before, left;
	int status, ms;

	(void)state;
	run_prepare(r, false);
	before = nr_read();
	run_start(r, dig_args);
	wait_dig_under_way(r);
	assert_int_equal(access(r->record, F_OK), 0);
	kill(r->pid, SIGKILL);
	assert_int_equal(waitpid(r->pid, &status, 0), r->pid);
	r->pid = 0;
	left = nr_read();
	assert_true(left > before); /* what a crash leaves */
	assert_int_equal(access(r->record, F_OK), 0);

	/* The next start, on the same socket, puts it back first. */
	run_prepare(r, true);
	run_start(r, small);
	if (!notify_wait(r, "READY=1", NULL, 60000)) {
		log_dump(r);
		fail_msg("no READY=1");
	}
	if (!log_has(r, "which died"))
		log_dump(r);
	assert_true(log_has(r, "restored nr_hugepages for 2048 kB pages from"));
	assert_true(log_has(r, "which died"));
	assert_nr_back(r, before);
	assert_int_equal(access(r->record, F_OK), -1);
	ms = run_signal(r, SIGTERM, STOP_BOUND_MS, &status);
	if (ms < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_dump(r);
	assert_true(ms >= 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_nr_back(r, before);
	run_cleanup(r);
}

/* A pool bigger than the free hugepages: raise, then a long fault-in. */
static void test_sigterm_during_reserve(void **state)
{
	struct run *r = &run_a;
	char pool[32];
	uint64_t before;
	int status, ms;

	(void)state;
	run_prepare(r, false);
	before = nr_read();
	/* 4 GiB more than the kernel has: nr_hugepages must be raised. */
	snprintf(pool, sizeof(pool), "%lluM", (unsigned long long)(before * 2 + 4096));
	const char *const args[] = { "--pool", pool, "--page-size", "2M", "--threads", "1", NULL };
	run_start(r, args);
	bool ok = notify_wait(r, "STATUS=starting: faulting the pool", "EXTEND_TIMEOUT_USEC=",
			      60000);
	if (!ok) {
		fprintf(stderr, "notify messages:\n%s", r->notes);
		log_dump(r);
	}
	assert_true(ok);
	ms = run_signal(r, SIGTERM, STOP_BOUND_MS, &status);
	fprintf(stderr, "SIGTERM during the reserve (%s): exited after %d ms%s\n", pool, ms,
		log_has(r, "during start-up") ? "" : " (it had finished: stopped as usual)");
	if (ms < 0)
		log_dump(r);
	assert_true(ms >= 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(strstr(r->notes, "STATUS=starting: raising nr_hugepages") != NULL);
	/* Raised by contigd, put back by contigd, whichever way it stopped. */
	assert_true(log_has(r, "restored nr_hugepages for 2048 kB pages from"));
	assert_nr_back(r, before);
	assert_int_equal(access(r->record, F_OK), -1);
	run_cleanup(r);
}

static int group_setup(void **state)
{
	(void)state;
	nr_found = nr_read();
	return nr_found ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	run_cleanup(&run_a);
	run_cleanup(&run_b);
	if (nr_read() != nr_found) {
		fprintf(stderr, "teardown: nr_hugepages %llu -> %llu (as found)\n",
			(unsigned long long)nr_read(), (unsigned long long)nr_found);
		nr_write(nr_found);
	}
	return 0;
}

static int each_teardown(void **state)
{
	(void)state;
	run_cleanup(&run_a);
	run_cleanup(&run_b);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_sigterm_during_dig, each_teardown),
		cmocka_unit_test_teardown(test_sigkill_during_dig_then_restart, each_teardown),
		cmocka_unit_test_teardown(test_sigterm_during_reserve, each_teardown),
	};

	return cmocka_run_group_tests_name("integration-startstop", tests, group_setup,
					   group_teardown);
}
