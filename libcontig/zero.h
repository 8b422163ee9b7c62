/* SPDX-License-Identifier: MIT */
/*
 * zero.h - zeroing memory this process hands out again (the stash's
 * regions, carved blocks).
 */
#ifndef LIBCONTIG_ZERO_H
#define LIBCONTIG_ZERO_H

#include <stdint.h>

void zero_bytes(void *p, uint64_t n);

#endif
