/* SPDX-License-Identifier: MIT */
/*
 * guest_vfio.c - contig memory as DMA memory behind a real IOMMU (QEMU's
 * intel-iommu, type1 VFIO): the guest's e1000 bound to vfio-pci, driven by
 * the minimal driver in e1000.c with its rings and buffers in contig regions
 * mapped with contig_vfio_dma_map; frames looped back through the device
 * and every byte it wrote checked (loopback.c). Then what the IOMMU makes
 * of contig_vfio_dma_unmap (the device can no longer write there) and of
 * bad or overlapping mappings.
 *
 *   guest-vfio PCI_ADDRESS     (run by tests/guest/checks.sh in the guest)
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_vfio.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e1000.h"
#include "fixture.h"
#include "harness.h"
#include "loopback.h"
#include "pci_dev.h"

#define PS (2ull << 20)
#define IOVA_RINGS 0x40000000ull  /* 2 MiB aligned, clear of the MSI window */
#define IOVA_RX 0x50000000ull
#define IOVA_TX 0x60000000ull
#define IOVA_MSI 0xfee00000ull    /* reserved by the IOMMU for MSI */

static struct daemon_proc d;
static struct pci_dev dev = { .container = -1, .group = -1, .device = -1 };
static const char *dev_addr;
static int teardown_status;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "48M", NULL };

	(void)state;
	return fixture_up(&d, args, vfio_dev_open, "vfio_dev_open", dev_addr, &dev);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = fixture_down(&d, &dev);
	return teardown_status ? -1 : 0;
}

/* A region and the IOVA it is mapped at. */
struct mapped {
	uint8_t *va;
	size_t len;    /* contig_vfio_dma_size */
	uint64_t iova;
};

struct space {
	struct mapped m[3]; /* rings, rx, tx */
};

/* IOVA of va: the mapping that holds it, at the same offset. */
static uint64_t iova_of(const void *va, void *ctx)
{
	struct space *s = ctx;

	for (int i = 0; i < 3; i++)
		if ((const uint8_t *)va >= s->m[i].va && (const uint8_t *)va < s->m[i].va + s->m[i].len)
			return s->m[i].iova + (uint64_t)((const uint8_t *)va - s->m[i].va);
	fail_msg("%p is in no mapped region", va);
	return 0;
}

static void map_region(struct mapped *m, size_t n, uint64_t iova)
{
	m->va = contig_alloc(n, CONTIG_MAX_ADDRESS);
	assert_non_null(m->va);
	m->len = contig_vfio_dma_size(m->va);
	assert_true(m->len >= n);
	m->iova = iova;
	assert_int_equal(contig_vfio_dma_map(dev.container, m->va, iova), 0);
}

static void unmap_region(struct mapped *m)
{
	assert_int_equal(contig_vfio_dma_unmap(dev.container, m->iova, m->len), 0);
	contig_free(m->va);
}

#define RING_BYTES (E1000_RING * sizeof(struct e1000_rx_desc))
#define RINGS_REGION (2 * RING_BYTES + E1000_SCRATCH)

/* Rings and the probe's scratch in the rings region; the device started. */
static void start(struct e1000 *e, struct space *s)
{
	struct e1000_rings rings = {
		.rx = (struct e1000_rx_desc *)s->m[0].va,
		.rx_bus = s->m[0].iova,
		.tx = (struct e1000_tx_desc *)(s->m[0].va + RING_BYTES),
		.tx_bus = s->m[0].iova + RING_BYTES,
		.scratch = s->m[0].va + 2 * RING_BYTES,
		.scratch_bus = s->m[0].iova + 2 * RING_BYTES,
	};
	int r = e1000_start(e, dev.bar0, &rings);

	if (r < 0)
		fail_msg("e1000_start: %s", strerror(-r));
}

