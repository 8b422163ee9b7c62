/* SPDX-License-Identifier: MIT */
/*
 * carve.c - the page-granularity figures (issue 15), contig's side, and the
 * run that puts DPDK's beside them (see carve.h).
 *
 * contig runs against contigds of the benchmark's own: one on the run's
 * pool (cfg->pool_bytes) for the timed figures and the mix, one on a pool
 * of count_mb for the count, one of 1 GiB pages when the machine has them.
 * Every contig figure runs in a forked child, a fresh libcontig session
 * (fork children inherit no region, no lease, and read CONTIG_CARVE anew),
 * which streams its rows back through a pipe, as the DPDK helper does; so
 * each figure starts from no leased page, and the session whose bytes the
 * mix reads from `contigctl clients` is that child's alone.
 *
 * What carving does is not assumed: each row says whether the regions it
 * measured were carved (contig_region_info: mapped less than a pool page)
 * or whole pool pages (carving off, or a libcontig without it).
 */
#define _GNU_SOURCE
#include "carve.h"
#include "contigd_ctl.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYSFS_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/"

struct child {
	const struct run_cfg *cfg;
	const struct carve_params *p;
	const char *label;   /* "contig" or "contig CONTIG_CARVE=0" */
	enum role role;
	const char *sock;
	const char *count_group;
	size_t count_bytes;  /* the count figure's region size */
	uint64_t count_pool; /* and its pool's bytes (p->count_mb, or 2 GiB of 1 GiB pages) */
};

/* Run fn in a child whose rows come back through a pipe into the table;
 * carve_off: with CONTIG_CARVE=0. */
static int in_child(void (*fn)(const struct child *), const struct child *c, bool carve_off)
{
	int pfd[2], status;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		FILE *out = fdopen(pfd[1], "w");
		close(pfd[0]);
		if (!out)
			_exit(1);
		results_stream_to(out);
		if (carve_off)
			setenv("CONTIG_CARVE", "0", 1);
		fn(c);
		fflush(out);
		_exit(0);
	}
	close(pfd[1]);
	results_read_fd(pfd[0], NULL, NULL);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -ECHILD;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "contig-bench: carve figure child ended with status %d\n", status);
		return -ECHILD;
	}
	return 0;
}

static void *c_alloc(size_t n)
{
	return contig_alloc(n, CONTIG_MAX_ADDRESS);
}

static void c_free(void *p)
{
	contig_free(p);
}

/* "carved" / "whole pool pages" for a region of bytes, asked now. */
static const char *granularity(size_t bytes)
{
	struct contig_region_info ri = { 0 };
	void *p = c_alloc(bytes);
	const char *what = "allocation failed";

	if (p && contig_region_info(p, &ri) == 0)
		what = ri.mapped_bytes < ri.page_size ? "carved" : "whole pool pages";
	contig_free(p);
	return what;
}

/* ---- 1. alloc+touch+free ---- */

/* One round: p->runs runs of each loop at each size, a raw row each, on
 * CARVE_TIMED_CPU (this is a child: the pin goes with it). */
static void fig_af(const struct child *c)
{
	const struct carve_params *p = c->p;
	void **slot = calloc(p->ws, sizeof(*slot));

	carve_pin_timed();
	if (!slot)
		return;
	for (unsigned i = 0; i < CARVE_NSIZES; i++) {
		size_t bytes = carve_sizes[i];
		unsigned pairs = carve_pairs(p, bytes), fails = 0;
		const char *gran = granularity(bytes);
		uint64_t rng = 7;
		char who[96], note[96];

		for (unsigned k = 0; k < p->ws; k++) {
			slot[k] = c_alloc(bytes);
			if (slot[k])
				carve_touch(slot[k], bytes);
			else
				fails++;
		}
		carve_ws_loop(c_alloc, c_free, slot, p->ws, bytes, pairs / 10 + 1, &rng, &fails);
		snprintf(who, sizeof(who), "%s: contig_alloc + touch + contig_free, %u live",
			 c->label, p->ws);
		snprintf(note, sizeof(note), "%zu KiB, %s; CPU %d; %u pairs a run", bytes / 1024,
			 gran, CARVE_TIMED_CPU, pairs);
		for (unsigned r = 0; r < p->runs; r++) {
			double v = carve_ws_loop(c_alloc, c_free, slot, p->ws, bytes, pairs, &rng,
						 &fails);
			carve_raw(carve_group_ws[i], who, c->role, "ns", v, fails, note);
			fails = 0;
		}
		for (unsigned k = 0; k < p->ws; k++) {
			contig_free(slot[k]);
			slot[k] = NULL;
		}

		fails = 0;
		carve_b2b_loop(c_alloc, c_free, bytes, pairs / 10 + 1, &fails);
		fails = 0;
		snprintf(who, sizeof(who), "%s: contig_alloc + touch + contig_free, back to back",
			 c->label);
		for (unsigned r = 0; r < p->runs; r++) {
			double v = carve_b2b_loop(c_alloc, c_free, bytes, pairs, &fails);
			carve_raw(carve_group_b2b[i], who, c->role, "ns", v, fails, note);
			fails = 0;
		}
	}
	free(slot);
}

