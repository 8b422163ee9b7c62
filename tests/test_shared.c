/* SPDX-License-Identifier: MIT */
/*
 * test_shared.c - shared regions (contig_export / contig_import) between
 * real processes on a real contigd: same pages, same physical addresses,
 * independent lifetimes, and handles that cannot be forged.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define MiB (1ull << 20)
#define PS  (2 * MiB)
#define NOBODY 65534

static struct daemon_proc d;
static char conf_path[128];
static int teardown_status;

static int setup(void **state)
{
	static const char *args[] = { "--pool", "64M", "--config", conf_path, NULL };
	FILE *f;

	(void)state;
	/* nobody may use the pool, so that a foreign-uid import is refused for
	 * being foreign, not for lack of access. */
	snprintf(conf_path, sizeof(conf_path), "/tmp/contig-shared-%d.conf", (int)getpid());
	f = fopen(conf_path, "w");
	if (!f)
		return -1;
	fprintf(f, "allow-users = %d\n", NOBODY);
	fclose(f);
	if (daemon_start(&d, args) < 0)
		return -1;
	chmod(d.dir, 0755);
	chmod(d.socket, 0666);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static void fill(uint8_t *p, size_t n, uint8_t v)
{
	memset(p, v, n);
}

static bool all_is(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i += 512)
		if (p[i] != v)
			return false;
	return p[n - 1] == v;
}

struct holders_ctx {
	uint64_t phys;
	int holders;
};

static void region_row(const void *item, void *arg)
{
	struct holders_ctx *c = arg;
	struct proto_region_item it;

	memcpy(&it, item, sizeof(it));
	if (it.phys == c->phys)
		c->holders = (int)it.holders;
}

/* Region holders as the daemon sees them (raw REGIONS table). */
static int holders_of(uint64_t phys)
{
	struct holders_ctx c = { phys, -1 };

	return raw_list(d.socket, PROTO_TABLE_REGIONS, region_row, &c) < 0 ? -1 : c.holders;
}

/* Nothing is mapped in [va, va + len). */
static bool va_free(void *va, size_t len)
{
	void *m = mmap(va, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			MAP_FIXED_NOREPLACE, -1, 0);

	if (m == MAP_FAILED)
		return false;
	munmap(m, len);
	return m == va;
}

/* An address aligned to align with len bytes free behind it (now). */
static uint8_t *free_aligned_va(size_t len, size_t align)
{
	uint8_t *m = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	munmap(m, len + align);
	return (uint8_t *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
}

static void test_export_import_child(void **state)
{
	struct contig_handle h;
	uint8_t *p;
	pid_t pid;
	int status, go[2], done[2];
	char c;

	(void)state;
	/* Two pages: the tests below need a run of 4 MiB. */
	assert_true(wait_pool_idle(5000));
	p = contig_alloc(4 * MiB, CONTIG_MAX_ADDRESS);
	if (!p && pool_lacks_run(4 * MiB))
		skip();
	assert_non_null(p);
	fill(p, 4 * MiB, 0x10);
	uint64_t ph = contig_phys_addr(p);
	assert_int_equal(contig_export(p, &h), 0);
	/* Exporting twice gives the same handle. */
	struct contig_handle h2;
	assert_int_equal(contig_export(p, &h2), 0);
	assert_memory_equal(&h, &h2, sizeof(h));
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		/* A crash ends the child: cmocka's handlers would run the
		 * remaining tests in here. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		close(go[1]);
		close(done[0]);
		/* At exactly the parent's address: not inherited, so free here,
		 * unless something was mapped there since the fork (under
		 * ThreadSanitizer, the stack of its background thread can be):
		 * then at an aligned address of the child's own choosing. */
		uint8_t *at = va_free(p, 4 * MiB) ? p : free_aligned_va(4 * MiB, PS);
		uint8_t *r = contig_import(&h, at);
		/* Anywhere. */
		uint8_t *q = contig_import(&h, NULL);
		/* Both or nothing to look at: the checks below read through them. */
		if (!r || !q)
			_exit(64 | (r ? 0 : 2) | (q ? 0 : 1)); /* the parent reads EOF */
		if (r != at || contig_phys_addr(r + 5) != ph + 5 || pagemap_phys(r) != ph ||
		    !all_is(r, 4 * MiB, 0x10))
			bad |= 2;
		if (q == r || contig_phys_addr(q) != ph || pagemap_phys(q) != ph ||
		    pagemap_phys(q + 3 * MiB) != ph + 3 * MiB || !all_is(q, 4 * MiB, 0x10))
			bad |= 1;
		fill(q, 2 * MiB, 0x20); /* the parent and r must see this */
		if (!all_is(r, 2 * MiB, 0x20))
			bad |= 32;
		/* Misaligned and taken addresses. */
		errno = 0;
		if (contig_import(&h, at + 4096) || errno != EINVAL)
			bad |= 4;
		errno = 0;
		if (contig_import(&h, q) || errno != EEXIST)
			bad |= 8;
		(void)!write(done[1], "x", 1);
		(void)!read(go[0], &c, 1);
		/* The parent wrote 0x30 into the second half meanwhile. */
		if (!all_is(q + 2 * MiB, 2 * MiB, 0x30))
			bad |= 16;
		contig_free(r);
		contig_free(q);
		_exit(bad);
	}
	/* Only the child holds these now: its death is EOF here, not a hang. */
	close(go[0]);
	close(done[1]);
	if (read(done[0], &c, 1) != 1) {
		waitpid(pid, &status, 0);
		contig_free(p);
		close(go[1]);
		close(done[0]);
		fail_msg("the importing child exited early (status 0x%x; exit 65-67: an "
			 "import failed)", status);
	}
	assert_true(all_is(p, 2 * MiB, 0x20));
	assert_int_equal(holders_of(ph), 2);
	fill(p + 2 * MiB, 2 * MiB, 0x30);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The child's frees dropped only its references. */
	assert_int_equal(holders_of(ph), 1);
	assert_true(all_is(p + 2 * MiB, 2 * MiB, 0x30));
	assert_int_equal(contig_phys_addr(p), ph);
	contig_free(p);
	assert_true(wait_pool_idle(5000));
	close(go[1]);
	close(done[0]);
}

