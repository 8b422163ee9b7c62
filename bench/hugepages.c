/* SPDX-License-Identifier: MIT */
/*
 * hugepages.c - the benchmark reserves the 2 MiB hugepages it needs itself:
 * it raises vm.nr_hugepages by the shortfall (other processes on the
 * machine may hold some), never lowers it, and remembers what it did so the
 * report can say so.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYSFS "/sys/kernel/mm/hugepages/hugepages-2048kB/"

long hugepages_nr_before = -1, hugepages_nr_after = -1;

static long read_long(const char *file)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), SYSFS "%s", file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static long avail(void)
{
	long free = read_long("free_hugepages"), resv = read_long("resv_hugepages");

	if (free < 0 || resv < 0)
		return -1;
	return free > resv ? free - resv : 0;
}

long hugepages_ensure(long n)
{
	long a = avail(), nr = read_long("nr_hugepages");
	FILE *f;

	if (a < 0 || nr < 0)
		return -1;
	if (hugepages_nr_before < 0)
		hugepages_nr_before = nr;
	if (a >= n)
		return a;
	f = fopen(SYSFS "nr_hugepages", "we");
	if (f) {
		fprintf(f, "%ld\n", nr + (n - a));
		if (fclose(f) != 0)
			fprintf(stderr, "contig-bench: cannot raise nr_hugepages: %s\n",
				strerror(errno));
	} else {
		fprintf(stderr, "contig-bench: cannot write nr_hugepages: %s\n", strerror(errno));
	}
	hugepages_nr_after = read_long("nr_hugepages");
	a = avail();
	if (a < n)
		fprintf(stderr,
			"contig-bench: wanted %ld free 2 MiB hugepages, have %ld (nr_hugepages %ld): "
			"figures that need them will be missing\n",
			n, a, hugepages_nr_after);
	return a;
}
