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
#include <sys/mman.h>
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

void stash_close(struct stash *st)
{
	if (st->slots)
		munmap(st->slots, PROTO_STASH_BYTES);
	st->slots = NULL;
}

uint32_t stash_drain(struct stash *st, uint64_t *ids)
{
	uint32_t n = 0;

	for (uint32_t i = 0; st->slots && i < PROTO_STASH_SLOTS; i++) {
		/* A plain load first: most slots are empty, and an exchange
		 * on each would dirty the client's cache lines for nothing. */
		if (!__atomic_load_n(&st->slots[i], __ATOMIC_RELAXED))
			continue;
		uint64_t id = __atomic_exchange_n(&st->slots[i], 0, __ATOMIC_ACQ_REL);
		if (id)
			ids[n++] = id;
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
		if (id && id == st->seen[i] &&
		    __atomic_compare_exchange_n(&st->slots[i], &id, 0, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			ids[n++] = id;
			id = 0;
		}
		st->seen[i] = id;
	}
	return n;
}
