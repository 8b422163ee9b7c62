/* SPDX-License-Identifier: MIT */
/*
 * expo.c - see expo.h. The grammar, per line:
 *   # HELP <name> <docstring>
 *   # TYPE <name> counter|gauge|histogram|summary|untyped
 *   # <any other comment>
 *   <name>[{<label>="<value>"(,<label>="<value>")*[,]}] <value> [<timestamp>]
 * name [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*, label values
 * escape only \\, \" and \n, value a Go ParseFloat number (or NaN, +Inf,
 * -Inf), timestamp an int64 of milliseconds.
 */
#define _GNU_SOURCE
#include "expo.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAMILIES 256
#define MAX_SAMPLES  1024

struct family {
	char name[128];
	char type[16];
	bool help, has_samples, closed;
};

struct state {
	struct family fam[MAX_FAMILIES];
	size_t nfam;
	char *samples[MAX_SAMPLES]; /* name{labels} seen, for duplicates */
	size_t nsamples;
	struct family *current;     /* family of the last sample line */
};

static bool name_char(char c, bool first, bool colon)
{
	return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c)) ||
	       (colon && c == ':');
}

/* Length of the name at s (0 if none). */
static size_t name_len(const char *s, bool colon)
{
	size_t n = 0;

	while (s[n] && name_char(s[n], n == 0, colon))
		n++;
	return n;
}

static struct family *family_of(struct state *st, const char *name, size_t n, bool create)
{
	for (size_t i = 0; i < st->nfam; i++)
		if (strlen(st->fam[i].name) == n && !strncmp(st->fam[i].name, name, n))
			return &st->fam[i];
	if (!create || st->nfam == MAX_FAMILIES || n >= sizeof(st->fam[0].name))
		return NULL;
	struct family *f = &st->fam[st->nfam++];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, name, n);
	return f;
}

static bool valid_value(const char *s, size_t n)
{
	char buf[64], *end;

	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (!strcmp(buf, "NaN") || !strcmp(buf, "+Inf") || !strcmp(buf, "-Inf"))
		return true;
	/* Decimal only: strtod would also take hex and "inf". */
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)buf[i]) && !strchr("+-.eE", buf[i]))
			return false;
	strtod(buf, &end);
	return *end == 0;
}

static bool valid_timestamp(const char *s, size_t n)
{
	size_t i = (n && s[0] == '-') ? 1 : 0;

	if (i == n)
		return false;
	for (; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* The {...} part at *p; advances past it. NULL or an error message. */
static const char *parse_labels(const char **p)
{
	const char *s = *p + 1;

	while (*s != '}') {
		size_t n = name_len(s, false);
		if (!n)
			return "bad label name";
		if (n >= 2 && s[0] == '_' && s[1] == '_')
			return "label names starting with __ are reserved";
		s += n;
		if (*s++ != '=' || *s++ != '"')
			return "expected =\" after a label name";
		while (*s && *s != '"') {
			if (*s == '\\') {
				if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
					return "bad escape in a label value";
				s++;
			}
			s++;
		}
		if (*s++ != '"')
			return "unterminated label value";
		if (*s == ',')
			s++;
		else if (*s != '}')
			return "expected , or } after a label";
	}
	*p = s + 1;
	return NULL;
}

static const char *check_comment(struct state *st, const char *line)
{
	const char *kw = line + 2, *name;
	bool help;
	size_t n;

	if (strncmp(line, "# HELP ", 7) && strncmp(line, "# TYPE ", 7))
		return NULL; /* a plain comment */
	help = kw[0] == 'H';
	name = line + 7;
	n = name_len(name, true);
	if (!n || (name[n] != ' ' && !(help && name[n] == 0)))
		return "bad metric name in HELP/TYPE";
	struct family *f = family_of(st, name, n, true);
	if (!f)
		return "too many families";
	if (f->has_samples)
		return "HELP/TYPE after the family's samples";
	if (help) {
		if (f->help)
			return "second HELP for a family";
		f->help = true;
		return NULL;
	}
	if (f->type[0])
		return "second TYPE for a family";
	const char *t = name + n + 1;
	if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
	    strcmp(t, "summary") && strcmp(t, "untyped"))
		return "unknown TYPE";
	snprintf(f->type, sizeof(f->type), "%s", t);
	return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

/* contigctl's own rules on a family. */
static const char *check_naming(const struct family *f)
{
	if (strncmp(f->name, "contig_", 7))
		return "metric name without the contig_ prefix";
	if (!f->help || !f->type[0])
		return "sample of a family without HELP and TYPE";
	if (!strcmp(f->type, "counter") && !ends_with(f->name, "_total"))
		return "counter whose name does not end in _total";
	if (strcmp(f->type, "counter") && ends_with(f->name, "_total"))
		return "non-counter whose name ends in _total";
	return NULL;
}

static const char *check_sample(struct state *st, const char *line)
{
	const char *p = line, *err;
	size_t n = name_len(p, true);
	struct family *f;

	if (!n)
		return "bad metric name";
	f = family_of(st, p, n, false);
	if (!f)
		return "sample of a family without HELP and TYPE";
	if ((err = check_naming(f)))
		return err;
	if (f->closed || (st->current && st->current != f && f->has_samples))
		return "a family's samples are not one group";
	if (st->current && st->current != f)
		st->current->closed = true;
	st->current = f;
	f->has_samples = true;
	p += n;
	if (*p == '{' && (err = parse_labels(&p)))
		return err;
	/* Duplicate series: same name and label text. */
	size_t key_len = (size_t)(p - line);
	for (size_t i = 0; i < st->nsamples; i++)
		if (strlen(st->samples[i]) == key_len && !strncmp(st->samples[i], line, key_len))
			return "duplicate sample";
	if (st->nsamples < MAX_SAMPLES)
		st->samples[st->nsamples++] = strndup(line, key_len);
	if (*p++ != ' ')
		return "expected a space before the value";
	const char *v = p;
	while (*p && *p != ' ')
		p++;
	if (!valid_value(v, (size_t)(p - v)))
		return "bad sample value";
	if (*p == ' ') {
		const char *ts = ++p;
		while (*p)
			p++;
		if (!valid_timestamp(ts, (size_t)(p - ts)))
			return "bad timestamp";
	}
	return NULL;
}

int expo_check(const char *text, char *err, size_t errlen)
{
	struct state *st = calloc(1, sizeof(*st));
	const char *p = text, *msg = NULL;
	char line[1024];
	int samples = 0, lineno = 0;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (*text && text[strlen(text) - 1] != '\n')
		msg = "output does not end with a newline";
	while (!msg && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		if (n >= sizeof(line)) {
			msg = "line too long";
			break;
		}
		memcpy(line, p, n);
		line[n] = 0;
		p += n + (nl ? 1 : 0);
		if (!n)
			continue;
		if (line[0] == '#') {
			msg = check_comment(st, line);
		} else {
			msg = check_sample(st, line);
			samples++;
		}
	}
	if (msg)
		snprintf(err, errlen, "line %d: %s: %s", lineno, msg, lineno ? line : "");
	for (size_t i = 0; i < st->nsamples; i++)
		free(st->samples[i]);
	free(st);
	return msg ? -1 : samples;
}

int expo_value(const char *text, const char *sample, double *ret)
{
	size_t n = strlen(sample);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, sample, n) && p[n] == ' ') {
			*ret = strtod(p + n + 1, NULL);
			return 0;
		}
	}
	return -1;
}
