/* SPDX-License-Identifier: MIT */
/*
 * carve.h - the page-granularity figures (issue 15), measured for contig
 * (carve.c) and for DPDK (dpdk_carve.c, in contig-bench-dpdk) with the same
 * parameters, the same address patterns and the same loops:
 *
 *   alloc+touch+free of 4, 64, 256 KiB: a working set of live regions
 *   replaced one at a time, and one region back to back (ns per pair);
 *   virtual → physical on interior bytes of 16 regions of 4 KiB–2 MiB, and
 *   of 100,000 live 4 KiB regions at random; 2 threads against 1 allocating
 *   4 KiB; a random mix of 4 KiB–1 MiB kept 80% full (bytes live ÷ bytes
 *   held); 4 KiB regions live at once from a 256 MiB pool and from 2 GiB of
 *   1 GiB pages.
 *
 * The loops are inline templates taking the allocator's calls as constant
 * function pointers: each side's compiler turns them into direct calls, so
 * neither side pays an indirection the other does not.
 *
 * Every figure is a row of the common table (bench.h); carve_print_targets
 * prints one line per target of the issue from those rows: contig, the
 * peer, the ratio, the target, met or not.
 */
#ifndef CONTIG_BENCH_CARVE_H
#define CONTIG_BENCH_CARVE_H

#include "bench.h"

#define KIB (UINT64_C(1) << 10)
#define CARVE_UNIT 4096u

/* Figure groups (bench_groups[] in groups.c prints them in this order). */
#define G_CARVE_4K_WS     "carve-4k-ws"
#define G_CARVE_4K_B2B    "carve-4k-b2b"
#define G_CARVE_64K_WS    "carve-64k-ws"
#define G_CARVE_64K_B2B   "carve-64k-b2b"
#define G_CARVE_256K_WS   "carve-256k-ws"
#define G_CARVE_256K_B2B  "carve-256k-b2b"
#define G_CARVE_V2P16     "carve-v2p16"
#define G_CARVE_V2PMANY   "carve-v2pmany"
#define G_CARVE_THREADS   "carve-threads"
#define G_CARVE_MIX       "carve-mix"
#define G_CARVE_COUNT     "carve-count"
#define G_CARVE_COUNT64K  "carve-count64k"
#define G_CARVE_COUNT1G   "carve-count1g"
/* Not in bench_groups[]: in the TSV only (the DPDK legacy heap-size search). */
#define G_CARVE_PROBE     "carve-probe"

/* Sizes and counts, the same for both sides (passed to the DPDK helper as
 * "key=value,..."). */
struct carve_params {
	unsigned rounds;      /* rounds of the timed figures, contig and DPDK alternating */
	unsigned runs;        /* runs of each timed loop per round; the figure is the median
			       * of all rounds' runs */
	unsigned thr_runs;    /* runs of the threads figure */
	unsigned pairs4k;     /* pairs per run at 4 KiB (fewer for larger sizes) */
	unsigned ws;          /* live regions of the working-set loop */
	unsigned batches;     /* batches of lookups per round */
	unsigned many;        /* live 4 KiB regions of the many-regions lookup */
	unsigned thr_ms;      /* length of one threads run */
	unsigned mix_mb;      /* the mix's capacity; it is kept 80% full */
	unsigned mix_ops;
	unsigned mix_samples; /* live ÷ held samples, in the second half of the trace */
	unsigned count_cap;   /* the count figure stops here */
	unsigned count_mb;    /* the count figure's pool */
};

void carve_params_default(struct carve_params *p, bool smoke);
/* "key=value,..." of every field; the parse leaves unknown keys alone. */
void carve_params_format(const struct carve_params *p, char *buf, size_t len);
int carve_params_parse(struct carve_params *p, const char *spec);
/* Pairs per run at that size: fewer as the touch grows. */
unsigned carve_pairs(const struct carve_params *p, size_t bytes);

/*
 * The timed figures (alloc+touch+free, lookups) run in p->rounds rounds,
 * contig's processes and DPDK's helper taking turns, so that a change in
 * the machine's load (2 shared CPUs, a noisy host) weighs on both alike.
 * Each run or batch is a raw row (group CARVE_RAW + the figure's group,
 * failed = allocations that failed during it); carve_run merges them into
 * one row per figure: the median of every run, with the note of the last.
 */
