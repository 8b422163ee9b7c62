/* SPDX-License-Identifier: MIT */
/*
 * extent_bits.h - the word-at-a-time bitmap helpers of extent.c: bit k of a
 * map is bit k % 64 of word k / 64. Private to extent.c.
 */
#ifndef CONTIG_EXTENT_BITS_H
#define CONTIG_EXTENT_BITS_H

#include <stdbool.h>
#include <stdint.h>

#define BITS_PER_WORD 64u

static inline uint32_t bits_words(uint32_t nbits)
{
	return nbits / BITS_PER_WORD + !!(nbits % BITS_PER_WORD);
}

static inline uint32_t bit_word(uint32_t k)
{
	return k / BITS_PER_WORD;
}

/* Bits b..63 of a word (b < 64). */
static inline uint64_t mask_from(uint32_t b)
{
	return ~UINT64_C(0) << b;
}

/* Bits 0..b of a word, b included (b < 64). */
static inline uint64_t mask_upto(uint32_t b)
{
	return ~UINT64_C(0) >> (BITS_PER_WORD - 1 - b);
}

/* Lowest and highest set bit of a nonzero word. */
static inline uint32_t word_first(uint64_t w)
{
	return (uint32_t)__builtin_ctzll(w);
}

static inline uint32_t word_last(uint64_t w)
{
	return BITS_PER_WORD - 1 - (uint32_t)__builtin_clzll(w);
}

static inline bool bit_test(const uint64_t *map, uint32_t k)
{
	return map[bit_word(k)] >> (k % BITS_PER_WORD) & 1;
}

static inline void bit_assign(uint64_t *map, uint32_t k, bool v)
{
	uint64_t m = UINT64_C(1) << (k % BITS_PER_WORD);

	if (v)
		map[bit_word(k)] |= m;
	else
		map[bit_word(k)] &= ~m;
}

/* Clear bits [from, to), from < to. */
static inline void bits_clear_range(uint64_t *map, uint32_t from, uint32_t to)
{
	uint32_t w = bit_word(from), last = bit_word(to - 1);
	uint64_t m = mask_from(from % BITS_PER_WORD);

	for (; w < last; w++, m = ~UINT64_C(0))
		map[w] &= ~m;
	map[w] &= ~(m & mask_upto((to - 1) % BITS_PER_WORD));
}

#endif
