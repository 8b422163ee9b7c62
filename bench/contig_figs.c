/* SPDX-License-Identifier: MIT */
/*
 * contig_figs.c - contig's figures, through libcontig against a contigd of
 * the benchmark's own on a pool of cfg->pool_bytes: reclaim throughput,
 * alloc+free at four sizes (back to back, and with the pool idle before
 * each), 2/8/64 client processes, contig_phys_addr, a request's round trip,
 * a new process's first region and the daemon's RSS; the churn figures once
 * more with zero-in-place = yes; the fragmentation workload on a fresh
 * daemon of each kind; and one start-up for ready.c.
 *
 * "Idle" means contig_query reports free == total: no reclaim in flight.
 * The process keeps one libcontig session; when a daemon is replaced, the
 * next call reconnects to $CONTIG_SOCKET, which points at the new one.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "contigd_ctl.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static struct contigd daemon_main;
/* The daemon configuration being measured: its name in the rows, and the
 * role of its headline rows (the default configuration is the one compared
 * with the peers; the others are shown beside it). */
static const char *mode_label = "contig";
static enum role mode_role = ROLE_CONTIG;

/* Wait until the pool holds total - held free bytes (reclaim done). */
static bool wait_free(uint64_t held, unsigned timeout_ms)
{
	uint64_t t0 = now_ns();
	struct contig_pool_info info;

	for (;;) {
		memset(&info, 0, sizeof(info));
		if (contig_query(&info) == 0 && info.free_bytes + held >= info.total_bytes)
			return true;
		if (now_ns() - t0 > (uint64_t)timeout_ms * 1000000)
			return false;
		sleep_us(50);
	}
}

static void touch(volatile uint8_t *p, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
}

/* ---- alloc+free ---- */

struct af_samples {
	struct samples all, alloc, free;
	unsigned fails;
	int err;
};

static void af_free_samples(struct af_samples *s)
{
	samples_free(&s->all);
	samples_free(&s->alloc);
	samples_free(&s->free);
}

static void af_loop(size_t bytes, bool do_touch, unsigned n, bool idle, struct af_samples *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < n; i++) {
		if (idle)
			wait_free(0, 10000);
		uint64_t t0 = now_ns(), t1, t2, t3;
		uint8_t *p = contig_alloc(bytes, CONTIG_MAX_ADDRESS);
		t1 = now_ns();
		if (!p) {
			s->fails++;
			s->err = errno;
			continue;
		}
		if (do_touch)
			touch(p, bytes);
		t2 = now_ns();
		contig_free(p);
		t3 = now_ns();
		samples_add(&s->all, (double)(t3 - t0) / 1e3);
		samples_add(&s->alloc, (double)(t1 - t0) / 1e3);
		samples_add(&s->free, (double)(t3 - t2) / 1e3);
	}
}

static void af_report(const char *group, const char *who, enum role role, size_t bytes,
		      struct af_samples *s)
{
	double am, ap, fm, fp;

	if (!s->all.n && s->fails) {
		result_failed(group, who, role, "µs", s->fails, "%.0f KiB: %s", (double)bytes / 1024,
			      strerror(s->err));
		return;
	}
	samples_summary(&s->alloc, &am, &ap);
	samples_summary(&s->free, &fm, &fp);
	result_samples(group, who, role, "µs", &s->all,
		       "%.0f KiB: alloc %.1f µs (p99 %.0f), free %.1f µs (p99 %.0f); %u of %u "
		       "allocations failed%s%s",
		       (double)bytes / 1024, am, ap, fm, fp, s->fails, s->fails + (unsigned)s->all.n,
		       s->fails ? ": " : "", s->fails ? strerror(s->err) : "");
}

static void af_figure(const struct run_cfg *cfg, const char *group, size_t bytes, bool do_touch,
		      unsigned n)
{
	struct af_samples s;
	char who[128];
	const char *what = do_touch ? "contig_alloc + touch + contig_free" :
				      "contig_alloc + contig_free";

	(void)cfg;
	wait_free(0, 10000);
	af_loop(bytes, do_touch, n, false, &s);
	snprintf(who, sizeof(who), "%s: %s, back to back", mode_label, what);
	af_report(group, who, mode_role, bytes, &s);
	af_free_samples(&s);
	af_loop(bytes, do_touch, n / 10 + 3, true, &s);
	snprintf(who, sizeof(who), "%s: %s, pool idle before each", mode_label, what);
	af_report(group, who, ROLE_INFO, bytes, &s);
	af_free_samples(&s);
}

