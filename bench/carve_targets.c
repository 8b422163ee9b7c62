/* SPDX-License-Identifier: MIT */
/*
 * carve_targets.c - issue 15's targets, one line each, from the rows of
 * the page-granularity figures in the table (carve.c, dpdk_carve.c):
 * contig's headline row, the peer's (DPDK legacy, else the variant or the
 * floor it is compared with), their ratio, the target and whether this run
 * met it. It measures nothing: a row missing from the table prints "—".
 */
#include "carve.h"

#include <string.h>

static const struct result *row_of(const char *group, enum role role, const char *prefix)
{
	for (size_t i = 0; i < results_count(); i++) {
		const struct result *r = result_at(i);
		if (r->role == role && !strcmp(r->group, group) &&
		    (!prefix || !strncmp(r->who, prefix, strlen(prefix))))
			return r;
	}
	return NULL;
}

/* The row to compare with: a peer's, else a variant's (CONTIG_CARVE=0). */
static const struct result *other_of(const char *group, const char *prefix)
{
	const struct result *r = row_of(group, ROLE_PEER, prefix);

	if (!r)
		r = row_of(group, ROLE_INFO, prefix);
	return r ? r : row_of(group, ROLE_FLOOR, prefix);
}

static void fmt_val(char *buf, size_t n, const struct result *r)
{
	if (!r) {
		snprintf(buf, n, "—");
	} else if (!r->n) {
		snprintf(buf, n, r->failed ? "failed" : "not measured");
	} else if (!strcmp(r->unit, "regions") || !strcmp(r->unit, "pairs/s")) {
		snprintf(buf, n, "%.0f %s", r->median, r->unit);
	} else if (!strcmp(r->unit, "ratio") || !strcmp(r->unit, "×")) {
		snprintf(buf, n, "%.3g%s", r->median, strcmp(r->unit, "×") ? "" : "×");
	} else {
		snprintf(buf, n, "%.1f %s", r->median, r->unit);
	}
}

enum tkind {
	T_RATIO_LE, /* contig ÷ peer <= t */
	T_LE,       /* contig <= t */
	T_GE,       /* contig >= t */
	T_GE_PEER,  /* contig >= t and >= peer */
	T_NONE,     /* no target: shown for comparison */
};

static void target_line(FILE *f, const char *figure, const char *group, const char *peer_prefix,
			enum tkind kind, double t, const char *tdesc)
{
	const struct result *c = row_of(group, ROLE_CONTIG, NULL);
	const struct result *p = peer_prefix ? other_of(group, peer_prefix) : NULL;
	char cv[48], pv[48], ratio[32] = "—", pname[64] = "";
	bool have_c = c && c->n, have_p = p && p->n;
	const char *met = "—";

	fmt_val(cv, sizeof(cv), c);
	fmt_val(pv, sizeof(pv), p);
	if (p && p->role == ROLE_FLOOR)
		snprintf(pname, sizeof(pname), "floor: ");
	else if (p)
		snprintf(pname, sizeof(pname), "%.*s: ", (int)strcspn(p->who, ":"), p->who);
	if (have_c && have_p && p->median != 0)
		snprintf(ratio, sizeof(ratio), "%.2f", c->median / p->median);
	switch (kind) {
	case T_RATIO_LE:
		if (have_c && have_p)
			met = c->median / p->median <= t ? "yes" : "**no**";
		break;
	case T_LE:
		if (have_c)
			met = c->median <= t ? "yes" : "**no**";
		break;
	case T_GE:
		if (have_c)
			met = c->median >= t ? "yes" : "**no**";
		break;
	case T_GE_PEER:
		if (have_c)
			met = c->median >= t && (!have_p || c->median >= p->median) ? "yes" : "**no**";
		break;
	case T_NONE:
		break;
	}
	fprintf(f, "| %s | %s | %s%s | %s | %s | %s |\n", figure, cv, pname, pv, ratio, tdesc, met);
}

/* A variant's row alone, no target. */
static void info_line(FILE *f, const char *figure, const char *group, const char *prefix,
		      const char *tdesc)
{
	const struct result *r = other_of(group, prefix);
	char v[48];

	fmt_val(v, sizeof(v), r);
	fprintf(f, "| %s | %s | — | — | %s | — |\n", figure, v, tdesc);
}

