/* SPDX-License-Identifier: MIT */
/*
 * contigctl - look at a running contigd: its pool, runs, regions, clients
 * and counters. Exit codes: 0 ok, 1 the daemon refused or failed, 2 usage,
 * 3 no daemon at the socket, 4 permission denied, 5 protocol version
 * mismatch. Every failure is one line on stderr; stdout carries only the
 * requested output (one JSON object with --json).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "conn.h"

#define DEFAULT_SOCKET "/run/contigd/contigd.sock"

#ifndef CONTIG_VERSION
#define CONTIG_VERSION "unknown"
#endif

enum { EXIT_USAGE = 2, EXIT_NO_DAEMON = 3, EXIT_PERMISSION = 4, EXIT_VERSION = 5,
       EXIT_STARTING = 6 };

static void usage(FILE *f)
{
	fputs("Usage: contigctl [--socket PATH] [COMMAND] [--json] [OPTIONS]\n"
	      "Inspect the contigd hugepage pool (default command: status).\n\n"
	      "Commands:\n"
	      "  status     the pool at a glance\n"
	      "  runs       every physically contiguous run\n"
	      "  map        picture of the pool's physical memory\n"
	      "  regions    live regions (root: all; others: their own uid's)\n"
	      "  clients    connected sessions (root: all; others: their own uid's)\n"
	      "  stats      counters since start\n"
	      "  grant create SIZE | grant revoke TOKEN\n"
	      "             root: a grant for a container (Kubernetes device plugin)\n"
	      "  grants     root: live grants, what each holds\n\n"
	      "Options:\n"
	      "  --socket PATH  daemon socket ($CONTIG_SOCKET, else " DEFAULT_SOCKET ")\n"
	      "  --json         one JSON object on stdout (keys in contigctl(8))\n"
	      "  --width N      map: line width (default: the terminal's)\n"
	      "  --no-color     map: no colours even on a terminal\n"
	      "  --prometheus   stats: Prometheus text exposition format\n"
	      "  -h, --help     this text    -V, --version   the version\n\n"
	      "Exit: 0 ok, 1 daemon error, 2 usage, 3 no daemon, 4 permission denied,\n"
	      "      5 protocol version mismatch. See contigctl(8).\n",
	      f);
}

static const struct cmd cmds[] = {
	{ "status", cmd_status, 0 },
	{ "runs", cmd_runs, 0 },
	{ "map", cmd_map, CMD_OPT_MAP },
	{ "regions", cmd_regions, 0 },
	{ "clients", cmd_clients, 0 },
	{ "stats", cmd_stats, CMD_OPT_PROMETHEUS },
	{ "grant", cmd_grant, 0, 2 },
	{ "grants", cmd_grants, 0 },
};

static int exit_for(int r)
{
	switch (-r) {
	case ENOENT:
	case ENOTDIR:
	case ECONNREFUSED:
	case ECONNRESET:
		return EXIT_NO_DAEMON;
	case EACCES:
	case EPERM:
		return EXIT_PERMISSION;
	case EPROTONOSUPPORT:
		return EXIT_VERSION;
	default:
		return 1;
	}
}

/* One line saying what went wrong, in the words of the exit code. */
static void report(const char *path, const char *what, int r)
{
	switch (exit_for(r)) {
	case EXIT_NO_DAEMON:
		if (r == -ECONNRESET)
			fprintf(stderr, "contigctl: the daemon at %s closed the connection\n", path);
		else
			fprintf(stderr, "contigctl: no daemon at %s (%s)\n", path, strerror(-r));
		break;
	case EXIT_PERMISSION:
		fprintf(stderr, "contigctl: permission denied on %s%s%s\n", path, what ? ": " : "",
			what ? what : "");
		break;
	case EXIT_VERSION:
		fprintf(stderr, "contigctl: %s speaks another protocol version (this contigctl speaks %d)\n",
			path, PROTO_VERSION);
		break;
	default:
		if (r == -ETIMEDOUT)
			fprintf(stderr, "contigctl: the daemon at %s did not answer within %d s\n",
				path, CONN_TIMEOUT_S);
		else
			fprintf(stderr, "contigctl: %s%s%s\n", what ? what : path, ": ", strerror(-r));
	}
}

