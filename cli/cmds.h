/* SPDX-License-Identifier: MIT */
/*
 * cmds.h - contigctl's commands, one file each, and the formatting helpers
 * they share (out.c). A command writes one JSON object (--json) or text to
 * stdout and returns 0 or -errno; main turns -errno into the exit code.
 */
#ifndef CONTIGCTL_CMDS_H
#define CONTIGCTL_CMDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conn.h"

/*
 * Pages the daemon is reclaiming, whose old frame another page now holds,
 * are listed at placeholder addresses at or above this (daemon/pool.h
 * POOL_STALE_PHYS): they own no memory until their refault, so they are
 * counted but never drawn as physical memory.
 */
#define CLI_PLACEHOLDER_PHYS (1ull << 62)

/* Options a command accepts beyond --json and --socket. */
#define CMD_OPT_MAP        (1u << 0) /* --no-color, --width */
#define CMD_OPT_PROMETHEUS (1u << 1)

struct cmd_opts {
	const char *args[2]; /* words after the command (grant create SIZE) */
	bool json;
	bool color;        /* ANSI colours: stdout is a tty, no --no-color, no $NO_COLOR */
	bool prometheus;
	int width;         /* columns of the map; 0: the terminal's */
};

struct cmd {
	const char *name;
	int (*fn)(struct conn *c, const struct cmd_opts *o);
	unsigned opts;     /* CMD_OPT_* */
	unsigned nargs;    /* words it takes after its name */
};

int cmd_status(struct conn *c, const struct cmd_opts *o);
/* When the socket does not answer: if a contigd is reserving its pool for
 * that socket (its progress file, contigd(8)), print "starting: N of M
 * pages (phase)" and return 0; else -ENOENT. */
int status_starting(const char *socket_path);
int cmd_runs(struct conn *c, const struct cmd_opts *o);
int cmd_map(struct conn *c, const struct cmd_opts *o);
int cmd_regions(struct conn *c, const struct cmd_opts *o);
int cmd_clients(struct conn *c, const struct cmd_opts *o);
int cmd_stats(struct conn *c, const struct cmd_opts *o);
int cmd_grant(struct conn *c, const struct cmd_opts *o);
int cmd_grants(struct conn *c, const struct cmd_opts *o);

/* The per-cgroup gauges of stats --prometheus (cgroups.c). */
int cgroup_gauges(struct conn *c);

/* PROTO_QUERY for the whole pool (status.c; stats --prometheus uses it too). */
int pool_query(struct conn *c, struct proto_pool_info *ret);
/* The same for the pages on one NUMA node. */
int pool_query_node(struct conn *c, int node, struct proto_pool_info *ret);

/* "2 MiB", "256 MiB", "1.5 GiB" into buf. */
const char *fmt_bytes(uint64_t v, char *buf, size_t n);
/* "45s", "12m03s", "5h07m", "3d02h" into buf. */
const char *fmt_age(uint64_t ns, char *buf, size_t n);
/* "any" for PROTO_NODE_ANY, else the number. */
const char *fmt_node(int32_t node, char *buf, size_t n);
/* Name of an enum proto_page_state ("free", "used", ...; "unknown"). */
const char *page_state_name(uint8_t state);
/* A JSON string literal (quotes and escapes) of at most n bytes of s. */
void json_string(FILE *f, const char *s, size_t n);
/*
 * Text output of a string from the daemon (a client's comm, a counter's
 * name): at most n bytes of s, up to its NUL, into buf (bufsz > 0) with
 * every byte that is not printable ASCII made '?'. Any user can name its
 * process with escape sequences (prctl(2) PR_SET_NAME) and must not reach
 * the terminal of root running contigctl. --json escapes instead. Returns buf.
 */
const char *text_safe(const char *s, size_t n, char *buf, size_t bufsz);
/* Seconds since the epoch of an event age_ns ago (CLOCK_REALTIME). */
double since_epoch(uint64_t age_ns);

#endif