/* ---- contig_phys_addr ---- */

static void v2p_figure(const struct run_cfg *cfg)
{
	struct samples hot = { 0 }, alt = { 0 };
	unsigned batch = 1000, nb = cfg->smoke ? 20 : 300;
	uint8_t *a = contig_alloc(HUGE_2M, CONTIG_MAX_ADDRESS);
	uint8_t *b = contig_alloc(HUGE_2M, CONTIG_MAX_ADDRESS);
	size_t off[64];

	if (!a || !b) {
		result_missing(G_V2P, "contig_phys_addr, same region as the last call", ROLE_CONTIG,
			       "ns", "contig_alloc: %s", strerror(errno));
		contig_free(a);
		contig_free(b);
		return;
	}
	for (unsigned i = 0; i < 64; i++)
		off[i] = ((size_t)i * 104729u) % HUGE_2M;
	for (unsigned k = 0; k < nb; k++) {
		uint64_t t0 = now_ns(), acc = 0;
		for (unsigned i = 0; i < batch; i++)
			acc += contig_phys_addr(a + off[i & 63]);
		samples_add(&hot, (double)(now_ns() - t0) / batch);
		bench_sink += acc;
	}
	for (unsigned k = 0; k < nb; k++) {
		uint64_t t0 = now_ns(), acc = 0;
		for (unsigned i = 0; i < batch; i++)
			acc += contig_phys_addr((i & 1 ? b : a) + off[i & 63]);
		samples_add(&alt, (double)(now_ns() - t0) / batch);
		bench_sink += acc;
	}
	result_samples(G_V2P, "contig_phys_addr, same region as the last call", ROLE_CONTIG, "ns",
		       &hot, "per call, batches of %u", batch);
	result_samples(G_V2P, "contig_phys_addr, alternating between 2 regions", ROLE_INFO, "ns",
		       &alt, "every call misses the per-thread cache: lock + search");
	samples_free(&hot);
	samples_free(&alt);
	contig_free(a);
	contig_free(b);
}

/* ---- a new process's first region ---- */

/* fork+exec the tiny client with arg (NULL, "--noop" or "--floor"); its
 * two times and ours. */
static int run_first(const struct run_cfg *cfg, const char *arg, const char *arg2,
		     uint64_t *ret_fork, uint64_t *ret_main, uint64_t *ret_region, uint64_t *ret_end)
{
	char *argv[] = { (char *)cfg->first_client, (char *)arg, (char *)arg2, NULL };
	char buf[128];
	int st = spawn_capture(argv, buf, sizeof(buf), ret_fork);

	if (st < 0)
		return st;
	*ret_end = now_ns();
	if (st != 0 || sscanf(buf, "%" SCNu64 " %" SCNu64, ret_main, ret_region) != 2)
		return -EPROTO;
	return 0;
}

static void first_figure(const struct run_cfg *cfg)
{
	struct samples inside = { 0 }, to_main = { 0 }, whole = { 0 }, noop = { 0 }, floor = { 0 };
	unsigned n = cfg->smoke ? 3 : 40;
	uint64_t tf, tm, tr, te;
	char path[100];
	pid_t srv;

	snprintf(path, sizeof(path), "%s/first-floor.sock", cfg->tmpdir);
	srv = ipc_server_start(path);
	/* Interleaved, so that drifting load hits all three alike. */
	for (unsigned i = 0; i < n; i++) {
		if (srv > 0 && run_first(cfg, "--floor", path, &tf, &tm, &tr, &te) == 0)
			samples_add(&floor, (double)(tr - tm) / 1e3);
		if (run_first(cfg, "--noop", NULL, &tf, &tm, &tr, &te) == 0)
			samples_add(&noop, (double)(te - tf) / 1e3);
		wait_free(0, 10000);
		if (run_first(cfg, NULL, NULL, &tf, &tm, &tr, &te) < 0)
			continue;
		samples_add(&inside, (double)(tr - tm) / 1e3);
		samples_add(&to_main, (double)(tm - tf) / 1e3);
		samples_add(&whole, (double)(te - tf) / 1e3);
	}
	if (srv > 0)
		ipc_server_stop(srv, path);
	result_samples(G_FIRST, "the same trip against the IPC floor server, fresh process",
		       ROLE_FLOOR, "µs", &floor,
		       "connect + bare round trip + round trip with 1 memfd + mmap, plain syscalls");
	result_samples(G_FIRST, "contig: main() → contig_alloc(2 MiB) returned", ROLE_CONTIG, "µs",
		       &inside, "connect + HELLO + ALLOC + mmap, in a fresh process");
	result_samples(G_FIRST, "contig client: fork → main()", ROLE_INFO, "µs", &to_main,
		       "fork + exec + ld.so + libcontig, before the figure above");
	result_samples(G_FIRSTEXEC, "fork + exec + exit + wait of the same client doing nothing",
		       ROLE_FLOOR, "µs", &noop, "contig-bench-first --noop");
	result_samples(G_FIRSTEXEC, "contig: fork + exec + first region + exit + wait", ROLE_CONTIG,
		       "µs", &whole, NULL);
	samples_free(&inside);
	samples_free(&to_main);
	samples_free(&whole);
	samples_free(&noop);
	samples_free(&floor);
}

