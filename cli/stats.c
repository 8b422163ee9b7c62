/* SPDX-License-Identifier: MIT */
/*
 * stats.c - `contigctl stats`: the daemon's counters since start, as text,
 * JSON (keys are the daemon's counter names) or the Prometheus text
 * exposition format (--prometheus) for node_exporter's textfile collector.
 *
 * Prometheus names: every metric starts with contig_; counters end in
 * _total and are in base units (seconds, bytes); each family gets one HELP
 * and one TYPE line before its samples. Counters this contigctl does not
 * know still appear, as contig_<name>_total, so a newer daemon loses
 * nothing. Gauges come from the status query, and from the few rows of the
 * table that are figures of now rather than counts (the carve totals).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

struct counter_def {
	const char *name;      /* the daemon's */
	const char *metric;    /* Prometheus family */
	const char *label;     /* reason="..." label value, or NULL */
	const char *help;
	double scale;          /* 0: integer value as is */
	bool gauge;            /* a figure of now, not a count since start */
};

static const struct counter_def counters[] = {
	{ "allocs", "contig_allocations_total", NULL, "Regions allocated.", 0 },
	{ "frees", "contig_frees_total", NULL, "Regions returned to the pool by their last holder.", 0 },
	{ "fail_einval", "contig_allocation_failures_total", "EINVAL",
	  "Allocation and import requests refused, by reason.", 0 },
	{ "fail_enomem", "contig_allocation_failures_total", "ENOMEM", NULL, 0 },
	{ "fail_edquot", "contig_allocation_failures_total", "EDQUOT", NULL, 0 },
	{ "fail_eacces", "contig_allocation_failures_total", "EACCES", NULL, 0 },
	{ "fail_other", "contig_allocation_failures_total", "other", NULL, 0 },
	{ "waits", "contig_allocation_waits_total", NULL,
	  "Allocations that waited for reclaim in flight.", 0 },
	{ "bytes_served", "contig_served_bytes_total", NULL, "Bytes allocated, as asked.", 0 },
	{ "reclaims", "contig_reclaimed_pages_total", NULL,
	  "Pages revoked, refaulted zeroed and returned to the pool.", 0 },
	{ "zeroed_in_place", "contig_zeroed_in_place_pages_total", NULL,
	  "Reclaimed pages zeroed in place rather than refaulted.", 0 },
	{ "reclaim_ns", "contig_reclaim_seconds_total", NULL,
	  "Time spent refaulting reclaimed pages.", 1e-9 },
	{ "revoke_errors", "contig_revoke_errors_total", NULL,
	  "Pages whose revocation (hole punch) failed.", 0 },
	{ "quarantined", "contig_quarantined_pages_total", NULL,
	  "Pages of dead sessions held back before reclaim.", 0 },
	{ "pinned", "contig_pin_operations_total", NULL, "Pin operations that succeeded.", 0 },
	{ "pin_failures", "contig_pin_failures_total", NULL, "Pin operations that failed.", 0 },
	{ "phys_changed", "contig_phys_changed_pages_total", NULL,
	  "Pages back from reclaim at another physical address.", 0 },
	{ "lost", "contig_lost_pages_total", NULL,
	  "Times the kernel did not give a reclaimed page back.", 0 },
	{ "audits", "contig_audits_total", NULL, "Checks that pool pages kept their addresses.", 0 },
	{ "wrong_node", "contig_wrong_node_pages_total", NULL,
	  "Pages the kernel put on another NUMA node than asked.", 0 },
	{ "audit_moved", "contig_audit_moved_pages_total", NULL,
	  "Pages an audit found at another physical address.", 0 },
	{ "imports", "contig_imports_total", NULL, "Shared regions imported.", 0 },
	{ "exports", "contig_exports_total", NULL, "Regions exported for sharing.", 0 },
	{ "protocol_errors", "contig_protocol_errors_total", NULL,
	  "Sessions closed for a protocol violation.", 0 },
	{ "sessions_total", "contig_sessions_opened_total", NULL, "Sessions opened.", 0 },
	{ "repair_looked", "contig_repair_candidate_pages_total", NULL,
	  "Spare hugepages faulted as candidates for longer runs.", 0 },
	{ "repair_swapped", "contig_repair_swapped_pages_total", NULL,
	  "Free pool pages exchanged for candidates that made runs longer.", 0 },
	{ "stash_taken", "contig_stash_taken_total", NULL,
	  "Regions clients kept for reuse that the daemon took back.", 0 },
	{ "stash_bogus", "contig_stash_bogus_total", NULL,
	  "Ids in a client's stash that named none of its regions.", 0 },
	{ "carve_leased_bytes", "contig_carve_leased_bytes", NULL,
	  "Bytes of pool pages sessions hold to carve small regions from.", 0, true },
	{ "carve_in_use_bytes", "contig_carve_in_use_bytes", NULL,
	  "Of those, bytes in live carved regions, as clients report it (capped).", 0, true },
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

/* A counter name as received: NUL-terminated within its 40 bytes. */
static void stat_name(const struct proto_stat_item *it, char *buf)
{
	memcpy(buf, it->name, sizeof(it->name));
	buf[sizeof(it->name)] = 0;
}

static const struct counter_def *counter_def(const char *name)
{
	for (size_t i = 0; i < NCOUNTERS; i++)
		if (!strcmp(counters[i].name, name))
			return &counters[i];
	return NULL;
}

/* Family of a counter we have no definition for: contig_<name>_total, with
 * anything outside [a-zA-Z0-9_] made '_'. */
static void generic_metric(const char *name, char *buf, size_t n)
{
	size_t len = strlen(name);
	bool has_total = len >= 6 && !strcmp(name + len - 6, "_total");
	size_t k = (size_t)snprintf(buf, n, "contig_%s%s", name, has_total ? "" : "_total");

	for (size_t i = 7; i < k && i < n; i++)
		if (!isalnum((unsigned char)buf[i]) && buf[i] != '_')
			buf[i] = '_';
}

struct sample {
	char metric[64];
	const char *label;
	const char *help;
	char generic_help[96];
	uint64_t value;
	double scale;
	bool gauge;
	bool done;
};

static void sample_of(const struct proto_stat_item *it, struct sample *s)
{
	char name[sizeof(it->name) + 1];
	const struct counter_def *d;

	stat_name(it, name);
	d = counter_def(name);
	memset(s, 0, sizeof(*s));
	s->value = it->value;
	if (d) {
		snprintf(s->metric, sizeof(s->metric), "%s", d->metric);
		s->label = d->label;
		s->help = d->help;
		s->scale = d->scale;
		s->gauge = d->gauge;
		return;
	}
	generic_metric(name, s->metric, sizeof(s->metric));
	/* HELP text ends at the line and escapes backslashes: the name
	 * goes in printable and without either. */
	char safe[sizeof(name)];
	text_safe(name, sizeof(name), safe, sizeof(safe));
	for (char *c = safe; (c = strchr(c, '\\'));)
		*c = '?';
	snprintf(s->generic_help, sizeof(s->generic_help), "contigd counter %s.", safe);
	s->help = s->generic_help;
}

static void print_value(uint64_t v, double scale)
{
	if (scale)
		printf(" %.9f\n", (double)v * scale);
	else
		printf(" %" PRIu64 "\n", v);
}

/* One family: HELP and TYPE, then every sample of it (they may not be
 * adjacent in the daemon's table). */
static void family(struct sample *s, size_t n, size_t first)
{
	const char *help = NULL;

	for (size_t i = first; i < n && !help; i++)
		if (!strcmp(s[i].metric, s[first].metric))
			help = s[i].help;
	printf("# HELP %s %s\n# TYPE %s %s\n", s[first].metric, help ? help : "contigd counter.",
	       s[first].metric, s[first].gauge ? "gauge" : "counter");
	for (size_t i = first; i < n; i++) {
		if (s[i].done || strcmp(s[i].metric, s[first].metric))
			continue;
		s[i].done = true;
		printf("%s", s[i].metric);
		if (s[i].label)
			printf("{reason=\"%s\"}", s[i].label);
		print_value(s[i].value, s[i].scale);
	}
}

static void gauge(const char *metric, const char *help, uint64_t v, double scale)
{
	printf("# HELP %s %s\n# TYPE %s gauge\n%s", metric, help, metric, metric);
	print_value(v, scale);
}

static void pool_gauges(const struct proto_pool_info *i)
{
	static const char *const state[] = { "free", "used", "reclaiming", "quarantined", "lost" };
	uint64_t used = i->total_bytes - i->free_bytes - i->reclaiming_bytes -
			i->quarantined_bytes - i->lost_bytes;
	uint64_t by_state[] = { i->free_bytes, used, i->reclaiming_bytes, i->quarantined_bytes,
				i->lost_bytes };

	gauge("contig_pool_page_size_bytes", "Bytes of one pool page.", i->page_size, 0);
	gauge("contig_pool_size_bytes", "Bytes in the pool.", i->total_bytes, 0);
	printf("# HELP contig_pool_bytes Bytes of the pool by page state.\n"
	       "# TYPE contig_pool_bytes gauge\n");
	for (size_t k = 0; k < sizeof(state) / sizeof(state[0]); k++)
		printf("contig_pool_bytes{state=\"%s\"} %" PRIu64 "\n", state[k], by_state[k]);
	gauge("contig_pool_largest_free_run_bytes",
	      "Bytes of the largest physically contiguous free run.", i->largest_free_run, 0);
	gauge("contig_pool_runs", "Physically contiguous runs in the pool.", i->runs, 0);
	gauge("contig_pool_below_4g_size_bytes", "Pool bytes wholly below 4 GiB.",
	      i->below_4g_total, 0);
	gauge("contig_pool_below_4g_free_bytes", "Free pool bytes wholly below 4 GiB.",
	      i->below_4g_free, 0);
	gauge("contig_pool_below_16m_size_bytes", "Pool bytes wholly below 16 MiB.",
	      i->below_16m_total, 0);
	gauge("contig_pool_below_16m_free_bytes", "Free pool bytes wholly below 16 MiB.",
	      i->below_16m_free, 0);
	gauge("contig_sessions", "Connected sessions.", i->sessions, 0);
	gauge("contig_regions", "Live regions.", i->regions, 0);
	gauge("contig_uptime_seconds", "Seconds since contigd started.", i->uptime_ns, 1e-9);
}

/* Per-node size and free bytes, one sample per node that holds pool pages
 * (the pool's nodes mask), labelled node="N" so a dashboard can tell a
 * node that ran dry from a pool that did. */
static int node_gauges(struct conn *c, const struct proto_pool_info *pool)
{
	struct proto_pool_info ni[32];
	int r;

	for (int node = 0; node < 32; node++) {
		if (!(pool->nodes & (1u << node)))
			continue;
		r = pool_query_node(c, node, &ni[node]);
		if (r < 0)
			return r;
	}
	printf("# HELP contig_node_size_bytes Bytes of the pool on a NUMA node.\n"
	       "# TYPE contig_node_size_bytes gauge\n");
	for (int node = 0; node < 32; node++)
		if (pool->nodes & (1u << node))
			printf("contig_node_size_bytes{node=\"%d\"} %" PRIu64 "\n", node,
			       ni[node].total_bytes);
	printf("# HELP contig_node_free_bytes Free pool bytes on a NUMA node.\n"
	       "# TYPE contig_node_free_bytes gauge\n");
	for (int node = 0; node < 32; node++)
		if (pool->nodes & (1u << node))
			printf("contig_node_free_bytes{node=\"%d\"} %" PRIu64 "\n", node,
			       ni[node].free_bytes);
	return 0;
}

static int stats_prometheus(struct conn *c, const struct proto_stat_item *it, size_t n)
{
	struct proto_pool_info info;
	struct sample *s;
	int r;

	r = pool_query(c, &info);
	if (r < 0)
		return r;
	s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		sample_of(&it[i], &s[i]);
	for (size_t i = 0; i < n; i++)
		if (!s[i].done)
			family(s, n, i);
	pool_gauges(&info);
	free(s);
	r = node_gauges(c, &info);
	return r < 0 ? r : cgroup_gauges(c);
}

static void stats_json(const struct proto_stat_item *it, size_t n)
{
	char name[sizeof(it->name) + 1];

	printf("{\"stats\":{");
	for (size_t i = 0; i < n; i++) {
		stat_name(&it[i], name);
		printf("%s", i ? "," : "");
		json_string(stdout, name, sizeof(name));
		printf(":%" PRIu64, it[i].value);
	}
	printf("}}\n");
}

static void stats_text(const struct proto_stat_item *it, size_t n)
{
	char name[sizeof(it->name) + 1], safe[sizeof(name)], a[32];
	uint64_t reclaims = 0;

	for (size_t i = 0; i < n; i++) {
		stat_name(&it[i], name);
		if (!strcmp(name, "reclaims"))
			reclaims = it[i].value;
	}
	for (size_t i = 0; i < n; i++) {
		stat_name(&it[i], name);
		printf("%-20s %" PRIu64, text_safe(name, sizeof(name), safe, sizeof(safe)),
		       it[i].value);
		if (!strcmp(name, "bytes_served") || !strcmp(name, "carve_leased_bytes") ||
		    !strcmp(name, "carve_in_use_bytes"))
			printf("  (%s)", fmt_bytes(it[i].value, a, sizeof(a)));
		else if (!strcmp(name, "reclaim_ns") && reclaims)
			printf("  (%.1f ms, %.0f us per page)", (double)it[i].value / 1e6,
			       (double)it[i].value / 1e3 / (double)reclaims);
		printf("\n");
	}
}

int cmd_stats(struct conn *c, const struct cmd_opts *o)
{
	struct proto_stat_item *it;
	size_t n;
	int r;

	r = conn_list(c, PROTO_TABLE_STATS, sizeof(*it), (void **)&it, &n);
	if (r < 0)
		return r;
	if (o->prometheus)
		r = stats_prometheus(c, it, n);
	else if (o->json)
		stats_json(it, n);
	else
		stats_text(it, n);
	free(it);
	return r;
}
