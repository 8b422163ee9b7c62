/* SPDX-License-Identifier: MIT */
/*
 * cmds.h - contigctl's commands, one file each, and the JSON/number helpers
 * they share (out.c).
 */
#ifndef CONTIGCTL_CMDS_H
#define CONTIGCTL_CMDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conn.h"

struct cmd_opts {
	bool json;
	bool no_color;
	bool prometheus;
	int width;
};

struct cmd {
	const char *name;
	int (*fn)(struct conn *c, const struct cmd_opts *o);
};

int cmd_status(struct conn *c, const struct cmd_opts *o);

/* "2.0 MiB", "256 MiB", "1.5 GiB" into buf. */
const char *fmt_bytes(uint64_t v, char *buf, size_t n);
/* A JSON string literal (quotes and escapes) of at most n bytes of s. */
void json_string(FILE *f, const char *s, size_t n);

#endif
