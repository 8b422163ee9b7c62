/* SPDX-License-Identifier: MIT */
/*
 * fake_backing.c - see fake_backing.h.
 */
#define _GNU_SOURCE
#include "fake_backing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAKE_FAIL(...)                                          \
	do {                                                    \
		fprintf(stderr, "fake backing: " __VA_ARGS__);  \
		fputc('\n', stderr);                            \
		abort();                                        \
	} while (0)

void fake_init(struct fake_backing *fb, uint64_t page_size, uint64_t base, uint32_t gap_every,
	       unsigned node_shift)
{
	memset(fb, 0, sizeof(*fb));
	pthread_mutex_init(&fb->lock, NULL);
	pthread_cond_init(&fb->cond, NULL);
	fb->owner = pthread_self();
	fb->page_size = page_size;
	fb->next_frame = base ? base : page_size;
	fb->gap_every = gap_every;
	fb->node_shift = node_shift;
	for (int i = 0; i < FAKE_MAX_SLOTS; i++)
		fb->pinned_fd[i] = -1;
}

void fake_fini(struct fake_backing *fb)
{
	pthread_cond_destroy(&fb->cond);
	pthread_mutex_destroy(&fb->lock);
}

void fake_gate(struct fake_backing *fb, bool open)
{
	pthread_mutex_lock(&fb->lock);
	fb->gate_open = open;
	pthread_cond_broadcast(&fb->cond);
	pthread_mutex_unlock(&fb->lock);
}

void fake_fail_next(struct fake_backing *fb, uint32_t n)
{
	pthread_mutex_lock(&fb->lock);
	fb->fail_next = n;
	pthread_mutex_unlock(&fb->lock);
}

void fake_set_gaps(struct fake_backing *fb, uint32_t gap_every)
{
	pthread_mutex_lock(&fb->lock);
	fb->gap_every = gap_every;
	fb->made = 0;
	pthread_mutex_unlock(&fb->lock);
}

/* Called with the lock held. A freed frame first (LIFO), else a new one. */
static uint64_t frame_get(struct fake_backing *fb)
{
	uint64_t f;

	if (fb->nfree)
		return fb->free_frames[--fb->nfree];
	f = fb->next_frame;
	fb->next_frame += fb->page_size;
	if (fb->gap_every && ++fb->made % fb->gap_every == 0)
		fb->next_frame += fb->page_size;
	return f;
}

static void frame_put(struct fake_backing *fb, uint64_t frame)
{
	if (fb->nfree == FAKE_MAX_FD)
		FAKE_FAIL("more free frames than fds");
	fb->free_frames[fb->nfree++] = frame;
}

static uint64_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Called with the lock held: is fd the live fake page it was made as? */
static bool is_live(const struct fake_backing *fb, int fd)
{
	return fd >= 0 && fd < FAKE_MAX_FD && fb->frame_of_fd[fd] && fb->ino_of_fd[fd] == ino_of(fd);
}

static int32_t node_of(const struct fake_backing *fb, uint64_t frame)
{
	return fb->node_shift ? (int32_t)((frame >> fb->node_shift) & 1) : 0;
}

static int fake_acquire(void *ctx, uint64_t page_size, struct backing_page *ret)
{
	struct fake_backing *fb = ctx;
	struct backing_page pg = { .fd = -1 };
	int r;

	if (page_size != fb->page_size)
		FAKE_FAIL("acquire of %llu bytes, pool pages are %llu", (unsigned long long)page_size,
			  (unsigned long long)fb->page_size);
	pthread_mutex_lock(&fb->lock);
	while (!pthread_equal(pthread_self(), fb->owner) && !fb->gate_open)
		pthread_cond_wait(&fb->cond, &fb->lock);
	if (fb->fail_next) {
		fb->fail_next--;
		pthread_mutex_unlock(&fb->lock);
		return -ENOMEM;
	}
	pthread_mutex_unlock(&fb->lock);

	/* A sparse regular memfd: costs nothing until written. */
	pg.fd = memfd_create("fake-page", MFD_CLOEXEC);
	if (pg.fd < 0)
		return -errno;
	if (pg.fd >= FAKE_MAX_FD) {
		r = -EMFILE;
		goto fail;
	}
	if (ftruncate(pg.fd, (off_t)page_size) < 0) {
		r = -errno;
		goto fail;
	}
	pg.map = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, pg.fd, 0);
	if (pg.map == MAP_FAILED) {
		pg.map = NULL;
		r = -errno;
		goto fail;
	}
	pthread_mutex_lock(&fb->lock);
	pg.phys = frame_get(fb);
	pg.node = node_of(fb, pg.phys);
	fb->frame_of_fd[pg.fd] = pg.phys;
	fb->ino_of_fd[pg.fd] = ino_of(pg.fd);
	fb->live++;
	fb->acquires++;
	pthread_mutex_unlock(&fb->lock);
	*ret = pg;
	return 0;
