/* SPDX-License-Identifier: MIT */
/*
 * clock.h - the one clock the daemon measures with: CLOCK_MONOTONIC in
 * nanoseconds (timeouts, ages and durations; never wall time).
 */
#ifndef CONTIG_CLOCK_H
#define CONTIG_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
