/* SPDX-License-Identifier: MIT */
/*
 * restart.c - contigd restarted from systemd's file descriptor store (issue
 * 20), beside a cold start of the same pool, in one run.
 *
 * The store is played as sd_notify(3) and sd_listen_fds(3) say
 * (tests/fake_fdstore.c, the one tests/test_restart.c uses): a contigd with
 * a pool of p.pages 2 MiB pages (oversample = 0: the pool's pages only) on
 * store A serves p.sessions holder processes, each holding a 2 MiB region
 * and a carved 4 KiB one, and one caller process calling contig_query back
 * to back, every call's start and end in a ring in shared memory. Holder 0
 * is also the probe: once the old contigd is reaped, the driver has it send
 * one request on its session; the moment its answer arrives is "serving
 * again". Each round:
 *
 *   cold:    a second contigd with the same pool and config on store B
 *            (empty, so it reserves its pool), fork → READY=1, then stopped
 *            and store B emptied; the caller is paused meanwhile, as it is
 *            blocked during a restart, so both run on the same idle machine;
 *   SIGTERM: signal → old contigd reaped → successor started from store A →
 *            READY=1 → the probe's request answered;
 *   SIGKILL: the same.
 *
 * For every restart, the longest of the caller's calls that overlapped it,
 * and the caller's round trips in the 100 ms before the signal. After the
 * last round every holder checks its bytes, its physical addresses and its
 * session. The children are forked before any store exists, so they hold
 * none of the stored files.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "fake_fdstore.h"

#include <contig.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING (1u << 18)
#define HOLDER_SMALL 4096

struct call {
	uint64_t t0, t1; /* CLOCK_MONOTONIC ns */
};

/* Between the driver and the caller, in MAP_SHARED memory. */
struct shared {
	atomic_bool stop, pause, paused;
	atomic_ulong failures;
	atomic_int last_errno;
	atomic_ulong n; /* calls recorded; call i is ring[i % RING] */
	struct call ring[RING];
};

/* Pipes: go (driver → children, a byte each), ans (children → driver, a
 * byte each: 'r' ready, then 'y'/'n' at the end), quit (EOF = the end),
 * probe_cmd and probe_ans (driver ↔ holder 0: a byte, then 8 bytes of
 * CLOCK_MONOTONIC ns when the answer came, 0 if the request failed). */
enum { GO, ANS, QUIT, PCMD, PANS, NPIPES };

struct world {
	struct {
		unsigned pages, sessions, rounds;
	} p;
	const struct run_cfg *cfg;
	char dir[96], cold_dir[96];
	char sock[160], log[160], conf[160], cold_sock[160], cold_log[160], pool[32];
	int pipes[NPIPES][2];
	struct shared *sh;
	pid_t caller, *holders;
	unsigned nholders;
	struct store a, b;
	pid_t daemon;
};

/* What the targets table needs, from the last run. */
static struct restart_summary {
	bool ran, smoke;
	unsigned pages, sessions, n;
	double cold, term, term_max, kill, kill_max, rtt, stall_max, stall_kill_max;
	unsigned stall_met, stall_n;
	double stall_over;
} summary;

/* ---- the children ---- */

static uint64_t pagemap_pa(const void *va)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (off_t)((uintptr_t)va / 4096 * 8)) != 8)
		e = 0;
	close(fd);
	if (!(e & (1ull << 63)) || !(e & ((1ull << 55) - 1)))
		return 0; /* absent, or no CAP_SYS_ADMIN (PFN read as 0) */
	return (e & ((1ull << 55) - 1)) * 4096 + (uintptr_t)va % 4096;
}

struct piece {
	uint8_t *base;
	size_t len;
	uint64_t pa, pagemap;
};

static void piece_fill(struct piece *r, unsigned k)
{
	for (size_t i = 0; i < r->len; i += 4096)
		r->base[i] = (uint8_t)(k + i / 4096);
	r->pa = contig_phys_addr(r->base);
	r->pagemap = pagemap_pa(r->base);
}

static bool piece_intact(const struct piece *r, unsigned k)
{
	for (size_t i = 0; i < r->len; i += 4096)
		if (r->base[i] != (uint8_t)(k + i / 4096))
			return false;
	return contig_phys_addr(r->base) == r->pa &&
	       (!r->pagemap || pagemap_pa(r->base) == r->pagemap);
}

