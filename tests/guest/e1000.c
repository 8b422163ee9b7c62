/* SPDX-License-Identifier: MIT */
/*
 * e1000.c - the minimal 8254x driver of e1000.h: reset, PHY loopback, one
 * ring each way, polled. Invariant: the software indices rx_next and
 * tx_next are always equal, and every descriptor the device was given has
 * been written back (DD) before the next e1000_exchange, so RDH == RDT and
 * TDH == TDT between exchanges and a ring is never handed over full.
 *
 * Loopback is the PHY's (8254x SDM 13.3 PHY register 0, bit 14, written
 * through MDIC): QEMU's e1000 loops a frame back only when that bit is set
 * and ignores RCTL.LBM (MAC loopback), so the PHY bit is what works both on
 * QEMU and on a real 8254x with a copper PHY.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "e1000.h"

/* 8254x SDM 13.4: registers (byte offsets in BAR 0) and their bits. */
#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_MDIC 0x0020
#define REG_IMC 0x00d8
#define REG_RCTL 0x0100
#define REG_TCTL 0x0400
#define REG_TIPG 0x0410
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define REG_TDBAL 0x3800
#define REG_TDBAH 0x3804
#define REG_TDLEN 0x3808
#define REG_TDH 0x3810
#define REG_TDT 0x3818

#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define STATUS_LU (1u << 1)
#define MDIC_PHY1 (1u << 21)  /* the 8254x's PHY answers at address 1 */
#define MDIC_OP_WRITE (1u << 26)
#define MDIC_READY (1u << 28)
#define MDIC_ERROR (1u << 30)
#define PHY_CTRL 0            /* PHY register 0: control */
#define PHY_CTRL_LOOPBACK (1u << 14)
#define PHY_CTRL_FULL_DUPLEX (1u << 8)
#define PHY_CTRL_SPEED_1000 (1u << 6)
#define RCTL_EN (1u << 1)
#define RCTL_UPE (1u << 3)    /* unicast promiscuous: whatever the MAC */
#define RCTL_MPE (1u << 4)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26) /* strip the CRC: length is the frame's */
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT (0x10u << 4)  /* SDM 13.4.33: recommended collision threshold */
#define TCTL_COLD (0x40u << 12)
#define TIPG_COPPER (10u | 8u << 10 | 6u << 20) /* SDM 13.4.34 */
#define TXD_CMD_EOP 0x01
#define TXD_CMD_IFCS 0x02
#define TXD_CMD_RS 0x08       /* report status: write DD back */

uint32_t e1000_read(const struct e1000 *e, uint32_t reg)
{
	return *(volatile uint32_t *)(e->bar0 + reg);
}

