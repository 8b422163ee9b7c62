/* SPDX-License-Identifier: MIT */
/*
 * curve.h - the scale figures (issue 19) are curves, not points: each one
 * is written as its own TSV, curve-NAME.tsv, beside the run's TSV, and
 * bench/plot.sh draws every such file as an SVG with gnuplot.
 *
 * The file: '#'-lines of metadata (title, x and y labels with units, which
 * axes are logarithmic, one note per line), then a header row ("x" and the
 * series' names) and one row per point; a missing value is "nan". A series
 * whose name starts with "floor:" or "peer:" is drawn dashed: what the
 * contig series are compared to, on the same axes.
 */
#ifndef CONTIG_BENCH_CURVE_H
#define CONTIG_BENCH_CURVE_H

#include <stdbool.h>

#define CURVE_MAX_SERIES 8
/* 512: a time series of a few hundred samples (scale-frag) fits. */
#define CURVE_MAX_POINTS 512

struct curve {
	char name[48];
	char title[160];
	char xlabel[80];
	char ylabel[80];
	bool logx, logy;
	unsigned nseries, npoints;
	char series[CURVE_MAX_SERIES][64];
	double x[CURVE_MAX_POINTS];
	double y[CURVE_MAX_POINTS][CURVE_MAX_SERIES];
	char notes[4][200];
	unsigned nnotes;
};

/* Where the curve files go (the directory of --tsv; default "."). */
void curve_set_dir(const char *dir);
const char *curve_dir(void);

/* series: nseries names (at most CURVE_MAX_SERIES). */
void curve_init(struct curve *c, const char *name, const char *title, const char *xlabel,
		const char *ylabel, bool logx, bool logy, unsigned nseries,
		const char *const *series);
/* One point: y[nseries] (NAN where a series has no value at x). */
void curve_point(struct curve *c, double x, const double *y);
/* A line shown under the plot's title (a target, a ratio, a limit). */
void curve_note(struct curve *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write curve_dir()/curve-NAME.tsv. 0 or -errno. */
int curve_save(const struct curve *c);

#endif
