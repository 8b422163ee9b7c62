/* SPDX-License-Identifier: MIT */
/*
 * setuid_client.c - the program test_untrusted.c installs setuid-root and
 * runs as another user: one contig_query, then a line saying whether the
 * kernel ran it in secure-execution mode (AT_SECURE), its effective uid, and
 * what the query returned. libcontig is linked in: in a setuid program the
 * loader ignores an $ORIGIN runpath (ld.so(8)), so a copy outside the build
 * tree could not find libcontig.so.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(void)
{
	struct contig_pool_info info = { 0 };
	int r = contig_query(&info);
	int err = r < 0 ? errno : 0;

	printf("secure=%lu euid=%u r=%d errno=%d\n", getauxval(AT_SECURE), (unsigned)geteuid(), r,
	       err);
	return 0;
}
