/* SPDX-License-Identifier: MIT */
/*
 * scale_ready.c - issue 19's start-up curve: contigd's time from fork to a
 * socket that accepts, against the pool's size, beside the kernel's own
 * fault-in of as many pages with every CPU, in the same run. 2 MiB pages
 * from 256 MiB to 16 GiB, 1 GiB pages at 1, 2 and 4 GiB.
 *
 * contigd runs with oversample = 0: it faults exactly its pool, so the
 * figure is the pinning alone, not the background repair that oversampling
 * starts after READY. The contenders alternate within each round (which one
 * goes first too), so the machine's drift hits both alike; a size's figure
 * is the median of its rounds.
 *
 * A size is measured only if the hugepages it needs beyond those already
 * free leave SCALE_SYSTEM_KEEP of MemAvailable to the rest of the machine,
 * and (for short runs) if it is within $CONTIG_BENCH_SCALE_MAX; the curve
 * notes where it stopped and why. The 2 MiB nr_hugepages is put back to
 * what this part found once it is done: 16 GiB of hugepages must not stay
 * reserved on a shared machine.
 *
 * 1 GiB pages are allocated by the kernel when their nr_hugepages is raised
 * (a gigantic page is a 1 GiB physically contiguous range it has to empty
 * first) and zeroed at their first fault, by the faulting thread alone. The
 * breakdown rows time each step apart: the sysfs write, the first touch of
 * the fresh pages, later touches with one thread and with every CPU,
 * contigd's own pinning, and last contigd raising nr_hugepages itself (as
 * the page-granularity figure starts it) right after the pages were given
 * back. On a virtual machine whose balloon reports free pages to the host,
 * memory the guest freed a few seconds ago is the host's again, and its
 * first touch makes the host fault it back in: that, not the kernel's
 * allocation nor contigd, is what makes fresh gigantic pages slow (the
 * first-touch rows show it). The 1 GiB part runs before the 2 MiB
 * one, which gives back gigabytes just touched.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "contigd_ctl.h"
#include "curve.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/mman.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif

#define GIB (UINT64_C(1) << 30)
#define HUGE_1G GIB
/* What the rest of the machine keeps of MemAvailable. */
#define SCALE_SYSTEM_KEEP (4 * GIB)
#define SCALE_MAX_THREADS 16
#define SYSFS_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define SYSFS_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/"
/* The target: contigd ready within this factor of the floor. */
#define READY_TARGET 1.15

/* ---- what the scale parts share (bench.h) ---- */

unsigned scale_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > SCALE_MAX_THREADS ? SCALE_MAX_THREADS : (unsigned)n;
}

