/* SPDX-License-Identifier: MIT */
/*
 * test_smoke.c - the benchmark in the test suite (suite 'bench-smoke'): run
 * contig-bench --smoke once (group setup) and check that it exited 0,
 * printed its table, and produced every figure: one test per figure, each
 * asserting that the row exists with samples (or, for a peer, a counted
 * failure such as DPDK's ENOMEM). No timing is asserted: the figures are
 * for BENCHMARKS.md, not for pass/fail.
 *
 * $CONTIG_BENCH is the program (meson sets it); the DPDK rows are expected
 * when $CONTIG_BENCH_DPDK is set (meson sets it when DPDK was found).
 *
 * The plots too: the run's curves (curve-*.tsv beside its TSV) are drawn
 * with $CONTIG_PLOT (bench/plot.sh, gnuplot), and every curve must have
 * given a non-empty, complete SVG. What a plot shows is not checked.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "carve.h"

struct row {
	char group[32], who[128], unit[16], note[200];
	double median;
	unsigned n, failed;
};

static struct row rows[640];
static size_t nrows;
static int bench_status = -1;
static bool table_printed;
/* The run's directory: its TSV, its curves and plots/ (removed at the end). */
static char run_dir[] = "/tmp/contig-bench-smoke-XXXXXX";
static bool have_run_dir;
static int plot_status = -1; /* bench/plot.sh's exit status; -1: not run */

struct want {
	const char *group;
	const char *who; /* substring of the row's name; "=x": exactly x */
	bool dpdk;
};

