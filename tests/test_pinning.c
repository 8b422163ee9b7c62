/* SPDX-License-Identifier: MIT */
/*
 * test_pinning.c - physical addresses must not move under a client.
 *
 * The kernel here allows hugepage migration. The strongest mover available
 * to a test is memory offlining: writing "offline" to the sysfs state of the
 * 128 MiB memory block holding a pool page makes the kernel migrate every
 * page out of it. With contigd's long-term pins (io_uring registered
 * buffers) the offline cannot take our pages and nothing moves; with
 * --no-pin the page does move, and the daemon's audit (SIGUSR1 on demand,
 * periodic otherwise) detects it. Skipped (77) where memory blocks cannot
 * be offlined.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "rawclient.h"

#define PS (2ull << 20)

static uint64_t block_size;

static int block_state(uint64_t block, char *buf, size_t n)
{
	char path[128];
	int fd;
	ssize_t got;

	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%llu/state",
		 (unsigned long long)block);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, n - 1);
	close(fd);
	buf[got > 0 ? got : 0] = 0;
	return 0;
}

/* Write "offline" from a child we SIGKILL after ms: the kernel keeps
 * retrying pinned pages until a signal. Returns true if it went offline. */
static bool try_offline(uint64_t block, int ms)
{
	char path[128], st[32];
	pid_t pid;

	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%llu/state",
		 (unsigned long long)block);
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		_exit(fd >= 0 && write(fd, "offline", 7) == 7 ? 0 : 1);
	}
	for (int t = 0; t < ms; t += 10) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			goto done;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
done:
	block_state(block, st, sizeof(st));
	return !strncmp(st, "offline", 7);
}

static void online(uint64_t block)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%llu/state",
		 (unsigned long long)block);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "online", 6);
		close(fd);
	}
}

static int audit_now(struct daemon_proc *d)
{
	int64_t before = raw_stat(d->socket, "audits");

	kill(d->pid, SIGUSR1);
	for (int t = 0; t < 500; t++) {
		if (raw_stat(d->socket, "audits") > before)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Pages of the pool in physical order. */
static int pool_phys(struct daemon_proc *d, uint64_t *out, int max)
{
	struct raw_page *pg;
	int n = raw_pages(d->socket, &pg);

	for (int i = 0; i < n && i < max; i++)
		out[i] = pg[i].phys;
	free(pg);
	return n < max ? n : max;
}

/* The distinct memory blocks holding the pool's pages. */
static int pool_blocks(const uint64_t *phys, int n, uint64_t *blocks)
{
	int nb = 0;

	for (int i = 0; i < n; i++) {
		uint64_t b = phys[i] / block_size;
		bool seen = false;
		for (int k = 0; k < nb; k++)
			seen |= blocks[k] == b;
		if (!seen)
			blocks[nb++] = b;
	}
	return nb;
}

static void test_pinned_pages_do_not_move(void **state)
{
	static const char *const args[] = { "--pool", "32M", NULL };
	struct daemon_proc d = { 0 };
	uint64_t before[16], after[16], blocks[16];
	int n, nb;

	(void)state;
	assert_int_equal(daemon_start(&d, args), 0);
	/* The background repair pins the pages it swaps in: let it finish. */
	assert_true(daemon_wait_log(&d, "repair: ", 10000));
	assert_int_equal(raw_stat(d.socket, "pinned"), 16 + raw_stat(d.socket, "repair_swapped"));
	assert_int_equal(raw_stat(d.socket, "pin_failures"), 0);
	/* A client holds one region and watches it through pagemap. */
	struct contig_pool_info info = { 0 };
	assert_int_equal(contig_query(&info), 0);
	uint64_t size = info.largest_free_run < 4 * PS ? info.largest_free_run : 4 * PS;
	uint8_t *p = contig_alloc(size, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	uint64_t ph = contig_phys_addr(p);
	n = pool_phys(&d, before, 16);
	assert_int_equal(n, 16);
	nb = pool_blocks(before, n, blocks);

	/* No block holding a pinned page can be taken offline. */
	for (int k = 0; k < nb; k++) {
		bool went = try_offline(blocks[k], 1500);
		online(blocks[k]);
		assert_false(went);
	}
	assert_int_equal(audit_now(&d), 0);
	assert_int_equal(raw_stat(d.socket, "audit_moved"), 0);
	assert_int_equal(pool_phys(&d, after, 16), 16);
	assert_memory_equal(before, after, sizeof(before));
	for (uint64_t off = 0; off < size; off += PS)
		assert_int_equal(pagemap_phys(p + off), ph + off);
	contig_free(p);
	assert_int_equal(daemon_stop(&d), 0);

	/* Was it the pins? With the daemon gone, one of those blocks must go
	 * offline now; if none can, something else pins them: inconclusive. */
	int freed = 0;
	for (int k = 0; k < nb; k++) {
		freed += try_offline(blocks[k], 3000);
		online(blocks[k]);
	}
	if (!freed) {
		printf("no block of the pool could be offlined even unpinned: inconclusive\n");
		skip();
	}
}

static void test_unpinned_move_is_detected(void **state)
{
	static const char *const args[] = { "--pool", "32M", "--no-pin", NULL };
	struct daemon_proc d = { 0 };
	uint64_t before[16], after[16], blocks[16];
	bool went = false;
	int nb;

	(void)state;
	assert_int_equal(daemon_start(&d, args), 0);
	assert_int_equal(raw_stat(d.socket, "pinned"), 0);
	assert_int_equal(pool_phys(&d, before, 16), 16);
	nb = pool_blocks(before, 16, blocks);
	for (int k = 0; k < nb && !went; k++) {
		went = try_offline(blocks[k], 3000);
		online(blocks[k]);
	}
	if (!went) {
		/* Not migratable here after all: nothing to detect. */
		assert_int_equal(daemon_stop(&d), 0);
		printf("no block of the pool could be offlined: nothing moved to detect\n");
		skip();
	}
	assert_int_equal(audit_now(&d), 0);
	/* At least one page moved, and the daemon saw it. */
	assert_true(raw_stat(d.socket, "audit_moved") >= 1);
	assert_int_equal(pool_phys(&d, after, 16), 16);
	assert_memory_not_equal(before, after, sizeof(before));
	assert_int_equal(daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned_pages_do_not_move),
		cmocka_unit_test(test_unpinned_move_is_detected),
	};
	char buf[32];
	int fd = open("/sys/devices/system/memory/block_size_bytes", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0 || access("/sys/devices/system/memory/memory1/state", W_OK) != 0) {
		printf("memory blocks cannot be offlined here: skipping\n");
		return 77;
	}
	buf[n] = 0;
	block_size = strtoull(buf, NULL, 16);
	return cmocka_run_group_tests_name("integration-pinning", tests, NULL, NULL);
}