/* ---- a request to an idle daemon ---- */

static void rtt_figure(const struct run_cfg *cfg)
{
	struct samples s = { 0 };
	uint64_t end = now_ns() + (uint64_t)((cfg->smoke ? 0.3 : 12.0) * 1e9), worst = 0;
	struct contig_pool_info info;

	/* Longer than the daemon's 10 s audit period, so that it shows. */
	while (now_ns() < end) {
		uint64_t t0 = now_ns(), d;
		memset(&info, 0, sizeof(info));
		if (contig_query(&info) < 0)
			break;
		d = now_ns() - t0;
		if (d > worst)
			worst = d;
		samples_add(&s, (double)d / 1e3);
	}
	result_samples(G_RTT, "contig: contig_query", ROLE_CONTIG, "µs", &s,
		       "worst %.0f µs in %.1f s", (double)worst / 1e3, cfg->smoke ? 0.3 : 12.0);
	samples_free(&s);
}

/* ---- reclaim ---- */

/* Free bytes worth of pages at once and time until the pool has them all
 * back: one region of that size, or (when the pool has no run that long
 * any more) as many 2 MiB regions freed one after the other. */
static int reclaim_once(size_t bytes, bool split, uint64_t *ret_free_ns, uint64_t *ret_back_ns,
			uint64_t *ret_from_call_ns)
{
	size_t n = split ? bytes / HUGE_2M : 1, got = 0;
	uint8_t *r[64];
	uint64_t t0, t1, t2;

	for (; got < n && got < 64; got++) {
		r[got] = contig_alloc(split ? HUGE_2M : bytes, CONTIG_MAX_ADDRESS);
		if (!r[got])
			break;
		touch(r[got], split ? HUGE_2M : bytes);
	}
	if (got < n) {
		while (got)
			contig_free(r[--got]);
		return -ENOMEM;
	}
	t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		contig_free(r[i]);
	t1 = now_ns();
	if (!wait_free(0, 60000))
		return -ETIMEDOUT;
	t2 = now_ns();
	*ret_free_ns = t1 - t0;
	*ret_back_ns = t2 - t1;
	*ret_from_call_ns = t2 - t0;
	return 0;
}

static void reclaim_figure(const struct run_cfg *cfg)
{
	struct samples rate = { 0 }, rate_call = { 0 }, freecall = { 0 };
	unsigned n = cfg->smoke ? 2 : 10;
	size_t bytes = cfg->large_bytes;
	double pages = (double)(bytes / HUGE_2M);
	bool split = false;
	char who[128];

	for (unsigned i = 0; i < n; i++) {
		uint64_t f, b, c;

		wait_free(0, 10000);
		if (reclaim_once(bytes, split, &f, &b, &c) == -ENOMEM && !split) {
			split = true;
			if (reclaim_once(bytes, split, &f, &b, &c) < 0)
				continue;
		}
		samples_add(&rate, pages / ((double)b / 1e9));
		samples_add(&rate_call, pages / ((double)c / 1e9));
		samples_add(&freecall, (double)f / 1e3);
	}
	double fm, fp;
	samples_summary(&freecall, &fm, &fp);
	snprintf(who, sizeof(who), "%s: a region freed, pages/s until all are free again",
		 mode_label);
	result_samples(G_RECLAIM, who, mode_role, "pages/s", &rate,
		       "%.0f MiB%s; counted from contig_free's return; contig_free took %.0f µs",
		       (double)bytes / MIB,
		       split ? " (as 2 MiB regions: no run that long was left in the pool)" : "",
		       fm);
	snprintf(who, sizeof(who), "%s: the same counted from the contig_free call", mode_label);
	result_samples(G_RECLAIM, who, ROLE_INFO, "pages/s", &rate_call, NULL);
	samples_free(&rate);
	samples_free(&rate_call);
	samples_free(&freecall);
}

