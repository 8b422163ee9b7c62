/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - run a program and keep what it prints. The benchmark's child
 * programs (contigctl, the first-region client, DPDK's secondaries) answer
 * on their stdout; the child's stderr stays the caller's.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

int spawn_capture(char *const argv[], char *buf, size_t size, uint64_t *ret_forked)
{
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	buf[0] = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	/* Taken as late as possible: the caller times fork → exit. */
	if (ret_forked)
		*ret_forked = now_ns();
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	/* Read to the end even when buf is full, so the child never blocks
	 * on a full pipe; what does not fit is dropped. */
	for (;;) {
		char sink[512];
		bool room = got + 1 < size;
		n = room ? read(pfd[0], buf + got, size - 1 - got) : read(pfd[0], sink, sizeof(sink));
		if (n <= 0)
			break;
		if (room)
			got += (size_t)n;
	}
	buf[got] = 0;
	close(pfd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -ECHILD;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
