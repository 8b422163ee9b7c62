/* SPDX-License-Identifier: MIT */
/*
 * fdstore.c - see fdstore.h. The datagrams are ours rather than
 * sd_pid_notify_with_fds()'s: that one opens a blocking socket per call,
 * and a manager that is behind would then stall the loop in sendmsg.
 */
#define _GNU_SOURCE
#include "fdstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Stale page files tolerated in the store before a batch is redone. */
static uint32_t stale_max(const struct fdstore *st)
{
	return st->npages / 8 + 64;
}

int fdstore_size(struct fdstore *st, uint32_t npages)
{
	free(st->page_ino);
	free(st->page_batch);
	st->npages = npages;
	st->page_ino = calloc(npages ? npages : 1, sizeof(*st->page_ino));
	st->page_batch = calloc(npages ? npages : 1, sizeof(*st->page_batch));
	if (!st->page_ino || !st->page_batch) {
		st->npages = 0;
		return -ENOMEM;
	}
	return 0;
}

int fdstore_open(struct fdstore *st)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *max = getenv("FDSTORE");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen;
	int fd;

	*st = (struct fdstore){ .sock = -1, .next_batch = 1 };
	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return 0;
	/* FDSTORE=0: the unit has no store (systemd.service(5):
	 * FileDescriptorStoreMax=0, the default). */
	if (max && *max && strtoul(max, NULL, 10) == 0)
		return 0;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = 0;
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (max && *max)
		st->max = (uint32_t)strtoul(max, NULL, 10);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	st->sock = fd;
	return 0;
}

void fdstore_close(struct fdstore *st)
{
	if (st->sock >= 0)
		close(st->sock);
	free(st->page_ino);
	free(st->page_batch);
	free(st->batches);
	free(st->gone);
	free(st->gone_fds);
	*st = (struct fdstore){ .sock = -1 };
}

/* One datagram: text, and fds (borrowed). 0, -EAGAIN or -errno. */
static int send_msg(struct fdstore *st, const char *text, const int *fds, uint32_t n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * FDSTORE_BATCH)];
	} c;
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint64_t t0 = now_ns();
	ssize_t r;

	if (n) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	r = sendmsg(st->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	st->send_ns += now_ns() - t0;
	if (r < 0) {
		int e = errno;
		if (e == EAGAIN)
			st->behind = true;
		if (e == ECONNREFUSED || e == ENOTCONN || e == ECONNRESET || e == EPIPE ||
		    e == ENOENT) {
			/* The manager went away (it never does under systemd):
			 * no store from here on, rather than sending the same
			 * files again every turn. A restart now starts cold. */
			log_warn("the fd store at NOTIFY_SOCKET went away (%s): nothing more is "
				 "kept in it; a restart will start cold", strerror(e));
			close(st->sock);
			st->sock = -1;
		}
		return -e;
	}
	st->sent++;
	return 0;
}

static bool room_for(struct fdstore *st, uint32_t n)
{
	if (!st->max || st->held + n <= st->max)
		return true;
	if (!st->full)
		log_warn("systemd's fd store is full (FDSTORE=%u): what does not fit is not kept; "
			 "a restart now starts cold (raise FileDescriptorStoreMax= and FDSTORE= in "
			 "the unit)", st->max);
	st->full = true;
	return false;
}

int fdstore_put(struct fdstore *st, const char *name, int fd)
{
	char text[FDSTORE_NAME_MAX + 32];
	int r;

	if (st->sock < 0)
		return -ENOTCONN;
	if (!room_for(st, 1))
		return -EXFULL;
	snprintf(text, sizeof(text), "FDSTORE=1\nFDNAME=%s", name);
	r = send_msg(st, text, &fd, 1);
	if (r == 0)
		st->held++;
	return r;
}

void fdstore_remove(struct fdstore *st, const char *name, uint32_t nfds)
{
	if (st->sock < 0)
		return;
	if (st->ngone == st->cap_gone) {
		uint32_t cap = st->cap_gone ? st->cap_gone * 2 : 16;
		void *g = realloc(st->gone, cap * sizeof(*st->gone));
		void *f = g ? realloc(st->gone_fds, cap * sizeof(*st->gone_fds)) : NULL;
		if (g)
			st->gone = g;
		if (!f) {
			log_warn("fd store: no memory to remember the removal of %s", name);
			return;
		}
		st->gone_fds = f;
		st->cap_gone = cap;
	}
	snprintf(st->gone[st->ngone], FDSTORE_NAME_MAX, "%s", name);
	st->gone_fds[st->ngone++] = nfds;
}