/* ---- concurrency ---- */

#define CONC_MAX_SAMPLES 20000

struct conc_shared {
	uint64_t deadline;
	unsigned count[64];
	unsigned fails[64];
	float lat[64][CONC_MAX_SAMPLES];
};

static void conc_child(struct conc_shared *sh, unsigned k, int ready_fd, int go_fd)
{
	struct contig_pool_info info = { 0 };
	char c = 0;

	contig_query(&info); /* connect before the start line */
	(void)!write(ready_fd, &c, 1);
	(void)!read(go_fd, &c, 1); /* returns 0 when the parent closes it */
	while (now_ns() < sh->deadline) {
		uint64_t t0 = now_ns();
		uint8_t *p = contig_alloc(HUGE_2M, CONTIG_MAX_ADDRESS);
		if (!p) {
			sh->fails[k]++;
			continue;
		}
		touch(p, HUGE_2M);
		contig_free(p);
		if (sh->count[k] < CONC_MAX_SAMPLES)
			sh->lat[k][sh->count[k]] = (float)((double)(now_ns() - t0) / 1e3);
		sh->count[k]++;
	}
	_exit(0);
}

/* stash_off: the children run with CONTIG_STASH=0 (every operation a trip
 * to the daemon), an informational row beside the default. */
static void conc_figure(const struct run_cfg *cfg, unsigned nproc, const char *group, bool stash_off)
{
	struct conc_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2], go[2];
	pid_t pids[64];
	unsigned started = 0, ops = 0, fails = 0;
	struct samples s = { 0 };
	char who[96], c;
	uint64_t t0, t1;

	enum role role = stash_off ? ROLE_INFO : mode_role;
	const char *variant = stash_off ? ", CONTIG_STASH=0" : "";

	snprintf(who, sizeof(who), "%s%s: %u processes, per alloc+touch+free", mode_label, variant,
		 nproc);
	if (sh == MAP_FAILED || pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		result_missing(group, who, role, "µs", "set-up: %s", strerror(errno));
		return;
	}
	wait_free(0, 10000);
	/* The children read it at their first call; this process decided long ago. */
	if (stash_off)
		setenv("CONTIG_STASH", "0", 1);
	for (unsigned k = 0; k < nproc; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			close(ready[0]);
			close(go[1]);
			conc_child(sh, k, ready[1], go[0]);
		}
		if (pids[k] < 0)
			break;
		started++;
	}
	unsetenv("CONTIG_STASH");
	close(ready[1]);
	close(go[0]);
	for (unsigned k = 0; k < started; k++)
		(void)!read(ready[0], &c, 1);
	t0 = now_ns();
	sh->deadline = t0 + (uint64_t)(cfg->conc_seconds * 1e9);
	close(go[1]);
	for (unsigned k = 0; k < started; k++)
		waitpid(pids[k], NULL, 0);
	t1 = now_ns();
	close(ready[0]);
	for (unsigned k = 0; k < started; k++) {
		unsigned m = sh->count[k] < CONC_MAX_SAMPLES ? sh->count[k] : CONC_MAX_SAMPLES;
		for (unsigned i = 0; i < m; i++)
			samples_add(&s, sh->lat[k][i]);
		ops += sh->count[k];
		fails += sh->fails[k];
	}
	double med, p99;
	samples_summary(&s, &med, &p99);
	result_samples(group, who, role, "µs", &s, "p99 = %.1f × median; %u failed",
		       med > 0 ? p99 / med : 0, fails);
	snprintf(who, sizeof(who), "%s%s: %u processes, aggregate", mode_label, variant, nproc);
	result_value(G_CONCOPS, who, ROLE_INFO, "ops/s",
		     (double)ops / ((double)(t1 - t0) / 1e9), started == nproc ? 1 : 0,
		     "%u pairs in %.2f s", ops, (double)(t1 - t0) / 1e9);
	samples_free(&s);
	munmap(sh, sizeof(*sh));
}