static const struct want wants[] = {
	{ "ipc", "bare round trip" },
	{ "ipc", "round trip + 1 memfd (SCM_RIGHTS)" },
	{ "ipc", "round trip + 1 memfd + mmap of it" },
	{ "ipc", "alloc+free trip, 1 page" },
	{ "ipc", "alloc+free trip, 32 pages" },
	{ "ipc", "connect + handshake + 1 page" },
	{ "zero", "non-temporal stores, 64 MiB" },
	{ "zero", "memset, 64 MiB" },
	{ "zero", "non-temporal stores, 2 MiB" },
	{ "zero", "memset, 2 MiB" },
	{ "fault", "mmap(MAP_HUGETLB) + touch, 1 page" },
	{ "fault", "munmap of it" },
	{ "fault", "memfd_create + fallocate + mmap POPULATE + pagemap" },
	{ "punch", "fallocate(PUNCH_HOLE" },
	{ "small4k", "contig: contig_alloc + contig_free, back to back" },
	{ "small4k", "contig: contig_alloc + contig_free, pool idle before each" },
	{ "small4k", "DPDK legacy: rte_zmalloc + rte_free", true },
	{ "small4k", "DPDK default: rte_zmalloc + rte_free", true },
	{ "small64k", "contig: contig_alloc + contig_free, back to back" },
	{ "small64k", "contig: contig_alloc + contig_free, pool idle before each" },
	{ "small64k", "DPDK legacy: rte_zmalloc + rte_free", true },
	{ "small64k", "DPDK default: rte_zmalloc + rte_free", true },
	{ "alloc2m", "raw: mmap(MAP_HUGETLB) + touch + pagemap + munmap" },
	{ "alloc2m", "contig: contig_alloc + touch + contig_free, back to back" },
	{ "alloc2m", "contig: contig_alloc + touch + contig_free, pool idle before each" },
	{ "alloc2m", "DPDK legacy: memzone IOVA_CONTIG", true },
	{ "alloc2m", "DPDK default: memzone IOVA_CONTIG", true },
	{ "alloc64m", "raw: mmap 64 MiB + touch + pagemap" },
	{ "alloc64m", "contig: contig_alloc + touch + contig_free, back to back" },
	{ "alloc64m", "contig: contig_alloc + touch + contig_free, pool idle before each" },
	{ "alloc64m", "DPDK legacy: memzone IOVA_CONTIG", true },
	{ "alloc64m", "DPDK default: memzone IOVA_CONTIG", true },
	{ "raw64", "raw: mappings that came out physically contiguous" },
	{ "raw64", "raw: physically contiguous runs per 64 MiB mapping" },
	{ "v2p", "raw: pread(/proc/self/pagemap)" },
	{ "v2p", "contig_phys_addr, same region as the last call" },
	{ "v2p", "contig_phys_addr, alternating between 2 regions" },
	{ "v2p", "DPDK legacy: rte_malloc_virt2iova", true },
	{ "v2p", "DPDK legacy: rte_mem_virt2iova", true },
	{ "v2p", "DPDK default: rte_malloc_virt2iova", true },
	{ "v2p", "DPDK default: rte_mem_virt2iova", true },
	{ "rtt", "bare round trip" },
	{ "rtt", "contig: contig_query" },
	{ "first", "the same trip against the IPC floor server, fresh process" },
	{ "first", "contig: main() → contig_alloc(2 MiB) returned" },
	{ "first", "contig client: fork → main()" },
	{ "first", "DPDK legacy: secondary process: main() → first memzone", true },
	{ "first", "DPDK legacy: secondary process: rte_eal_init alone", true },
	{ "first", "DPDK default: secondary process: main() → first memzone", true },
	{ "first", "DPDK default: secondary process: rte_eal_init alone", true },
	{ "first", "DPDK legacy: primary process: main() → first memzone", true },
	{ "first", "DPDK legacy: primary process: rte_eal_init alone", true },
	{ "first", "DPDK default: primary process: main() → first memzone", true },
	{ "first", "DPDK default: primary process: rte_eal_init alone", true },
	{ "firstexec", "fork + exec + exit + wait of the same client doing nothing" },
	{ "firstexec", "contig: fork + exec + first region + exit + wait" },
	{ "firstexec", "DPDK legacy primary: fork + exec + first memzone", true },
	{ "firstexec", "DPDK default primary: fork + exec + first memzone", true },
	{ "ready", "pages, 1 thread" },
	{ "ready", "threads" },
	{ "ready", "× (memfd + fallocate + mmap + pagemap), 1 thread" },
	{ "ready", "contig: contigd --pool" },
	{ "ready", "contig: its log line 'pinned in N ms'" },
	{ "ready", "contig oversample = 0: contigd --pool" },
	{ "ready", "contig oversample = 0: its log line 'pinned in N ms'" },
	{ "ready", "DPDK legacy: rte_eal_init", true },
	{ "ready", "DPDK default: rte_eal_init", true },
	{ "ready", "DPDK --no-huge: rte_eal_init", true },
	{ "fragfail", "=contig" },
	{ "fragfail", "DPDK legacy: memzones IOVA_CONTIG", true },
	{ "fragfail", "DPDK default: memzones IOVA_CONTIG", true },
	{ "fragrun", "contig: largest allocation that succeeded" },
	{ "fragrun", "contig: largest_free_run from contig_query" },
	{ "fragrun", "contig: the pool's largest run before the workload" },
	{ "fragrun", "DPDK legacy: largest IOVA-contiguous run of its memory at start", true },
	{ "fragrun", "DPDK legacy: largest memzone IOVA_CONTIG that succeeded", true },
	{ "fragrun", "DPDK legacy: greatest_free_size of the malloc heap", true },
	{ "fragrun", "DPDK default: largest memzone IOVA_CONTIG that succeeded", true },
	{ "fragrun", "DPDK default: greatest_free_size of the malloc heap", true },
	{ "reclaim", "non-temporal zeroing of 2 MiB pages" },
	{ "reclaim", "kernel fault-in, 1 thread" },
	{ "reclaim", "memfd page acquire, 1 thread" },
	{ "reclaim", "contig: a region freed, pages/s until all are free again" },
	{ "reclaim", "contig: the same counted from the contig_free call" },
	{ "conc2", "contig: 2 processes, per alloc+touch+free" },
	{ "conc8", "contig: 8 processes, per alloc+touch+free" },
	{ "conc64", "contig: 64 processes, per alloc+touch+free" },
	{ "concops", "contig: 2 processes, aggregate" },
	{ "concops", "contig: 8 processes, aggregate" },
	{ "concops", "contig: 64 processes, aggregate" },
	/* The same figures with freed pages zeroed in place (trusted hosts). */
	{ "small4k", "contig zero-in-place: contig_alloc + contig_free, back to back" },
	{ "small4k", "contig zero-in-place: contig_alloc + contig_free, pool idle before each" },
	{ "small64k", "contig zero-in-place: contig_alloc + contig_free, back to back" },
	{ "small64k", "contig zero-in-place: contig_alloc + contig_free, pool idle before each" },
	{ "alloc2m", "contig zero-in-place: contig_alloc + touch + contig_free, back to back" },
	{ "alloc2m", "contig zero-in-place: contig_alloc + touch + contig_free, pool idle" },
	{ "alloc64m", "contig zero-in-place: contig_alloc + touch + contig_free, back to back" },
	{ "alloc64m", "contig zero-in-place: contig_alloc + touch + contig_free, pool idle" },
	{ "reclaim", "contig zero-in-place: a region freed, pages/s until all are free again" },
	{ "reclaim", "contig zero-in-place: the same counted from the contig_free call" },
	{ "conc2", "contig zero-in-place: 2 processes, per alloc+touch+free" },
	{ "conc8", "contig zero-in-place: 8 processes, per alloc+touch+free" },
	{ "conc64", "contig zero-in-place: 64 processes, per alloc+touch+free" },
	{ "concops", "contig zero-in-place: 2 processes, aggregate" },
	{ "concops", "contig zero-in-place: 8 processes, aggregate" },
	{ "concops", "contig zero-in-place: 64 processes, aggregate" },
	{ "fragfail", "=contig zero-in-place" },
	{ "fragrun", "contig zero-in-place: largest allocation that succeeded" },
	{ "fragrun", "contig zero-in-place: largest_free_run from contig_query" },
	{ "fragrun", "contig zero-in-place: the pool's largest run before the workload" },
	/* Page granularity (carve.c, dpdk_carve.c). The 1 GiB-page count is
	 * not here: most machines cannot reserve 1 GiB pages. */
	{ "carve-4k-ws", "=contig: contig_alloc + touch + contig_free, 16 live" },
	{ "carve-4k-ws", "contig CONTIG_CARVE=0: contig_alloc + touch + contig_free, 16 live" },
	{ "carve-4k-ws", "DPDK legacy: rte_zmalloc + touch + rte_free, 16 live", true },
	{ "carve-4k-b2b", "=contig: contig_alloc + touch + contig_free, back to back" },
	{ "carve-4k-b2b", "contig CONTIG_CARVE=0: contig_alloc + touch + contig_free, back to back" },
	{ "carve-4k-b2b", "DPDK legacy: rte_zmalloc + touch + rte_free, back to back", true },
	{ "carve-64k-ws", "=contig: contig_alloc + touch + contig_free, 16 live" },
	{ "carve-64k-ws", "DPDK legacy: rte_zmalloc + touch + rte_free, 16 live", true },
	{ "carve-64k-b2b", "=contig: contig_alloc + touch + contig_free, back to back" },
	{ "carve-64k-b2b", "DPDK legacy: rte_zmalloc + touch + rte_free, back to back", true },
	{ "carve-256k-ws", "=contig: contig_alloc + touch + contig_free, 16 live" },
	{ "carve-256k-ws", "DPDK legacy: rte_zmalloc + touch + rte_free, 16 live", true },
	{ "carve-256k-b2b", "=contig: contig_alloc + touch + contig_free, back to back" },
	{ "carve-256k-b2b", "DPDK legacy: rte_zmalloc + touch + rte_free, back to back", true },
	{ "carve-v2p16", "contig: contig_phys_addr, interior bytes of 16 regions" },
	{ "carve-v2p16", "DPDK legacy: rte_mem_virt2memseg + offset", true },
	{ "carve-v2pmany", "contig: contig_phys_addr, 2000 live 4 KiB regions" },
	{ "carve-v2pmany", "DPDK legacy: rte_mem_virt2memseg + offset, 2000 live", true },
	{ "carve-threads", "contig: 2 threads ÷ 1 thread" },
	{ "carve-threads", "contig: 1 thread" },
	{ "carve-threads", "contig: 2 threads together" },
	{ "carve-threads", "DPDK legacy: 2 threads ÷ 1 thread", true },
	{ "carve-mix", "contig: bytes in live regions ÷ bytes the process holds" },
	{ "carve-mix", "DPDK legacy: heap allocated ÷ heap size", true },
	{ "carve-mix", "DPDK dynamic: heap allocated ÷ heap size", true },
	{ "carve-count", "=contig: 4 KiB regions live at once, one process" },
	{ "carve-count", "contig CONTIG_CARVE=0: 4 KiB regions live at once" },
	{ "carve-count", "DPDK legacy: rte_malloc(4 KiB) live at once", true },
	{ "carve-count64k", "=contig: 64 KiB regions live at once, one process" },
	{ "carve-count64k", "contig CONTIG_CARVE=0: 64 KiB regions live at once" },
	{ "carve-count64k", "DPDK legacy: rte_malloc(64 KiB) live at once", true },
	{ "carve-threads", "2 threads ÷ 1 thread, memset + touch of a private 4 KiB" },
	{ "carve-threads", "contig: the same, each thread keeping one more region live" },
	{ "carve-threads", "floor: 1 thread" },
	{ "carve-threads", "floor: 2 threads together" },
	{ "carve-v2p16", "DPDK legacy: rte_malloc_virt2iova(base) + offset", true },
	/* Small regions in the main table: carved (default) and whole pages. */
	{ "small4k", "contig, CONTIG_CARVE=0: contig_alloc + contig_free, back to back" },
	{ "small4k", "contig, CONTIG_CARVE=0 CONTIG_STASH=0: contig_alloc + contig_free" },
	{ "small64k", "contig, CONTIG_CARVE=0: contig_alloc + contig_free, back to back" },
	{ "small64k", "contig, CONTIG_CARVE=0 CONTIG_STASH=0: contig_alloc + contig_free" },
	/* Restart from the fd store beside a cold start (restart.c). */
	{ "restart", "cold start: contigd --pool" },
	{ "restart", "SIGTERM → serving again" },
	{ "restart", "SIGTERM: signal → old contigd reaped" },
	{ "restart", "SIGTERM: successor fork → READY=1" },
	{ "restart", "SIGTERM: calling client's longest call across it" },
	{ "restart", "SIGKILL → serving again" },
	{ "restart", "SIGKILL: signal → old contigd reaped" },
	{ "restart", "SIGKILL: successor fork → READY=1" },
	{ "restart", "SIGKILL: calling client's longest call across it" },
	{ "restart", "calling client: one round trip (contig_query)" },
	{ "rss", "contig: contigd with 32 pages" },
	{ "rss", "contig: contigd with 64 pages" },
	/* Fragmentation over time, idle repair on and off (scale_frag.c). */
	{ "scale-frag", "bound: the longest run the pool's free pages and the kernel's" },
	{ "scale-frag", "=repair on: largest free run at the end of each idle gap" },
	{ "scale-frag", "=repair on: largest free run ÷ bound, worst gap with a round" },
	{ "scale-frag", "=repair off: largest free run at the end of each idle gap" },
	{ "scale-frag", "=repair off: largest free run ÷ bound, worst gap" },
};

