/* SPDX-License-Identifier: MIT */
/*
 * hugetlb.c - read and grow the kernel's hugepage pool (sysfs). Growing it
 * is how the daemon gets pages when the operator reserved too few; it never
 * shrinks the pool below what others hold.
 *
 * The raise ledger: every nr_hugepages file this process writes gets an
 * entry {page size, node, value found, value set}, and the entries are in
 * a record file (hugetlb.h) before each write, so a contigd that dies in
 * the middle of a dig leaves behind what to put back. Invariant: whenever
 * an nr_hugepages file differs from what this process found because of
 * this process, the record on disk says so (up to the instant between a
 * write and the record's update after it: then "set" is the value asked
 * for, which the kernel may have given only in part).
 */
#define _GNU_SOURCE
#include "hugetlb.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LEDGER_MAX 66 /* the global pool and each node's, for two page sizes */

static struct ledger_entry {
	uint64_t page_size;
	int node;
	uint64_t found;
	uint64_t set;
} ledger[LEDGER_MAX];
static unsigned nledger;
static char record_path[160];

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

static int64_t set_nr_raw(uint64_t page_size, int node, uint64_t nr)
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

/* Write the record (atomically: a new file renamed over the old one), or
 * remove it when no entry is left. */
static void record_save(void)
{
	char tmp[sizeof(record_path) + 8];
	FILE *f;
	int ok;

	if (!record_path[0])
		return;
	if (!nledger) {
		if (unlink(record_path) < 0 && errno != ENOENT)
			log_warn("%s: %s", record_path, strerror(errno));
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", record_path);
	f = fopen(tmp, "we");
	if (!f) {
		log_warn("%s: %s; a crash now would leave nr_hugepages raised", tmp, strerror(errno));
		return;
	}
	fprintf(f, "# contigd: nr_hugepages values to put back if pid %d dies\n", (int)getpid());
	for (unsigned i = 0; i < nledger; i++)
		fprintf(f, "pid=%d page_size=%" PRIu64 " node=%d found=%" PRIu64 " set=%" PRIu64 "\n",
			(int)getpid(), ledger[i].page_size, ledger[i].node, ledger[i].found,
			ledger[i].set);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, record_path) < 0) {
		log_warn("%s: %s; a crash now would leave nr_hugepages raised", record_path,
			 strerror(errno));
		unlink(tmp);
	}
}

static struct ledger_entry *ledger_find(uint64_t page_size, int node)
{
	for (unsigned i = 0; i < nledger; i++)
		if (ledger[i].page_size == page_size && ledger[i].node == node)
			return &ledger[i];
	return NULL;
}

static void ledger_forget(struct ledger_entry *e)
{
	*e = ledger[--nledger];
}

int64_t hugetlb_set_nr_node(uint64_t page_size, int node, uint64_t nr)
{
	struct ledger_entry *e = ledger_find(page_size, node);
	uint64_t now;
	int64_t got;
	int r;

	if (!e) {
		r = read_u64(page_size, node, "nr_hugepages", &now);
		if (r < 0)
			return r;
		if (now == nr)
			return (int64_t)now;
		if (nledger == LEDGER_MAX)
			return set_nr_raw(page_size, node, nr);
		e = &ledger[nledger++];
		*e = (struct ledger_entry){ .page_size = page_size, .node = node, .found = now };
	}
	/* Before the write: what we ask for (the kernel may give less). */
	if (nr > e->set || e->set == 0) {
		e->set = nr > e->found ? nr : e->found;
		record_save();
	}
	got = set_nr_raw(page_size, node, nr);
	if (got >= 0) {
		e->set = (uint64_t)got;
		if (e->set == e->found)
			ledger_forget(e);
		record_save();
	}
	return got;
}

/* Put one entry back if the file still holds what we set; say what. */
static void restore_entry(const struct ledger_entry *e, const char *whose)
{
	char where[32] = "";
	uint64_t now;
	int64_t got;

	if (e->node >= 0)
		snprintf(where, sizeof(where), " on node %d", e->node);
	if (read_u64(e->page_size, e->node, "nr_hugepages", &now) < 0) {
		log_warn("cannot read nr_hugepages for %" PRIu64 " kB pages%s: left as it is",
			 e->page_size >> 10, where);
		return;
	}
	if (now == e->found)
		return; /* back already (a hand-over, hugetlb_hand_over) */
	if (now != e->set) {
		log_notice("nr_hugepages for %" PRIu64 " kB pages%s is %" PRIu64 ", not the %" PRIu64
			   " %s set: another writer changed it; left as it is (it was %" PRIu64
			   " before)", e->page_size >> 10, where, now, e->set, whose, e->found);
		return;
	}
	got = set_nr_raw(e->page_size, e->node, e->found);
	if (got == (int64_t)e->found)
		log_notice("restored nr_hugepages for %" PRIu64 " kB pages%s from %" PRIu64
			   " to %" PRIu64 " (raised by %s)", e->page_size >> 10, where, now, e->found,
			   whose);
	else
		log_warn("nr_hugepages for %" PRIu64 " kB pages%s: asked for %" PRIu64
			 " (the value before %s raised it), got %" PRId64
			 " (pages still in use stay until freed)", e->page_size >> 10, where, e->found,
			 whose, got);
}

void hugetlb_hand_over(void)
{
	/* Pages still in use (systemd's fd store holds them) become surplus
	 * pages, which the kernel frees once their last holder lets go
	 * (Documentation/admin-guide/mm/hugetlbpage.rst): a stop for good
	 * leaves the host as it was, and the record tells a successor what
	 * to raise again. */
	for (unsigned i = 0; i < nledger; i++)
		restore_entry(&ledger[i], "this contigd");
	record_save();
	nledger = 0;
	record_path[0] = 0; /* the successor's now */
}

