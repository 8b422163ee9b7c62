/* SPDX-License-Identifier: MIT */
/*
 * scale_frag.c - fragmentation over time (issue 19, --only scale-frag): the
 * random workload of frag.c (the pool kept about 80% full by allocations
 * of 2..32 MiB and frees of a random live one, from a fixed seed) against
 * a contigd of its own, in bursts of work separated by idle gaps long
 * enough for contigd's idle repair (repair-idle) to run a round. Twice, on
 * the same schedule: repair-idle on, and off (0).
 *
 * Sampled from the daemon's page table (a LIST of PAGES, as tests/rawclient.c
 * reads it): the largest free run (contig_query's largest_free_run, the same
 * extent figure) and the pool's physically contiguous runs (contigctl
 * status's runs). Never during a gap: any request restarts the daemon's
 * idle clock, so the gap is left silent until its end.
 *
 * The bound, at the end of every gap (right after the round when one ran):
 * the longest physically contiguous run that the pool's free pages and the
 * kernel's free 2 MiB hugepages together could form, capped at the pool's
 * free pages (what one region could use: repair keeps as many frames as the
 * pool has free pages). The kernel's are found by faulting them into a
 * throwaway MAP_HUGETLB mapping, reading /proc/self/pagemap and unmapping
 * it; at most as many as a repair round faults (the pool times oversample),
 * so the bench holds no more of the machine's hugepages than contigd itself
 * does. A pool page being reclaimed owns no frame and is left out, so the
 * bound is read only once no reclaim is in flight.
 *
 * The schedule of the repair-off run is the repair-on run's: the same
 * bursts and the same gap lengths (a gap ends when its round was seen, or at
 * its longest), so the two curves line up.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "contigd_ctl.h"
#include "curve.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawclient.h"

#define SF_MAX_GAPS 256
#define SF_FILL 0.8
#define SF_SEED 42
#define SF_OVERSAMPLE 1
#define SYSFS_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/"

/* What a run does, and when. */
struct sf_plan {
	double seconds;   /* per configuration: bursts and gaps until this much passed */
	double burst_s;   /* work between two gaps */
	double sample_s;  /* a sample every this often during a burst */
	unsigned idle_s;  /* repair-idle */
	double gap_max_s; /* a gap without a round ends here */
	uint64_t pool_bytes;
};

/* One gap's end. */
struct sf_gap {
	double t;        /* when measured: seconds since the run's first burst */
	double length;   /* from the burst's end to the measurement */
	bool round;      /* an idle repair round was logged in it */
	unsigned looked, swapped; /* by that round: candidates faulted, pages exchanged */
	bool no_bound;   /* the kernel's free hugepages could not be read */
	uint32_t largest, bound, runs, free_pages, kernel_frames; /* pages; count */
};

struct sf_run {
	const char *label; /* "repair on" / "repair off" */
	struct sf_gap gap[SF_MAX_GAPS];
	unsigned ngaps;
	unsigned allocs, fails, fails_room, frees, samples;
	uint32_t runs_first, runs_last; /* at the first and the last sample */
};

/* ---- the workload (frag.c's, one step at a time, state kept between bursts) ---- */

struct sf_live {
	void *p;
	size_t bytes;
};

struct sf_work {
	uint64_t rng, held, target, total;
	struct sf_live *live;
	size_t nlive, cap;
};

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*, as frag.c: the same sequence on every machine. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static uint64_t pages_of(size_t bytes)
{
	return (bytes + HUGE_2M - 1) / HUGE_2M * HUGE_2M;
}

static int work_init(struct sf_work *w, uint64_t total)
{
	*w = (struct sf_work){ .rng = SF_SEED | 1, .total = total,
			       .target = (uint64_t)((double)total * SF_FILL),
			       .cap = total / (2 * MIB) + 1 };
	w->live = calloc(w->cap, sizeof(*w->live));
	return w->live ? 0 : -ENOMEM;
}

/* Wait until every page the workload does not hold is free (none still
 * in reclaim after its free), or until the deadline (CLOCK_MONOTONIC ns). */
static void settle(uint64_t held, uint64_t deadline)
{
	struct contig_pool_info info;

	do {
		memset(&info, 0, sizeof(info));
		if (contig_query(&info) < 0 || info.free_bytes + held >= info.total_bytes)
			return;
		sleep_us(1000);
	} while (now_ns() < deadline);
}

