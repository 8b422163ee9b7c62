/* SPDX-License-Identifier: MIT */
/*
 * seccommon.c - see seccommon.h.
 */
#define _GNU_SOURCE
#include "seccommon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"

struct daemon_proc sec_d;
char sec_conf[128];

#define MAX_AGENTS 16
static pid_t live_agents[MAX_AGENTS];

void sec_write_config(const char *text)
{
	FILE *f = fopen(sec_conf, "we");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

void sec_start(const char *pool, const char *config)
{
	const char *args[] = { "--pool", pool, "--config", sec_conf, NULL };

	snprintf(sec_conf, sizeof(sec_conf), "/tmp/contig-sec-%d.conf", (int)getpid());
	sec_write_config(config);
	assert_int_equal(daemon_start(&sec_d, args), 0);
	socket_world_connectable(&sec_d);
}

void sec_reload(int nth)
{
	char cmd[256];

	assert_int_equal(kill(sec_d.pid, SIGHUP), 0);
	snprintf(cmd, sizeof(cmd), "test $(grep -c reloaded %s) -ge %d", sec_d.log, nth);
	for (int i = 0; i < 500; i++) {
		if (system(cmd) == 0)
			return;
		sleep_ms(10);
	}
	fail_msg("contigd did not log its reload");
}

bool sec_daemon_alive(void)
{
	int status;

	return sec_d.pid > 0 && waitpid(sec_d.pid, &status, WNOHANG) == 0;
}

int sec_teardown(void **state)
{
	int status = 0, r = 0;

	(void)state;
	for (int i = 0; i < MAX_AGENTS; i++) {
		if (live_agents[i] > 0) {
			kill(live_agents[i], SIGKILL);
			waitpid(live_agents[i], NULL, 0);
			live_agents[i] = 0;
		}
	}
	if (sec_d.pid > 0) {
		/* A daemon stuck in a blocking call does not read its
		 * signalfd: give SIGTERM 5 s, then SIGKILL. */
		kill(sec_d.pid, SIGTERM);
		for (int i = 0; i < 500; i++) {
			if (waitpid(sec_d.pid, &status, WNOHANG) == sec_d.pid) {
				sec_d.pid = 0;
				break;
			}
			sleep_ms(10);
		}
		if (sec_d.pid > 0) {
			fprintf(stderr, "contigd did not stop within 5 s of SIGTERM: SIGKILL\n");
			kill(sec_d.pid, SIGKILL);
			waitpid(sec_d.pid, &status, 0);
			sec_d.pid = 0;
		}
		/* A daemon that dies or exits with an error fails the test,
		 * and says why. */
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			char cmd[256];
			fprintf(stderr, "contigd did not exit cleanly (status 0x%x); its log:\n", status);
			snprintf(cmd, sizeof(cmd), "cat %s >&2", sec_d.log);
			(void)!system(cmd);
			r = -1;
		}
		daemon_stop(&sec_d); /* pid 0: only removes its files */
	}
	if (*sec_conf)
		unlink(sec_conf);
	return r;
}

/* ---- agents ---- */

/* n bytes to or from a pipe (agent_get: up to timeout_ms); 0 or -errno. */
static int agent_put(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int agent_get(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *p = buf;

	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0u, 0);
}

