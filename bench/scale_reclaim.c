/* SPDX-License-Identifier: MIT */
/*
 * scale_reclaim.c - issue 19's reclaim curve: freed pages per second until
 * contigd's pool is whole again, against the batch freed (N pages), beside
 * the kernel's floor for the same work in the same run.
 *
 * contigd runs its default configuration (revocation on): a free revokes
 * each page (hole punched, file closed) on the loop thread, and its reclaim
 * workers, one per CPU, each make a fresh hugetlb memfd, fallocate it (the
 * kernel zeroes the page), populate the mapping and read its frame
 * (daemon/reclaim.c, backing.c). The floor is that work without contigd:
 * N x (memfd_create(MFD_HUGETLB) + ftruncate + mmap + fallocate +
 * MADV_POPULATE_WRITE) spread over as many threads, the pages kept until
 * the last is in (then given back, untimed).
 *
 * The client is a child process (CONTIG_STASH=0 and CONTIG_CARVE=0, so a
 * free goes to the daemon at once and whole pool pages are what it frees):
 * it allocates N pages, as one region, or as N one-page regions when the
 * pool has no run that long, touches them, frees them, and polls
 * contig_query until free_bytes == total_bytes (pages in reclaim are not
 * free). The time counts from the first contig_free call. The daemon's
 * 'reclaims' counter (contigctl stats) must have grown by N over the round,
 * which shows that what was timed was N reclaims.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "contigd_ctl.h"
#include "curve.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/memfd.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The target: contigd's reclaim at least this share of the floor. */
#define RECLAIM_TARGET 0.85
/* How often the client looks at the pool while reclaim runs. */
#define POLL_US 500
/* The daemon's reclaim workers: one per CPU, at most this many. */
#define RECLAIM_THREADS_MAX 8

/* ---- the floor ---- */

struct fresh_page {
	int fd;
	void *map;
};

struct fresh_job {
	struct fresh_page *pages;
	size_t first, step, n;
	int error;
};

