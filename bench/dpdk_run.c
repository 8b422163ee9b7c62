/* SPDX-License-Identifier: MIT */
/*
 * dpdk_run.c - contig-bench's side of the DPDK peer: one contig-bench-dpdk
 * process per EAL configuration, each on a private hugetlbfs mount whose
 * size= caps the hugepages it may take (legacy mode otherwise maps every
 * free hugepage on the machine at start-up and keeps the lowest, which
 * would both give it more to choose from than contig's pool and starve
 * anything else running), with its own --file-prefix, stdout read back
 * (RESULT rows, TIMES lines) and stderr kept in the run's directory.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "carve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct times {
	uint64_t main, eal0, eal1, first; /* see dpdk.c */
	uint64_t fork, end;               /* ours: fork, and wait returned */
	bool have;
};

struct dpdk_conf {
	const char *label;  /* "DPDK legacy" */
	const char *mode;   /* legacy | default */
	unsigned mem_mb;
	bool prealloc, in_memory, no_huge;
};

static void rm_dir_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
				continue; /* not a name DPDK makes */
			if (e->d_type == DT_DIR)
				rm_dir_files(path), rmdir(path);
			else
				unlink(path);
		}
	closedir(d);
}

static int mount_huge(const char *dir, unsigned size_mb)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "pagesize=2M,size=%uM", size_mb);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mount("nodev", dir, "hugetlbfs", 0, opts) < 0) {
		int r = -errno;
		rmdir(dir);
		return r;
	}
	return 0;
}

