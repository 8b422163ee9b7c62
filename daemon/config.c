/* SPDX-License-Identifier: MIT */
/*
 * config.c - the keys an operator can set: one table with each key's parser,
 * the fields of struct settings it writes and whether SIGHUP may change it.
 * The command line and the file go through the same parsers. A parser writes
 * nothing unless the whole value is good. Keys set on the command line are
 * marked in settings.cmdline_keys and the file never overrides them.
 */
#define _GNU_SOURCE
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "proto.h"
#include "server.h"

#define CONFIG_LINE_MAX 4096 /* bytes of one line, without its "\n" or "\r\n" */
#define ERR_MAX 512          /* a reason, without "path:line: " */

struct key {
	const char *name;
	int (*parse)(const struct key *k, struct settings *s, const char *v, char *err);
	bool live;         /* SIGHUP may change it */
	uint64_t min, max; /* numbers and sizes; a size with max UINT64_MAX takes "unlimited" */
	struct {
		size_t off, len;
	} f[2]; /* what it writes; config_reload compares them */
	bool repeat;       /* may be given more than once: each adds one */
};

static __attribute__((format(printf, 2, 3))) int fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void *field(const struct key *k, struct settings *s, int i)
{
	return (char *)s + k->f[i].off;
}

/* Plain decimal: strtoull alone would take " 12", "-1" and "0x10". */
static int parse_number(const char *v, uint64_t *ret)
{
	char *end;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	*ret = strtoull(v, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

/* socket must be absolute and fit sun_path with its NUL (unix(7)); socket-group must exist. */
static int p_string(const struct key *k, struct settings *s, const char *v, char *err)
{
	bool path = k->f[0].off == offsetof(struct settings, socket);
	size_t n = strlen(v);

	if (n >= k->f[0].len)
		return fail(err, "too long: %zu bytes, at most %zu", n, k->f[0].len - 1);
	if (path && v[0] != '/')
		return fail(err, "must be an absolute path: '%s'", v);
	if (!path && n && !getgrnam(v))
		return fail(err, "no such group: '%s'", v);
	/* Zero-filled, so that config_reload can compare them with memcmp. */
	memset(field(k, s, 0), 0, k->f[0].len);
	memcpy(field(k, s, 0), v, n);
	return 0;
}

static int p_size(const struct key *k, struct settings *s, const char *v, char *err)
{
	uint64_t n = UINT64_MAX; /* "unlimited" (limits_default) */
	int r = k->max == UINT64_MAX && !strcmp(v, "unlimited") ? 0 : parse_size(v, &n);

	if (r == -ERANGE)
		return fail(err, "too large: '%s'", v);
	if (r < 0)
		return fail(err, "not a size: '%s'", v);
	if (n < k->min)
		return fail(err, "must be greater than 0");
	*(uint64_t *)field(k, s, 0) = n;
	return 0;
}

/* "SIZE" (that much on every node with memory) or "node0:1G,node1:512M". */
static int p_pool(const struct key *k, struct settings *s, const char *v, char *err)
{
	uint64_t per_node[PROTO_MAX_NODES] = { 0 };
	char buf[256], *save = NULL;

	if (!strchr(v, ':')) {
		memset(s->node_pool, 0, sizeof(s->node_pool));
		return p_size(k, s, v, err);
	}
	if (strlen(v) >= sizeof(buf))
		return fail(err, "too long: '%s'", v);
	strcpy(buf, v);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':'), *end;
		unsigned long node;
		uint64_t size;

		if (!colon || strncmp(item, "node", 4))
			return fail(err, "expected nodeN:SIZE[,nodeM:SIZE...]: '%s'", v);
		*colon = 0;
		errno = 0;
		node = strtoul(item + 4, &end, 10);
		if (errno || end == item + 4 || *end || node >= PROTO_MAX_NODES)
			return fail(err, "node must be 0..%d: '%s'", PROTO_MAX_NODES - 1, item);
		if (parse_size(colon + 1, &size) < 0 || !size)
			return fail(err, "not a size: '%s'", colon + 1);
		if (per_node[node])
			return fail(err, "node%lu given twice", node);
		per_node[node] = size;
	}
	memcpy(s->node_pool, per_node, sizeof(per_node));
	s->pool_bytes = 0;
	return 0;
}