static int fresh_page(struct fresh_page *pg)
{
	pg->map = NULL;
	pg->fd = memfd_create("bench-reclaim", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	if (pg->fd < 0)
		return -errno;
	if (ftruncate(pg->fd, (off_t)HUGE_2M) < 0)
		return -errno;
	pg->map = mmap(NULL, HUGE_2M, PROT_READ | PROT_WRITE, MAP_SHARED, pg->fd, 0);
	if (pg->map == MAP_FAILED) {
		pg->map = NULL;
		return -errno;
	}
	if (fallocate(pg->fd, 0, 0, (off_t)HUGE_2M) < 0)
		return -errno;
	if (madvise(pg->map, HUGE_2M, MADV_POPULATE_WRITE) < 0)
		*(volatile uint8_t *)pg->map = 0; /* before Linux 5.14 */
	return 0;
}

static void *fresh_worker(void *arg)
{
	struct fresh_job *j = arg;

	for (size_t i = j->first; i < j->n && !j->error; i += j->step)
		j->error = fresh_page(&j->pages[i]);
	return NULL;
}

/* Milliseconds for n fresh pages made by nthreads threads, or < 0. */
static double fresh_bulk(size_t n, unsigned nthreads)
{
	struct fresh_job jobs[RECLAIM_THREADS_MAX];
	pthread_t tid[RECLAIM_THREADS_MAX] = { 0 };
	struct fresh_page *pages = calloc(n, sizeof(*pages));
	double ms = -1;
	uint64_t t0;
	int error = 0;

	if (!pages)
		return -1;
	for (size_t i = 0; i < n; i++)
		pages[i].fd = -1;
	t0 = now_ns();
	for (unsigned k = 0; k < nthreads; k++) {
		jobs[k] = (struct fresh_job){ pages, k, nthreads, n, 0 };
		if (k && pthread_create(&tid[k], NULL, fresh_worker, &jobs[k]))
			fresh_worker(&jobs[k]), tid[k] = 0;
	}
	fresh_worker(&jobs[0]);
	for (unsigned k = 1; k < nthreads; k++)
		if (tid[k])
			pthread_join(tid[k], NULL);
	for (unsigned k = 0; k < nthreads; k++)
		if (jobs[k].error)
			error = jobs[k].error;
	if (!error)
		ms = (double)(now_ns() - t0) / 1e6;
	for (size_t i = 0; i < n; i++) {
		if (pages[i].map)
			munmap(pages[i].map, HUGE_2M);
		if (pages[i].fd >= 0)
			close(pages[i].fd);
	}
	free(pages);
	return ms;
}

/* ---- contigd ---- */

struct reclaim_sample {
	double from_call_ms;   /* first contig_free call → pool whole */
	double from_return_ms; /* last contig_free return → pool whole */
	int32_t split;         /* 1: N one-page regions */
	int32_t error;
};

static void touch(volatile uint8_t *p, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
}

/* The child's round. */
static void client_round(unsigned n, struct reclaim_sample *s)
{
	void **r = calloc(n, sizeof(*r));
	size_t nreg = 0;
	uint64_t t0, t1, t2;

	if (!r) {
		s->error = -ENOMEM;
		return;
	}
	if (!pool_wait_whole(10000, POLL_US)) {
		s->error = -ETIMEDOUT;
		goto out;
	}
	r[0] = contig_alloc((size_t)n * HUGE_2M, CONTIG_MAX_ADDRESS);
	if (r[0]) {
		touch(r[0], (size_t)n * HUGE_2M);
		nreg = 1;
	} else {
		s->split = 1;
		for (; nreg < n; nreg++) {
			r[nreg] = contig_alloc(HUGE_2M, CONTIG_MAX_ADDRESS);
			if (!r[nreg])
				break;
			touch(r[nreg], HUGE_2M);
		}
		if (nreg < n) {
			s->error = -ENOMEM;
			goto out;
		}
	}
	t0 = now_ns();
	for (size_t i = 0; i < nreg; i++)
		contig_free(r[i]);
	nreg = 0;
	t1 = now_ns();
	if (!pool_wait_whole(60000, POLL_US)) {
		s->error = -ETIMEDOUT;
		goto out;
	}
	t2 = now_ns();
	s->from_call_ms = (double)(t2 - t0) / 1e6;
	s->from_return_ms = (double)(t2 - t1) / 1e6;
out:
	while (nreg)
		contig_free(r[--nreg]);
	free(r);
}

/* One round in a child process (libcontig reads its settings once per
 * process, and the child's session ends with it). 0 or -errno. */
static int contig_round(const char *sock, unsigned n, struct reclaim_sample *ret)
{
	int fds[2], status;
	ssize_t got;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		struct reclaim_sample s = { 0 };
		close(fds[0]);
		if (setenv("CONTIG_SOCKET", sock, 1) || setenv("CONTIG_STASH", "0", 1) ||
		    setenv("CONTIG_CARVE", "0", 1))
			_exit(1);
		client_round(n, &s);
		_exit(write(fds[1], &s, sizeof(s)) == sizeof(s) ? 0 : 1);
	}
	close(fds[1]);
	got = read(fds[0], ret, sizeof(*ret));
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 || got != (ssize_t)sizeof(*ret))
		return -ECHILD;
	return ret->error;
}

static int stat_of(const struct run_cfg *cfg, const char *sock, const char *key, uint64_t *ret)
{
	char buf[8192], needle[64];
	const char *p;

	if (contigctl_json(cfg, sock, "stats", buf, sizeof(buf)) < 0)
		return -ECHILD;
	snprintf(needle, sizeof(needle), "\"%s\":", key);
	p = strstr(buf, needle);
	if (!p)
		return -ENOENT;
	*ret = strtoull(p + strlen(needle), NULL, 10);
	return 0;
}

/* One N: a fresh contigd of N pages, rounds of floor and contigd in
 * alternating order; y[0] contigd, y[1] the floor (median pages/s). */
