/* SPDX-License-Identifier: MIT */
/*
 * vfio_testing.h - the seam tests use to see the exact VFIO ioctls
 * libcontig-vfio makes, on machines without VFIO. Not installed, not in the
 * shared library: tests link the static build of the same source.
 */
#ifndef CONTIG_VFIO_TESTING_H
#define CONTIG_VFIO_TESTING_H

typedef int (*contig_vfio_ioctl_fn)(int fd, unsigned long request, void *arg);

/* Route the library's VFIO ioctls through fn; NULL restores ioctl(2). */
void contig_vfio_set_ioctl_for_testing(contig_vfio_ioctl_fn fn);

#endif
