/* SPDX-License-Identifier: MIT */
/*
 * grant_client.c - the "container" of tests/k8s: a libcontig client started
 * with nothing but the environment and mounts the device plugin's Allocate
 * returned (CONTIG_SOCKET, CONTIG_GRANT, the socket's directory).
 *
 *   grant-client fill    wait for a line on stdin (the test moves this
 *                        process into its cgroup first), print its cgroup,
 *                        allocate 2 MiB regions, each checked zeroed,
 *                        contiguous (physical address of the last byte) and
 *                        written whole, until a call fails; then one more
 *                        4 KiB call (a page past the grant either way);
 *                        print "regions=N", "errno=NAME", "small_errno=NAME",
 *                        "ready"; hold everything until the next line on
 *                        stdin, then free it all and exit 0.
 *   grant-client probe   wait for a line on stdin (as fill: the test moves
 *                        it into its cgroup first), one 2 MiB call; print
 *                        "errno=NAME" ("errno=0" on success) and exit 0.
 *
 * Exit 1 when a region breaks a promise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION (2u << 20)
#define MAX_REGIONS 4096

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "0";
	case EDQUOT: return "EDQUOT";
	case EACCES: return "EACCES";
	case ENOMEM: return "ENOMEM";
	case ENOENT: return "ENOENT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EINVAL: return "EINVAL";
	default: return strerrorname_np(e) ? strerrorname_np(e) : "other";
	}
}

static void wait_line(void)
{
	char line[64];

	if (!fgets(line, sizeof(line), stdin))
		exit(0);
}

static void print_cgroup(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3))
			printf("cgroup=%s", line + 3);
	if (f)
		fclose(f);
}

static int fill(void)
{
	static void *regions[MAX_REGIONS];
	int n = 0, e;

	wait_line();
	print_cgroup();
	for (;;) {
		if (n == MAX_REGIONS) {
			printf("regions=%d\nerrno=none\n", n);
			return 1;
		}
		unsigned char *p = contig_alloc(REGION, CONTIG_MAX_ADDRESS);
		if (!p) {
			e = errno;
			break;
		}
		uint64_t pa = contig_phys_addr(p);
		if (pa == CONTIG_PHYS_INVALID || contig_phys_addr(p + REGION - 1) != pa + REGION - 1 ||
		    p[0] || p[REGION - 1] || p[REGION / 2]) {
			printf("region %d at %p: not zeroed or not contiguous\n", n, (void *)p);
			return 1;
		}
		memset(p, 0xa5, REGION);
		regions[n++] = p;
	}
	void *small = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	int small_errno = small ? 0 : errno;

	printf("regions=%d\nerrno=%s\nsmall_errno=%s\nready\n", n, errno_name(e),
	       errno_name(small_errno));
	fflush(stdout);
	wait_line();
	contig_free(small);
	while (n)
		contig_free(regions[--n]);
	return 0;
}

static int probe(void)
{
	wait_line();
	void *p = contig_alloc(REGION, CONTIG_MAX_ADDRESS);

	printf("errno=%s\n", errno_name(p ? 0 : errno));
	contig_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "fill"))
		return fill();
	if (argc == 2 && !strcmp(argv[1], "probe"))
		return probe();
	fprintf(stderr, "usage: grant-client fill|probe\n");
	return 2;
}