int fdstore_flush(struct fdstore *st)
{
	char text[FDSTORE_NAME_MAX + 32];
	uint32_t i;

	if (st->sock < 0)
		return 0;
	for (i = 0; i < st->ngone; i++) {
		snprintf(text, sizeof(text), "FDSTOREREMOVE=1\nFDNAME=%s", st->gone[i]);
		int r = send_msg(st, text, NULL, 0);
		if (r == -EAGAIN)
			break;
		/* Any other error: the manager is gone; nothing more to do. */
		st->held -= st->gone_fds[i] < st->held ? st->gone_fds[i] : st->held;
	}
	if (i && i < st->ngone) { /* (gone is NULL until a first removal) */
		memmove(st->gone, st->gone + i, (st->ngone - i) * sizeof(*st->gone));
		memmove(st->gone_fds, st->gone_fds + i, (st->ngone - i) * sizeof(*st->gone_fds));
	}
	st->ngone -= i;
	if (st->full && st->max && st->held < st->max)
		st->full = false;
	return st->ngone ? -EAGAIN : 0;
}

int fdstore_flush_wait(struct fdstore *st, int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
	int r;

	while ((r = fdstore_flush(st)) == -EAGAIN && now_ns() < end) {
		struct pollfd p = { .fd = st->sock, .events = POLLOUT };
		(void)poll(&p, 1, 10);
	}
	return r;
}

int fdstore_barrier(struct fdstore *st, int timeout_ms)
{
	int pfd[2], r;

	if (st->sock < 0)
		return 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	/* The manager closes its copy of the write end once it got here. */
	r = send_msg(st, "BARRIER=1", &pfd[1], 1);
	close(pfd[1]);
	if (r == 0) {
		struct pollfd p = { .fd = pfd[0], .events = 0 };
		int n = poll(&p, 1, timeout_ms);
		r = n == 1 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
	}
	close(pfd[0]);
	return r;
}

/* ---- pages ---- */

static struct fdstore_batch *batch_find(struct fdstore *st, uint64_t seq)
{
	for (uint32_t i = 0; i < st->nbatches; i++)
		if (st->batches[i].seq == seq)
			return &st->batches[i];
	return NULL;
}

static struct fdstore_batch *batch_add(struct fdstore *st, uint64_t seq)
{
	if (st->nbatches == st->cap_batches) {
		uint32_t cap = st->cap_batches ? st->cap_batches * 2 : 16;
		void *b = realloc(st->batches, cap * sizeof(*st->batches));
		if (!b)
			return NULL;
		st->batches = b;
		st->cap_batches = cap;
	}
	st->batches[st->nbatches] = (struct fdstore_batch){ .seq = seq };
	return &st->batches[st->nbatches++];
}

static void batch_drop(struct fdstore *st, struct fdstore_batch *b)
{
	char name[FDSTORE_NAME_MAX];

	snprintf(name, sizeof(name), "pages-%" PRIu64, b->seq);
	fdstore_remove(st, name, b->total);
	*b = st->batches[--st->nbatches];
}

/* Store the files of ids[0..n) as one new batch; fds[i] is ids[i]'s file
 * (borrowed), inos[i] its inode. 0 or -errno (nothing changed). */
static int batch_send(struct fdstore *st, const uint32_t *ids, const int *fds,
		      const uint64_t *inos, uint32_t n)
{
	char text[FDSTORE_NAME_MAX + 32];
	struct fdstore_batch *b;
	int r;

	if (!room_for(st, n))
		return -EXFULL;
	snprintf(text, sizeof(text), "FDSTORE=1\nFDNAME=pages-%" PRIu64, st->next_batch);
	r = send_msg(st, text, fds, n);
	if (r < 0)
		return r;
	st->held += n;
	b = batch_add(st, st->next_batch++);
	if (!b) {
		/* Cannot count it: take it out again rather than lose track. */
		snprintf(text, sizeof(text), "pages-%" PRIu64, st->next_batch - 1);
		fdstore_remove(st, text, n);
		return -ENOMEM;
	}
	b->total = b->live = n;
	for (uint32_t i = 0; i < n; i++) {
		st->page_ino[ids[i]] = inos[i];
		st->page_batch[ids[i]] = b->seq;
	}
	return 0;
}