static void reclaim_size(const struct run_cfg *cfg, unsigned n, unsigned rounds,
			 unsigned nthreads, double *y, char *met, size_t met_n, char *missed,
			 size_t missed_n)
{
	struct samples contig = { 0 }, ret = { 0 }, floor = { 0 };
	uint64_t reclaims0 = 0, reclaims1 = 0, ns0 = 0, ns1 = 0;
	unsigned split = 0, failed = 0, floor_failed = 0;
	char who[160], repair[256], counts[128] = "the daemon's counters were not read", *list;
	struct contigd d;
	bool counted;
	int r;

	y[0] = y[1] = NAN;
	r = contigd_start(cfg, &d, "contigd-scale-reclaim", (uint64_t)n * HUGE_2M, NULL);
	if (r < 0) {
		snprintf(who, sizeof(who), "%u pages: contigd reclaim", n);
		result_missing(G_SCALE_RECLAIM, who, ROLE_INFO, "pages/s", "contigd did not start: %s",
			       strerror(-r));
		return;
	}
	/* The background repair (oversampling, on by default) swaps free pages
	 * after READY: let it finish before anything is timed. */
	(void)contigd_wait_repair(&d, repair, sizeof(repair), 10000);
	counted = stat_of(cfg, d.sock, "reclaims", &reclaims0) == 0 &&
		  stat_of(cfg, d.sock, "reclaim_ns", &ns0) == 0;
	for (unsigned i = 0; i < rounds; i++) {
		for (unsigned k = 0; k < 2; k++) {
			struct reclaim_sample s = { 0 };
			double ms;

			if ((k + i) % 2 == 0) {
				if ((ms = fresh_bulk(n, nthreads)) > 0)
					samples_add(&floor, n / (ms / 1e3));
				else
					floor_failed++;
			} else if (contig_round(d.sock, n, &s) == 0 && s.from_call_ms > 0) {
				samples_add(&contig, n / (s.from_call_ms / 1e3));
				if (s.from_return_ms > 0)
					samples_add(&ret, n / (s.from_return_ms / 1e3));
				split += (unsigned)s.split;
			} else {
				failed++;
			}
		}
	}
	counted = counted && stat_of(cfg, d.sock, "reclaims", &reclaims1) == 0 &&
		  stat_of(cfg, d.sock, "reclaim_ns", &ns1) == 0;
	if (contigd_stop(&d) != 0)
		fprintf(stderr, "contig-bench: contigd did not exit 0 on SIGTERM\n");
	/* Its pages come back after its exit (io_uring teardown). */
	(void)scale_wait_hugepages(HUGE_2M, (long)n, 10000);

	y[0] = samples_median(&contig);
	y[1] = samples_median(&floor);
	snprintf(who, sizeof(who), "%u pages: floor: N × (memfd + fallocate + populate), %u threads",
		 n, nthreads);
	result_samples(G_SCALE_RECLAIM, who, ROLE_INFO, "pages/s", &floor,
		       "fresh 2 MiB hugetlb memfds, mapped and populated, kept until the last; %u "
		       "of %u failed (no free hugepages)", floor_failed, rounds);
	if (counted)
		snprintf(counts, sizeof(counts), "the daemon counted %" PRIu64 " reclaims (expected %u), "
			 "%.0f µs of worker time each", reclaims1 - reclaims0, n * (unsigned)contig.n,
			 reclaims1 > reclaims0 ? (double)(ns1 - ns0) / 1e3 /
						 (double)(reclaims1 - reclaims0) : NAN);
	snprintf(who, sizeof(who), "%u pages: contigd reclaim, first contig_free → pool whole", n);
	if (contig.n)
		result_samples(G_SCALE_RECLAIM, who, ROLE_INFO, "pages/s", &contig,
			       "revocation on; freed as %s; %s",
			       !split ? "one region" : split == contig.n ? "one-page regions" : "mixed",
			       counts);
	else
		result_failed(G_SCALE_RECLAIM, who, ROLE_INFO, "pages/s", failed,
			      "the client's round failed every time");
	snprintf(who, sizeof(who), "%u pages: contigd reclaim, counted from the last free's return",
		 n);
	result_samples(G_SCALE_RECLAIM, who, ROLE_INFO, "pages/s", &ret, NULL);
	snprintf(who, sizeof(who), "%u pages: contigd ÷ floor", n);
	if (isnan(y[0]) || isnan(y[1])) {
		result_missing(G_SCALE_RECLAIM, who, ROLE_INFO, "×", "a contender was not measured");
	} else {
		double ratio = y[0] / y[1];
		bool ok = ratio >= RECLAIM_TARGET;
		size_t len;
		result_value(G_SCALE_RECLAIM, who, ROLE_INFO, "×", ratio, 1, "target ≥ %.2f×: %s",
			     RECLAIM_TARGET, ok ? "met" : "missed");
		list = ok ? met : missed;
		len = strlen(list);
		snprintf(list + len, (ok ? met_n : missed_n) - len, "%s%u %.2f×", len ? ", " : "",
			 n, ratio);
	}
	samples_free(&contig);
	samples_free(&ret);
	samples_free(&floor);
}

