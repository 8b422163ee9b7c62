/* SPDX-License-Identifier: MIT */
/*
 * dpdk.c - contig-bench-dpdk: the DPDK peer, one EAL configuration per
 * process (rte_eal_init runs once per process). contig-bench starts it and
 * reads its stdout:
 *
 *   RESULT\t...     a finished row of the table (see stats.c)
 *   TIMES m s e r   CLOCK_MONOTONIC ns: main() entered, rte_eal_init called,
 *                   returned, first 2 MiB IOVA-contiguous memzone touched
 *
 * usage: contig-bench-dpdk --what all|frag|first|ready|secondary|carve|carve-threads|
 *        carve-mix|carve-mix-probe|carve-count --mode legacy|default
 *        --label NAME --mem MB [--prealloc] [--in-memory] [--no-huge]
 *        --huge-dir DIR --prefix P [--iters N] [--frag-ops N] [--pool MB]
 *        [--secondaries K] [--carve key=value,...]
 *
 * "all" measures the allocation figures and, with --secondaries, starts K
 * secondary processes (fork + exec of itself with --what secondary) whose
 * attach time it reports; "frag" runs the fragmentation workload; "carve*"
 * the page-granularity figures with carve.h's parameters (dpdk_carve.c).
 */
#define _GNU_SOURCE
#include "bench.h"
#include "carve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_memzone.h>

static struct {
	const char *what, *mode, *label, *huge_dir, *prefix, *carve;
	unsigned mem_mb, iters, frag_ops, pool_mb, secondaries, large_mb;
	bool prealloc, in_memory, no_huge;
} arg = { .what = "all", .mode = "default", .label = "DPDK", .iters = 1000, .frag_ops = 20000,
	  .pool_mb = 1024, .large_mb = 64 };

static unsigned mz_seq;

static const struct rte_memzone *mz_reserve(size_t bytes)
{
	char name[RTE_MEMZONE_NAMESIZE];

	snprintf(name, sizeof(name), "b%d-%u", (int)getpid(), mz_seq++);
	return rte_memzone_reserve_aligned(name, bytes, SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG,
					   4096);
}

static void touch(volatile uint8_t *p, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
}

static void who(char *buf, size_t n, const char *what)
{
	snprintf(buf, n, "%s: %s", arg.label, what);
}

/* ---- allocation figures ---- */

static void zmalloc_figure(const char *group, size_t bytes)
{
	struct samples all = { 0 }, al = { 0 }, fr = { 0 };
	unsigned fails = 0;
	double am, ap, fm, fp;
	char w[96];

	for (unsigned i = 0; i < arg.iters; i++) {
		uint64_t t0 = now_ns(), t1, t2;
		void *p = rte_zmalloc(NULL, bytes, 0);
		t1 = now_ns();
		if (!p) {
			fails++;
			continue;
		}
		rte_free(p);
		t2 = now_ns();
		samples_add(&all, (double)(t2 - t0) / 1e3);
		samples_add(&al, (double)(t1 - t0) / 1e3);
		samples_add(&fr, (double)(t2 - t1) / 1e3);
	}
	samples_summary(&al, &am, &ap);
	samples_summary(&fr, &fm, &fp);
	who(w, sizeof(w), "rte_zmalloc + rte_free");
	if (!all.n)
		result_missing(group, w, ROLE_PEER, "µs", "rte_zmalloc failed %u times: %s", fails,
			       rte_strerror(rte_errno));
	else
		result_samples(group, w, ROLE_PEER, "µs", &all,
			       "alloc %.2f µs (p99 %.1f), free %.2f µs (p99 %.1f); %u failed", am,
			       ap, fm, fp, fails);
	samples_free(&all);
	samples_free(&al);
	samples_free(&fr);
}

static void memzone_figure(const char *group, size_t bytes, unsigned n)
{
	struct samples all = { 0 }, al = { 0 }, fr = { 0 };
	unsigned fails = 0;
	int err = 0;
	double am, ap, fm, fp;
	char w[96];

	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns(), t1, t2, t3;
		const struct rte_memzone *mz = mz_reserve(bytes);
		t1 = now_ns();
		if (!mz) {
			fails++;
			err = rte_errno;
			continue;
		}
		touch(mz->addr, bytes);
		t2 = now_ns();
		rte_memzone_free(mz);
		t3 = now_ns();
		samples_add(&all, (double)(t3 - t0) / 1e3);
		samples_add(&al, (double)(t1 - t0) / 1e3);
		samples_add(&fr, (double)(t3 - t2) / 1e3);
	}
	samples_summary(&al, &am, &ap);
	samples_summary(&fr, &fm, &fp);
	who(w, sizeof(w), "memzone IOVA_CONTIG reserve + touch + free");
	if (!all.n)
		result_failed(group, w, ROLE_PEER, "µs", fails, "%zu KiB: %s", bytes / 1024,
			      rte_strerror(err));
	else
		result_samples(group, w, ROLE_PEER, "µs", &all,
			       "%zu KiB: reserve %.1f µs (p99 %.0f), free %.1f µs (p99 %.0f); %u of %u "
			       "reservations failed%s%s",
			       bytes / 1024, am, ap, fm, fp, fails, n, fails ? ": " : "",
			       fails ? rte_strerror(err) : "");
	samples_free(&all);
	samples_free(&al);
	samples_free(&fr);
}

