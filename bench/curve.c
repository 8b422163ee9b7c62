/* SPDX-License-Identifier: MIT */
/* curve.c - see curve.h. */
#include "curve.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char dir[512] = ".";

void curve_set_dir(const char *d)
{
	snprintf(dir, sizeof(dir), "%s", d && *d ? d : ".");
}

const char *curve_dir(void)
{
	return dir;
}

void curve_init(struct curve *c, const char *name, const char *title, const char *xlabel,
		const char *ylabel, bool logx, bool logy, unsigned nseries,
		const char *const *series)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->title, sizeof(c->title), "%s", title);
	snprintf(c->xlabel, sizeof(c->xlabel), "%s", xlabel);
	snprintf(c->ylabel, sizeof(c->ylabel), "%s", ylabel);
	c->logx = logx;
	c->logy = logy;
	c->nseries = nseries < CURVE_MAX_SERIES ? nseries : CURVE_MAX_SERIES;
	for (unsigned i = 0; i < c->nseries; i++)
		snprintf(c->series[i], sizeof(c->series[i]), "%s", series[i]);
}

void curve_point(struct curve *c, double x, const double *y)
{
	if (c->npoints == CURVE_MAX_POINTS)
		return;
	c->x[c->npoints] = x;
	for (unsigned i = 0; i < c->nseries; i++)
		c->y[c->npoints][i] = y[i];
	c->npoints++;
}

void curve_note(struct curve *c, const char *fmt, ...)
{
	va_list ap;

	if (c->nnotes == sizeof(c->notes) / sizeof(c->notes[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(c->notes[c->nnotes++], sizeof(c->notes[0]), fmt, ap);
	va_end(ap);
}

/* Metadata values are one line each: a newline or tab would break the file. */
static void put_text(FILE *f, const char *key, const char *text)
{
	fprintf(f, "# %s: ", key);
	for (const char *p = text; *p; p++)
		fputc(*p == '\n' || *p == '\t' ? ' ' : *p, f);
	fputc('\n', f);
}

int curve_save(const struct curve *c)
{
	char path[600];
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/curve-%s.tsv", dir, c->name);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	put_text(f, "title", c->title);
	put_text(f, "x", c->xlabel);
	put_text(f, "y", c->ylabel);
	fprintf(f, "# log: %s\n", c->logx && c->logy ? "xy" : c->logx ? "x" : c->logy ? "y" : "none");
	for (unsigned i = 0; i < c->nnotes; i++)
		put_text(f, "note", c->notes[i]);
	fprintf(f, "x");
	for (unsigned i = 0; i < c->nseries; i++)
		fprintf(f, "\t%s", c->series[i]);
	fputc('\n', f);
	for (unsigned p = 0; p < c->npoints; p++) {
		fprintf(f, "%.6g", c->x[p]);
		for (unsigned i = 0; i < c->nseries; i++) {
			if (isnan(c->y[p][i]))
				fprintf(f, "\tnan");
			else
				fprintf(f, "\t%.6g", c->y[p][i]);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		r = -errno;
	return r;
}