void scale_reclaim_run(const struct run_cfg *cfg)
{
	static const unsigned full[] = { 64, 256, 1024 };
	static const unsigned smoke[] = { 16 };
	static const char *const series[] = { "contigd reclaim",
					      "floor: memfd+fallocate+populate, all CPUs" };
	const unsigned *sizes = cfg->smoke ? smoke : full;
	size_t nsizes = cfg->smoke ? 1 : 3;
	unsigned rounds = cfg->smoke ? 2 : 5, nthreads = scale_threads();
	char met[200] = "", missed[200] = "", stop[256] = "", why[200];
	long nr_found = scale_nr_2m();
	struct curve c;

	if (nthreads > RECLAIM_THREADS_MAX)
		nthreads = RECLAIM_THREADS_MAX;
	scale_raise_nofile();
	curve_init(&c, "scale-reclaim", "Reclaim: freed pages back in the pool against pages freed",
		   "pages freed at once (2 MiB)", "pages/s", true, false, 2, series);
	for (size_t i = 0; i < nsizes; i++) {
		unsigned n = sizes[i];
		/* The daemon's pool and the floor's pages at once, and the
		 * daemon's oversampling at start takes as many again if free. */
		uint64_t need = (uint64_t)2 * n * HUGE_2M;
		double y[2];

		if (!scale_size_allowed(need, scale_free_2m_bytes(), why, sizeof(why))) {
			snprintf(stop, sizeof(stop), "stopped before %u pages: %s", n, why);
			result_missing(G_SCALE_RECLAIM, "reclaim", ROLE_INFO, "pages/s", "%s", stop);
			break;
		}
		if (hugepages_ensure((long)(2 * n) + 16) < (long)(2 * n)) {
			snprintf(stop, sizeof(stop), "stopped before %u pages: fewer than %u free "
				 "2 MiB hugepages", n, 2 * n);
			result_missing(G_SCALE_RECLAIM, "reclaim", ROLE_INFO, "pages/s", "%s", stop);
			break;
		}
		fprintf(stderr, "contig-bench: scale-reclaim %u pages\n", n);
		/* Hugepages just raised may be memory the machine never touched
		 * (or gave back to a hypervisor), whose first touch costs far
		 * more: once untimed, so neither contender pays it. */
		(void)fault_bulk(2 * n + 16, nthreads);
		reclaim_size(cfg, n, rounds, nthreads, y, met, sizeof(met), missed, sizeof(missed));
		curve_point(&c, n, y);
	}
	scale_restore_2m(nr_found);
	curve_note(&c, "contigd as by default (revocation on), %u reclaim workers; from the first "
		   "contig_free to contig_query's pool whole (polled every %u µs); median of %u "
		   "rounds, interleaved", nthreads, POLL_US, rounds);
	curve_note(&c, "floor: N fresh hugetlb memfds (memfd_create + ftruncate + mmap + fallocate "
		   "+ MADV_POPULATE_WRITE) from %u threads; the daemon also revokes the old pages "
		   "and reads each frame", nthreads);
	curve_note(&c, "target contigd ≥ %.2f× floor: met at %s; missed at %s", RECLAIM_TARGET,
		   met[0] ? met : "none", missed[0] ? missed : "none");
	curve_note(&c, "%s", stop[0] ? stop : "every size was measured");
	if (curve_save(&c) < 0)
		fprintf(stderr, "contig-bench: cannot write curve-%s.tsv\n", c.name);
}
