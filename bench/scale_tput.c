/* SPDX-License-Identifier: MIT */
/*
 * scale_tput.c - throughput against clients (issue 19, `--only
 * scale-tput`): 1, 2, 4, 16 and 64 client processes, each doing 2 MiB
 * alloc + touch (one byte per 4 KiB page, 512 stores) + free in a loop for
 * a fixed window, on a contigd of its own (oversample = 0), with the stash
 * on (the default) and off (CONTIG_STASH=0: every pair a daemon trip).
 *
 * For each window: pairs per second (all clients), the daemon's CPU time
 * (utime + stime of /proc/PID/stat, every thread) over the window divided
 * by the pairs, and every pair's latency (the first TPUT_CAP pairs of
 * each client), whose p99 under overload (more clients than CPUs) is set
 * against the same clients doing the same message pattern with a bare
 * SOCK_SEQPACKET echo server: a forked single-threaded epoll server on a
 * private socket, up to 16 datagrams read per wake-up as contigd does,
 * that answers a 64-byte "alloc" datagram with 100 bytes and no fd and
 * takes a 64-byte "free" datagram without answering (contig's free of an
 * unshared region is not waited for). The peer is the cost of the loop and
 * the scheduler alone: no fd passing, no mapping, no zeroing.
 *
 * The client counts run interleaved (stash on, stash off, echo at each
 * count) so that the machine's load drifts over all three alike. Every
 * child dies with this process (PR_SET_PDEATHSIG) and is killed and reaped
 * on every path.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "contigd_ctl.h"
#include "curve.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define TPUT_MAX_CLIENTS 64
#define TPUT_CAP 65536
#define TPUT_MAX_COUNTS 8
#define ECHO_REQ 64
#define ECHO_REP 100

struct tput_params {
	unsigned counts[TPUT_MAX_COUNTS];
	unsigned ncounts;
	double seconds;
	uint64_t pool_bytes;
};

static const struct tput_params full_params = {
	.counts = { 1, 2, 4, 16, 64 }, .ncounts = 5, .seconds = 2.0, .pool_bytes = 512 * MIB,
};

static const struct tput_params smoke_params = {
	.counts = { 1, 2 }, .ncounts = 2, .seconds = 0.2, .pool_bytes = 64 * MIB,
};

enum kind { KIND_STASH_ON, KIND_STASH_OFF, KIND_ECHO, NKINDS };

static const char *const kind_name[NKINDS] = { "stash on", "stash off",
					       "peer: SOCK_SEQPACKET echo" };

/* Between this process and the clients, in MAP_SHARED memory. */
struct tput_shared {
	uint64_t deadline;
	unsigned count[TPUT_MAX_CLIENTS], fails[TPUT_MAX_CLIENTS];
	float lat[TPUT_MAX_CLIENTS][TPUT_CAP];
};

struct tput_world {
	const struct run_cfg *cfg;
	struct contigd d;
	char echo_path[108];
	pid_t echo;
	struct tput_shared *sh;
};

/* One window's figures. */
struct window {
	uint64_t pairs, fails;
	double seconds, cpu_s, med, p99;
	struct samples lat;
};

/* ---- the echo peer ---- */

static __attribute__((noreturn)) void echo_server(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, evs[64];
	uint8_t req[ECHO_REQ], rep[ECHO_REP] = { 0 };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		_exit(1);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
				if (c >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0)
					close(c);
				continue;
			}
			/* As contigd: a few datagrams per wake-up, so that one
			 * busy client cannot starve the others. */
			for (int k = 0; k < 16; k++) {
				ssize_t got = recv(fd, req, sizeof(req), MSG_DONTWAIT);
				if (got < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (got <= 0) {
					close(fd); /* leaves the epoll set with it */
					break;
				}
				if (req[0] == 'a' &&
				    send(fd, rep, sizeof(rep), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
					break;
			}
		}
	}
}

static pid_t echo_start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	pid_t parent = getpid(), pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
		int r = -errno;
		if (lfd >= 0)
			close(lfd);
		return r;
	}
	pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		echo_server(lfd);
	}
	close(lfd);
	return pid < 0 ? -errno : pid;
}

/* contig's message pattern: a request answered, then one that is not. */
static int echo_pair(int fd)
{
	uint8_t req[ECHO_REQ] = { 'a' }, rep[ECHO_REP];

	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != sizeof(req) ||
	    recv(fd, rep, sizeof(rep), 0) != sizeof(rep))
		return -1;
	req[0] = 'f';
	return send(fd, req, sizeof(req), MSG_NOSIGNAL) == sizeof(req) ? 0 : -1;
}

