/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the benchmark programs share: the clock, sample sets with
 * their median and p99, the table of results (one row per figure and
 * implementation) and its text forms, the fragmentation workload, and the
 * names of the figure groups, which the DPDK helper process uses too so its
 * rows land in the same table.
 *
 * A result row is final once added: groups are printed in the order of
 * bench_groups[], rows in the order they were added, and ratios are taken
 * against the group's FLOOR row and its CONTIG row at print time.
 */
#ifndef CONTIG_BENCH_H
#define CONTIG_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define MIB (UINT64_C(1) << 20)
#define HUGE_2M (UINT64_C(2) << 20)

uint64_t now_ns(void);
void sleep_us(unsigned us);
/* Keep a computed value alive without a store the compiler can drop. */
extern volatile uint64_t bench_sink;

struct samples {
	double *v;
	size_t n, cap;
};
void samples_add(struct samples *s, double x);
void samples_free(struct samples *s);
/* Sorts in place; 0 and 0 for an empty set. */
void samples_summary(struct samples *s, double *ret_median, double *ret_p99);
/* The median, NAN when there is no sample (a curve's missing point). */
double samples_median(struct samples *s);

enum role {
	ROLE_FLOOR,  /* the physical floor this group is compared to */
	ROLE_CONTIG, /* the contig figure the peers are compared to */
	ROLE_PEER,   /* DPDK, raw mmap + pagemap */
	ROLE_INFO,   /* a variant or a second floor: shown, ratio to the floor only */
};

struct result {
	char group[24];
	char who[96];
	enum role role;
	double median, p99;
	unsigned n;      /* samples; 0 = not measured (note says why) */
	unsigned failed; /* n = 0 because the operation failed this many times out of as many */
	char unit[12];
	char note[160];
};

