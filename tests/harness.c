/* SPDX-License-Identifier: MIT */
/*
 * harness.c - see harness.h.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <contig.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool socket_accepts(const char *path)
{
	int fd = proto_client_connect(path, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int daemon_start(struct daemon_proc *d, const char *const *extra_args)
{
	const char *bin = getenv("CONTIGD");
	const char *argv[32];
	int n = 0, status;

	if (!bin)
		bin = "build/daemon/contigd";
	if (!d->keep_dir) {
		snprintf(d->dir, sizeof(d->dir), "/tmp/contig-test-XXXXXX");
		if (!mkdtemp(d->dir)) {
			perror("mkdtemp");
			return -1;
		}
		snprintf(d->socket, sizeof(d->socket), "%s/contigd.sock", d->dir);
		snprintf(d->log, sizeof(d->log), "%s/contigd.log", d->dir);
	}
	d->keep_dir = false;
	argv[n++] = bin;
	argv[n++] = "--socket";
	argv[n++] = d->socket;
	for (; extra_args && *extra_args && n < 30; extra_args++)
		argv[n++] = *extra_args;
	argv[n] = NULL;

	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		/* A test killed by its runner must not leave its daemon behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	/* Up to 3 minutes: a --low-pool start digs through ~20 GiB here. */
	for (int i = 0; i < 3600; i++) {
		if (socket_accepts(d->socket)) {
			setenv("CONTIG_SOCKET", d->socket, 1);
			/* The first repair round swaps free pages for better ones
			 * right after READY, from a thread at nice 10: a test that
			 * reads the pool's layout and then allocates by physical
			 * address must not race it. Every start logs one "repair:"
			 * line (looked at, not run, or not started). */
			if (!daemon_wait_log(d, "repair: ", 30000))
				fprintf(stderr, "contigd logged no repair line within 30 s\n");
			return 0;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			fprintf(stderr, "contigd exited early (status %d); its log:\n", status);
			char cmd[256];
			snprintf(cmd, sizeof(cmd), "cat %s >&2", d->log);
			(void)!system(cmd);
			d->pid = 0;
			return -1;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "contigd did not accept connections within 180 s\n");
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	return -1;
}

int daemon_restart(struct daemon_proc *d, const char *const *extra_args)
{
	int status = 0;

	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		d->pid = 0;
	}
	d->keep_dir = true;
	return daemon_start(d, extra_args);
}

int daemon_stop(struct daemon_proc *d)
{
	int status = -1;
	char path[160];

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if (waitpid(d->pid, &status, 0) != d->pid)
			status = -1;
		d->pid = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			char cmd[256];
			fprintf(stderr, "contigd did not exit cleanly (status 0x%x); its log:\n", status);
			snprintf(cmd, sizeof(cmd), "cat %s >&2", d->log);
			(void)!system(cmd);
		}
	}
	unlink(d->log);
	snprintf(path, sizeof(path), "%s", d->socket);
	unlink(path);
	rmdir(d->dir);
	if (status != -1 && WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

static int count_dir(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

int daemon_fd_count(const struct daemon_proc *d)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	return count_dir(path);
}

int fd_count(void)
{
	return count_dir("/proc/self/fd") - 1; /* opendir's own fd */
}

uint64_t pagemap_phys(const void *va)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return UINT64_MAX;
	if (pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)va / 4096 * 8)) != sizeof(entry))
		entry = 0;
	close(fd);
	if (!(entry & (1ull << 63)) || !(entry & ((1ull << 55) - 1)))
		return UINT64_MAX;
	return (entry & ((1ull << 55) - 1)) * 4096 + ((uintptr_t)va & 4095);
}

bool daemon_wait_log(const struct daemon_proc *d, const char *text, int ms)
{
	static char buf[1 << 16];

	for (int t = 0; t <= ms; t += 10) {
		int fd = open(d->log, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (strstr(buf, text))
			return true;
		sleep_ms(10);
	}
	return false;
}

bool pool_lacks_run(uint64_t bytes)
{
	struct contig_pool_info info;
	int e = errno;

	memset(&info, 0, sizeof(info));
	if (e != ENOMEM || contig_query(&info) < 0 || info.largest_free_run >= bytes)
		return false;
	fprintf(stderr, "the pool has no free run of %llu bytes (largest %llu): the host's free "
		"hugepages were scattered; skipped\n", (unsigned long long)bytes,
		(unsigned long long)info.largest_free_run);
	return true;
}

bool wait_pool_idle(int ms)
{
	struct contig_pool_info info;

	for (int t = 0; t < ms; t += 10) {
		memset(&info, 0, sizeof(info));
		if (contig_query(&info) == 0 && info.free_bytes == info.total_bytes)
			return true;
		sleep_ms(10);
	}
	return false;
}
