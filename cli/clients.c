/* SPDX-License-Identifier: MIT */
/*
 * clients.c - `contigctl clients`: every session the caller may see (root:
 * all; others: their own uid's), this contigctl's own included and marked,
 * with the pages each leased for carving small regions and, by its own
 * report (which the daemon caps at what it leased), how much of them is in
 * live carved regions, and the cgroup it connected from.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "cmds.h"

static void client_json(const struct proto_session_item *s, bool self)
{
	printf("{\"session\":%" PRIu64 ",\"pid\":%d,\"uid\":%u,\"gid\":%u,\"comm\":", s->session_id,
	       (int)s->pid, s->uid, s->gid);
	json_string(stdout, s->comm, sizeof(s->comm));
	printf(",\"regions\":%u,\"bytes\":%" PRIu64 ",\"carve_leased_bytes\":%" PRIu64
	       ",\"carve_in_use_bytes\":%" PRIu64 ",\"age_s\":%.3f,\"connected_since\":%.3f"
	       ",\"self\":%s,\"cgroup\":",
	       s->regions, s->bytes, s->carve_leased_bytes, s->carve_in_use_bytes,
	       (double)s->age_ns / 1e9, since_epoch(s->age_ns), self ? "true" : "false");
	json_string(stdout, s->cgroup[0] ? s->cgroup : "/", sizeof(s->cgroup));
	printf("}");
}

static void client_text(const struct proto_session_item *s, bool self)
{
	time_t t = (time_t)since_epoch(s->age_ns);
	char sz[32], leased[32] = "-", used[32] = "-", since[32], age[24];
	char comm[sizeof(s->comm) + 1], cg[sizeof(s->cgroup) + 1];
	struct tm tm;

	strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	text_safe(s->comm, sizeof(s->comm), comm, sizeof(comm));
	/* "-": no page leased for carving (an older daemon sends none either). */
	if (s->carve_leased_bytes) {
		fmt_bytes(s->carve_leased_bytes, leased, sizeof(leased));
		fmt_bytes(s->carve_in_use_bytes, used, sizeof(used));
	}
	text_safe(s->cgroup, sizeof(s->cgroup), cg, sizeof(cg));
	printf("%7" PRIu64 " %7d %6u %-15.15s %7u %9s %12s %10s  %s (%s)  %s%s\n", s->session_id,
	       (int)s->pid, s->uid, comm[0] ? comm : "?", s->regions,
	       fmt_bytes(s->bytes, sz, sizeof(sz)), leased, used, since,
	       fmt_age(s->age_ns, age, sizeof(age)), cg[0] ? cg : "/",
	       self ? "  <- this contigctl" : "");
}

int cmd_clients(struct conn *c, const struct cmd_opts *o)
{
	struct proto_session_item *ss;
	size_t n;
	int r;

	r = conn_list(c, PROTO_TABLE_SESSIONS, sizeof(*ss), (void **)&ss, &n);
	if (r < 0)
		return r;
	if (o->json) {
		printf("{\"clients\":[");
		for (size_t i = 0; i < n; i++) {
			printf("%s", i ? "," : "");
			client_json(&ss[i], ss[i].session_id == c->hello.session_id);
		}
		printf("]}\n");
	} else {
		printf("%7s %7s %6s %-15s %7s %9s %12s %10s  %-30s  %s\n", "SESSION", "PID", "UID",
		       "COMM", "REGIONS", "BYTES", "CARVE LEASED", "CARVE USED", "CONNECTED SINCE",
		       "CGROUP");
		for (size_t i = 0; i < n; i++)
			client_text(&ss[i], ss[i].session_id == c->hello.session_id);
		printf("%zu session%s\n", n, n == 1 ? "" : "s");
	}
	free(ss);
	return 0;
}
