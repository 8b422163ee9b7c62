/* SPDX-License-Identifier: MIT */
/*
 * stash.c - see stash.h. The seals are what make sharing a mapping with an
 * untrusted client safe for the daemon: without F_SEAL_SHRINK a client could
 * truncate the file under our mapping and the next scan would SIGBUS.
 */
#define _GNU_SOURCE
#include "stash.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"

int stash_open(struct stash *st)
{
	void *map;
	int fd, r;

	if (st->slots)
		return -EEXIST;
	fd = memfd_create("contig-stash", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, PROTO_STASH_BYTES) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	map = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		close(fd);
		return r;
	}
	(void)madvise(map, PROTO_STASH_BYTES, MADV_DONTFORK);
	st->slots = map;
	return fd;
}

int stash_adopt(struct stash *st, int fd)
{
	struct stat sb;
	int seals = fcntl(fd, F_GET_SEALS);
	void *map;

	if (st->slots)
		return -EEXIST;
	if (fstat(fd, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode) || sb.st_size != PROTO_STASH_BYTES || seals < 0 ||
	    (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EBADF;
	map = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	(void)madvise(map, PROTO_STASH_BYTES, MADV_DONTFORK);
	st->slots = map;
	/* The idle scan starts over: nothing counts as seen. */
	memset(st->seen, 0, sizeof(st->seen));
	return 0;
}

void stash_close(struct stash *st)
{
	if (st->slots)
		munmap(st->slots, PROTO_STASH_BYTES);
	st->slots = NULL;
	st->marked = 0;
}

/* Take slot i if it still holds id: it keeps the id, marked. */
static bool take_slot(struct stash *st, uint32_t i, uint64_t id)
{
	if (!__atomic_compare_exchange_n(&st->slots[i], &id, id | PROTO_STASH_TAKEN, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;
	st->marked |= 1ull << i;
	return true;
}

uint32_t stash_drain(struct stash *st, uint64_t *ids)
{
	uint32_t n = 0;

	for (uint32_t i = 0; st->slots && i < PROTO_STASH_SLOTS; i++) {
		/* A plain load first: most slots are empty, and a locked
		 * operation on each would dirty the client's cache lines for
		 * nothing. A marked slot is a take already made (or a client's
		 * scribble): nothing to take. */
		uint64_t id = __atomic_load_n(&st->slots[i], __ATOMIC_RELAXED);
		/* Lost to the client's own take-back or rewrite: look again,
		 * a few times only (a client rewriting the slot in a loop must
		 * not hold the loop thread). */
		for (int tries = 0; id && !(id & PROTO_STASH_TAKEN) && tries < 4; tries++) {
			if (take_slot(st, i, id)) {
				ids[n++] = id;
				break;
			}
			id = __atomic_load_n(&st->slots[i], __ATOMIC_RELAXED);
		}
	}
	return n;
}

uint32_t stash_drain_idle(struct stash *st, uint64_t *ids)
{
	uint32_t n = 0;

	for (uint32_t i = 0; st->slots && i < PROTO_STASH_SLOTS; i++) {
		uint64_t id = __atomic_load_n(&st->slots[i], __ATOMIC_RELAXED);

		/* Taken out and put back with the same id in between looks
		 * idle too: that only costs the client one round trip. */
		if (id && !(id & PROTO_STASH_TAKEN) && id == st->seen[i] && take_slot(st, i, id)) {
			ids[n++] = id;
			id = 0;
		}
		st->seen[i] = id;
	}
	return n;
}

void stash_unmark(struct stash *st)
{
	for (uint64_t m = st->slots ? st->marked : 0; m; m &= m - 1) {
		uint32_t i = (uint32_t)__builtin_ctzll(m);
		uint64_t v = __atomic_load_n(&st->slots[i], __ATOMIC_RELAXED);
		/* Only our mark goes: a client that wrote over it (it must not)
		 * keeps what it wrote. */
		if (v & PROTO_STASH_TAKEN)
			(void)__atomic_compare_exchange_n(&st->slots[i], &v, 0, false,
							  __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
	st->marked = 0;
}

uint32_t stash_marked(struct stash *st, uint64_t *ids)
{
	uint32_t n = 0;

	for (uint32_t i = 0; st->slots && i < PROTO_STASH_SLOTS; i++) {
		uint64_t v = __atomic_load_n(&st->slots[i], __ATOMIC_ACQUIRE);
		if (!(v & PROTO_STASH_TAKEN))
			continue;
		st->marked |= 1ull << i;
		if (v != PROTO_STASH_TAKEN)
			ids[n++] = v & ~PROTO_STASH_TAKEN;
	}
	return n;
}

uint64_t stash_carve_report(const struct stash *st, uint64_t cap)
{
	const uint8_t *report;
	uint64_t sum = 0;

	if (!st->slots)
		return 0;
	report = (const uint8_t *)st->slots + PROTO_CARVE_REPORT_OFF;
	for (uint32_t i = 0; i < PROTO_CARVE_LINES && sum < cap; i++) {
		/* Each line is written by one client thread while we read:
		 * relaxed loads, as the figure is only shown, never acted on. */
		const uint64_t *line = (const uint64_t *)(const void *)(report +
									(size_t)i * PROTO_CARVE_LINE_BYTES);
		uint64_t v = __atomic_load_n(line, __ATOMIC_RELAXED);
		sum = v > UINT64_MAX - sum ? UINT64_MAX : sum + v;
	}
	return sum < cap ? sum : cap;
}
