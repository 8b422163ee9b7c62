/* SPDX-License-Identifier: MIT */
/*
 * scale_sessions.c - contigd with many sessions connected (issue 19,
 * `--only scale-sessions`): does what one more client sees, and what the
 * daemon holds, stay flat as sessions are added?
 *
 * A contigd of its own (oversample = 0: the pool's pages only) with a pool
 * of base_bytes plus one 2 MiB page per region held. Holder processes are
 * forked in steps to N = 1, 10, 100, 1000, 2000 sessions, all alive at once:
 * each holds one 4 KiB region with CONTIG_CARVE=0, a real daemon region of a
 * whole pool page (carved regions would be invisible to the daemon), and
 * sleeps in read() on a pipe that only closes at the end. At each N:
 *
 *   - alloc+free of a 2 MiB region (no touch), CONTIG_STASH=0 so that every
 *     pair is a daemon trip, from one more process: its median and p99 over
 *     `pairs` pairs, once as root and once as the user nobody (a non-root
 *     uid makes the daemon's quota check walk every session on each
 *     allocation; root skips it);
 *   - contigd's VmRSS above its VmRSS with no session, divided by N;
 *   - `contigctl clients --json` and `contigctl regions --json`, fork to
 *     exit with stdout on /dev/null (the median of `reps` runs; the rows
 *     are counted in one more run to show they were all there).
 *
 * Then more regions, in holders of `chunk` each, to the region counts the
 * machine's hugepages allow (each region is at least one 2 MiB pool page:
 * 100,000 of them would be 195 GiB), the regions listing timed at each; a
 * least-squares line through the listing times gives the cost per row and
 * the 10,000- and 100,000-region times, reported as extrapolations.
 *
 * The holders and probes die with this process (PR_SET_PDEATHSIG) and are
 * killed and reaped on every path.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "contigd_ctl.h"
#include "curve.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SESS_MAX_STEPS 8
#define SESS_MAX_TOTALS 4

struct sess_params {
	unsigned steps[SESS_MAX_STEPS]; /* sessions, ascending */
	unsigned nsteps;
	unsigned totals[SESS_MAX_TOTALS]; /* region counts beyond the last step, ascending */
	unsigned ntotals;
	unsigned chunk;     /* regions per holder of the region phase */
	unsigned pairs;     /* probe pairs per point */
	unsigned reps;      /* runs of each listing per point */
	uint64_t base_bytes;
};

static const struct sess_params full_params = {
	.steps = { 1, 10, 100, 1000, 2000 }, .nsteps = 5,
	.totals = { 3000, 4000 }, .ntotals = 2,
	.chunk = 500, .pairs = 2000, .reps = 11, .base_bytes = 2048 * MIB,
};

static const struct sess_params smoke_params = {
	.steps = { 1, 4, 8 }, .nsteps = 3,
	.totals = { 16, 24 }, .ntotals = 2,
	.chunk = 8, .pairs = 100, .reps = 2, .base_bytes = 32 * MIB,
};

/* One sessions step, kept for the curves and the targets. */
struct sess_point {
	unsigned n;
	double med, p99, med_nb, p99_nb; /* probe as root, as nobody (NAN: not measured) */
	double rss_per_kib;
	double clients_ms, regions_ms;
};

struct sess_world {
	struct run_cfg dcfg; /* the run's, with tmpdir = dir */
	char dir[64];
	struct contigd d;
	int quit[2], ready[2]; /* holders read quit (EOF: the end), write one byte to ready */
	pid_t *pids;
	unsigned npids, cap;
	unsigned regions;      /* held by the holders, all ready */
	bool have_nobody;
	uid_t nobody_uid;
	gid_t nobody_gid;
};

static struct sess_summary {
	bool ran, smoke, have_nobody;
	unsigned n1, nmax, rmax;
	double med1, medmax, p99_1, p99max, nb1, nbmax;
	double rss_per_kib;
	double fit_us_per_row, fit_ms0, ms_10k, ms_100k;
	bool fitted;
} summary;

/* ---- the holders ---- */

/* nregions 4 KiB regions of whole pool pages, held until the quit pipe
 * closes (or the run dies: PR_SET_PDEATHSIG). */