/* ---- fragmentation ---- */

/* One number from `contigctl --socket S CMD --json`: "key":N. */
static int ctl_json(const struct run_cfg *cfg, const char *cmd, const char *key, uint64_t *ret)
{
	char buf[8192], needle[64];
	const char *p;

	if (contigctl_json(cfg, daemon_main.sock, cmd, buf, sizeof(buf)) < 0)
		return -ECHILD;
	snprintf(needle, sizeof(needle), "\"%s\":", key);
	p = strstr(buf, needle);
	if (!p)
		return -ENOENT;
	*ret = strtoull(p + strlen(needle), NULL, 10);
	return 0;
}

struct frag_ctx {
	uint64_t largest_query, free_query;
};

static void *frag_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return contig_alloc(bytes, CONTIG_MAX_ADDRESS);
}

static void frag_free(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	(void)bytes;
	contig_free(p);
}

static void frag_settle(void *ctx, uint64_t held)
{
	(void)ctx;
	wait_free(held, 60000);
}

static void frag_at_end(void *ctx)
{
	struct frag_ctx *f = ctx;
	struct contig_pool_info info = { 0 };

	if (contig_query(&info) == 0) {
		f->largest_query = info.largest_free_run;
		f->free_query = info.free_bytes;
	}
}

static void frag_figure(const struct run_cfg *cfg)
{
	struct frag_ctx fc = { 0 };
	struct frag_ops ops = { .ctx = &fc, .alloc = frag_alloc, .free = frag_free,
				.settle = frag_settle, .at_end = frag_at_end };
	struct frag_result r;
	uint64_t runs0 = 0, largest0 = 0, moved0 = 0, runs1 = 0, moved1 = 0;
	int ctl;

	char who[128], start[96];

	contigd_log_runs(&daemon_main, start, sizeof(start));
	wait_free(0, 10000);
	ctl = ctl_json(cfg, "status", "runs", &runs0);
	ctl |= ctl_json(cfg, "status", "largest_free_run", &largest0);
	ctl |= ctl_json(cfg, "stats", "phys_changed", &moved0);
	if (frag_run(&ops, cfg->pool_bytes, 0.8, cfg->frag_ops, 42, &r) < 0) {
		result_missing(G_FRAG_FAIL, mode_label, mode_role, "%", "out of memory");
		return;
	}
	result_value(G_FRAG_FAIL, mode_label, mode_role, "%",
		     r.allocs ? 100.0 * r.fails_room / r.allocs : 0, 1,
		     "%u of %u allocations failed (%u in all); %u ops in %.1f s", r.fails_room,
		     r.allocs, r.fails, r.ops, r.seconds);
	snprintf(who, sizeof(who), "%s: largest allocation that succeeded", mode_label);
	result_value(G_FRAG_RUN, who, mode_role, "MiB", (double)r.largest_probe / MIB, 1,
		     "bisection with whole pages, %" PRIu64 " MiB held", r.held_end / MIB);
	snprintf(who, sizeof(who), "%s: largest_free_run from contig_query", mode_label);
	result_value(G_FRAG_RUN, who, ROLE_INFO, "MiB", (double)fc.largest_query / MIB, 1,
		     "free %" PRIu64 " MiB at that moment", fc.free_query / MIB);
	wait_free(0, 60000);
	ctl |= ctl_json(cfg, "status", "runs", &runs1);
	ctl |= ctl_json(cfg, "stats", "phys_changed", &moved1);
	snprintf(who, sizeof(who), "%s: the pool's largest run before the workload", mode_label);
	if (ctl == 0)
		result_value(G_FRAG_RUN, who, ROLE_INFO, "MiB", (double)largest0 / MIB, 1,
			     "a fresh daemon (%s); %" PRIu64 " runs before, %" PRIu64
			     " after; %" PRIu64 " reclaimed pages came back at another address",
			     start, runs0, runs1, moved1 - moved0);
	else
		result_missing(G_FRAG_RUN, who, ROLE_INFO, "MiB", "contigctl %s --json failed",
			       cfg->contigctl);
}

