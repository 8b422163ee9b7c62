/* SPDX-License-Identifier: MIT */
/*
 * kid.h - client processes driven over a pipe, one command at a time, so
 * that a test can keep several holding memory at once, each in its own
 * cgroup or with its own grant (test_cgroups.c, test_grants.c).
 */
#ifndef CONTIG_TEST_KID_H
#define CONTIG_TEST_KID_H

#include <sys/types.h>

struct kid {
	pid_t pid;
	int to, from;
};

/* A child with CONTIG_GRANT set to grant (NULL: unset), not yet connected. */
struct kid kid_start(const char *grant);
/* One command, answered with an errno (0: done): 'a' allocate 2 MiB and
 * write it whole; 'f' free the last; 'm' write "0" to the file arg (a
 * cgroup.procs: move there). */
int kid_do(struct kid *k, char op, const char *arg);
/* 'a' until one fails or most succeeded: how many did, and why it stopped
 * (0 if it did not). */
int kid_fill(struct kid *k, int most, int *why);
/* Tell it to exit, and reap it (it must exit 0). */
void kid_end(struct kid *k);

#endif