static void say(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(3);
}

/* A session holding a 2 MiB region and a carved 4 KiB one until the quit
 * pipe closes; holder 0 also answers the driver's probes meanwhile. */
static void holder_main(const struct world *w, unsigned k)
{
	struct piece r[2] = { { .len = HUGE_2M }, { .len = HOLDER_SMALL } };
	struct contig_pool_info info;
	char c;

	if (read(w->pipes[GO][0], &c, 1) != 1)
		_exit(2);
	for (int i = 0; i < 2; i++) {
		r[i].base = contig_alloc(r[i].len, UINT64_MAX);
		if (!r[i].base) {
			say(w->pipes[ANS][1], 'f');
			_exit(1);
		}
		piece_fill(&r[i], k + (unsigned)i);
	}
	say(w->pipes[ANS][1], 'r');
	for (;;) {
		struct pollfd p[2] = { { .fd = w->pipes[QUIT][0], .events = POLLIN },
				       { .fd = k == 0 ? w->pipes[PCMD][0] : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents & POLLIN) {
			uint64_t t = 0;
			if (read(w->pipes[PCMD][0], &c, 1) == 1 && contig_query(&info) == 0)
				t = now_ns();
			if (write(w->pipes[PANS][1], &t, sizeof(t)) != sizeof(t))
				_exit(3);
			continue;
		}
		if (p[0].revents)
			break;
	}
	c = piece_intact(&r[0], k) && piece_intact(&r[1], k + 1) && contig_query(&info) == 0 ?
		    'y' : 'n';
	say(w->pipes[ANS][1], c);
	contig_free(r[0].base);
	contig_free(r[1].base);
	_exit(0);
}

/* contig_query back to back, each call recorded; paused on request. */
static void caller_main(const struct world *w)
{
	struct shared *sh = w->sh;
	char c;

	if (read(w->pipes[GO][0], &c, 1) != 1)
		_exit(2);
	while (!atomic_load(&sh->stop)) {
		struct contig_pool_info info;
		unsigned long i;
		uint64_t t0;

		if (atomic_load(&sh->pause)) {
			atomic_store(&sh->paused, true);
			sleep_us(500);
			continue;
		}
		atomic_store(&sh->paused, false);
		t0 = now_ns();
		if (contig_query(&info) < 0) {
			atomic_store(&sh->last_errno, errno);
			atomic_fetch_add(&sh->failures, 1);
		}
		i = atomic_load_explicit(&sh->n, memory_order_relaxed);
		sh->ring[i % RING] = (struct call){ t0, now_ns() };
		atomic_store_explicit(&sh->n, i + 1, memory_order_release);
	}
	_exit(0);
}

/* ---- the driver ---- */

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

static unsigned log_count(const char *log, const char *text)
{
	FILE *f = fopen(log, "re");
	char line[1024];
	unsigned n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return n;
}

/* Read exactly len bytes within timeout_ms: 0, or -ETIMEDOUT / -EPIPE. */
static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) != 1)
			return -ETIMEDOUT;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

static void caller_pause(struct world *w, bool pause)
{
	atomic_store(&w->sh->pause, pause);
	for (int i = 0; pause && i < 20000 && !atomic_load(&w->sh->paused); i++)
		sleep_us(100);
}

static pid_t daemon_spawn(struct world *w, struct store *s, const char *sock, const char *log)
{
	const char *argv[] = { w->cfg->contigd, "--socket", sock, "--pool", w->pool,
			       "--config", w->conf, NULL };

	return store_spawn(s, argv, log);
}