fail:
	backing_page_drop(&pg, page_size);
	return r;
}

static int fake_revoke(void *ctx, uint64_t page_size, struct backing_page *pg)
{
	struct fake_backing *fb = ctx;
	int r = 0;

	pthread_mutex_lock(&fb->lock);
	if (!is_live(fb, pg->fd))
		FAKE_FAIL("revoke of fd %d, which is no live pool page (revoked twice?)", pg->fd);
	for (int s = 0; s < FAKE_MAX_SLOTS; s++)
		if (fb->pinned_fd[s] == pg->fd)
			FAKE_FAIL("revoke of fd %d while it is still pinned in slot %d", pg->fd, s);
	frame_put(fb, fb->frame_of_fd[pg->fd]);
	fb->frame_of_fd[pg->fd] = 0;
	fb->live--;
	fb->revokes++;
	pthread_mutex_unlock(&fb->lock);
	if (fallocate(pg->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)page_size) < 0)
		r = -errno;
	backing_page_drop(pg, page_size);
	return r;
}

static int fake_locate(void *ctx, const struct backing_page *pg, uint64_t *ret_phys,
		       int32_t *ret_node)
{
	struct fake_backing *fb = ctx;
	uint64_t f;

	pthread_mutex_lock(&fb->lock);
	f = is_live(fb, pg->fd) ? fb->frame_of_fd[pg->fd] : 0;
	pthread_mutex_unlock(&fb->lock);
	if (!f)
		return -EIO;
	*ret_phys = f;
	*ret_node = node_of(fb, f);
	return 0;
}

static int fake_pin(void *ctx, uint32_t slot, const struct backing_page *pg, uint64_t page_size)
{
	struct fake_backing *fb = ctx;

	(void)page_size;
	if (slot >= FAKE_MAX_SLOTS)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&fb->lock);
	if (!is_live(fb, pg->fd))
		FAKE_FAIL("pin of fd %d, which is no live pool page", pg->fd);
	/* Like io_uring's buffer update: a new pin in a slot replaces the old. */
	fb->pinned_fd[slot] = pg->fd;
	fb->pins++;
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

static void fake_unpin(void *ctx, uint32_t slot)
{
	struct fake_backing *fb = ctx;

	if (slot >= FAKE_MAX_SLOTS)
		return;
	pthread_mutex_lock(&fb->lock);
	fb->pinned_fd[slot] = -1;
	pthread_mutex_unlock(&fb->lock);
}

/* Trusted mode: the page keeps its file and frame, its bytes become zero. */
static int fake_zero(void *ctx, struct backing_page *pg, uint64_t page_size)
{
	struct fake_backing *fb = ctx;

	pthread_mutex_lock(&fb->lock);
	while (!pthread_equal(pthread_self(), fb->owner) && !fb->gate_open)
		pthread_cond_wait(&fb->cond, &fb->lock);
	if (!is_live(fb, pg->fd))
		FAKE_FAIL("zero of fd %d, which is no live pool page", pg->fd);
	if (fb->fail_next) {
		fb->fail_next--;
		pthread_mutex_unlock(&fb->lock);
		return -EIO;
	}
	fb->zeroes++;
	pthread_mutex_unlock(&fb->lock);
	if (fallocate(pg->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)page_size) < 0)
		return -errno;
	return 0;
}

/* NUMA placement is the kernel's: the fake's nodes follow the frame. */
static int fake_bind(void *ctx, int32_t node)
{
	struct fake_backing *fb = ctx;

	(void)node;
	pthread_mutex_lock(&fb->lock);
	fb->binds++;
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

bool fake_migrate(struct fake_backing *fb, int fd)
{
	bool ok = false;

	pthread_mutex_lock(&fb->lock);
	if (is_live(fb, fd)) {
		uint64_t old = fb->frame_of_fd[fd];
		/* A new frame first: the kernel never migrates a page onto itself. */
		uint64_t f = fb->next_frame;
		fb->next_frame += fb->page_size;
		fb->frame_of_fd[fd] = f;
		frame_put(fb, old);
		ok = true;
	}
	pthread_mutex_unlock(&fb->lock);
	return ok;
}

uint64_t fake_frame(struct fake_backing *fb, int fd)
{
	uint64_t f;

	pthread_mutex_lock(&fb->lock);
	f = is_live(fb, fd) ? fb->frame_of_fd[fd] : 0;
	pthread_mutex_unlock(&fb->lock);
	return f;
}

const struct backing_ops fake_backing_ops = {
	.acquire = fake_acquire,
	.revoke = fake_revoke,
	.locate = fake_locate,
	.pin = fake_pin,
	.unpin = fake_unpin,
	.bind = fake_bind,
	.zero = fake_zero,
};
