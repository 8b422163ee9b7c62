/* SPDX-License-Identifier: MIT */
/*
 * carve_check.c - see carve_check.h.
 */
#define _GNU_SOURCE
#include "carve_check.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"

#define PFN_MASK ((1ull << 55) - 1)

struct daemon_proc carve_daemon;

size_t round4k(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* ---- pagemap: one fd per process (threads share it; a fork child reopens) */

static int pm_fd = -1;
static pid_t pm_pid;

uint64_t pm_phys(const void *va)
{
	uint64_t e = 0;

	if (pm_pid != getpid()) {
		if (pm_fd >= 0)
			close(pm_fd);
		pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		pm_pid = getpid();
	}
	if (pm_fd < 0 || pread(pm_fd, &e, sizeof(e), (off_t)((uintptr_t)va / 4096 * 8)) != sizeof(e))
		return UINT64_MAX;
	if (!(e >> 63) || !(e & PFN_MASK))
		return UINT64_MAX;
	return (e & PFN_MASK) * 4096 + ((uintptr_t)va & 4095);
}

/* The NUMA node the kernel says the page at va is on (move_pages(2) with
 * nodes NULL reports it), or a negative number. */
int kernel_node_of(const void *va)
{
	void *pages[1] = { (void *)va };
	int status = -1000;

	if (syscall(SYS_move_pages, 0, 1ul, pages, NULL, &status, 0) != 0)
		return -1000;
	return status;
}

/* ---- regions this process holds; the per-test teardown frees them all */

static void **tracked;
static size_t ntracked, captracked;

void *track(void *p)
{
	if (!p)
		return p;
	if (ntracked == captracked) {
		captracked = captracked ? captracked * 2 : 1024;
		tracked = realloc(tracked, captracked * sizeof(*tracked));
		assert_non_null(tracked);
	}
	tracked[ntracked++] = p;
	return p;
}

void untrack_all(void)
{
	ntracked = 0;
}

void track_done(void)
{
	free(tracked);
	tracked = NULL;
	ntracked = captracked = 0;
}

/* Free whatever the test left (a freed address is a no-op by contract) and
 * wait for the pool to be whole: nothing leaks into the next test. */
int release_all(void **state)
{
	(void)state;
	for (size_t i = 0; i < ntracked; i++)
		contig_free(tracked[i]);
	ntracked = 0;
	if (!wait_pool_idle(15000)) {
		struct contig_pool_info info = { 0 };
		contig_query(&info);
		fprintf(stderr, "pool not whole after the test: %" PRIu64 " of %" PRIu64 " free\n",
			info.free_bytes, info.total_bytes);
		return -1;
	}
	return 0;
}

/* ---- checks */

void check_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zero[4096];

	if (!p)
		fail_msg("no region (errno %d)", errno);
	for (size_t off = 0; off < n; off += 4096) {
		size_t k = n - off < 4096 ? n - off : 4096;
		if (memcmp(p + off, zero, k)) {
			for (size_t i = 0; i < k; i++)
				if (p[off + i])
					fail_msg("byte %zu of a %zu-byte region reads %#x, not zero",
						 off + i, n, p[off + i]);
		}
	}
}

/* Not a cmocka check: threads and children use it. NULL when every 4 KiB
 * of [p, p + n) is present, physically contiguous from contig_phys_addr(p)
 * by pagemap, and contig_phys_addr agrees on the first and last byte of
 * each 4 KiB; else what is wrong. */
const char *phys_problem(const uint8_t *p, size_t n, uint64_t *ret_phys)
{
	uint64_t ph = contig_phys_addr(p);

	if ((uintptr_t)p % 4096)
		return "base not 4 KiB aligned";
	if (ph == CONTIG_PHYS_INVALID)
		return "contig_phys_addr(base) is CONTIG_PHYS_INVALID";
	if (ph % 4096)
		return "physical address not 4 KiB aligned";
	for (size_t off = 0; off < n; off += 4096) {
		size_t last = off + 4095 < n ? off + 4095 : n - 1;
		(void)*(volatile const uint8_t *)(p + off);
		if (pm_phys(p + off) != ph + off || pm_phys(p + last) != ph + last)
			return "pagemap: not physically contiguous from contig_phys_addr(base)";
		if (contig_phys_addr(p + off) != ph + off ||
		    contig_phys_addr(p + last) != ph + last)
			return "contig_phys_addr(base + k) != contig_phys_addr(base) + k";
	}
	if (ret_phys)
		*ret_phys = ph;
	return NULL;
}

