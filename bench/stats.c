/* SPDX-License-Identifier: MIT */
/*
 * stats.c - the clock, sample sets, and the result table with its Markdown
 * and TSV forms (see bench.h). The table is process-wide and append-only;
 * the helper process streams its rows to the parent instead.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile uint64_t bench_sink;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		double *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return; /* a lost sample, not a crash: the count shows it */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

void samples_free(struct samples *s)
{
	free(s->v);
	*s = (struct samples){ 0 };
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double samples_median(struct samples *s)
{
	double med, p99;

	if (!s->n)
		return NAN;
	samples_summary(s, &med, &p99);
	return med;
}

void samples_summary(struct samples *s, double *ret_median, double *ret_p99)
{
	size_t k;

	if (!s->n) {
		*ret_median = *ret_p99 = 0;
		return;
	}
	qsort(s->v, s->n, sizeof(double), cmp_double);
	*ret_median = s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
	/* Nearest rank: the smallest sample with at least 99% at or below it. */
	k = (size_t)ceil(0.99 * (double)s->n);
	*ret_p99 = s->v[k ? k - 1 : 0];
}

static struct result *table;
static size_t ntable, captable;
static FILE *stream;

void results_stream_to(FILE *out)
{
	stream = out;
}

static void emit(const struct result *r)
{
	if (stream) {
		fprintf(stream, "RESULT\t%s\t%s\t%d\t%.9g\t%.9g\t%u\t%u\t%s\t%s\n", r->group,
			r->who, (int)r->role, r->median, r->p99, r->n, r->failed, r->unit, r->note);
		fflush(stream);
		return;
	}
	if (ntable == captable) {
		size_t cap = captable ? captable * 2 : 64;
		struct result *t = realloc(table, cap * sizeof(*t));
		if (!t)
			return;
		table = t;
		captable = cap;
	}
	table[ntable++] = *r;
}

static void result_init(struct result *r, const char *group, const char *who, enum role role,
			const char *unit)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->group, sizeof(r->group), "%s", group);
	snprintf(r->who, sizeof(r->who), "%s", who);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->role = role;
}

/* Notes travel in a tab-separated line: no tabs or newlines in them. */
__attribute__((format(printf, 2, 0))) static void note_set(struct result *r, const char *fmt,
								  va_list ap)
{
	if (!fmt)
		return;
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	for (char *c = r->note; *c; c++)
		if (*c == '\t' || *c == '\n' || *c == '|')
			*c = ' ';
}

void result_samples(const char *group, const char *who, enum role role, const char *unit,
		    struct samples *s, const char *note_fmt, ...)
{
	struct result r;
	va_list ap;

	result_init(&r, group, who, role, unit);
	samples_summary(s, &r.median, &r.p99);
	r.n = (unsigned)s->n;
	va_start(ap, note_fmt);
	note_set(&r, note_fmt, ap);
	va_end(ap);
	emit(&r);
}

/* A row of one value: what result_value and result_raw share. */
__attribute__((format(printf, 8, 0))) static void
value_row(const char *group, const char *who, enum role role, const char *unit, double value, unsigned n, unsigned failed, const char *note_fmt, va_list ap)
{
	struct result r;

	result_init(&r, group, who, role, unit);
	r.median = r.p99 = value;
	r.n = n;
	r.failed = failed;
	note_set(&r, note_fmt, ap);
	emit(&r);
}

void result_value(const char *group, const char *who, enum role role, const char *unit,
		  double value, unsigned n, const char *note_fmt, ...)
{
	va_list ap;

	va_start(ap, note_fmt);
	value_row(group, who, role, unit, value, n, 0, note_fmt, ap);
	va_end(ap);
}

void result_failed(const char *group, const char *who, enum role role, const char *unit,
		   unsigned attempts, const char *why_fmt, ...)
{
	struct result r;
	va_list ap;

	result_init(&r, group, who, role, unit);
	r.failed = attempts ? attempts : 1;
	va_start(ap, why_fmt);
	note_set(&r, why_fmt, ap);
	va_end(ap);
	emit(&r);
}

void result_missing(const char *group, const char *who, enum role role, const char *unit,
		    const char *why_fmt, ...)
{
	struct result r;
	va_list ap;

	result_init(&r, group, who, role, unit);
	va_start(ap, why_fmt);
	note_set(&r, why_fmt, ap);
	va_end(ap);
	emit(&r);
}

void result_raw(const char *group, const char *who, enum role role, const char *unit,
		double value, unsigned failed, const char *note_fmt, ...)
{
	va_list ap;

	va_start(ap, note_fmt);
	value_row(group, who, role, unit, value, 1, failed, note_fmt, ap);
	va_end(ap);
}

size_t results_take(const char *prefix, struct result **ret)
{
	size_t n = 0, keep = 0, len = strlen(prefix);
	struct result *out = NULL;

	for (size_t i = 0; i < ntable; i++)
		n += !strncmp(table[i].group, prefix, len);
	*ret = NULL;
	if (!n || !(out = malloc(n * sizeof(*out))))
		return 0;
	n = 0;
	for (size_t i = 0; i < ntable; i++) {
		if (!strncmp(table[i].group, prefix, len))
			out[n++] = table[i];
		else
			table[keep++] = table[i];
	}
	ntable = keep;
	*ret = out;
	return n;
}

/* Split s at tabs into at most max fields (s is modified). */
static int split_tabs(char *s, char **field, int max)
{
	int n = 0;

	while (n < max) {
		field[n++] = s;
		s = strchr(s, '\t');
		if (!s)
			break;
		*s++ = 0;
	}
	return n;
}