/* Redo the batch with most stale members, when there are too many. */
static void compact(struct fdstore *st, fdstore_page_fn file_of, void *ctx)
{
	uint32_t stale = 0, worst = UINT32_MAX, n = 0;
	uint32_t ids[FDSTORE_BATCH];
	uint64_t inos[FDSTORE_BATCH];
	int fds[FDSTORE_BATCH];

	for (uint32_t i = 0; i < st->nbatches; i++) {
		const struct fdstore_batch *b = &st->batches[i];
		stale += b->total - b->live;
		if (worst == UINT32_MAX ||
		    b->total - b->live > st->batches[worst].total - st->batches[worst].live)
			worst = i;
	}
	if (stale <= stale_max(st) || worst == UINT32_MAX)
		return;
	uint64_t seq = st->batches[worst].seq;
	for (uint32_t id = 0; id < st->npages && n < FDSTORE_BATCH; id++) {
		uint64_t ino;
		int fd;

		if (!st->page_ino[id] || st->page_batch[id] != seq)
			continue;
		fd = file_of(ctx, id, &ino);
		if (fd < 0 || ino != st->page_ino[id])
			continue;
		/* A new open file of the same inode: the manager keeps one
		 * entry per open file (same_fd), so the copy it holds would
		 * swallow a plain dup of it. */
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		fds[n] = open(path, O_RDWR | O_CLOEXEC);
		if (fds[n] < 0)
			break;
		ids[n] = id;
		inos[n] = ino;
		n++;
	}
	struct fdstore_batch *old = batch_find(st, seq);
	if (old && n == old->live && (!n || batch_send(st, ids, fds, inos, n) == 0))
		batch_drop(st, batch_find(st, seq));
	for (uint32_t i = 0; i < n; i++)
		close(fds[i]);
}

void fdstore_sync_pages(struct fdstore *st, fdstore_page_fn file_of, void *ctx)
{
	uint32_t ids[FDSTORE_BATCH], n = 0;
	uint64_t inos[FDSTORE_BATCH];
	int fds[FDSTORE_BATCH];
	bool stop = false;

	if (st->sock < 0)
		return;
	for (uint32_t id = 0; id < st->npages; id++) {
		uint64_t ino = 0;
		int fd = file_of(ctx, id, &ino);

		if (fd < 0)
			ino = 0;
		if (ino == st->page_ino[id])
			continue;
		if (st->page_ino[id]) {
			struct fdstore_batch *b = batch_find(st, st->page_batch[id]);
			if (b && b->live)
				b->live--;
			st->page_ino[id] = 0;
		}
		if (fd < 0 || !ino || stop)
			continue;
		ids[n] = id;
		fds[n] = fd;
		inos[n] = ino;
		if (++n == FDSTORE_BATCH) {
			stop = batch_send(st, ids, fds, inos, n) < 0;
			n = 0;
		}
	}
	if (n && !stop)
		(void)batch_send(st, ids, fds, inos, n);
	for (uint32_t i = 0; i < st->nbatches;) {
		if (!st->batches[i].live)
			batch_drop(st, &st->batches[i]);
		else
			i++;
	}
	if (!st->behind)
		compact(st, file_of, ctx);
}

void fdstore_remove_pages(struct fdstore *st)
{
	while (st->nbatches)
		batch_drop(st, &st->batches[0]);
	for (uint32_t id = 0; id < st->npages; id++)
		st->page_ino[id] = 0;
}

uint32_t fdstore_pages_missing(const struct fdstore *st, fdstore_page_fn file_of, void *ctx)
{
	uint32_t missing = 0;

	for (uint32_t id = 0; id < st->npages; id++) {
		uint64_t ino = 0;
		if (file_of(ctx, id, &ino) >= 0 && ino != st->page_ino[id])
			missing++;
	}
	return missing;
}

