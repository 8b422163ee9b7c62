/* SPDX-License-Identifier: MIT */
/*
 * hugetlb.h - the kernel's hugepage pool for one page size, through sysfs
 * (Documentation/admin-guide/mm/hugetlbpage.rst).
 */
#ifndef CONTIG_HUGETLB_H
#define CONTIG_HUGETLB_H

#include <stdint.h>

struct hugetlb_counts {
	uint64_t nr;    /* nr_hugepages */
	uint64_t free;  /* free_hugepages */
	uint64_t resv;  /* resv_hugepages: promised to mappings, not yet faulted */
};

int hugetlb_read(uint64_t page_size, struct hugetlb_counts *ret);
/* node >= 0: that node's pool (sysfs node directory; resv is then 0). */
int hugetlb_read_node(uint64_t page_size, int node, struct hugetlb_counts *ret);
int64_t hugetlb_set_nr_node(uint64_t page_size, int node, uint64_t nr);
/* Ask for nr_hugepages = nr; the kernel may give fewer. Returns the new
 * nr_hugepages read back, or -errno. */
int64_t hugetlb_set_nr(uint64_t page_size, uint64_t nr);
/*
 * Make sure at least want pages are free and unreserved (on node, or
 * anywhere for -1), raising
 * nr_hugepages when allowed. Returns how many are available (possibly fewer
 * than want), or -errno if the sysfs files cannot be read.
 */
int64_t hugetlb_ensure_free(uint64_t page_size, int node, uint64_t want, int may_raise);

#endif