#define CARVE_RAW "~"
/* Both sides run the timed rounds on this CPU (DPDK's EAL is given -l 0):
 * the two vCPUs of a shared host need not be equally fast at a given
 * moment, and a process left to the scheduler would land on either. */
#define CARVE_TIMED_CPU 0
/* Pin the calling thread to CARVE_TIMED_CPU; 0 or -errno. */
int carve_pin_timed(void);
/* buf (32 bytes) = CARVE_RAW group; returns buf. */
const char *carve_raw_group(char *buf, const char *group);
void carve_raw(const char *group, const char *who, enum role role, const char *unit,
	       double value, unsigned failed, const char *note);

#define CARVE_NSIZES 3
extern const size_t carve_sizes[CARVE_NSIZES];
extern const char *const carve_group_ws[CARVE_NSIZES], *const carve_group_b2b[CARVE_NSIZES];

/* The 16 regions of the mixed lookup figure, and its pattern of CARVE_V2P_N
 * interior bytes (never the base) of the regions r[] (sizes as
 * carve_v2p_sizes): their region, offset and address; fixed seed. */
#define CARVE_V2P_REGIONS 16
#define CARVE_V2P_N 4096
extern const size_t carve_v2p_sizes[CARVE_V2P_REGIONS];
/* What a peer's note says when an allocation failed because the host's
 * hugepages it was given had no physically adjacent run long enough (a
 * buffer past one page needs one in DPDK's legacy mode): the host's
 * layout, not the peer's or contig's code. The smoke run skips on it. */
#define CARVE_HOST_SCATTERED "host's hugepages too scattered"
void carve_v2p_pattern(uint8_t *const *r, uint32_t *ret_region, uint32_t *ret_offset,
		       void **ret_addr);
/* The many-regions lookup's pattern: CARVE_MANY_N random interior bytes
 * (never the base) of the nr 4 KiB regions r[], fixed seed. */
#define CARVE_MANY_N 65536
void carve_many_pattern(uint8_t *const *r, unsigned nr, void **ret_addr);

/* xorshift64*: the same sequence everywhere. */
static inline uint64_t carve_rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

#define CARVE_INLINE static inline __attribute__((always_inline))

CARVE_INLINE void carve_touch(void *p, size_t bytes)
{
	volatile uint8_t *b = p;

	for (size_t off = 0; off < bytes; off += CARVE_UNIT)
		b[off] = 1;
}

/*
 * The working-set loop: slot[0..ws) hold live regions of bytes; each of
 * pairs steps frees a random one, allocates its replacement and touches
 * every 4 KiB of it. ns per step; failed allocations are counted and leave
 * the slot empty (refilled by a later step).
 */
CARVE_INLINE double carve_ws_loop(void *(*alloc)(size_t), void (*release)(void *), void **slot,
				  unsigned ws, size_t bytes, unsigned pairs, uint64_t *rng,
				  unsigned *fails)
{
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < pairs; i++) {
		unsigned k = (unsigned)(carve_rng(rng) % ws);
		if (slot[k])
			release(slot[k]);
		slot[k] = alloc(bytes);
		if (slot[k])
			carve_touch(slot[k], bytes);
		else
			(*fails)++;
	}
	return (double)(now_ns() - t0) / pairs;
}

/* One region allocated, touched and freed, back to back: ns per pair. */
CARVE_INLINE double carve_b2b_loop(void *(*alloc)(size_t), void (*release)(void *), size_t bytes,
				   unsigned pairs, unsigned *fails)
{
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < pairs; i++) {
		void *p = alloc(bytes);
		if (!p) {
			(*fails)++;
			continue;
		}
		carve_touch(p, bytes);
		release(p);
	}
	return (double)(now_ns() - t0) / pairs;
}

/* n lookups of addr[0..n): ns per lookup (the sum keeps them alive). */
CARVE_INLINE double carve_lookup_loop(uint64_t (*lookup)(const void *), void *const *addr,
				      size_t n)
{
	uint64_t t0 = now_ns(), acc = 0;

	for (size_t i = 0; i < n; i++)
		acc += lookup(addr[i]);
	bench_sink += acc;
	return (double)(now_ns() - t0) / (double)n;
}

/* The lookup figure's rows: a warm-up pass, then batches raw rows of ns
 * per lookup over addr[0..n). */