void carve_print_targets(FILE *f, bool smoke)
{
	struct carve_params p;
	static const char *const names[CARVE_NSIZES] = { "4 KiB", "64 KiB", "256 KiB" };
	char fig[160], tdesc[64];

	carve_params_default(&p, smoke);
	fprintf(f, "### Page granularity (issue 15): each target, contig and DPDK in this run%s\n\n",
		smoke ? " (smoke: NOT representative)" : "");
	fprintf(f, "| figure | contig | peer | contig ÷ peer | target | met |\n");
	fprintf(f, "|---|---:|---:|---:|---|---|\n");
	for (unsigned i = 0; i < CARVE_NSIZES; i++) {
		snprintf(fig, sizeof(fig), "%s alloc+touch+free, %u live, one replaced at a time",
			 names[i], p.ws);
		target_line(f, fig, carve_group_ws[i], "DPDK legacy", T_RATIO_LE, 1.0,
			    "≤ 1.0× rte_zmalloc+rte_free (legacy)");
		snprintf(fig, sizeof(fig), "%s alloc+touch+free, back to back", names[i]);
		target_line(f, fig, carve_group_b2b[i], "DPDK legacy", T_RATIO_LE, 1.0,
			    "≤ 1.0× rte_zmalloc+rte_free (legacy)");
	}
	target_line(f, "contig_phys_addr, interior bytes of 16 regions of 4 KiB–2 MiB",
		    G_CARVE_V2P16, "DPDK legacy", T_RATIO_LE, 1.0,
		    "≤ 1.0× rte_mem_virt2memseg + offset");
	snprintf(fig, sizeof(fig), "contig_phys_addr with %u live 4 KiB regions, random bytes",
		 p.many);
	target_line(f, fig, G_CARVE_V2PMANY, "DPDK legacy", T_LE, 10.0, "≤ 10 ns median");
	target_line(f, "2 threads ÷ 1 thread carving and freeing 4 KiB (throughput)",
		    G_CARVE_THREADS, "DPDK legacy", T_GE, 1.7, "≥ 1.7×");
	target_line(f, "the same, against the machine's own 2-thread scaling (no allocator)",
		    G_CARVE_THREADS, "2 threads ÷ 1 thread, memset", T_NONE, 0,
		    "comparison: 1.0 = scales as well as the machine lets it");
	info_line(f, "the same with one more region live per thread (its page never parked)",
		  G_CARVE_THREADS, "contig: the same, each thread keeping", "diagnosis");
	snprintf(fig, sizeof(fig),
		 "random mix 4 KiB–1 MiB, %u MiB kept 80%% full: live ÷ held, vs DPDK legacy",
		 p.mix_mb);
	target_line(f, fig, G_CARVE_MIX, "DPDK legacy", T_GE_PEER, 0.6, "≥ 0.6 and ≥ DPDK's");
	snprintf(fig, sizeof(fig), "the same, vs DPDK dynamic memory");
	target_line(f, fig, G_CARVE_MIX, "DPDK dynamic", T_GE_PEER, 0.6, "≥ 0.6 and ≥ DPDK's");
	double want = 65000.0 * p.count_mb / 256;
	snprintf(fig, sizeof(fig), "4 KiB regions live at once, %u MiB pool of 2 MiB pages",
		 p.count_mb);
	snprintf(tdesc, sizeof(tdesc), "≥ %.0f", want);
	target_line(f, fig, G_CARVE_COUNT, "DPDK legacy", T_GE, want, tdesc);
	snprintf(fig, sizeof(fig), "the same, carving off (CONTIG_CARVE=0: the old behaviour)");
	target_line(f, fig, G_CARVE_COUNT, "contig CONTIG_CARVE=0", T_NONE, 0,
		    "comparison (the issue's \"today 128\")");
	snprintf(fig, sizeof(fig), "64 KiB regions live at once, %u MiB pool of 2 MiB pages",
		 p.count_mb);
	target_line(f, fig, G_CARVE_COUNT64K, "DPDK legacy", T_NONE, 0,
		    "none (at most pool ÷ 64 KiB)");
	target_line(f, "the same, carving off (CONTIG_CARVE=0)", G_CARVE_COUNT64K,
		    "contig CONTIG_CARVE=0", T_NONE, 0, "none");
	target_line(f, "4 KiB regions live at once, 2 GiB pool of 1 GiB pages", G_CARVE_COUNT1G,
		    NULL, T_GE, 500000, "≥ 500000");
	fprintf(f, "\n");
}
