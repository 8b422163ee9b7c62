/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the contig wire format: everything contigd and libcontig say to
 * each other, and nothing else.
 *
 * One SOCK_SEQPACKET datagram is one message: a struct proto_hdr followed by
 * the body of its type. Host byte order (AF_UNIX never leaves the machine).
 * Bodies are append-only (kernel copy_struct_from_user rule): a receiver
 * rejects a longer body whose tail is not zero and accepts a zero tail, so a
 * newer peer can add fields at the end; once a body has grown, the shorter
 * version-1 form will be zero-extended (today every version-1 body must be
 * complete). Reserved fields must be zero. Only PROTO_REGION (the region's
 * page fds) and PROTO_STASH_TABLE (the table's memfd) carry file
 * descriptors.
 *
 * proto_decode() is the one validation function both sides use; nothing of a
 * received message is looked at before it returned 0.
 */
#ifndef CONTIG_PROTO_H
#define CONTIG_PROTO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTO_MAGIC   0x47495443u /* "CTIG" read as little-endian bytes */
#define PROTO_VERSION 1

/* Limits: every one of them is something a peer controls. */
#define PROTO_MAX_MSG          32768u  /* bytes of one datagram, header included */
/* A cgroup path in a table: longer ones (rare: Kubernetes' are under 200
 * bytes) are cut and end in "...". */
#define PROTO_CGROUP_MAX       256u
#define PROTO_MAX_FDS          250u    /* fds in one datagram; SCM_MAX_FD is 253 */
#define PROTO_MAX_REGION_PAGES 65536u  /* pool pages in one region */
#define PROTO_MAX_NODES        64      /* NUMA node numbers 0..63 are valid */
#define PROTO_HANDLE_SIZE      32u

enum proto_type {
	PROTO_HELLO = 1,    /* c->d: first message of every session */
	PROTO_HELLO_REPLY,  /* d->c */
	PROTO_ALLOC,        /* c->d: answered by PROTO_REGION... or PROTO_STATUS */
	PROTO_REGION,       /* d->c: one chunk of a region, with its page fds */
	PROTO_FREE,         /* c->d: answered by PROTO_STATUS */
	PROTO_STATUS,       /* d->c: result of a request that returns no data */
	PROTO_QUERY,        /* c->d: answered by PROTO_POOL_INFO */
	PROTO_POOL_INFO,    /* d->c */
	PROTO_EXPORT,       /* c->d: answered by PROTO_HANDLE or PROTO_STATUS */
	PROTO_HANDLE,       /* d->c */
	PROTO_IMPORT,       /* c->d: answered like PROTO_ALLOC */
	PROTO_REVOKE,       /* c->d: no new imports of a handle; PROTO_STATUS */
	PROTO_LIST,         /* c->d: inspection, one page of a table */
	PROTO_LIST_REPLY,   /* d->c */
	PROTO_STASH,        /* c->d: the session's stash table; PROTO_STASH_TABLE */
	PROTO_STASH_TABLE,  /* d->c: with one fd, the table's memfd */
	PROTO_GRANT,        /* c->d: use, create or revoke a grant; PROTO_STATUS or PROTO_GRANT_REPLY */
	PROTO_GRANT_REPLY,  /* d->c: a grant created */
	PROTO_TYPE_MAX,
};

struct proto_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;     /* enum proto_type */
	uint32_t length;   /* bytes of the whole datagram, this header included */
	uint32_t request;  /* chosen by the client, echoed in every reply */
};
static_assert(sizeof(struct proto_hdr) == 16, "proto_hdr");

/* Feature bits a peer may announce in HELLO; none defined yet. */
struct proto_hello {
	uint32_t version;  /* highest version the client speaks */
	uint32_t flags;    /* must be 0 */
};
static_assert(sizeof(struct proto_hello) == 8, "proto_hello");