static const struct cmd *find_cmd(const char *w)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(w, cmds[i].name))
			return &cmds[i];
	return NULL;
}

struct args {
	const char *path;
	const struct cmd *cmd;
	struct cmd_opts o;
	bool no_color;
	unsigned given;    /* CMD_OPT_* seen on the command line */
	unsigned nargs;    /* words taken after the command */
};

static int parse_width(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 100000)
		return -1;
	return (int)v;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-color", no_argument, NULL, 'n' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "width", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int ch;

	/* "+": stop at the command word, then go on parsing after it, so
	 * options may come before or after the command. */
	while ((ch = getopt_long(argc, argv, "+hV", options, NULL)) != -1 || optind < argc) {
		if (ch == -1) {
			const char *w = argv[optind++];
			if (a->cmd && a->nargs < a->cmd->nargs) {
				a->o.args[a->nargs++] = w;
				continue;
			}
			if (a->cmd) {
				fprintf(stderr, "contigctl: unexpected argument '%s'\n", w);
				return EXIT_USAGE;
			}
			a->cmd = find_cmd(w);
			if (!a->cmd) {
				fprintf(stderr, "contigctl: unknown command '%s' (try --help)\n", w);
				return EXIT_USAGE;
			}
			continue;
		}
		switch (ch) {
		case 's': a->path = optarg; break;
		case 'j': a->o.json = true; break;
		case 'n': a->no_color = true; a->given |= CMD_OPT_MAP; break;
		case 'p': a->o.prometheus = true; a->given |= CMD_OPT_PROMETHEUS; break;
		case 'w':
			a->o.width = parse_width(optarg);
			a->given |= CMD_OPT_MAP;
			if (a->o.width < 0) {
				fprintf(stderr, "contigctl: --width takes a number of columns, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("contigctl %s (protocol %d)\n", CONTIG_VERSION, PROTO_VERSION); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!a->cmd)
		a->cmd = &cmds[0];
	if (a->given & ~a->cmd->opts) {
		fprintf(stderr, "contigctl: %s does not take %s (try --help)\n", a->cmd->name,
			(a->given & ~a->cmd->opts & CMD_OPT_MAP) ? "--width/--no-color" : "--prometheus");
		return EXIT_USAGE;
	}
	if (a->o.json && a->o.prometheus) {
		fprintf(stderr, "contigctl: --json and --prometheus exclude each other\n");
		return EXIT_USAGE;
	}
	return -1;
}

/* Colours only for a terminal that wants them (https://no-color.org). */
static bool want_color(bool no_color)
{
	const char *term = getenv("TERM");

	if (no_color || (getenv("NO_COLOR") && *getenv("NO_COLOR")))
		return false;
	return isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb"));
}

int main(int argc, char **argv)
{
	struct args a = { .path = getenv("CONTIG_SOCKET") };
	struct conn c;
	int r;

	if (!a.path || !*a.path)
		a.path = DEFAULT_SOCKET;
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	a.o.color = want_color(a.no_color);

	r = conn_open(&c, a.path);
	/* Not listening yet: say so if it is reserving its pool. */
	if (r < 0 && a.cmd->fn == cmd_status && exit_for(r) == EXIT_NO_DAEMON &&
	    status_starting(a.path) == 0)
		return EXIT_STARTING;
	if (r < 0) {
		report(a.path, NULL, r);
		return exit_for(r);
	}
	r = a.cmd->fn(&c, &a.o);
	conn_close(&c);
	if (r < 0) {
		report(a.path, a.cmd->name, r);
		return exit_for(r);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "contigctl: writing the output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