/* Add a row; median and p99 from the samples (which are left sorted). */
void result_samples(const char *group, const char *who, enum role role, const char *unit,
		    struct samples *s, const char *note_fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Add a row with one value (p99 = median, n = 1), or n = 0 if it failed. */
void result_value(const char *group, const char *who, enum role role, const char *unit,
		  double value, unsigned n, const char *note_fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* A row that could not be measured: n = 0 and why. */
void result_missing(const char *group, const char *who, enum role role, const char *unit,
		    const char *why_fmt, ...) __attribute__((format(printf, 5, 6)));

/* A row whose operation failed every one of attempts times: the failure is
 * the figure (DPDK's ENOMEM), not a gap in the benchmark. */
void result_failed(const char *group, const char *who, enum role role, const char *unit,
		   unsigned attempts, const char *why_fmt, ...) __attribute__((format(printf, 6, 7)));

/* One raw sample, to be merged later with others of its kind (results_take):
 * n = 1, median = p99 = value, and failed = operations that failed while it
 * was measured (not a failed row). */
void result_raw(const char *group, const char *who, enum role role, const char *unit,
		double value, unsigned failed, const char *note_fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* Remove every row whose group starts with prefix from the table, in order;
 * their count, and *ret (malloc'd, the caller frees it). */
size_t results_take(const char *prefix, struct result **ret);

/* Run argv[0] (argv NULL-terminated) and wait for it; what it printed on
 * stdout in buf (NUL-terminated, cut to size - 1), and the clock just
 * before its fork in *ret_forked (may be NULL). Its exit status (128 + the
 * signal if one ended it), or -errno. */
int spawn_capture(char *const argv[], char *buf, size_t size, uint64_t *ret_forked);

/* Rows go to out (a pipe to the parent) as "RESULT\t..." lines instead of the
 * table: the DPDK helper's mode. */
void results_stream_to(FILE *out);
/* Parse one "RESULT\t..." line into the table; false if it is not one. */
bool result_parse_line(const char *line);
/* Every line from fd (consumed: closed at its end) into the table; the
 * lines that are not rows go to other (may be NULL). */
void results_read_fd(int fd, void (*other)(const char *line, void *ctx), void *ctx);

size_t results_count(void);
size_t results_missing(void); /* rows with n = 0 */
const struct result *result_at(size_t i);
const struct result *result_find(const char *group, const char *who);

struct bench_group {
	const char *id;
	const char *title;
	bool higher_better;
};
extern const struct bench_group bench_groups[];
extern const size_t bench_ngroups;

/* The whole table in Markdown, groups in order, with ratios. */
void results_print_markdown(FILE *f);
/* One line per row, tab-separated, for scripts and the smoke test. */
void results_print_tsv(FILE *f);

/*
 * The fragmentation workload, the same for every allocator: a pool of
 * total_bytes kept about fill full by random allocations of 2..32 MiB
 * (whole MiB, uniform) and frees of a random live one, nops operations in
 * all, from a fixed seed. An allocation that fails while the bytes held
 * (rounded up to 2 MiB pages) leave room for it counts as a failure "with
 * enough free memory".
 */
struct frag_ops {
	void *ctx;
	void *(*alloc)(void *ctx, size_t bytes);
	void (*free)(void *ctx, void *p, size_t bytes);
	/* Optional: wait until frees have settled (contig's reclaim), the
	 * workload holding held bytes (whole 2 MiB pages). */
	void (*settle)(void *ctx, uint64_t held);
	/* Optional: called once when the ops ran out, before the probe. */
	void (*at_end)(void *ctx);
};

struct frag_result {
	unsigned ops, allocs, frees, fails, fails_room;
	uint64_t held_end;          /* bytes held when the ops ran out */
	uint64_t largest_probe;     /* largest allocation that succeeded at the end */
	double seconds;
};

int frag_run(const struct frag_ops *ops, uint64_t total_bytes, double fill, unsigned nops,
	     uint64_t seed, struct frag_result *ret);

/* Figure group ids: one place, so the helper and the table agree. */
#define G_FLOOR_IPC     "ipc"
#define G_FLOOR_ZERO    "zero"
#define G_FLOOR_FAULT   "fault"
#define G_FLOOR_PUNCH   "punch"
#define G_SMALL4K       "small4k"
#define G_SMALL64K      "small64k"
#define G_ALLOC2M       "alloc2m"
#define G_ALLOC64M      "alloc64m"
#define G_V2P           "v2p"
#define G_RTT           "rtt"
#define G_FIRST         "first"
#define G_FIRSTEXEC     "firstexec"
#define G_READY         "ready"
#define G_FRAG_FAIL     "fragfail"
#define G_FRAG_RUN      "fragrun"
#define G_RECLAIM       "reclaim"
#define G_CONC2         "conc2"
#define G_CONC8         "conc8"
#define G_CONC64        "conc64"
#define G_CONCOPS       "concops"
#define G_RSS           "rss"
#define G_RAW64         "raw64"
#define G_RESTART       "restart"
#define G_SCALE_FRAG    "scale-frag"
#define G_SCALE_READY_2M "scale-ready-2m"
#define G_SCALE_READY_1G "scale-ready-1g"
#define G_SCALE_RECLAIM  "scale-reclaim"
/* Scale (issue 19): scale_sessions.c, scale_tput.c. */
#define G_SCALE_SESS    "scale-sess"
#define G_SCALE_RSS     "scale-rss"
#define G_SCALE_LIST    "scale-list"
#define G_SCALE_TPUT    "scale-tput"
#define G_SCALE_CPU     "scale-cpu"
#define G_SCALE_P99     "scale-p99"

/* The main program's run: sizes and counts, and where things are. */
struct run_cfg {
	bool smoke;
	unsigned iters;        /* back-to-back iterations of a cheap figure */
	unsigned ready_pages;  /* pages for the start-up figures (1024) */
	uint64_t pool_bytes;   /* contig pool and DPDK memory for the workloads */
	uint64_t large_bytes;  /* the "64 MiB" figures (less in --smoke's small pool) */
	unsigned frag_ops;
	double conc_seconds;
	char tmpdir[64];
	char contigd[512];
	char contigctl[512];
	char first_client[512]; /* contig-bench-first */
	char dpdk_helper[512];  /* contig-bench-dpdk, or "" */
};

/* The number a sysfs or procfs file holds, -1 if none; write one: 0 or
 * -errno. A /proc/meminfo field in KiB, -1 if none. */
long file_long(const char *path);
int file_write_long(const char *path, long v);
long meminfo_kb(const char *field);

/* Make sure at least n 2 MiB hugepages are free, raising nr_hugepages by
 * the shortfall; returns how many are free (may be fewer than n). */
long hugepages_ensure(long n);
/* 1 GiB hugepages: make n free, raising their nr_hugepages by the
 * shortfall; how many are free then, or -1 if the kernel has no 1 GiB size.
 * nr_hugepages before and after, for hugepages_1g_restore. */
long hugepages_1g_reserve(long n, long *ret_nr_before, long *ret_nr_after);
/* Give back what hugepages_1g_reserve raised. */
void hugepages_1g_restore(long nr_before, long nr_after);
/* nr_hugepages when the run first looked, and after its last raise (-1: none). */
extern long hugepages_nr_before, hugepages_nr_after;

void floors_run(const struct run_cfg *cfg);
/* A connected SOCK_SEQPACKET unix socket to path, or -1. */
int seqpacket_connect(const char *path);
/* The IPC floor's server (a forked child) on path: request k (first byte) is
 * answered with k hugetlb memfds. Returns its pid or -errno. */
pid_t ipc_server_start(const char *path);
void ipc_server_stop(pid_t pid, const char *path);
/* Milliseconds to fault in npages 2 MiB pages: one mapping touched from
 * nthreads threads / one memfd per page, serially; < 0 on failure. */
double fault_bulk(size_t npages, unsigned nthreads);
double memfd_bulk(size_t npages);
/* Start a contigd with cfg->ready_pages pages (and config lines, or NULL),
 * time it, wait for its background repair (if it runs one), stop it. 0 or
 * -errno. *ret_repair_ms < 0 and ret_repair "" when no repair was seen. */
struct ready_once {
	double ready_ms, pinned_ms, repair_ms;
	long rss_kb, huge_kb;
	char runs[96];      /* "N runs, largest X" when ready */
	char repair[256];   /* the repair's log line */
};
int contig_ready_once(const struct run_cfg *cfg, const char *config, struct ready_once *ret);
enum dpdk_ready { DPDK_READY_LEGACY, DPDK_READY_DEFAULT, DPDK_READY_NOHUGE };
/* rte_eal_init of one configuration with cfg->ready_pages pages, in ms; < 0 on failure. */
double dpdk_ready_once(const struct run_cfg *cfg, enum dpdk_ready which);
/* The start-up figures, interleaved round by round so that the machine's
 * load drifts over all of them alike. */
void ready_run(const struct run_cfg *cfg);
void raw_run(const struct run_cfg *cfg);
void contig_figures_run(const struct run_cfg *cfg);
/* The fragmentation workload on a fresh contigd (revoking, or zeroing in
 * place), and on DPDK in a fresh process per mode. */
void contig_frag_run(const struct run_cfg *cfg, bool zero_in_place);
void dpdk_frag_run(const struct run_cfg *cfg);
void dpdk_figures_run(const struct run_cfg *cfg);
/* contigd restarted from systemd's fd store with clients on, beside a cold
 * start of the same pool (restart.c); the targets, met or not, from
 * the last run (nothing if it did not run). */
void restart_run(const struct run_cfg *cfg);
void restart_print_targets(FILE *f);
/* Fragmentation over time with idle repair on and off, and the bound the
 * kernel's free hugepages and the pool could form (scale_frag.c): rows in
 * G_SCALE_FRAG and the curves scale-frag-largest and scale-frag-runs. */
void scale_frag_run(const struct run_cfg *cfg);

/* Issue 19's scale curves (--only scale-ready, scale-reclaim; tiny sizes in
 * --smoke): contigd's ready time against pool size, 2 MiB and 1 GiB pages
 * (scale_ready.c), and its reclaim rate against pages freed
 * (scale_reclaim.c), each beside the kernel's floor in the same run. */
void scale_ready_run(const struct run_cfg *cfg);
void scale_reclaim_run(const struct run_cfg *cfg);
/* Milliseconds to fault in npages 1 GiB pages: one mapping touched from
 * nthreads threads (at most one per page); < 0 on failure. */
double fault_bulk_1g(size_t npages, unsigned nthreads);
/* Online CPUs, 1..16. */
unsigned scale_threads(void);
/* RLIMIT_NOFILE's soft limit up to the hard one: a pool page is an fd. */
void scale_raise_nofile(void);
/* May a pool of bytes be reserved, free_huge_bytes of it free already?
 * false, with why, when MemAvailable would keep less than 4 GiB or bytes
 * is beyond $CONTIG_BENCH_SCALE_MAX (a size: 1G, 512M). */
bool scale_size_allowed(uint64_t bytes, uint64_t free_huge_bytes, char *why, size_t n);
/* Free (unreserved) 2 MiB hugepages in bytes; the 2 MiB nr_hugepages; put
 * it back to nr_found if it is higher (what the part raised). */
uint64_t scale_free_2m_bytes(void);
long scale_nr_2m(void);
void scale_restore_2m(long nr_found);
/* Wait until n hugepages of page_size are free (a stopped contigd's come
 * back after its exit): 0, or -ETIMEDOUT. */
int scale_wait_hugepages(uint64_t page_size, long n, unsigned timeout_ms);
/* Issue 19: many sessions connected (scale_sessions.c) and throughput
 * against client processes (scale_tput.c), as curves (curve.h) and rows;
 * the sessions targets, met or not, from the last run. */
void scale_sessions_run(const struct run_cfg *cfg);
void scale_sessions_print_targets(FILE *f);
void scale_tput_run(const struct run_cfg *cfg);

#endif