static void v2p_figure(void)
{
	struct samples fast = { 0 }, slow = { 0 };
	unsigned nb = arg.iters / 5 + 10;
	uint8_t *p[64];
	char w[96];

	/* rte_malloc_virt2iova takes only what rte_malloc returned (it reads
	 * the element header in front), so it is measured on 64 such pointers;
	 * rte_mem_virt2iova takes any byte. */
	for (unsigned i = 0; i < 64; i++)
		p[i] = rte_zmalloc(NULL, 1024, 0);
	for (unsigned i = 0; i < 64; i++)
		if (!p[i]) {
			who(w, sizeof(w), "rte_malloc_virt2iova");
			result_missing(G_V2P, w, ROLE_PEER, "ns", "rte_zmalloc failed");
			goto out;
		}
	for (unsigned b = 0; b < nb; b++) {
		uint64_t t0 = now_ns(), acc = 0;
		for (unsigned i = 0; i < 1000; i++)
			acc += rte_malloc_virt2iova(p[i & 63]);
		samples_add(&fast, (double)(now_ns() - t0) / 1000);
		bench_sink += acc;
	}
	for (unsigned b = 0; b < nb; b++) {
		uint64_t t0 = now_ns(), acc = 0;
		for (unsigned i = 0; i < 20; i++)
			acc += rte_mem_virt2iova(p[i & 63] + (i * 61u) % 1024);
		samples_add(&slow, (double)(now_ns() - t0) / 20);
		bench_sink += acc;
	}
	who(w, sizeof(w), "rte_malloc_virt2iova");
	result_samples(G_V2P, w, ROLE_PEER, "ns", &fast,
		       "per call, batches of 1000; only the pointer rte_malloc returned, not any byte");
	who(w, sizeof(w), "rte_mem_virt2iova");
	result_samples(G_V2P, w, ROLE_PEER, "ns", &slow, "per call on any byte, batches of 20");
out:
	samples_free(&fast);
	samples_free(&slow);
	for (unsigned i = 0; i < 64; i++)
		rte_free(p[i]);
}

/* ---- fragmentation ---- */

struct runs {
	uint64_t next_iova, cur, largest;
	unsigned n;
};

static int run_walk(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *ctx)
{
	struct runs *r = ctx;

	(void)msl;
	if (!r->n || ms->iova != r->next_iova) {
		r->n++;
		r->cur = 0;
	}
	r->cur += ms->len;
	if (r->cur > r->largest)
		r->largest = r->cur;
	r->next_iova = ms->iova + ms->len;
	return 0;
}

/* The IOVA-contiguous runs of the memory EAL holds now (legacy mode: all of
 * it, reserved at start and sorted by physical address). */
static void runs_figure(void)
{
	struct runs r = { 0 };
	char w[96];

	rte_memseg_walk(run_walk, &r);
	who(w, sizeof(w), "largest IOVA-contiguous run of its memory at start");
	result_value(G_FRAG_RUN, w, ROLE_INFO, "MiB", (double)r.largest / MIB, 1,
		     "%u runs (memsegs walked in order)", r.n);
}

static void *frag_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return (void *)mz_reserve(bytes);
}

static void frag_free(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	(void)bytes;
	rte_memzone_free(p);
}

static void frag_at_end(void *ctx)
{
	struct rte_malloc_socket_stats *st = ctx;

	rte_malloc_get_socket_stats((int)rte_socket_id(), st);
}