/* ---- 2. lookups on 16 mixed regions ---- */

static void fig_v2p16(const struct child *c)
{
	static uint32_t reg[CARVE_V2P_N], off[CARVE_V2P_N];
	static void *addr[CARVE_V2P_N];
	uint8_t *r[CARVE_V2P_REGIONS] = { 0 };
	unsigned carved = 0, bad = 0;
	const char *who = "contig: contig_phys_addr, interior bytes of 16 regions of 4 KiB–2 MiB";
	char raw[32], note[128];

	carve_pin_timed();
	for (unsigned i = 0; i < CARVE_V2P_REGIONS; i++) {
		struct contig_region_info ri = { 0 };
		r[i] = c_alloc(carve_v2p_sizes[i]);
		if (!r[i]) {
			result_missing(carve_raw_group(raw, G_CARVE_V2P16), who, c->role, "ns",
				       "contig_alloc(%zu): %s", carve_v2p_sizes[i], strerror(errno));
			goto out;
		}
		if (contig_region_info(r[i], &ri) == 0 && ri.mapped_bytes < ri.page_size)
			carved++;
	}
	carve_v2p_pattern(r, reg, off, addr);
	bad = carve_lookup_misses(contig_phys_addr, addr, CARVE_V2P_N, CONTIG_PHYS_INVALID);
	snprintf(note, sizeof(note), "%u of 16 regions carved; %u addresses had no physical address",
		 carved, bad);
	carve_lookup_rows(contig_phys_addr, addr, CARVE_V2P_N, c->p->batches, G_CARVE_V2P16, who,
			  c->role, note);
out:
	for (unsigned i = 0; i < CARVE_V2P_REGIONS; i++)
		contig_free(r[i]);
}

/* ---- 3. lookups among many live 4 KiB regions ---- */

static void fig_v2pmany(const struct child *c)
{
	unsigned want = c->p->many, got = 0, bad = 0, err = 0;
	uint8_t **r = calloc(want, sizeof(*r));
	void **addr = calloc(CARVE_MANY_N, sizeof(*addr));
	uint64_t t0;
	char who[128], raw[32], note[160];
	double alloc_s;

	carve_pin_timed();
	snprintf(who, sizeof(who), "contig: contig_phys_addr, %u live 4 KiB regions, random bytes",
		 want);
	if (!r || !addr)
		goto out;
	t0 = now_ns();
	for (; got < want; got++) {
		r[got] = c_alloc(4096);
		if (!r[got]) {
			err = (unsigned)errno;
			break;
		}
		r[got][0] = 1;
	}
	alloc_s = (double)(now_ns() - t0) / 1e9;
	if (got < want) {
		result_failed(carve_raw_group(raw, G_CARVE_V2PMANY), who, c->role, "ns", 1,
			      "only %u of %u regions of 4 KiB could be allocated: %s (%s)", got, want,
			      strerror((int)err), granularity(4096));
		goto out;
	}
	carve_many_pattern(r, want, addr);
	bad = carve_lookup_misses(contig_phys_addr, addr, CARVE_MANY_N, CONTIG_PHYS_INVALID);
	snprintf(note, sizeof(note),
		 "%s; %u without a physical address; the %u allocations took %.2f s",
		 granularity(4096), bad, want, alloc_s);
	carve_lookup_rows(contig_phys_addr, addr, CARVE_MANY_N, c->p->batches, G_CARVE_V2PMANY,
			  who, c->role, note);
out:
	for (unsigned i = 0; r && i < got; i++)
		contig_free(r[i]);
	free(r);
	free(addr);
}

/* ---- 4. threads ---- */

