/* SPDX-License-Identifier: MIT */
/*
 * xdp_internal.h - what xsk.c and prog.c share inside libcontig-xdp: the
 * thread-local error message and the built-in BPF object.
 */
#ifndef CONTIG_XDP_INTERNAL_H
#define CONTIG_XDP_INTERNAL_H

#include <stddef.h>

#define CX_EXPORT __attribute__((visibility("default")))

/* Record a one-line reason for contig_xsk_last_error; returns -err. */
int xdp_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xdp_clear_error(void);
/* The public boundary: r < 0 becomes -1 with errno = -r; otherwise errno
 * is restored to saved and r returned. */
int xdp_ret(int r, int saved);
/* fd borrowed; 0 or -errno. */
int xdp_set_cloexec(int fd);

/* contig_xsk.bpf.o, embedded at build time (embed.py). */
extern const unsigned char contig_xsk_bpf[];
extern const size_t contig_xsk_bpf_len;

#endif