/* The x86-64 hugepage sizes (Documentation/admin-guide/mm/hugetlbpage.rst). */
static int p_page_size(const struct key *k, struct settings *s, const char *v, char *err)
{
	uint64_t n;

	if (parse_size(v, &n) < 0 || (n != 2ull << 20 && n != 1ull << 30))
		return fail(err, "must be 2M or 1G: '%s'", v);
	*(uint64_t *)field(k, s, 0) = n;
	return 0;
}

static int p_low_pool(const struct key *k, struct settings *s, const char *v, char *err)
{
	const char *at = strchr(v, '@');
	uint64_t size = 0, ceiling = 0;
	char head[32] = "";

	if (strcmp(v, "none")) {
		if (at && (size_t)(at - v) < sizeof(head))
			memcpy(head, v, (size_t)(at - v));
		if (!*head || parse_size(head, &size) < 0 || parse_size(at + 1, &ceiling) < 0)
			return fail(err, "expected SIZE@CEILING or 'none': '%s'", v);
		if (!size || ceiling <= size)
			return fail(err, "needs 0 < SIZE < CEILING: '%s'", v);
	}
	*(uint64_t *)field(k, s, 0) = size;
	*(uint64_t *)field(k, s, 1) = ceiling;
	return 0;
}

static int p_uint(const struct key *k, struct settings *s, const char *v, char *err)
{
	uint64_t n;

	if (parse_number(v, &n) < 0 || n < k->min || n > k->max)
		return fail(err, "must be a number from %llu to %llu: '%s'",
			    (unsigned long long)k->min, (unsigned long long)k->max, v);
	*(uint32_t *)field(k, s, 0) = (uint32_t)n;
	return 0;
}

/* Milliseconds: "250", "250ms" or "2s". */
static int p_ms(const struct key *k, struct settings *s, const char *v, char *err)
{
	uint64_t n = UINT64_MAX, scale = 1;
	char *end = (char *)v;

	if (isdigit((unsigned char)v[0]))
		n = strtoull(v, &end, 10); /* ULLONG_MAX on overflow: out of range below */
	if (!strcmp(end, "s"))
		scale = 1000;
	else if (*end && strcmp(end, "ms"))
		n = UINT64_MAX;
	if (n > k->max / scale)
		return fail(err, "must be 0 to %llu ms, as '500', '500ms' or '2s': '%s'",
			    (unsigned long long)k->max, v);
	*(uint32_t *)field(k, s, 0) = (uint32_t)(n * scale);
	return 0;
}

static int p_log_level(const struct key *k, struct settings *s, const char *v, char *err)
{
	int level = log_level_parse(v);

	if (level < 0)
		return fail(err, "must be err, warning, notice, info, debug or 3..7: '%s'", v);
	*(int *)field(k, s, 0) = level;
	return 0;
}

static int p_bool(const struct key *k, struct settings *s, const char *v, char *err)
{
	bool yes = !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1");

	if (!yes && strcasecmp(v, "no") && strcasecmp(v, "false") && strcmp(v, "0"))
		return fail(err, "must be yes or no: '%s'", v);
	*(bool *)field(k, s, 0) = yes;
	return 0;
}

/* A user or group by name or number: its id, or -ENOENT unless it exists. */
static int64_t lookup_id(const char *name, bool user)
{
	uint64_t n;
	/* (uid_t)-1 is "no change" to chown(2), never an id. */
	bool num = parse_number(name, &n) == 0 && n < UINT32_MAX;
	struct passwd *pw = !user ? NULL : num ? getpwuid((uid_t)n) : getpwnam(name);
	struct group *gr = user ? NULL : num ? getgrgid((gid_t)n) : getgrnam(name);

	if (!pw && !gr)
		return -ENOENT;
	return pw ? pw->pw_uid : gr->gr_gid;
}

static_assert(sizeof(uid_t) == 4 && sizeof(gid_t) == 4, "p_ids stores ids as uint32_t");

/* "alice, bob 1001": f[0] is the count, f[1] the array of uids or gids. */
static int p_ids(const struct key *k, struct settings *s, const char *v, char *err)
{
	bool user = k->f[1].off == offsetof(struct settings, access.uids);
	uint32_t ids[ACCESS_MAX_IDS] = { 0 }, n = 0, i;
	const char *p = v;
	char name[256];

	while (*(p += strspn(p, ", \t"))) {
		size_t len = strcspn(p, ", \t");
		int64_t id = -ENOENT;

		if (snprintf(name, sizeof(name), "%.*s", (int)len, p) < (int)sizeof(name))
			id = lookup_id(name, user);
		if (id < 0)
			return fail(err, "no such %s: '%.*s'", user ? "user" : "group", (int)len,
				    p);
		for (i = 0; i < n && ids[i] != id; i++)
			;
		if (i == ACCESS_MAX_IDS)
			return fail(err, "more than %d entries", ACCESS_MAX_IDS);
		if (i == n)
			ids[n++] = (uint32_t)id;
		p += len;
	}
	*(uint32_t *)field(k, s, 0) = n;
	memcpy(field(k, s, 1), ids, sizeof(ids));
	return 0;
}

