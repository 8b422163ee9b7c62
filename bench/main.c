/* SPDX-License-Identifier: MIT */
/*
 * main.c - contig-bench: one run, one machine, one set of hugepages. It
 * measures the floors, the raw mmap + pagemap peer, contig (a contigd of its
 * own from the build tree) and DPDK (contig-bench-dpdk, one process per EAL
 * configuration), then prints one Markdown table with medians, p99 and the
 * ratios to the floor and to contig, and the machine it ran on.
 *
 *   contig-bench [--smoke] [--no-dpdk]
 *                [--only floors,raw,ready,contig,frag,dpdk,carve,restart,
 *                        scale-ready,scale-reclaim,scale-sessions,scale-tput,scale-frag]
 *                [--contigd PATH] [--tsv FILE]
 *
 * carve: the page-granularity figures, contig's and DPDK's (carve.c), with
 * a table of issue 15's targets above the main one.
 * restart: contigd restarted from systemd's fd store with 100 sessions,
 * beside a cold start (restart.c), with a table of issue 20's targets; it
 * needs twice the pool in hugepages (4 GiB).
 * scale-*: issue 19's curves, each beside its floor or peer in the same run
 * (curve-*.tsv beside --tsv; bench/plot.sh draws them): ready time against
 * pool size (scale_ready.c), reclaim rate (scale_reclaim.c), sessions
 * connected (scale_sessions.c), throughput against clients (scale_tput.c),
 * fragmentation over time, 10 minutes per configuration unless
 * $CONTIG_BENCH_FRAG_SECONDS says (scale_frag.c). Only when named in --only
 * (bench/run.sh scale names them all), and small in --smoke.
 *
 * --smoke: a few iterations of everything and small pools (< 30 s), for the
 * test suite, which checks that every figure was produced.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "carve.h"
#include "curve.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef DPDK_VERSION
#define DPDK_VERSION "none"
#endif

static const char *arg_only;
static const char *arg_tsv;
static bool arg_no_dpdk;

static bool want(const char *part)
{
	const char *p;
	size_t len = strlen(part);

	if (!arg_only)
		return true;
	for (p = arg_only; (p = strstr(p, part)); p += len)
		if ((p == arg_only || p[-1] == ',') && (p[len] == 0 || p[len] == ','))
			return true;
	return false;
}

/* A part that runs only when --only names it (and, with tiny sizes, in
 * --smoke without --only). */
static bool want_named(const char *part)
{
	return arg_only && want(part);
}

/* The programs beside this one in the build tree. */
static void sibling(char *buf, size_t n, const char *rel)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len < 0) {
		snprintf(buf, n, "%s", rel);
		return;
	}
	self[len] = 0;
	snprintf(buf, n, "%s/%s", dirname(self), rel);
}

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

static void cpu_model(char *buf, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];

	snprintf(buf, n, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			char *c = strchr(line, ':');
			if (c) {
				snprintf(buf, n, "%s", c + 2);
				buf[strcspn(buf, "\n")] = 0;
			}
			break;
		}
	fclose(f);
}

static void loadavg(char *buf, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "re");

	snprintf(buf, n, "?");
	if (f) {
		if (fgets(buf, (int)n, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

static char load_start[64];
static double busy_start, total_start;

/* Busy and total CPU seconds of the whole machine since boot (/proc/stat). */
static void cpu_seconds(double *ret_busy, double *ret_total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	double hz = (double)sysconf(_SC_CLK_TCK), busy, total = 0;

	*ret_busy = *ret_total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) != 8) {
		fclose(f);
		return;
	}
	fclose(f);
	for (int i = 0; i < 8; i++)
		total += (double)v[i];
	busy = total - (double)v[3] - (double)v[4]; /* minus idle and iowait */
	*ret_busy = busy / hz;
	*ret_total = total / hz;
}

/* CPU seconds this run used: itself and every child it waited for. */
static double own_cpu_seconds(void)
{
	struct rusage a, b;

	getrusage(RUSAGE_SELF, &a);
	getrusage(RUSAGE_CHILDREN, &b);
	return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec +
			b.ru_stime.tv_sec) +
	       (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
			b.ru_stime.tv_usec) / 1e6;
}