/* The exporter dies first (after the import); the importer keeps the memory. */
static void test_importer_keeps_after_exporter_death(void **state)
{
	struct contig_handle h;
	int hp[2], ack[2];
	pid_t exporter;

	(void)state;
	assert_int_equal(pipe(hp), 0);
	assert_int_equal(pipe(ack), 0);
	exporter = fork();
	assert_true(exporter >= 0);
	if (exporter == 0) {
		uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
		struct contig_handle eh;
		char c;
		if (!p || contig_export(p, &eh) < 0)
			_exit(1);
		fill(p, PS, 0x55);
		(void)!write(hp[1], &eh, sizeof(eh));
		(void)!read(ack[0], &c, 1);
		pause(); /* until SIGKILL */
		_exit(0);
	}
	/* Only the exporter holds these now: its death is EOF, not a hang. */
	close(hp[1]);
	close(ack[0]);
	assert_int_equal(read(hp[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	uint8_t *q = contig_import(&h, NULL);
	assert_non_null(q);
	assert_int_equal(write(ack[1], "x", 1), 1);
	kill(exporter, SIGKILL);
	waitpid(exporter, NULL, 0);
	usleep(100000);
	assert_true(all_is(q, PS, 0x55));
	uint64_t ph = contig_phys_addr(q);
	assert_int_equal(holders_of(ph), 1);
	/* A new import of the handle still works while the region lives. */
	uint8_t *r = contig_import(&h, NULL);
	assert_non_null(r);
	assert_int_equal(contig_phys_addr(r), ph);
	contig_free(r);
	contig_free(q);
	assert_true(wait_pool_idle(5000));
	/* And once it is gone, the handle is dead. */
	errno = 0;
	assert_null(contig_import(&h, NULL));
	assert_int_equal(errno, ENOENT);
	close(hp[0]);
	close(ack[1]);
}

/* kill -9 of every holder returns the pages. */
static void test_kill_all_holders(void **state)
{
	struct contig_handle h;
	int hp[2], ready[2];
	pid_t kids[4];
	char c;

	(void)state;
	assert_true(wait_pool_idle(5000));
	assert_int_equal(pipe(hp), 0);
	assert_int_equal(pipe(ready), 0);
	/* As large as the pool's runs allow, up to 8 MiB. */
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	uint64_t size = info.largest_free_run < 8 * MiB ? info.largest_free_run : 8 * MiB;
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			uint8_t *p;
			if (i == 0) {
				p = contig_alloc(size, CONTIG_MAX_ADDRESS);
				if (!p || contig_export(p, &h) < 0)
					memset(&h, 0, sizeof(h)); /* importers then fail, not hang */
				for (int k = 1; k < 4; k++)
					(void)!write(hp[1], &h, sizeof(h));
			} else {
				if (read(hp[0], &h, sizeof(h)) != sizeof(h)) {
					(void)!write(ready[1], "F", 1); /* or the parent waits */
					_exit(1);
				}
				p = contig_import(&h, NULL);
			}
			(void)!write(ready[1], p ? "x" : "F", 1);
			pause();
			_exit(0);
		}
	}
	int ok = 0;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(read(ready[0], &c, 1), 1);
		ok += c == 'x';
	}
	if (ok == 4) {
		assert_int_equal(contig_query(&info), 0);
		assert_int_equal(info.free_bytes, info.total_bytes - size);
	}
	for (int i = 0; i < 4; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	assert_int_equal(ok, 4);
	assert_true(wait_pool_idle(10000));
	close(hp[0]);
	close(hp[1]);
	close(ready[0]);
	close(ready[1]);
}

static void test_forged_and_revoked(void **state)
{
	struct contig_handle h, forged;
	uint8_t *p;

	(void)state;
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(contig_export(p, &h), 0);
	/* Random bytes. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(getrandom(&forged, sizeof(forged), 0), (ssize_t)sizeof(forged));
		errno = 0;
		assert_null(contig_import(&forged, NULL));
		assert_int_equal(errno, ENOENT);
	}
	/* The right region id with a wrong token, one bit off. */
	forged = h;
	forged.opaque[31] ^= 1;
	errno = 0;
	assert_null(contig_import(&forged, NULL));
	assert_int_equal(errno, ENOENT);
	/* Export of something that is not a live region base. */
	errno = 0;
	assert_int_equal(contig_export(p + 4096, &forged), -1);
	assert_int_equal(errno, ENOENT);
	/* Revoked: no new imports, the holder keeps its memory. */
	assert_int_equal(contig_revoke(&h), 0);
	errno = 0;
	assert_null(contig_import(&h, NULL));
	assert_int_equal(errno, ENOENT);
	p[0] = 9;
	/* A revoke stands: the region is never shared again, not even by
	 * its owner (a holder that could re-export would undo it). */
	struct contig_handle fresh;
	errno = 0;
	assert_int_equal(contig_export(p, &fresh), -1);
	assert_int_equal(errno, EACCES);
	contig_free(p);
	/* Another uid, a valid handle of another region: not allowed. */
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(contig_export(p, &fresh), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(10);
		errno = 0;
		void *q = contig_import(&fresh, NULL);
		if (q || errno != EACCES)
			_exit(11);
		/* It may allocate (allow-users), just not take root's memory. */
		void *own = contig_alloc(PS, CONTIG_MAX_ADDRESS);
		if (!own)
			_exit(12);
		contig_free(own);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	contig_free(p);
	assert_true(wait_pool_idle(5000));
}

/* One process holding a region twice (import of its own handle). */
static void test_self_import(void **state)
{
	struct contig_handle h;
	uint8_t *p, *q;

	(void)state;
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(contig_export(p, &h), 0);
	q = contig_import(&h, NULL);
	assert_non_null(q);
	assert_ptr_not_equal(p, q);
	p[100] = 0x66;
	assert_int_equal(q[100], 0x66);
	contig_free(p);
	/* Still held through q. */
	usleep(50000);
	assert_int_equal(q[100], 0x66);
	assert_int_not_equal(contig_phys_addr(q), CONTIG_PHYS_INVALID);
	contig_free(q);
	assert_true(wait_pool_idle(5000));
}

/* 100 importers of one region at once. */
static void test_hundred_importers(void **state)
{
	enum { N = 100 };
	struct contig_handle h;
	pid_t kids[N];
	int start[2], ok = 0;
	uint8_t *p;

	(void)state;
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	fill(p, PS, 0x7a);
	uint64_t ph = contig_phys_addr(p);
	assert_int_equal(contig_export(p, &h), 0);
	assert_int_equal(pipe(start), 0);
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char c;
			close(start[1]);
			(void)!read(start[0], &c, 1); /* all start together */
			uint8_t *q = contig_import(&h, NULL);
			if (!q || contig_phys_addr(q) != ph || !all_is(q, PS, 0x7a))
				_exit(1);
			contig_free(q);
			_exit(0);
		}
	}
	close(start[0]);
	close(start[1]); /* EOF releases them all at once */
	for (int i = 0; i < N; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	assert_int_equal(ok, N);
	assert_int_equal(holders_of(ph), 1);
	contig_free(p);
	assert_true(wait_pool_idle(5000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export_import_child),
		cmocka_unit_test(test_importer_keeps_after_exporter_death),
		cmocka_unit_test(test_kill_all_holders),
		cmocka_unit_test(test_forged_and_revoked),
		cmocka_unit_test(test_self_import),
		cmocka_unit_test(test_hundred_importers),
	};
	int failed = cmocka_run_group_tests_name("integration-shared", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
