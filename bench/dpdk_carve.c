/* SPDX-License-Identifier: MIT */
/*
 * dpdk_carve.c - the page-granularity figures (carve.h), DPDK's side, in
 * contig-bench-dpdk after rte_eal_init: rte_zmalloc + rte_free for the
 * alloc+touch+free loops, rte_mem_virt2memseg + offset for the lookups
 * (iova = ms->iova + (va - ms->addr), any byte of any rte_malloc'd buffer),
 * rte_malloc_get_socket_stats for the heap's allocated and total bytes,
 * rte_malloc until NULL for the count. The loops, sizes and address
 * patterns are carve.c's, from carve.h.
 *
 * EAL pins the main thread to its one lcore (-l 0); the timed rounds stay
 * there (CARVE_TIMED_CPU, where contig's run too); the threads figure
 * undoes it, so that DPDK's threads, like contig's, run where the
 * scheduler puts them (rte_malloc is callable from any thread).
 */
#define _GNU_SOURCE
#include "carve.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>

static const char *label;
static unsigned mem_mb;

static void *d_alloc(size_t n)
{
	return rte_zmalloc(NULL, n, 0);
}

static void d_free(void *p)
{
	rte_free(p);
}

static uint64_t d_iova(const void *va)
{
	const struct rte_memseg *ms = rte_mem_virt2memseg(va, NULL);

	return ms ? ms->iova + ((uintptr_t)va - (uintptr_t)ms->addr) : RTE_BAD_IOVA;
}

static void unpin(void)
{
	cpu_set_t all;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&all);
	for (long i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, &all);
	pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

/* ---- 1. alloc+touch+free ---- */

static void fig_af(const struct carve_params *p)
{
	void **slot = calloc(p->ws, sizeof(*slot));
	char who[128], note[96];

	if (!slot)
		return;
	for (unsigned i = 0; i < CARVE_NSIZES; i++) {
		size_t bytes = carve_sizes[i];
		unsigned pairs = carve_pairs(p, bytes), fails = 0;
		uint64_t rng = 7;

		for (unsigned k = 0; k < p->ws; k++) {
			slot[k] = d_alloc(bytes);
			if (slot[k])
				carve_touch(slot[k], bytes);
			else
				fails++;
		}
		carve_ws_loop(d_alloc, d_free, slot, p->ws, bytes, pairs / 10 + 1, &rng, &fails);
		snprintf(who, sizeof(who), "%s: rte_zmalloc + touch + rte_free, %u live", label,
			 p->ws);
		snprintf(note, sizeof(note), "%zu KiB, align 0; -m %u; CPU %d; %u pairs a run",
			 bytes / 1024, mem_mb, CARVE_TIMED_CPU, pairs);
		for (unsigned r = 0; r < p->runs; r++) {
			double v = carve_ws_loop(d_alloc, d_free, slot, p->ws, bytes, pairs, &rng,
						 &fails);
			carve_raw(carve_group_ws[i], who, ROLE_PEER, "ns", v, fails, note);
			fails = 0;
		}
		for (unsigned k = 0; k < p->ws; k++) {
			rte_free(slot[k]);
			slot[k] = NULL;
		}

		carve_b2b_loop(d_alloc, d_free, bytes, pairs / 10 + 1, &fails);
		fails = 0;
		snprintf(who, sizeof(who), "%s: rte_zmalloc + touch + rte_free, back to back", label);
		for (unsigned r = 0; r < p->runs; r++) {
			double v = carve_b2b_loop(d_alloc, d_free, bytes, pairs, &fails);
			carve_raw(carve_group_b2b[i], who, ROLE_PEER, "ns", v, fails, note);
			fails = 0;
		}
	}
	free(slot);
}

/* ---- 2. lookups on 16 mixed buffers ---- */

struct longest_run {
	size_t bytes, page;
};

static int longest_run_cb(const struct rte_memseg_list *msl, const struct rte_memseg *ms,
			  size_t len, void *arg)
{
	struct longest_run *run = arg;

	(void)msl;
	if (len > run->bytes)
		run->bytes = len;
	run->page = ms->hugepage_sz;
	return 0;
}

/*
 * Whether an rte_malloc of bytes failed for want of physically adjacent
 * hugepages: it needs more than one page (with its element's header), the
 * heap has that much free, but no free block that long. In legacy mode
 * (no remapping) a block longer than a page is a run of pages physically
 * adjacent, so that is the host's layout, not a full heap. The longest
 * IOVA-contiguous chunk EAL has, in ret_longest, for the note.
 */
static bool host_scattered(size_t bytes, size_t *ret_longest)
{
	struct longest_run run = { 0, 0 };
	struct rte_malloc_socket_stats st;
	size_t need = bytes + 4096;

	rte_memseg_contig_walk(longest_run_cb, &run);
	*ret_longest = run.bytes;
	if (!run.page || need <= run.page ||
	    rte_malloc_get_socket_stats((int)rte_socket_id(), &st) < 0)
		return false;
	return st.heap_freesz_bytes >= need && st.greatest_free_size < need;
}