struct proto_hello_reply {
	uint32_t version;      /* version this session speaks */
	uint32_t max_fds;      /* most fds the daemon puts in one datagram */
	uint64_t page_size;    /* bytes of one pool page */
	uint64_t session_id;
	uint64_t pool_bytes;
};
static_assert(sizeof(struct proto_hello_reply) == 32, "proto_hello_reply");

enum proto_cache { PROTO_CACHED = 0, PROTO_NON_CACHED = 1, PROTO_WRITE_COMBINED = 2, PROTO_CACHE_MAX };

#define PROTO_ALLOC_NODE_STRICT (1u << 0) /* the preferred node or fail */
#define PROTO_ALLOC_NOWAIT      (1u << 1) /* fail rather than wait for reclaim in flight */
#define PROTO_ALLOC_CARVE       (1u << 2) /* one page the client carves small regions from */
#define PROTO_ALLOC_FLAGS       (PROTO_ALLOC_NODE_STRICT | PROTO_ALLOC_NOWAIT | PROTO_ALLOC_CARVE)
#define PROTO_NODE_ANY          (-1)

struct proto_alloc {
	uint64_t nbytes;
	uint64_t lowest;   /* lowest acceptable physical address of any byte */
	uint64_t highest;  /* highest acceptable physical address of any byte, inclusive */
	uint64_t boundary; /* 0, or a power of two >= nbytes the region must not cross */
	uint32_t cache;    /* enum proto_cache */
	int32_t node;      /* PROTO_NODE_ANY or 0..PROTO_MAX_NODES-1 */
	uint32_t flags;    /* PROTO_ALLOC_* */
	uint32_t reserved;
};
static_assert(sizeof(struct proto_alloc) == 48, "proto_alloc");

/*
 * A region arrives as ceil(npages / PROTO_MAX_FDS) PROTO_REGION datagrams in
 * order, chunk k carrying pages [first, first + count) and exactly count fds,
 * one per page, each to be mapped MAP_SHARED at offset 0 for page_size bytes.
 * Page i lies at physical address phys + i * page_size.
 */
struct proto_region {
	uint64_t region_id;
	uint64_t nbytes;
	uint64_t phys;
	uint64_t page_size;
	uint32_t npages;
	uint32_t first;
	uint32_t count;
	int32_t node;
};
static_assert(sizeof(struct proto_region) == 48, "proto_region");

struct proto_free {
	uint64_t region_id;
};
static_assert(sizeof(struct proto_free) == 8, "proto_free");

struct proto_status {
	int32_t error;     /* 0, or a positive errno value */
	uint32_t reserved;
	uint64_t value;    /* request specific, 0 when unused */
};
static_assert(sizeof(struct proto_status) == 16, "proto_status");

struct proto_query {
	int32_t node;      /* PROTO_NODE_ANY for the whole pool */
	uint32_t reserved;
};
static_assert(sizeof(struct proto_query) == 8, "proto_query");

struct proto_pool_info {
	uint64_t page_size;
	uint64_t total_bytes;
	uint64_t free_bytes;        /* free now, reclaim in flight excluded */
	uint64_t largest_free_run;  /* bytes */
	uint64_t reclaiming_bytes;
	uint64_t quarantined_bytes;
	uint64_t lost_bytes;        /* pages the kernel did not give back after a reclaim */
	uint32_t runs;              /* physically contiguous runs in the pool */
	uint32_t sessions;
	uint32_t regions;
	uint32_t nodes;             /* bit i set: node i holds pool pages */
	uint64_t uptime_ns;
	uint64_t below_4g_total;
	uint64_t below_4g_free;
	uint64_t below_16m_total;
	uint64_t below_16m_free;
};
static_assert(sizeof(struct proto_pool_info) == 112, "proto_pool_info");

struct proto_export {
	uint64_t region_id;
};
static_assert(sizeof(struct proto_export) == 8, "proto_export");

struct proto_handle {
	uint8_t bytes[PROTO_HANDLE_SIZE];
};
static_assert(sizeof(struct proto_handle) == 32, "proto_handle");

/* PROTO_IMPORT and PROTO_REVOKE carry a struct proto_handle. */

