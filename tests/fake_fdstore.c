/* SPDX-License-Identifier: MIT */
/*
 * fake_fdstore.c - see fake_fdstore.h.
 */
#define _GNU_SOURCE
#include "fake_fdstore.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* systemd's same_fd(): one entry per open file. */
static bool same_file(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

static const char *field(const char *text, const char *key)
{
	size_t k = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, k))
			return l + k;
	return NULL;
}

static void take(struct store *s, const char *text, int *fds, int nfds)
{
	char name[256] = "stored";
	const char *f = field(text, "FDNAME=");

	if (f) {
		size_t n = strcspn(f, "\n");
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, f, n);
		name[n] = 0;
	}
	pthread_mutex_lock(&s->lock);
	if (field(text, "FDSTOREREMOVE=1")) {
		for (int i = 0; i < s->n;) {
			if (strcmp(s->ent[i].name, name)) {
				i++;
				continue;
			}
			close(s->ent[i].fd);
			s->ent[i] = s->ent[--s->n];
			s->removes++;
		}
	}
	if (field(text, "FDSTORE=1")) {
		for (int k = 0; k < nfds; k++) {
			bool dup = false;
			for (int i = 0; i < s->n && !dup; i++)
				dup = same_file(s->ent[i].fd, fds[k]);
			if (dup || s->n == STORE_MAX) {
				s->dups += dup;
				close(fds[k]);
			} else {
				s->ent[s->n].fd = fds[k];
				snprintf(s->ent[s->n].name, sizeof(name), "%s", name);
				s->n++;
				s->fds_in++;
			}
			fds[k] = -1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	/* BARRIER=1: closing the fd is the answer. Anything else: not kept. */
	for (int k = 0; k < nfds; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	if (field(text, "READY=1"))
		atomic_fetch_add(&s->ready, 1);
	if (field(text, "STOPPING=1"))
		atomic_fetch_add(&s->stopping, 1);
}

static void *store_main(void *arg)
{
	struct store *s = arg;

	while (!atomic_load(&s->stop)) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int) * 256)];
		} cb;
		char text[4096];
		struct iovec iov = { text, sizeof(text) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				     .msg_controllen = sizeof(cb.b) };
		struct pollfd p = { .fd = s->sock, .events = POLLIN };
		int fds[256], nfds = 0;
		ssize_t n;

		if (atomic_load(&s->paused)) {
			atomic_store(&s->still, true);
			usleep(1000);
			continue;
		}
		atomic_store(&s->still, false);
		if (poll(&p, 1, 50) != 1)
			continue;
		/* Before the datagram leaves the queue: store_drain reads
		 * the two in the other order. */
		atomic_store(&s->busy, true);
		n = recvmsg(s->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			atomic_store(&s->busy, false);
			continue;
		}
		text[n] = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds + nfds, CMSG_DATA(c), (size_t)k * sizeof(int));
			nfds += k;
		}
		s->msgs++;
		take(s, text, fds, nfds);
		atomic_store(&s->busy, false);
	}
	return NULL;
}

/* Until no datagram is queued and none is being taken in (at most 5 s:
 * a sender that never stops is the test's bug, and shows as a missing
 * file, not a hang). */
static void store_drain(struct store *s)
{
	for (int i = 0; i < 100000; i++) {
		struct pollfd p = { .fd = s->sock, .events = POLLIN };

		if (poll(&p, 1, 0) == 0 && !atomic_load(&s->busy))
			return;
		usleep(50);
	}
}