/* Fork the caller and the holders, waiting on the go pipe. 0 or -errno. */
static int children_fork(struct world *w)
{
	w->holders = calloc(w->p.sessions, sizeof(*w->holders));
	if (!w->holders)
		return -ENOMEM;
	for (unsigned k = 0; k <= w->p.sessions; k++) {
		pid_t pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* not left calling if the driver dies */
			close(w->pipes[GO][1]);
			close(w->pipes[ANS][0]);
			close(w->pipes[QUIT][1]);
			close(w->pipes[PCMD][1]);
			close(w->pipes[PANS][0]);
			setenv("CONTIG_SOCKET", w->sock, 1);
			if (k == w->p.sessions)
				caller_main(w);
			holder_main(w, k);
		}
		if (k == w->p.sessions)
			w->caller = pid;
		else
			w->holders[w->nholders++] = pid;
	}
	close(w->pipes[GO][0]);
	close(w->pipes[ANS][1]);
	close(w->pipes[QUIT][0]);
	close(w->pipes[PCMD][0]);
	close(w->pipes[PANS][1]);
	w->pipes[GO][0] = w->pipes[ANS][1] = w->pipes[QUIT][0] = -1;
	w->pipes[PCMD][0] = w->pipes[PANS][1] = -1;
	return 0;
}

/* Store A holds the state, the socket, every page and every session, and
 * took nothing new in the last 100 ms. */
static bool store_settled(struct world *w)
{
	int n = store_count(&w->a, "");

	if (!store_count(&w->a, "state-") || !store_count(&w->a, "listen") ||
	    store_count(&w->a, "pages-") < (int)w->p.pages ||
	    store_count(&w->a, "sess-") < (int)w->p.sessions + 1)
		return false;
	sleep_us(100000);
	return store_count(&w->a, "") == n;
}

static int world_up(struct world *w)
{
	char conf[] = "oversample = 0\n";
	unsigned calls = 0;
	int fd, r;

	snprintf(w->dir, sizeof(w->dir), "%s/restart", w->cfg->tmpdir);
	snprintf(w->cold_dir, sizeof(w->cold_dir), "%s/cold", w->cfg->tmpdir);
	if (mkdir(w->dir, 0755) < 0 || mkdir(w->cold_dir, 0755) < 0)
		return -errno;
	snprintf(w->sock, sizeof(w->sock), "%s/contigd.sock", w->dir);
	snprintf(w->log, sizeof(w->log), "%s/contigd.log", w->dir);
	snprintf(w->conf, sizeof(w->conf), "%s/contigd.conf", w->dir);
	snprintf(w->cold_sock, sizeof(w->cold_sock), "%s/contigd.sock", w->cold_dir);
	snprintf(w->cold_log, sizeof(w->cold_log), "%s/contigd.log", w->cold_dir);
	snprintf(w->pool, sizeof(w->pool), "%uM", w->p.pages * 2);
	fd = open(w->conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, conf, strlen(conf)) != (ssize_t)strlen(conf))
		return fd < 0 ? -errno : -EIO;
	close(fd);
	for (int i = 0; i < NPIPES; i++)
		if (pipe2(w->pipes[i], O_CLOEXEC) < 0)
			return -errno;
	w->sh = mmap(NULL, sizeof(*w->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (w->sh == MAP_FAILED) {
		w->sh = NULL;
		return -errno;
	}
	if ((r = children_fork(w)) < 0)
		return r;
	/* The first contigd: a cold start on store A. */
	if ((r = store_open(&w->a, w->dir)) < 0)
		return r;
	w->daemon = daemon_spawn(w, &w->a, w->sock, w->log);
	if (w->daemon < 0)
		return w->daemon;
	if ((r = store_wait_ready(&w->a, 0, w->daemon, 120000, NULL)) < 0) {
		if (r == -ECHILD)
			w->daemon = 0;
		return r;
	}
	for (unsigned k = 0; k <= w->p.sessions; k++)
		if (write(w->pipes[GO][1], "g", 1) != 1)
			return -EPIPE;
	for (unsigned k = 0; k < w->p.sessions; k++) {
		char c = 0;
		if ((r = read_full(w->pipes[ANS][0], &c, 1, 60000)) < 0)
			return r;
		if (c != 'r')
			return -ENOMEM;
	}
	/* The caller calling, and every file in the store: the store takes
	 * the pool's files in the first second or so (one same-file check
	 * against every file it holds, as systemd does), and a restart
	 * meanwhile first waits for that. Measured is the steady state. */
	for (int i = 0; i < 300 && (calls < 100 || !store_settled(w)); i++) {
		calls = (unsigned)atomic_load(&w->sh->n);
		sleep_us(100000);
	}
	return store_settled(w) ? 0 : -ETIMEDOUT;
}

/* Everything goes; after a failure (kill) the children are killed rather
 * than asked: a session whose contigd is gone waits forever. */
static void world_down(struct world *w, bool kill_children)
{
	static const int ends[] = { GO, QUIT };

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		if (w->pipes[ends[i]][1] >= 0)
			close(w->pipes[ends[i]][1]);
		w->pipes[ends[i]][1] = -1;
	}
	if (w->sh)
		atomic_store(&w->sh->stop, true);
	for (unsigned k = 0; kill_children && k < w->nholders; k++)
		kill(w->holders[k], SIGKILL);
	if (kill_children && w->caller > 0)
		kill(w->caller, SIGKILL);
	for (unsigned k = 0; k < w->nholders; k++)
		waitpid(w->holders[k], NULL, 0);
	if (w->caller > 0)
		waitpid(w->caller, NULL, 0);
	if (w->daemon > 0) {
		kill(w->daemon, SIGTERM);
		waitpid(w->daemon, NULL, 0);
	}
	store_close(&w->a);
	store_close(&w->b);
	for (int i = 0; i < NPIPES; i++)
		for (int j = 0; j < 2; j++)
			if (w->pipes[i][j] >= 0)
				close(w->pipes[i][j]);
	if (w->sh)
		munmap(w->sh, sizeof(*w->sh));
	free(w->holders);
	rm_dir(w->dir);
	rm_dir(w->cold_dir);
}

