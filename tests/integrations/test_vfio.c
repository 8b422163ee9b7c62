/* SPDX-License-Identifier: MIT */
/*
 * test_vfio.c - libcontig-vfio against a real contigd. This kernel has no
 * VFIO, so the ioctls go through the library's seam
 * (contig_vfio_set_ioctl_for_testing) to a fake container that records the
 * exact request and struct; one test runs the real ioctl(2) path against a
 * file that is not a VFIO container. The physical address table is checked
 * against /proc/self/pagemap.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_vfio.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "vfio_testing.h"

#define MiB (1ull << 20)
#define PS (2 * MiB)
#define FAKE 42 /* the fake container's fd */

static struct daemon_proc d;
static int teardown_status;

/* What the fake container saw, and what it answers. */
static struct {
	int calls;
	int fd;
	unsigned long request;
	struct vfio_iommu_type1_dma_map map;
	int fail_errno;	   /* answer -1 with this, or 0 */
	uint64_t unmapped; /* size the kernel writes back on unmap */
	struct vfio_iommu_type1_dma_unmap unmap; /* last: it ends in a flexible array */
} fake;

static int fake_ioctl(int fd, unsigned long request, void *arg)
{
	fake.calls++;
	fake.fd = fd;
	fake.request = request;
	if (request == VFIO_IOMMU_MAP_DMA)
		memcpy(&fake.map, arg, sizeof(fake.map));
	if (request == VFIO_IOMMU_UNMAP_DMA) {
		memcpy(&fake.unmap, arg, sizeof(fake.unmap));
		((struct vfio_iommu_type1_dma_unmap *)arg)->size = fake.unmapped;
	}
	if (fake.fail_errno) {
		errno = fake.fail_errno;
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	static const char *const args[] = {"--pool", "64M", NULL};

	(void)state;
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static int each_setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	contig_vfio_set_ioctl_for_testing(fake_ioctl);
	return 0;
}

static int each_teardown(void **state)
{
	(void)state;
	contig_vfio_set_ioctl_for_testing(NULL);
	return 0;
}

#define EXPECT_ERR(call, e)                                                                        \
	do {                                                                                       \
		errno = 0;                                                                         \
		assert_int_equal(call, -1);                                                        \
		assert_int_equal(errno, e);                                                        \
	} while (0)

static void test_map_arguments(void **state)
{
	/* 3 MiB + 1 asked: the mapping covers the region's two pool pages. */
	uint8_t *p = contig_alloc(3 * MiB + 1, CONTIG_MAX_ADDRESS);
	const uint64_t iova = 0x100000000ull;

	(void)state;
	if (!p && pool_lacks_run(4 * MiB))
		skip();
	assert_non_null(p);
	assert_int_equal(contig_vfio_dma_size(p), 4 * MiB);
	errno = 1234;
	assert_int_equal(contig_vfio_dma_map(FAKE, p, iova), 0);
	assert_int_equal(errno, 1234); /* untouched on success */
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.fd, FAKE);
	assert_int_equal(fake.request, VFIO_IOMMU_MAP_DMA);
	assert_int_equal(fake.map.argsz, sizeof(struct vfio_iommu_type1_dma_map));
	assert_int_equal(fake.map.flags, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	assert_int_equal(fake.map.vaddr, (uintptr_t)p);
	assert_int_equal(fake.map.iova, iova);
	assert_int_equal(fake.map.size, 4 * MiB);

	fake.unmapped = 4 * MiB;
	assert_int_equal(contig_vfio_dma_unmap(FAKE, iova, 4 * MiB), 0);
	assert_int_equal(fake.calls, 2);
	assert_int_equal(fake.request, VFIO_IOMMU_UNMAP_DMA);
	assert_int_equal(fake.unmap.argsz, sizeof(struct vfio_iommu_type1_dma_unmap));
	assert_int_equal(fake.unmap.flags, 0);
	assert_int_equal(fake.unmap.iova, iova);
	assert_int_equal(fake.unmap.size, 4 * MiB);
	contig_free(p);
}

static void test_map_refusals(void **state)
{
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	int on_stack;

	(void)state;
	assert_non_null(p);
	/* Refused before any ioctl. */
	EXPECT_ERR(contig_vfio_dma_map(-1, p, 0), EBADF);
	EXPECT_ERR(contig_vfio_dma_map(FAKE, NULL, 0), EINVAL);
	EXPECT_ERR(contig_vfio_dma_map(FAKE, p + 4096, 0), EINVAL);	     /* interior */
	EXPECT_ERR(contig_vfio_dma_map(FAKE, &on_stack, 0), ENOENT);	     /* no region */
	EXPECT_ERR(contig_vfio_dma_map(FAKE, p, 0x1000 + 1), EINVAL);	     /* unaligned IOVA */
	EXPECT_ERR(contig_vfio_dma_map(FAKE, p, UINT64_MAX - 4095), EINVAL); /* wraps */
	EXPECT_ERR(contig_vfio_dma_unmap(-1, 0, PS), EBADF);
	EXPECT_ERR(contig_vfio_dma_unmap(FAKE, 0, 0), EINVAL);
	EXPECT_ERR(contig_vfio_dma_unmap(FAKE, 0, 4096 + 1), EINVAL);
	EXPECT_ERR(contig_vfio_dma_unmap(FAKE, 512, 4096), EINVAL);
	assert_int_equal(fake.calls, 0);

	/* The kernel's refusals come back as they are. */
	fake.fail_errno = EEXIST;
	EXPECT_ERR(contig_vfio_dma_map(FAKE, p, 0), EEXIST);
	fake.fail_errno = EPERM;
	EXPECT_ERR(contig_vfio_dma_unmap(FAKE, 0, PS), EPERM);
	assert_int_equal(fake.calls, 2);
	/* Nothing (or only part) was mapped there. */
	fake.fail_errno = 0;
	fake.unmapped = 0;
	EXPECT_ERR(contig_vfio_dma_unmap(FAKE, 0, PS), ENOENT);
	fake.unmapped = 4096;
	EXPECT_ERR(contig_vfio_dma_unmap(FAKE, 0, PS), ENOENT);
	contig_free(p);
	/* A freed region is no region. */
	EXPECT_ERR(contig_vfio_dma_map(FAKE, p, 0), ENOENT);
	errno = 0;
	assert_int_equal(contig_vfio_dma_size(p), 0);
	assert_int_equal(errno, ENOENT);
}

/* Without the seam: the real ioctl reaches the kernel, which refuses a
 * file that is not a VFIO container. */
static void test_real_ioctl_path(void **state)
{
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)state;
	contig_vfio_set_ioctl_for_testing(NULL);
	assert_non_null(p);
	assert_true(fd >= 0);
	EXPECT_ERR(contig_vfio_dma_map(fd, p, 0), ENOTTY);
	EXPECT_ERR(contig_vfio_dma_unmap(fd, 0, PS), ENOTTY);
	assert_int_equal(fake.calls, 0);
	close(fd);
	contig_free(p);
}