void hugetlb_restore_all(void)
{
	while (nledger) {
		restore_entry(&ledger[nledger - 1], "this contigd");
		nledger--;
	}
	record_save();
}

/* Is pid a live contigd other than us? */
static bool live_contigd(int pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (pid <= 0 || pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	return !strncmp(comm, "contigd", 7);
}

int hugetlb_ledger_open(const char *dir)
{
	char line[256], whose[48];
	FILE *f;
	int n = 0;

	if (snprintf(record_path, sizeof(record_path), "%s/" HUGETLB_RECORD_NAME, dir) >=
	    (int)sizeof(record_path)) {
		record_path[0] = 0;
		return -ENAMETOOLONG;
	}
	/* A contigd killed while writing its record leaves the new copy. */
	snprintf(line, sizeof(line), "%s.new", record_path);
	unlink(line);
	f = fopen(record_path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		struct ledger_entry e;
		int pid;

		if (sscanf(line, "pid=%d page_size=%" SCNu64 " node=%d found=%" SCNu64 " set=%" SCNu64,
			   &pid, &e.page_size, &e.node, &e.found, &e.set) != 5)
			continue;
		if (live_contigd(pid)) {
			fclose(f);
			log_err("%s: contigd pid %d is alive and holds it", record_path, pid);
			record_path[0] = 0; /* not ours: never touch it */
			return -EBUSY;
		}
		snprintf(whose, sizeof(whose), "contigd pid %d, which died", pid);
		restore_entry(&e, whose);
		n++;
	}
	fclose(f);
	if (!n)
		log_notice("%s: no entry in it; removed", record_path);
	if (unlink(record_path) < 0)
		log_warn("%s: %s", record_path, strerror(errno));
	return n;
}

int hugetlb_ledger_adopt(const char *dir)
{
	char line[256];
	FILE *f;
	int n = 0;

	if (snprintf(record_path, sizeof(record_path), "%s/" HUGETLB_RECORD_NAME, dir) >=
	    (int)sizeof(record_path)) {
		record_path[0] = 0;
		return -ENAMETOOLONG;
	}
	snprintf(line, sizeof(line), "%s.new", record_path);
	unlink(line);
	f = fopen(record_path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		struct ledger_entry e;
		int pid;

		if (sscanf(line, "pid=%d page_size=%" SCNu64 " node=%d found=%" SCNu64 " set=%" SCNu64,
			   &pid, &e.page_size, &e.node, &e.found, &e.set) != 5)
			continue;
		if (live_contigd(pid)) {
			fclose(f);
			log_err("%s: contigd pid %d is alive and holds it", record_path, pid);
			record_path[0] = 0;
			return -EBUSY;
		}
		if (nledger < LEDGER_MAX && !ledger_find(e.page_size, e.node)) {
			uint64_t now;
			/* Handed over (put back at the predecessor's exit): the
			 * resumed pool needs the raise again. */
			if (read_u64(e.page_size, e.node, "nr_hugepages", &now) == 0 &&
			    now == e.found && e.set > e.found) {
				int64_t got = set_nr_raw(e.page_size, e.node, e.set);
				log_info("nr_hugepages for %" PRIu64 " kB pages raised again from %"
					 PRIu64 " to %" PRId64 " for the resumed pool",
					 e.page_size >> 10, now, got);
				if (got > (int64_t)e.found)
					e.set = (uint64_t)got;
				else
					continue;
			}
			ledger[nledger++] = e;
			n++;
		}
	}
	fclose(f);
	record_save();
	if (n)
		log_info("%s: %d nr_hugepages raise(s) of the previous contigd kept (the pool is "
			 "resumed), in this one's record now", record_path, n);
	return n;
}

int64_t hugetlb_set_nr(uint64_t page_size, uint64_t nr)
{
	return hugetlb_set_nr_node(page_size, -1, nr);
}

int64_t hugetlb_ensure_free(uint64_t page_size, int node, uint64_t want, int may_raise,
			    const struct start_watch *watch)
{
	struct hugetlb_counts c;
	uint64_t avail, from, target, step;
	int r = hugetlb_read_node(page_size, node, &c);

	if (r < 0)
		return r;
	avail = c.free > c.resv ? c.free - c.resv : 0;
	if (avail >= want || !may_raise)
		return (int64_t)avail;
	/* Another process may be raising it at the same time: raise by the
	 * shortfall relative to what we read, then read back what we got. In
	 * steps of 512 MiB, so a stop is seen between them (one write of
	 * gigabytes can take seconds when the kernel has to compact). */
	from = c.nr;
	target = c.nr + (want - avail);
	step = (512ull << 20) / page_size ? (512ull << 20) / page_size : 1;
	for (uint64_t nr = from; nr < target;) {
		uint64_t next = target - nr > step ? nr + step : target;
		int64_t got;

		if (!start_watch_tick(watch, "raising nr_hugepages", nr - from, target - from))
			return -EINTR;
		got = hugetlb_set_nr_node(page_size, node, next);
		if (got < 0 || (uint64_t)got < next)
			break; /* the kernel gave what it could */
		nr = (uint64_t)got;
	}
	if (hugetlb_read_node(page_size, node, &c) < 0)
		return (int64_t)avail;
	return (int64_t)(c.free > c.resv ? c.free - c.resv : 0);
}