/* ---- the clients ---- */

static int contig_pair(void)
{
	volatile uint8_t *p = contig_alloc(HUGE_2M, CONTIG_MAX_ADDRESS);

	if (!p)
		return -1;
	for (size_t off = 0; off < HUGE_2M; off += 4096)
		p[off] = 1;
	contig_free((void *)p);
	return 0;
}

static __attribute__((noreturn)) void client_main(const struct tput_world *w, enum kind kind,
						  unsigned k, int ready_fd, int go_fd,
						  pid_t parent)
{
	struct tput_shared *sh = w->sh;
	int fd = -1;
	char c = 'r';

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (kind == KIND_ECHO) {
		fd = seqpacket_connect(w->echo_path);
		if (fd < 0)
			_exit(1);
	} else if (setenv("CONTIG_SOCKET", w->d.sock, 1) < 0 ||
		   (kind == KIND_STASH_OFF ? setenv("CONTIG_STASH", "0", 1) :
					     unsetenv("CONTIG_STASH")) < 0) {
		_exit(1);
	}
	/* The session (and the stash's first entry) before the start line. */
	for (int i = 0; i < 3; i++)
		if ((kind == KIND_ECHO ? echo_pair(fd) : contig_pair()) < 0)
			c = 'f';
	if (write(ready_fd, &c, 1) != 1 || c != 'r')
		_exit(1);
	(void)!read(go_fd, &c, 1); /* 0 when this process closes it: go */
	while (now_ns() < __atomic_load_n(&sh->deadline, __ATOMIC_RELAXED)) {
		uint64_t t0 = now_ns();
		if ((kind == KIND_ECHO ? echo_pair(fd) : contig_pair()) < 0) {
			sh->fails[k]++;
			continue;
		}
		if (sh->count[k] < TPUT_CAP)
			sh->lat[k][sh->count[k]] = (float)((double)(now_ns() - t0) / 1e3);
		sh->count[k]++;
	}
	_exit(0);
}

/* utime + stime of every thread of pid, in seconds; < 0 if unreadable. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* Fields 14 and 15, counted after the command name's ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void kill_all(pid_t *pids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (unsigned i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
}

/* Wait for n ready bytes; -EIO if a client failed or died first. */
static int wait_ready(int fd, unsigned n)
{
	uint64_t deadline = now_ns() + UINT64_C(30000000000);
	unsigned got = 0;
	char buf[TPUT_MAX_CLIENTS];

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, 100) <= 0)
			continue;
		k = read(fd, buf, n - got);
		if (k <= 0)
			return -EIO; /* every client closed its end: one died */
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] != 'r')
				return -EIO;
		got += (unsigned)k;
	}
	return 0;
}

static int window_run(struct tput_world *w, enum kind kind, unsigned nclients, double seconds,
		      struct window *ret)
{
	struct tput_shared *sh = w->sh;
	pid_t pids[TPUT_MAX_CLIENTS], server = kind == KIND_ECHO ? w->echo : w->d.pid;
	pid_t parent = getpid();
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, r = 0;
	unsigned started = 0;
	double cpu0, cpu1;
	uint64_t t0;

	memset(ret, 0, sizeof(*ret));
	sh->deadline = UINT64_MAX;
	memset(sh->count, 0, sizeof(sh->count));
	memset(sh->fails, 0, sizeof(sh->fails));
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	for (; started < nclients; started++) {
		pid_t pid = fork();
		if (pid < 0) {
			r = -errno;
			goto out;
		}
		if (pid == 0) {
			close(ready[0]);
			close(go[1]);
			client_main(w, kind, started, ready[1], go[0], parent);
		}
		pids[started] = pid;
	}
	close(ready[1]);
	close(go[0]);
	ready[1] = go[0] = -1;
	r = wait_ready(ready[0], nclients);
	if (r < 0)
		goto out;
	cpu0 = proc_cpu_s(server);
	t0 = now_ns();
	__atomic_store_n(&sh->deadline, t0 + (uint64_t)(seconds * 1e9), __ATOMIC_RELAXED);
	close(go[1]);
	go[1] = -1;
	while (now_ns() < sh->deadline)
		sleep_us(1000);
	/* At the deadline, before the clients' sessions close: their
	 * teardown is no part of the window. */
	cpu1 = proc_cpu_s(server);
	ret->seconds = (double)(now_ns() - t0) / 1e9;
	for (unsigned i = 0; i < started; i++)
		waitpid(pids[i], NULL, 0);
	started = 0;
	for (unsigned k = 0; k < nclients; k++) {
		unsigned m = sh->count[k] < TPUT_CAP ? sh->count[k] : TPUT_CAP;
		for (unsigned i = 0; i < m; i++)
			samples_add(&ret->lat, sh->lat[k][i]);
		ret->pairs += sh->count[k];
		ret->fails += sh->fails[k];
	}
	ret->cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : NAN;
	samples_summary(&ret->lat, &ret->med, &ret->p99);
out:
	kill_all(pids, started);
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (go[i] >= 0)
			close(go[i]);
	}
	return r;
}