/*
 * The stash: regions a client freed and keeps mapped, to hand out
 * again without a round trip. The table is a sealed memfd of
 * PROTO_STASH_BYTES both sides map; slot i is the little-endian uint64_t at
 * offset 8 * i, 0 when empty, else the id of one of the session's regions.
 * The client writes an id only into a slot that reads 0 (compare-and-swap
 * 0 -> id); the client takes an entry back with compare-and-swap id -> 0;
 * the daemon takes one with an exchange id -> id | PROTO_STASH_TAKEN and
 * then frees that region exactly as a FREE would. Whoever swaps the id out
 * owns the region: the client's entry then lives again, or the daemon has
 * revoked the page. The daemon validates every id it reads (it names a
 * region of this session, or nothing happens).
 *
 * A taken slot is not empty: it keeps the id, marked, until the daemon's
 * restart state records the free, and only then goes back to 0. A contigd
 * killed in between left the mark, and the next one finishes the take
 * (frees the region if its state still lists it held): no region is lost
 * between a table that no longer names it and a state that still does.
 * Region ids never have the bit set.
 */
#define PROTO_STASH_SLOTS 64u
#define PROTO_STASH_BYTES 4096u
#define PROTO_STASH_TAKEN (1ull << 63)

/*
 * The same table carries the client's report of its carving, for
 * contigctl: PROTO_CARVE_LINES cache lines from PROTO_CARVE_REPORT_OFF, the
 * first little-endian uint64_t of line i the bytes of live carved regions
 * of the client's arena i (each arena writes only its own line, so no line
 * bounces between the client's threads). Untrusted: the daemon only shows
 * the sum, capped at the bytes the session leased for carving.
 */
#define PROTO_CARVE_REPORT_OFF 512u
#define PROTO_CARVE_LINES      8u
#define PROTO_CARVE_LINE_BYTES 64u
static_assert(PROTO_STASH_SLOTS * 8 <= PROTO_CARVE_REPORT_OFF, "carve report after the slots");
static_assert(PROTO_CARVE_REPORT_OFF + PROTO_CARVE_LINES * PROTO_CARVE_LINE_BYTES <=
	      PROTO_STASH_BYTES, "carve report inside the table");

struct proto_stash {
	uint32_t flags;    /* must be 0 */
	uint32_t reserved;
};
static_assert(sizeof(struct proto_stash) == 8, "proto_stash");

struct proto_stash_table {
	uint32_t slots;    /* PROTO_STASH_SLOTS */
	uint32_t bytes;    /* PROTO_STASH_BYTES: size of the memfd */
};
static_assert(sizeof(struct proto_stash_table) == 8, "proto_stash_table");

/* Grants (the Kubernetes device plugin's): bytes that all sessions which
 * present one unguessable token may hold together. Root creates and
 * revokes; any session may present one, once, before its first request
 * that holds memory. */
#define PROTO_GRANT_TOKEN 32u
enum proto_grant_op {
	PROTO_GRANT_USE = 1,  /* token: bind this session to it (EACCES: unknown or revoked) */
	PROTO_GRANT_CREATE,   /* bytes: a new grant; answered by PROTO_GRANT_REPLY */
	PROTO_GRANT_REVOKE,   /* token: no more sessions, no more bytes (ENOENT: unknown) */
	PROTO_GRANT_OP_MAX,
};

struct proto_grant {
	uint32_t op;       /* enum proto_grant_op */
	uint32_t reserved;
	uint64_t bytes;    /* CREATE; else 0 */
	uint8_t token[PROTO_GRANT_TOKEN]; /* USE, REVOKE; else 0 */
};
static_assert(sizeof(struct proto_grant) == 48, "proto_grant");

struct proto_grant_reply {
	uint64_t id;
	uint64_t bytes;
	uint8_t token[PROTO_GRANT_TOKEN];
};
static_assert(sizeof(struct proto_grant_reply) == 48, "proto_grant_reply");

