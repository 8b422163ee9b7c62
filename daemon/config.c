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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "server.h"

#define CONFIG_LINE_MAX 4096 /* bytes of one line, without its "\n" or "\r\n" */
#define ERR_MAX 512          /* a reason, without "path:line: " */

struct span {
	size_t off, len;
};

struct key {
	const char *name;
	int (*parse)(const struct key *k, struct settings *s, const char *v, char *err);
	bool live;         /* SIGHUP may change it */
	uint64_t min, max; /* for numbers and sizes */
	struct span f[2];  /* what it writes: compared and copied by config_reload */
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

/* Zero-filled, so that config_reload can compare them with memcmp. */
static int set_string(const struct key *k, struct settings *s, const char *v, char *err)
{
	size_t n = strlen(v);

	if (n >= k->f[0].len)
		return fail(err, "too long: %zu bytes, at most %zu", n, k->f[0].len - 1);
	memset(field(k, s, 0), 0, k->f[0].len);
	memcpy(field(k, s, 0), v, n);
	return 0;
}

/* sun_path holds 108 bytes with the terminating NUL (unix(7)). */
static int p_socket(const struct key *k, struct settings *s, const char *v, char *err)
{
	if (v[0] != '/')
		return fail(err, "must be an absolute path: '%s'", v);
	return set_string(k, s, v, err);
}

static int p_group(const struct key *k, struct settings *s, const char *v, char *err)
{
	if (v[0] && strlen(v) < k->f[0].len && !getgrnam(v))
		return fail(err, "no such group: '%s'", v);
	return set_string(k, s, v, err);
}

static int p_size(const struct key *k, struct settings *s, const char *v, char *err)
{
	uint64_t n;
	int r = parse_size(v, &n);

	if (r == -ERANGE)
		return fail(err, "too large: '%s'", v);
	if (r < 0)
		return fail(err, "not a size: '%s'", v);
	if (n < k->min)
		return fail(err, "must be greater than 0");
	*(uint64_t *)field(k, s, 0) = n;
	return 0;
}

static int p_pool(const struct key *k, struct settings *s, const char *v, char *err)
{
	if (strchr(v, ':'))
		return fail(err, "per-node pools are not supported yet: '%s'", v);
	return p_size(k, s, v, err);
}

/* UINT64_MAX is "no limit" (limits_default). */
static int p_quota(const struct key *k, struct settings *s, const char *v, char *err)
{
	if (strcmp(v, "unlimited"))
		return p_size(k, s, v, err);
	*(uint64_t *)field(k, s, 0) = UINT64_MAX;
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
	uint64_t size = 0, ceiling = 0;
	char buf[64], *at;

	if (strcmp(v, "none")) {
		snprintf(buf, sizeof(buf), "%s", v);
		at = strchr(buf, '@');
		if (at)
			*at++ = 0;
		if (strlen(v) >= sizeof(buf) || !at || parse_size(buf, &size) < 0 ||
		    parse_size(at, &ceiling) < 0)
			return fail(err, "expected SIZE@CEILING or 'none': '%s'", v);
		if (!size)
			return fail(err, "the size must be greater than 0: '%s'", v);
		if (ceiling <= size)
			return fail(err, "the ceiling must be above the size: '%s'", v);
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

/* One user or group, by name or number; it must exist either way. */
static int resolve_id(const char *name, bool user, uint32_t *ret)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	uint64_t id;
	/* (uid_t)-1 is "no change" to chown(2), never an id. */
	bool num = parse_number(name, &id) == 0 && id < UINT32_MAX;

	if (user)
		pw = num ? getpwuid((uid_t)id) : getpwnam(name);
	else
		gr = num ? getgrgid((gid_t)id) : getgrnam(name);
	if (!pw && !gr)
		return -ENOENT;
	*ret = pw ? pw->pw_uid : gr->gr_gid;
	return 0;
}

/* "alice, bob 1001": f[0] is the count, f[1] the array of uids or gids. */
static int p_ids(const struct key *k, struct settings *s, const char *v, char *err)
{
	static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t),
		      "ids are stored as uint32_t");
	bool user = k->f[1].off == offsetof(struct settings, access.uids);
	const char *what = user ? "user" : "group", *p = v;
	uint32_t ids[ACCESS_MAX_IDS] = { 0 }, n = 0, id, i;
	char name[256];

	while (*(p += strspn(p, ", \t"))) {
		size_t len = strcspn(p, ", \t");

		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (len >= sizeof(name) || resolve_id(name, user, &id) < 0)
			return fail(err, "no such %s: '%.*s'", what, (int)len, p);
		for (i = 0; i < n && ids[i] != id; i++)
			;
		if (i == ACCESS_MAX_IDS)
			return fail(err, "more than %d %ss", ACCESS_MAX_IDS, what);
		if (i == n)
			ids[n++] = id;
		p += len;
	}
	*(uint32_t *)field(k, s, 0) = n;
	memcpy(field(k, s, 1), ids, sizeof(ids));
	return 0;
}

#define F(m) { offsetof(struct settings, m), sizeof(((struct settings *)0)->m) }
#define LIVE true
#define RESTART false