/* p is a live carved region of n bytes: 4 KiB aligned, every 4 KiB present
 * and contiguous by pagemap, contig_phys_addr right on interior bytes, and
 * contig_region_info says carved (mapped_bytes is n rounded to 4 KiB, not a
 * pool page). Returns its physical address. */
uint64_t check_carved(const uint8_t *p, size_t n)
{
	struct contig_region_info ri = { 0 };
	const char *why;
	uint64_t ph = 0;

	assert_non_null(p);
	why = phys_problem(p, n, &ph);
	if (why)
		fail_msg("%zu-byte region at %p: %s", n, (const void *)p, why);
	/* Interior bytes at odd offsets too. */
	for (size_t k = 1; k < n; k = k * 3 + 1)
		assert_int_equal(contig_phys_addr(p + k), ph + k);
	assert_int_equal(contig_region_info(p + n - 1, &ri), 0);
	assert_ptr_equal(ri.base, p);
	assert_int_equal(ri.nbytes, n);
	assert_int_equal(ri.page_size, PS);
	assert_int_equal(ri.phys, ph);
	if (ri.mapped_bytes != round4k(n))
		fail_msg("%zu-byte region maps %zu bytes, not %zu: not carved", n, ri.mapped_bytes,
			 round4k(n));
	return ph;
}

/* Every byte of [p, p + n), by pagemap, in [lo, hi], and the region
 * crosses no multiple of boundary (when non-zero). */
void check_window(const uint8_t *p, size_t n, uint64_t lo, uint64_t hi, uint64_t boundary)
{
	uint64_t ph = pm_phys(p);

	for (size_t off = 0; off < n; off += 4096) {
		size_t last = off + 4095 < n ? off + 4095 : n - 1;
		uint64_t a = pm_phys(p + off), z = pm_phys(p + last);
		if (a < lo || z > hi)
			fail_msg("bytes %zu..%zu at %#" PRIx64 "..%#" PRIx64 " outside [%#" PRIx64
				 ", %#" PRIx64 "]",
				 off, last, a, z, lo, hi);
		if (boundary && (a / boundary != ph / boundary || z / boundary != ph / boundary))
			fail_msg("%zu-byte region at %#" PRIx64 " crosses a multiple of %#" PRIx64, n,
				 ph, boundary);
	}
}

void fill(uint8_t *p, size_t n, uint64_t id)
{
	size_t k;

	for (k = 0; k + 8 <= n; k += 8) {
		uint64_t w = id * 0x9e3779b97f4a7c15ull ^ k;
		memcpy(p + k, &w, 8);
	}
	for (; k < n; k++)
		p[k] = (uint8_t)(id ^ k);
}

/* Offset of the first byte of a fill(p, n, id) that changed, or n. */
size_t first_bad(const uint8_t *p, size_t n, uint64_t id)
{
	size_t k;

	for (k = 0; k + 8 <= n; k += 8) {
		uint64_t w = id * 0x9e3779b97f4a7c15ull ^ k, v;
		memcpy(&v, p + k, 8);
		if (v != w)
			return k;
	}
	for (; k < n; k++)
		if (p[k] != (uint8_t)(id ^ k))
			return k;
	return n;
}

void check_intact(const uint8_t *p, size_t n, uint64_t id)
{
	size_t k = first_bad(p, n, id);

	if (k != n)
		fail_msg("region %" PRIu64 " (%zu bytes at %p) changed at byte %zu: another region "
			 "overlaps it",
			 id, n, (const void *)p, k);
}

bool is_carved(const void *p, size_t n)
{
	struct contig_region_info ri = { 0 };

	return contig_region_info(p, &ri) == 0 && ri.mapped_bytes == round4k(n);
}

uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Lowest and highest physical address of a pool page. */
void pool_bounds(uint64_t *ret_lo, uint64_t *ret_hi)
{
	struct raw_page *pg = NULL;
	int n = raw_pages(carve_daemon.socket, &pg);
	uint64_t lo = UINT64_MAX, hi = 0;

	assert_int_equal(n, POOL_PAGES);
	for (int i = 0; i < n; i++) {
		lo = pg[i].phys < lo ? pg[i].phys : lo;
		hi = pg[i].phys > hi ? pg[i].phys : hi;
	}
	free(pg);
	*ret_lo = lo;
	*ret_hi = hi;
}

int wait_child(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	return WEXITSTATUS(status);
}

/* ---- a fresh process (this binary, exec'd): count regions until ENOMEM */

/* Child side: allocate size-byte regions until one fails, check each (zero,
 * aligned, tagged, distinct physical blocks), print one line of counts. */