/*
 * 1 thread then 2, contig's loop and the floor's alternating run by run, so
 * that the machine's load (2 shared CPUs here) weighs on both alike. The
 * floor is the same two threads zeroing and touching a private 4 KiB with
 * no allocator: the scaling the machine itself allows at that moment. A
 * third pair of runs keeps one region live in each thread, so that its
 * page never empties: the difference is the cost of parking an emptied
 * page in the session's stash table and taking it back, on every pair.
 */
static void fig_threads(const struct child *c)
{
	const struct carve_thr_cfg plain = { .alloc = c_alloc, .release = c_free },
				   keep = { .alloc = c_alloc, .release = c_free, .keep = true },
				   machine = { 0 };
	struct carve_thr_samples sp = { 0 }, sk = { 0 }, sm = { 0 };
	unsigned long fails = 0, mfails = 0, kfails = 0;
	unsigned runs = c->p->thr_runs, ms = c->p->thr_ms;

	for (unsigned r = 0; r < runs; r++) {
		carve_thr_round(&plain, ms, &sp, &fails);
		carve_thr_round(&machine, ms, &sm, &mfails);
		carve_thr_round(&keep, ms, &sk, &kfails);
	}
	result_samples(G_CARVE_THREADS, "2 threads ÷ 1 thread, memset + touch of a private 4 KiB",
		       ROLE_FLOOR, "×", &sm.ratio,
		       "no allocator: what the machine allows; median of %u runs of %u ms", runs, ms);
	result_samples(G_CARVE_THREADS, "contig: 2 threads ÷ 1 thread, 4 KiB alloc+touch+free",
		       c->role, "×", &sp.ratio,
		       "%s; median of %u runs of %u ms each, 1 and 2 threads alternating; %lu "
		       "failed",
		       granularity(4096), runs, ms, fails);
	result_samples(G_CARVE_THREADS, "contig: the same, each thread keeping one more region live",
		       ROLE_INFO, "×", &sk.ratio,
		       "its page never empties, so it is never parked in the stash table nor taken "
		       "back; %lu failed",
		       kfails);
	result_samples(G_CARVE_THREADS, "contig: 1 thread", ROLE_INFO, "pairs/s", &sp.one, NULL);
	result_samples(G_CARVE_THREADS, "contig: 2 threads together", ROLE_INFO, "pairs/s", &sp.two,
		       "%ld CPUs online", sysconf(_SC_NPROCESSORS_ONLN));
	result_samples(G_CARVE_THREADS, "floor: 1 thread", ROLE_INFO, "ops/s", &sm.one, NULL);
	result_samples(G_CARVE_THREADS, "floor: 2 threads together", ROLE_INFO, "ops/s", &sm.two,
		       NULL);
	carve_thr_samples_free(&sp);
	carve_thr_samples_free(&sk);
	carve_thr_samples_free(&sm);
}

/* ---- 5. the random mix ---- */

/* This process's session in `contigctl clients --json`: its bytes (every
 * pool byte it holds: leased for carving, whole regions, stash) and of
 * them leased for carving (0 if the daemon does not say). */
static int ctl_held(const struct child *c, uint64_t *ret_bytes, uint64_t *ret_leased,
		    bool *ret_has_leased)
{
	char buf[65536], needle[48];
	const char *obj, *end, *k;

	if (contigctl_json(c->cfg, c->sock, "clients", buf, sizeof(buf)) < 0)
		return -ECHILD;
	snprintf(needle, sizeof(needle), "\"pid\":%d,", (int)getpid());
	obj = strstr(buf, needle);
	if (!obj)
		return -ENOENT;
	end = strchr(obj, '}');
	k = strstr(obj, "\"bytes\":");
	if (!k || (end && k > end))
		return -ENOENT;
	*ret_bytes = strtoull(k + 8, NULL, 10);
	k = strstr(obj, "\"carve_leased_bytes\":");
	*ret_has_leased = k && (!end || k < end);
	*ret_leased = *ret_has_leased ? strtoull(k + 21, NULL, 10) : 0;
	return 0;
}

struct mix_ctx {
	const struct child *c;
	uint64_t last_leased;
	bool has_leased, used_query;
};

static void *mix_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return c_alloc(bytes);
}

static void mix_free(void *ctx, void *p)
{
	(void)ctx;
	contig_free(p);
}