/* A cold start of the same pool beside the restarting one: fork → READY=1,
 * in ms, or < 0. */
static double cold_once(struct world *w)
{
	uint64_t t0, t1;
	pid_t pid;
	int r;

	caller_pause(w, true);
	if (store_open(&w->b, w->cold_dir) < 0) {
		caller_pause(w, false);
		return -1;
	}
	t0 = now_ns();
	pid = daemon_spawn(w, &w->b, w->cold_sock, w->cold_log);
	r = pid > 0 ? store_wait_ready(&w->b, 0, pid, 120000, NULL) : pid;
	t1 = now_ns();
	if (pid > 0 && r != -ECHILD) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	/* Stopped for good: the store lets go of its pool. */
	store_close(&w->b);
	if (r == 0)
		unlink(w->cold_log);
	else
		fprintf(stderr, "contig-bench: cold start failed: %s; see %s\n", strerror(-r),
			w->cold_log);
	caller_pause(w, false);
	return r == 0 ? (double)(t1 - t0) / 1e6 : -1;
}

struct rep {
	double served_ms, down_ms, ready_ms, stall_ms;
	bool restored;
};

/* The caller's calls around a restart: the longest that overlapped
 * [t_sig, t_served] (into *ret_longest) and the round trips of the calls
 * made wholly in [t_from, t_sig) (µs, into rtt). */
static void calls_around(struct world *w, uint64_t t_from, uint64_t t_sig, uint64_t t_served,
			 struct samples *rtt, struct call *ret_longest)
{
	unsigned long n = atomic_load_explicit(&w->sh->n, memory_order_acquire);
	unsigned long first = n > RING ? n - RING : 0;

	*ret_longest = (struct call){ 0, 0 };
	for (unsigned long i = n; i-- > first;) {
		const struct call *c = &w->sh->ring[i % RING];
		if (c->t1 < t_from)
			break;
		if (c->t1 >= t_sig && c->t0 <= t_served &&
		    c->t1 - c->t0 > ret_longest->t1 - ret_longest->t0)
			*ret_longest = *c;
		if (c->t0 >= t_from && c->t1 < t_sig)
			samples_add(rtt, (double)(c->t1 - c->t0) / 1e3);
	}
}

