/* SPDX-License-Identifier: MIT */
/*
 * regions.c - `contigctl regions`: every live region the caller may see
 * (root: all; others: their own uid's), with its owner, where it lies, the
 * constraints it was asked with, and whether it is a page leased for
 * carving small regions in the client.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cmds.h"

static bool is_carve(const struct proto_region_item *g)
{
	return (g->flags & PROTO_REGION_ITEM_CARVE) != 0;
}

static void region_json(const struct proto_region_item *g, uint64_t ps)
{
	printf("{\"id\":%" PRIu64 ",\"session\":%" PRIu64 ",\"pid\":%d,\"uid\":%u,\"comm\":",
	       g->region_id, g->session_id, (int)g->pid, g->uid);
	json_string(stdout, g->comm, sizeof(g->comm));
	printf(",\"bytes\":%" PRIu64 ",\"mapped_bytes\":%" PRIu64 ",\"pages\":%u"
	       ",\"phys\":%" PRIu64 ",\"phys_end\":%" PRIu64 ",\"lowest\":%" PRIu64
	       ",\"highest\":%" PRIu64 ",\"boundary\":%" PRIu64 ",\"node\":%d,\"holders\":%u"
	       ",\"carve\":%s,\"age_s\":%.3f}",
	       g->nbytes, (uint64_t)g->npages * ps, g->npages, g->phys, g->phys + g->nbytes - 1,
	       g->lowest, g->highest, g->boundary, (int)g->node, g->holders,
	       is_carve(g) ? "true" : "false", (double)g->age_ns / 1e9);
}

static const char *fmt_addr(uint64_t v, uint64_t none, char *buf, size_t n)
{
	if (v == none)
		snprintf(buf, n, "%s", none ? "max" : "-");
	else
		snprintf(buf, n, "0x%" PRIx64, v);
	return buf;
}

static void region_text(const struct proto_region_item *g)
{
	char sz[32], lo[24], hi[24], bd[24], nd[8], age[24], comm[sizeof(g->comm) + 1];

	text_safe(g->comm, sizeof(g->comm), comm, sizeof(comm));
	printf("%-12" PRIu64 " %7" PRIu64 " %7d %6u %-15.15s %9s  0x%012" PRIx64 "-0x%012" PRIx64
	       "  %-14s %-14s %-12s %4s %7u %8s%s\n",
	       g->region_id, g->session_id, (int)g->pid, g->uid, comm[0] ? comm : "?",
	       fmt_bytes(g->nbytes, sz, sizeof(sz)), g->phys, g->phys + g->nbytes - 1,
	       fmt_addr(g->lowest, 0, lo, sizeof(lo)),
	       fmt_addr(g->highest, UINT64_MAX, hi, sizeof(hi)),
	       fmt_addr(g->boundary, 0, bd, sizeof(bd)), fmt_node(g->node, nd, sizeof(nd)),
	       g->holders, fmt_age(g->age_ns, age, sizeof(age)), is_carve(g) ? "  (carve)" : "");
}

int cmd_regions(struct conn *c, const struct cmd_opts *o)
{
	struct proto_region_item *rg;
	uint64_t bytes = 0;
	size_t n, carve = 0;
	char a[32];
	int r;

	r = conn_list(c, PROTO_TABLE_REGIONS, sizeof(*rg), (void **)&rg, &n);
	if (r < 0)
		return r;
	if (o->json) {
		printf("{\"page_size\":%" PRIu64 ",\"regions\":[", c->hello.page_size);
		for (size_t i = 0; i < n; i++) {
			printf("%s", i ? "," : "");
			region_json(&rg[i], c->hello.page_size);
		}
		printf("]}\n");
		goto out;
	}
	printf("%-12s %7s %7s %6s %-15s %9s  %-31s  %-14s %-14s %-12s %4s %7s %8s\n", "ID",
	       "SESSION", "PID", "UID", "COMM", "SIZE", "PHYS RANGE", "LOWEST", "HIGHEST",
	       "BOUNDARY", "NODE", "HOLDERS", "AGE");
	for (size_t i = 0; i < n; i++) {
		region_text(&rg[i]);
		bytes += rg[i].nbytes;
		carve += is_carve(&rg[i]);
	}
	printf("%zu region%s, %s", n, n == 1 ? "" : "s", fmt_bytes(bytes, a, sizeof(a)));
	if (carve)
		printf("; %zu (carve) leased for carving small regions in the client", carve);
	printf("\n");
out:
	free(rg);
	return 0;
}