static const struct key keys[] = {
	{ "socket", p_socket, RESTART, 0, 0, { F(socket) } },
	{ "pool", p_pool, RESTART, 1, 0, { F(pool_bytes) } },
	{ "page-size", p_page_size, RESTART, 0, 0, { F(page_size) } },
	{ "low-pool", p_low_pool, RESTART, 0, 0, { F(low_pool_bytes), F(low_pool_ceiling) } },
	{ "low-pool-margin", p_size, RESTART, 0, 0, { F(low_pool_margin) } },
	{ "threads", p_uint, RESTART, 0, 64, { F(threads) } },
	{ "raise-hugepages", p_bool, RESTART, 0, 0, { F(may_raise_hugepages) } },
	{ "socket-group", p_group, RESTART, 0, 0, { F(socket_group) } },
	{ "log-level", p_log_level, LIVE, 0, 0, { F(log_level) } },
	{ "audit-interval", p_uint, LIVE, 0, 86400, { F(audit_interval_s) } },
	{ "quarantine", p_ms, LIVE, 0, 60000, { F(quarantine_ms) } },
	{ "max-sessions", p_uint, LIVE, 1, UINT32_MAX, { F(limits.max_sessions) } },
	{ "session-max-regions", p_uint, LIVE, 1, UINT32_MAX, { F(limits.session_max_regions) } },
	{ "session-max-bytes", p_quota, LIVE, 1, 0, { F(limits.session_max_bytes) } },
	{ "uid-max-sessions", p_uint, LIVE, 1, UINT32_MAX, { F(limits.uid_max_sessions) } },
	{ "uid-max-regions", p_uint, LIVE, 1, UINT32_MAX, { F(limits.uid_max_regions) } },
	{ "uid-max-bytes", p_quota, LIVE, 1, 0, { F(limits.uid_max_bytes) } },
	{ "allow-users", p_ids, LIVE, 0, 0, { F(access.nuids), F(access.uids) } },
	{ "allow-groups", p_ids, LIVE, 0, 0, { F(access.ngids), F(access.gids) } },
	{ "import-groups", p_ids, LIVE, 0, 0, { F(access.nimport_gids), F(access.import_gids) } },
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
	char *end;

	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = 0;
	return p;
}

/* One line of the file; first[] holds the line each key was seen on. */
static int load_line(char *line, unsigned lineno, unsigned *first, struct settings *s, char *why)
{
	char *p = trim(line), *eq = strchr(p, '='), *name, *value, reason[ERR_MAX];
	struct settings ignored;
	const struct key *k;
	unsigned i;

	if (!*p || *p == '#')
		return 0;
	if (!eq)
		return fail(why, "expected 'key = value'");
	*eq = 0;
	name = trim(p);
	value = trim(eq + 1);
	if (!*name)
		return fail(why, "expected 'key = value'");
	k = key_find(name);
	if (!k)
		return fail(why, "unknown key '%s'", name);
	i = (unsigned)(k - keys);
	if (first[i])
		return fail(why, "key '%s' given twice (first on line %u)", name, first[i]);
	first[i] = lineno;
	/* The command line wins, but the file's value must still be valid. */
	if (k->parse(k, s->cmdline_keys & (1u << i) ? &ignored : s, value, reason) < 0)
		return fail(why, "%s: %s%s", name, reason,
			    strchr(value, '#') ? " ('#' starts a comment only at the start of a line)"
					       : "");
	return 0;
}

int config_load(const char *path, struct settings *s, char *err, size_t errlen)
{
	unsigned first[NKEYS] = { 0 }, lineno = 0;
	char line[CONFIG_LINE_MAX + 3], why[ERR_MAX]; /* "\r\n\0" */
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

/* Where else a field of the settings is in force while the daemon runs. */
static void *live_copy(struct server *srv, size_t off)
{
	size_t lim = offsetof(struct settings, limits), acc = offsetof(struct settings, access);

	if (off >= lim && off < lim + sizeof(struct limits))
		return (char *)&srv->limits + (off - lim);
	if (off >= acc && off < acc + sizeof(struct access))
		return (char *)&srv->access + (off - acc);
	if (off == offsetof(struct settings, log_level))
		return &log_max_level;
	return NULL;
}

static void name_list_add(char *buf, size_t size, const char *name)
{
	size_t n = strlen(buf);

	snprintf(buf + n, size - n, "%s%s", n ? ", " : "", name);
}

int config_reload(const char *path, struct settings *s, struct server *srv, char *err,
		  size_t errlen)
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
		bool changed = false;

		if (s->cmdline_keys & (1u << i))
			continue;
		for (int j = 0; j < 2 && k->f[j].len; j++)
			changed |= memcmp(field(k, s, j), field(k, &n, j), k->f[j].len) != 0;
		if (!changed)
			continue;
		name_list_add(k->live ? applied : restart, sizeof(applied), k->name);
		for (int j = 0; j < 2 && k->f[j].len && k->live; j++) {
			void *to = live_copy(srv, k->f[j].off);

			memcpy(field(k, s, j), field(k, &n, j), k->f[j].len);
			if (to)
				memcpy(to, field(k, s, j), k->f[j].len);
		}
	}
	if (*restart)
		log_notice("%s: changed, but not applied until contigd restarts: %s", path, restart);
	log_info("%s reloaded: %s%s", path, *applied ? "applied " : "no live setting changed",
		 applied);
	return 0;
}