static int restart_once(struct world *w, int sig, struct samples *rtt, struct rep *ret)
{
	unsigned restored = log_count(w->log, "restored from systemd's fd store");
	unsigned cold = log_count(w->log, "starting cold");
	int ready = atomic_load(&w->a.ready), status, r;
	uint64_t t_from = now_ns(), t_sig, t_dead, t_fork, t_ready, t_served = 0;
	unsigned long calls;
	struct call longest;

	/* The caller calling for a while first: the round trips before. */
	sleep_us(w->cfg->smoke ? 20000 : 100000);
	t_sig = now_ns();
	kill(w->daemon, sig);
	if (waitpid(w->daemon, &status, 0) != w->daemon)
		return -ECHILD;
	t_dead = now_ns();
	w->daemon = 0;
	if (write(w->pipes[PCMD][1], "q", 1) != 1)
		return -EPIPE;
	t_fork = now_ns();
	w->daemon = daemon_spawn(w, &w->a, w->sock, w->log);
	if (w->daemon < 0)
		return w->daemon;
	if ((r = store_wait_ready(&w->a, ready, w->daemon, 60000, NULL)) < 0) {
		if (r == -ECHILD)
			w->daemon = 0;
		return r;
	}
	t_ready = now_ns();
	if ((r = read_full(w->pipes[PANS][0], &t_served, sizeof(t_served), 60000)) < 0)
		return r;
	if (!t_served)
		return -EIO;
	/* The caller's call across it has returned, and a few more. */
	calls = atomic_load(&w->sh->n);
	for (int i = 0; i < 20000 && atomic_load(&w->sh->n) < calls + 3; i++)
		sleep_us(100);
	calls_around(w, t_from, t_sig, t_served, rtt, &longest);
	*ret = (struct rep){
		.served_ms = (double)(t_served - t_sig) / 1e6,
		.down_ms = (double)(t_dead - t_sig) / 1e6,
		.ready_ms = (double)(t_ready - t_fork) / 1e6,
		.stall_ms = (double)(longest.t1 - longest.t0) / 1e6,
		.restored = log_count(w->log, "restored from systemd's fd store") > restored &&
			    log_count(w->log, "starting cold") == cold,
	};
	/* Signed ms from the signal, for the log. */
#define AT(t) (((double)(t) - (double)t_sig) / 1e6)
	fprintf(stderr, "contig-bench: %s: reaped %+.2f ms, successor forked %+.2f, READY=1 %+.2f, "
		"serving again %+.2f; longest call %.2f ms (%+.2f to %+.2f)%s\n",
		sig == SIGTERM ? "SIGTERM" : "SIGKILL", AT(t_dead), AT(t_fork), AT(t_ready),
		AT(t_served), ret->stall_ms, AT(longest.t0), AT(longest.t1),
		ret->restored ? "" : "; NOT resumed from the store");
#undef AT
	if (sig == SIGTERM && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fprintf(stderr, "contig-bench: contigd did not stop cleanly on SIGTERM (0x%x)\n",
			status);
	return 0;
}

static double max_of(const struct samples *s)
{
	double m = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

static double median_of(struct samples *s)
{
	double med, p99;

	samples_summary(s, &med, &p99);
	return med;
}

/* The two restart kinds' rows and the targets' figures. */
struct kind {
	const char *name;
	int sig;
	struct samples served, down, ready, stall;
	unsigned restored, met;
	double over; /* the most a longest call took beyond restart + round trip, ms */
	struct rep reps[64];
};

static void kind_rows(struct kind *k, const struct world *w, double rtt_us, bool headline)
{
	char who[96];
	unsigned n = (unsigned)k->served.n;

	/* Met when the longest call was no longer than this restart's time
	 * plus one round trip (the median one of the whole run). */
	for (unsigned i = 0; i < n; i++) {
		double over = k->reps[i].stall_ms - (k->reps[i].served_ms + rtt_us / 1e3);
		k->met += over <= 0;
		if (over > k->over)
			k->over = over;
	}
	snprintf(who, sizeof(who), "%s → serving again, %u pages, %u sessions", k->name,
		 w->p.pages, w->p.sessions);
	double mx = max_of(&k->served);
	result_samples(G_RESTART, who, headline ? ROLE_CONTIG : ROLE_INFO, "ms", &k->served,
		       "signal → a held session's request, sent once the old contigd was reaped, "
		       "answered; max %.1f ms; %u of %u resumed from the store", mx, k->restored,
		       n);
	snprintf(who, sizeof(who), "%s: signal → old contigd reaped", k->name);
	result_samples(G_RESTART, who, ROLE_INFO, "ms", &k->down, NULL);
	snprintf(who, sizeof(who), "%s: successor fork → READY=1", k->name);
	result_samples(G_RESTART, who, ROLE_INFO, "ms", &k->ready, "restore from the store");
	snprintf(who, sizeof(who), "%s: calling client's longest call across it", k->name);
	mx = max_of(&k->stall);
	result_samples(G_RESTART, who, ROLE_INFO, "ms", &k->stall,
		       "max %.1f ms; ≤ that restart + 1 round trip in %u of %u (over by ≤ %.2f ms)",
		       mx, k->met, n, k->over);
}

void restart_run(const struct run_cfg *cfg)
{
	static struct world w;
	struct kind kinds[2] = { { .name = "SIGTERM", .sig = SIGTERM },
				 { .name = "SIGKILL", .sig = SIGKILL } };
	struct samples cold = { 0 }, rtt = { 0 };
	char who[96];
	unsigned intact = 0, answered = 0;
	unsigned long failures;
	int r;

	memset(&w, 0, sizeof(w));
	w.a.sock = w.b.sock = -1;
	pthread_mutex_init(&w.a.lock, NULL);
	pthread_mutex_init(&w.b.lock, NULL);
	for (int i = 0; i < NPIPES; i++)
		w.pipes[i][0] = w.pipes[i][1] = -1;
	w.cfg = cfg;
	w.p.pages = cfg->smoke ? 32 : 1024;
	w.p.sessions = cfg->smoke ? 5 : 100;
	w.p.rounds = cfg->smoke ? 2 : 7;
	hugepages_ensure(2l * w.p.pages + 16);
	r = world_up(&w);
	if (r < 0) {
		fprintf(stderr, "contig-bench: restart: setting up: %s (logs in %s)\n",
			strerror(-r), w.dir);
		snprintf(who, sizeof(who), "SIGTERM → serving again, %u pages, %u sessions",
			 w.p.pages, w.p.sessions);
		result_missing(G_RESTART, who, ROLE_CONTIG, "ms", "set-up failed: %s",
			       strerror(-r));
		w.dir[0] = w.cold_dir[0] = 0; /* keep the logs */
		world_down(&w, true);
		return;
	}
	for (unsigned round = 0; round < w.p.rounds && r == 0; round++) {
		double ms = cold_once(&w);
		if (ms >= 0)
			samples_add(&cold, ms);
		for (int k = 0; k < 2 && r == 0; k++) {
			struct kind *kd = &kinds[k];
			struct rep rep;
			r = restart_once(&w, kd->sig, &rtt, &rep);
			if (r < 0) {
				fprintf(stderr, "contig-bench: restart after %s: %s; see %s\n",
					kd->name, strerror(-r), w.log);
				break;
			}
			if (kd->served.n < sizeof(kd->reps) / sizeof(kd->reps[0]))
				kd->reps[kd->served.n] = rep;
			samples_add(&kd->served, rep.served_ms);
			samples_add(&kd->down, rep.down_ms);
			samples_add(&kd->ready, rep.ready_ms);
			samples_add(&kd->stall, rep.stall_ms);
			kd->restored += rep.restored;
		}
	}
	/* Every holder checks what it holds, once (with a contigd to ask). */
	close(w.pipes[QUIT][1]);
	w.pipes[QUIT][1] = -1;
	for (unsigned k = 0; r == 0 && k < w.p.sessions; k++) {
		char c = 0;
		if (read_full(w.pipes[ANS][0], &c, 1, 30000) < 0)
			break;
		answered++;
		intact += c == 'y';
	}
	failures = atomic_load(&w.sh->failures);
	if (failures)
		fprintf(stderr, "contig-bench: restart: %lu calls failed, the last with %s\n",
			failures, strerror(atomic_load(&w.sh->last_errno)));

	snprintf(who, sizeof(who), "cold start: contigd --pool %s, fork → READY=1", w.pool);
	result_samples(G_RESTART, who, ROLE_FLOOR, "ms", &cold,
		       "the same pool and config beside it (oversample = 0), an empty fd store");
	double rtt_us = median_of(&rtt);
	for (int k = 0; k < 2; k++)
		kind_rows(&kinds[k], &w, rtt_us, k == 0);
	result_samples(G_RESTART, "calling client: one round trip (contig_query)", ROLE_INFO,
		       "µs", &rtt, "every call in the 100 ms before each signal");
	result_value(G_RESTART, "sessions that kept their regions and connection", ROLE_INFO,
		     "÷ all", w.p.sessions ? (double)intact / w.p.sessions : 0, 1,
		     "%u of %u (%u answered): bytes, physical addresses, contig_query", intact,
		     w.p.sessions, answered);
	unsigned nrest = (unsigned)(kinds[0].served.n + kinds[1].served.n);
	result_value(G_RESTART, "restarts that resumed from the store (not cold)", ROLE_INFO,
		     "÷ all", nrest ? (double)(kinds[0].restored + kinds[1].restored) / nrest : 0,
		     nrest ? 1 : 0, "%u of %u", kinds[0].restored + kinds[1].restored, nrest);
	result_value(G_RESTART, "calling client: calls that failed", ROLE_INFO, "calls",
		     (double)failures, 1, "of %lu", atomic_load(&w.sh->n));

	summary = (struct restart_summary){
		.ran = kinds[0].served.n > 0, .smoke = cfg->smoke, .pages = w.p.pages,
		.sessions = w.p.sessions, .n = (unsigned)kinds[0].served.n,
		.cold = median_of(&cold), .rtt = rtt_us,
		.term = median_of(&kinds[0].served), .term_max = max_of(&kinds[0].served),
		.kill = median_of(&kinds[1].served), .kill_max = max_of(&kinds[1].served),
		.stall_max = max_of(&kinds[0].stall), .stall_kill_max = max_of(&kinds[1].stall),
		.stall_met = kinds[0].met + kinds[1].met, .stall_n = nrest,
		.stall_over = kinds[0].over > kinds[1].over ? kinds[0].over : kinds[1].over,
	};
	world_down(&w, r < 0 || answered < w.p.sessions);
	samples_free(&cold);
	samples_free(&rtt);
	for (int k = 0; k < 2; k++) {
		samples_free(&kinds[k].served);
		samples_free(&kinds[k].down);
		samples_free(&kinds[k].ready);
		samples_free(&kinds[k].stall);
	}
}

static const char *yes(bool met)
{
	return met ? "yes" : "**no**";
}

void restart_print_targets(FILE *f)
{
	const struct restart_summary *s = &summary;
	double rt = s->cold > 0 ? s->term / s->cold : 0, rtm = s->cold > 0 ? s->term_max / s->cold : 0;
	double rk = s->cold > 0 ? s->kill / s->cold : 0, rkm = s->cold > 0 ? s->kill_max / s->cold : 0;

	if (!s->ran)
		return;
	fprintf(f, "### Restart from the fd store (issue 20): %u pages, %u sessions, %u rounds%s\n\n",
		s->pages, s->sessions, s->n, s->smoke ? " (smoke: NOT representative)" : "");
	fprintf(f, "| figure | restart | cold start beside it | restart ÷ cold | target | met |\n");
	fprintf(f, "|---|---:|---:|---:|---|---|\n");
	fprintf(f, "| SIGTERM → serving again, median | %.1f ms | %.1f ms | %.2f | ≤ 50 ms and ≤ 0.3× | %s |\n",
		s->term, s->cold, rt, yes(s->term <= 50 && rt <= 0.3));
	fprintf(f, "| SIGTERM → serving again, max | %.1f ms | %.1f ms | %.2f | ≤ 50 ms and ≤ 0.3× | %s |\n",
		s->term_max, s->cold, rtm, yes(s->term_max <= 50 && rtm <= 0.3));
	fprintf(f, "| SIGKILL → serving again, median | %.1f ms | %.1f ms | %.2f | the same, for a crash | %s |\n",
		s->kill, s->cold, rk, yes(s->kill <= 50 && rk <= 0.3));
	fprintf(f, "| SIGKILL → serving again, max | %.1f ms | %.1f ms | %.2f | the same, for a crash | %s |\n",
		s->kill_max, s->cold, rkm, yes(s->kill_max <= 50 && rkm <= 0.3));
	fprintf(f, "| a client's longest call across a restart (SIGTERM; SIGKILL) | %.1f; %.1f ms | | | "
		   "≤ that restart + 1 round trip (%.0f µs) | %s: %u of %u restarts; over by ≤ %.2f ms |\n",
		s->stall_max, s->stall_kill_max, s->rtt, yes(s->stall_met == s->stall_n), s->stall_met,
		s->stall_n, s->stall_over);
	fprintf(f, "\n");
}