static void fig_v2p16(const struct carve_params *p)
{
	static uint32_t reg[CARVE_V2P_N], off[CARVE_V2P_N];
	static void *addr[CARVE_V2P_N];
	uint8_t *r[CARVE_V2P_REGIONS] = { 0 };
	unsigned bad = 0;
	char who[128], raw[32], note[96];

	snprintf(who, sizeof(who), "%s: rte_mem_virt2memseg + offset, the same pattern", label);
	for (unsigned i = 0; i < CARVE_V2P_REGIONS; i++) {
		r[i] = rte_malloc(NULL, carve_v2p_sizes[i], 4096);
		if (!r[i]) {
			size_t longest;
			bool scattered = host_scattered(carve_v2p_sizes[i], &longest);

			result_missing(carve_raw_group(raw, G_CARVE_V2P16), who, ROLE_PEER, "ns",
				       "rte_malloc(%zu): %s%s; longest IOVA-contiguous chunk %zu KiB",
				       carve_v2p_sizes[i], rte_strerror(rte_errno),
				       scattered ? "; " CARVE_HOST_SCATTERED : "", longest >> 10);
			goto out;
		}
	}
	carve_v2p_pattern(r, reg, off, addr);
	bad = carve_lookup_misses(d_iova, addr, CARVE_V2P_N, RTE_BAD_IOVA);
	snprintf(note, sizeof(note), "16 rte_malloc(size, 4096); %u without an IOVA", bad);
	carve_lookup_rows(d_iova, addr, CARVE_V2P_N, p->batches, G_CARVE_V2P16, who, ROLE_PEER,
			  note);

	/* rte_malloc_virt2iova answers only for the pointer rte_malloc
	 * returned: the caller must know the base and add the offset. */
	bad = 0;
	for (size_t i = 0; i < CARVE_V2P_N; i++)
		bad += rte_malloc_virt2iova(r[reg[i]]) == RTE_BAD_IOVA;
	snprintf(who, sizeof(who), "%s: rte_malloc_virt2iova(base) + offset, the same pattern",
		 label);
	snprintf(note, sizeof(note), "needs the pointer rte_malloc returned; %u without an IOVA",
		 bad);
	for (unsigned b = 0; b <= p->batches; b++) {
		uint64_t t0 = now_ns(), acc = 0;
		for (size_t i = 0; i < CARVE_V2P_N; i++)
			acc += rte_malloc_virt2iova(r[reg[i]]) + off[i];
		bench_sink += acc;
		if (b) /* the first batch warms up */
			carve_raw(G_CARVE_V2P16, who, ROLE_INFO, "ns",
				  (double)(now_ns() - t0) / CARVE_V2P_N, 0, note);
	}
out:
	for (unsigned i = 0; i < CARVE_V2P_REGIONS; i++)
		rte_free(r[i]);
}

/* ---- 3. lookups among many live 4 KiB buffers ---- */

static void fig_v2pmany(const struct carve_params *p)
{
	unsigned want = p->many, got = 0, bad = 0;
	uint8_t **r = calloc(want, sizeof(*r));
	void **addr = calloc(CARVE_MANY_N, sizeof(*addr));
	char who[128], raw[32], note[96];

	snprintf(who, sizeof(who), "%s: rte_mem_virt2memseg + offset, %u live rte_malloc(4 KiB)",
		 label, want);
	if (!r || !addr)
		goto out;
	for (; got < want; got++) {
		r[got] = rte_malloc(NULL, 4096, 0);
		if (!r[got])
			break;
		r[got][0] = 1;
	}
	if (got < want) {
		result_failed(carve_raw_group(raw, G_CARVE_V2PMANY), who, ROLE_PEER, "ns", 1,
			      "only %u of %u rte_malloc(4096) with -m %u", got, want, mem_mb);
		goto out;
	}
	carve_many_pattern(r, want, addr);
	bad = carve_lookup_misses(d_iova, addr, CARVE_MANY_N, RTE_BAD_IOVA);
	snprintf(note, sizeof(note), "random bytes; %u without an IOVA", bad);
	carve_lookup_rows(d_iova, addr, CARVE_MANY_N, p->batches, G_CARVE_V2PMANY, who, ROLE_PEER,
			  note);
out:
	for (unsigned i = 0; r && i < got; i++)
		rte_free(r[i]);
	free(r);
	free(addr);
}

/* ---- 4. threads ---- */

static void fig_threads(const struct carve_params *p)
{
	const struct carve_thr_cfg cfg = { .alloc = d_alloc, .release = d_free, .on_start = unpin };
	struct carve_thr_samples s = { 0 };
	unsigned long fails = 0;
	char who[128];

	for (unsigned r = 0; r < p->thr_runs; r++)
		carve_thr_round(&cfg, p->thr_ms, &s, &fails);
	snprintf(who, sizeof(who), "%s: 2 threads ÷ 1 thread, 4 KiB rte_zmalloc+touch+rte_free",
		 label);
	result_samples(G_CARVE_THREADS, who, ROLE_PEER, "×", &s.ratio,
		       "non-EAL threads, not pinned; median of %u runs of %u ms; %lu failed",
		       p->thr_runs, p->thr_ms, fails);
	snprintf(who, sizeof(who), "%s: 1 thread", label);
	result_samples(G_CARVE_THREADS, who, ROLE_INFO, "pairs/s", &s.one, NULL);
	snprintf(who, sizeof(who), "%s: 2 threads together", label);
	result_samples(G_CARVE_THREADS, who, ROLE_INFO, "pairs/s", &s.two, NULL);
	carve_thr_samples_free(&s);
}