/* One operation; a wait for reclaim ends by deadline (the burst's end). */
static void work_step(struct sf_work *w, struct sf_run *run, uint64_t deadline)
{
	if (w->held < w->target || w->nlive == 0) {
		size_t bytes = (size_t)(2 + rng_next(&w->rng) % 31) * MIB;
		bool room = w->total - w->held >= pages_of(bytes);
		void *p = w->nlive < w->cap ? contig_alloc(bytes, CONTIG_MAX_ADDRESS) : NULL;

		/* Pages freed a moment ago may still be in reclaim: wait for
		 * them and try once more, so that a failure with room is one of
		 * contiguity, and the churn goes at the pace reclaim allows
		 * rather than spinning on refusals. */
		if (!p && room && w->nlive < w->cap) {
			settle(w->held, deadline);
			p = contig_alloc(bytes, CONTIG_MAX_ADDRESS);
		}
		run->allocs++;
		if (!p) {
			run->fails++;
			run->fails_room += room;
			return;
		}
		w->live[w->nlive++] = (struct sf_live){ p, bytes };
		w->held += pages_of(bytes);
	} else {
		size_t k = (size_t)(rng_next(&w->rng) % w->nlive);

		contig_free(w->live[k].p);
		w->held -= pages_of(w->live[k].bytes);
		w->live[k] = w->live[--w->nlive];
		run->frees++;
	}
}

static void work_end(struct sf_work *w)
{
	while (w->nlive)
		contig_free(w->live[--w->nlive].p);
	free(w->live);
	w->live = NULL;
}

/* ---- the pool's layout ---- */

struct sf_frame {
	uint64_t phys;
	int32_t node;
};

static int cmp_frame(const void *a, const void *b)
{
	const struct sf_frame *x = a, *y = b;

	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

static bool follows(const struct sf_frame *prev, const struct sf_frame *f)
{
	return f->phys == prev->phys + HUGE_2M && f->node == prev->node;
}

/* Longest run of frames (sorted; a frame listed twice counts once). */
static uint32_t longest_run(const struct sf_frame *f, size_t n)
{
	uint32_t best = 0, len = 0;

	for (size_t k = 0; k < n; k++) {
		if (k && f[k].phys == f[k - 1].phys)
			continue;
		len = k && follows(&f[k - 1], &f[k]) ? len + 1 : 1;
		if (len > best)
			best = len;
	}
	return best;
}

struct sf_layout {
	struct sf_frame *free; /* the FREE pages' frames, sorted */
	uint32_t nfree, largest, runs, reclaiming;
};

static void layout_free(struct sf_layout *l)
{
	free(l->free);
	l->free = NULL;
}

/* The pool's pages as the daemon lists them: its free frames, the largest
 * free run and the runs of the pages that own a frame. 0 or -errno. */
static int layout_read(const char *sock, struct sf_layout *ret)
{
	struct raw_page *pg = NULL;
	struct sf_frame *owned = NULL;
	struct sf_layout l = { 0 };
	size_t nowned = 0;
	int n = raw_pages(sock, &pg), r = 0;

	if (n < 0)
		return n;
	owned = calloc((size_t)n + 1, sizeof(*owned));
	l.free = calloc((size_t)n + 1, sizeof(*l.free));
	if (!owned || !l.free) {
		r = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct sf_frame f = { pg[i].phys, pg[i].node };

		/* A page being reclaimed (or lost) owns no frame: its address
		 * is the one it had. */
		if (pg[i].state == PROTO_PAGE_RECLAIMING || pg[i].state == PROTO_PAGE_LOST) {
			l.reclaiming++;
			continue;
		}
		owned[nowned++] = f;
		if (pg[i].state == PROTO_PAGE_FREE)
			l.free[l.nfree++] = f;
	}
	qsort(owned, nowned, sizeof(*owned), cmp_frame);
	qsort(l.free, l.nfree, sizeof(*l.free), cmp_frame);
	for (size_t k = 0; k < nowned; k++)
		l.runs += !k || !follows(&owned[k - 1], &owned[k]);
	l.largest = longest_run(l.free, l.nfree);
	*ret = l;
	l.free = NULL;
out:
	free(l.free);
	free(owned);
	free(pg);
	return r;
}

static long sysfs_2m(const char *file)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS_2M "%s", file);
	return file_long(path);
}