/* Curves the smoke run must write (curve-NAME.tsv) and plot.sh draw. */
static const char *const curves[] = {
	"scale-frag-largest",
	"scale-frag-runs",
	"scale-ready-2m",
	"scale-reclaim",
	"scale-sessions-latency",
	"scale-sessions-rss",
	"scale-listing",
	"scale-tput",
	"scale-tput-cpu",
	"scale-tput-p99",
};

/*
 * Values that must be sane whatever the machine's speed: counts, byte
 * ratios and what the notes say (carved or not, how many failed); a time is
 * never bounded (0 to infinity). The smoke run's count figures use a
 * 256 MiB pool of 2 MiB pages (128 pages), as the full run does.
 */
struct sane {
	const char *group, *who; /* as in struct want */
	double min, max;
	const char *note_has, *note_has2; /* substrings of the row's note, or NULL */
	bool dpdk;
};

static const struct sane sanes[] = {
	/* Carving is the default: 65,536 regions of 4 KiB fit in 256 MiB. */
	{ "carve-count", "=contig: 4 KiB regions live at once, one process", 60000, 65536, "carved" },
	/* The escape hatch: a whole 2 MiB page per region. */
	{ "carve-count", "contig CONTIG_CARVE=0: 4 KiB regions live at once", 1, 128,
	  "whole pool pages" },
	{ "carve-count64k", "=contig: 64 KiB regions live at once, one process", 4000, 4096,
	  "carved" },
	{ "carve-count64k", "contig CONTIG_CARVE=0: 64 KiB regions live at once", 1, 128,
	  "whole pool pages" },
	{ "carve-count", "DPDK legacy: rte_malloc(4 KiB) live at once", 1, 65536, NULL, NULL, true },
	/* Live bytes never exceed what the process holds. */
	{ "carve-mix", "contig: bytes in live regions ÷ bytes the process holds", 0.01, 1.0,
	  ", 0 failed" },
	{ "carve-mix", "DPDK legacy: heap allocated ÷ heap size", 0.01, 1.0, NULL, NULL, true },
	/* Every looked-up byte had a physical address. */
	{ "carve-v2p16", "contig: contig_phys_addr, interior bytes of 16 regions", 0, INFINITY,
	  "; 0 addresses had no physical address" },
	{ "carve-v2pmany", "contig: contig_phys_addr, 2000 live 4 KiB regions", 0, INFINITY,
	  "; 0 without a physical address" },
	{ "carve-v2p16", "DPDK legacy: rte_mem_virt2memseg + offset", 0, INFINITY,
	  "; 0 without an IOVA", NULL, true },
	/* Carved at every size of the timed loops, and nothing failed in them. */
	{ "carve-4k-ws", "=contig: contig_alloc + touch + contig_free, 16 live", 0, INFINITY,
	  "carved; ", "; 0 failed" },
	{ "carve-4k-b2b", "=contig: contig_alloc + touch + contig_free, back to back", 0, INFINITY,
	  "carved; ", "; 0 failed" },
	{ "carve-64k-ws", "=contig: contig_alloc + touch + contig_free, 16 live", 0, INFINITY,
	  "carved; ", "; 0 failed" },
	{ "carve-64k-b2b", "=contig: contig_alloc + touch + contig_free, back to back", 0, INFINITY,
	  "carved; ", "; 0 failed" },
	{ "carve-256k-ws", "=contig: contig_alloc + touch + contig_free, 16 live", 0, INFINITY,
	  "carved; ", "; 0 failed" },
	{ "carve-256k-b2b", "=contig: contig_alloc + touch + contig_free, back to back", 0, INFINITY,
	  "carved; ", "; 0 failed" },
	{ "carve-4k-b2b", "contig CONTIG_CARVE=0: contig_alloc + touch + contig_free, back to back",
	  0, INFINITY, "whole pool pages; ", "; 0 failed" },
	{ "carve-threads", "contig: 2 threads ÷ 1 thread", 0, INFINITY, "carved; ", "; 0 failed" },
	{ "carve-4k-b2b", "DPDK legacy: rte_zmalloc + touch + rte_free, back to back", 0, INFINITY,
	  "; 0 failed", NULL, true },
	/* Restart (smoke: 5 sessions, 2 rounds): every restart resumed from the
	 * store, every session kept its regions and connection, no call failed. */
	{ "restart", "SIGTERM → serving again", 0, INFINITY, "2 of 2 resumed from the store" },
	{ "restart", "SIGKILL → serving again", 0, INFINITY, "2 of 2 resumed from the store" },
	{ "restart", "=restarts that resumed from the store (not cold)", 1, 1, "4 of 4" },
	{ "restart", "=sessions that kept their regions and connection", 1, 1, "5 of 5 (5 answered)" },
	{ "restart", "=calling client: calls that failed", 0, 0 },
	/* The bound holds the largest free run's own frames: never below it. */
	{ "scale-frag", "=repair on: largest free run ÷ bound, worst gap with a round", 0, 1 },
	{ "scale-frag", "=repair off: largest free run ÷ bound, worst gap", 0, 1 },
};