static void frag_figure(void)
{
	struct rte_malloc_socket_stats st = { 0 };
	struct frag_ops ops = { .ctx = &st, .alloc = frag_alloc, .free = frag_free,
				.at_end = frag_at_end };
	struct frag_result r;
	char w[96];

	who(w, sizeof(w), "memzones IOVA_CONTIG");
	if (frag_run(&ops, (uint64_t)arg.pool_mb * MIB, 0.8, arg.frag_ops, 42, &r) < 0) {
		result_missing(G_FRAG_FAIL, w, ROLE_PEER, "%", "out of memory");
		return;
	}
	result_value(G_FRAG_FAIL, w, ROLE_PEER, "%", r.allocs ? 100.0 * r.fails_room / r.allocs : 0,
		     1, "%u of %u allocations failed (%u in all); %u ops in %.1f s", r.fails_room,
		     r.allocs, r.fails, r.ops, r.seconds);
	who(w, sizeof(w), "largest memzone IOVA_CONTIG that succeeded");
	result_value(G_FRAG_RUN, w, ROLE_PEER, "MiB", (double)r.largest_probe / MIB, 1,
		     "bisection with whole pages, %" PRIu64 " MiB held", r.held_end / MIB);
	who(w, sizeof(w), "greatest_free_size of the malloc heap");
	result_value(G_FRAG_RUN, w, ROLE_INFO, "MiB", (double)st.greatest_free_size / MIB, 1,
		     "free %zu MiB in the heap; not necessarily IOVA-contiguous",
		     st.heap_freesz_bytes / MIB);
}

/* ---- secondaries ---- */

static int run_secondary(const char *self, uint64_t *ret_eal, uint64_t *ret_first)
{
	char mem[16], buf[256];
	char *argv[] = { (char *)self, "--what", "secondary", "--mode", (char *)arg.mode,
			 "--label", (char *)arg.label, "--mem", mem, "--huge-dir",
			 (char *)arg.huge_dir, "--prefix", (char *)arg.prefix, NULL };
	uint64_t tm, ts, te, tr;

	snprintf(mem, sizeof(mem), "%u", arg.mem_mb);
	if (spawn_capture(argv, buf, sizeof(buf), NULL) != 0)
		return -ECHILD;
	if (sscanf(buf, "TIMES %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &tm, &ts, &te,
		   &tr) != 4)
		return -EPROTO;
	*ret_eal = te - ts;
	*ret_first = tr ? tr - tm : 0; /* 0: the memzone failed */
	return 0;
}

static void secondaries_figure(void)
{
	struct samples eal = { 0 }, first = { 0 };
	char self[512], w[96];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	unsigned nofirst = 0;
	int err = 0;

	if (len < 0)
		return;
	self[len] = 0;
	for (unsigned i = 0; i < arg.secondaries; i++) {
		uint64_t e = 0, f = 0;
		int r = run_secondary(self, &e, &f);
		if (r < 0) {
			err = r;
			continue;
		}
		samples_add(&eal, (double)e / 1e3);
		if (f)
			samples_add(&first, (double)f / 1e3);
		else
			nofirst++;
	}
	who(w, sizeof(w), "secondary process: main() → first memzone");
	if (first.n)
		result_samples(G_FIRST, w, ROLE_PEER, "µs", &first,
			       "--proc-type=secondary attached to a running primary; %u of %u "
			       "memzones failed",
			       nofirst, arg.secondaries);
	else if (nofirst)
		result_failed(G_FIRST, w, ROLE_PEER, "µs", nofirst,
			      "the secondaries attached, their 2 MiB IOVA_CONTIG memzone did not");
	else
		result_failed(G_FIRST, w, ROLE_PEER, "µs", arg.secondaries,
			      "the secondary did not attach: %s (see the EAL log)", strerror(-err));
	who(w, sizeof(w), "secondary process: rte_eal_init alone");
	if (eal.n)
		result_samples(G_FIRST, w, ROLE_INFO, "µs", &eal, NULL);
	samples_free(&eal);
	samples_free(&first);
}

/* ---- main ---- */

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "what", required_argument, NULL, 'w' },     { "mode", required_argument, NULL, 'M' },
		{ "label", required_argument, NULL, 'l' },    { "mem", required_argument, NULL, 'm' },
		{ "prealloc", no_argument, NULL, 'P' },       { "in-memory", no_argument, NULL, 'I' },
		{ "no-huge", no_argument, NULL, 'N' },        { "huge-dir", required_argument, NULL, 'd' },
		{ "prefix", required_argument, NULL, 'p' },   { "iters", required_argument, NULL, 'i' },
		{ "frag-ops", required_argument, NULL, 'f' }, { "pool", required_argument, NULL, 'o' },
		{ "secondaries", required_argument, NULL, 's' },
		{ "large", required_argument, NULL, 'L' },    { "carve", required_argument, NULL, 'C' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w': arg.what = optarg; break;
		case 'M': arg.mode = optarg; break;
		case 'l': arg.label = optarg; break;
		case 'm': arg.mem_mb = (unsigned)atoi(optarg); break;
		case 'P': arg.prealloc = true; break;
		case 'I': arg.in_memory = true; break;
		case 'N': arg.no_huge = true; break;
		case 'd': arg.huge_dir = optarg; break;
		case 'p': arg.prefix = optarg; break;
		case 'i': arg.iters = (unsigned)atoi(optarg); break;
		case 'f': arg.frag_ops = (unsigned)atoi(optarg); break;
		case 'o': arg.pool_mb = (unsigned)atoi(optarg); break;
		case 's': arg.secondaries = (unsigned)atoi(optarg); break;
		case 'L': arg.large_mb = (unsigned)atoi(optarg); break;
		case 'C': arg.carve = optarg; break;
		default: return -EINVAL;
		}
	}
	return 0;
}