static __attribute__((noreturn)) void holder_main(const struct sess_world *w, unsigned nregions,
						  pid_t parent)
{
	char c = 'r';

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	close(w->quit[1]);
	close(w->ready[0]);
	if (setenv("CONTIG_SOCKET", w->d.sock, 1) < 0 || setenv("CONTIG_CARVE", "0", 1) < 0)
		_exit(1);
	for (unsigned i = 0; i < nregions; i++) {
		volatile uint8_t *p = contig_alloc(4096, CONTIG_MAX_ADDRESS);
		if (!p) {
			c = (char)(0x80 | (errno & 0x7f)); /* 'r' < 0x80: never a failure */
			break;
		}
		p[0] = 1;
	}
	if (write(w->ready[1], &c, 1) != 1)
		_exit(1);
	while (read(w->quit[0], &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static int holders_spawn(struct sess_world *w, unsigned nholders, unsigned per_holder)
{
	pid_t parent = getpid();

	if (w->npids + nholders > w->cap) {
		unsigned cap = (w->npids + nholders) * 2;
		pid_t *p = realloc(w->pids, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		w->pids = p;
		w->cap = cap;
	}
	for (unsigned i = 0; i < nholders; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0)
			holder_main(w, per_holder, parent);
		w->pids[w->npids++] = pid;
	}
	return 0;
}

/* Wait for n holders' bytes; -errno of the first that could not get its
 * regions, -ETIMEDOUT if they did not all answer in time (one died, or the
 * daemon is stuck). */
static int holders_wait(struct sess_world *w, unsigned n)
{
	uint64_t deadline = now_ns() + (30 + n / 100) * UINT64_C(1000000000);
	unsigned got = 0;
	int failed = 0;
	char buf[256];

	while (got < n) {
		struct pollfd p = { .fd = w->ready[0], .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t k;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		k = read(w->ready[0], buf, n - got < sizeof(buf) ? n - got : sizeof(buf));
		if (k <= 0)
			continue;
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] != 'r' && !failed)
				failed = (buf[i] & 0x7f) ? -(buf[i] & 0x7f) : -EIO;
		got += (unsigned)k;
	}
	return failed;
}

static void holders_kill(struct sess_world *w)
{
	for (unsigned i = 0; i < w->npids; i++)
		kill(w->pids[i], SIGKILL);
	for (unsigned i = 0; i < w->npids; i++)
		waitpid(w->pids[i], NULL, 0);
	w->npids = 0;
	w->regions = 0;
}

/* ---- the probe: one more client ---- */

static __attribute__((noreturn)) void probe_main(const struct sess_world *w, unsigned pairs,
						 bool as_nobody, int out, pid_t parent)
{
	double *lat = calloc(pairs, sizeof(*lat));
	unsigned n = 0, fails = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || !lat)
		_exit(1);
	if (setenv("CONTIG_SOCKET", w->d.sock, 1) < 0 || setenv("CONTIG_STASH", "0", 1) < 0)
		_exit(1);
	/* A change of credentials clears the parent-death signal: set it again. */
	if (as_nobody && (setgroups(0, NULL) < 0 || setgid(w->nobody_gid) < 0 ||
			  setuid(w->nobody_uid) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
			  getppid() != parent))
		_exit(4);
	/* The session, and the daemon's first answers, before the clock. */
	for (unsigned i = 0; i < 20; i++) {
		void *p = contig_alloc(HUGE_2M, CONTIG_MAX_ADDRESS);
		if (!p)
			_exit(3);
		contig_free(p);
	}
	for (unsigned i = 0; i < pairs; i++) {
		uint64_t t0 = now_ns();
		void *p = contig_alloc(HUGE_2M, CONTIG_MAX_ADDRESS);
		if (!p) {
			fails++;
			continue;
		}
		contig_free(p);
		lat[n++] = (double)(now_ns() - t0) / 1e3;
	}
	if (write(out, lat, n * sizeof(*lat)) != (ssize_t)(n * sizeof(*lat)))
		_exit(1);
	_exit(fails ? 2 : 0);
}

/* The probe's pairs into s; its exit status (0: every pair done), or -errno. */
static int probe_run(const struct sess_world *w, unsigned pairs, bool as_nobody,
		     struct samples *s)
{
	int fds[2], status = 0;
	double v;
	pid_t pid, parent;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		close(fds[0]);
		probe_main(w, pairs, as_nobody, fds[1], parent);
	}
	close(fds[1]);
	while (read(fds[0], &v, sizeof(v)) == sizeof(v))
		samples_add(s, v);
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -ECHILD;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- contigctl ---- */

/* One `contigctl --socket S cmd --json` from fork to exit, its output on
 * /dev/null: ms, or -1 if it failed. */
static double ctl_once_ms(const struct sess_world *w, const char *cmd)
{
	char *argv[] = { (char *)w->dcfg.contigctl, "--socket", (char *)w->d.sock, (char *)cmd,
			 "--json", NULL };
	uint64_t t0 = now_ns();
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return (double)(now_ns() - t0) / 1e6;
}

/* reps runs into s; the rows of one more run's output (occurrences of
 * key), or -errno. */
static long ctl_measure(const struct sess_world *w, const char *cmd, const char *key,
			unsigned reps, size_t expect_rows, struct samples *s)
{
	char *argv[] = { (char *)w->dcfg.contigctl, "--socket", (char *)w->d.sock, (char *)cmd,
			 "--json", NULL };
	size_t size = (expect_rows + 16) * 1024;
	char *buf = malloc(size);
	long rows = 0;

	if (!buf)
		return -ENOMEM;
	/* One run first, not counted: the program's pages into the cache. */
	if (ctl_once_ms(w, cmd) < 0) {
		free(buf);
		return -ECHILD;
	}
	for (unsigned i = 0; i < reps; i++) {
		double ms = ctl_once_ms(w, cmd);
		if (ms < 0) {
			free(buf);
			return -ECHILD;
		}
		samples_add(s, ms);
	}
	if (spawn_capture(argv, buf, size, NULL) != 0) {
		free(buf);
		return -ECHILD;
	}
	for (const char *p = buf; (p = strstr(p, key)); p += strlen(key))
		rows++;
	free(buf);
	return rows;
}

/* ---- the run ---- */

static double ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

static const char *met(bool ok)
{
	return ok ? "met" : "missed";
}

static void probe_point(struct sess_world *w, const struct sess_params *p, unsigned n,
			bool as_nobody, double *ret_med, double *ret_p99,
			const struct sess_point *first)
{
	struct samples s = { 0 };
	char who[128];
	const char *as = as_nobody ? "as nobody (quota walk)" : "as root";
	int st = probe_run(w, p->pairs, as_nobody, &s);

	snprintf(who, sizeof(who), "contig: one more client %s, %u session%s connected", as, n,
		 n == 1 ? "" : "s");
	*ret_med = *ret_p99 = NAN;
	if (st != 0 || !s.n) {
		result_missing(G_SCALE_SESS, who, ROLE_INFO, "µs", "probe exited %d with %zu pairs",
			       st, s.n);
		samples_free(&s);
		return;
	}
	samples_summary(&s, ret_med, ret_p99);
	if (!first)
		result_samples(G_SCALE_SESS, who, ROLE_INFO, "µs", &s,
			       "2 MiB, CONTIG_STASH=0, no touch");
	else
		result_samples(G_SCALE_SESS, who, ROLE_INFO, "µs", &s,
			       "÷ with %u session: median %.2f×, p99 %.2f× (target median ≤ 1.5×: "
			       "%s)",
			       first->n, ratio(*ret_med, as_nobody ? first->med_nb : first->med),
			       ratio(*ret_p99, as_nobody ? first->p99_nb : first->p99),
			       met(ratio(*ret_med, as_nobody ? first->med_nb : first->med) <= 1.5));
	samples_free(&s);
}

/* A listing row; the median ms, or NAN. */
static double list_point(struct sess_world *w, const struct sess_params *p, const char *cmd,
			 const char *key, const char *what, unsigned rows_expected)
{
	struct samples s = { 0 };
	double med = NAN, p99;
	char who[128];
	long rows = ctl_measure(w, cmd, key, p->reps, rows_expected, &s);

	snprintf(who, sizeof(who), "contigctl %s --json, %u %s%s", cmd, rows_expected, what,
		 rows_expected == 1 ? "" : "s");
	if (rows < 0) {
		result_missing(G_SCALE_LIST, who, ROLE_INFO, "ms", "contigctl failed: %s",
			       strerror((int)-rows));
	} else {
		samples_summary(&s, &med, &p99);
		result_samples(G_SCALE_LIST, who, ROLE_INFO, "ms", &s,
			       "fork to exit, stdout on /dev/null; %ld rows seen%s", rows,
			       strcmp(cmd, "clients") ? "" : " (contigctl's own among them)");
	}
	samples_free(&s);
	return med;
}

/* Least squares t = a + b·x over the points with x ≥ xmin (all of them if
 * fewer than two qualify); false if the x do not differ. */
static bool fit_line(const double *x, const double *y, unsigned n, double xmin, double *ret_a,
		     double *ret_b)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	unsigned k = 0, q = 0;

	for (unsigned i = 0; i < n; i++)
		q += !isnan(y[i]) && x[i] >= xmin;
	for (unsigned i = 0; i < n; i++) {
		if (isnan(y[i]) || (q >= 2 && x[i] < xmin))
			continue;
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
		k++;
	}
	if (k < 2 || k * sxx - sx * sx <= 0)
		return false;
	*ret_b = (k * sxy - sx * sy) / (k * sxx - sx * sx);
	*ret_a = (sy - *ret_b * sx) / k;
	/* A line that falls says the counts were too small to see the cost
	 * of a row under the noise: no extrapolation from it. */
	return *ret_b > 0;
}