/* ---- 5. the random mix ---- */

static void *mix_alloc(void *ctx, size_t bytes)
{
	(void)ctx;
	return rte_malloc(NULL, bytes, 0);
}

static void mix_free(void *ctx, void *p)
{
	(void)ctx;
	rte_free(p);
}

/* The heap's size (held) or its allocated bytes (used), from this
 * socket's malloc statistics. */
static int heap_bytes(bool used, uint64_t *ret)
{
	struct rte_malloc_socket_stats st;

	memset(&st, 0, sizeof(st));
	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) < 0)
		return -EINVAL;
	*ret = used ? st.heap_allocsz_bytes : st.heap_totalsz_bytes;
	return 0;
}

static int mix_held(void *ctx, uint64_t *ret)
{
	(void)ctx;
	return heap_bytes(false, ret);
}

static int mix_used(void *ctx, uint64_t *ret)
{
	(void)ctx;
	return heap_bytes(true, ret);
}

static void fig_mix(const struct carve_params *p, bool probe)
{
	struct mix_ops ops = { .alloc = mix_alloc, .free = mix_free };
	struct mix_result r;
	double med, p99, lmed, lp99, hmed, hp99;
	char who[128];

	if (!probe) {
		ops.held = mix_held;
		ops.used = mix_used;
	}
	if (mix_run(&ops, p, &r) < 0)
		return;
	if (probe) {
		snprintf(who, sizeof(who), "%s -m %u: failed allocations of the trace", label,
			 mem_mb);
		result_value(G_CARVE_PROBE, who, ROLE_INFO, "allocs", r.fails, 1, "%u ops", r.ops);
		mix_result_free(&r);
		return;
	}
	snprintf(who, sizeof(who), "%s: heap allocated ÷ heap size", label);
	if (!r.own.n) {
		result_missing(G_CARVE_MIX, who, ROLE_PEER, "ratio", "no heap statistics");
		mix_result_free(&r);
		return;
	}
	samples_summary(&r.ratio, &lmed, &lp99);
	samples_summary(&r.held, &hmed, &hp99);
	samples_summary(&r.own, &med, &p99);
	result_samples(G_CARVE_MIX, who, ROLE_PEER, "ratio", &r.own,
		       "rte_malloc(size, 0); %s; live ÷ heap size %.2f; heap median %.0f MiB; "
		       "%u failed",
		       strcmp(label, "DPDK legacy") ? "--in-memory" :
						       "-m: the smallest that runs the trace",
		       lmed, hmed / MIB, r.fails);
	mix_result_free(&r);
}

/* ---- 6. regions live at once ---- */

static void fig_count(const struct carve_params *p, size_t bytes, const char *group)
{
	unsigned cap = p->count_cap, got = 0;
	void **r = calloc(cap, sizeof(*r));
	char who[128];

	snprintf(who, sizeof(who), "%s: rte_malloc(%zu KiB) live at once, -m %u", label,
		 bytes / 1024, mem_mb);
	if (!r)
		return;
	for (; got < cap; got++) {
		r[got] = rte_malloc(NULL, bytes, 0);
		if (!r[got])
			break;
		carve_touch(r[got], bytes);
	}
	result_value(group, who, ROLE_PEER, "regions", got, 1,
		     "align 0 (4096 would cost more); %.1f%% of -m in live regions; then %s",
		     100.0 * (double)got * (double)bytes / ((double)mem_mb * MIB),
		     got == cap ? "the cap" : "NULL");
	for (unsigned i = 0; i < got; i++)
		rte_free(r[i]);
	free(r);
}

void dpdk_carve(const char *what, const char *spec, const char *lab, unsigned mb)
{
	struct carve_params p;

	label = lab;
	mem_mb = mb;
	carve_params_default(&p, false);
	if (spec && carve_params_parse(&p, spec) < 0) {
		fprintf(stderr, "contig-bench-dpdk: bad --carve '%s'\n", spec);
		return;
	}
	if (!strcmp(what, "carve")) {
		carve_pin_timed();
		fig_af(&p);
		fig_v2p16(&p);
		fig_v2pmany(&p);
	} else if (!strcmp(what, "carve-threads")) {
		unpin();
		fig_threads(&p);
	} else if (!strcmp(what, "carve-mix")) {
		fig_mix(&p, false);
	} else if (!strcmp(what, "carve-mix-probe")) {
		fig_mix(&p, true);
	} else if (!strcmp(what, "carve-count")) {
		fig_count(&p, 4 * KIB, G_CARVE_COUNT);
		fig_count(&p, 64 * KIB, G_CARVE_COUNT64K);
	}
}