static int mix_held(void *ctx, uint64_t *ret)
{
	struct mix_ctx *m = ctx;
	struct contig_pool_info info = { 0 };
	uint64_t bytes, leased;

	if (ctl_held(m->c, &bytes, &leased, &m->has_leased) == 0) {
		m->last_leased = leased;
		*ret = m->has_leased && leased > bytes ? leased : bytes;
		return 0;
	}
	/* No contigctl answer: the pool's used bytes (nothing else runs). */
	if (contig_query(&info) < 0)
		return -errno;
	m->used_query = true;
	*ret = info.total_bytes - info.free_bytes;
	return 0;
}

static void fig_mix(const struct child *c)
{
	struct mix_ctx m = { .c = c };
	struct mix_ops ops = { .ctx = &m, .alloc = mix_alloc, .free = mix_free, .held = mix_held };
	struct mix_result r;
	const char *who = "contig: bytes in live regions ÷ bytes the process holds";
	double med, p99, hmed, hp99;

	if (mix_run(&ops, c->p, &r) < 0 || !r.ratio.n) {
		result_missing(G_CARVE_MIX, who, c->role, "ratio", "no sample of the bytes held");
		return;
	}
	double last = r.ratio.v[r.ratio.n - 1];
	char held[64];

	if (m.used_query)
		snprintf(held, sizeof(held), "pool total - free");
	else if (m.has_leased)
		snprintf(held, sizeof(held), "session bytes, %.0f MiB leased for carving at the end",
			 (double)m.last_leased / MIB);
	else
		snprintf(held, sizeof(held), "session bytes");
	samples_summary(&r.ratio, &med, &p99);
	samples_summary(&r.held, &hmed, &hp99);
	result_samples(G_CARVE_MIX, who, c->role, "ratio", &r.ratio,
		       "min %.2f, end %.2f; held = %s, median %.0f MiB; %s; %u ops, %u failed",
		       r.ratio.v[0], last, held, hmed / MIB, granularity(64 * 1024), r.ops, r.fails);
	mix_result_free(&r);
}

/* ---- 6. regions live at once ---- */

static void fig_count(const struct child *c)
{
	unsigned cap = c->p->count_cap, got = 0;
	size_t bytes = c->count_bytes;
	void **r = calloc(cap, sizeof(*r));
	int err = 0;
	char who[128];
	uint64_t t0 = now_ns();
	const char *gran = granularity(bytes);

	snprintf(who, sizeof(who), "%s: %zu KiB regions live at once, one process", c->label,
		 bytes / 1024);
	if (!r) {
		result_missing(c->count_group, who, c->role, "regions", "calloc");
		return;
	}
	for (; got < cap; got++) {
		r[got] = c_alloc(bytes);
		if (!r[got]) {
			err = errno;
			break;
		}
		carve_touch(r[got], bytes);
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	result_value(c->count_group, who, c->role, "regions", got, 1,
		     "%s; %.1f%% of the pool in live regions; then %s; %.2f s to allocate them",
		     gran, 100.0 * (double)got * (double)bytes / (double)c->count_pool,
		     got == cap ? "the cap" : strerror(err), secs);
	for (unsigned i = 0; i < got; i++)
		contig_free(r[i]);
	free(r);
}

/* ---- the run ---- */

static int daemon_up(const struct run_cfg *cfg, struct contigd *d, const char *name,
		     uint64_t pool, const char *config)
{
	char line[256];

	if (!config)
		hugepages_ensure((long)(pool / HUGE_2M) + 16);
	if (contigd_start(cfg, d, name, pool, config) < 0)
		return -1;
	setenv("CONTIG_SOCKET", d->sock, 1);
	/* Measure the pool as it serves for good: after its start-up repair. */
	(void)contigd_wait_repair(d, line, sizeof(line), 20000);
	pool_wait_whole(10000, 200);
	return 0;
}

static void daemon_down(struct contigd *d)
{
	int st = contigd_stop(d);

	if (st != 0)
		fprintf(stderr, "contig-bench: contigd exited %d on SIGTERM\n", st);
}

static bool cpu_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	bool has = false;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5)) {
			char pat[40];
			snprintf(pat, sizeof(pat), " %s", flag);
			has = strstr(line, pat) != NULL;
			break;
		}
	if (f)
		fclose(f);
	return has;
}

/* Figure 6 with 1 GiB pages: 2 of them reserved by this run (and given
 * back), or a row that says why not. */