/* The EAL command line of this configuration. */
static int eal_args(char **av, int max)
{
	static char mem[32], limit[48], prefix[160], dir[300];
	int n = 0;
	bool secondary = !strcmp(arg.what, "secondary");

	av[n++] = "contig-bench-dpdk";
	av[n++] = "-l";
	av[n++] = "0";
	av[n++] = "--no-pci";
	av[n++] = "--no-telemetry";
	av[n++] = "--log-level=lib.eal:notice";
	snprintf(mem, sizeof(mem), "%u", arg.mem_mb);
	if (arg.prefix) {
		snprintf(prefix, sizeof(prefix), "--file-prefix=%s", arg.prefix);
		av[n++] = prefix;
	}
	if (arg.no_huge) {
		av[n++] = "--no-huge";
		av[n++] = "-m";
		av[n++] = mem;
		av[n] = NULL;
		return n;
	}
	av[n++] = "--iova-mode=pa";
	if (arg.huge_dir) {
		snprintf(dir, sizeof(dir), "--huge-dir=%s", arg.huge_dir);
		av[n++] = dir;
	}
	if (secondary) {
		av[n++] = "--proc-type=secondary";
	} else if (!strcmp(arg.mode, "legacy")) {
		av[n++] = "--legacy-mem";
		av[n++] = "-m";
		av[n++] = mem;
	} else {
		if (arg.prealloc) {
			av[n++] = "--socket-mem";
			av[n++] = mem;
		}
		snprintf(limit, sizeof(limit), "--socket-limit=%u", arg.mem_mb);
		av[n++] = limit;
	}
	if (arg.in_memory && !secondary)
		av[n++] = "--in-memory";
	if (n >= max)
		abort();
	av[n] = NULL;
	return n;
}

int main(int argc, char **argv)
{
	uint64_t t_main = now_ns(), t_eal0, t_eal1, t_first = 0;
	char *eav[32];
	int ean;

	if (parse_args(argc, argv) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	results_stream_to(stdout);
	ean = eal_args(eav, 31);
	t_eal0 = now_ns();
	if (rte_eal_init(ean, eav) < 0) {
		fprintf(stderr, "contig-bench-dpdk: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	t_eal1 = now_ns();
	if (strcmp(arg.what, "ready")) {
		const struct rte_memzone *mz = mz_reserve(HUGE_2M);
		if (mz) {
			touch(mz->addr, HUGE_2M);
			t_first = now_ns();
			rte_memzone_free(mz);
		}
	}
	printf("TIMES %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", t_main, t_eal0, t_eal1,
	       t_first);
	if (!strcmp(arg.what, "all")) {
		if (rte_eal_iova_mode() != RTE_IOVA_PA)
			fprintf(stderr, "contig-bench-dpdk: IOVA is not PA: IOVA_CONTIG is not "
					"physical contiguity here\n");
		zmalloc_figure(G_SMALL4K, 4096);
		zmalloc_figure(G_SMALL64K, 64 * 1024);
		memzone_figure(G_ALLOC2M, HUGE_2M, arg.iters);
		memzone_figure(G_ALLOC64M, (size_t)arg.large_mb * MIB, arg.iters / 10 + 3);
		v2p_figure();
		if (arg.secondaries)
			secondaries_figure();
	}
	/* The page-granularity figures (dpdk_carve.c). */
	if (!strncmp(arg.what, "carve", 5))
		dpdk_carve(arg.what, arg.carve, arg.label, arg.mem_mb);
	if (!strcmp(arg.what, "frag")) {
		if (!strcmp(arg.mode, "legacy"))
			runs_figure();
		frag_figure();
	}
	rte_eal_cleanup();
	return 0;
}
