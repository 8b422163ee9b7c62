/* SPDX-License-Identifier: MIT */
/*
 * state.c - see state.h: the state memfd's format, its writer and its
 * checking reader. What goes into the sections is the pool's and the
 * server's to say (pool_save, server_save); this file only frames it.
 */
#define _GNU_SOURCE
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

uint64_t state_checksum(const void *p, uint64_t n)
{
	const uint8_t *b = p;
	uint64_t h = FNV_OFFSET;

	for (uint64_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		h = (h ^ w) * FNV_PRIME;
	}
	return h;
}

static uint64_t file_bytes(uint64_t slot_bytes)
{
	return STATE_HEADER_BYTES + 2 * slot_bytes;
}

static int map_file(struct state *st, int fd, uint64_t slot_bytes)
{
	void *m = mmap(NULL, file_bytes(slot_bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	/* Nothing of ours goes to a child (there is none, but say so). */
	(void)madvise(m, file_bytes(slot_bytes), MADV_DONTFORK);
	st->map = m;
	st->slot_bytes = slot_bytes;
	return 0;
}

int state_create(struct state *st, uint32_t gen, uint64_t slot_bytes)
{
	struct state_header h = { .magic = STATE_MAGIC, .version = STATE_VERSION,
				  .header_bytes = STATE_HEADER_BYTES };
	int fd, r;

	*st = (struct state){ .fd = -1 };
	slot_bytes = (slot_bytes + 4095) & ~4095ull;
	h.slot_bytes = slot_bytes;
	fd = memfd_create("contig-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Its size is fixed; a larger state gets a new file. */
	if (ftruncate(fd, (off_t)file_bytes(slot_bytes)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = map_file(st, fd, slot_bytes);
	if (r < 0) {
		close(fd);
		return r;
	}
	memcpy(st->map, &h, sizeof(h));
	st->fd = fd;
	st->gen = gen;
	return 0;
}

int state_adopt(struct state *st, int fd, uint32_t gen)
{
	struct state_header h;
	struct stat sb;
	int r;

	*st = (struct state){ .fd = -1 };
	/* Mapped and written in place: its size must be fixed (state_create
	 * seals it so), or a truncation would fault us. */
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
		close(fd);
		return -EPERM;
	}
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || fstat(fd, &sb) < 0) {
		close(fd);
		return -EBADMSG;
	}
	if (h.magic != STATE_MAGIC || h.slot_bytes % 4096 ||
	    (uint64_t)sb.st_size < file_bytes(h.slot_bytes)) {
		close(fd);
		return -EBADMSG;
	}
	r = map_file(st, fd, h.slot_bytes);
	if (r < 0) {
		close(fd);
		return r;
	}
	st->fd = fd;
	st->gen = gen;
	st->seq = h.active >> 1;
	return 0;
}

void state_close(struct state *st)
{
	if (st->map)
		munmap(st->map, file_bytes(st->slot_bytes));
	if (st->fd >= 0)
		close(st->fd);
	*st = (struct state){ .fd = -1 };
}

static uint8_t *slot_at(const struct state *st, unsigned k)
{
	return st->map + STATE_HEADER_BYTES + (uint64_t)k * st->slot_bytes;
}

static unsigned active_slot(const struct state *st)
{
	uint64_t a = __atomic_load_n(&((struct state_header *)(void *)st->map)->active,
				     __ATOMIC_ACQUIRE);
	return a ? (unsigned)(a & 1) : 1; /* none yet: the first goes to slot 0 */
}

void state_begin(struct state *st)
{
	uint8_t *slot = slot_at(st, active_slot(st) ^ 1);

	st->body = slot + sizeof(struct state_slot);
	st->cur = st->body;
	st->end = slot + st->slot_bytes;
	st->open = NULL;
	st->nsections = 0;
	st->overflow = false;
}

void state_begin_section(struct state *st, uint32_t type, uint32_t item_size)
{
	st->open = NULL;
	if (st->overflow || (size_t)(st->end - st->cur) < sizeof(struct state_section)) {
		st->overflow = true;
		return;
	}
	st->open = (struct state_section *)(void *)st->cur;
	*st->open = (struct state_section){ .type = type, .item_size = item_size };
	st->cur += sizeof(struct state_section);
	st->nsections++;
}

void *state_item(struct state *st)
{
	void *it;

	if (!st->open || st->overflow)
		return NULL;
	if ((size_t)(st->end - st->cur) < st->open->item_size) {
		st->overflow = true;
		return NULL;
	}
	it = st->cur;
	memset(it, 0, st->open->item_size);
	st->cur += st->open->item_size;
	st->open->count++;
	return it;
}

void state_end_section(struct state *st)
{
	/* Items of any size; sections start on 8 bytes. */
	while (!st->overflow && ((uintptr_t)st->cur & 7)) {
		if (st->cur == st->end) {
			st->overflow = true;
			break;
		}
		*st->cur++ = 0;
	}
	st->open = NULL;
}

uint64_t state_used(const struct state *st)
{
	return (uint64_t)(st->cur - st->body) + sizeof(struct state_slot);
}

int state_commit(struct state *st)
{
	struct state_header *h = (struct state_header *)(void *)st->map;
	unsigned k = active_slot(st) ^ 1;
	struct state_slot *slot = (struct state_slot *)(void *)slot_at(st, k);

	if (st->overflow)
		return -ENOSPC;
	*slot = (struct state_slot){
		.magic = STATE_SLOT_MAGIC,
		.seq = st->seq + 1,
		.length = (uint64_t)(st->cur - st->body),
		.checksum = state_checksum(st->body, (uint64_t)(st->cur - st->body)),
		.version = STATE_VERSION,
		.nsections = st->nsections,
		.pid = (int32_t)getpid(),
	};
	st->seq++;
	/* The slot is whole before the header names it. The file is shared
	 * memory: a reader after our death sees every store that retired. */
	__atomic_store_n(&h->active, st->seq << 1 | k, __ATOMIC_RELEASE);
	return 0;
}

/* ---- reading ---- */

static __attribute__((format(printf, 3, 4))) int bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Smallest item a reader of this version understands, per type. */
static const uint32_t min_item[STATE_TYPE_MAX] = {
	[STATE_POOL] = sizeof(struct state_pool),
	[STATE_PAGES] = sizeof(struct state_page),
	[STATE_REGIONS] = sizeof(struct state_region),
	[STATE_REGION_PAGES] = sizeof(uint32_t),
	[STATE_LEASES] = sizeof(struct state_lease),
	[STATE_SESSIONS] = sizeof(struct state_session),
	[STATE_SERVER] = sizeof(struct state_server),
	[STATE_STORE] = sizeof(struct state_store),
};

int state_read(int fd, struct state_view *ret, char *why, size_t len)
{
	struct state_header h;
	struct state_slot s;
	struct stat sb;
	uint64_t off;
	uint8_t *body;

	memset(ret, 0, sizeof(*ret));
	if (fstat(fd, &sb) < 0)
		return -errno;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return bad(why, len, "shorter than its header (%lld bytes)", (long long)sb.st_size);
	if (h.magic != STATE_MAGIC)
		return bad(why, len, "not a contigd state file (magic %#llx)",
			   (unsigned long long)h.magic);
	if (h.version > STATE_VERSION)
		return bad(why, len, "layout version %u, newer than this contigd's %u", h.version,
			   STATE_VERSION);
	if (h.header_bytes != STATE_HEADER_BYTES || !h.slot_bytes || h.slot_bytes % 4096 ||
	    h.slot_bytes > (1ull << 36) || (uint64_t)sb.st_size < file_bytes(h.slot_bytes))
		return bad(why, len, "slots of %llu bytes in a file of %lld",
			   (unsigned long long)h.slot_bytes, (long long)sb.st_size);
	if (!h.active)
		return bad(why, len, "no generation written");
	off = STATE_HEADER_BYTES + (h.active & 1) * h.slot_bytes;
	if (pread(fd, &s, sizeof(s), (off_t)off) != (ssize_t)sizeof(s))
		return bad(why, len, "truncated slot");
	if (s.magic != STATE_SLOT_MAGIC || s.seq != h.active >> 1)
		return bad(why, len, "slot %llu does not hold generation %llu",
			   (unsigned long long)(h.active & 1), (unsigned long long)(h.active >> 1));
	if (s.version > STATE_VERSION)
		return bad(why, len, "state version %u, newer than this contigd's %u", s.version,
			   STATE_VERSION);
	if (s.length % 8 || s.length > h.slot_bytes - sizeof(s))
		return bad(why, len, "body of %llu bytes", (unsigned long long)s.length);
	body = malloc(s.length ? s.length : 8);
	if (!body)
		return -ENOMEM;
	/* A private copy: what is checked is what is used. */
	if (pread(fd, body, s.length, (off_t)(off + sizeof(s))) != (ssize_t)s.length) {
		free(body);
		return bad(why, len, "truncated body");
	}
	if (state_checksum(body, s.length) != s.checksum) {
		free(body);
		return bad(why, len, "checksum mismatch (generation %llu, %llu bytes)",
			   (unsigned long long)s.seq, (unsigned long long)s.length);
	}
	*ret = (struct state_view){ .body = body, .length = s.length, .seq = s.seq,
				    .version = s.version, .pid = s.pid };
	off = 0;
	for (uint32_t i = 0; i < s.nsections; i++) {
		struct state_section sec;
		uint64_t bytes;

		if (s.length - off < sizeof(sec)) {
			state_view_free(ret);
			return bad(why, len, "section %u past the end", i);
		}
		memcpy(&sec, body + off, sizeof(sec));
		off += sizeof(sec);
		bytes = (uint64_t)sec.count * sec.item_size;
		if (!sec.type || sec.type >= STATE_TYPE_MAX || ret->sec[sec.type].items ||
		    sec.item_size < min_item[sec.type] || bytes > s.length - off) {
			state_view_free(ret);
			return bad(why, len, "section %u: type %u, %u items of %u bytes", i, sec.type,
				   sec.count, sec.item_size);
		}
		ret->sec[sec.type].items = body + off;
		ret->sec[sec.type].count = sec.count;
		ret->sec[sec.type].item_size = sec.item_size;
		off += (bytes + 7) & ~7ull;
		if (off > s.length) {
			state_view_free(ret);
			return bad(why, len, "section %u: padding past the end", i);
		}
	}
	if (off != s.length) {
		state_view_free(ret);
		return bad(why, len, "%llu bytes after the last section",
			   (unsigned long long)(s.length - off));
	}
	return 0;
}

void state_view_free(struct state_view *v)
{
	free(v->body);
	memset(v, 0, sizeof(*v));
}

void state_get(const struct state_view *v, enum state_type t, uint32_t i, void *out, size_t size)
{
	uint32_t is = v->sec[t].item_size;

	memset(out, 0, size);
	if (i >= v->sec[t].count)
		return;
	memcpy(out, v->sec[t].items + (uint64_t)i * is, is < size ? is : size);
}