static void test_phys_table(void **state)
{
	uint64_t t[8];
	struct contig_pool_info info = { 0 };

	(void)state;
	/* Up to three pages, as long a run as the pool has. */
	assert_int_equal(contig_query(&info), 0);
	int np = info.largest_free_run >= 3 * PS ? 3 : (int)(info.largest_free_run / PS);
	assert_true(np >= 1);
	uint8_t *p = contig_alloc((size_t)np * PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	assert_int_equal(contig_vfio_phys_table(p, NULL, 0), np);
	memset(t, 0xff, sizeof(t));
	assert_int_equal(contig_vfio_phys_table(p, t, 8), np);
	for (int k = 0; k < np; k++) {
		p[k * PS] = 1; /* present for pagemap */
		assert_int_equal(t[k], pagemap_phys(p + k * PS));
		assert_int_equal(t[k], contig_phys_addr(p) + k * PS);
	}
	assert_int_equal(t[np], UINT64_MAX); /* nothing written past the region */
	/* A short table gets the first pages and the full count. */
	memset(t, 0xff, sizeof(t));
	assert_int_equal(contig_vfio_phys_table(p, t, 1), np);
	assert_int_equal(t[0], contig_phys_addr(p));
	assert_int_equal(t[1], UINT64_MAX);
	if (np > 1)
		EXPECT_ERR(contig_vfio_phys_table(p, NULL, 2), EINVAL);
	EXPECT_ERR(contig_vfio_phys_table(p + 1, t, 8), EINVAL);
	contig_free(p);
	EXPECT_ERR(contig_vfio_phys_table(p, t, 8), ENOENT);
	assert_int_equal(fake.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_map_arguments, each_setup, each_teardown),
	    cmocka_unit_test_setup_teardown(test_map_refusals, each_setup, each_teardown),
	    cmocka_unit_test_setup_teardown(test_real_ioctl_path, each_setup, each_teardown),
	    cmocka_unit_test_setup_teardown(test_phys_table, each_setup, each_teardown),
	};
	int failed;

	if (geteuid() != 0) {
		printf("skipped: needs root (pagemap physical addresses)\n");
		return 77;
	}
	failed = cmocka_run_group_tests_name("vfio", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