/* ---- start-up and memory ---- */

int contig_ready_once(const struct run_cfg *cfg, const char *config, struct ready_once *ret)
{
	struct contigd d;
	int r;

	r = contigd_start(cfg, &d, "contigd-ready", (uint64_t)cfg->ready_pages * HUGE_2M, config);
	if (r < 0)
		return r;
	ret->ready_ms = (double)(d.t_ready - d.t_spawn) / 1e6;
	ret->pinned_ms = (double)contigd_pinned_ms(&d);
	contigd_log_runs(&d, ret->runs, sizeof(ret->runs));
	/* Without oversampling no repair runs: do not wait for one. */
	ret->repair_ms = config && strstr(config, "oversample = 0")
				 ? -1
				 : contigd_wait_repair(&d, ret->repair, sizeof(ret->repair), 10000);
	sleep_us(100000);
	ret->rss_kb = proc_status_kb(d.pid, "VmRSS");
	ret->huge_kb = proc_status_kb(d.pid, "HugetlbPages");
	if (contigd_stop(&d) != 0)
		fprintf(stderr, "contig-bench: contigd did not exit 0 on SIGTERM\n");
	return 0;
}

static void rss_figure(const struct run_cfg *cfg)
{
	long rss = proc_status_kb(daemon_main.pid, "VmRSS");
	long anon = proc_status_kb(daemon_main.pid, "RssAnon");
	long huge = proc_status_kb(daemon_main.pid, "HugetlbPages");
	uint64_t pages = cfg->pool_bytes / HUGE_2M;
	char who[96];

	snprintf(who, sizeof(who), "contig: contigd with %" PRIu64 " pages", pages);
	if (rss < 0) {
		result_missing(G_RSS, who, ROLE_CONTIG, "MiB", "no /proc/%d/status",
			       (int)daemon_main.pid);
		return;
	}
	result_value(G_RSS, who, ROLE_CONTIG, "MiB", rss / 1024.0, 1,
		     "RssAnon %ld KiB; budget 8 MiB + 64 B/page = %.2f MiB; hugetlb mapped %ld MiB "
		     "(not in RSS)",
		     anon, 8 + pages * 64.0 / MIB, huge / 1024);
}

/* libcontig settings from the environment, "NAME=VALUE[ NAME=VALUE...]"
 * (CONTIG_CARVE=0: whole pool pages even for small regions, the escape
 * hatch; CONTIG_STASH=0: every free straight back to the daemon):
 * libcontig reads them once per process, so the loop runs in a child (a
 * fork re-reads them) and sends its samples back through a pipe. */
static void env_figure(const char *group, size_t bytes, bool do_touch, unsigned n, const char *env)
{
	const char *what = do_touch ? "contig_alloc + touch + contig_free" :
				      "contig_alloc + contig_free";
	struct af_samples s;
	int fds[2];
	pid_t pid;
	char who[160];

	if (pipe(fds) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char buf[128], *save = NULL;
		close(fds[0]);
		snprintf(buf, sizeof(buf), "%s", env);
		for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
			if (putenv(kv) != 0)
				_exit(1);
		af_loop(bytes, do_touch, n, false, &s);
		for (size_t i = 0; i < s.all.n; i++) {
			double t[3] = { s.all.v[i], s.alloc.v[i], s.free.v[i] };
			if (write(fds[1], t, sizeof(t)) != sizeof(t))
				_exit(1);
		}
		_exit(s.fails ? 2 : 0);
	}
	close(fds[1]);
	memset(&s, 0, sizeof(s));
	double t[3];
	while (pid > 0 && read(fds[0], t, sizeof(t)) == sizeof(t)) {
		samples_add(&s.all, t[0]);
		samples_add(&s.alloc, t[1]);
		samples_add(&s.free, t[2]);
	}
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	snprintf(who, sizeof(who), "%s, %s: %s, back to back", mode_label, env, what);
	af_report(group, who, ROLE_INFO, bytes, &s);
	af_free_samples(&s);
	wait_free(0, 10000);
}