void agent_start(struct agent *a, uid_t uid, gid_t gid, agent_fn fn, void *arg)
{
	int cmd[2], res[2];

	assert_int_equal(pipe2(cmd, O_CLOEXEC), 0);
	assert_int_equal(pipe2(res, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0) {
		struct rlimit rl;
		struct agent self = { .pid = getpid(), .cmd = cmd[0], .res = res[1] };

		signal(SIGPIPE, SIG_IGN);
		close(cmd[1]);
		close(res[0]);
		close_all_but(self.cmd, self.res);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			perror("agent: dropping privileges");
			_exit(120);
		}
		/* After the uid change, which clears it: a test killed by its
		 * runner must not leave agents behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(&self, arg));
	}
	close(cmd[0]);
	close(res[1]);
	a->cmd = cmd[1];
	a->res = res[0];
	for (int i = 0; i < MAX_AGENTS; i++) {
		if (live_agents[i] <= 0) {
			live_agents[i] = a->pid;
			break;
		}
	}
}

void agent_tell(struct agent *a, int64_t v)
{
	assert_int_equal(agent_put(a->cmd, &v, sizeof(v)), 0);
}

int64_t agent_hear(struct agent *a, int timeout_ms)
{
	int64_t v = 0;
	int r = agent_get(a->res, &v, sizeof(v), timeout_ms);

	if (r < 0)
		fail_msg("agent %d: no answer (%s)", (int)a->pid, strerror(-r));
	return v;
}

int agent_finish(struct agent *a, int timeout_ms)
{
	int status = 0;
	pid_t got = 0;

	close(a->cmd);
	for (int t = 0; t <= timeout_ms; t += 10) {
		got = waitpid(a->pid, &status, WNOHANG);
		if (got == a->pid)
			break;
		sleep_ms(10);
	}
	if (got != a->pid) {
		fprintf(stderr, "agent %d did not exit in %d ms: SIGKILL\n", (int)a->pid,
			timeout_ms);
		kill(a->pid, SIGKILL);
		waitpid(a->pid, &status, 0);
	}
	close(a->res);
	for (int i = 0; i < MAX_AGENTS; i++)
		if (live_agents[i] == a->pid)
			live_agents[i] = 0;
	a->pid = 0;
	if (!WIFEXITED(status)) {
		fprintf(stderr, "agent killed by signal %d\n", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

int64_t agent_next(struct agent *self)
{
	int64_t v;

	if (agent_get(self->cmd, &v, sizeof(v), 60000) < 0)
		return -1;
	return v;
}

void agent_say(struct agent *self, int64_t v)
{
	(void)agent_put(self->res, &v, sizeof(v));
}

/* ---- raw protocol ---- */

int sec_recv(int fd, struct proto_msg *ret, int *fds, size_t *ret_nfds, int timeout_ms)
{
	static uint8_t buf[PROTO_MAX_MSG];
	int got[PROTO_MAX_FDS];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t nfds = 0;
	ssize_t n;
	int r;

	if (ret_nfds)
		*ret_nfds = 0;
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = proto_recv(fd, buf, sizeof(buf), got, PROTO_MAX_FDS, &nfds);
	if (n == 0 || n == -ECONNRESET)
		return 0;
	if (n < 0)
		return (int)n;
	r = proto_decode(buf, (size_t)n, nfds, ret);
	if (r < 0 || !fds) {
		proto_close_fds(got, nfds);
		nfds = 0;
	}
	if (r < 0)
		return r;
	if (fds && nfds)
		memcpy(fds, got, nfds * sizeof(int));
	if (ret_nfds)
		*ret_nfds = nfds;
	return ret->hdr.type;
}

int sec_connect(const char *path, bool hello, uint64_t *ret_session)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proto_hello h = { .version = PROTO_VERSION };
	struct proto_msg m;
	int fd, r;

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!hello)
		return fd;
	r = raw_send(fd, PROTO_HELLO, 1, &h, sizeof(h));
	if (r == 0)
		r = sec_recv(fd, &m, NULL, NULL, 10000);
	if (r == PROTO_HELLO_REPLY) {
		if (ret_session)
			*ret_session = m.body.hello_reply.session_id;
		return fd;
	}
	close(fd);
	if (r == PROTO_STATUS)
		return m.body.status.error ? -m.body.status.error : -EPROTO;
	if (r == 0 || r == -EPIPE || r == -ECONNRESET)
		return -EPIPE;
	return r < 0 ? r : -EPROTO;
}

int sec_list(int fd, uint32_t table, void *items, size_t cap, uint32_t *ret_item_size)
{
	static uint8_t buf[PROTO_MAX_MSG];
	struct proto_list l = { .table = table };
	struct proto_msg m;
	size_t len = proto_encode(buf, PROTO_LIST, 9, &l, sizeof(l));
	ssize_t got = raw_call(fd, buf, len, buf, sizeof(buf));

	if (got <= 0)
		return got == 0 ? -EPIPE : (int)got;
	if (proto_decode(buf, (size_t)got, 0, &m) < 0 || m.hdr.type != PROTO_LIST_REPLY)
		return -EPROTO;
	size_t n = (size_t)m.body.list_reply.count * m.body.list_reply.item_size;
	if (n > cap)
		n = cap - cap % m.body.list_reply.item_size;
	memcpy(items, m.items, n);
	*ret_item_size = m.body.list_reply.item_size;
	return (int)(n / m.body.list_reply.item_size);
}

int sec_alloc_map(int fd, uint64_t nbytes, const struct proto_handle *handle,
		  struct mapped_region *ret)
{
	struct proto_alloc a = { .nbytes = nbytes, .highest = UINT64_MAX, .node = PROTO_NODE_ANY };
	struct mapped_region r = { 0 };
	uint32_t got = 0;
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = handle ? raw_send(fd, PROTO_IMPORT, 5, handle, sizeof(*handle))
		    : raw_send(fd, PROTO_ALLOC, 5, &a, sizeof(a));
	if (rc < 0)
		return rc;
	do {
		struct proto_msg m;
		int fds[PROTO_MAX_FDS];
		size_t nfds;
		int t = sec_recv(fd, &m, fds, &nfds, 10000);

		if (t == PROTO_STATUS && !got)
			return m.body.status.error ? m.body.status.error : EPROTO;
		if (t != PROTO_REGION) {
			proto_close_fds(fds, nfds);
			if (r.va)
				munmap(r.va, r.len);
			return t == 0 ? -EPIPE : t < 0 ? t : -EPROTO;
		}
		if (!r.va) {
			r.id = m.body.region.region_id;
			r.phys = m.body.region.phys;
			r.npages = m.body.region.npages;
			r.page_size = m.body.region.page_size;
			r.len = (size_t)r.npages * r.page_size;
			r.va = mmap(NULL, r.len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (r.va == MAP_FAILED) {
				proto_close_fds(fds, nfds);
				return -ENOMEM;
			}
		}
		for (size_t k = 0; k < nfds; k++) {
			void *at = r.va + (size_t)(m.body.region.first + k) * r.page_size;
			void *p = mmap(at, r.page_size, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, fds[k], 0);
			if (p == MAP_FAILED) {
				proto_close_fds(fds, nfds);
				munmap(r.va, r.len);
				return -ENOMEM;
			}
		}
		proto_close_fds(fds, nfds);
		got += (uint32_t)nfds;
	} while (got < r.npages);
	*ret = r;
	return 0;
}

void sec_unmap(struct mapped_region *r)
{
	if (r->va)
		munmap(r->va, r->len);
	r->va = NULL;
}