int store_open(struct store *s, const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	if (snprintf(s->path, sizeof(s->path), "%s/notify", dir) >= (int)sizeof(s->path) ||
	    strlen(s->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	s->n = 0;
	s->msgs = s->fds_in = s->dups = s->removes = 0;
	atomic_store(&s->ready, 0);
	atomic_store(&s->stopping, 0);
	atomic_store(&s->stop, false);
	atomic_store(&s->busy, false);
	atomic_store(&s->paused, false);
	atomic_store(&s->still, false);
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->sock < 0)
		return -errno;
	unlink(s->path);
	if (bind(s->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto close_sock;
	}
	r = -pthread_create(&s->thread, NULL, store_main, s);
	if (r < 0)
		goto unlink_path;
	return 0;
unlink_path:
	unlink(s->path);
close_sock:
	close(s->sock);
	s->sock = -1;
	return r;
}

void store_close(struct store *s)
{
	if (s->sock < 0)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	for (int i = 0; i < s->n; i++)
		close(s->ent[i].fd);
	s->n = 0;
	close(s->sock);
	unlink(s->path);
	s->sock = -1;
}

void store_pause(struct store *s, bool paused)
{
	if (!paused)
		atomic_store(&s->still, false);
	atomic_store(&s->paused, paused);
	/* Paused once the thread is past any datagram it was reading. */
	while (paused && !atomic_load(&s->still))
		usleep(100);
}

int store_count(struct store *s, const char *prefix)
{
	int n = 0;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n; i++)
		n += !strncmp(s->ent[i].name, prefix, strlen(prefix));
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* The environment of the next start: the caller's without what systemd
 * sets, then NOTIFY_SOCKET, FDSTORE and (with fds) LISTEN_*. LISTEN_PID is
 * a placeholder the child fills in. NULL if out of memory. */
static char **spawn_env(struct store *s, int n, char *notify, size_t notify_len, char *nfds,
			size_t nfds_len, char *pidvar, char **ret_names)
{
	static char fdstore[32];
	size_t len = sizeof("LISTEN_FDNAMES=");
	char **envp, *names;
	int ne = 0;

	for (char **e = environ; *e; e++)
		ne++;
	for (int i = 0; i < n; i++)
		len += strlen(s->ent[i].name) + 1;
	envp = calloc((size_t)ne + 8, sizeof(*envp));
	names = malloc(len);
	if (!envp || !names) {
		free(envp);
		free(names);
		return NULL;
	}
	ne = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LISTEN_", 7) && strncmp(*e, "NOTIFY_SOCKET=", 14) &&
		    strncmp(*e, "FDSTORE=", 8))
			envp[ne++] = *e;
	snprintf(notify, notify_len, "NOTIFY_SOCKET=%s", s->path);
	snprintf(fdstore, sizeof(fdstore), "FDSTORE=%d", STORE_MAX);
	envp[ne++] = notify;
	envp[ne++] = fdstore;
	strcpy(names, "LISTEN_FDNAMES=");
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(names, ":");
		strcat(names, s->ent[i].name);
	}
	snprintf(nfds, nfds_len, "LISTEN_FDS=%d", n);
	if (n) {
		envp[ne++] = nfds;
		envp[ne++] = names;
		envp[ne++] = pidvar;
	}
	*ret_names = names;
	return envp;
}

pid_t store_spawn(struct store *s, const char *const argv[], const char *log)
{
	/* LISTEN_PID= and room for any pid: the child writes its own. */
	char notify[160], nfds[32], pidvar[32] = "LISTEN_PID=0000000000", *names = NULL;
	int fds[STORE_MAX], tmp[STORE_MAX];
	char **envp;
	int n;
	pid_t pid;

	store_drain(s);
	pthread_mutex_lock(&s->lock);
	n = s->n;
	for (int i = 0; i < n; i++)
		fds[i] = s->ent[i].fd;
	envp = spawn_env(s, n, notify, sizeof(notify), nfds, sizeof(nfds), pidvar, &names);
	if (!envp) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		/* Only raw system calls: this is a child of a threaded process
		 * made without fork()'s bookkeeping. */
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), base = 3 + n + 16;
		/* Not left running if the caller dies. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		for (int i = 0; i < n; i++)
			tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, base);
		for (int i = 0; i < n; i++)
			dup2(tmp[i], 3 + i);
		/* No leading zeros: sd_listen_fds(3) parses LISTEN_PID as a
		 * number in any base, and 0... is octal. */
		char digits[16], *d = digits + sizeof(digits);
		*--d = 0;
		for (pid_t p = getpid(); p; p /= 10)
			*--d = (char)('0' + p % 10);
		for (size_t k = 0; k + (size_t)(d - digits) < sizeof(digits); k++)
			pidvar[11 + k] = d[k];
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	pthread_mutex_unlock(&s->lock);
	free(envp);
	free(names);
	return pid < 0 ? -errno : pid;
}

int store_wait_ready(struct store *s, int ready_before, pid_t pid, unsigned timeout_ms,
		     int *ret_status)
{
	struct timespec t0, t;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&s->ready) == ready_before) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (ret_status)
				*ret_status = status;
			return -ECHILD;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    (long)timeout_ms)
			return -ETIMEDOUT;
		usleep(50);
	}
	return 0;
}
