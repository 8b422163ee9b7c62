/* SPDX-License-Identifier: MIT */
/*
 * status.c - `contigctl status`: the pool at a glance. The JSON keys
 * page_size, total_bytes, free_bytes, largest_free_run, sessions and regions
 * are part of the public contract and never change meaning.
 */
#include <inttypes.h>

#include "cmds.h"

int cmd_status(struct conn *c, const struct cmd_opts *o)
{
	struct proto_query q = { .node = PROTO_NODE_ANY };
	const struct proto_pool_info *i;
	struct proto_msg m;
	char a[32], b[32], d[32];
	int r;

	r = conn_call(c, PROTO_QUERY, &q, sizeof(q), PROTO_POOL_INFO, &m);
	if (r < 0)
		return r;
	i = &m.body.pool_info;
	if (o->json) {
		printf("{\"page_size\":%" PRIu64 ",\"total_bytes\":%" PRIu64
		       ",\"free_bytes\":%" PRIu64 ",\"largest_free_run\":%" PRIu64
		       ",\"reclaiming_bytes\":%" PRIu64 ",\"quarantined_bytes\":%" PRIu64
		       ",\"lost_bytes\":%" PRIu64 ",\"runs\":%u,\"sessions\":%u,\"regions\":%u"
		       ",\"uptime_s\":%.3f,\"below_4g_total\":%" PRIu64 ",\"below_4g_free\":%" PRIu64
		       ",\"below_16m_total\":%" PRIu64 ",\"below_16m_free\":%" PRIu64 "}\n",
		       i->page_size, i->total_bytes, i->free_bytes, i->largest_free_run,
		       i->reclaiming_bytes, i->quarantined_bytes, i->lost_bytes, i->runs,
		       i->sessions, i->regions, (double)i->uptime_ns / 1e9, i->below_4g_total,
		       i->below_4g_free, i->below_16m_total, i->below_16m_free);
		return 0;
	}
	printf("page size        %s\n", fmt_bytes(i->page_size, a, sizeof(a)));
	printf("total            %s\n", fmt_bytes(i->total_bytes, a, sizeof(a)));
	printf("free             %s\n", fmt_bytes(i->free_bytes, a, sizeof(a)));
	printf("reclaiming       %s\n", fmt_bytes(i->reclaiming_bytes, a, sizeof(a)));
	printf("quarantined      %s\n", fmt_bytes(i->quarantined_bytes, a, sizeof(a)));
	if (i->lost_bytes)
		printf("lost             %s (the kernel has not given them back)\n",
		       fmt_bytes(i->lost_bytes, a, sizeof(a)));
	printf("largest free run %s\n", fmt_bytes(i->largest_free_run, a, sizeof(a)));
	printf("runs             %u\n", i->runs);
	printf("sessions         %u\n", i->sessions);
	printf("regions          %u\n", i->regions);
	printf("uptime           %.0f s\n", (double)i->uptime_ns / 1e9);
	printf("below 4 GiB      %s total, %s free, %s used\n",
	       fmt_bytes(i->below_4g_total, a, sizeof(a)), fmt_bytes(i->below_4g_free, b, sizeof(b)),
	       fmt_bytes(i->below_4g_total - i->below_4g_free, d, sizeof(d)));
	printf("below 16 MiB     %s total, %s free, %s used\n",
	       fmt_bytes(i->below_16m_total, a, sizeof(a)),
	       fmt_bytes(i->below_16m_free, b, sizeof(b)),
	       fmt_bytes(i->below_16m_total - i->below_16m_free, d, sizeof(d)));
	return 0;
}
