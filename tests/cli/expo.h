/* SPDX-License-Identifier: MIT */
/*
 * expo.h - a line-by-line checker of the Prometheus text exposition format
 * (version 0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/)
 * plus the naming rules contigctl promises: every metric starts with
 * contig_, counters end in _total and gauges do not, every family has
 * exactly one HELP and one TYPE line before its samples, and a family's
 * samples are one group with no duplicate label sets.
 */
#ifndef CONTIG_TEST_EXPO_H
#define CONTIG_TEST_EXPO_H

#include <stddef.h>

/* Number of samples, or -1 with the first violation (and its line) in err. */
int expo_check(const char *text, char *err, size_t errlen);

/* Value of the sample whose name and label part are exactly sample (e.g.
 * "contig_pool_bytes{state=\"used\"}"); 0 when found, -1 if not. */
int expo_value(const char *text, const char *sample, double *ret);

#endif
