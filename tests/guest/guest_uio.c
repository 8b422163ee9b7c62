/* SPDX-License-Identifier: MIT */
/*
 * guest_uio.c - no IOMMU: the guest's e1000 bound to uio_pci_generic sees
 * physical addresses, and is given exactly what contig_phys_addr() says
 * (rings, receive and transmit buffers), as ixy-style drivers do. Frames
 * looped back through the device land at those addresses, byte for byte,
 * with nothing written around them (loopback.c), including frames written
 * across pool page boundaries at one physical address: the physical
 * addresses and the contiguity are right end to end. The guest's node 1
 * reaches above 4 GiB, so the pool holds pages on both sides of it and a
 * ceiling of 4 GiB - 1 really chooses.
 *
 *   guest-uio PCI_ADDRESS      (run by tests/guest/checks.sh in the guest)
 */
#define _GNU_SOURCE
#include <contig.h>
#include <contig_vfio.h>
#include <errno.h>
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
#include "rawclient.h"

#define PS (2ull << 20)
#define FOUR_G (1ull << 32)
#define RINGS_REGION (2 * E1000_RING * sizeof(struct e1000_rx_desc) + E1000_SCRATCH)

static struct daemon_proc d;
static struct pci_dev dev = { .container = -1, .group = -1, .device = -1 };
static const char *dev_addr;
static int teardown_status;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "node0:16M,node1:16M", NULL };

	(void)state;
	return fixture_up(&d, args, uio_dev_open, "uio_dev_open", dev_addr, &dev);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = fixture_down(&d, &dev);
	return teardown_status ? -1 : 0;
}

static uint64_t phys_of(const void *va, void *ctx)
{
	uint64_t pa = contig_phys_addr(va);

	(void)ctx;
	if (pa == CONTIG_PHYS_INVALID)
		fail_msg("no physical address for %p", va);
	return pa;
}

/* The library's physical addresses are the kernel's, page by page, and
 * the vfio table says the same. */
static void assert_phys_right(uint8_t *p, size_t n)
{
	struct contig_region_info ri;
	uint64_t table[16];
	ssize_t pages;

	memset(p, 0, n);
	for (size_t off = 0; off < n; off += 4096)
		assert_int_equal(contig_phys_addr(p + off), pagemap_phys(p + off));
	assert_int_equal(contig_region_info(p, &ri), 0);
	if (ri.mapped_bytes < ri.page_size)
		return; /* carved: no table of pool pages */
	pages = contig_vfio_phys_table(p, table, 16);
	assert_true(pages >= 1 && pages <= 16);
	for (ssize_t k = 0; k < pages; k++)
		assert_int_equal(table[k], contig_phys_addr(p + k * ri.page_size));
}

/* Rings, receive area and transmit area given; run and report. */
static void run(const char *name, uint8_t *ring_mem, uint8_t *rx, size_t rx_len, uint8_t *tx,
		size_t tx_len)
{
	size_t ring_bytes = E1000_RING * sizeof(struct e1000_rx_desc);
	struct e1000_rings rings;
	struct lb_result res;
	struct lb_space lb;
	struct e1000 e;
	int r;

	assert_phys_right(ring_mem, 2 * ring_bytes + E1000_SCRATCH);
	assert_phys_right(rx, rx_len);
	assert_phys_right(tx, tx_len);
	rings = (struct e1000_rings){
		.rx = (struct e1000_rx_desc *)ring_mem,
		.rx_bus = contig_phys_addr(ring_mem),
		.tx = (struct e1000_tx_desc *)(ring_mem + ring_bytes),
		.tx_bus = contig_phys_addr(ring_mem + ring_bytes),
		.scratch = ring_mem + 2 * ring_bytes,
		.scratch_bus = contig_phys_addr(ring_mem + 2 * ring_bytes),
	};
	r = e1000_start(&e, dev.bar0, &rings);
	if (r < 0)
		fail_msg("e1000_start: %s", strerror(-r));
	lb = (struct lb_space){
		.dev = &e,
		.rx = rx,
		.rx_len = rx_len,
		.tx = tx,
		.tx_len = tx_len,
		.page_size = PS,
		.bus = phys_of,
	};
	r = lb_run(&lb, &res);
	e1000_stop(&e);
	if (r < 0)
		fail_msg("%s: %s (%s)", name, strerror(-r), res.why);
	printf("INFO %s: %llu frames (%llu bytes) DMA'd by the e1000 to contig_phys_addr() "
	       "values 0x%llx..0x%llx and checked byte by byte, %u across a pool page "
	       "boundary; %llu bytes around them checked untouched\n",
	       name, (unsigned long long)res.frames, (unsigned long long)res.bytes,
	       (unsigned long long)contig_phys_addr(rx),
	       (unsigned long long)contig_phys_addr(rx + rx_len - 1), res.straddles,
	       (unsigned long long)res.canary_bytes);
	assert_true(res.frames > 0);
	if (rx_len > PS)
		assert_true(res.straddles >= rx_len / PS - 1);
}