enum proto_table {
	PROTO_TABLE_RUNS = 1,
	PROTO_TABLE_REGIONS,
	PROTO_TABLE_SESSIONS,
	PROTO_TABLE_PAGES,
	PROTO_TABLE_STATS,
	PROTO_TABLE_CGROUPS,
	PROTO_TABLE_GRANTS,
	PROTO_TABLE_MAX,
};

struct proto_list {
	uint32_t table;    /* enum proto_table */
	uint32_t reserved;
	uint64_t cursor;   /* 0 for the first page; then the reply's next */
};
static_assert(sizeof(struct proto_list) == 16, "proto_list");

/* Followed by count items of item_size bytes each (the table's proto_*_item). */
struct proto_list_reply {
	uint32_t table;
	uint32_t count;
	uint32_t item_size;
	uint32_t reserved;
	uint64_t next;     /* cursor of the next page, 0 when this was the last */
};
static_assert(sizeof(struct proto_list_reply) == 24, "proto_list_reply");

enum proto_page_state {
	PROTO_PAGE_FREE = 0,
	PROTO_PAGE_USED,
	PROTO_PAGE_RECLAIMING,
	PROTO_PAGE_QUARANTINED,
	PROTO_PAGE_LOST,
};

struct proto_run_item {
	uint64_t phys;
	uint32_t pages;
	uint32_t free;
	uint32_t used;
	uint32_t reclaiming;
	uint32_t quarantined;
	int32_t node;
};
static_assert(sizeof(struct proto_run_item) == 32, "proto_run_item");

struct proto_page_item {
	uint64_t phys;
	uint8_t state;     /* enum proto_page_state */
	uint8_t reserved[3];
	int32_t node;
};
static_assert(sizeof(struct proto_page_item) == 16, "proto_page_item");

struct proto_region_item {
	uint64_t region_id;
	uint64_t session_id;
	uint64_t nbytes;
	uint64_t phys;
	uint64_t lowest;
	uint64_t highest;
	uint64_t boundary;
	uint64_t age_ns;
	uint32_t npages;
	int32_t node;      /* asked for */
	int32_t pid;
	uint32_t uid;
	uint32_t holders;  /* sessions holding it (shared regions: more than 1) */
	uint32_t flags;    /* PROTO_REGION_ITEM_* */
	char comm[16];
};
static_assert(sizeof(struct proto_region_item) == 104, "proto_region_item");
#define PROTO_REGION_ITEM_CARVE (1u << 0) /* leased for carving (PROTO_ALLOC_CARVE) */

struct proto_session_item {
	uint64_t session_id;
	uint64_t bytes;
	uint64_t age_ns;
	int32_t pid;
	uint32_t uid;
	uint32_t gid;
	uint32_t regions;
	char comm[16];
	uint64_t carve_leased_bytes; /* pages leased for carving (counted by the daemon) */
	uint64_t carve_in_use_bytes; /* of them, in live carved regions (the client's report, capped) */
	char cgroup[PROTO_CGROUP_MAX]; /* the cgroup v2 path it connected from, NUL-terminated */
};
static_assert(sizeof(struct proto_session_item) == 72 + PROTO_CGROUP_MAX, "proto_session_item");

/* PROTO_TABLE_CGROUPS (root only): the cgroups that get a gauge (the root,
 * each top-level cgroup, each path with a limit), with what the sessions at
 * or below each hold. */
struct proto_cgroup_item {
	char path[PROTO_CGROUP_MAX];   /* NUL-terminated */
	uint64_t bytes;                /* held at or below it */
	uint64_t limit;                /* cgroup-max-bytes; UINT64_MAX: none */
	uint32_t sessions;             /* connected from exactly it */
	uint32_t reserved;
};
static_assert(sizeof(struct proto_cgroup_item) == PROTO_CGROUP_MAX + 24, "proto_cgroup_item");