void scale_raise_nofile(void)
{
	struct rlimit rl;

	/* contigd holds an fd per page (8192 at 16 GiB) and inherits ours. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* "1G", "512M", "4096K" or bytes; 0 if unset or not a size. */
static uint64_t env_size(const char *name)
{
	const char *v = getenv(name);
	char *end;
	uint64_t n;

	if (!v || !*v)
		return 0;
	n = strtoull(v, &end, 10);
	switch (*end) {
	case 'G': case 'g': return n << 30;
	case 'M': case 'm': return n << 20;
	case 'K': case 'k': return n << 10;
	default: return *end ? 0 : n;
	}
}

bool scale_size_allowed(uint64_t bytes, uint64_t free_huge_bytes, char *why, size_t n)
{
	uint64_t cap = env_size("CONTIG_BENCH_SCALE_MAX");
	long avail_kb = meminfo_kb("MemAvailable");
	uint64_t avail = avail_kb > 0 ? (uint64_t)avail_kb << 10 : 0;
	uint64_t more = bytes > free_huge_bytes ? bytes - free_huge_bytes : 0;

	if (cap && bytes > cap) {
		snprintf(why, n, "$CONTIG_BENCH_SCALE_MAX is %" PRIu64 " MiB", cap >> 20);
		return false;
	}
	if (more + SCALE_SYSTEM_KEEP > avail) {
		snprintf(why, n,
			 "it needs %" PRIu64 " MiB more hugepages and MemAvailable is %" PRIu64
			 " MiB, of which %" PRIu64 " MiB stay for the system",
			 more >> 20, avail >> 20, SCALE_SYSTEM_KEEP >> 20);
		return false;
	}
	return true;
}

uint64_t scale_free_2m_bytes(void)
{
	long fr = file_long(SYSFS_2M "free_hugepages"), rs = file_long(SYSFS_2M "resv_hugepages");

	return fr > rs && rs >= 0 ? (uint64_t)(fr - rs) * HUGE_2M : 0;
}

long scale_nr_2m(void)
{
	return file_long(SYSFS_2M "nr_hugepages");
}

void scale_restore_2m(long nr_found)
{
	long nr = scale_nr_2m();

	/* Only what this part raised, never below what it found. */
	if (nr_found >= 0 && nr > nr_found)
		(void)file_write_long(SYSFS_2M "nr_hugepages", nr_found);
}

int scale_wait_hugepages(uint64_t page_size, long n, unsigned timeout_ms)
{
	const char *dir = page_size == HUGE_1G ? SYSFS_1G : SYSFS_2M;
	char fpath[96], rpath[96];
	uint64_t t0 = now_ns();

	snprintf(fpath, sizeof(fpath), "%sfree_hugepages", dir);
	snprintf(rpath, sizeof(rpath), "%sresv_hugepages", dir);
	for (;;) {
		long fr = file_long(fpath), rs = file_long(rpath);
		if (fr < 0 || rs < 0)
			return -ENOENT;
		if (fr - rs >= n)
			return 0;
		if (now_ns() - t0 > (uint64_t)timeout_ms * 1000000)
			return -ETIMEDOUT;
		sleep_us(1000);
	}
}

/* Free page reporting (virtio-balloon): the guest hands memory it frees
 * back to the host, whose next first touch is then far slower. */
static bool balloon_reporting(void)
{
	return access("/sys/bus/virtio/drivers/virtio_balloon", F_OK) == 0 &&
	       access("/sys/module/page_reporting/parameters/page_reporting_order", F_OK) == 0;
}

/* ---- the 1 GiB floor ---- */

struct touch1g_job {
	uint8_t *base;
	size_t first, step, npages;
};

static void *touch1g_worker(void *arg)
{
	struct touch1g_job *j = arg;

	for (size_t i = j->first; i < j->npages; i += j->step)
		j->base[i * HUGE_1G] = 1;
	return NULL;
}

/* The kernel zeroes a gigantic page in the faulting thread: more threads
 * than pages do not help, so at most one per page. */
double fault_bulk_1g(size_t npages, unsigned nthreads)
{
	struct touch1g_job jobs[SCALE_MAX_THREADS];
	pthread_t tid[SCALE_MAX_THREADS] = { 0 };
	uint64_t t0 = now_ns();
	double ms;
	uint8_t *m;

	if (nthreads > SCALE_MAX_THREADS)
		nthreads = SCALE_MAX_THREADS;
	if (nthreads > npages)
		nthreads = (unsigned)npages;
	if (!nthreads)
		return -1;
	m = mmap(NULL, npages * HUGE_1G, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	for (unsigned k = 0; k < nthreads; k++) {
		jobs[k] = (struct touch1g_job){ m, k, nthreads, npages };
		if (k && pthread_create(&tid[k], NULL, touch1g_worker, &jobs[k]))
			touch1g_worker(&jobs[k]), tid[k] = 0;
	}
	touch1g_worker(&jobs[0]);
	for (unsigned k = 1; k < nthreads; k++)
		if (tid[k])
			pthread_join(tid[k], NULL);
	ms = (double)(now_ns() - t0) / 1e6;
	munmap(m, npages * HUGE_1G);
	return ms;
}

/* ---- contigd ---- */

struct scale_ready_once {
	double ready_ms, pinned_ms;
	char runs[96];
};

/* contigd on its own socket with pool_bytes of page_size pages and
 * oversample = 0, from fork until its socket accepts; then stopped, and
 * if wait_back, waited for until its pages are free again. 0 or -errno. */
static int contigd_ready_sized(const struct run_cfg *cfg, uint64_t pool_bytes, uint64_t page_size,
			       bool wait_back, struct scale_ready_once *ret)
{
	const char *conf = page_size == HUGE_1G ? "oversample = 0\npage-size = 1G\n"
						: "oversample = 0\n";
	struct contigd d;
	int r;

	r = contigd_start(cfg, &d, "contigd-scale", pool_bytes, conf);
	if (r < 0)
		return r;
	ret->ready_ms = (double)(d.t_ready - d.t_spawn) / 1e6;
	ret->pinned_ms = (double)contigd_pinned_ms(&d);
	contigd_log_runs(&d, ret->runs, sizeof(ret->runs));
	if (contigd_stop(&d) != 0)
		fprintf(stderr, "contig-bench: contigd did not exit 0 on SIGTERM\n");
	/* Its pages come back after its exit (the io_uring that pinned them
	 * is torn down in the background): until then the next contender
	 * would find the pool short and the kernel would hand it fresh
	 * memory, whose first touch costs far more (see the warm-up row). */
	if (wait_back && scale_wait_hugepages(page_size, (long)(pool_bytes / page_size), 10000) < 0)
		fprintf(stderr, "contig-bench: contigd's hugepages did not come back in 10 s\n");
	return 0;
}

static const char *size_label(uint64_t bytes, char *buf, size_t n)
{
	if (bytes >= GIB)
		snprintf(buf, n, "%" PRIu64 " GiB", bytes >> 30);
	else
		snprintf(buf, n, "%" PRIu64 " MiB", bytes >> 20);
	return buf;
}

/* Ratio rows and the verdict; met/missed lists for the curve's note. */
static void ratio_row(const char *group, const char *size, double contig, double floor,
		      char *met, size_t met_n, char *missed, size_t missed_n)
{
	char who[96];
	double ratio = contig / floor;
	bool ok = ratio <= READY_TARGET;
	char *list = ok ? met : missed;
	size_t n = ok ? met_n : missed_n, len = strlen(list);

	snprintf(who, sizeof(who), "%s: contigd ÷ floor", size);
	if (isnan(ratio)) {
		result_missing(group, who, ROLE_INFO, "×", "a contender was not measured");
		return;
	}
	result_value(group, who, ROLE_INFO, "×", ratio, 1, "target ≤ %.2f×: %s", READY_TARGET,
		     ok ? "met" : "missed");
	snprintf(list + len, n - len, "%s%s %.2f×", len ? ", " : "", size, ratio);
}

/* One size: the contenders interleaved over rounds; y[0] contigd, y[1] the
 * floor (medians, ms). 0, or -errno if neither could be measured. */
static int ready_size(const struct run_cfg *cfg, const char *group, uint64_t bytes,
		      uint64_t page_size, unsigned rounds, unsigned nthreads, double *y)
{
	struct samples contig = { 0 }, pinned = { 0 }, floor = { 0 }, one = { 0 }, memfd = { 0 };
	size_t npages = bytes / page_size;
	char who[160], size[32], runs[96] = "";
	unsigned floor_failed = 0, contig_failed = 0;
	double ms;

	size_label(bytes, size, sizeof(size));
	for (unsigned r = 0; r < rounds; r++) {
		struct scale_ready_once o = { 0 };
		for (unsigned k = 0; k < 2; k++) {
			if ((k + r) % 2 == 0) {
				ms = page_size == HUGE_1G ? fault_bulk_1g(npages, nthreads)
							  : fault_bulk(npages, nthreads);
				if (ms >= 0)
					samples_add(&floor, ms);
				else
					floor_failed++;
			} else if (contigd_ready_sized(cfg, bytes, page_size, true, &o) == 0) {
				samples_add(&contig, o.ready_ms);
				if (o.pinned_ms >= 0)
					samples_add(&pinned, o.pinned_ms);
				snprintf(runs, sizeof(runs), "%s", o.runs);
			} else {
				contig_failed++;
			}
		}
		/* One thread: how much every CPU buys (1 GiB: the zeroing of
		 * one page is one thread's work however many there are). */
		if (page_size == HUGE_1G && (ms = fault_bulk_1g(npages, 1)) >= 0)
			samples_add(&one, ms);
		/* 2 MiB: the daemon's unit of work (a memfd per page), serially,
		 * against the one mapping of the floor. */
		if (page_size == HUGE_2M && (ms = memfd_bulk(npages)) >= 0)
			samples_add(&memfd, ms);
	}
	y[0] = samples_median(&contig);
	y[1] = samples_median(&floor);
	snprintf(who, sizeof(who), "%s: floor: kernel fault-in of %zu pages, all CPUs (%u threads)",
		 size, npages, page_size == HUGE_1G && nthreads > npages ? (unsigned)npages : nthreads);
	result_samples(group, who, ROLE_INFO, "ms", &floor,
		       "one MAP_HUGETLB mapping touched in parallel; %u of %u failed (no free "
		       "hugepages)", floor_failed, rounds);
	if (page_size == HUGE_1G) {
		snprintf(who, sizeof(who), "%s: kernel fault-in of %zu pages, 1 thread", size, npages);
		result_samples(group, who, ROLE_INFO, "ms", &one, "%.0f ms per GiB",
			       samples_median(&one) / (double)npages);
	}
	if (page_size == HUGE_2M) {
		snprintf(who, sizeof(who), "%s: %zu × (memfd + fallocate + mmap + pagemap), 1 thread",
			 size, npages);
		result_samples(group, who, ROLE_INFO, "ms", &memfd,
			       "the daemon's unit of work, serially: what a page costs beyond the "
			       "floor's one mapping");
	}
	snprintf(who, sizeof(who), "%s: contigd --pool %s, fork → socket accepts", size, size);
	result_samples(group, who, ROLE_INFO, "ms", &contig,
		       "oversample = 0; pool: %s; %u of %u did not start", runs[0] ? runs : "?",
		       contig_failed, rounds);
	snprintf(who, sizeof(who), "%s: contigd's log line 'pinned in N ms'", size);
	result_samples(group, who, ROLE_INFO, "ms", &pinned,
		       "reserve + fault + pin of the pool, inside the time above");
	samples_free(&contig);
	samples_free(&pinned);
	samples_free(&floor);
	samples_free(&one);
	samples_free(&memfd);
	return isnan(y[0]) && isnan(y[1]) ? -EIO : 0;
}

static void ready_2m(const struct run_cfg *cfg, unsigned rounds, unsigned nthreads)
{
	static const uint64_t full[] = { 256 * MIB, 1 * GIB, 4 * GIB, 8 * GIB, 16 * GIB };
	static const uint64_t smoke[] = { 64 * MIB, 128 * MIB };
	const uint64_t *sizes = cfg->smoke ? smoke : full;
	size_t nsizes = cfg->smoke ? 2 : 5;
	static const char *const series[] = { "contigd", "floor: kernel fault-in, all CPUs" };
	char met[256] = "", missed[256] = "", stop[256] = "", why[200], size[32];
	long nr_found = scale_nr_2m();
	struct curve c;

	curve_init(&c, "scale-ready-2m", "Ready to serve against pool size, 2 MiB pages",
		   "pool (GiB)", "ms from fork to ready", true, true, 2, series);
	for (size_t i = 0; i < nsizes; i++) {
		uint64_t npages = sizes[i] / HUGE_2M;
		double y[2];

		size_label(sizes[i], size, sizeof(size));
		if (!scale_size_allowed(sizes[i], scale_free_2m_bytes(), why, sizeof(why))) {
			snprintf(stop, sizeof(stop), "stopped before %s: %s", size, why);
			result_missing(G_SCALE_READY_2M, size, ROLE_INFO, "ms", "%s", why);
			break;
		}
		if (hugepages_ensure((long)npages + 16) < (long)npages) {
			snprintf(stop, sizeof(stop), "stopped before %s: the kernel gave fewer "
				 "than %" PRIu64 " free 2 MiB hugepages", size, npages);
			result_missing(G_SCALE_READY_2M, size, ROLE_INFO, "ms", "%s", stop);
			break;
		}
		fprintf(stderr, "contig-bench: scale-ready 2 MiB × %" PRIu64 "\n", npages);
		/* Pages the machine never touched may cost a fault in the
		 * hypervisor too: once untimed, so neither contender pays it. */
		double warm = fault_bulk(npages, nthreads);
		if (ready_size(cfg, G_SCALE_READY_2M, sizes[i], HUGE_2M, rounds, nthreads, y) < 0) {
			snprintf(stop, sizeof(stop), "stopped at %s: nothing could be measured", size);
			break;
		}
		snprintf(why, sizeof(why), "%s: first touch of the pages (warm-up, untimed in "
			 "the figures)", size);
		result_value(G_SCALE_READY_2M, why, ROLE_INFO, "ms", warm, warm >= 0, "all CPUs");
		ratio_row(G_SCALE_READY_2M, size, y[0], y[1], met, sizeof(met), missed,
			  sizeof(missed));
		curve_point(&c, (double)sizes[i] / GIB, y);
	}
	scale_restore_2m(nr_found);
	curve_note(&c, "contigd with oversample = 0 (pinning only, no background repair); "
		   "median of %u round(s), contenders interleaved; floor: one MAP_HUGETLB mapping "
		   "touched from %u threads", rounds, nthreads);
	curve_note(&c, "target contigd ≤ %.2f× floor at every size: met at %s; missed at %s",
		   READY_TARGET, met[0] ? met : "none", missed[0] ? missed : "none");
	curve_note(&c, "%s", stop[0] ? stop : "every size was measured");
	if (curve_save(&c) < 0)
		fprintf(stderr, "contig-bench: cannot write curve-%s.tsv\n", c.name);
}

/* contigd asked for 2 GiB of 1 GiB pages when none is free: it raises
 * nr_hugepages itself, as in the page-granularity figure. Put back after.
 * ms to ready, or < 0. */
static double ready_1g_unreserved(const struct run_cfg *cfg)
{
	long nr = file_long(SYSFS_1G "nr_hugepages"), fr = file_long(SYSFS_1G "free_hugepages");
	struct scale_ready_once o = { 0 };
	const char *who = "2 GiB: contigd raising nr_hugepages itself, pages just given back";
	double ms = -1;

	if (fr != 0) {
		result_missing(G_SCALE_READY_1G, who, ROLE_INFO, "ms",
			       "%ld 1 GiB pages were free: it would not raise", fr);
		return -1;
	}
	/* contigd gives back at exit what it raised: nothing to wait for. */
	if (contigd_ready_sized(cfg, 2 * GIB, HUGE_1G, false, &o) < 0) {
		result_missing(G_SCALE_READY_1G, who, ROLE_INFO, "ms",
			       "contigd did not start (the kernel gave fewer than 2 gigantic pages?)");
	} else {
		ms = o.ready_ms;
		result_value(G_SCALE_READY_1G, who, ROLE_INFO, "ms", ms, 1,
			     "fork → socket accepts; its 'pinned in' %.0f ms includes the raise",
			     o.pinned_ms);
	}
	hugepages_1g_restore(nr, file_long(SYSFS_1G "nr_hugepages"));
	return ms;
}

static double row_median(const char *group, const char *who)
{
	const struct result *r = result_find(group, who);

	return r && r->n ? r->median : NAN;
}

/*
 * Why 1 GiB pages can take seconds: each step timed apart, in this order.
 * (a) raising nr_hugepages (the kernel finds and empties 1 GiB ranges),
 * (b) the first touch of those fresh pages (one thread per page: the kernel
 * zeroes a gigantic page in the faulting thread), then the rounds, which
 * touch the same pages again (and contigd pins them), and last contigd
 * raising nr_hugepages itself right after the pages were given back.
 */
static void ready_1g(const struct run_cfg *cfg, unsigned rounds, unsigned nthreads)
{
	static const unsigned gib[] = { 1, 2, 4 };
	static const char *const series[] = { "contigd", "floor: kernel fault-in, all CPUs" };
	char met[200] = "", missed[200] = "", stop[256] = "", why[200], size[32];
	long nr_before = -1, nr_after = -1, got = 0, want = 4, fresh = 0;
	double raise_ms = NAN, cold_ms = NAN, unreserved_ms = -1;
	uint64_t t0;
	struct curve c;

	curve_init(&c, "scale-ready-1g", "Ready to serve against pool size, 1 GiB pages",
		   "pool (GiB)", "ms from fork to ready", false, false, 2, series);
	if (file_long(SYSFS_1G "nr_hugepages") < 0) {
		result_missing(G_SCALE_READY_1G, "1 GiB pages", ROLE_INFO, "ms",
			       "the kernel has no 1 GiB hugepage size");
		snprintf(stop, sizeof(stop), "not measured: the kernel has no 1 GiB hugepage size");
		goto save;
	}
	if (cfg->smoke) {
		/* Never allocate gigantic pages in the smoke run: seconds,
		 * and they may not come. Use a free one if there is. */
		long fr = file_long(SYSFS_1G "free_hugepages"),
		     rs = file_long(SYSFS_1G "resv_hugepages");
		want = fr > rs ? 1 : 0;
		if (!want) {
			result_missing(G_SCALE_READY_1G, "1 GiB pages", ROLE_INFO, "ms",
				       "--smoke does not allocate gigantic pages and none was free");
			snprintf(stop, sizeof(stop), "--smoke: no 1 GiB page was free, and the "
				 "smoke run does not allocate gigantic pages");
			goto save;
		}
	} else {
		while (want > 0 && !scale_size_allowed((uint64_t)want * GIB, 0, why, sizeof(why)))
			want--;
		if (want < 4)
			snprintf(stop, sizeof(stop), "asked for %ld 1 GiB pages, not 4: %s", want,
				 why);
		if (!want) {
			result_missing(G_SCALE_READY_1G, "1 GiB pages", ROLE_INFO, "ms", "%s", why);
			goto save;
		}
	}

	/* (a) The kernel allocating gigantic pages: the sysfs write. */
	t0 = now_ns();
	got = hugepages_1g_reserve(want, &nr_before, &nr_after);
	fresh = nr_after > nr_before ? nr_after - nr_before : 0;
	if (fresh) {
		raise_ms = (double)(now_ns() - t0) / 1e6;
		snprintf(why, sizeof(why), "kernel: raise 1 GiB nr_hugepages %ld → %ld (sysfs write)",
			 nr_before, nr_after);
		result_value(G_SCALE_READY_1G, why, ROLE_INFO, "ms", raise_ms, 1,
			     "%.0f ms per gigantic page; asked for %ld, the kernel gave %ld",
			     raise_ms / (double)fresh, want, fresh);
	} else {
		result_missing(G_SCALE_READY_1G, "kernel: raise 1 GiB nr_hugepages (sysfs write)",
			       ROLE_INFO, "ms", "not raised: %ld page(s) free already, nr_hugepages "
			       "%ld", got, nr_after);
	}
	if (got > want)
		got = want; /* others' free pages are not ours to measure with */
	if (got < want && !stop[0])
		snprintf(stop, sizeof(stop), "the kernel gave %ld of %ld gigantic pages", got, want);
	if (got <= 0) {
		result_missing(G_SCALE_READY_1G, "1 GiB pages", ROLE_INFO, "ms",
			       "no 1 GiB page free (nr_hugepages %ld)", nr_after);
		goto restore;
	}

	/* (b) The first touch of the pages, one thread: the zeroing, and
	 * whatever first use of that memory costs below the kernel. Also
	 * when they were free already (they may be as fresh): the rounds
	 * must not pay it. */
	{
		double ms = fault_bulk_1g((size_t)got, 1);
		cold_ms = ms >= 0 ? ms / (double)got : NAN;
		result_value(G_SCALE_READY_1G, "kernel: first touch of the 1 GiB pages, 1 thread, "
			     "per page", ROLE_INFO, "ms", cold_ms, ms >= 0,
			     "%ld page(s) %s; the rows below touch them again", got,
			     fresh ? "just allocated" : "found free");
	}

	for (size_t i = 0; i < sizeof(gib) / sizeof(gib[0]); i++) {
		double y[2];

		snprintf(size, sizeof(size), "%u GiB", gib[i]);
		if ((long)gib[i] > got) {
			if (!stop[0])
				snprintf(stop, sizeof(stop), "stopped before %s: %ld page(s)", size,
					 got);
			break;
		}
		fprintf(stderr, "contig-bench: scale-ready 1 GiB × %u\n", gib[i]);
		if (ready_size(cfg, G_SCALE_READY_1G, (uint64_t)gib[i] * GIB, HUGE_1G, rounds,
			       nthreads, y) < 0)
			break;
		ratio_row(G_SCALE_READY_1G, size, y[0], y[1], met, sizeof(met), missed,
			  sizeof(missed));
		curve_point(&c, gib[i], y);
	}
restore:
	hugepages_1g_restore(nr_before, nr_after);
	/* Last: contigd's own raise, on memory just given back. */
	if (!cfg->smoke && nr_before == 0)
		unreserved_ms = ready_1g_unreserved(cfg);
save:
	curve_note(&c, "contigd with oversample = 0, page-size = 1G, pages reserved beforehand; "
		   "median of %u round(s), contenders interleaved; floor: one mapping, a thread "
		   "per page up to %u", rounds, nthreads);
	if (c.npoints)
		curve_note(&c, "target contigd ≤ %.2f× floor: met at %s; missed at %s; %s",
			   READY_TARGET, met[0] ? met : "none", missed[0] ? missed : "none",
			   stop[0] ? stop : "every size measured");
	else
		curve_note(&c, "%s", stop);
	if (got > 0) {
		char alloc[48] = "none (pages found free)";
		if (fresh)
			snprintf(alloc, sizeof(alloc), "%.0f ms", raise_ms / (double)fresh);
		curve_note(&c, "per 1 GiB page: allocation (nr_hugepages write) %s, first touch "
			   "%.0f ms, touch again %.0f ms, contigd 'pinned in' %.0f ms", alloc, cold_ms,
			   row_median(G_SCALE_READY_1G, "1 GiB: kernel fault-in of 1 pages, 1 thread"),
			   row_median(G_SCALE_READY_1G, "1 GiB: contigd's log line 'pinned in N ms'"));
	}
	if (unreserved_ms >= 0 || balloon_reporting()) {
		char a[100] = "", b[100] = "";
		if (balloon_reporting())
			snprintf(a, sizeof(a), "virtio-balloon free page reporting is on: memory "
				 "freed goes back to the host%s", unreserved_ms >= 0 ? "; " : "");
		if (unreserved_ms >= 0)
			snprintf(b, sizeof(b), "contigd raising nr_hugepages itself (2 GiB, just "
				 "given back): %.0f ms", unreserved_ms);
		curve_note(&c, "%s%s", a, b);
	}
	if (curve_save(&c) < 0)
		fprintf(stderr, "contig-bench: cannot write curve-%s.tsv\n", c.name);
}

void scale_ready_run(const struct run_cfg *cfg)
{
	unsigned rounds = cfg->smoke ? 1 : 3, nthreads = scale_threads();

	if (nthreads > 8)
		nthreads = 8; /* fault_bulk's limit */
	scale_raise_nofile();
	/* 1 GiB first: the 2 MiB part gives back gigabytes just touched,
	 * which would make the gigantic pages' first touch look warm. */
	ready_1g(cfg, rounds, nthreads);
	ready_2m(cfg, rounds, nthreads);
}