static void print_machine(FILE *f, int argc, char **argv, double seconds)
{
	char load_end[64];
	struct utsname u;
	char cpu[256], date[64];
	time_t t = time(NULL);

	uname(&u);
	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&t));
	fprintf(f, "- command:");
	for (int i = 0; i < argc; i++)
		fprintf(f, " %s", argv[i]);
	fprintf(f, "\n- date: %s; run took %.0f s\n", date, seconds);
	fprintf(f, "- machine: %ld CPUs (%s), %.1f GiB RAM, kernel %s %s\n",
		sysconf(_SC_NPROCESSORS_ONLN), cpu, meminfo_kb("MemTotal") / 1048576.0, u.release,
		u.machine);
	fprintf(f, "- hugepages (2 MiB): nr_hugepages %ld at start", hugepages_nr_before);
	if (hugepages_nr_after >= 0)
		fprintf(f, ", raised by this run to %ld", hugepages_nr_after);
	else
		fprintf(f, ", enough were free: not changed");
	fprintf(f, "\n- DPDK %s (Debian package, pkg-config libdpdk)\n", DPDK_VERSION);
	loadavg(load_end, sizeof(load_end));
	double busy, total, own = own_cpu_seconds();
	cpu_seconds(&busy, &total);
	busy -= busy_start;
	total -= total_start;
	fprintf(f, "- other work on the machine during the run: %.0f%% of its CPU time (%.0f of "
		   "%.0f CPU-seconds were busy, %.0f of them this run's); /proc/loadavg at start: "
		   "%s, at end: %s\n",
		total > 0 ? 100.0 * (busy - own) / total : 0, busy, total, own, load_start, load_end);
}