/* PROTO_TABLE_GRANTS (root only): every live grant; never its token. */
struct proto_grant_item {
	uint64_t id;
	uint64_t bytes;                /* the grant */
	uint64_t held_bytes;           /* what its sessions hold now */
	uint32_t sessions;
	uint32_t flags;                /* PROTO_GRANT_ITEM_REVOKED */
};
static_assert(sizeof(struct proto_grant_item) == 32, "proto_grant_item");
#define PROTO_GRANT_ITEM_REVOKED 1u

/* PROTO_TABLE_STATS: one item per counter, named. */
struct proto_stat_item {
	char name[40];
	uint64_t value;
};
static_assert(sizeof(struct proto_stat_item) == 48, "proto_stat_item");

/* Largest body of any message, for receive buffers sized once. */
union proto_body {
	struct proto_hello hello;
	struct proto_hello_reply hello_reply;
	struct proto_alloc alloc;
	struct proto_region region;
	struct proto_free free;
	struct proto_status status;
	struct proto_query query;
	struct proto_pool_info pool_info;
	struct proto_export export_;
	struct proto_handle handle;
	struct proto_list list;
	struct proto_list_reply list_reply;
	struct proto_stash stash;
	struct proto_stash_table stash_table;
	struct proto_grant grant;
	struct proto_grant_reply grant_reply;
};

/* A decoded message: header, body zero-extended to its full size, and for
 * PROTO_LIST_REPLY the items that follow it (pointing into the input). */
struct proto_msg {
	struct proto_hdr hdr;
	union proto_body body;
	const uint8_t *items;
	size_t items_len;
};

/*
 * Validate the datagram buf[0..len) that arrived with nfds file descriptors,
 * and on success fill *ret. Checks magic, version, type, length, body size
 * (append-only rule), reserved fields, field ranges and the fd count. Pure.
 * Returns 0, -EBADMSG (malformed), -EPROTONOSUPPORT (version), or -EPROTO
 * (well formed but not allowed, e.g. fds where none belong).
 */
int proto_decode(const void *buf, size_t len, size_t nfds, struct proto_msg *ret);

/*
 * The argument rules of an allocation request, shared by libcontig (to fail
 * without a round trip) and contigd (which never trusts the client):
 * -EINVAL for nbytes 0, lowest > highest, a boundary that is not 0 and not
 * a power of two >= nbytes, a cache type outside the enum, a node outside
 * -1..PROTO_MAX_NODES-1 or unknown flags; else 0.
 */
int proto_alloc_check(const struct proto_alloc *a);

/* Build header + body into buf (at least sizeof hdr + body_len); returns
 * the datagram length. */
size_t proto_encode(void *buf, uint16_t type, uint32_t request, const void *body, size_t body_len);

/* Size of the body of a message type (0 for an unknown type). */
size_t proto_body_size(uint16_t type);

/*
 * sendmsg one datagram with nfds descriptors (borrowed: the caller still owns
 * them). Returns 0, -EAGAIN, or another -errno. Never raises SIGPIPE.
 */
int proto_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/*
 * recvmsg one datagram into buf[0..cap) and up to max_fds descriptors, which
 * the caller then owns (all CLOEXEC). A datagram longer than cap or carrying
 * more than max_fds fds is discarded, every fd it carried is closed, and
 * -EMSGSIZE is returned. Returns the datagram length, 0 on orderly shutdown,
 * or -errno (-EAGAIN when nothing is there on a non-blocking socket).
 */
ssize_t proto_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds, size_t *ret_nfds);

/*
 * The same for a peer that must not send fds at all (the daemon's side):
 * every fd that came, up to PROTO_RECV_MAX_FDS, lands in fds and is the
 * caller's to dispose of, whatever is returned (closing a file a peer chose
 * can block, so where that happens is the caller's choice, not the codec's).
 */
#define PROTO_RECV_MAX_FDS 256u
ssize_t proto_recv_untrusted(int sock, void *buf, size_t cap, int fds[PROTO_RECV_MAX_FDS],
			     size_t *ret_nfds);

/* Close fds[0..n) and set them to -1. */
void proto_close_fds(int *fds, size_t n);

#endif