static void wr(struct e1000 *e, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(e->bar0 + reg) = v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Poll reg until (value & mask) == want, up to 60 s (a hang guard). */
static int poll_reg(struct e1000 *e, uint32_t reg, uint32_t mask, uint32_t want)
{
	uint64_t end = now_ns() + 60000000000ull;

	while ((e1000_read(e, reg) & mask) != want)
		if (now_ns() > end)
			return -ETIMEDOUT;
	return 0;
}

/* 8254x SDM 8.2.4: an MDIC write to PHY register reg. */
static int phy_write(struct e1000 *e, uint32_t reg, uint16_t v)
{
	int r;

	wr(e, REG_MDIC, v | reg << 16 | MDIC_PHY1 | MDIC_OP_WRITE);
	r = poll_reg(e, REG_MDIC, MDIC_READY, MDIC_READY);
	if (r < 0)
		return r;
	return e1000_read(e, REG_MDIC) & MDIC_ERROR ? -EIO : 0;
}

static void pause_1ms(void)
{
	struct timespec ts = { .tv_nsec = 1000000 };

	nanosleep(&ts, NULL);
}

/* One probe frame from scratch + 2048 into scratch, sent again until the
 * receive unit takes it (see e1000_start). */
static int probe(struct e1000 *e)
{
	const uint16_t len = 60;
	uint8_t *want = e->rings.scratch + E1000_RX_BUF;
	uint64_t end = now_ns() + 60000000000ull;
	uint32_t rx = e->rx_next, tx;
	volatile struct e1000_rx_desc *d = &e->rings.rx[rx];

	for (uint16_t i = 0; i < len; i++)
		want[i] = (uint8_t)(0xc0 + i);
	memset(e->rings.scratch, 0, E1000_RX_BUF);
	e->rings.rx[rx] = (struct e1000_rx_desc){ .addr = e->rings.scratch_bus };
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	e->rx_next = (rx + 1) % E1000_RING;
	wr(e, REG_RDT, e->rx_next);
	for (;;) {
		tx = e->tx_next;
		e->rings.tx[tx] = (struct e1000_tx_desc){
			.addr = e->rings.scratch_bus + E1000_RX_BUF,
			.length = len,
			.cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS,
		};
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		e->tx_next = (tx + 1) % E1000_RING;
		wr(e, REG_TDT, e->tx_next);
		while (!(((volatile struct e1000_tx_desc *)&e->rings.tx[tx])->status & E1000_TXD_STAT_DD))
			if (now_ns() > end)
				return -ETIMEDOUT;
		if (d->status & E1000_RXD_STAT_DD)
			break;
		e->probes++;
		if (now_ns() > end)
			return -ETIMEDOUT;
		pause_1ms();
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->length != len || memcmp(e->rings.scratch, want, len))
		return -EIO;
	return 0;
}

int e1000_start(struct e1000 *e, volatile uint8_t *bar0, const struct e1000_rings *rings)
{
	int r;

	*e = (struct e1000){ .bar0 = bar0, .rings = *rings };
	wr(e, REG_IMC, ~0u); /* no interrupts: we poll */
	wr(e, REG_CTRL, CTRL_RST);
	r = poll_reg(e, REG_CTRL, CTRL_RST, 0);
	if (r < 0)
		return r;
	wr(e, REG_IMC, ~0u); /* the reset unmasked nothing, but say it again */
	wr(e, REG_CTRL, CTRL_SLU | CTRL_ASDE);
	r = phy_write(e, PHY_CTRL, PHY_CTRL_LOOPBACK | PHY_CTRL_FULL_DUPLEX | PHY_CTRL_SPEED_1000);
	if (r < 0)
		return r;
	if (!(e1000_read(e, REG_STATUS) & STATUS_LU))
		return -ENETDOWN;

	memset(rings->rx, 0, E1000_RING * sizeof(struct e1000_rx_desc));
	memset(rings->tx, 0, E1000_RING * sizeof(struct e1000_tx_desc));
	wr(e, REG_RDBAL, (uint32_t)rings->rx_bus);
	wr(e, REG_RDBAH, (uint32_t)(rings->rx_bus >> 32));
	wr(e, REG_RDLEN, E1000_RING * sizeof(struct e1000_rx_desc));
	wr(e, REG_RDH, 0);
	wr(e, REG_RDT, 0);
	wr(e, REG_RCTL, RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM | RCTL_SECRC);

	wr(e, REG_TDBAL, (uint32_t)rings->tx_bus);
	wr(e, REG_TDBAH, (uint32_t)(rings->tx_bus >> 32));
	wr(e, REG_TDLEN, E1000_RING * sizeof(struct e1000_tx_desc));
	wr(e, REG_TDH, 0);
	wr(e, REG_TDT, 0);
	wr(e, REG_TIPG, TIPG_COPPER);
	wr(e, REG_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
	return probe(e);
}

void e1000_stop(struct e1000 *e)
{
	if (!e->bar0)
		return;
	wr(e, REG_RCTL, 0);
	wr(e, REG_TCTL, 0);
	wr(e, REG_CTRL, CTRL_RST);
	(void)poll_reg(e, REG_CTRL, CTRL_RST, 0);
	e->bar0 = NULL;
}

int e1000_exchange(struct e1000 *e, const uint64_t *rx_bus, const uint64_t *tx_bus,
		   const uint16_t *tx_len, uint32_t n)
{
	if (n == 0 || n >= E1000_RING)
		return -EINVAL;
	e->rx_first = e->rx_next;
	e->tx_first = e->tx_next;
	for (uint32_t k = 0; k < n; k++) {
		e->rings.rx[(e->rx_first + k) % E1000_RING] =
			(struct e1000_rx_desc){ .addr = rx_bus[k] };
		e->rings.tx[(e->tx_first + k) % E1000_RING] = (struct e1000_tx_desc){
			.addr = tx_bus[k],
			.length = tx_len[k],
			.cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS,
		};
	}
	/* Descriptors in memory before the tail writes that hand them over. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	e->rx_next = (e->rx_first + n) % E1000_RING;
	e->tx_next = (e->tx_first + n) % E1000_RING;
	/* Receive buffers first: a frame looped back with none posted is
	 * dropped, not queued. */
	wr(e, REG_RDT, e->rx_next);
	wr(e, REG_TDT, e->tx_next);
	return 0;
}

volatile struct e1000_rx_desc *e1000_rx_desc(struct e1000 *e, uint32_t k)
{
	return &e->rings.rx[(e->rx_first + k) % E1000_RING];
}

int e1000_wait(struct e1000 *e, uint32_t k)
{
	volatile struct e1000_rx_desc *rx = e1000_rx_desc(e, k);
	volatile struct e1000_tx_desc *tx = &e->rings.tx[(e->tx_first + k) % E1000_RING];
	uint64_t end = now_ns() + 60000000000ull;

	while (!(rx->status & E1000_RXD_STAT_DD) || !(tx->status & E1000_TXD_STAT_DD))
		if (now_ns() > end)
			return -ETIMEDOUT;
	/* The write-back seen before the data it covers is read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}
