/* SPDX-License-Identifier: MIT */
/*
 * hugetlb.h - the kernel's hugepage pool for one page size, through sysfs
 * (Documentation/admin-guide/mm/hugetlbpage.rst).
 */
#ifndef CONTIG_HUGETLB_H
#define CONTIG_HUGETLB_H

#include <stdint.h>

#include "start_watch.h"

struct hugetlb_counts {
	uint64_t nr;    /* nr_hugepages */
	uint64_t free;  /* free_hugepages */
	uint64_t resv;  /* resv_hugepages: promised to mappings, not yet faulted */
};

int hugetlb_read(uint64_t page_size, struct hugetlb_counts *ret);
/* node >= 0: that node's pool (sysfs node directory; resv is then 0). */
int hugetlb_read_node(uint64_t page_size, int node, struct hugetlb_counts *ret);
/* Ask for nr_hugepages = nr (of node, or global for -1); the kernel may give
 * fewer. Returns the new nr_hugepages read back, or -errno. Every write goes
 * through the raise ledger: the first one for a file notes the value found,
 * each one notes the value set, in the record, before the write. */
int64_t hugetlb_set_nr_node(uint64_t page_size, int node, uint64_t nr);
int64_t hugetlb_set_nr(uint64_t page_size, uint64_t nr);

/*
 * The record: DIR/hugepages.record, one line per nr_hugepages file this
 * contigd changed ("pid= page_size= node= found= set="), replaced by rename.
 * It exists while a raise by this process is in effect: during a dig, and
 * while the pool is served (the raise that got the pool stays until exit).
 *
 * hugetlb_ledger_open: use DIR for the record; if a dead contigd left one,
 * put back what it raised (each file only if it still holds the value the
 * dead one set: another writer may have changed it since; the log says
 * which) and remove it. Returns how many entries it found, or -EBUSY when a
 * live contigd holds the record, or -errno.
 * hugetlb_restore_all: the same for this process's own raises (exit).
 */
#define HUGETLB_RECORD_NAME "hugepages.record"
int hugetlb_ledger_open(const char *dir);
/* A restart that resumes the pool (restart.h): the raises a previous
 * contigd recorded stay in effect and become this one's (the record now
 * names this process); nothing is put back. Returns the entries taken, or
 * -EBUSY / -errno as hugetlb_ledger_open. */
int hugetlb_ledger_adopt(const char *dir);
void hugetlb_restore_all(void);
/* At a stop that hands the pool over to the next contigd (systemd's fd
 * store holds it): the same, but the record stays for the successor,
 * whose hugetlb_ledger_adopt raises again what was put back. */
void hugetlb_hand_over(void);
/*
 * Make sure at least want pages are free and unreserved (on node, or
 * anywhere for -1), raising
 * nr_hugepages when allowed. Returns how many are available (possibly fewer
 * than want), or -errno if the sysfs files cannot be read, or -EINTR when
 * the watch asked for a stop between steps (what was raised stays in the
 * ledger: hugetlb_restore_all puts it back).
 */
int64_t hugetlb_ensure_free(uint64_t page_size, int node, uint64_t want, int may_raise,
			    const struct start_watch *watch);

#endif
