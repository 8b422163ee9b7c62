/* SPDX-License-Identifier: MIT */
/*
 * hugepages.c - the benchmark reserves the 2 MiB hugepages it needs itself:
 * it raises vm.nr_hugepages by the shortfall (other processes on the
 * machine may hold some), never lowers it, and remembers what it did so the
 * report can say so. 1 GiB pages, which only the page-granularity count
 * uses, are reserved for that figure alone and given back after it.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYSFS "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define SYSFS_1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/"

long hugepages_nr_before = -1, hugepages_nr_after = -1;

long file_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int file_write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", v);
	return fclose(f) == 0 ? 0 : -errno;
}

long meminfo_kb(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	size_t len = strlen(field);
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static long read_in(const char *dir, const char *file)
{
	char path[128];

	snprintf(path, sizeof(path), "%s%s", dir, file);
	return file_long(path);
}

static long read_long(const char *file)
{
	return read_in(SYSFS, file);
}

/* 0, or -errno (the write's or the close's). */
static int write_in(const char *dir, const char *file, long v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", dir, file);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%ld\n", v);
	return fclose(f) == 0 ? 0 : -errno;
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
	int r;

	if (a < 0 || nr < 0)
		return -1;
	if (hugepages_nr_before < 0)
		hugepages_nr_before = nr;
	if (a >= n)
		return a;
	r = write_in(SYSFS, "nr_hugepages", nr + (n - a));
	if (r < 0)
		fprintf(stderr, "contig-bench: cannot raise nr_hugepages: %s\n", strerror(-r));
	hugepages_nr_after = read_long("nr_hugepages");
	a = avail();
	if (a < n)
		fprintf(stderr,
			"contig-bench: wanted %ld free 2 MiB hugepages, have %ld (nr_hugepages %ld): "
			"figures that need them will be missing\n",
			n, a, hugepages_nr_after);
	return a;
}

long hugepages_1g_reserve(long n, long *ret_nr_before, long *ret_nr_after)
{
	long nr = read_in(SYSFS_1G, "nr_hugepages"), fr;

	*ret_nr_before = *ret_nr_after = nr;
	if (nr < 0)
		return -1;
	fr = read_in(SYSFS_1G, "free_hugepages");
	if (fr >= 0 && fr < n)
		(void)write_in(SYSFS_1G, "nr_hugepages", nr + (n - fr));
	*ret_nr_after = read_in(SYSFS_1G, "nr_hugepages");
	return read_in(SYSFS_1G, "free_hugepages");
}

void hugepages_1g_restore(long nr_before, long nr_after)
{
	if (nr_before >= 0 && nr_after != nr_before)
		(void)write_in(SYSFS_1G, "nr_hugepages", nr_before);
}
