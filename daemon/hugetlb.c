/* SPDX-License-Identifier: MIT */
/*
 * hugetlb.c - read and grow the kernel's hugepage pool (sysfs). Growing it
 * is how the daemon gets pages when the operator reserved too few; it never
 * shrinks the pool below what others hold.
 */
#include "hugetlb.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* node -1: the system-wide pool; else that node's share of it. */
static void path_of(char *buf, size_t n, uint64_t page_size, int node, const char *file)
{
	if (node < 0)
		snprintf(buf, n, "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/%s",
			 page_size >> 10, file);
	else
		snprintf(buf, n, "/sys/devices/system/node/node%d/hugepages/hugepages-%" PRIu64 "kB/%s",
			 node, page_size >> 10, file);
}

static int read_u64(uint64_t page_size, int node, const char *file, uint64_t *ret)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	path_of(path, sizeof(path), page_size, node, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	*ret = strtoull(buf, NULL, 10);
	return 0;
}

int hugetlb_read_node(uint64_t page_size, int node, struct hugetlb_counts *ret)
{
	struct hugetlb_counts c = { 0 };
	int r;

	/* Per-node directories have no resv_hugepages: reservations are global. */
	if ((r = read_u64(page_size, node, "nr_hugepages", &c.nr)) < 0 ||
	    (r = read_u64(page_size, node, "free_hugepages", &c.free)) < 0 ||
	    (node < 0 && (r = read_u64(page_size, node, "resv_hugepages", &c.resv)) < 0))
		return r;
	*ret = c;
	return 0;
}

int hugetlb_read(uint64_t page_size, struct hugetlb_counts *ret)
{
	return hugetlb_read_node(page_size, -1, ret);
}

int64_t hugetlb_set_nr_node(uint64_t page_size, int node, uint64_t nr)
{
	char path[128], buf[32];
	uint64_t now;
	int fd, n, r;

	path_of(path, sizeof(path), page_size, node, "nr_hugepages");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", nr);
	r = write(fd, buf, (size_t)n) == n ? 0 : -errno;
	close(fd);
	if (r < 0 && r != -ENOMEM)
		return r;
	r = read_u64(page_size, node, "nr_hugepages", &now);
	return r < 0 ? r : (int64_t)now;
}

int64_t hugetlb_set_nr(uint64_t page_size, uint64_t nr)
{
	return hugetlb_set_nr_node(page_size, -1, nr);
}

int64_t hugetlb_ensure_free(uint64_t page_size, int node, uint64_t want, int may_raise)
{
	struct hugetlb_counts c;
	uint64_t avail;
	int r = hugetlb_read_node(page_size, node, &c);

	if (r < 0)
		return r;
	avail = c.free > c.resv ? c.free - c.resv : 0;
	if (avail >= want || !may_raise)
		return (int64_t)avail;
	/* Another process may be raising it at the same time: raise by the
	 * shortfall relative to what we read, then read back what we got. */
	if (hugetlb_set_nr_node(page_size, node, c.nr + (want - avail)) < 0)
		return (int64_t)avail;
	if (hugetlb_read_node(page_size, node, &c) < 0)
		return (int64_t)avail;
	return (int64_t)(c.free > c.resv ? c.free - c.resv : 0);
}
