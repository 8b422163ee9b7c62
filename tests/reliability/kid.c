/* SPDX-License-Identifier: MIT */
/*
 * kid.c - see kid.h. Every region a kid gets is written whole, so that a
 * region past a limit would fault here: it must not exist at all.
 */
#define _GNU_SOURCE
#include "kid.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

struct cmd {
	char op;
	char arg[512];
};

static void kid_main(int in, int out)
{
	void *held[64];
	int n = 0;
	struct cmd c;

	while (read(in, &c, sizeof(c)) == (ssize_t)sizeof(c)) {
		int e = 0;
		if (c.op == 'a') {
			void *p = n < 64 ? contig_alloc(2u << 20, CONTIG_MAX_ADDRESS) : NULL;
			if (p) {
				memset(p, 0x5a, 2u << 20);
				held[n++] = p;
			} else {
				e = n < 64 ? errno : E2BIG;
			}
		} else if (c.op == 'f') {
			if (n)
				contig_free(held[--n]);
			else
				e = ENOENT;
		} else if (c.op == 'm') {
			int fd = open(c.arg, O_WRONLY | O_CLOEXEC);
			errno = 0;
			if (fd < 0 || write(fd, "0", 1) != 1)
				e = errno ? errno : EIO;
			if (fd >= 0)
				close(fd);
		} else {
			break;
		}
		if (write(out, &e, sizeof(e)) != (ssize_t)sizeof(e))
			break;
	}
	_exit(0);
}

struct kid kid_start(const char *grant)
{
	int a[2], b[2];
	struct kid k;

	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	fflush(NULL);
	k.pid = fork();
	assert_true(k.pid >= 0);
	if (k.pid == 0) {
		close(a[1]);
		close(b[0]);
		if (grant)
			setenv("CONTIG_GRANT", grant, 1);
		else
			unsetenv("CONTIG_GRANT");
		kid_main(a[0], b[1]);
	}
	close(a[0]);
	close(b[1]);
	k.to = a[1];
	k.from = b[0];
	return k;
}

int kid_do(struct kid *k, char op, const char *arg)
{
	struct cmd c = { .op = op };
	int e = -1;

	if (arg)
		snprintf(c.arg, sizeof(c.arg), "%s", arg);
	assert_int_equal(write(k->to, &c, sizeof(c)), sizeof(c));
	assert_int_equal(read(k->from, &e, sizeof(e)), sizeof(e));
	return e;
}

int kid_fill(struct kid *k, int most, int *why)
{
	int n = 0, e = 0;

	while (n < most && (e = kid_do(k, 'a', NULL)) == 0)
		n++;
	*why = n < most ? e : 0;
	return n;
}

void kid_end(struct kid *k)
{
	struct cmd c = { .op = 'q' };
	int status;

	/* Told, not left to see EOF: kids forked later hold our end of its
	 * pipe too. */
	assert_int_equal(write(k->to, &c, sizeof(c)), sizeof(c));
	close(k->to);
	close(k->from);
	assert_int_equal(waitpid(k->pid, &status, 0), k->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