/* Up to max of the kernel's free 2 MiB hugepages: faulted into a
 * throwaway mapping, their frames read from the pagemap (and their nodes
 * from move_pages), then given back. Frames appended at out (room for
 * max); how many, or -errno. */
static long kernel_free_frames(long max, struct sf_frame *out)
{
	long n = sysfs_2m("free_hugepages") - sysfs_2m("resv_hugepages"), got = 0;
	uint8_t *map = MAP_FAILED;
	void **addr = NULL;
	int *node = NULL, fd = -1;

	if (n > max)
		n = max;
	/* Another process may take some between the count and the mmap. */
	for (int tries = 0; n > 0 && tries < 4; tries++, n /= 2) {
		map = mmap(NULL, (size_t)n * HUGE_2M, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		if (map != MAP_FAILED)
			break;
		if (errno != ENOMEM)
			return -errno;
	}
	if (map == MAP_FAILED)
		return 0;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	addr = calloc((size_t)n, sizeof(*addr));
	node = calloc((size_t)n, sizeof(*node));
	if (fd < 0 || !addr || !node) {
		got = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (long i = 0; i < n; i++)
		addr[i] = map + (size_t)i * HUGE_2M;
	/* Nodes: 0 for all where move_pages cannot say (one node). */
	if (syscall(SYS_move_pages, 0, (unsigned long)n, addr, NULL, node, 0) != 0)
		memset(node, 0, (size_t)n * sizeof(*node));
	for (long i = 0; i < n; i++) {
		uint64_t e;
		off_t off = (off_t)((uintptr_t)addr[i] / 4096 * 8);

		if (pread(fd, &e, sizeof(e), off) != sizeof(e))
			continue;
		/* Bit 63: present; bits 0-54: the PFN (root only). */
		if (!(e >> 63) || !(e & ((1ull << 55) - 1)))
			continue;
		out[got++] = (struct sf_frame){ (e & ((1ull << 55) - 1)) * 4096,
						node[i] >= 0 ? node[i] : 0 };
	}
out:
	if (fd >= 0)
		close(fd);
	free(addr);
	free(node);
	munmap(map, (size_t)n * HUGE_2M);
	return got;
}

/* The longest run the pool's free frames and up to kmax of the kernel's
 * free hugepages could form, capped at the pool's free pages. */
static int bound_of(const struct sf_layout *l, long kmax, uint32_t *ret_bound,
		    uint32_t *ret_kernel)
{
	struct sf_frame *f = calloc((size_t)l->nfree + (size_t)kmax + 1, sizeof(*f));
	long nk;
	uint32_t run;

	if (!f)
		return -ENOMEM;
	memcpy(f, l->free, (size_t)l->nfree * sizeof(*f));
	nk = kernel_free_frames(kmax, f + l->nfree);
	if (nk < 0) {
		free(f);
		return (int)nk;
	}
	qsort(f, (size_t)l->nfree + (size_t)nk, sizeof(*f), cmp_frame);
	run = longest_run(f, (size_t)l->nfree + (size_t)nk);
	free(f);
	*ret_bound = run < l->nfree ? run : l->nfree;
	*ret_kernel = (uint32_t)nk;
	return 0;
}

/* ---- the daemon's log: its repair rounds ---- */

struct sf_log {
	FILE *f;
	unsigned rounds;   /* "repair: looked at" lines so far */
	unsigned looked, swapped; /* of the last one */
};

/* Read what the log gained since the last call; a line not yet finished
 * is read again next time. */
static void log_poll(struct sf_log *lg, const char *path)
{
	char line[1024];

	if (!lg->f)
		lg->f = fopen(path, "re");
	if (!lg->f)
		return;
	for (;;) {
		long at = ftell(lg->f);
		const char *p;

		if (!fgets(line, sizeof(line), lg->f)) {
			clearerr(lg->f);
			return;
		}
		if (!strchr(line, '\n')) {
			fseek(lg->f, at, SEEK_SET);
			clearerr(lg->f);
			return;
		}
		p = strstr(line, "repair: looked at ");
		if (!p)
			continue;
		lg->rounds++;
		lg->looked = (unsigned)strtoul(p + 18, NULL, 10);
		p = strstr(p, "swapped ");
		lg->swapped = p ? (unsigned)strtoul(p + 8, NULL, 10) : 0;
	}
}

/* ---- one configuration ---- */

static double since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

struct sf_curves {
	struct curve largest, runs;
	unsigned col; /* this run's series */
};

static void add_point(struct sf_curves *c, double t, const struct sf_layout *l, double bound)
{
	double yl[4] = { NAN, NAN, NAN, NAN }, yr[2] = { NAN, NAN };

	yl[c->col] = (double)l->largest * HUGE_2M / MIB;
	yl[2 + c->col] = bound;
	yr[c->col] = l->runs;
	curve_point(&c->largest, t, yl);
	curve_point(&c->runs, t, yr);
}

/* Wait (up to 5 s) until no reclaim is in flight, so that every pool page
 * owns its frame; the layout then. */
static int layout_settled(const char *sock, struct sf_layout *ret)
{
	uint64_t t0 = now_ns();
	int r;

	for (;;) {
		r = layout_read(sock, ret);
		if (r < 0 || !ret->reclaiming || since(t0) > 5)
			return r;
		layout_free(ret);
		sleep_us(20000);
	}
}

/*
 * One configuration on a fresh contigd. on: repair-idle = plan->idle_s, and
 * the gap lengths it used are written to sched; off: repair-idle = 0, and
 * the gaps are sched's (then gap_max_s past its end).
 */
static int run_config(const struct run_cfg *cfg, const struct sf_plan *plan, bool on,
		      double *sched, unsigned *nsched, struct sf_curves *cv, struct sf_run *run)
{
	long pool_pages = (long)(plan->pool_bytes / HUGE_2M);
	struct sf_log lg = { 0 };
	struct sf_work w = { 0 };
	struct contigd d;
	char conf[128], line[256];
	uint64_t t0;
	double t = 0;
	int r;

	snprintf(conf, sizeof(conf), "oversample = %u\nrepair-idle = %u\n", SF_OVERSAMPLE,
		 on ? plan->idle_s : 0);
	/* The pool, and as many spare hugepages for the repair's candidates. */
	hugepages_ensure(pool_pages * (1 + SF_OVERSAMPLE) + 16);
	r = contigd_start(cfg, &d, on ? "contigd-frag-on" : "contigd-frag-off", plan->pool_bytes,
			  conf);
	if (r < 0)
		return r;
	setenv("CONTIG_SOCKET", d.sock, 1);
	/* The start-up round first: the workload starts on the repaired pool. */
	(void)contigd_wait_repair(&d, line, sizeof(line), 20000);
	log_poll(&lg, d.log);
	r = work_init(&w, plan->pool_bytes);
	if (r < 0)
		goto out;
	t0 = now_ns();
	while (t < plan->seconds && run->ngaps < SF_MAX_GAPS) {
		double burst_end = t + plan->burst_s, next = t;
		struct sf_layout l;
		struct sf_gap *g = &run->gap[run->ngaps];
		double gap_len;
		unsigned rounds0;

		/* A burst: work, and a sample every sample_s (the last at its end). */
		for (;;) {
			double now = since(t0);
			bool last = now >= burst_end;

			if (now >= next || last) {
				if (layout_read(d.sock, &l) == 0) {
					add_point(cv, now, &l, NAN);
					if (!run->samples++)
						run->runs_first = l.runs;
					run->runs_last = l.runs;
					layout_free(&l);
				}
				/* After a slow step, the next slot: no catch-up burst. */
				while (next <= now)
					next += plan->sample_s;
			}
			if (last)
				break;
			work_step(&w, run, t0 + (uint64_t)(burst_end * 1e9));
		}
		/* The gap: silent until its round is logged (on) or its time is up. */
		t = since(t0);
		log_poll(&lg, d.log);
		rounds0 = lg.rounds;
		gap_len = !on && run->ngaps < *nsched ? sched[run->ngaps] : plan->gap_max_s;
		for (;;) {
			log_poll(&lg, d.log);
			if ((on && lg.rounds > rounds0) || since(t0) >= t + gap_len)
				break;
			sleep_us(20000);
		}
		g->round = lg.rounds > rounds0;
		g->looked = g->round ? lg.looked : 0;
		g->swapped = g->round ? lg.swapped : 0;
		g->length = since(t0) - t;
		if (on && *nsched < SF_MAX_GAPS)
			sched[(*nsched)++] = g->length;
		/* The bound, right after the round: nothing has moved since. */
		if (layout_settled(d.sock, &l) == 0) {
			g->no_bound = bound_of(&l, pool_pages * SF_OVERSAMPLE, &g->bound,
					       &g->kernel_frames) < 0;
			g->t = since(t0);
			g->largest = l.largest;
			g->runs = l.runs;
			g->free_pages = l.nfree;
			add_point(cv, g->t, &l, g->no_bound ? NAN : (double)g->bound * HUGE_2M / MIB);
			run->runs_last = l.runs;
			layout_free(&l);
			run->ngaps++;
		}
		fprintf(stderr,
			"contig-bench: scale-frag %s: gap %u at %.1f s (%.1f s long): %s%u swapped "
			"of %u looked at; largest free run %u pages, bound %u (%u free pool pages, "
			"%u kernel hugepages), %u runs\n",
			run->label, run->ngaps, g->t, g->length, g->round ? "idle round, " : "no round, ",
			g->swapped, g->looked, g->largest, g->bound, g->free_pages, g->kernel_frames,
			g->runs);
		t = since(t0);
	}
out:
	work_end(&w);
	if (lg.f)
		fclose(lg.f);
	if (contigd_stop(&d) != 0)
		fprintf(stderr, "contig-bench: scale-frag: contigd did not stop cleanly\n");
	return r;
}

/* ---- the figures ---- */

/* With no free page at all (the workload filled the pool) there is
 * nothing to form: the pool did as well as it could. */
static double ratio(const struct sf_gap *g)
{
	return g->bound ? (double)g->largest / g->bound : 1.0;
}

/* Append to a note, cut at its end. */
static __attribute__((format(printf, 3, 4))) void append(char *buf, size_t size,
							  const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* Rows for one run: the largest free run at the end of each gap, and the
 * worst ratio to the bound (on: over the gaps with a round, if any ran). */
static void report(const struct sf_run *run, bool on)
{
	struct samples largest = { 0 }, bound = { 0 };
	char who[128], per[160] = "";
	unsigned nrounds = 0, swapped = 0, nratio = 0, nok = 0;
	double worst = INFINITY;
	bool rounds_only;

	for (unsigned i = 0; i < run->ngaps; i++) {
		nrounds += run->gap[i].round;
		swapped += run->gap[i].swapped;
	}
	rounds_only = on && nrounds;
	for (unsigned i = 0; i < run->ngaps; i++) {
		const struct sf_gap *g = &run->gap[i];

		samples_add(&largest, (double)g->largest * HUGE_2M / MIB);
		if (g->no_bound) {
			append(per, sizeof(per), "%s?", i ? " " : "");
			continue;
		}
		samples_add(&bound, (double)g->bound * HUGE_2M / MIB);
		append(per, sizeof(per), "%s%.2f%s", i ? " " : "", ratio(g),
		       on && !g->round ? "*" : "");
		if (rounds_only && !g->round)
			continue;
		nratio++;
		nok += ratio(g) >= 0.9;
		if (ratio(g) < worst)
			worst = ratio(g);
	}
	if (on)
		result_samples(G_SCALE_FRAG, "bound: the longest run the pool's free pages and the "
			       "kernel's free hugepages could form", ROLE_FLOOR, "MiB", &bound,
			       "at the end of each gap, capped at the pool's free pages");
	snprintf(who, sizeof(who), "%s: largest free run at the end of each idle gap", run->label);
	result_samples(G_SCALE_FRAG, who, on ? ROLE_CONTIG : ROLE_INFO, "MiB", &largest,
		       "%u gaps, %u with an idle round (%u pages swapped); runs %u → %u; %u of %u "
		       "allocations failed with room",
		       run->ngaps, nrounds, swapped, run->runs_first, run->runs_last, run->fails_room,
		       run->allocs);
	snprintf(who, sizeof(who), "%s: largest free run ÷ bound, worst gap%s", run->label,
		 on ? " with a round" : "");
	if (nratio)
		result_value(G_SCALE_FRAG, who, ROLE_INFO, "×", worst, nratio,
			     "%u of %u ≥ 0.9%s; per gap%s: %s", nok, nratio,
			     on && !nrounds ? " (no idle round ran)" : "",
			     on ? " (* no round)" : "", per);
	else
		result_missing(G_SCALE_FRAG, who, ROLE_INFO, "×",
			       "no gap's bound was measured (MAP_HUGETLB or pagemap failed)");
	samples_free(&largest);
	samples_free(&bound);
}

void scale_frag_run(const struct run_cfg *cfg)
{
	/* Each run's bound is its own: the kernel's free frames differ. */
	static const char *const lseries[] = { "repair on", "repair off",
					       "floor: bound (kernel free + pool), repair on",
					       "floor: bound (kernel free + pool), repair off" };
	static const char *const rseries[] = { "repair on", "repair off" };
	static struct sf_curves cv;
	static struct sf_run on = { .label = "repair on" }, off = { .label = "repair off" };
	static double sched[SF_MAX_GAPS];
	unsigned nsched = 0;
	const char *env = getenv("CONTIG_BENCH_FRAG_SECONDS");
	struct sf_plan plan = {
		.seconds = cfg->smoke ? 1.0 : 600,
		.burst_s = cfg->smoke ? 0.3 : 20,
		.sample_s = cfg->smoke ? 0.1 : 0.5,
		.idle_s = cfg->smoke ? 1 : 5,
		.pool_bytes = cfg->pool_bytes,
	};

	if (env && *env && strtod(env, NULL) > 0)
		plan.seconds = strtod(env, NULL);
	/* A gap: idle_s without a request, up to a second more for the daemon's
	 * timer to notice, and time for the round's harvest. */
	plan.gap_max_s = plan.idle_s + 1 + (cfg->smoke ? 0.5 : 4.0);
	/* Both runs' samples must fit in one curve. */
	plan.sample_s = fmax(plan.sample_s, 2.5 * plan.seconds / CURVE_MAX_POINTS);
	if (plan.burst_s > plan.seconds)
		plan.burst_s = plan.seconds;

	curve_init(&cv.largest, "scale-frag-largest",
		   "fragmentation over time: largest free run, bursts of random alloc/free and idle gaps",
		   "time (s)", "largest free run (MiB)", false, false, 4, lseries);
	curve_init(&cv.runs, "scale-frag-runs",
		   "fragmentation over time: the pool's physically contiguous runs",
		   "time (s)", "runs", false, false, 2, rseries);

	cv.col = 0;
	if (run_config(cfg, &plan, true, sched, &nsched, &cv, &on) < 0)
		result_missing(G_SCALE_FRAG, "repair on: largest free run at the end of each idle gap",
			       ROLE_CONTIG, "MiB", "contigd did not start (see %s)", cfg->tmpdir);
	else
		report(&on, true);
	cv.col = 1;
	if (run_config(cfg, &plan, false, sched, &nsched, &cv, &off) < 0)
		result_missing(G_SCALE_FRAG, "repair off: largest free run at the end of each idle gap",
			       ROLE_INFO, "MiB", "contigd did not start (see %s)", cfg->tmpdir);
	else
		report(&off, false);

	for (int k = 0; k < 2; k++) {
		struct curve *c = k ? &cv.runs : &cv.largest;

		curve_note(c, "%" PRIu64 " MiB pool kept %.0f%% full by random 2-32 MiB alloc/free "
			      "(seed %d); bursts of %g s, then silent until the idle round "
			      "(repair-idle = %u s, oversample = %d) or %g s",
			   plan.pool_bytes / MIB, SF_FILL * 100, SF_SEED, plan.burst_s, plan.idle_s,
			   SF_OVERSAMPLE, plan.gap_max_s);
		for (int i = 0; i < 2; i++) {
			const struct result *r = result_find(
				G_SCALE_FRAG, i ? "repair off: largest free run ÷ bound, worst gap"
						: "repair on: largest free run ÷ bound, worst gap with a round");
			if (r && r->n)
				curve_note(c, "%s: largest ÷ bound, worst %.2f; %s", i ? "off" : "on",
					   r->median, r->note);
		}
		if (curve_save(c) < 0)
			fprintf(stderr, "contig-bench: scale-frag: cannot write curve-%s.tsv in %s\n",
				c->name, curve_dir());
	}
}