bool result_parse_line(const char *line)
{
	char buf[512], *f[10];
	struct result r;
	size_t len;

	if (strncmp(line, "RESULT\t", 7))
		return false;
	snprintf(buf, sizeof(buf), "%s", line + 7);
	len = strlen(buf);
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = 0;
	if (split_tabs(buf, f, 9) < 9)
		return false;
	result_init(&r, f[0], f[1], (enum role)atoi(f[2]), f[7]);
	r.median = strtod(f[3], NULL);
	r.p99 = strtod(f[4], NULL);
	r.n = (unsigned)strtoul(f[5], NULL, 10);
	r.failed = (unsigned)strtoul(f[6], NULL, 10);
	snprintf(r.note, sizeof(r.note), "%s", f[8]);
	emit(&r);
	return true;
}

void results_read_fd(int fd, void (*other)(const char *line, void *ctx), void *ctx)
{
	char line[1024];
	FILE *f = fdopen(fd, "r");

	if (!f) {
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (!result_parse_line(line) && other)
			other(line, ctx);
	fclose(f);
}

size_t results_missing(void)
{
	size_t n = 0;

	for (size_t i = 0; i < ntable; i++)
		n += !table[i].n && !table[i].failed;
	return n;
}

size_t results_count(void)
{
	return ntable;
}

const struct result *result_at(size_t i)
{
	return i < ntable ? &table[i] : NULL;
}

const struct result *result_find(const char *group, const char *who)
{
	for (size_t i = 0; i < ntable; i++)
		if (!strcmp(table[i].group, group) && !strcmp(table[i].who, who))
			return &table[i];
	return NULL;
}

static const struct result *first_of(const char *group, enum role role)
{
	for (size_t i = 0; i < ntable; i++)
		if (table[i].role == role && table[i].n && !strcmp(table[i].group, group))
			return &table[i];
	return NULL;
}

static void fmt_num(char *buf, size_t n, double x)
{
	double a = fabs(x);

	if (a >= 1000)
		snprintf(buf, n, "%.0f", x);
	else if (a >= 100)
		snprintf(buf, n, "%.1f", x);
	else if (a >= 1)
		snprintf(buf, n, "%.2f", x);
	else if (a == 0)
		snprintf(buf, n, "0");
	else
		snprintf(buf, n, "%.3g", x);
}

static void fmt_ratio(char *buf, size_t n, const struct result *num, const struct result *den)
{
	if (!num || !den || !num->n || !den->n || den->median == 0 || strcmp(num->unit, den->unit)) {
		buf[0] = 0;
		return;
	}
	double r = num->median / den->median;
	snprintf(buf, n, r >= 100 ? "%.0f" : "%.2f", r);
}

static void print_row(FILE *f, const struct result *r, const struct result *floor,
		      const struct result *contig)
{
	static const char *const tag[] = { [ROLE_FLOOR] = "floor: ", [ROLE_CONTIG] = "",
					   [ROLE_PEER] = "", [ROLE_INFO] = "" };
	char med[32], p99[32], rf[32], rc[32];

	if (!r->n && r->failed) {
		fprintf(f, "| %s%s | **failed** | — | %u | | | failed all %u times: %s |\n",
			tag[r->role], r->who, r->failed, r->failed, r->note);
		return;
	}
	if (!r->n) {
		fprintf(f, "| %s%s | — | — | 0 | | | not measured: %s |\n", tag[r->role], r->who,
			r->note);
		return;
	}
	fmt_num(med, sizeof(med), r->median);
	if (r->n > 1)
		fmt_num(p99, sizeof(p99), r->p99);
	else
		snprintf(p99, sizeof(p99), "—");
	if (r->role != ROLE_FLOOR)
		fmt_ratio(rf, sizeof(rf), r, floor);
	else
		rf[0] = 0;
	if (r->role == ROLE_PEER)
		fmt_ratio(rc, sizeof(rc), contig, r);
	else
		rc[0] = 0;
	fprintf(f, "| %s%s | %s %s | %s | %u | %s | %s | %s |\n", tag[r->role], r->who, med,
		r->unit, p99, r->n, rf, rc, r->note);
}

void results_print_markdown(FILE *f)
{
	fprintf(f, "| figure | median | p99 | n | ÷ floor | contig ÷ this | note |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---|\n");
	for (size_t g = 0; g < bench_ngroups; g++) {
		const char *id = bench_groups[g].id;
		const struct result *floor = first_of(id, ROLE_FLOOR);
		const struct result *contig = first_of(id, ROLE_CONTIG);
		bool any = false;

		for (size_t i = 0; i < ntable && !any; i++)
			any = !strcmp(table[i].group, id);
		if (!any)
			continue;
		fprintf(f, "| **%s**%s | | | | | | |\n", bench_groups[g].title,
			bench_groups[g].higher_better ? " (higher is better)" : "");
		for (size_t i = 0; i < ntable; i++)
			if (!strcmp(table[i].group, id))
				print_row(f, &table[i], floor, contig);
	}
}

void results_print_tsv(FILE *f)
{
	for (size_t i = 0; i < ntable; i++) {
		const struct result *r = &table[i];
		fprintf(f, "%s\t%s\t%d\t%.9g\t%.9g\t%u\t%u\t%s\t%s\n", r->group, r->who,
			(int)r->role, r->median, r->p99, r->n, r->failed, r->unit, r->note);
	}
}