static void parse_tsv(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];

	if (!f)
		return;
	while (nrows < sizeof(rows) / sizeof(rows[0]) && fgets(line, sizeof(line), f)) {
		char *field[9], *s = line;
		int n = 0;

		while (n < 9) {
			field[n++] = s;
			s = strchr(s, '\t');
			if (!s)
				break;
			*s++ = 0;
		}
		if (n < 8)
			continue;
		struct row *r = &rows[nrows];
		/* Names longer than a row's fields are no figure of ours: skip. */
		if (snprintf(r->group, sizeof(r->group), "%s", field[0]) >= (int)sizeof(r->group) ||
		    snprintf(r->who, sizeof(r->who), "%s", field[1]) >= (int)sizeof(r->who) ||
		    snprintf(r->unit, sizeof(r->unit), "%s", field[7]) >= (int)sizeof(r->unit))
			continue;
		snprintf(r->note, sizeof(r->note), "%s", n > 8 ? field[8] : "");
		r->note[strcspn(r->note, "\n")] = 0;
		r->median = strtod(field[3], NULL);
		r->n = (unsigned)strtoul(field[5], NULL, 10);
		r->failed = (unsigned)strtoul(field[6], NULL, 10);
		nrows++;
	}
	fclose(f);
}

/* Draw the run's curves: $CONTIG_PLOT DIR (its stderr goes to ours). */
static int run_plot(const char *dir)
{
	const char *plot = getenv("CONTIG_PLOT");
	int status;
	pid_t pid;

	if (!plot)
		return -1;
	pid = fork();
	if (pid == 0) {
		int o = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (o >= 0)
			dup2(o, STDOUT_FILENO);
		execl(plot, plot, dir, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run the benchmark once for every test, then plot its curves. */
static int run_bench(void **state)
{
	const char *bench = getenv("CONTIG_BENCH");
	char tsv[64], out[64];
	int status;
	FILE *f;
	char line[512];
	pid_t pid;

	(void)state;
	if (!bench) {
		fprintf(stderr, "CONTIG_BENCH is not set\n");
		return -1;
	}
	if (!mkdtemp(run_dir))
		return -1;
	have_run_dir = true;
	snprintf(tsv, sizeof(tsv), "%s/results.tsv", run_dir);
	snprintf(out, sizeof(out), "%s/results.md", run_dir);
	pid = fork();
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (o >= 0)
			dup2(o, STDOUT_FILENO);
		execl(bench, bench, "--smoke", "--tsv", tsv, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	bench_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	parse_tsv(tsv);
	f = fopen(out, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "| figure | median | p99 |", 25))
			table_printed = true;
	if (f)
		fclose(f);
	plot_status = run_plot(run_dir);
	return 0;
}

/* Every file in dir (one level: no directories but plots/), then dir. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!strcmp(e->d_name, "plots"))
			remove_dir(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int remove_run_dir(void **state)
{
	(void)state;
	if (have_run_dir)
		remove_dir(run_dir);
	return 0;
}

static bool matches(const struct want *w, const struct row *r)
{
	if (strcmp(w->group, r->group))
		return false;
	if (w->who[0] == '=')
		return !strcmp(w->who + 1, r->who);
	return strstr(r->who, w->who) != NULL;
}

/*
 * A peer's figure that could not run because the hugepages the host gave
 * it were too scattered (its row in the group says CARVE_HOST_SCATTERED):
 * the machine's layout, not a defect of the bench, so the check is skipped,
 * saying why. contig's own rows never get the pass.
 */
static void skip_if_host_scattered(const struct want *w)
{
	if (!w->dpdk)
		return;
	for (size_t i = 0; i < nrows; i++)
		if (!strcmp(rows[i].group, w->group) && strstr(rows[i].note, CARVE_HOST_SCATTERED)) {
			print_message("skipped: %s (%s): %s\n", w->who, w->group, rows[i].note);
			skip();
		}
}

static void test_exit_status(void **state)
{
	(void)state;
	assert_int_equal(bench_status, 0);
	assert_true(table_printed);
}

static void test_figure(void **state)
{
	const struct want *w = *state;
	const struct row *found = NULL;

	for (size_t i = 0; i < nrows && !found; i++)
		if (matches(w, &rows[i]))
			found = &rows[i];
	skip_if_host_scattered(w);
	if (!found)
		fail_msg("no row '%s' in group '%s'", w->who, w->group);
	/* Produced: samples, or a peer's counted failure (ENOMEM every time). */
	if (!found->n && !found->failed)
		fail_msg("row '%s' (%s) was not measured: %s", found->who, found->group,
			 found->note);
	if (found->n)
		assert_true(isfinite(found->median) && found->median >= 0);
}

static void test_sane(void **state)
{
	const struct sane *w = *state;
	const struct want as_want = { w->group, w->who, w->dpdk };
	const struct row *found = NULL;

	for (size_t i = 0; i < nrows && !found; i++)
		if (matches(&as_want, &rows[i]))
			found = &rows[i];
	skip_if_host_scattered(&as_want);
	if (!found)
		fail_msg("no row '%s' in group '%s'", w->who, w->group);
	if (!found->n)
		fail_msg("row '%s' (%s) was not measured: %s", found->who, found->group,
			 found->note);
	if (!(found->median >= w->min && found->median <= w->max))
		fail_msg("row '%s' (%s): %g %s, expected %g to %g", found->who, found->group,
			 found->median, found->unit, w->min, w->max);
	for (int k = 0; k < 2; k++) {
		const char *has = k ? w->note_has2 : w->note_has;
		if (has && !strstr(found->note, has))
			fail_msg("row '%s' (%s): note '%s' lacks '%s'", found->who, found->group,
				 found->note, has);
	}
}

static bool gnuplot_installed(void)
{
	const char *path = getenv("PATH");
	char buf[4096], exe[4200];

	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (char *save, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(exe, sizeof(exe), "%s/gnuplot", dir);
		if (access(exe, X_OK) == 0)
			return true;
	}
	return false;
}

/* An SVG that gnuplot finished: non-empty, with its opening and closing tag.
 * NULL, or what is wrong with it. */
static const char *svg_problem(const char *path)
{
	const char *why = NULL;
	struct stat st;
	char *buf;
	FILE *f;
	size_t n;

	if (stat(path, &st) < 0)
		return "missing";
	if (st.st_size == 0)
		return "empty";
	buf = calloc(1, (size_t)st.st_size + 1);
	f = fopen(path, "re");
	if (!buf || !f) {
		why = "unreadable";
		goto out;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	buf[n] = 0;
	if (!strstr(buf, "<svg"))
		why = "without <svg";
	else if (!strstr(buf, "</svg>"))
		why = "without </svg> (cut short)";
out:
	if (f)
		fclose(f);
	free(buf);
	return why;
}

static void assert_plotted(void)
{
	if (!gnuplot_installed())
		fail_msg("gnuplot is not installed, so the smoke run's curves cannot be drawn: "
			 "apt-get install gnuplot-nox (scripts/contig.sh test installs it)");
	if (!getenv("CONTIG_PLOT"))
		fail_msg("CONTIG_PLOT (bench/plot.sh) is not set");
	if (plot_status != 0)
		fail_msg("%s %s exited %d (its messages are above)", getenv("CONTIG_PLOT"), run_dir,
			 plot_status);
}

/* Every curve the run wrote was drawn. */
static void test_plots(void **state)
{
	DIR *d;
	struct dirent *e;
	unsigned ncurves = 0;

	(void)state;
	assert_plotted();
	d = opendir(run_dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char svg[512];
		const char *why;

		if (strncmp(e->d_name, "curve-", 6) || len < 10 || strcmp(e->d_name + len - 4, ".tsv"))
			continue;
		ncurves++;
		snprintf(svg, sizeof(svg), "%s/plots/%.*s.svg", run_dir, (int)(len - 10),
			 e->d_name + 6);
		why = svg_problem(svg);
		if (why) {
			closedir(d);
			fail_msg("%s: its plot %s is %s", e->d_name, svg, why);
		}
	}
	closedir(d);
	if (!ncurves)
		fail_msg("the run wrote no curve-*.tsv in %s", run_dir);
}

/* One curve the run must have written, and its plot. */
static void test_curve(void **state)
{
	const char *name = *state, *why;
	char path[512];

	snprintf(path, sizeof(path), "%s/curve-%s.tsv", run_dir, name);
	if (access(path, R_OK) != 0)
		fail_msg("the run wrote no %s", path);
	assert_plotted();
	snprintf(path, sizeof(path), "%s/plots/%s.svg", run_dir, name);
	why = svg_problem(path);
	if (why)
		fail_msg("plot %s is %s", path, why);
}

int main(void)
{
	static struct CMUnitTest tests[2 + sizeof(wants) / sizeof(wants[0]) +
				       sizeof(sanes) / sizeof(sanes[0]) +
				       sizeof(curves) / sizeof(curves[0])];
	static char cnames[sizeof(curves) / sizeof(curves[0])][80];
	static char names[sizeof(wants) / sizeof(wants[0])][200];
	static char snames[sizeof(sanes) / sizeof(sanes[0])][220];
	bool dpdk = getenv("CONTIG_BENCH_DPDK") != NULL;
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_exit_status);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		if (wants[i].dpdk && !dpdk)
			continue;
		snprintf(names[i], sizeof(names[i]), "%s: %s", wants[i].group, wants[i].who);
		tests[n++] = (struct CMUnitTest){ .name = names[i], .test_func = test_figure,
						  .initial_state = (void *)&wants[i] };
	}
	for (size_t i = 0; i < sizeof(sanes) / sizeof(sanes[0]); i++) {
		if (sanes[i].dpdk && !dpdk)
			continue;
		snprintf(snames[i], sizeof(snames[i]), "sane: %s: %s", sanes[i].group,
			 sanes[i].who);
		tests[n++] = (struct CMUnitTest){ .name = snames[i], .test_func = test_sane,
						  .initial_state = (void *)&sanes[i] };
	}
	tests[n++] = (struct CMUnitTest){ .name = "plots: every curve drawn",
					  .test_func = test_plots };
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		snprintf(cnames[i], sizeof(cnames[i]), "curve: %s", curves[i]);
		tests[n++] = (struct CMUnitTest){ .name = cnames[i], .test_func = test_curve,
						  .initial_state = (void *)curves[i] };
	}
	return _cmocka_run_group_tests("bench-smoke", tests, n, run_bench, remove_run_dir);
}