/* "PATH SIZE": a cgroup v2 path, then the bytes its subtree may hold;
 * one more each time. */
static int p_cgroup_limit(const struct key *k, struct settings *s, const char *v, char *err)
{
	struct tenant_limits *tl = field(k, s, 0);
	const char *sp = v + strcspn(v, " \t");
	const char *size = sp + strspn(sp, " \t");
	size_t plen = (size_t)(sp - v);
	struct tenant_limit l = { 0 };

	if (!*sp || !*size || size[strcspn(size, " \t")])
		return fail(err, "expected 'PATH SIZE': '%s'", v);
	if (plen >= sizeof(l.path))
		return fail(err, "path longer than %zu bytes", sizeof(l.path) - 1);
	memcpy(l.path, v, plen);
	if (!tenant_path_valid(l.path))
		return fail(err, "not a cgroup v2 path (as in /proc/PID/cgroup): '%s'", l.path);
	if (parse_size(size, &l.bytes) < 0)
		return fail(err, "not a size: '%s'", size);
	for (uint32_t i = 0; i < tl->n; i++)
		if (!strcmp(tl->l[i].path, l.path))
			return fail(err, "'%s' given twice", l.path);
	if (tl->n == TENANT_MAX_LIMITS)
		return fail(err, "more than %d cgroup limits", TENANT_MAX_LIMITS);
	tl->l[tl->n++] = l;
	return 0;
}

#define F(m) { offsetof(struct settings, m), sizeof(((struct settings *)0)->m) }
/* name, parser, live (SIGHUP may change it), min, max, fields */
static const struct key keys[] = {
	{ "socket", p_string, false, 0, 0, { F(socket) } },
	{ "pool", p_pool, false, 1, 0, { F(pool_bytes), F(node_pool) } },
	{ "page-size", p_page_size, false, 0, 0, { F(page_size) } },
	{ "low-pool", p_low_pool, false, 0, 0, { F(low_pool_bytes), F(low_pool_ceiling) } },
	{ "low-pool-margin", p_size, false, 0, 0, { F(low_pool_margin) } },
	{ "threads", p_uint, false, 0, 64, { F(threads) } },
	{ "oversample", p_uint, false, 0, 8, { F(oversample) } },
	{ "repair-idle", p_uint, true, 0, 86400, { F(repair_idle_s) } },
	{ "raise-hugepages", p_bool, false, 0, 0, { F(may_raise_hugepages) } },
	{ "zero-in-place", p_bool, false, 0, 0, { F(zero_in_place) } },
	{ "socket-group", p_string, false, 0, 0, { F(socket_group) } },
	{ "log-level", p_log_level, true, 0, 0, { F(log_level) } },
	{ "audit-interval", p_uint, true, 0, 86400, { F(audit_interval_s) } },
	{ "quarantine", p_ms, true, 0, 60000, { F(quarantine_ms) } },
	{ "max-sessions", p_uint, true, 1, UINT32_MAX, { F(limits.max_sessions) } },
	{ "session-max-regions", p_uint, true, 1, UINT32_MAX, { F(limits.session_max_regions) } },
	{ "session-max-bytes", p_size, true, 1, UINT64_MAX, { F(limits.session_max_bytes) } },
	{ "uid-max-sessions", p_uint, true, 1, UINT32_MAX, { F(limits.uid_max_sessions) } },
	{ "uid-max-regions", p_uint, true, 1, UINT32_MAX, { F(limits.uid_max_regions) } },
	{ "uid-max-bytes", p_size, true, 1, UINT64_MAX, { F(limits.uid_max_bytes) } },
	{ "allow-users", p_ids, true, 0, 0, { F(access.nuids), F(access.uids) } },
	{ "allow-groups", p_ids, true, 0, 0, { F(access.ngids), F(access.gids) } },
	{ "import-groups", p_ids, true, 0, 0, { F(access.nimport_gids), F(access.import_gids) } },
	{ "cgroup-max-bytes", p_cgroup_limit, true, 0, 0, { F(cgroup_limits) }, true },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
static_assert(NKEYS <= 32, "settings.cmdline_keys has one bit per key");

static const struct key *key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

int config_apply(struct settings *s, const char *key, const char *value, char *err, size_t errlen)
{
	const struct key *k = key_find(key);
	char why[ERR_MAX];

	if (!k) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -ENOENT;
	}
	if (k->parse(k, s, value, why) < 0) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	s->cmdline_keys |= 1u << (k - keys);
	return 0;
}