static void umount_huge(const char *dir)
{
	rm_dir_files(dir);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* EAL's runtime directory of a --file-prefix. */
static void rm_runtime_dir(const char *prefix)
{
	char run[256];

	snprintf(run, sizeof(run), "/var/run/dpdk/%s", prefix);
	rm_dir_files(run);
	rmdir(run);
}

/* The helper's "TIMES" line (its other lines are rows). */
static void times_line(const char *line, void *ctx)
{
	struct times *t = ctx;

	if (sscanf(line, "TIMES %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &t->main, &t->eal0,
		   &t->eal1, &t->first) == 4)
		t->have = true;
}

/* Run the helper with argv; parse its stdout. Returns its exit status. */
static int run_helper(const struct run_cfg *cfg, const char *const *argv, struct times *t)
{
	char log[128];
	int pfd[2], status;
	pid_t pid;

	memset(t, 0, sizeof(*t));
	snprintf(log, sizeof(log), "%s/dpdk.log", cfg->tmpdir);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	t->fork = now_ns();
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		dup2(pfd[1], STDOUT_FILENO);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	results_read_fd(pfd[0], times_line, t);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	t->end = now_ns();
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* One helper process of configuration c doing what; its own mount and
 * prefix, both gone afterwards. */
static int run_conf_carve(const struct run_cfg *cfg, const struct dpdk_conf *c, const char *what,
			  unsigned secondaries, const char *carve, struct times *t)
{
	static unsigned seq;
	char dir[192], prefix[64], mem[16], iters[16], fops[16], pool[16], sec[16], large[16];
	const char *argv[40];
	int n = 0, st;

	snprintf(prefix, sizeof(prefix), "cb%d-%u", (int)getpid(), seq++);
	snprintf(dir, sizeof(dir), "%s/huge-%s", cfg->tmpdir, prefix);
	snprintf(mem, sizeof(mem), "%u", c->mem_mb);
	snprintf(iters, sizeof(iters), "%u", cfg->iters);
	snprintf(fops, sizeof(fops), "%u", cfg->frag_ops);
	snprintf(pool, sizeof(pool), "%" PRIu64, cfg->pool_bytes / MIB);
	snprintf(sec, sizeof(sec), "%u", secondaries);
	snprintf(large, sizeof(large), "%" PRIu64, cfg->large_bytes / MIB);
	if (!c->no_huge) {
		hugepages_ensure((long)c->mem_mb / 2 + 16);
		if (mount_huge(dir, c->mem_mb) < 0) {
			fprintf(stderr, "contig-bench: cannot mount hugetlbfs on %s: %s\n", dir,
				strerror(errno));
			return -1;
		}
	}
	argv[n++] = cfg->dpdk_helper;
	argv[n++] = "--what";
	argv[n++] = what;
	argv[n++] = "--mode";
	argv[n++] = c->mode;
	argv[n++] = "--label";
	argv[n++] = c->label;
	argv[n++] = "--mem";
	argv[n++] = mem;
	argv[n++] = "--iters";
	argv[n++] = iters;
	argv[n++] = "--frag-ops";
	argv[n++] = fops;
	argv[n++] = "--pool";
	argv[n++] = pool;
	argv[n++] = "--secondaries";
	argv[n++] = sec;
	argv[n++] = "--prefix";
	argv[n++] = prefix;
	argv[n++] = "--large";
	argv[n++] = large;
	if (c->no_huge) {
		argv[n++] = "--no-huge";
	} else {
		argv[n++] = "--huge-dir";
		argv[n++] = dir;
	}
	if (c->prealloc)
		argv[n++] = "--prealloc";
	if (c->in_memory)
		argv[n++] = "--in-memory";
	if (carve) {
		argv[n++] = "--carve";
		argv[n++] = carve;
	}
	argv[n] = NULL;
	st = run_helper(cfg, argv, t);
	if (!c->no_huge)
		umount_huge(dir);
	rm_runtime_dir(prefix);
	if (st != 0)
		fprintf(stderr, "contig-bench: %s --what %s exited %d (see %s/dpdk.log)\n", c->label,
			what, st, cfg->tmpdir);
	return st;
}

static int run_conf(const struct run_cfg *cfg, const struct dpdk_conf *c, const char *what,
		    unsigned secondaries, struct times *t)
{
	return run_conf_carve(cfg, c, what, secondaries, NULL, t);
}

static void first_figures(const struct run_cfg *cfg, const struct dpdk_conf *c, const char *how)
{
	struct samples first = { 0 }, eal = { 0 }, whole = { 0 };
	unsigned n = cfg->smoke ? 2 : 5;
	char who[128];
	struct times t;

	unsigned nofirst = 0;

	for (unsigned i = 0; i < n; i++) {
		if (run_conf(cfg, c, "first", 0, &t) != 0 || !t.have)
			continue;
		samples_add(&eal, (double)(t.eal1 - t.eal0) / 1e3);
		if (!t.first) {
			nofirst++;
			continue;
		}
		samples_add(&first, (double)(t.first - t.main) / 1e3);
		samples_add(&whole, (double)(t.end - t.fork) / 1e3);
	}
	snprintf(who, sizeof(who), "%s: primary process: main() → first memzone", c->label);
	if (first.n || !nofirst)
		result_samples(G_FIRST, who, ROLE_PEER, "µs", &first, "%s; %u of %u memzones failed",
			       how, nofirst, n);
	else
		result_failed(G_FIRST, who, ROLE_PEER, "µs", nofirst,
			      "%s: the first 2 MiB IOVA_CONTIG memzone (ENOMEM)", how);
	snprintf(who, sizeof(who), "%s: primary process: rte_eal_init alone", c->label);
	result_samples(G_FIRST, who, ROLE_INFO, "µs", &eal, NULL);
	snprintf(who, sizeof(who), "%s primary: fork + exec + first memzone + exit + wait", c->label);
	if (whole.n || !nofirst)
		result_samples(G_FIRSTEXEC, who, ROLE_PEER, "µs", &whole, "%s", how);
	else
		result_failed(G_FIRSTEXEC, who, ROLE_PEER, "µs", nofirst,
			      "%s: the first 2 MiB IOVA_CONTIG memzone (ENOMEM)", how);
	samples_free(&first);
	samples_free(&eal);
	samples_free(&whole);
}

double dpdk_ready_once(const struct run_cfg *cfg, enum dpdk_ready which)
{
	unsigned mb = cfg->ready_pages * 2;
	struct dpdk_conf legacy = { "DPDK legacy", "legacy", mb, false, false, false };
	struct dpdk_conf dflt = { "DPDK default", "default", mb, true, true, false };
	struct dpdk_conf nohuge = { "DPDK --no-huge", "default", 64, false, false, true };
	const struct dpdk_conf *c = which == DPDK_READY_LEGACY ? &legacy :
				    which == DPDK_READY_DEFAULT ? &dflt : &nohuge;
	struct times t;

	if (run_conf(cfg, c, "ready", 0, &t) != 0 || !t.have)
		return -1;
	return (double)(t.eal1 - t.eal0) / 1e6;
}

void dpdk_frag_run(const struct run_cfg *cfg)
{
	unsigned pool_mb = (unsigned)(cfg->pool_bytes / MIB);
	struct dpdk_conf legacy = { "DPDK legacy", "legacy", pool_mb, false, false, false };
	struct dpdk_conf dflt = { "DPDK default", "default", pool_mb, false, true, false };
	struct times t;

	run_conf(cfg, &legacy, "frag", 0, &t);
	run_conf(cfg, &dflt, "frag", 0, &t);
}

void dpdk_figures_run(const struct run_cfg *cfg)
{
	unsigned pool_mb = (unsigned)(cfg->pool_bytes / MIB);
	unsigned nsec = cfg->smoke ? 2 : 5;
	struct dpdk_conf legacy = { "DPDK legacy", "legacy", pool_mb, false, false, false };
	struct dpdk_conf dflt = { "DPDK default", "default", pool_mb, false, false, false };
	struct dpdk_conf dflt_mem = { "DPDK default", "default", pool_mb, false, true, false };
	char how[128];
	struct times t;

	/* The allocation figures, fragmentation and secondaries. */
	run_conf(cfg, &legacy, "all", nsec, &t);
	run_conf(cfg, &dflt, "all", nsec, &t);

	snprintf(how, sizeof(how), "--legacy-mem -m %u", pool_mb);
	first_figures(cfg, &legacy, how);
	first_figures(cfg, &dflt_mem, "--in-memory, nothing preallocated");

}

int dpdk_carve_helper(const struct run_cfg *cfg, const char *label, bool legacy, unsigned mem_mb,
		      const char *what, const char *spec)
{
	struct dpdk_conf c = { label, legacy ? "legacy" : "default", mem_mb, false, !legacy, false };
	struct times t;

	return run_conf_carve(cfg, &c, what, 0, spec, &t);
}
