/* SPDX-License-Identifier: MIT */
/*
 * runs.c - `contigctl runs`: every physically contiguous run of the pool
 * (pages adjacent in physical memory and on one node), as the daemon's
 * RUNS table gives them in physical order. Runs of placeholder pages
 * (reclaiming pages with no frame yet) are listed apart, flagged.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cmds.h"

static uint32_t run_lost(const struct proto_run_item *r)
{
	uint64_t known = (uint64_t)r->free + r->used + r->reclaiming + r->quarantined;

	/* The table has no lost column: lost is what no other state claims. */
	return known < r->pages ? (uint32_t)(r->pages - known) : 0;
}

static void runs_json(const struct proto_run_item *runs, size_t n, uint64_t ps)
{
	printf("{\"page_size\":%" PRIu64 ",\"runs\":[", ps);
	for (size_t i = 0; i < n; i++) {
		const struct proto_run_item *r = &runs[i];
		uint64_t bytes = (uint64_t)r->pages * ps;

		printf("%s{\"phys\":%" PRIu64 ",\"phys_end\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"pages\":%u,\"free\":%u,\"used\":%u,\"reclaiming\":%u,\"quarantined\":%u"
		       ",\"lost\":%u,\"node\":%d,\"placeholder\":%s}",
		       i ? "," : "", r->phys, r->phys + bytes - 1, bytes, r->pages, r->free, r->used,
		       r->reclaiming, r->quarantined, run_lost(r), (int)r->node,
		       r->phys >= CLI_PLACEHOLDER_PHYS ? "true" : "false");
	}
	printf("]}\n");
}

/* The hole between the previous run's end and this run, in words. */
static const char *gap_before(uint64_t phys, uint64_t prev_end, bool first, char *buf, size_t n)
{
	if (first)
		return "-";
	if (phys > prev_end)
		return fmt_bytes(phys - prev_end, buf, n);
	return "0 (node change)";
}

static void runs_text(const struct proto_run_item *runs, size_t n, uint64_t ps)
{
	uint64_t pages = 0, placeholders = 0, prev_end = 0;
	size_t real = 0;
	char a[32], b[32];

	printf("%-18s  %-18s  %9s  %6s %6s %6s %6s %6s %6s %4s  %s\n", "PHYS START", "PHYS END",
	       "SIZE", "PAGES", "FREE", "USED", "RECLM", "QUAR", "LOST", "NODE", "GAP BEFORE");
	for (size_t i = 0; i < n; i++) {
		const struct proto_run_item *r = &runs[i];
		uint64_t bytes = (uint64_t)r->pages * ps;

		pages += r->pages;
		if (r->phys >= CLI_PLACEHOLDER_PHYS) {
			placeholders += r->pages;
			continue;
		}
		printf("0x%016" PRIx64 "  0x%016" PRIx64 "  %9s  %6u %6u %6u %6u %6u %6u %4d  %s\n",
		       r->phys, r->phys + bytes - 1, fmt_bytes(bytes, a, sizeof(a)), r->pages,
		       r->free, r->used, r->reclaiming, r->quarantined, run_lost(r), (int)r->node,
		       gap_before(r->phys, prev_end, !real, b, sizeof(b)));
		prev_end = r->phys + bytes;
		real++;
	}
	printf("%zu runs, %" PRIu64 " pages of %s\n", real, pages - placeholders,
	       fmt_bytes(ps, a, sizeof(a)));
	if (placeholders)
		printf("%" PRIu64 " more pages are being reclaimed and have no frame yet\n",
		       placeholders);
}

int cmd_runs(struct conn *c, const struct cmd_opts *o)
{
	struct proto_run_item *runs;
	size_t n;
	int r;

	r = conn_list(c, PROTO_TABLE_RUNS, sizeof(*runs), (void **)&runs, &n);
	if (r < 0)
		return r;
	if (o->json)
		runs_json(runs, n, c->hello.page_size);
	else
		runs_text(runs, n, c->hello.page_size);
	free(runs);
	return 0;
}
