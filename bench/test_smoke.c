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
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct row {
	char group[32], who[128], unit[16];
	double median;
	unsigned n, failed;
};

static struct row rows[512];
static size_t nrows;
static int bench_status = -1;
static bool table_printed;

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
	{ "rss", "contig: contigd with 32 pages" },
	{ "rss", "contig: contigd with 64 pages" },
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
		r->median = strtod(field[3], NULL);
		r->n = (unsigned)strtoul(field[5], NULL, 10);
		r->failed = (unsigned)strtoul(field[6], NULL, 10);
		nrows++;
	}
	fclose(f);
}

/* Run the benchmark once for every test. */
static int run_bench(void **state)
{
	const char *bench = getenv("CONTIG_BENCH");
	char tsv[] = "/tmp/contig-bench-smoke-XXXXXX", out[64];
	int fd, status;
	FILE *f;
	char line[512];
	pid_t pid;

	(void)state;
	if (!bench) {
		fprintf(stderr, "CONTIG_BENCH is not set\n");
		return -1;
	}
	fd = mkstemp(tsv);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(out, sizeof(out), "%s.md", tsv);
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
	unlink(tsv);
	unlink(out);
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
	if (!found)
		fail_msg("no row '%s' in group '%s'", w->who, w->group);
	/* Produced: samples, or a peer's counted failure (ENOMEM every time). */
	if (!found->n && !found->failed)
		fail_msg("row '%s' (%s) was not measured", found->who, found->group);
	if (found->n)
		assert_true(isfinite(found->median) && found->median >= 0);
}

int main(void)
{
	static struct CMUnitTest tests[1 + sizeof(wants) / sizeof(wants[0])];
	static char names[sizeof(wants) / sizeof(wants[0])][200];
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
	return _cmocka_run_group_tests("bench-smoke", tests, n, run_bench, NULL);
}
