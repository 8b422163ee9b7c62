/* SPDX-License-Identifier: MIT */
/*
 * loopback.h - frames through the e1000 in loopback, from contig memory
 * back into contig memory, and every byte the device wrote checked.
 */
#ifndef CONTIG_GUEST_LOOPBACK_H
#define CONTIG_GUEST_LOOPBACK_H

#include <stddef.h>
#include <stdint.h>

#include "e1000.h"

/* Where the device sees the CPU address va: an IOVA, or a physical address. */
typedef uint64_t (*lb_bus_fn)(const void *va, void *ctx);

struct lb_space {
	struct e1000 *dev;   /* started, rings set */
	uint8_t *rx;         /* receive area: the device writes only into its slots */
	size_t rx_len;
	uint8_t *tx;         /* transmit area: frames are built here */
	size_t tx_len;
	size_t page_size;    /* pool page size: a receive slot straddles each
			      * boundary of it in the area (0: none) */
	lb_bus_fn bus;
	void *ctx;
};

struct lb_result {
	uint64_t frames;       /* received and checked */
	uint64_t bytes;        /* written by the device and checked, byte by byte */
	uint64_t canary_bytes; /* of the receive area, checked not written */
	uint32_t straddles;    /* frames written across a pool page boundary */
	char why[256];         /* the first mismatch, when -EIO */
};

/* Fill the receive area with a canary, then send frames of 60 to 1514
 * bytes until every slot of it has received one; check each descriptor
 * the device wrote back, each frame byte by byte, and that every byte of
 * the area outside the frames still holds the canary. 0, -EIO (why says
 * where) or -errno. */
int lb_run(const struct lb_space *s, struct lb_result *ret);

/* The bytes of frame f of run salt (the same ones lb_run sends). */
void lb_frame(uint64_t salt, uint64_t f, uint8_t *buf, size_t len);

#endif
