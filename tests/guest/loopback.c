/* SPDX-License-Identifier: MIT */
/*
 * loopback.c - lb_run: the receive area cut into slots of E1000_RX_BUF
 * bytes with a 64-byte gap between them (a write past a buffer's end lands
 * in a gap and is seen), one slot moved to straddle each pool page boundary
 * so the device writes one frame across two pool pages at one bus address;
 * frames of pseudo-random bytes whose content depends on a per-run salt, so
 * bytes left over from an earlier run never match by chance.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopback.h"

#define GAP 64u
#define STRADDLE_BEFORE 512u /* bytes of a straddling slot before the boundary */
#define MIN_FRAME 60u        /* shorter ones the device pads */
#define MAX_FRAME 1514u      /* longer ones need RCTL.LPE */

static uint8_t canary(const uint8_t *p)
{
	uintptr_t a = (uintptr_t)p;

	return (uint8_t)(0xa5 ^ a ^ (a >> 8) ^ (a >> 16));
}

void lb_frame(uint64_t salt, uint64_t f, uint8_t *buf, size_t len)
{
	uint64_t x = salt * 0x9e3779b97f4a7c15ull ^ (f + 1) * 0xbf58476d1ce4e5b9ull;

	for (size_t i = 0; i < len; i++) {
		/* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

struct slot {
	size_t off;    /* in the receive area */
	uint16_t len;  /* of the frame it receives */
};

/* Slots in the receive area, in order; *ret to free(). Count or -errno. */
static int cut_slots(const struct lb_space *s, struct slot **ret, uint32_t *ret_straddles)
{
	size_t cap = s->rx_len / (E1000_RX_BUF + GAP) + 64, n = 0, off = 0;
	struct slot *sl = calloc(cap, sizeof(*sl));
	uint32_t straddles = 0;

	if (!sl)
		return -ENOMEM;
	while (off + E1000_RX_BUF <= s->rx_len && n < cap) {
		uintptr_t va = (uintptr_t)s->rx + off, b;
		bool straddle = false;

		if (s->page_size) {
			b = (va / s->page_size + 1) * s->page_size; /* next boundary */
			if (b < va + E1000_RX_BUF + GAP) {
				/* the slot or its gap reaches it: the slot starts at
				 * most STRADDLE_BEFORE bytes before it */
				if (b - va > STRADDLE_BEFORE)
					off += b - va - STRADDLE_BEFORE;
				straddle = true;
			}
			if (off + E1000_RX_BUF > s->rx_len)
				break;
		}
		sl[n].off = off;
		/* every length from 60 to 1514 over ~1455 frames; a straddling
		 * slot gets a full frame so most of it crosses the boundary */
		sl[n].len = straddle ? MAX_FRAME :
				       (uint16_t)(MIN_FRAME + (n * 337) % (MAX_FRAME - MIN_FRAME + 1));
		straddles += straddle;
		n++;
		off += E1000_RX_BUF + GAP;
	}
	*ret = sl;
	*ret_straddles = straddles;
	return (int)n;
}

__attribute__((format(printf, 2, 3))) static int mismatch(struct lb_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -EIO;
}

/* Check batch [first_slot, first_slot + n) after the device wrote it back. */
static int check_batch(const struct lb_space *s, const struct slot *sl, uint64_t salt,
		       uint32_t first_slot, uint32_t n, struct lb_result *r)
{
	uint8_t want[MAX_FRAME];

	for (uint32_t k = 0; k < n; k++) {
		const struct slot *x = &sl[first_slot + k];
		volatile struct e1000_rx_desc *d = e1000_rx_desc(s->dev, k);
		uint8_t *got = s->rx + x->off;

		if ((d->status & (E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP)) !=
			    (E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP) || d->errors)
			return mismatch(r, "frame %u: status 0x%x errors 0x%x", first_slot + k,
					d->status, d->errors);
		if (d->length != x->len)
			return mismatch(r, "frame %u: length %u, sent %u", first_slot + k,
					d->length, x->len);
		lb_frame(salt, first_slot + k, want, x->len);
		for (uint32_t i = 0; i < x->len; i++)
			if (got[i] != want[i])
				return mismatch(r, "frame %u byte %u: 0x%02x, sent 0x%02x",
						first_slot + k, i, got[i], want[i]);
		r->frames++;
		r->bytes += x->len;
	}
	return 0;
}

/* Everything outside the frames still holds the canary. */
static int check_canary(const struct lb_space *s, const struct slot *sl, uint32_t n,
			struct lb_result *r)
{
	size_t off = 0;

	for (uint32_t k = 0; k <= n; k++) {
		size_t end = k < n ? sl[k].off : s->rx_len;

		for (; off < end; off++, r->canary_bytes++)
			if (s->rx[off] != canary(s->rx + off))
				return mismatch(r, "receive area offset %zu (before slot %u): 0x%02x",
						off, k, s->rx[off]);
		if (k < n)
			off = sl[k].off + sl[k].len;
	}
	return 0;
}

int lb_run(const struct lb_space *s, struct lb_result *ret)
{
	static uint64_t runs;
	uint64_t salt = (uint64_t)getpid() << 20 | ++runs;
	uint64_t rx_bus[E1000_RING], tx_bus[E1000_RING];
	uint16_t tx_len[E1000_RING];
	uint32_t tx_slots = (uint32_t)(s->tx_len / E1000_RX_BUF), batch, straddles;
	struct slot *sl;
	int n, r = 0;

	*ret = (struct lb_result){ 0 };
	batch = tx_slots < E1000_RING - 1 ? tx_slots : E1000_RING - 1;
	if (batch == 0)
		return -EINVAL;
	n = cut_slots(s, &sl, &straddles);
	if (n < 0)
		return n;
	for (size_t off = 0; off < s->rx_len; off++)
		s->rx[off] = canary(s->rx + off);

	for (uint32_t done = 0; done < (uint32_t)n && r == 0;) {
		uint32_t m = (uint32_t)n - done < batch ? (uint32_t)n - done : batch;

		for (uint32_t k = 0; k < m; k++) {
			uint8_t *buf = s->tx + (size_t)k * E1000_RX_BUF;

			lb_frame(salt, done + k, buf, sl[done + k].len);
			rx_bus[k] = s->bus(s->rx + sl[done + k].off, s->ctx);
			tx_bus[k] = s->bus(buf, s->ctx);
			tx_len[k] = sl[done + k].len;
		}
		r = e1000_exchange(s->dev, rx_bus, tx_bus, tx_len, m);
		for (uint32_t k = 0; k < m && r == 0; k++)
			r = e1000_wait(s->dev, k);
		if (r == -ETIMEDOUT)
			snprintf(ret->why, sizeof(ret->why), "frames %u..%u: no write-back in 60 s",
				 done, done + m - 1);
		if (r == 0)
			r = check_batch(s, sl, salt, done, m, ret);
		done += m;
	}
	if (r == 0) {
		ret->canary_bytes = 0;
		r = check_canary(s, sl, (uint32_t)n, ret);
	}
	ret->straddles = straddles;
	free(sl);
	return r;
}
