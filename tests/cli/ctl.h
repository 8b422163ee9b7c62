/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - run the contigctl binary ($CONTIGCTL, set by meson) the way an
 * operator or a script would: through pipes, under another user (a prefix
 * such as setpriv), or on a pseudo-terminal of a given width.
 */
#ifndef CONTIG_TEST_CTL_H
#define CONTIG_TEST_CTL_H

#include <stddef.h>
#include <sys/types.h>

struct ctl_out {
	int status;        /* exit code, or 128 + signal */
	pid_t pid;         /* of the contigctl process */
	char *out;         /* stdout (pty: everything), NUL-terminated */
	char *err;         /* stderr (pty: empty) */
};

/* Run [prefix...] contigctl args... (both NULL-terminated; prefix may be
 * NULL) with stdout and stderr on pipes. 0, or -1 if it could not run. */
int ctl_run(struct ctl_out *r, const char *const *prefix, const char *const *args);
/* The same with another contigctl binary (NULL: $CONTIGCTL). */
int ctl_run_bin(struct ctl_out *r, const char *const *prefix, const char *bin,
		const char *const *args);

/* Run contigctl args... on a pty of cols columns with TERM=xterm and no
 * NO_COLOR, as an interactive terminal would. */
int ctl_run_pty(struct ctl_out *r, int cols, const char *const *args);

void ctl_free(struct ctl_out *r);

/* Lines of s (a final line without '\n' counts). */
size_t count_lines(const char *s);

#endif