static void run_loopback(const char *name, size_t rx_bytes, size_t tx_bytes)
{
	struct space s;
	struct e1000 e;
	struct lb_result res;
	struct lb_space lb;
	int r;

	map_region(&s.m[0], RINGS_REGION, IOVA_RINGS);
	map_region(&s.m[1], rx_bytes, IOVA_RX);
	map_region(&s.m[2], tx_bytes, IOVA_TX);
	start(&e, &s);
	lb = (struct lb_space){
		.dev = &e,
		.rx = s.m[1].va,
		.rx_len = rx_bytes,
		.tx = s.m[2].va,
		.tx_len = tx_bytes,
		.page_size = PS,
		.bus = iova_of,
		.ctx = &s,
	};
	r = lb_run(&lb, &res);
	e1000_stop(&e);
	if (r < 0)
		fail_msg("%s: %s (%s)", name, strerror(-r), res.why);
	printf("INFO %s: %llu frames (%llu bytes) DMA'd by the e1000 into contig memory at IOVAs "
	       "and checked byte by byte, %u across a pool page boundary; %llu bytes around "
	       "them checked untouched\n",
	       name, (unsigned long long)res.frames, (unsigned long long)res.bytes, res.straddles,
	       (unsigned long long)res.canary_bytes);
	assert_true(res.frames > 0);
	if (rx_bytes > PS)
		assert_true(res.straddles >= rx_bytes / PS - 1);
	for (int i = 0; i < 3; i++)
		unmap_region(&s.m[i]);
}

/* Whole pages: an 8 MiB receive area, 2 MiB of frames to send. */
static void vfio_dma_loopback(void **state)
{
	(void)state;
	run_loopback("vfio_dma_loopback", 4 * PS, PS);
}

/* Carved regions (4 KiB granularity inside pool pages) everywhere. */
static void vfio_dma_carved_tx(void **state)
{
	(void)state;
	run_loopback("vfio_dma_carved_tx", 256 << 10, 64 << 10);
}

/* Send one frame into the receive buffer at bus address rx; wait for the
 * device to write both descriptors back. */
static void one_frame(struct e1000 *e, uint64_t rx, const struct mapped *tx, uint16_t len,
		      uint64_t f)
{
	uint64_t tx_bus = tx->iova;

	lb_frame(0x5eed, f, tx->va, len);
	assert_int_equal(e1000_exchange(e, &rx, &tx_bus, &len, 1), 0);
	assert_int_equal(e1000_wait(e, 0), 0);
	assert_int_equal(e1000_rx_desc(e, 0)->length, len);
}

/* Unmapped means unreachable: after contig_vfio_dma_unmap the IOMMU stops
 * the device's write (the descriptor write-back, mapped still, says the
 * device did process the frame), and after mapping again it lands. */
static void vfio_unmap_blocks_dma(void **state)
{
	uint8_t want[1000];
	struct space s;
	struct e1000 e;
	size_t landed = 0;

	(void)state;
	map_region(&s.m[0], RINGS_REGION, IOVA_RINGS);
	map_region(&s.m[1], PS, IOVA_RX);
	map_region(&s.m[2], 4096, IOVA_TX);
	start(&e, &s);

	memset(s.m[1].va, 0xee, PS);
	one_frame(&e, IOVA_RX + 4096, &s.m[2], sizeof(want), 1);
	lb_frame(0x5eed, 1, want, sizeof(want));
	assert_memory_equal(s.m[1].va + 4096, want, sizeof(want));

	assert_int_equal(contig_vfio_dma_unmap(dev.container, IOVA_RX, s.m[1].len), 0);
	errno = 0;
	assert_int_equal(contig_vfio_dma_unmap(dev.container, IOVA_RX, s.m[1].len), -1);
	assert_int_equal(errno, ENOENT);
	memset(s.m[1].va, 0xee, PS);
	one_frame(&e, IOVA_RX + 4096, &s.m[2], sizeof(want), 2);
	for (size_t i = 0; i < PS; i++)
		landed += s.m[1].va[i] != 0xee;
	assert_int_equal(landed, 0);

	assert_int_equal(contig_vfio_dma_map(dev.container, s.m[1].va, IOVA_RX), 0);
	one_frame(&e, IOVA_RX + 8192, &s.m[2], sizeof(want), 3);
	lb_frame(0x5eed, 3, want, sizeof(want));
	assert_memory_equal(s.m[1].va + 8192, want, sizeof(want));
	e1000_stop(&e);
	printf("INFO vfio_unmap_blocks_dma: 1000-byte frame blocked by the IOMMU after unmap "
	       "(2 MiB checked untouched), landed before unmap and after remap\n");
	for (int i = 0; i < 3; i++)
		unmap_region(&s.m[i]);
}

