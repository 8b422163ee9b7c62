/* SPDX-License-Identifier: MIT */
/*
 * cgroups.c - per-cgroup gauges for `contigctl stats --prometheus`: the
 * bytes held at or below each cgroup the daemon labels (the root, each
 * top-level cgroup, each path with a cgroup-max-bytes limit), so that the
 * label count stays what the operator configured plus what root made.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cmds.h"

/* A label value: backslash and quote escaped as the exposition format
 * asks; a byte that is not printable ASCII becomes '?', as in all text
 * output (cmds.h: text_safe), since the path is the daemon's word and a
 * cgroup's name anyone's with a delegated subtree. */
static void label_value(const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '"')
			printf("\\%c", s[i]);
		else if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			putchar('?');
		else
			putchar(s[i]);
	}
}

int cgroup_gauges(struct conn *c)
{
	struct proto_cgroup_item *it;
	size_t n;
	int r;

	r = conn_list(c, PROTO_TABLE_CGROUPS, sizeof(*it), (void **)&it, &n);
	if (r < 0)
		return r;
	printf("# HELP contig_cgroup_bytes Bytes held by the sessions in a cgroup and below it.\n"
	       "# TYPE contig_cgroup_bytes gauge\n");
	for (size_t i = 0; i < n; i++) {
		printf("contig_cgroup_bytes{cgroup=\"");
		label_value(it[i].path, sizeof(it[i].path));
		printf("\"} %" PRIu64 "\n", it[i].bytes);
	}
	printf("# HELP contig_cgroup_limit_bytes The cgroup-max-bytes limit of a cgroup.\n"
	       "# TYPE contig_cgroup_limit_bytes gauge\n");
	for (size_t i = 0; i < n; i++) {
		if (it[i].limit == UINT64_MAX)
			continue;
		printf("contig_cgroup_limit_bytes{cgroup=\"");
		label_value(it[i].path, sizeof(it[i].path));
		printf("\"} %" PRIu64 "\n", it[i].limit);
	}
	free(it);
	return 0;
}
