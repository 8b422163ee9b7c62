/* SPDX-License-Identifier: MIT */
/*
 * unitmap.c - see unitmap.h.
 *
 * A search alternates two questions, each answered a word of units or a
 * word of summary at a time: where is the next free unit (skipping words
 * with none: the "some" summary), and where is the next taken one (skipping
 * words with every unit free: the "all" summary). A candidate run ends at
 * the first taken unit inside it, and the search resumes after that unit,
 * so no unit is looked at twice.
 */
#include "unitmap.h"

#include <errno.h>
#include <stdlib.h>

static uint64_t word_mask(const struct unitmap *m, uint32_t w)
{
	uint32_t rem = m->nunits % 64;

	return (w == m->nwords - 1 && rem) ? (1ull << rem) - 1 : ~0ull;
}

static void set_bit(uint64_t *bits, uint32_t i, bool on)
{
	if (on)
		bits[i / 64] |= 1ull << (i % 64);
	else
		bits[i / 64] &= ~(1ull << (i % 64));
}

static void summarize(struct unitmap *m, uint32_t w)
{
	set_bit(m->some, w, m->free[w] != 0);
	set_bit(m->all, w, m->free[w] == word_mask(m, w));
}

int unitmap_init(struct unitmap *m, uint32_t nunits)
{
	uint32_t nwords = (nunits + 63) / 64, nsum = (nwords + 63) / 64;

	*m = (struct unitmap){ .nunits = nunits, .nwords = nwords };
	if (!nunits)
		return -EINVAL;
	m->free = calloc(nwords, sizeof(*m->free));
	m->some = calloc(nsum, sizeof(*m->some));
	m->all = calloc(nsum, sizeof(*m->all));
	if (!m->free || !m->some || !m->all) {
		unitmap_fini(m);
		return -ENOMEM;
	}
	unitmap_reset(m);
	return 0;
}

void unitmap_fini(struct unitmap *m)
{
	free(m->free);
	free(m->some);
	free(m->all);
	*m = (struct unitmap){ 0 };
}

void unitmap_reset(struct unitmap *m)
{
	for (uint32_t w = 0; w < m->nwords; w++) {
		m->free[w] = word_mask(m, w);
		summarize(m, w);
	}
	m->nfree = m->nunits;
	m->first_free = 0;
}

bool unitmap_is_free(const struct unitmap *m, uint32_t u)
{
	return u < m->nunits && (m->free[u / 64] >> (u % 64) & 1);
}

/* The first index >= from below n whose bit in bits is want, or n. */
static uint32_t next_bit(const uint64_t *bits, uint32_t from, uint32_t n, bool want)
{
	uint32_t w = from / 64, nw = (n + 63) / 64;
	uint64_t v;

	if (from >= n)
		return n;
	v = (want ? bits[w] : ~bits[w]) & (~0ull << (from % 64));
	while (!v) {
		if (++w >= nw)
			return n;
		v = want ? bits[w] : ~bits[w];
	}
	uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(v);
	return i < n ? i : n;
}

/* The first free unit in [p, end), or end. */
static uint32_t next_free(const struct unitmap *m, uint32_t p, uint32_t end)
{
	uint32_t w = p / 64;
	uint64_t v;

	if (p >= end)
		return end;
	v = m->free[w] & (~0ull << (p % 64));
	if (!v) {
		w = next_bit(m->some, w + 1, m->nwords, true);
		if (w >= m->nwords)
			return end;
		v = m->free[w];
	}
	uint32_t u = w * 64 + (uint32_t)__builtin_ctzll(v);
	return u < end ? u : end;
}

/* The first taken unit in [p, end), or end (bits past nunits read taken). */
static uint32_t next_taken(const struct unitmap *m, uint32_t p, uint32_t end)
{
	uint32_t w = p / 64;
	uint64_t v;

	if (p >= end)
		return end;
	v = ~m->free[w] & (~0ull << (p % 64));
	if (!v) {
		w = next_bit(m->all, w + 1, m->nwords, false);
		if (w >= m->nwords)
			return end;
		v = ~m->free[w];
	}
	uint32_t u = w * 64 + (uint32_t)__builtin_ctzll(v);
	return u < end ? u : end;
}

uint32_t unitmap_find(const struct unitmap *m, uint32_t n, uint32_t lo, uint32_t last_start,
		      uint32_t window)
{
	uint32_t p;

	if (!n || n > m->nfree || n > m->nunits || (window && n > window))
		return UNITMAP_NONE;
	if (last_start > m->nunits - n)
		last_start = m->nunits - n;
	p = lo > m->first_free ? lo : m->first_free;
	for (;;) {
		p = next_free(m, p, last_start + 1);
		if (p > last_start)
			return UNITMAP_NONE;
		if (window && p / window != (p + n - 1) / window) {
			/* (window divides the page: no overflow past nunits) */
			p = (p / window + 1) * window;
			continue;
		}
		uint32_t t = next_taken(m, p, p + n);
		if (t == p + n)
			return p;
		p = t + 1;
	}
}

static void range_set(struct unitmap *m, uint32_t at, uint32_t n, bool free)
{
	for (uint32_t u = at, end = at + n; u < end;) {
		uint32_t w = u / 64, b = u % 64, k = end - u < 64 - b ? end - u : 64 - b;
		uint64_t mask = (k == 64 ? ~0ull : (1ull << k) - 1) << b;

		if (free)
			m->free[w] |= mask;
		else
			m->free[w] &= ~mask;
		summarize(m, w);
		u += k;
	}
}

void unitmap_take(struct unitmap *m, uint32_t at, uint32_t n)
{
	range_set(m, at, n, false);
	m->nfree -= n;
	if (at == m->first_free)
		m->first_free = at + n;
}

void unitmap_give(struct unitmap *m, uint32_t at, uint32_t n)
{
	range_set(m, at, n, true);
	m->nfree += n;
	if (at < m->first_free)
		m->first_free = at;
}