static void count_1g(const struct run_cfg *cfg, struct child *c)
{
	const char *who = "contig: 4 KiB regions live at once, 2 GiB pool of 1 GiB pages";
	long nr0, nr1, fr = hugepages_1g_reserve(2, &nr0, &nr1);
	struct contigd d;

	if (nr0 < 0) {
		result_missing(G_CARVE_COUNT1G, who, ROLE_CONTIG, "regions",
			       "this machine offers no 1 GiB hugepages (no %s; the CPU flag pdpe1gb "
			       "is %s)",
			       SYSFS_1G, cpu_flag("pdpe1gb") ? "there" : "absent");
	} else if (fr < 2) {
		result_missing(G_CARVE_COUNT1G, who, ROLE_CONTIG, "regions",
			       "only %ld free 1 GiB hugepages after raising nr_hugepages from %ld "
			       "to %ld (memory too fragmented)",
			       fr, nr0, nr1);
	} else if (daemon_up(cfg, &d, "contigd-carve-1g", 2048 * MIB, "page-size = 1G\n") < 0) {
		result_missing(G_CARVE_COUNT1G, who, ROLE_CONTIG, "regions",
			       "contigd --page-size 1G --pool 2048M did not start");
	} else {
		struct child c1 = *c;
		c1.sock = d.sock;
		c1.count_group = G_CARVE_COUNT1G;
		c1.count_bytes = 4 * KIB;
		c1.count_pool = 2048 * MIB;
		c1.label = "contig";
		c1.role = ROLE_CONTIG;
		in_child(fig_count, &c1, false);
		daemon_down(&d);
	}
	hugepages_1g_restore(nr0, nr1);
}

/* DPDK legacy's heap for the mix: the smallest -m (whole 2 MiB pages) on
 * which the trace runs without a failed allocation, by bisection between
 * the trace's peak live bytes and the run's pool. 0 if none fits. */
static unsigned dpdk_mix_smallest(const struct run_cfg *cfg, const struct carve_params *p,
				  const char *spec)
{
	unsigned lo = (p->mix_mb / 5 * 4) / 2 * 2, hi = (unsigned)(cfg->pool_bytes / MIB), best = 0;
	char who[96];

	while (lo <= hi) {
		unsigned mid = (lo + hi) / 2 / 2 * 2;
		const struct result *r;

		if (mid < lo)
			mid = lo;
		dpdk_carve_helper(cfg, "DPDK legacy", true, mid, "carve-mix-probe", spec);
		snprintf(who, sizeof(who), "DPDK legacy -m %u: failed allocations of the trace", mid);
		r = result_find(G_CARVE_PROBE, who);
		if (r && r->n && r->median == 0) {
			best = mid;
			if (mid < 2 + lo)
				break;
			hi = mid - 2;
		} else {
			lo = mid + 2;
		}
	}
	return best;
}

/* The raw rows of the rounds, one row per figure: the median and p99 of
 * every run, the last run's note, how many runs in how many rounds, and the
 * failed allocations of all (for the alloc+touch+free loops). A figure with
 * no run keeps its first failure row. */
static void merge_rounds(unsigned rounds)
{
	struct result *raw;
	size_t n = results_take(CARVE_RAW, &raw);
	bool *done = calloc(n ? n : 1, sizeof(*done));
	size_t plen = strlen(CARVE_RAW);

	for (size_t i = 0; done && i < n; i++) {
		struct samples s = { 0 };
		const struct result *last = NULL, *fail = NULL;
		unsigned failed = 0;
		const char *group = raw[i].group + plen;
		bool af = false;

		if (done[i])
			continue;
		for (size_t j = i; j < n; j++) {
			if (done[j] || strcmp(raw[j].group, raw[i].group) || strcmp(raw[j].who, raw[i].who))
				continue;
			done[j] = true;
			if (raw[j].n) {
				samples_add(&s, raw[j].median);
				failed += raw[j].failed;
				last = &raw[j];
			} else if (!fail) {
				fail = &raw[j];
			}
		}
		for (unsigned k = 0; k < CARVE_NSIZES; k++)
			af |= !strcmp(group, carve_group_ws[k]) || !strcmp(group, carve_group_b2b[k]);
		if (last) {
			char tail[64] = "";
			if (af)
				snprintf(tail, sizeof(tail), "; %u failed", failed);
			result_samples(group, raw[i].who, raw[i].role, raw[i].unit, &s,
				       "%s; median of %zu runs in %u round%s%s", last->note, s.n,
				       rounds, rounds == 1 ? "" : "s", tail);
		} else if (fail && fail->failed) {
			result_failed(group, fail->who, fail->role, fail->unit, fail->failed, "%s",
				      fail->note);
		} else if (fail) {
			result_missing(group, fail->who, fail->role, fail->unit, "%s", fail->note);
		}
		samples_free(&s);
	}
	free(done);
	free(raw);
}

