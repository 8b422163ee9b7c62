/* SPDX-License-Identifier: MIT */
/*
 * contigd_ctl.c - a contigd of the benchmark's own: started from the build
 * tree on a private socket with its log in a file, ready when the socket
 * accepts (polled every 100 µs, so the ready time is exact to that), its
 * memory read from /proc/PID/status, stopped with SIGTERM.
 */
#define _GNU_SOURCE
#include "contigd_ctl.h"

#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static bool accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int contigd_start(const struct run_cfg *cfg, struct contigd *d, const char *name,
		  uint64_t pool_bytes, const char *config)
{
	char pool[32];
	int status;

	memset(d, 0, sizeof(*d));
	snprintf(d->sock, sizeof(d->sock), "%s/%s.sock", cfg->tmpdir, name);
	snprintf(d->log, sizeof(d->log), "%s/%s.log", cfg->tmpdir, name);
	snprintf(pool, sizeof(pool), "%lluM", (unsigned long long)(pool_bytes >> 20));
	unlink(d->sock);
	if (config) {
		FILE *f;
		snprintf(d->conf, sizeof(d->conf), "%s/%s.conf", cfg->tmpdir, name);
		f = fopen(d->conf, "we");
		if (!f)
			return -errno;
		fputs(config, f);
		fclose(f);
	}
	d->t_spawn = now_ns();
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		if (d->conf[0])
			execl(cfg->contigd, cfg->contigd, "--socket", d->sock, "--pool", pool,
			      "--log-level", "info", "--config", d->conf, (char *)NULL);
		else
			execl(cfg->contigd, cfg->contigd, "--socket", d->sock, "--pool", pool,
			      "--log-level", "info", (char *)NULL);
		_exit(127);
	}
	for (;;) {
		if (accepts(d->sock)) {
			d->t_ready = now_ns();
			return 0;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			fprintf(stderr, "contig-bench: contigd exited during start-up; see %s\n",
				d->log);
			d->pid = 0;
			return -ECHILD;
		}
		if (now_ns() - d->t_spawn > 120ull * 1000000000ull) {
			contigd_stop(d);
			return -ETIMEDOUT;
		}
		sleep_us(100);
	}
}

int contigd_stop(struct contigd *d)
{
	int status = 0;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &status, 0) < 0)
		return -1;
	d->pid = 0;
	unlink(d->sock);
	unlink(d->log);
	if (d->conf[0])
		unlink(d->conf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

long contigd_pinned_ms(const struct contigd *d)
{
	FILE *f = fopen(d->log, "re");
	char line[1024];
	long ms = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "pinned in ");
		if (p)
			ms = strtol(p + 10, NULL, 10);
	}
	fclose(f);
	return ms;
}

void contigd_log_runs(const struct contigd *d, char *buf, size_t len)
{
	FILE *f = fopen(d->log, "re");
	char line[1024];

	buf[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "pinned in ");
		p = p ? strstr(p, "; ") : NULL;
		if (p) {
			snprintf(buf, len, "%s", p + 2);
			buf[strcspn(buf, "\n")] = 0;
		}
		/* After the background repair: its "-> N runs, largest X". */
		p = strstr(line, "repair: looked at ");
		p = p ? strstr(p, "-> ") : NULL;
		if (p) {
			p[3 + strcspn(p + 3, "\n")] = 0;
			snprintf(buf, len, "%s (after repair)", p + 3);
		}
	}
	fclose(f);
}

double contigd_wait_repair(const struct contigd *d, char *buf, size_t len, unsigned timeout_ms)
{
	char line[1024];

	buf[0] = 0;
	for (unsigned t = 0; t <= timeout_ms; t += 2) {
		FILE *f = fopen(d->log, "re");
		bool found = false;

		while (f && fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "repair: ");
			if (p) {
				snprintf(buf, len, "%s", p + 8);
				buf[strcspn(buf, "\n")] = 0;
				found = true;
			}
		}
		if (f)
			fclose(f);
		if (found)
			return (double)(now_ns() - d->t_spawn) / 1e6;
		sleep_us(2000);
	}
	return -1;
}

int contigctl_json(const struct run_cfg *cfg, const char *sock, const char *cmd, char *buf,
		   size_t size)
{
	char *argv[] = { (char *)cfg->contigctl, "--socket", (char *)sock, (char *)cmd, "--json",
			 NULL };

	return spawn_capture(argv, buf, size, NULL) == 0 ? 0 : -ECHILD;
}

long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

bool pool_wait_whole(unsigned timeout_ms, unsigned poll_us)
{
	uint64_t t0 = now_ns();
	struct contig_pool_info info;

	for (;;) {
		memset(&info, 0, sizeof(info));
		if (contig_query(&info) == 0 && info.free_bytes >= info.total_bytes)
			return true;
		if (now_ns() - t0 > (uint64_t)timeout_ms * 1000000)
			return false;
		sleep_us(poll_us);
	}
}