static void remove_tmpdir(const char *dir)
{
	static const char *const files[] = { "contigd.log", "contigd-ready.log", "dpdk.log" };
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static int parse_args(int argc, char **argv, struct run_cfg *cfg)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },  { "no-dpdk", no_argument, NULL, 'n' },
		{ "only", required_argument, NULL, 'o' }, { "contigd", required_argument, NULL, 'c' },
		{ "tsv", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *env = getenv("CONTIGD");
	int c;

	if (env && *env)
		snprintf(cfg->contigd, sizeof(cfg->contigd), "%s", env);
	else
		sibling(cfg->contigd, sizeof(cfg->contigd), "../daemon/contigd");
	env = getenv("CONTIGCTL");
	if (env && *env)
		snprintf(cfg->contigctl, sizeof(cfg->contigctl), "%s", env);
	else
		sibling(cfg->contigctl, sizeof(cfg->contigctl), "../cli/contigctl");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg->smoke = true; break;
		case 'n': arg_no_dpdk = true; break;
		case 'o': arg_only = optarg; break;
		case 'c': snprintf(cfg->contigd, sizeof(cfg->contigd), "%s", optarg); break;
		case 't': arg_tsv = optarg; break;
		case 'h':
			printf("usage: %s [--smoke] [--no-dpdk] "
			       "[--only floors,raw,ready,contig,frag,dpdk,carve,restart,"
			       "scale-ready,scale-reclaim,scale-sessions,scale-tput,scale-frag] "
			       "[--contigd PATH] [--tsv FILE]\n",
			       argv[0]);
			exit(0);
		default: return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct run_cfg cfg = { 0 };
	uint64_t t0 = now_ns();
	FILE *tsv;

	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	cfg.iters = cfg.smoke ? 30 : 2000;
	cfg.ready_pages = cfg.smoke ? 32 : 1024;
	cfg.pool_bytes = cfg.smoke ? 128 * MIB : 1024 * MIB;
	cfg.large_bytes = cfg.smoke ? 16 * MIB : 64 * MIB;
	cfg.frag_ops = cfg.smoke ? 300 : 20000;
	cfg.conc_seconds = cfg.smoke ? 0.2 : 2.0;
	sibling(cfg.first_client, sizeof(cfg.first_client), "contig-bench-first");
	sibling(cfg.dpdk_helper, sizeof(cfg.dpdk_helper), "contig-bench-dpdk");
	if (arg_no_dpdk || !executable(cfg.dpdk_helper))
		cfg.dpdk_helper[0] = 0;
	snprintf(cfg.tmpdir, sizeof(cfg.tmpdir), "/tmp/contig-bench-XXXXXX");
	if (!mkdtemp(cfg.tmpdir)) {
		perror("contig-bench: mkdtemp");
		return 1;
	}
	if (arg_tsv) {
		char d[512];
		snprintf(d, sizeof(d), "%s", arg_tsv);
		curve_set_dir(dirname(d));
	}
	if (geteuid() != 0)
		fprintf(stderr, "contig-bench: not root: hugepages, pagemap and the daemon need it\n");
	hugepages_ensure(64);
	loadavg(load_start, sizeof(load_start));
	cpu_seconds(&busy_start, &total_start);

	if (want("floors")) {
		fprintf(stderr, "contig-bench: floors\n");
		floors_run(&cfg);
	}
	if (want("raw")) {
		fprintf(stderr, "contig-bench: raw mmap + pagemap\n");
		raw_run(&cfg);
	}
	if (want("ready")) {
		fprintf(stderr, "contig-bench: start-up with %u pages\n", cfg.ready_pages);
		ready_run(&cfg);
	}
	if (want("contig")) {
		fprintf(stderr, "contig-bench: contig (%s)\n", cfg.contigd);
		if (executable(cfg.contigd) && executable(cfg.first_client))
			contig_figures_run(&cfg);
		else
			result_missing(G_SMALL4K, "contig: contig_alloc + contig_free, back to back",
				       ROLE_CONTIG, "µs", "no %s", cfg.contigd);
	}
	if (want("frag")) {
		/* Back to back, each on memory fresh from the kernel, so that all
		 * start from about the same free lists. */
		fprintf(stderr, "contig-bench: fragmentation\n");
		if (executable(cfg.contigd)) {
			contig_frag_run(&cfg, false);
			contig_frag_run(&cfg, true);
		}
		if (cfg.dpdk_helper[0])
			dpdk_frag_run(&cfg);
	}
	if (want("dpdk")) {
		fprintf(stderr, "contig-bench: DPDK\n");
		if (cfg.dpdk_helper[0])
			dpdk_figures_run(&cfg);
		else
			result_missing(G_SMALL4K, "DPDK legacy: rte_zmalloc + rte_free", ROLE_PEER,
				       "µs", "%s", arg_no_dpdk ? "--no-dpdk" :
				       "contig-bench-dpdk not built (no libdpdk)");
	}

	if (want("carve")) {
		fprintf(stderr, "contig-bench: page granularity\n");
		if (executable(cfg.contigd))
			carve_run(&cfg);
		else
			result_missing(G_CARVE_4K_WS, "contig: contigd", ROLE_CONTIG, "ns", "no %s",
				       cfg.contigd);
	}

	if (want("restart")) {
		fprintf(stderr, "contig-bench: restart from the fd store\n");
		if (executable(cfg.contigd))
			restart_run(&cfg);
		else
			result_missing(G_RESTART, "SIGTERM → serving again", ROLE_CONTIG, "ms",
				       "no %s", cfg.contigd);
	}

	if (want_named("scale-frag") || (cfg.smoke && !arg_only)) {
		fprintf(stderr, "contig-bench: fragmentation over time\n");
		if (executable(cfg.contigd))
			scale_frag_run(&cfg);
		else
			result_missing(G_SCALE_FRAG, "repair on: largest free run at the end of each "
				       "idle gap", ROLE_CONTIG, "MiB", "no %s", cfg.contigd);
	}
	if (want_named("scale-ready") || (cfg.smoke && !arg_only)) {
		fprintf(stderr, "contig-bench: scale: ready against pool size\n");
		scale_ready_run(&cfg);
	}
	if (want_named("scale-reclaim") || (cfg.smoke && !arg_only)) {
		fprintf(stderr, "contig-bench: scale: reclaim against pages freed\n");
		scale_reclaim_run(&cfg);
	}
	/* Issue 19's scale figures: only when named (the full sizes hold
	 * 2,000 processes and ~10 GiB of hugepages), and small in --smoke. */
	if (cfg.smoke ? want("scale-sessions") : want_named("scale-sessions")) {
		fprintf(stderr, "contig-bench: scale: sessions connected\n");
		if (executable(cfg.contigd) && executable(cfg.contigctl))
			scale_sessions_run(&cfg);
		else
			result_missing(G_SCALE_SESS, "contig: one more client as root", ROLE_INFO,
				       "µs", "no %s or %s", cfg.contigd, cfg.contigctl);
	}
	if (cfg.smoke ? want("scale-tput") : want_named("scale-tput")) {
		fprintf(stderr, "contig-bench: scale: throughput against clients\n");
		if (executable(cfg.contigd))
			scale_tput_run(&cfg);
		else
			result_missing(G_SCALE_TPUT, "contig, stash on", ROLE_INFO, "pairs/s",
				       "no %s", cfg.contigd);
	}

	printf("## contig-bench%s\n\n", cfg.smoke ? " --smoke (NOT representative)" : "");
	print_machine(stdout, argc, argv, (double)(now_ns() - t0) / 1e9);
	printf("\n");
	if (want("carve"))
		carve_print_targets(stdout, cfg.smoke);
	if (want("restart"))
		restart_print_targets(stdout);
	scale_sessions_print_targets(stdout);
	results_print_markdown(stdout);
	if (arg_tsv) {
		tsv = fopen(arg_tsv, "we");
		if (!tsv) {
			perror(arg_tsv);
			return 1;
		}
		results_print_tsv(tsv);
		fclose(tsv);
	}
	/* Logs stay for a post-mortem when a figure is missing. */
	if (results_missing())
		fprintf(stderr, "contig-bench: %zu figures not measured; logs in %s\n",
			results_missing(), cfg.tmpdir);
	else
		remove_tmpdir(cfg.tmpdir);
	return 0;
}
