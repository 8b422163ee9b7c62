/* SPDX-License-Identifier: MIT */
/*
 * contigctl - look at a running contigd: its pool, runs, regions, clients
 * and counters. Exit codes: 0 ok, 1 the daemon refused or failed, 2 usage,
 * 3 no daemon at the socket, 4 permission denied, 5 protocol version
 * mismatch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "conn.h"

#define DEFAULT_SOCKET "/run/contigd/contigd.sock"

static void usage(FILE *f)
{
	fputs("Usage: contigctl [--socket PATH] COMMAND [--json]\n"
	      "Inspect the contigd hugepage pool.\n\n"
	      "Commands:\n"
	      "  status     the pool at a glance\n"
	      "  runs       every physically contiguous run\n"
	      "  map        picture of the pool's physical memory [--no-color] [--width N]\n"
	      "  regions    every live region (yours only unless root)\n"
	      "  clients    every session (yours only unless root)\n"
	      "  stats      counters since start [--prometheus]\n\n"
	      "Options:\n"
	      "  --socket PATH   daemon socket (default $CONTIG_SOCKET, else " DEFAULT_SOCKET ")\n"
	      "  --json          one JSON object on stdout\n"
	      "  -h, --help      this text\n\n"
	      "Exit: 0 ok, 1 daemon error, 2 usage, 3 no daemon, 4 permission denied,\n"
	      "      5 protocol version mismatch. See contigctl(8).\n",
	      f);
}

static const struct cmd cmds[] = {
	{ "status", cmd_status },
};

static int exit_for(int r)
{
	switch (-r) {
	case ENOENT:
	case ECONNREFUSED:
	case ECONNRESET:
		return 3;
	case EACCES:
	case EPERM:
		return 4;
	case EPROTONOSUPPORT:
		return 5;
	default:
		return 1;
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-color", no_argument, NULL, 'n' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "width", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cmd_opts o = { .width = 0 };
	const char *path = getenv("CONTIG_SOCKET");
	const struct cmd *cmd = NULL;
	struct conn c;
	int ch, r;

	if (!path || !*path)
		path = DEFAULT_SOCKET;
	while ((ch = getopt_long(argc, argv, "+h", options, NULL)) != -1 || optind < argc) {
		if (ch == -1) {
			/* A command word; options may follow it. */
			const char *w = argv[optind++];
			if (cmd) {
				fprintf(stderr, "contigctl: unexpected argument '%s'\n", w);
				return 2;
			}
			for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
				if (!strcmp(w, cmds[i].name))
					cmd = &cmds[i];
			if (!cmd) {
				fprintf(stderr, "contigctl: unknown command '%s' (try --help)\n", w);
				return 2;
			}
			continue;
		}
		switch (ch) {
		case 's': path = optarg; break;
		case 'j': o.json = true; break;
		case 'n': o.no_color = true; break;
		case 'p': o.prometheus = true; break;
		case 'w': o.width = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cmd)
		cmd = &cmds[0];

	r = conn_open(&c, path);
	if (r < 0) {
		if (r == -ENOENT || r == -ECONNREFUSED)
			fprintf(stderr, "contigctl: no daemon at %s (%s)\n", path, strerror(-r));
		else if (r == -EACCES || r == -EPERM)
			fprintf(stderr, "contigctl: permission denied on %s\n", path);
		else if (r == -EPROTONOSUPPORT)
			fprintf(stderr, "contigctl: %s speaks another protocol version (this is %d)\n",
				path, PROTO_VERSION);
		else
			fprintf(stderr, "contigctl: %s: %s\n", path, strerror(-r));
		return exit_for(r);
	}
	r = cmd->fn(&c, &o);
	conn_close(&c);
	if (r < 0) {
		fprintf(stderr, "contigctl: %s: %s\n", cmd->name, strerror(-r));
		return exit_for(r);
	}
	return 0;
}