static void expect_map_error(const void *base, uint64_t iova, int err)
{
	errno = 0;
	assert_int_equal(contig_vfio_dma_map(dev.container, base, iova), -1);
	assert_int_equal(errno, err);
}

/* What the real type1 IOMMU says to overlapping, split, reserved and
 * out-of-range mappings, and what the library refuses before asking. */
static void vfio_map_errors(void **state)
{
	const uint64_t a = 0x70000000ull;
	uint8_t *big, *small, *gone;
	int devnull;

	(void)state;
	big = contig_alloc(4 * PS, CONTIG_MAX_ADDRESS);
	small = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(big);
	assert_non_null(small);
	assert_int_equal(contig_vfio_dma_size(big), 4 * PS);

	assert_int_equal(contig_vfio_dma_map(dev.container, big, a), 0);
	expect_map_error(small, a, EEXIST);            /* the same IOVA */
	expect_map_error(small, a + 2 * PS, EEXIST);   /* inside it */
	expect_map_error(small, a - PS / 2, EEXIST);   /* across its start */
	expect_map_error(small, a + 4 * PS - PS / 2, EEXIST); /* across its end */
	expect_map_error(small, IOVA_MSI, EINVAL);     /* the IOMMU's MSI window */
	expect_map_error(small, 1ull << 48, EINVAL);   /* past the IOMMU's address width */
	expect_map_error(big + 4096, a + 8 * PS, EINVAL); /* not a region's base */
	expect_map_error(small, a + 8 * PS + 512, EINVAL); /* IOVA not 4 KiB aligned */

	/* type1v2 does not split a mapping: part of it is refused, all stays. */
	errno = 0;
	assert_int_equal(contig_vfio_dma_unmap(dev.container, a, PS), -1);
	assert_int_equal(errno, EINVAL);
	expect_map_error(small, a, EEXIST);
	/* Nothing mapped there. */
	errno = 0;
	assert_int_equal(contig_vfio_dma_unmap(dev.container, a + 8 * PS, PS), -1);
	assert_int_equal(errno, ENOENT);
	/* Whole: unmapped, then the IOVA is free again. */
	assert_int_equal(contig_vfio_dma_unmap(dev.container, a, 4 * PS), 0);
	errno = 0;
	assert_int_equal(contig_vfio_dma_unmap(dev.container, a, 4 * PS), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(contig_vfio_dma_map(dev.container, small, a + PS), 0);
	assert_int_equal(contig_vfio_dma_unmap(dev.container, a + PS, PS), 0);

	/* Not a container. */
	errno = 0;
	assert_int_equal(contig_vfio_dma_map(-1, small, a), -1);
	assert_int_equal(errno, EBADF);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(devnull >= 0);
	expect_map_error(NULL, a, EINVAL);
	errno = 0;
	assert_int_equal(contig_vfio_dma_map(devnull, small, a), -1);
	assert_int_equal(errno, ENOTTY);
	close(devnull);

	/* A region freed: nothing to map. */
	gone = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(gone);
	contig_free(gone);
	expect_map_error(gone, a, ENOENT);
	contig_free(big);
	contig_free(small);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vfio_dma_loopback),
		cmocka_unit_test(vfio_dma_carved_tx),
		cmocka_unit_test(vfio_unmap_blocks_dma),
		cmocka_unit_test(vfio_map_errors),
	};
	int failed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PCI_ADDRESS\n", argv[0]);
		return 2;
	}
	dev_addr = argv[1];
	failed = cmocka_run_group_tests_name("guest-vfio", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