/* ---- what systemd passed ---- */

static bool num_after(const char *name, const char *prefix, uint64_t *ret)
{
	size_t n = strlen(prefix);
	char *end;

	if (strncmp(name, prefix, n) || !name[n])
		return false;
	errno = 0;
	*ret = strtoull(name + n, &end, 10);
	return !*end && !errno;
}

int fdstore_passed_load(struct fdstore_passed **ret, uint32_t *ret_n)
{
	char **names = NULL;
	struct fdstore_passed *p;
	int n = sd_listen_fds_with_names(1, &names);

	*ret = NULL;
	*ret_n = 0;
	if (n <= 0) {
		free(names);
		return n;
	}
	p = calloc((size_t)n, sizeof(*p));
	if (!p) {
		for (int i = 0; i < n; i++) {
			close(SD_LISTEN_FDS_START + i);
			free(names ? names[i] : NULL);
		}
		free(names);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct fdstore_passed *e = &p[i];
		const char *name = names && names[i] ? names[i] : "unknown";
		struct stat sb;

		e->fd = SD_LISTEN_FDS_START + i;
		snprintf(e->name, sizeof(e->name), "%s", name);
		if (fstat(e->fd, &sb) == 0)
			e->ino = (uint64_t)sb.st_ino;
		if (!strcmp(name, "listen"))
			e->kind = FDSTORE_LISTEN;
		else if (num_after(name, "state-", &e->num))
			e->kind = FDSTORE_STATE;
		else if (num_after(name, "pages-", &e->num))
			e->kind = FDSTORE_PAGES;
		else if (num_after(name, "sess-", &e->num))
			e->kind = FDSTORE_SESS;
		else if (num_after(name, "stash-", &e->num))
			e->kind = FDSTORE_STASH;
		else if (sd_is_socket_unix(e->fd, SOCK_SEQPACKET, 1, NULL, 0) > 0)
			e->kind = FDSTORE_LISTEN; /* socket activation: contigd.socket */
		else
			e->kind = FDSTORE_OTHER;
		free(names ? names[i] : NULL);
	}
	free(names);
	*ret = p;
	*ret_n = (uint32_t)n;
	return n;
}

void fdstore_passed_free(struct fdstore_passed *p, uint32_t n)
{
	for (uint32_t i = 0; p && i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	free(p);
}

struct ino_id {
	uint64_t ino;
	uint32_t id;
};

static int by_ino(const void *a, const void *b)
{
	const struct ino_id *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

void fdstore_resume(struct fdstore *st, const struct fdstore_passed *p, uint32_t n,
		    const uint64_t *page_ino)
{
	struct ino_id *map;
	uint32_t nmap = 0;

	if (st->sock < 0)
		return;
	st->held = n;
	map = calloc(st->npages ? st->npages : 1, sizeof(*map));
	for (uint32_t id = 0; map && id < st->npages; id++)
		if (page_ino[id])
			map[nmap++] = (struct ino_id){ page_ino[id], id };
	if (map)
		qsort(map, nmap, sizeof(*map), by_ino);
	for (uint32_t i = 0; i < n; i++) {
		const struct fdstore_passed *e = &p[i];
		struct fdstore_batch *b;
		struct ino_id key = { .ino = e->ino }, *hit;

		if (e->kind != FDSTORE_PAGES)
			continue;
		if (e->num >= st->next_batch)
			st->next_batch = e->num + 1;
		b = batch_find(st, e->num);
		if (!b)
			b = batch_add(st, e->num);
		if (!b) {
			fdstore_remove(st, e->name, 1);
			continue;
		}
		b->total++;
		hit = map && e->ino ? bsearch(&key, map, nmap, sizeof(*map), by_ino) : NULL;
		if (hit && !st->page_ino[hit->id]) {
			st->page_ino[hit->id] = e->ino;
			st->page_batch[hit->id] = e->num;
			b->live++;
		}
	}
	free(map);
	for (uint32_t i = 0; i < st->nbatches;) {
		if (!st->batches[i].live)
			batch_drop(st, &st->batches[i]);
		else
			i++;
	}
}
