/* SPDX-License-Identifier: MIT */
/*
 * state.h - the daemon's state as a restart needs it, in one memfd that
 * systemd's fd store keeps for us (fdstore.h): the pool's pages (where
 * each is, in what state, which file), the regions, the leases, the
 * sessions (who, and the last request each had answered).
 *
 * The file: a header page, then two slots. A generation is written whole
 * into the slot not in use, its checksum last, and only then does the
 * header's one active word name it: a contigd killed while it writes
 * leaves the previous generation intact and named. So the memfd is written
 * in place (no new file, no fd store message per generation) and is never
 * sealed; nobody else holds it but systemd, which never writes it.
 *
 * A generation: struct state_slot, then sections (struct state_section and
 * its items). Versioned twice: the slot's version (a reader refuses a
 * newer one: a cold start) and each section's item_size, append-only as
 * the wire bodies are (proto.h): a reader zero-extends a shorter item of an
 * older writer. The checksum is FNV-1a over the body's 64-bit words (any
 * change of one word always changes it), length and counts are bounded by
 * the slot; everything a reader finds is checked again by whoever uses it.
 */
#ifndef CONTIG_STATE_H
#define CONTIG_STATE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_MAGIC      0x3174536769746e63ull /* "cntigSt1" */
#define STATE_SLOT_MAGIC 0x746f6c5367697463ull /* "ctigSlot" */
#define STATE_VERSION    1u
#define STATE_HEADER_BYTES 4096u

/* The file's first page. */
struct state_header {
	uint64_t magic;
	uint32_t version;            /* of the layout: STATE_VERSION */
	uint32_t header_bytes;       /* STATE_HEADER_BYTES */
	uint64_t slot_bytes;         /* each of the two slots */
	uint64_t active;             /* seq << 1 | slot of the generation to read; 0: none yet */
};
static_assert(sizeof(struct state_header) == 32, "state_header");

struct state_slot {
	uint64_t magic;              /* STATE_SLOT_MAGIC */
	uint64_t seq;                /* the generation: active >> 1 */
	uint64_t length;             /* bytes of the body, a multiple of 8 */
	uint64_t checksum;           /* state_checksum of the body */
	uint32_t version;            /* STATE_VERSION of the writer */
	uint32_t nsections;
	int32_t pid;                 /* the writer, for the log */
	uint32_t reserved;
};
static_assert(sizeof(struct state_slot) == 48, "state_slot");

enum state_type {
	STATE_POOL = 1,              /* one struct state_pool */
	STATE_PAGES,                 /* struct state_page by page id */
	STATE_REGIONS,               /* struct state_region */
	STATE_REGION_PAGES,          /* uint32_t page ids, in physical order, regions' in turn */
	STATE_LEASES,                /* struct state_lease */
	STATE_SESSIONS,              /* struct state_session */
	STATE_SERVER,                /* one struct state_server */
	STATE_STORE,                 /* one struct state_store */
	STATE_GRANTS,                /* struct state_grant */
	STATE_TYPE_MAX,
};

struct state_section {
	uint32_t type;               /* enum state_type */
	uint32_t count;
	uint32_t item_size;          /* append-only: >= what an older reader knows */
	uint32_t reserved;
};
static_assert(sizeof(struct state_section) == 16, "state_section");

#define STATE_POOL_ZERO_IN_PLACE (1u << 0)

struct state_pool {
	uint64_t page_size;
	uint32_t npages;
	uint32_t nbase;
	uint64_t next_seq;           /* of region ids */
	uint64_t reserved;
	uint64_t quarantine_ns;
	uint64_t started_ns;         /* CLOCK_MONOTONIC: the pool's age goes on */
	uint32_t flags;              /* STATE_POOL_* */
	uint32_t oversample;
};
static_assert(sizeof(struct state_pool) == 56, "state_pool");

struct state_page {
	uint64_t phys;
	uint64_t ino;                /* its file's inode, 0: no file (being reclaimed, lost) */
	uint64_t deadline;           /* QUARANTINED: CLOCK_MONOTONIC ns it ends */
	int32_t node;
	int32_t want_node;           /* -1: any */
	uint8_t state;               /* enum extent_state */
	uint8_t reserved[7];
};
static_assert(sizeof(struct state_page) == 40, "state_page");

#define STATE_REGION_EXPORTED    (1u << 0)
#define STATE_REGION_REVOKED     (1u << 1)
#define STATE_REGION_HOLDER_DIED (1u << 2)
#define STATE_REGION_CARVE       (1u << 3)

struct state_region {
	uint64_t id;
	uint64_t nbytes;
	uint64_t phys;
	uint64_t created_ns;
	uint64_t lowest, highest, boundary; /* as asked */
	int32_t node;
	uint32_t rq_flags;
	uint64_t owner_session;
	int32_t owner_pid;
	uint32_t owner_uid;
	uint32_t owner_gid;
	uint32_t npages;
	char owner_comm[16];
	uint32_t first;              /* its first page id in STATE_REGION_PAGES */
	uint32_t flags;              /* STATE_REGION_* */
	uint8_t token[24];
};
static_assert(sizeof(struct state_region) == 136, "state_region");