CARVE_INLINE void carve_lookup_rows(uint64_t (*lookup)(const void *), void *const *addr, size_t n,
				    unsigned batches, const char *group, const char *who,
				    enum role role, const char *note)
{
	carve_lookup_loop(lookup, addr, n);
	for (unsigned b = 0; b < batches; b++)
		carve_raw(group, who, role, "ns", carve_lookup_loop(lookup, addr, n), 0, note);
}

/* How many of addr[0..n) lookup finds no address for (it returns bad). */
CARVE_INLINE unsigned carve_lookup_misses(uint64_t (*lookup)(const void *), void *const *addr,
					  size_t n, uint64_t bad)
{
	unsigned misses = 0;

	for (size_t i = 0; i < n; i++)
		misses += lookup(addr[i]) == bad;
	return misses;
}

/*
 * The random mix: sizes log-uniform over 4 KiB..1 MiB (whole 4 KiB units),
 * allocated while the live bytes are under 80% of mix_mb, else a random
 * live region freed; mix_ops operations from a fixed seed. Decisions depend
 * only on the trace's own accounting, so both sides run the same trace
 * (apart from failed allocations, which are counted). In the second half,
 * mix_samples times, held() reports the bytes the allocator holds for it:
 * the figure is the median of live ÷ held.
 */
struct mix_ops {
	void *ctx;
	void *(*alloc)(void *ctx, size_t bytes);
	void (*free)(void *ctx, void *p);
	/* 0 and the bytes held now, or < 0 (that sample is skipped). */
	int (*held)(void *ctx, uint64_t *ret_bytes);
	/* Optional: 0 and the bytes the allocator counts as allocated now
	 * (headers and padding included); sampled with held. */
	int (*used)(void *ctx, uint64_t *ret_bytes);
};

struct mix_result {
	unsigned ops, allocs, frees, fails;
	uint64_t peak_live;
	struct samples ratio;  /* live ÷ held, one per sample */
	struct samples own;    /* used ÷ held, when ops->used is given */
	struct samples held;   /* bytes held at each sample */
	double seconds;
};

int mix_run(const struct mix_ops *ops, const struct carve_params *p, struct mix_result *ret);
void mix_result_free(struct mix_result *r);

/*
 * The threads figure (carve_threads.c): n (1..CARVE_THR_MAX) threads
 * allocating, touching and freeing 4 KiB back to back for ms; pairs per
 * second of all together, or -errno. Failed allocations are added to *fails.
 */
#define CARVE_THR_MAX 2
struct carve_thr_cfg {
	void *(*alloc)(size_t bytes); /* NULL: the floor, memset + touch of a private 4 KiB */
	void (*release)(void *p);
	void (*on_start)(void);       /* optional: first thing in each thread */
	bool keep;                    /* each thread keeps one more region live throughout */
};
double carve_thr_run(const struct carve_thr_cfg *cfg, unsigned n, unsigned ms,
		     unsigned long *fails);
/* One run of 1 thread then one of 2, added to one, two (per second) and
 * ratio (2 ÷ 1) when both ran. */
struct carve_thr_samples {
	struct samples one, two, ratio;
};
void carve_thr_round(const struct carve_thr_cfg *cfg, unsigned ms, struct carve_thr_samples *s,
		     unsigned long *fails);
void carve_thr_samples_free(struct carve_thr_samples *s);

/* contig-bench: every page-granularity figure, contig's and (if built)
 * DPDK's, side by side. */
void carve_run(const struct run_cfg *cfg);
/* The targets of issue 15, one line each, from the rows in the table
 * (carve_targets.c). */
void carve_print_targets(FILE *f, bool smoke);

/* contig-bench-dpdk's side: what is "carve" (one round of the timed
 * figures, raw rows), "carve-threads", "carve-mix", "carve-mix-probe" (the
 * trace alone: one G_CARVE_PROBE row with its failures) or "carve-count"
 * (4 and 64 KiB); label names the configuration. */
void dpdk_carve(const char *what, const char *spec, const char *label, unsigned mem_mb);

/* contig-bench's side of it (dpdk_run.c): one helper process on a private
 * hugetlbfs mount of mem_mb, legacy (-m mem_mb) or dynamic (--in-memory,
 * --socket-limit mem_mb). Its exit status, or -1. */
int dpdk_carve_helper(const struct run_cfg *cfg, const char *label, bool legacy, unsigned mem_mb,
		      const char *what, const char *spec);

#endif