static int world_up(struct sess_world *w, const struct run_cfg *cfg, uint64_t pool_bytes,
		    unsigned max_sessions)
{
	struct passwd *pw = getpwnam("nobody");
	char config[256];
	int r;

	w->quit[0] = w->quit[1] = w->ready[0] = w->ready[1] = -1;
	w->dcfg = *cfg;
	snprintf(w->dir, sizeof(w->dir), "/tmp/contig-scale-XXXXXX");
	if (!mkdtemp(w->dir)) {
		w->dir[0] = 0;
		return -errno;
	}
	snprintf(w->dcfg.tmpdir, sizeof(w->dcfg.tmpdir), "%s", w->dir);
	w->have_nobody = pw && pw->pw_uid != 0;
	if (w->have_nobody) {
		w->nobody_uid = pw->pw_uid;
		w->nobody_gid = pw->pw_gid;
	}
	/* The non-root probe must reach the socket: the directory is only
	 * traversable, the socket opened to all (the daemon makes it 0660)
	 * and the daemon told to let that user allocate. */
	if (chmod(w->dir, 0711) < 0)
		return -errno;
	snprintf(config, sizeof(config), "oversample = 0\nmax-sessions = %u\n%s%u\n",
		 max_sessions > 4096 ? max_sessions : 4096, w->have_nobody ? "allow-users = " : "# no user nobody ",
		 w->have_nobody ? (unsigned)w->nobody_uid : 0);
	r = contigd_start(&w->dcfg, &w->d, "scale-sessions", pool_bytes, config);
	if (r < 0)
		return r;
	if (chmod(w->d.sock, 0666) < 0)
		w->have_nobody = false;
	if (pipe2(w->quit, O_CLOEXEC) < 0 || pipe2(w->ready, O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* The daemon's last log lines to stderr: its log goes with it at the stop. */
static void log_tail(const struct sess_world *w)
{
	char lines[4][512], line[512];
	unsigned n = 0;
	FILE *f = fopen(w->d.log, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		snprintf(lines[n++ % 4], sizeof(lines[0]), "%s", line);
	fclose(f);
	for (unsigned i = n > 4 ? n - 4 : 0; i < n; i++)
		fprintf(stderr, "contig-bench: scale-sessions: contigd: %s", lines[i % 4]);
}

static void world_down(struct sess_world *w)
{
	holders_kill(w);
	free(w->pids);
	w->pids = NULL;
	w->cap = 0;
	for (int i = 0; i < 2; i++) {
		if (w->quit[i] >= 0)
			close(w->quit[i]);
		if (w->ready[i] >= 0)
			close(w->ready[i]);
		w->quit[i] = w->ready[i] = -1;
	}
	if (w->d.pid > 0) {
		int st = contigd_stop(&w->d);
		if (st != 0)
			fprintf(stderr, "contig-bench: scale-sessions: contigd exited %d; log %s\n",
				st, w->d.log);
	}
	if (w->dir[0] && rmdir(w->dir) < 0)
		fprintf(stderr, "contig-bench: scale-sessions: %s left behind\n", w->dir);
}

/* Enough descriptors and processes for every holder at once. */
static void raise_limits(unsigned nprocs)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)nprocs + 256) {
		rl.rlim_cur = (rlim_t)nprocs + 256;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
			rl.rlim_max = rl.rlim_cur; /* root may raise its hard limit */
		(void)setrlimit(RLIMIT_NPROC, &rl);
	}
}

static void save_curves(const struct sess_params *p, const struct sess_point *pts, unsigned npts,
			const double *rx, const double *ry, unsigned nr, bool fitted, double a,
			double b, bool have_nobody)
{
	static const char *const lat_series[] = { "contig median", "contig p99",
						  "contig median (non-root: quota walk)",
						  "contig p99 (non-root: quota walk)" };
	static const char *const rss_series[] = { "contig" };
	static const char *const list_series[] = { "clients --json", "regions --json",
						   "regions --json, extrapolated (fit)" };
	struct curve c;
	const struct sess_point *last = &pts[npts - 1];

	curve_init(&c, "scale-sessions-latency",
		   "alloc+free 2 MiB (CONTIG_STASH=0) from one more client, N sessions connected",
		   "sessions connected", "µs per alloc+free", true, false,
		   have_nobody ? 4 : 2, lat_series);
	for (unsigned i = 0; i < npts; i++) {
		double y[4] = { pts[i].med, pts[i].p99, pts[i].med_nb, pts[i].p99_nb };
		curve_point(&c, pts[i].n, y);
	}
	curve_note(&c, "each session: a process holding one 4 KiB region of a whole pool page "
		       "(CONTIG_CARVE=0); %u pairs per point", p->pairs);
	curve_note(&c, "target: median at %u sessions ≤ 1.5× at %u: %.2f× (%s)", last->n, pts[0].n,
		   ratio(last->med, pts[0].med), met(ratio(last->med, pts[0].med) <= 1.5));
	if (have_nobody)
		curve_note(&c, "non-root probe (user nobody): %.2f× at %u sessions (%s)",
			   ratio(last->med_nb, pts[0].med_nb), last->n,
			   met(ratio(last->med_nb, pts[0].med_nb) <= 1.5));
	curve_save(&c);

	curve_init(&c, "scale-sessions-rss", "contigd VmRSS per connected session",
		   "sessions connected", "KiB per session", true, false, 1, rss_series);
	for (unsigned i = 0; i < npts; i++)
		curve_point(&c, pts[i].n, &pts[i].rss_per_kib);
	curve_note(&c, "(VmRSS at N − VmRSS with no session) ÷ N; each session holds one region");
	curve_note(&c, "target ≤ 8 KiB per session: %.2f KiB at %u (%s)", last->rss_per_kib,
		   last->n, met(last->rss_per_kib <= 8));
	curve_save(&c);

	curve_init(&c, "scale-listing", "contigctl clients / regions --json, fork to exit",
		   "regions (= sessions where both are shown)", "ms", true, true, 3, list_series);
	for (unsigned i = 0; i < nr; i++) {
		double y[3] = { i < npts ? pts[i].clients_ms : NAN, ry[i], NAN };
		curve_point(&c, rx[i], y);
	}
	if (fitted) {
		const double xs[] = { 10000, 100000 };
		for (unsigned i = 0; i < 2; i++) {
			double y[3] = { NAN, NAN, a + b * xs[i] };
			curve_point(&c, xs[i], y);
		}
		curve_note(&c, "10,000 and 100,000 regions EXTRAPOLATED (each region needs a 2 MiB "
			       "pool page): %.3f ms + %.2f µs per row", a, b * 1e3);
		curve_note(&c, "target: 100,000 regions listed in < 1 s: %.0f ms extrapolated (%s)",
			   a + b * 1e5, met(a + b * 1e5 < 1000));
	}
	curve_save(&c);
}

void scale_sessions_run(const struct run_cfg *cfg)
{
	const struct sess_params *p = cfg->smoke ? &smoke_params : &full_params;
	struct sess_world w = { 0 };
	struct sess_point pts[SESS_MAX_STEPS];
	double rx[SESS_MAX_STEPS + SESS_MAX_TOTALS], ry[SESS_MAX_STEPS + SESS_MAX_TOTALS];
	unsigned npts = 0, nr = 0, nmax = p->steps[p->nsteps - 1], rmax = nmax;
	long rss0, pages, want, got;
	double a = 0, b = 0;
	bool fitted = false;
	int r;

	for (unsigned i = 0; i < p->ntotals; i++)
		rmax = p->totals[i] > rmax ? p->totals[i] : rmax;
	/* Every held region is one pool page; the probe needs one more. A
	 * freed page is punched and faulted again (the revoke): 32 free
	 * hugepages beyond the pool, so that other processes of the machine
	 * taking free hugepages meanwhile do not leave the pool short. */
	pages = (long)(p->base_bytes / HUGE_2M);
	want = pages + rmax + 16;
	got = hugepages_ensure(want + 32) - 32;
	if (got < want) {
		long spare = got - pages - 16; /* got: beyond the 32 kept free */
		if (spare < (long)nmax) {
			result_missing(G_SCALE_SESS, "contig: one more client as root", ROLE_INFO, "µs",
				       "%ld free 2 MiB hugepages, %ld wanted", got + 32, want + 32);
			return;
		}
		rmax = (unsigned)spare;
	}
	raise_limits(rmax / p->chunk + nmax + 64);
	r = world_up(&w, cfg, (uint64_t)(pages + rmax + 16) * HUGE_2M, nmax + rmax / p->chunk + 64);
	if (r < 0) {
		result_missing(G_SCALE_SESS, "contig: one more client as root", ROLE_INFO, "µs",
			       "contigd: %s", strerror(-r));
		world_down(&w);
		return;
	}
	/* The daemon's first answers (its tables, its first region) before
	 * the VmRSS every step is compared to. */
	{
		struct samples s = { 0 };
		probe_run(&w, 20, false, &s);
		samples_free(&s);
	}
	rss0 = proc_status_kb(w.d.pid, "VmRSS");

	for (unsigned i = 0; i < p->nsteps; i++) {
		unsigned n = p->steps[i];
		struct sess_point *pt = &pts[npts];
		char who[96];
		long rss;

		r = holders_spawn(&w, n - w.regions, 1);
		if (r == 0)
			r = holders_wait(&w, n - w.regions);
		if (r < 0) {
			snprintf(who, sizeof(who), "contig: one more client as root, %u sessions", n);
			result_missing(G_SCALE_SESS, who, ROLE_INFO, "µs", "holders: %s",
				       strerror(-r));
			log_tail(&w);
			break;
		}
		w.regions = n;
		*pt = (struct sess_point){ .n = n };
		rss = proc_status_kb(w.d.pid, "VmRSS");
		pt->rss_per_kib = rss >= 0 && rss0 >= 0 ? (double)(rss - rss0) / n : NAN;
		snprintf(who, sizeof(who), "contigd VmRSS per session, %u session%s", n,
			 n == 1 ? "" : "s");
		result_value(G_SCALE_RSS, who, ROLE_INFO, "KiB", pt->rss_per_kib, rss >= 0,
			     "VmRSS %ld KiB, %ld with none; target ≤ 8 KiB: %s", rss, rss0,
			     met(pt->rss_per_kib <= 8));
		probe_point(&w, p, n, false, &pt->med, &pt->p99, npts ? &pts[0] : NULL);
		if (w.have_nobody)
			probe_point(&w, p, n, true, &pt->med_nb, &pt->p99_nb, npts ? &pts[0] : NULL);
		else
			pt->med_nb = pt->p99_nb = NAN;
		pt->clients_ms = list_point(&w, p, "clients", "{\"session\":", "session", n);
		pt->regions_ms = list_point(&w, p, "regions", "{\"id\":", "region", n);
		rx[nr] = n;
		ry[nr++] = pt->regions_ms;
		npts++;
	}

	/* More regions than sessions: the region listing at the counts the
	 * pool holds. */
	for (unsigned i = 0; npts == p->nsteps && i < p->ntotals; i++) {
		unsigned total = p->totals[i] < rmax ? p->totals[i] : rmax;
		unsigned before = w.regions, nh = 0;

		if (total <= w.regions)
			continue;
		while (w.regions < total) {
			unsigned k = total - w.regions < p->chunk ? total - w.regions : p->chunk;
			r = holders_spawn(&w, 1, k);
			if (r < 0)
				break;
			w.regions += k;
			nh++;
		}
		if (r == 0)
			r = holders_wait(&w, nh);
		if (r < 0) {
			w.regions = before;
			result_missing(G_SCALE_LIST, "contigctl regions --json, more regions", ROLE_INFO,
				       "ms", "holders: %s", strerror(-r));
			log_tail(&w);
			break;
		}
		rx[nr] = total;
		ry[nr++] = list_point(&w, p, "regions", "{\"id\":", "region", total);
	}
	world_down(&w);

	if (!npts)
		return;
	fitted = fit_line(rx, ry, nr, cfg->smoke ? 1 : 100, &a, &b);
	/* In --smoke the counts are too small for a line: not a gap. */
	if (!fitted && !cfg->smoke)
		result_missing(G_SCALE_LIST, "contigctl regions --json, 100,000 regions: EXTRAPOLATED",
			       ROLE_INFO, "ms", "no rising line through the %u measured counts "
			       "(≤ %.0f regions): the cost per row is under the noise", nr,
			       rx[nr - 1]);
	if (fitted) {
		result_value(G_SCALE_LIST, "contigctl regions --json: cost per row (fit)", ROLE_INFO,
			     "µs", b * 1e3, nr, "least squares over the measured counts (≤ %.0f "
			     "regions), + %.2f ms fixed", rx[nr - 1], a);
		result_value(G_SCALE_LIST, "contigctl regions --json, 10,000 regions: EXTRAPOLATED",
			     ROLE_INFO, "ms", a + b * 1e4, nr,
			     "not measured: 10,000 regions need 20 GiB of pool pages");
		result_value(G_SCALE_LIST, "contigctl regions --json, 100,000 regions: EXTRAPOLATED",
			     ROLE_INFO, "ms", a + b * 1e5, nr,
			     "not measured (195 GiB of pool pages); target < 1 s: %s",
			     met(a + b * 1e5 < 1000));
	}
	save_curves(p, pts, npts, rx, ry, nr, fitted, a, b, w.have_nobody);

	summary = (struct sess_summary){
		.ran = true, .smoke = cfg->smoke, .have_nobody = w.have_nobody,
		.n1 = pts[0].n, .nmax = pts[npts - 1].n, .rmax = (unsigned)rx[nr - 1],
		.med1 = pts[0].med, .medmax = pts[npts - 1].med,
		.p99_1 = pts[0].p99, .p99max = pts[npts - 1].p99,
		.nb1 = pts[0].med_nb, .nbmax = pts[npts - 1].med_nb,
		.rss_per_kib = pts[npts - 1].rss_per_kib,
		.fitted = fitted, .fit_us_per_row = b * 1e3, .fit_ms0 = a,
		.ms_10k = a + b * 1e4, .ms_100k = a + b * 1e5,
	};
}

void scale_sessions_print_targets(FILE *f)
{
	const struct sess_summary *s = &summary;

	if (!s->ran)
		return;
	fprintf(f, "### Issue 19, sessions: targets%s\n\n", s->smoke ? " (--smoke: NOT the target sizes)" : "");
	fprintf(f, "| target | measured | |\n|---|---|---|\n");
	fprintf(f, "| alloc+free 2 MiB at %u sessions ≤ 1.5× at %u (median, root) | %.1f µs ÷ %.1f "
		   "µs = %.2f× (p99 %.2f×) | %s |\n",
		s->nmax, s->n1, s->medmax, s->med1, ratio(s->medmax, s->med1),
		ratio(s->p99max, s->p99_1), met(ratio(s->medmax, s->med1) <= 1.5));
	if (s->have_nobody)
		fprintf(f, "| the same, client not root (quota walk over all sessions) | %.1f µs ÷ "
			   "%.1f µs = %.2f× | %s |\n",
			s->nbmax, s->nb1, ratio(s->nbmax, s->nb1),
			met(ratio(s->nbmax, s->nb1) <= 1.5));
	fprintf(f, "| contigd VmRSS per session ≤ 8 KiB (at %u) | %.2f KiB | %s |\n", s->nmax,
		s->rss_per_kib, met(s->rss_per_kib <= 8));
	if (s->fitted)
		fprintf(f, "| regions --json of 100,000 regions < 1 s | %.0f ms EXTRAPOLATED from ≤ %u "
			   "regions (%.2f µs per row + %.1f ms) | %s |\n",
			s->ms_100k, s->rmax, s->fit_us_per_row, s->fit_ms0, met(s->ms_100k < 1000));
	fprintf(f, "\n");
}