static char *trim(char *p)
{
	char *end = p + strlen(p);

	while (end > p && isspace((unsigned char)end[-1]))
		*--end = 0;
	return p + strspn(p, " \t\v\f\r\n");
}

/* One line of the file; first[] holds the line each key was seen on. */
static int load_line(char *line, unsigned lineno, unsigned *first, struct settings *s, char *why)
{
	char *p = trim(line), *eq = strchr(p, '='), *name, *value, reason[ERR_MAX];
	static struct settings ignored; /* (a repeatable key reads what it holds) */
	const struct key *k;
	unsigned i;

	if (!*p || *p == '#')
		return 0;
	if (eq)
		*eq = 0;
	name = trim(p);
	if (!eq || !*name)
		return fail(why, "expected 'key = value'");
	value = trim(eq + 1);
	k = key_find(name);
	if (!k)
		return fail(why, "unknown key '%s'", name);
	i = (unsigned)(k - keys);
	if (first[i] && !k->repeat)
		return fail(why, "key '%s' given twice (first on line %u)", name, first[i]);
	first[i] = lineno;
	/* The command line wins, but the file's value must still be valid. */
	ignored.cgroup_limits.n = 0; /* each line checked on its own */
	if (k->parse(k, s->cmdline_keys & (1u << i) ? &ignored : s, value, reason) < 0)
		return fail(why, "%s: %s%s", name, reason,
			    strchr(value, '#') ? " ('#' starts a comment only at line start)" : "");
	return 0;
}

int config_load(const char *path, struct settings *s, char *err, size_t errlen)
{
	unsigned first[NKEYS] = { 0 }, lineno = 0;
	char line[CONFIG_LINE_MAX + 3], why[ERR_MAX]; /* + "\r\n\0" */
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	while (r == 0 && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");
		bool whole = line[n] == '\n' || feof(f);

		lineno++;
		line[n] = 0;
		if (n && line[n - 1] == '\r')
			line[--n] = 0;
		if (!whole || n > CONFIG_LINE_MAX)
			r = fail(why, "line longer than %d bytes", CONFIG_LINE_MAX);
		else
			r = load_line(line, lineno, first, s, why);
	}
	if (r < 0) {
		snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
	} else if (ferror(f)) {
		r = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	}
	fclose(f);
	return r;
}

void config_apply_live(const struct settings *s, struct server *srv)
{
	log_max_level = s->log_level;
	pool_set_quarantine(&srv->pool, s->quarantine_ms);
	srv->repair.idle_s = s->repair_idle_s;
	server_apply(srv, &s->limits, &s->access);
	server_set_cgroup_limits(srv, &s->cgroup_limits);
}

int config_reload(const char *path, struct settings *s, char *err, size_t errlen)
{
	char applied[512] = "", restart[sizeof(applied)] = "";
	struct settings n;
	int r;

	/* From the defaults, so that a key taken out of the file goes back to its default. */
	settings_default(&n);
	r = config_load(path, &n, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		char *list = k->live ? applied : restart;
		size_t len = strlen(list);
		bool changed = false;

		if (s->cmdline_keys & (1u << i))
			continue;
		for (int j = 0; j < 2 && k->f[j].len; j++)
			changed |= memcmp(field(k, s, j), field(k, &n, j), k->f[j].len) != 0;
		if (!changed)
			continue;
		snprintf(list + len, sizeof(applied) - len, "%s%s", len ? ", " : "", k->name);
		for (int j = 0; j < 2 && k->f[j].len && k->live; j++)
			memcpy(field(k, s, j), field(k, &n, j), k->f[j].len);
	}
	if (*restart)
		log_notice("%s: not applied until contigd restarts: %s", path, restart);
	log_info("%s reloaded: %s%s", path, *applied ? "applied " : "no live setting changed",
		 applied);
	return 0;
}