/* ---- the figures ---- */

static void report(enum kind kind, unsigned nclients, struct window *win,
		   const struct window *echo)
{
	char who[128];
	double rate = win->seconds > 0 ? (double)win->pairs / win->seconds : 0;
	double cpu_us = win->pairs ? win->cpu_s * 1e6 / (double)win->pairs : NAN;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const char *what = kind == KIND_ECHO ? "peer: SOCK_SEQPACKET echo" :
			   kind == KIND_STASH_ON ? "contig, stash on" : "contig, stash off";

	snprintf(who, sizeof(who), "%s: %u client%s", what, nclients, nclients == 1 ? "" : "s");
	result_value(G_SCALE_TPUT, who, ROLE_INFO, "pairs/s", rate, win->pairs > 0,
		     "%llu pairs in %.2f s, %llu failed; per pair median %.1f µs, p99 %.1f µs",
		     (unsigned long long)win->pairs, win->seconds, (unsigned long long)win->fails,
		     win->med, win->p99);
	result_value(G_SCALE_CPU, who, ROLE_INFO, "µs", cpu_us, win->pairs > 0 && !isnan(cpu_us),
		     "%s CPU %.2f s over the window (utime+stime, clock ticks of %.0f ms)",
		     kind == KIND_ECHO ? "echo server" : "contigd", win->cpu_s,
		     1e3 / (double)sysconf(_SC_CLK_TCK));
	if (kind == KIND_STASH_ON)
		return;
	if (kind == KIND_ECHO)
		result_samples(G_SCALE_P99, who, ROLE_INFO, "µs", &win->lat,
			       "%u clients on %ld CPUs%s", nclients, ncpu,
			       (long)nclients > ncpu ? ": overload" : "");
	else
		result_samples(G_SCALE_P99, who, ROLE_INFO, "µs", &win->lat,
			       "p99 ÷ echo p99 = %.2f; %u clients on %ld CPUs%s",
			       echo && echo->p99 > 0 ? win->p99 / echo->p99 : NAN, nclients, ncpu,
			       (long)nclients > ncpu ? ": overload" : "");
}

static void save_curves(const struct tput_params *p, double rate[][NKINDS],
			double cpu[][NKINDS], double p99[][NKINDS], unsigned npts)
{
	static const char *const tput_series[] = { "stash on", "stash off",
						   "peer: SOCK_SEQPACKET echo" };
	static const char *const cpu_series[] = { "stash on", "stash off",
						  "peer: SOCK_SEQPACKET echo server" };
	static const char *const p99_series[] = { "contig p99 (stash off)",
						  "peer: SOCK_SEQPACKET echo p99" };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct curve c;

	curve_init(&c, "scale-tput", "2 MiB alloc+touch+free pairs per second, all clients",
		   "client processes", "pairs/s", true, false, 3, tput_series);
	for (unsigned i = 0; i < npts; i++)
		curve_point(&c, p->counts[i], rate[i]);
	curve_note(&c, "touch: one byte per 4 KiB page; %.1f s per point; %ld CPUs", p->seconds,
		   ncpu);
	curve_note(&c, "peer: the same message pattern (64 B request answered with 100 B, then "
		       "64 B unanswered), no fd, no mapping");
	curve_save(&c);

	curve_init(&c, "scale-tput-cpu", "server CPU time per pair (utime+stime over the window)",
		   "client processes", "µs CPU per pair", true, false, 3, cpu_series);
	for (unsigned i = 0; i < npts; i++)
		curve_point(&c, p->counts[i], cpu[i]);
	curve_note(&c, "contigd's CPU (every thread) ÷ pairs done; clock ticks of %.0f ms",
		   1e3 / (double)sysconf(_SC_CLK_TCK));
	curve_save(&c);

	curve_init(&c, "scale-tput-p99", "p99 of a pair, clients against a daemon",
		   "client processes", "µs", true, true, 2, p99_series);
	for (unsigned i = 0; i < npts; i++) {
		double y[2] = { p99[i][KIND_STASH_OFF], p99[i][KIND_ECHO] };
		curve_point(&c, p->counts[i], y);
	}
	for (unsigned i = 0; i < npts; i++)
		if ((long)p->counts[i] > ncpu) {
			curve_note(&c, "overload (%u clients on %ld CPUs): contig p99 ÷ echo p99 = "
				       "%.2f", p->counts[i], ncpu,
				   p99[i][KIND_ECHO] > 0 ?
					   p99[i][KIND_STASH_OFF] / p99[i][KIND_ECHO] : NAN);
		}
	curve_save(&c);
}

