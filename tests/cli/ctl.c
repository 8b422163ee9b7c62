/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - see ctl.h.
 */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_read(struct buf *b, int fd)
{
	if (b->cap - b->n < 4097) {
		size_t ncap = b->cap ? b->cap * 2 : 65536;
		char *np = realloc(b->p, ncap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	ssize_t k = read(fd, b->p + b->n, b->cap - b->n - 1);
	if (k > 0)
		b->n += (size_t)k;
	b->p[b->n] = 0;
	/* A pty master reads EIO once the slave side is gone. */
	return k > 0 ? 1 : (k < 0 && errno == EINTR) ? 1 : 0;
}

static const char *ctl_path(void)
{
	const char *p = getenv("CONTIGCTL");

	return p ? p : "build/cli/contigctl";
}

static void build_argv(const char **argv, size_t max, const char *const *prefix,
		       const char *bin, const char *const *args)
{
	size_t n = 0;

	for (; prefix && *prefix && n < max - 2; prefix++)
		argv[n++] = *prefix;
	argv[n++] = bin ? bin : ctl_path();
	for (; args && *args && n < max - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
}

static int wait_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ctl_run(struct ctl_out *r, const char *const *prefix, const char *const *args)
{
	return ctl_run_bin(r, prefix, NULL, args);
}

int ctl_run_bin(struct ctl_out *r, const char *const *prefix, const char *bin,
		const char *const *args)
{
	int out[2], err[2];
	const char *argv[64];
	struct buf bo = { 0 }, be = { 0 };

	memset(r, 0, sizeof(*r));
	build_argv(argv, 64, prefix, bin, args);
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	r->pid = fork();
	if (r->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
	int open_fds = 2;
	while (r->pid > 0 && open_fds) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (buf_read(i ? &be : &bo, pfd[i].fd) <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	r->status = r->pid > 0 ? wait_status(r->pid) : -1;
	r->out = bo.p ? bo.p : strdup("");
	r->err = be.p ? be.p : strdup("");
	return r->pid > 0 && r->status >= 0 ? 0 : -1;
}

int ctl_run_pty(struct ctl_out *r, int cols, const char *const *args)
{
	struct winsize ws = { .ws_row = 50, .ws_col = (unsigned short)cols };
	const char *argv[64];
	struct buf bo = { 0 };
	int master;

	memset(r, 0, sizeof(*r));
	build_argv(argv, 64, NULL, NULL, args);
	r->pid = forkpty(&master, NULL, NULL, &ws);
	if (r->pid < 0)
		return -1;
	if (r->pid == 0) {
		setenv("TERM", "xterm", 1);
		unsetenv("NO_COLOR");
		unsetenv("COLUMNS");
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	fcntl(master, F_SETFD, FD_CLOEXEC);
	while (buf_read(&bo, master) > 0)
		;
	close(master);
	r->status = wait_status(r->pid);
	r->out = bo.p ? bo.p : strdup("");
	r->err = strdup("");
	return r->status >= 0 ? 0 : -1;
}

void ctl_free(struct ctl_out *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

size_t count_lines(const char *s)
{
	size_t n = 0, len = strlen(s);

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len && s[len - 1] != '\n');
}
