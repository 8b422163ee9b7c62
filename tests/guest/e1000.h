/* SPDX-License-Identifier: MIT */
/*
 * e1000.h - a minimal user-space driver for the 8254x (e1000, 8086:100e,
 * QEMU's -device e1000): one RX and one TX ring of legacy descriptors, no
 * interrupts, the PHY in loopback so every frame sent comes back into the
 * RX ring. Register numbers and bits from Intel's "PCI/PCI-X Family of
 * Gigabit Ethernet Controllers Software Developer's Manual" (8254x SDM),
 * sections 3.2 (receive), 3.3 (transmit) and 13 (registers).
 *
 * The driver never computes a bus address: the caller gives each ring and
 * buffer's address as the device must see it (an IOVA under VFIO, a
 * physical address from contig_phys_addr without an IOMMU).
 */
#ifndef CONTIG_GUEST_E1000_H
#define CONTIG_GUEST_E1000_H

#include <stddef.h>
#include <stdint.h>

#define E1000_RING 256u      /* descriptors per ring (RDLEN/TDLEN: multiple of 8) */
#define E1000_RX_BUF 2048u   /* RCTL.BSIZE 00: 2048-byte receive buffers */

/* 8254x SDM 3.2.3: receive descriptor, legacy format. */
struct e1000_rx_desc {
	uint64_t addr;
	uint16_t length;
	uint16_t csum;
	uint8_t status;
	uint8_t errors;
	uint16_t special;
};

/* 8254x SDM 3.3.3: transmit descriptor, legacy format. */
struct e1000_tx_desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso;
	uint8_t cmd;
	uint8_t status;
	uint8_t css;
	uint16_t special;
};

_Static_assert(sizeof(struct e1000_rx_desc) == 16, "8254x SDM 3.2.3");
_Static_assert(sizeof(struct e1000_tx_desc) == 16, "8254x SDM 3.3.3");

#define E1000_RXD_STAT_DD 0x01  /* descriptor done */
#define E1000_RXD_STAT_EOP 0x02 /* end of packet */
#define E1000_TXD_STAT_DD 0x01

/* Both rings and where the device sees them; the rings themselves must
 * be 128-byte aligned (8254x SDM 13.4.27). scratch: 4 KiB of DMA memory
 * for the start-up probe frame. */
struct e1000_rings {
	struct e1000_rx_desc *rx;
	uint64_t rx_bus;
	struct e1000_tx_desc *tx;
	uint64_t tx_bus;
	uint8_t *scratch;
	uint64_t scratch_bus;
};

#define E1000_SCRATCH 4096u

struct e1000 {
	volatile uint8_t *bar0;   /* borrowed: the caller maps and unmaps it */
	struct e1000_rings rings;
	uint32_t rx_next;         /* next RX descriptor to post */
	uint32_t tx_next;         /* next TX descriptor to fill */
	uint32_t rx_first;        /* first RX descriptor of the last exchange */
	uint32_t tx_first;
	uint32_t probes;          /* frames the receive unit dropped at start */
};

/* Reset the device, mask its interrupts, put the PHY in loopback, zero and
 * set the rings and enable both units; then send a probe frame from
 * scratch until it comes back into scratch, byte for byte: QEMU's e1000
 * drops what it receives for a second of virtual time after each RCTL
 * write (its flush_queue_timer), and a real one while its link comes up.
 * The link must be up (STATUS.LU): -ENETDOWN otherwise. 0, -EIO (the
 * probe came back wrong), -ETIMEDOUT (not back in 60 s) or -errno. */
int e1000_start(struct e1000 *e, volatile uint8_t *bar0, const struct e1000_rings *rings);

/* Disable both units and reset: the device stops touching the rings. */
void e1000_stop(struct e1000 *e);

/* Post n receive buffers (bus addresses, E1000_RX_BUF bytes each) and
 * queue n frames to send (bus addresses and lengths); 0 < n < E1000_RING.
 * The previous exchange must be complete (e1000_wait on all of it). */
int e1000_exchange(struct e1000 *e, const uint64_t *rx_bus, const uint64_t *tx_bus,
		   const uint16_t *tx_len, uint32_t n);

/* Wait until the device has written back the k-th RX and TX descriptors
 * of the last exchange (DD set), up to 60 s: a hang guard for a device
 * that never answers, not a speed test. 0 or -ETIMEDOUT. */
int e1000_wait(struct e1000 *e, uint32_t k);

/* The k-th RX descriptor of the last exchange, as the device wrote it. */
volatile struct e1000_rx_desc *e1000_rx_desc(struct e1000 *e, uint32_t k);

uint32_t e1000_read(const struct e1000 *e, uint32_t reg);

#endif