void scale_tput_run(const struct run_cfg *cfg)
{
	const struct tput_params *p = cfg->smoke ? &smoke_params : &full_params;
	struct tput_world w = { .cfg = cfg, .echo = -1 };
	double rate[TPUT_MAX_COUNTS][NKINDS], cpu[TPUT_MAX_COUNTS][NKINDS],
		p99[TPUT_MAX_COUNTS][NKINDS];
	unsigned npts = 0;
	int r;

	w.sh = mmap(NULL, sizeof(*w.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w.sh == MAP_FAILED) {
		result_missing(G_SCALE_TPUT, "contig, stash on", ROLE_INFO, "pairs/s", "mmap: %s",
			       strerror(errno));
		return;
	}
	/* 32 beyond the pool: each revoked page is faulted again, and other
	 * processes may be taking free hugepages meanwhile. */
	hugepages_ensure((long)(p->pool_bytes / HUGE_2M) + 32);
	r = contigd_start(cfg, &w.d, "scale-tput", p->pool_bytes, "oversample = 0\n");
	if (r < 0) {
		result_missing(G_SCALE_TPUT, "contig, stash on", ROLE_INFO, "pairs/s",
			       "contigd: %s", strerror(-r));
		goto out;
	}
	snprintf(w.echo_path, sizeof(w.echo_path), "%s/scale-echo.sock", cfg->tmpdir);
	w.echo = echo_start(w.echo_path);
	if (w.echo < 0) {
		result_missing(G_SCALE_P99, "peer: SOCK_SEQPACKET echo", ROLE_INFO, "µs",
			       "echo server: %s", strerror((int)-w.echo));
		goto out;
	}
	for (unsigned i = 0; i < p->ncounts; i++) {
		struct window win[NKINDS] = { 0 };
		unsigned n = p->counts[i];

		for (int k = 0; k < NKINDS; k++) {
			r = window_run(&w, (enum kind)k, n, p->seconds, &win[k]);
			rate[i][k] = r == 0 && win[k].seconds > 0 ?
					     (double)win[k].pairs / win[k].seconds : NAN;
			cpu[i][k] = r == 0 && win[k].pairs ? win[k].cpu_s * 1e6 / (double)win[k].pairs :
							     NAN;
			p99[i][k] = r == 0 && win[k].lat.n ? win[k].p99 : NAN;
			if (r < 0) {
				char who[96];
				snprintf(who, sizeof(who), "%s: %u clients", kind_name[k], n);
				result_missing(G_SCALE_TPUT, who, ROLE_INFO, "pairs/s", "%s",
					       strerror(-r));
			}
		}
		for (int k = 0; k < NKINDS; k++) {
			if (!isnan(rate[i][k]))
				report((enum kind)k, n, &win[k],
				       isnan(rate[i][KIND_ECHO]) ? NULL : &win[KIND_ECHO]);
			samples_free(&win[k].lat);
		}
		npts++;
	}
	save_curves(p, rate, cpu, p99, npts);
out:
	if (w.echo > 0) {
		kill(w.echo, SIGKILL);
		waitpid(w.echo, NULL, 0);
		unlink(w.echo_path);
	}
	if (w.d.pid > 0) {
		int st = contigd_stop(&w.d);
		if (st != 0)
			fprintf(stderr, "contig-bench: scale-tput: contigd exited %d\n", st);
	}
	munmap(w.sh, sizeof(*w.sh));
}
