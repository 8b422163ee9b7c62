/* SPDX-License-Identifier: MIT */
/*
 * status.c - `contigctl status`: the pool at a glance. The JSON keys
 * page_size, total_bytes, free_bytes, largest_free_run, sessions and regions
 * are part of the public contract and never change meaning; the others are
 * documented in contigctl(8) and only ever added to.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "cmds.h"

int pool_query_node(struct conn *c, int node, struct proto_pool_info *ret)
{
	struct proto_query q = { .node = node };
	struct proto_msg m;
	int r;

	r = conn_call(c, PROTO_QUERY, &q, sizeof(q), PROTO_POOL_INFO, &m);
	if (r < 0)
		return r;
	*ret = m.body.pool_info;
	return 0;
}

int pool_query(struct conn *c, struct proto_pool_info *ret)
{
	return pool_query_node(c, PROTO_NODE_ANY, ret);
}

/* Per-node figures: one QUERY per node that holds pool pages. */
struct node_figures {
	int n;
	int node[32];
	struct proto_pool_info info[32];
};

static int nodes_query(struct conn *c, uint32_t mask, struct node_figures *ret)
{
	ret->n = 0;
	for (int node = 0; node < 32; node++) {
		if (!(mask & (1u << node)))
			continue;
		int r = pool_query_node(c, node, &ret->info[ret->n]);
		if (r < 0)
			return r;
		ret->node[ret->n++] = node;
	}
	return 0;
}

/* Bytes in no other state: what live regions hold. */
static uint64_t used_bytes(const struct proto_pool_info *i)
{
	return i->total_bytes - i->free_bytes - i->reclaiming_bytes - i->quarantined_bytes -
	       i->lost_bytes;
}

static void status_json(const struct proto_pool_info *i, const struct node_figures *nf)
{
	bool first = true;

	printf("{\"page_size\":%" PRIu64 ",\"total_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64
	       ",\"used_bytes\":%" PRIu64 ",\"largest_free_run\":%" PRIu64
	       ",\"reclaiming_bytes\":%" PRIu64 ",\"quarantined_bytes\":%" PRIu64
	       ",\"lost_bytes\":%" PRIu64 ",\"runs\":%u,\"sessions\":%u,\"regions\":%u"
	       ",\"uptime_s\":%.3f,\"below_4g_total\":%" PRIu64 ",\"below_4g_free\":%" PRIu64
	       ",\"below_16m_total\":%" PRIu64 ",\"below_16m_free\":%" PRIu64 ",\"nodes\":[",
	       i->page_size, i->total_bytes, i->free_bytes, used_bytes(i), i->largest_free_run,
	       i->reclaiming_bytes, i->quarantined_bytes, i->lost_bytes, i->runs, i->sessions,
	       i->regions, (double)i->uptime_ns / 1e9, i->below_4g_total, i->below_4g_free,
	       i->below_16m_total, i->below_16m_free);
	for (int n = 0; n < 32; n++) {
		if (!(i->nodes & (1u << n)))
			continue;
		printf("%s%d", first ? "" : ",", n);
		first = false;
	}
	printf("],\"per_node\":[");
	for (int k = 0; k < nf->n; k++)
		printf("%s{\"node\":%d,\"total_bytes\":%" PRIu64 ",\"free_bytes\":%" PRIu64
		       ",\"largest_free_run\":%" PRIu64 ",\"runs\":%u}",
		       k ? "," : "", nf->node[k], nf->info[k].total_bytes, nf->info[k].free_bytes,
		       nf->info[k].largest_free_run, nf->info[k].runs);
	printf("]}\n");
}

static void below_line(const char *what, uint64_t total, uint64_t free)
{
	char a[32], b[32], d[32];

	printf("%-17s%s total, %s free, %s used\n", what, fmt_bytes(total, a, sizeof(a)),
	       fmt_bytes(free, b, sizeof(b)), fmt_bytes(total - free, d, sizeof(d)));
}

static void status_text(const struct proto_pool_info *i, const struct node_figures *nf)
{
	char a[32];

	printf("page size        %s\n", fmt_bytes(i->page_size, a, sizeof(a)));
	printf("total            %s (%" PRIu64 " pages)\n", fmt_bytes(i->total_bytes, a, sizeof(a)),
	       i->page_size ? i->total_bytes / i->page_size : 0);
	printf("free             %s\n", fmt_bytes(i->free_bytes, a, sizeof(a)));
	printf("used             %s\n", fmt_bytes(used_bytes(i), a, sizeof(a)));
	printf("reclaiming       %s\n", fmt_bytes(i->reclaiming_bytes, a, sizeof(a)));
	printf("quarantined      %s\n", fmt_bytes(i->quarantined_bytes, a, sizeof(a)));
	if (i->lost_bytes)
		printf("lost             %s (the kernel has not given them back)\n",
		       fmt_bytes(i->lost_bytes, a, sizeof(a)));
	printf("largest free run %s\n", fmt_bytes(i->largest_free_run, a, sizeof(a)));
	printf("runs             %u\n", i->runs);
	printf("nodes           ");
	for (int n = 0; n < 32; n++)
		if (i->nodes & (1u << n))
			printf(" %d", n);
	printf("\n");
	for (int k = 0; k < nf->n; k++) {
		char b[32], d[32];
		printf("  node %-9d %s total, %s free, largest run %s\n", nf->node[k],
		       fmt_bytes(nf->info[k].total_bytes, a, sizeof(a)),
		       fmt_bytes(nf->info[k].free_bytes, b, sizeof(b)),
		       fmt_bytes(nf->info[k].largest_free_run, d, sizeof(d)));
	}
	printf("sessions         %u\n", i->sessions);
	printf("regions          %u\n", i->regions);
	printf("uptime           %s\n", fmt_age(i->uptime_ns, a, sizeof(a)));
	below_line("below 4 GiB", i->below_4g_total, i->below_4g_free);
	below_line("below 16 MiB", i->below_16m_total, i->below_16m_free);
}

int cmd_status(struct conn *c, const struct cmd_opts *o)
{
	struct proto_pool_info i;
	int r;

	struct node_figures nf;

	r = pool_query(c, &i);
	if (r < 0)
		return r;
	r = nodes_query(c, i.nodes, &nf);
	if (r < 0)
		return r;
	if (o->json)
		status_json(&i, &nf);
	else
		status_text(&i, &nf);
	return 0;
}

int status_starting(const char *socket_path)
{
	char path[4200], line[256], phase[160] = "";
	unsigned long long done, total;
	const char *slash = strrchr(socket_path, '/');
	int pid, n;
	FILE *f;

	n = slash ? (int)(slash - socket_path) : 1;
	snprintf(path, sizeof(path), "%.*s/contigd.starting", n, slash ? socket_path : ".");
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	n = fgets(line, sizeof(line), f) ? sscanf(line, "pid=%d done=%llu total=%llu phase=%159[^\n]",
						&pid, &done, &total, phase) : 0;
	fclose(f);
	/* A file left by a contigd that died is not a start. */
	if (n < 3 || (kill(pid, 0) < 0 && errno == ESRCH))
		return -ENOENT;
	printf("starting: %llu of %llu pages%s%s%s\n", done, total, phase[0] ? " (" : "", phase,
	       phase[0] ? ")" : "");
	return 0;
}
