/* SPDX-License-Identifier: MIT */
/*
 * zero.c - see zero.h. Memory reused back to back is still in the caches,
 * where memset is fastest; past what they keep, streaming stores go at
 * memory bandwidth without reading every line in first (BENCHMARKS.md has
 * both figures).
 */
#include "zero.h"

#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#define NT_FROM (8u << 20) /* streaming stores from here */

void zero_bytes(void *p, uint64_t n)
{
#if defined(__x86_64__)
	if (n >= NT_FROM) {
		__m128i z = _mm_setzero_si128(), *q = p;
		uint64_t whole = n & ~(uint64_t)63;
		for (__m128i *end = (__m128i *)((char *)p + whole); q < end; q += 4) {
			_mm_stream_si128(q, z);
			_mm_stream_si128(q + 1, z);
			_mm_stream_si128(q + 2, z);
			_mm_stream_si128(q + 3, z);
		}
		_mm_sfence();
		memset((char *)p + whole, 0, n - whole);
		return;
	}
#endif
	memset(p, 0, n);
}
