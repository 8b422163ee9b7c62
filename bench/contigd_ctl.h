/* SPDX-License-Identifier: MIT */
/*
 * contigd_ctl.h - start and stop the benchmark's own contigd (see
 * contigd_ctl.c), and read a process's memory figures.
 */
#ifndef CONTIG_BENCH_CONTIGD_CTL_H
#define CONTIG_BENCH_CONTIGD_CTL_H

#include <sys/types.h>

#include "bench.h"

struct contigd {
	pid_t pid;
	char sock[108];
	char log[128];
	char conf[128];
	uint64_t t_spawn, t_ready; /* CLOCK_MONOTONIC ns: fork, first accepted connect */
};

/* Start cfg->contigd on tmpdir/name.sock with a pool of pool_bytes and, if
 * config is not NULL, those "key = value" lines as its --config file;
 * returns once the socket accepts (0), or -errno (the log says why). */
int contigd_start(const struct run_cfg *cfg, struct contigd *d, const char *name,
		  uint64_t pool_bytes, const char *config);
/* SIGTERM and wait: the exit status (0 = clean), or -1. */
int contigd_stop(struct contigd *d);
/* N of the log line "pinned in N ms", or -1. */
long contigd_pinned_ms(const struct contigd *d);
/* "N runs, largest X" of the same line, or of the repair's line once it
 * ran ("" if absent). */
void contigd_log_runs(const struct contigd *d, char *buf, size_t len);
/* Wait up to timeout_ms for the log line of the background repair ("repair:
 * looked at ..."): its text after "repair: " into buf, and the time from
 * fork to when it was seen (ms), or -1 if it did not come. */
double contigd_wait_repair(const struct contigd *d, char *buf, size_t len, unsigned timeout_ms);
/* `contigctl --socket sock cmd --json` (cfg->contigctl): its output in buf
 * (NUL-terminated); 0, or -ECHILD if it did not exit 0. */
int contigctl_json(const struct run_cfg *cfg, const char *sock, const char *cmd, char *buf,
		   size_t size);
/* A "Field:   N kB" line of /proc/PID/status, in kB; -1 if absent. */
long proc_status_kb(pid_t pid, const char *field);
/* Poll contig_query every poll_us (each look is a request the daemon's
 * loop answers: not too often) until the pool is all free again; false
 * after timeout_ms. */
bool pool_wait_whole(unsigned timeout_ms, unsigned poll_us);

#endif