void carve_run(const struct run_cfg *cfg)
{
	struct carve_params p;
	struct contigd d;
	char spec[512];
	struct child c = { .cfg = cfg, .p = &p, .label = "contig", .role = ROLE_CONTIG,
			   .count_group = G_CARVE_COUNT };
	struct child off = c;
	unsigned pool_mb = (unsigned)(cfg->pool_bytes / MIB);

	carve_params_default(&p, cfg->smoke);
	carve_params_format(&p, spec, sizeof(spec));
	off.label = "contig CONTIG_CARVE=0";
	off.role = ROLE_INFO;

	/* Timed figures and the mix, on the run's pool; the timed ones in
	 * rounds, contig and DPDK taking turns (who goes first alternates). */
	if (daemon_up(cfg, &d, "contigd-carve", cfg->pool_bytes, NULL) < 0) {
		result_missing(G_CARVE_4K_WS, "contig: contigd", ROLE_CONTIG, "ns",
			       "contigd did not start");
	} else {
		c.sock = off.sock = d.sock;
		for (unsigned round = 0; round < p.rounds; round++) {
			bool dpdk_first = round % 2 == 1;

			fprintf(stderr, "contig-bench: carve: round %u of %u: alloc+touch+free, "
					"lookups\n",
				round + 1, p.rounds);
			if (dpdk_first && cfg->dpdk_helper[0])
				dpdk_carve_helper(cfg, "DPDK legacy", true, pool_mb, "carve", spec);
			in_child(fig_af, &c, false);
			pool_wait_whole(10000, 200);
			in_child(fig_af, &off, true);
			pool_wait_whole(10000, 200);
			in_child(fig_v2p16, &c, false);
			pool_wait_whole(10000, 200);
			in_child(fig_v2pmany, &c, false);
			pool_wait_whole(10000, 200);
			if (!dpdk_first && cfg->dpdk_helper[0])
				dpdk_carve_helper(cfg, "DPDK legacy", true, pool_mb, "carve", spec);
		}
		merge_rounds(p.rounds);
		fprintf(stderr, "contig-bench: carve: threads, mix\n");
		in_child(fig_threads, &c, false);
		pool_wait_whole(10000, 200);
		in_child(fig_mix, &c, false);
		daemon_down(&d);
	}
	/* Regions live at once from a pool of count_mb. */
	fprintf(stderr, "contig-bench: carve: regions live at once\n");
	if (daemon_up(cfg, &d, "contigd-carve-count", (uint64_t)p.count_mb * MIB, NULL) < 0) {
		result_missing(G_CARVE_COUNT, "contig: 4 KiB regions live at once, one process",
			       ROLE_CONTIG, "regions", "contigd did not start");
	} else {
		c.sock = off.sock = d.sock;
		for (unsigned i = 0; i < 2; i++) {
			c.count_group = off.count_group = i ? G_CARVE_COUNT64K : G_CARVE_COUNT;
			c.count_bytes = off.count_bytes = i ? 64 * KIB : 4 * KIB;
			c.count_pool = off.count_pool = (uint64_t)p.count_mb * MIB;
			in_child(fig_count, &c, false);
			pool_wait_whole(10000, 200);
			in_child(fig_count, &off, true);
			pool_wait_whole(10000, 200);
		}
		daemon_down(&d);
	}
	/* DPDK's other figures, each in its own helper process. */
	if (cfg->dpdk_helper[0]) {
		unsigned m;

		fprintf(stderr, "contig-bench: carve: DPDK threads, mix, count\n");
		dpdk_carve_helper(cfg, "DPDK legacy", true, pool_mb, "carve-threads", spec);
		m = dpdk_mix_smallest(cfg, &p, spec);
		if (m)
			dpdk_carve_helper(cfg, "DPDK legacy", true, m, "carve-mix", spec);
		else
			result_missing(G_CARVE_MIX, "DPDK legacy: heap allocated ÷ heap size",
				       ROLE_PEER, "ratio", "no -m up to %u runs the trace", pool_mb);
		dpdk_carve_helper(cfg, "DPDK dynamic", false, pool_mb, "carve-mix", spec);
		dpdk_carve_helper(cfg, "DPDK legacy", true, p.count_mb, "carve-count", spec);
	}

	count_1g(cfg, &c);
}