/* The figures that depend on how the daemon treats freed pages. */
static void churn_figures(const struct run_cfg *cfg)
{
	unsigned n = cfg->iters;

	/* First, while the pool is as the daemon made it: a long run. */
	reclaim_figure(cfg);
	af_figure(cfg, G_ALLOC64M, cfg->large_bytes, true, n / 10 + 3);
	env_figure(G_ALLOC64M, cfg->large_bytes, true, n / 10 + 3, "CONTIG_STASH=0");
	/* Small regions are carved by default; CONTIG_CARVE=0 gives each a
	 * whole pool page (from the stash back to back; with CONTIG_STASH=0
	 * too, a daemon trip each). */
	af_figure(cfg, G_SMALL4K, 4096, false, n);
	env_figure(G_SMALL4K, 4096, false, n, "CONTIG_CARVE=0");
	env_figure(G_SMALL4K, 4096, false, n, "CONTIG_CARVE=0 CONTIG_STASH=0");
	af_figure(cfg, G_SMALL64K, 64 * 1024, false, n);
	env_figure(G_SMALL64K, 64 * 1024, false, n, "CONTIG_CARVE=0");
	env_figure(G_SMALL64K, 64 * 1024, false, n, "CONTIG_CARVE=0 CONTIG_STASH=0");
	af_figure(cfg, G_ALLOC2M, HUGE_2M, true, n);
	env_figure(G_ALLOC2M, HUGE_2M, true, n, "CONTIG_STASH=0");
	for (int off = 0; off < 2; off++) {
		conc_figure(cfg, 2, G_CONC2, off);
		conc_figure(cfg, 8, G_CONC8, off);
		conc_figure(cfg, 64, G_CONC64, off);
	}
}

static int daemon_up(const struct run_cfg *cfg, const char *config)
{
	hugepages_ensure((long)(cfg->pool_bytes / HUGE_2M) + 16);
	if (contigd_start(cfg, &daemon_main, "contigd", cfg->pool_bytes, config) < 0)
		return -1;
	/* libcontig reads it at every (re)connect: the old daemon's session
	 * died with it and the next call opens one with this daemon. */
	setenv("CONTIG_SOCKET", daemon_main.sock, 1);
	/* Measure the pool as it serves for good: after the background repair
	 * (the oversampling of the start-up, which DPDK does before returning). */
	char line[256];
	(void)contigd_wait_repair(&daemon_main, line, sizeof(line), 20000);
	wait_free(0, 10000);
	return 0;
}

static void daemon_down(void)
{
	int st = contigd_stop(&daemon_main);

	if (st != 0)
		fprintf(stderr, "contig-bench: contigd exited %d on SIGTERM\n", st);
}

void contig_frag_run(const struct run_cfg *cfg, bool zero_in_place)
{
	mode_label = zero_in_place ? "contig zero-in-place" : "contig";
	mode_role = zero_in_place ? ROLE_INFO : ROLE_CONTIG;
	if (daemon_up(cfg, zero_in_place ? "zero-in-place = yes\n" : NULL) < 0) {
		result_missing(G_FRAG_FAIL, mode_label, mode_role, "%", "contigd did not start");
	} else {
		frag_figure(cfg);
		daemon_down();
	}
	mode_label = "contig";
	mode_role = ROLE_CONTIG;
}

void contig_figures_run(const struct run_cfg *cfg)
{
	/* The default configuration: freed pages are revoked (punched) and
	 * refaulted, so no client ever sees another's data. */
	mode_label = "contig";
	mode_role = ROLE_CONTIG;
	if (daemon_up(cfg, NULL) < 0) {
		result_missing(G_SMALL4K, "contig: contig_alloc + contig_free, back to back",
			       ROLE_CONTIG, "µs", "contigd did not start");
		return;
	}
	churn_figures(cfg);
	v2p_figure(cfg);
	rtt_figure(cfg);
	first_figure(cfg);
	sleep_us(200000);
	rss_figure(cfg);
	daemon_down();

	/* Trusted hosts: freed pages zeroed in place, not revoked. */
	mode_label = "contig zero-in-place";
	mode_role = ROLE_INFO;
	if (daemon_up(cfg, "zero-in-place = yes\n") < 0) {
		result_missing(G_SMALL4K, "contig zero-in-place: contig_alloc + contig_free, back to back",
			       ROLE_INFO, "µs", "contigd (zero-in-place = yes) did not start");
		return;
	}
	churn_figures(cfg);
	daemon_down();
	mode_label = "contig";
	mode_role = ROLE_CONTIG;
}