/* Whole pages on node 1 (above 4 GiB in this guest: 64-bit addresses). */
static void uio_dma_phys(void **state)
{
	uint8_t *rings, *rx, *tx;

	(void)state;
	rings = contig_alloc(RINGS_REGION, CONTIG_MAX_ADDRESS);
	rx = contig_alloc_node_strict(3 * PS, 0, CONTIG_MAX_ADDRESS, 0, CONTIG_CACHED, 1);
	tx = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(rings);
	assert_non_null(rx);
	assert_non_null(tx);
	run("uio_dma_phys", rings, rx, 3 * PS, tx, PS);
	contig_free(rings);
	contig_free(rx);
	contig_free(tx);
}

/* A ceiling below 4 GiB, with pool pages above it: everything the device
 * touches lies below, and the DMA lands there. */
static void uio_dma_below_4g(void **state)
{
	uint8_t *rings, *rx, *tx;
	struct raw_page *pg;
	int n, above = 0;

	(void)state;
	n = raw_pages(d.socket, &pg);
	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		above += pg[i].phys >= FOUR_G;
	free(pg);
	/* Otherwise the ceiling would choose nothing and the check could not fail. */
	assert_true(above > 0 && above < n);

	rings = contig_alloc(RINGS_REGION, FOUR_G - 1);
	rx = contig_alloc(3 * PS, FOUR_G - 1);
	tx = contig_alloc(PS, FOUR_G - 1);
	assert_non_null(rings);
	assert_non_null(rx);
	assert_non_null(tx);
	assert_true(contig_phys_addr(rings + RINGS_REGION - 1) < FOUR_G);
	assert_true(contig_phys_addr(rx + 3 * PS - 1) < FOUR_G);
	assert_true(contig_phys_addr(tx + PS - 1) < FOUR_G);
	run("uio_dma_below_4g", rings, rx, 3 * PS, tx, PS);
	contig_free(rings);
	contig_free(rx);
	contig_free(tx);
}

/* Carved regions: physical addresses at 4 KiB granularity inside pool pages. */
static void uio_dma_carved(void **state)
{
	uint8_t *rings, *rx, *tx;

	(void)state;
	rings = contig_alloc(RINGS_REGION, CONTIG_MAX_ADDRESS);
	rx = contig_alloc(256 << 10, CONTIG_MAX_ADDRESS);
	tx = contig_alloc(64 << 10, CONTIG_MAX_ADDRESS);
	assert_non_null(rings);
	assert_non_null(rx);
	assert_non_null(tx);
	run("uio_dma_carved", rings, rx, 256 << 10, tx, 64 << 10);
	contig_free(rings);
	contig_free(rx);
	contig_free(tx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uio_dma_phys),
		cmocka_unit_test(uio_dma_below_4g),
		cmocka_unit_test(uio_dma_carved),
	};
	int failed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PCI_ADDRESS\n", argv[0]);
		return 2;
	}
	dev_addr = argv[1];
	failed = cmocka_run_group_tests_name("guest-uio", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