struct state_lease {
	uint64_t region_id;
	uint64_t session_id;
	uint32_t refs;
	uint32_t reserved;
};
static_assert(sizeof(struct state_lease) == 24, "state_lease");

struct state_server {
	uint64_t next_session_id;
	uint64_t next_grant_id;      /* 0 in a state written before grants */
	uint64_t reserved[2];
};
static_assert(sizeof(struct state_server) == 32, "state_server");

/* What the writer knew of systemd's fd store. */
#define STATE_STORE_INCOMPLETE (1u << 0) /* something did not fit: resume nothing */
struct state_store {
	uint32_t flags;
	uint32_t held;               /* fds it held, as far as the writer knew */
	uint64_t reserved;
};
static_assert(sizeof(struct state_store) == 16, "state_store");

#define STATE_SESSION_HELLO (1u << 0)
#define STATE_SESSION_STASH (1u << 1) /* it has a stash table (stored as stash-ID) */

/* The last request a session had acted on, and the reply it got (or was
 * about to get): a restart that finds that request still unread in the
 * socket sends this reply instead of acting again (server.h). */
struct state_reply {
	uint32_t request;            /* 0: none */
	uint16_t request_type;       /* enum proto_type */
	uint16_t type;               /* of the reply */
	int32_t error;               /* STATUS */
	uint32_t sent;               /* datagrams of it that had left */
	uint64_t value;              /* STATUS */
	uint64_t region_id;          /* REGION, HANDLE */
};
static_assert(sizeof(struct state_reply) == 32, "state_reply");

struct state_session {
	uint64_t id;
	uint64_t connected_ns;
	int32_t pid;
	uint32_t uid;
	uint32_t gid;
	uint32_t flags;              /* STATE_SESSION_* */
	char comm[16];
	uint64_t sock_ino;           /* the socket stored as sess-ID */
	struct state_reply reply;
	uint64_t grant_id;           /* the grant it presented, 0: none */
};
static_assert(sizeof(struct state_session) == 96, "state_session");

#define STATE_GRANT_REVOKED (1u << 0)

/* A grant: its token too (the state is root's and systemd's alone), so
 * that the containers holding it keep working across a restart. */
struct state_grant {
	uint64_t id;
	uint64_t bytes;
	uint8_t token[32];
	uint32_t flags;              /* STATE_GRANT_* */
	uint32_t reserved;
};
static_assert(sizeof(struct state_grant) == 56, "state_grant");

/* ---- writing ---- */

struct state {
	int fd;                      /* the memfd, -1: none */
	uint32_t gen;                /* its number in the store (state-GEN) */
	uint8_t *map;
	uint64_t slot_bytes;
	uint64_t seq;                /* of the last generation committed */
	/* The generation being written. */
	uint8_t *body, *cur, *end;
	struct state_section *open;
	uint32_t nsections;
	bool overflow;
};

/* A new memfd with slots of slot_bytes (sparse: only what is written
 * costs memory). 0 or -errno. */
int state_create(struct state *st, uint32_t gen, uint64_t slot_bytes);
/* Write on in the memfd a previous contigd left (fd consumed; the caller
 * read it first, state_read). 0 or -errno. */
int state_adopt(struct state *st, int fd, uint32_t gen);
void state_close(struct state *st);

/* Start a generation; then sections, each state_begin_section, items, end. */
void state_begin(struct state *st);
void state_begin_section(struct state *st, uint32_t type, uint32_t item_size);
/* The next item of the open section, zeroed; NULL once the slot is full
 * (the commit then fails). */
void *state_item(struct state *st);
void state_end_section(struct state *st);
/* Checksum, then name it in the header. 0, or -ENOSPC: it did not fit in
 * a slot (nothing changed; the caller makes a larger file). */
int state_commit(struct state *st);
/* Bytes the last state_begin..commit used (for sizing a larger file). */
uint64_t state_used(const struct state *st);

/* ---- reading ---- */

struct state_view {
	uint8_t *body;               /* a private copy */
	uint64_t length, seq;
	uint32_t version;
	int32_t pid;
	struct {
		const uint8_t *items;
		uint32_t count, item_size;
	} sec[STATE_TYPE_MAX];
};

/* Read and check the named generation of the memfd fd (borrowed): header,
 * versions, lengths, checksum, sections (each known type at most once,
 * its items inside the body). 0, or -EBADMSG / -EPROTONOSUPPORT / -errno
 * with why filled in. */
int state_read(int fd, struct state_view *ret, char *why, size_t len);
void state_view_free(struct state_view *v);
/* Items in a section (0 if absent). */
static inline uint32_t state_count(const struct state_view *v, enum state_type t)
{
	return v->sec[t].count;
}
/* Item i of a section into out (size bytes): zero-extended if the writer's
 * item is shorter, cut if longer. */
void state_get(const struct state_view *v, enum state_type t, uint32_t i, void *out, size_t size);

/* FNV-1a over 64-bit words (n a multiple of 8). */
uint64_t state_checksum(const void *p, uint64_t n);

#endif
