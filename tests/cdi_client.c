/* SPDX-License-Identifier: MIT */
/*
 * cdi_client.c - the client that tests/container_cdi.sh runs inside a
 * podman container given contig by the CDI spec alone: no CAP_SYS_ADMIN,
 * no hugetlbfs, no physical addresses from /proc/self/pagemap, and still
 * a contiguous, zeroed region with its physical address; then regions of
 * 2 MiB, each written whole, until its cgroup's limit says EDQUOT.
 * Prints "key=value" lines for the script; exit 0 when every check held.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAP_SYS_ADMIN_BIT 21

static int failed;

static void check(bool ok, const char *what)
{
	printf("%s=%s\n", what, ok ? "ok" : "FAILED");
	failed += !ok;
}

static bool has_sys_admin(void)
{
	char line[256];
	unsigned long long eff = ~0ull;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return true;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> CAP_SYS_ADMIN_BIT) & 1;
}

static bool hugetlbfs_mounted(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/mounts", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, " hugetlbfs ") != NULL;
	fclose(f);
	return found;
}

/* The PFN /proc/self/pagemap gives this process for va: 0 without
 * CAP_SYS_ADMIN (the kernel hides it), or UINT64_MAX if unreadable. */
static uint64_t pagemap_pfn(const void *va)
{
	uint64_t e;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return UINT64_MAX;
	n = pread(fd, &e, sizeof(e), (off_t)((uintptr_t)va / 4096 * 8));
	close(fd);
	return n == (ssize_t)sizeof(e) ? e & ((1ull << 55) - 1) : UINT64_MAX;
}

int main(void)
{
	const char *sock = getenv("CONTIG_SOCKET");

	if (sock && !strchr(sock, '/'))
		sock = NULL;
	uint8_t *small, *p;
	int whole = 0, err = 0;

	check(sock && *sock, "env");
	check(!has_sys_admin(), "no_cap_sys_admin");
	check(!hugetlbfs_mounted(), "no_hugetlbfs");

	small = contig_alloc(4096, CONTIG_MAX_ADDRESS);
	check(small != NULL, "alloc_small");
	if (!small)
		return 1;
	bool zero = true;
	for (size_t i = 0; i < 4096; i++)
		zero &= small[i] == 0;
	check(zero, "zeroed");
	uint64_t pa = contig_phys_addr(small);
	printf("phys=%#" PRIx64 "\n", pa);
	check(pa != 0 && pa % 4096 == 0, "phys_addr");
	check(contig_phys_addr(small + 4095) == pa + 4095, "phys_contiguous");
	/* What the process could see itself: nothing. */
	small[0] = 1;
	check(pagemap_pfn(small) == 0 || pagemap_pfn(small) == UINT64_MAX, "pagemap_hidden");

	/* 2 MiB regions, each written whole, until the cgroup's limit. */
	while (whole < 64 && (p = contig_alloc(2u << 20, CONTIG_MAX_ADDRESS))) {
		memset(p, 0xa5, 2u << 20);
		uint64_t first = contig_phys_addr(p);
		check(first && contig_phys_addr(p + (2u << 20) - 1) == first + (2u << 20) - 1,
		      "whole_contiguous");
		whole++;
	}
	err = errno;
	printf("whole=%d\nstopped=%s\n", whole, err == EDQUOT ? "EDQUOT" : strerror(err));
	check(err == EDQUOT, "edquot");
	/* Held while the host looks at how contigd sees us (its socket's
	 * directory is shared, read-write). */
	if (getenv("CDI_CLIENT_HOLD") && sock) {
		char dir[512], mark[600];
		snprintf(dir, sizeof(dir), "%s", sock);
		*strrchr(dir, '/') = '\0';
		snprintf(mark, sizeof(mark), "%s/ready", dir);
		close(open(mark, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
		snprintf(mark, sizeof(mark), "%s/go", dir);
		for (int i = 0; i < 600 && access(mark, F_OK) < 0; i++)
			usleep(100000);
	}
	printf("result=%s\n", failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}