int count_main(size_t size, long cap)
{
	uint8_t **p = calloc((size_t)cap, sizeof(*p));
	uint64_t *ph = calloc((size_t)cap, sizeof(*ph));
	struct count_result r = { 0 };
	struct contig_pool_info info = { 0 };

	if (!p || !ph || size < 16) {
		free(p);
		free(ph);
		return 2;
	}
	errno = 0;
	while (r.count < cap && (p[r.count] = contig_alloc(size, CONTIG_MAX_ADDRESS))) {
		uint8_t *q = p[r.count];
		uint64_t z, tag = (uint64_t)r.count + 1;
		memcpy(&z, q, 8);
		if ((uintptr_t)q % 4096 || z || q[size - 1])
			r.bad++;
		memcpy(q, &tag, 8);
		memcpy(q + size - 8, &tag, 8);
		r.count++;
	}
	r.err = errno;
	if (contig_query(&info) < 0)
		r.bad++;
	for (long i = 0; i < r.count; i++) {
		struct contig_region_info ri = { 0 };
		uint64_t a, b, tag = (uint64_t)i + 1;
		memcpy(&a, p[i], 8);
		memcpy(&b, p[i] + size - 8, 8);
		if (a != tag || b != tag)
			r.bad++;
		ph[i] = contig_phys_addr(p[i]);
		if (ph[i] == CONTIG_PHYS_INVALID || pm_phys(p[i]) != ph[i])
			r.bad++;
		if (contig_region_info(p[i], &ri) < 0)
			r.bad++;
		else if (ri.mapped_bytes == info.page_size)
			r.whole++;
		else if (ri.mapped_bytes == round4k(size))
			r.carved++;
	}
	qsort(ph, (size_t)r.count, sizeof(*ph), cmp_u64);
	for (long i = 1; i < r.count; i++)
		if (ph[i] < ph[i - 1] + round4k(size))
			r.bad++;
	for (long i = 0; i < r.count && i < 4; i++) {
		struct contig_handle h;
		errno = 0;
		if (contig_export(p[i], &h) == 0)
			r.export_ok++;
		else if (errno == ENOTSUP)
			r.export_notsup++;
	}
	printf("count=%ld errno=%d whole=%ld carved=%ld bad=%ld export_ok=%d export_notsup=%d\n",
	       r.count, r.err, r.whole, r.carved, r.bad, r.export_ok, r.export_notsup);
	fflush(stdout);
	for (long i = 0; i < r.count; i++)
		contig_free(p[i]);
	free(p);
	free(ph);
	return 0;
}

/* Run count_main in a fresh process (exec'd: it reads CONTIG_CARVE as a new
 * program does) with CONTIG_CARVE set to carve (unset when NULL) and
 * CONTIG_SOCKET to socket. */
void run_count(const char *socket, const char *carve, size_t size, long cap,
		      struct count_result *ret)
{
	char buf[512] = "", sz[32], cp[32];
	size_t got = 0;
	ssize_t n;
	int pfd[2];

	snprintf(sz, sizeof(sz), "%zu", size);
	snprintf(cp, sizeof(cp), "%ld", cap);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		if (carve)
			setenv("CONTIG_CARVE", carve, 1);
		else
			unsetenv("CONTIG_CARVE");
		setenv("CONTIG_SOCKET", socket, 1);
		execl("/proc/self/exe", "test-carve", "--count", sz, cp, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (got < sizeof(buf) - 1 && (n = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(pfd[0]);
	assert_int_equal(wait_child(pid), 0);
	memset(ret, 0, sizeof(*ret));
	if (sscanf(buf, "count=%ld errno=%d whole=%ld carved=%ld bad=%ld export_ok=%d export_notsup=%d",
		   &ret->count, &ret->err, &ret->whole, &ret->carved, &ret->bad, &ret->export_ok,
		   &ret->export_notsup) != 7)
		fail_msg("counting child said: '%s'", buf);
	print_message("CONTIG_CARVE=%s, %zu-byte regions: %s", carve ? carve : "(unset)", size, buf);
}

size_t random_size(uint64_t *s)
{
	uint64_t r = rnd(s) % 100;

	if (r < 2)
		return 64 * KiB + rnd(s) % (MiB - 64 * KiB + 1);
	if (r < 30)
		return 1 + rnd(s) % 4096;
	return 4096 + rnd(s) % (60 * KiB);
}

void shuffle(size_t *idx, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd(s) % i, t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

int pages_not_free(void)
{
	struct raw_page *pg = NULL;
	int n = raw_pages(carve_daemon.socket, &pg), busy = 0;

	assert_int_equal(n, POOL_PAGES);
	for (int i = 0; i < n; i++)
		busy += pg[i].state != PROTO_PAGE_FREE;
	free(pg);
	return busy;
}
