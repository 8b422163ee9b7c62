/* SPDX-License-Identifier: MIT */
/*
 * gen_corpus.c - writes the seed corpus: valid messages of every type for
 * fuzz_proto, and scripts of well-behaved and misbehaving clients for
 * fuzz_session (format: session_input.h). The seeds are checked in under
 * tests/fuzz/corpus/; regenerate them after a protocol change with
 *
 *   build/tests/reliability/fuzz-gen-corpus tests/fuzz/corpus
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto.h"
#include "session_input.h"

#define PS  (2ull << 20)
#define MiB (1ull << 20)

static const char *outdir;

static void write_file(const char *sub, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wbe");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* ---- fuzz_proto seeds: u8 nfds, then one datagram ---- */

static void proto_seed(const char *name, uint8_t nfds, uint16_t type, const void *body, size_t len)
{
	uint8_t buf[1 + PROTO_MAX_MSG];

	buf[0] = nfds;
	size_t n = proto_encode(buf + 1, type, 7, body, len);
	write_file("proto", name, buf, 1 + n);
}

static void proto_seeds(void)
{
	struct proto_hello hello = { .version = 1 };
	struct proto_hello_reply hr = { 1, PROTO_MAX_FDS, PS, 3, 64 * MiB };
	struct proto_alloc a = { .nbytes = 4096, .highest = UINT64_MAX, .node = -1 };
	struct proto_alloc ac = { .nbytes = 3 * PS, .lowest = 1ull << 30, .highest = (4ull << 30) - 1,
				  .boundary = 8 * MiB, .node = 0, .flags = PROTO_ALLOC_NOWAIT };
	struct proto_region rg = { 1ull << 32, 3 * PS, 1ull << 30, PS, 3, 0, 3, 0 };
	struct proto_free fr = { 1ull << 32 };
	struct proto_status st = { ENOMEM, 0, 0 };
	struct proto_query q = { -1, 0 };
	struct proto_pool_info pi = { .page_size = PS, .total_bytes = 64 * MiB };
	struct proto_export ex = { 1ull << 32 };
	struct proto_handle h;
	struct proto_list l = { PROTO_TABLE_PAGES, 0, 0 };
	uint8_t lr[sizeof(struct proto_list_reply) + 2 * sizeof(struct proto_page_item)] = { 0 };
	struct proto_list_reply lrh = { PROTO_TABLE_PAGES, 2, sizeof(struct proto_page_item), 0, 0 };
	uint8_t tail[sizeof(hello) + 8] = { 0 };

	memset(h.bytes, 0x42, sizeof(h.bytes));
	memcpy(lr, &lrh, sizeof(lrh));
	memcpy(tail, &hello, sizeof(hello));
	proto_seed("hello", 0, PROTO_HELLO, &hello, sizeof(hello));
	proto_seed("hello-zero-tail", 0, PROTO_HELLO, tail, sizeof(tail));
	proto_seed("hello-with-fds", 2, PROTO_HELLO, &hello, sizeof(hello));
	proto_seed("hello-reply", 0, PROTO_HELLO_REPLY, &hr, sizeof(hr));
	proto_seed("alloc", 0, PROTO_ALLOC, &a, sizeof(a));
	proto_seed("alloc-constrained", 0, PROTO_ALLOC, &ac, sizeof(ac));
	proto_seed("alloc-carve", 0, PROTO_ALLOC,
		   &(struct proto_alloc){ .nbytes = 4096, .highest = UINT64_MAX, .node = -1,
					  .flags = PROTO_ALLOC_CARVE },
		   sizeof(struct proto_alloc));
	proto_seed("region", 3, PROTO_REGION, &rg, sizeof(rg));
	proto_seed("free", 0, PROTO_FREE, &fr, sizeof(fr));
	proto_seed("status", 0, PROTO_STATUS, &st, sizeof(st));
	proto_seed("query", 0, PROTO_QUERY, &q, sizeof(q));
	proto_seed("pool-info", 0, PROTO_POOL_INFO, &pi, sizeof(pi));
	proto_seed("export", 0, PROTO_EXPORT, &ex, sizeof(ex));
	proto_seed("handle", 0, PROTO_HANDLE, &h, sizeof(h));
	proto_seed("import", 0, PROTO_IMPORT, &h, sizeof(h));
	proto_seed("revoke", 0, PROTO_REVOKE, &h, sizeof(h));
	proto_seed("list", 0, PROTO_LIST, &l, sizeof(l));
	proto_seed("list-reply", 0, PROTO_LIST_REPLY, lr, sizeof(lr));
	proto_seed("stash", 0, PROTO_STASH, &(struct proto_stash){ 0 }, sizeof(struct proto_stash));
	proto_seed("stash-table", 1, PROTO_STASH_TABLE,
		   &(struct proto_stash_table){ PROTO_STASH_SLOTS, PROTO_STASH_BYTES },
		   sizeof(struct proto_stash_table));
	proto_seed("grant-create", 0, PROTO_GRANT,
		   &(struct proto_grant){ .op = PROTO_GRANT_CREATE, .bytes = 8 << 20 },
		   sizeof(struct proto_grant));
	proto_seed("grant-reply", 0, PROTO_GRANT_REPLY,
		   &(struct proto_grant_reply){ .id = 1, .bytes = 8 << 20, .token = { 1 } },
		   sizeof(struct proto_grant_reply));
	proto_seed("header-only", 0, PROTO_FREE, NULL, 0);
	proto_seed("unknown-type", 0, 200, &fr, sizeof(fr));
}

/* ---- fuzz_session seeds ---- */

struct script {
	uint8_t buf[8192];
	size_t len;
};

static void put(struct script *s, const void *p, size_t n)
{
	if (s->len + n > sizeof(s->buf)) {
		fprintf(stderr, "script too long\n");
		exit(1);
	}
	if (n) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void u8(struct script *s, uint8_t v) { put(s, &v, 1); }
static void u16(struct script *s, uint16_t v) { put(s, &v, 2); }

static void begin2(struct script *s, uint8_t flags, uint8_t flags2, uint8_t npages_less)
{
	s->len = 0;
	u8(s, flags);
	u8(s, flags2);
	u8(s, npages_less);
}

static void begin(struct script *s, uint8_t flags, uint8_t npages_less)
{
	begin2(s, flags, 0, npages_less);
}

static void open_conn(struct script *s, uint8_t flags) { u8(s, FZ_OPEN); u8(s, flags); }
static void close_conn(struct script *s, uint8_t c) { u8(s, FZ_CLOSE); u8(s, c); }
static void simple(struct script *s, uint8_t cmd) { u8(s, cmd); }

static void msg(struct script *s, uint8_t c, uint16_t type, const void *body, uint16_t len)
{
	u8(s, FZ_MSG);
	u8(s, c);
	u16(s, type);
	u16(s, len);
	put(s, body, len);
}

static void hello(struct script *s, uint8_t c)
{
	struct proto_hello h = { .version = PROTO_VERSION };

	msg(s, c, PROTO_HELLO, &h, sizeof(h));
}

static void alloc(struct script *s, uint8_t c, uint64_t nbytes, uint64_t lo, uint64_t hi,
		  uint64_t boundary, int32_t node, uint32_t flags)
{
	struct proto_alloc a = { .nbytes = nbytes, .lowest = lo, .highest = hi, .boundary = boundary,
				 .node = node, .flags = flags };

	msg(s, c, PROTO_ALLOC, &a, sizeof(a));
}

static void plain_alloc(struct script *s, uint8_t c, uint64_t nbytes)
{
	alloc(s, c, nbytes, 0, UINT64_MAX, 0, -1, 0);
}

static void region_op(struct script *s, uint8_t c, uint8_t op, uint8_t k)
{
	u8(s, FZ_REGION_OP);
	u8(s, c);
	u8(s, op);
	u8(s, k);
}

static void handle_op(struct script *s, uint8_t c, uint8_t op, uint8_t k)
{
	u8(s, FZ_HANDLE_OP);
	u8(s, c);
	u8(s, op);
	u8(s, k);
}

static void list(struct script *s, uint8_t c, uint32_t table, uint64_t cursor)
{
	struct proto_list l = { .table = table, .cursor = cursor };

	msg(s, c, PROTO_LIST, &l, sizeof(l));
}

static void raw(struct script *s, uint8_t c, const void *p, uint16_t len)
{
	u8(s, FZ_RAW);
	u8(s, c);
	u16(s, len);
	put(s, p, len);
}

static void pause_conn(struct script *s, uint8_t c, uint8_t n)
{
	u8(s, FZ_PAUSE);
	u8(s, c);
	u8(s, n);
}

static void resume(struct script *s, uint8_t c) { pause_conn(s, c, 0x80); }

static void burst(struct script *s, uint8_t c, uint8_t n, uint8_t kind, uint8_t arg)
{
	u8(s, FZ_BURST);
	u8(s, c);
	u8(s, (uint8_t)(n - 1)); /* 1..32 */
	u8(s, kind);
	u8(s, arg);
}

static void stash(struct script *s, uint8_t c, uint8_t slot, uint8_t k)
{
	u8(s, FZ_STASH);
	u8(s, c);
	u8(s, slot);
	u8(s, k);
}

static void race(struct script *s, uint8_t c, uint8_t seed)
{
	u8(s, FZ_STASH_RACE);
	u8(s, c);
	u8(s, seed);
}

static void take_by(struct script *s, uint8_t how, uint8_t c)
{
	u8(s, FZ_TAKE);
	u8(s, how);
	u8(s, c);
}

static void access_(struct script *s, uint8_t uids, uint8_t flags)
{
	u8(s, FZ_ACCESS);
	u8(s, uids);
	u8(s, flags);
}

static void fd_msg(struct script *s, uint8_t c, uint8_t what, uint16_t type, const void *body,
		   uint16_t len)
{
	u8(s, FZ_FD_MSG);
	u8(s, c);
	u8(s, what);
	u16(s, type);
	u16(s, len);
	put(s, body, len);
}

static void carve_report(struct script *s, uint8_t c, uint8_t line, uint64_t v)
{
	u8(s, FZ_CARVE_REPORT);
	u8(s, c);
	u8(s, line);
	put(s, &v, sizeof(v));
}

static void stash_table(struct script *s, uint8_t c)
{
	struct proto_stash st = { 0 };

	msg(s, c, PROTO_STASH, &st, sizeof(st));
}

/* Stash id sources (session_input.h) */
#define OWN(j)   (0x40 | (j))   /* j-th newest region the session holds */
#define NEXT(j)  (0x60 | (j))   /* the id the j-th next allocation gets */
#define JUNK(j)  (0x80 | (j))
#define OTHER(j) (0xc0 | (j))   /* a region another session holds */

static void save(const char *name, const struct script *s)
{
	write_file("session", name, s->buf, s->len);
}

static void session_seeds(void)
{
	struct script s;

	begin(&s, 0, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	save("hello", &s);

	/* Allocate, free, free again (ENOENT), query. */
	plain_alloc(&s, 0, 4096);
	region_op(&s, 0, 0, 0);
	region_op(&s, 0, 0, 0);
	struct proto_query q = { -1, 0 };
	msg(&s, 0, PROTO_QUERY, &q, sizeof(q));
	save("alloc-free", &s);

	/* Constraints: ceilings, floors, boundaries, nodes, a window too small. */
	begin(&s, FZ_CFG_GAPS | FZ_CFG_NODES, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	alloc(&s, 0, 3 * PS, 0, (1ull << 30) + 8 * PS - 1, 0, -1, 0);
	alloc(&s, 0, PS, (1ull << 30) + 4 * PS, UINT64_MAX, 0, 1, 0);
	alloc(&s, 0, PS + 1, 0, UINT64_MAX, 4 * PS, 0, PROTO_ALLOC_NODE_STRICT);
	alloc(&s, 0, 2 * PS, (1ull << 30) + 2 * PS, (1ull << 30) + 3 * PS - 1, 0, -1, 0);
	alloc(&s, 0, 4096, 0, 0xfffff, 0, -1, 0);
	alloc(&s, 0, 0, 0, UINT64_MAX, 0, -1, 0);
	alloc(&s, 0, 4096, 10, 5, 0, -1, 0);
	alloc(&s, 0, 4096, 0, UINT64_MAX, 3 * 4096, -1, 0);
	alloc(&s, 0, UINT64_MAX, 0, UINT64_MAX, 0, -1, 0);
	struct proto_alloc nc = { .nbytes = 4096, .highest = UINT64_MAX, .cache = PROTO_NON_CACHED,
				  .node = -1 };
	msg(&s, 0, PROTO_ALLOC, &nc, sizeof(nc));
	region_op(&s, 0, 0, 1);
	region_op(&s, 0, 0, 0);
	save("constraints", &s);

	begin(&s, FZ_CFG_LOW, 8);
	open_conn(&s, 0);
	hello(&s, 0);
	alloc(&s, 0, PS, 0, (4ull << 30) - 1, 0, -1, 0);
	alloc(&s, 0, 2 * PS, 4ull << 30, UINT64_MAX, 4 * PS, -1, 0);
	alloc(&s, 0, 16 * MiB, 0, UINT64_MAX, 0, -1, PROTO_ALLOC_NOWAIT);
	save("low-memory", &s);

	/* Sharing: A exports, B imports, forgeries, A frees, B revokes and frees. */
	begin(&s, 0, 0);
	open_conn(&s, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	hello(&s, 1);
	plain_alloc(&s, 0, 3 * PS);
	region_op(&s, 0, 1, 0);
	handle_op(&s, 1, 0, 0);
	handle_op(&s, 1, 0, 0);
	handle_op(&s, 1, 2, 0);
	region_op(&s, 1, 0, 0);
	region_op(&s, 1, 0, 0);
	handle_op(&s, 0, 1, 0);
	handle_op(&s, 1, 0, 0);
	region_op(&s, 1, 0, 0);
	region_op(&s, 0, 0, 0);
	save("share", &s);


	/* Other uids: import refused (EACCES), inspection limited to one's own. */
	begin(&s, 0, 0);
	open_conn(&s, 0);
	open_conn(&s, FZ_OPEN_UID);
	open_conn(&s, FZ_OPEN_UID | (1 << 2));
	hello(&s, 0);
	hello(&s, 1);
	hello(&s, 2);
	plain_alloc(&s, 0, PS);
	plain_alloc(&s, 1, PS);
	region_op(&s, 0, 1, 0);
	region_op(&s, 1, 1, 1);
	handle_op(&s, 2, 0, 0);
	handle_op(&s, 2, 0, 1);
	region_op(&s, 2, 0, 0);
	for (uint32_t t = 1; t < PROTO_TABLE_MAX; t++) {
		list(&s, 1, t, 0);
		list(&s, 0, t, 0);
	}
	save("uids-inspect", &s);

	/* Quotas and access. Small limits: 4 sessions, the last for root. Two
	 * sessions of uid 1000 (their limit), one of uid 2000 (not allowed to
	 * allocate), root's; a fifth connection is refused at accept. */
	begin(&s, FZ_CFG_SMALL_LIMITS, 0);
	open_conn(&s, FZ_OPEN_UID);
	open_conn(&s, FZ_OPEN_DENY);
	open_conn(&s, FZ_OPEN_UID);
	open_conn(&s, 0);
	open_conn(&s, FZ_OPEN_UID | 1 << 2);
	for (int i = 0; i < 5; i++)
		hello(&s, (uint8_t)i);
	for (int i = 0; i < 5; i++)
		plain_alloc(&s, 0, PS);
	plain_alloc(&s, 0, 9 * PS);
	plain_alloc(&s, 1, PS);
	plain_alloc(&s, 2, 4 * PS);
	plain_alloc(&s, 2, 4 * PS);
	plain_alloc(&s, 3, 4 * PS);
	region_op(&s, 2, 1, 2);
	handle_op(&s, 3, 0, 0);
	save("quota", &s);
	/* Room again, but a third session of uid 1000 is over uid-max-sessions:
	 * refused at accept; one of uid 1001 is not. */
	close_conn(&s, 1);
	close_conn(&s, 3);
	open_conn(&s, FZ_OPEN_UID);
	open_conn(&s, FZ_OPEN_UID | 1 << 2);
	hello(&s, 6);
	plain_alloc(&s, 6, PS);
	save("quota-uid-sessions", &s);

	/* A client dies holding regions; quarantine, then reclaim. */
	begin(&s, FZ_CFG_QUARANTINE, 16);
	open_conn(&s, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	hello(&s, 1);
	plain_alloc(&s, 0, 4 * PS);
	plain_alloc(&s, 0, PS);
	close_conn(&s, 0);
	plain_alloc(&s, 1, 16 * MiB);
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 1, 16 * MiB);
	save("death-quarantine", &s);

	/* The whole pool taken, an allocation waits for reclaim in flight. */
	begin(&s, 0, 24);
	open_conn(&s, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	hello(&s, 1);
	plain_alloc(&s, 0, 8 * PS);
	plain_alloc(&s, 1, PS);
	region_op(&s, 0, 0, 0);
	plain_alloc(&s, 1, 4 * PS);
	plain_alloc(&s, 1, PS);
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 1, PS);
	save("park", &s);

	/* The kernel fails refaults (pages LOST), then gives them back. */
	begin(&s, 0, 24);
	open_conn(&s, 0);
	hello(&s, 0);
	plain_alloc(&s, 0, 4 * PS);
	u8(&s, FZ_FAIL_ACQUIRE);
	u8(&s, 3);
	region_op(&s, 0, 0, 0);
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 0, 8 * PS);
	simple(&s, FZ_RETRY_LOST);
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 0, 8 * PS);
	save("lost-pages", &s);

	/* Migration behind the pool's back, then an audit. */
	begin(&s, FZ_CFG_GAPS, 16);
	open_conn(&s, 0);
	hello(&s, 0);
	plain_alloc(&s, 0, 2 * PS);
	u8(&s, FZ_MIGRATE);
	u8(&s, 3);
	u8(&s, FZ_MIGRATE);
	u8(&s, 15);
	simple(&s, FZ_AUDIT);
	region_op(&s, 0, 0, 0);
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 0, 16 * MiB);
	save("migrate-audit", &s);

	/* A big region spread over several REGION datagrams, to a stuck client
	 * and to one that reads; a reply queue too short for it. */
	begin(&s, FZ_CFG_BIG, 0);
	open_conn(&s, FZ_OPEN_STUCK);
	open_conn(&s, 0);
	hello(&s, 0);
	hello(&s, 1);
	plain_alloc(&s, 0, 255 * PS);
	plain_alloc(&s, 1, 4 * PS + 5);
	list(&s, 1, PROTO_TABLE_PAGES, 0);
	list(&s, 1, PROTO_TABLE_PAGES, 2000);
	list(&s, 1, PROTO_TABLE_PAGES, 200);
	region_op(&s, 1, 0, 0);
	save("big-region", &s);
	begin(&s, FZ_CFG_BIG | FZ_CFG_MAX_OUT, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	plain_alloc(&s, 0, 255 * PS);
	save("max-out", &s);

	/* Trusted mode (zero in place), a pool of the longest runs plus low
	 * pages, pages asked for on two nodes: churn through all of it. */
	begin2(&s, FZ_CFG_GAPS | FZ_CFG_NODES | FZ_CFG_QUARANTINE,
	       FZ_CFG2_TRUSTED | FZ_CFG2_OVERSAMPLE | FZ_CFG2_EXTRA | FZ_CFG2_WANT_NODE, 16);
	open_conn(&s, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	hello(&s, 1);
	plain_alloc(&s, 0, 3 * PS);
	plain_alloc(&s, 1, PS);
	region_op(&s, 0, 0, 0);
	close_conn(&s, 1);
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 0, 4 * PS);
	region_op(&s, 0, 0, 2);
	simple(&s, FZ_AUDIT);
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 0, PS);
	save("trusted-oversample-extra", &s);

	/* Repair: at start (oversample), then with live, quarantined and
	 * reclaiming pages around the free ones it may swap. */
	for (int trusted = 0; trusted < 2; trusted++) {
		begin2(&s, FZ_CFG_GAPS | FZ_CFG_QUARANTINE,
		       FZ_CFG2_OVERSAMPLE | FZ_CFG2_HIGH | (trusted ? FZ_CFG2_TRUSTED : 0), 16);
		open_conn(&s, 0);
		open_conn(&s, 0);
		hello(&s, 0);
		hello(&s, 1);
		plain_alloc(&s, 0, 2 * PS);
		plain_alloc(&s, 1, 3 * PS);
		plain_alloc(&s, 0, PS);
		region_op(&s, 0, 0, 0);
		u8(&s, FZ_REPAIR);
		u8(&s, 16 | 15);
		close_conn(&s, 1);
		u8(&s, FZ_REPAIR);
		u8(&s, 7);
		plain_alloc(&s, 0, 4 * PS);
		simple(&s, FZ_RECLAIM);
		plain_alloc(&s, 0, 8 * PS);
		save(trusted ? "repair-trusted" : "repair", &s);
	}

	/* Stashes: own regions, another session's, garbage; taken by a
	 * query, by an inspection, by an allocation short of memory or of
	 * quota, and with their session's death (quarantine on and off). */
	for (int limits = 0; limits < 2; limits++) {
		struct proto_stash st = { 0 };
		struct proto_query sq = { .node = PROTO_NODE_ANY };

		begin(&s, (limits ? FZ_CFG_SMALL_LIMITS : FZ_CFG_QUARANTINE) | FZ_CFG_GAPS, 16);
		open_conn(&s, 0);
		open_conn(&s, 0);
		hello(&s, 0);
		hello(&s, 1);
		msg(&s, 0, PROTO_STASH, &st, sizeof(st));
		msg(&s, 0, PROTO_STASH, &st, sizeof(st)); /* one per session: EEXIST */
		plain_alloc(&s, 0, PS);
		plain_alloc(&s, 0, PS);
		plain_alloc(&s, 0, PS / 2);
		plain_alloc(&s, 1, 2 * PS);
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 1); u8(&s, 0);    /* own */
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 2); u8(&s, 3);    /* the other's */
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 3); u8(&s, 0x81); /* garbage */
		msg(&s, 1, PROTO_QUERY, &sq, sizeof(sq));
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 4); u8(&s, 1);
		plain_alloc(&s, 0, PS); /* over quota with limits: takes its own */
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 5); u8(&s, 2);
		plain_alloc(&s, 1, 14 * PS); /* short of memory: takes the other's */
		msg(&s, 1, PROTO_STASH, &st, sizeof(st));
		u8(&s, FZ_STASH); u8(&s, 1); u8(&s, 0); u8(&s, 3);
		list(&s, 0, PROTO_TABLE_REGIONS, 0);
		u8(&s, FZ_STASH); u8(&s, 1); u8(&s, 0x80 | 7); u8(&s, 4);
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 0x40 | 6); u8(&s, 2); /* idle scan: seen */
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 0x40 | 9); u8(&s, 2); /* again: taken */
		u8(&s, FZ_STASH); u8(&s, 0); u8(&s, 6); u8(&s, 1);
		close_conn(&s, 0); /* dies with an entry stashed */
		simple(&s, FZ_RECLAIM);
		plain_alloc(&s, 0, 4 * PS);
		save(limits ? "stash-limits" : "stash", &s);
	}
	/* Grants: root makes one; a guessed token is refused, revoking an
	 * unknown one finds nothing; the table lists it, never its token. */
	{
		struct proto_grant mk = { .op = PROTO_GRANT_CREATE, .bytes = 4 * PS };
		struct proto_grant use = { .op = PROTO_GRANT_USE, .token = { 0x42 } };
		struct proto_grant rv = { .op = PROTO_GRANT_REVOKE, .token = { 0x42 } };

		begin(&s, 0, 16);
		open_conn(&s, 0);
		open_conn(&s, 0);
		hello(&s, 0);
		hello(&s, 1);
		msg(&s, 0, PROTO_GRANT, &mk, sizeof(mk));
		msg(&s, 1, PROTO_GRANT, &use, sizeof(use));
		plain_alloc(&s, 1, PS);
		msg(&s, 1, PROTO_GRANT, &use, sizeof(use)); /* holds memory now */
		msg(&s, 0, PROTO_GRANT, &rv, sizeof(rv));
		list(&s, 0, PROTO_TABLE_GRANTS, 0);
		list(&s, 0, PROTO_TABLE_CGROUPS, 0);
		close_conn(&s, 1);
		save("grants", &s);
	}

	/* SIGTERM with clients holding regions, replies unread, a request
	 * parked and reclaim in flight (trusted mode and not). */
	for (int trusted = 0; trusted < 2; trusted++) {
		begin2(&s, FZ_CFG_ABRUPT | FZ_CFG_QUARANTINE, trusted ? FZ_CFG2_TRUSTED : 0, 24);
		open_conn(&s, 0);
		open_conn(&s, FZ_OPEN_STUCK);
		hello(&s, 0);
		hello(&s, 1);
		plain_alloc(&s, 0, 4 * PS);
		plain_alloc(&s, 1, 2 * PS);
		plain_alloc(&s, 0, 2 * PS);
		region_op(&s, 0, 0, 0);
		plain_alloc(&s, 0, 6 * PS);
		simple(&s, FZ_RECLAIM);
		region_op(&s, 0, 0, 1);
		save(trusted ? "sigterm-trusted" : "sigterm", &s);
	}

	/* Oversized datagrams (zero-padded by the harness) and 253 fds. */
	uint8_t zeros[24] = { 0 };
	begin(&s, 0, 0);
	open_conn(&s, 0);
	open_conn(&s, 0);
	hello(&s, 0);
	hello(&s, 1);
	u8(&s, FZ_FDS);
	u8(&s, 1);
	u8(&s, 251);
	u16(&s, 24);
	put(&s, zeros, 24);
	u8(&s, FZ_RAW);       /* last: its zero padding takes the rest of the input */
	u8(&s, 0);
	u16(&s, PROTO_MAX_MSG + 16);
	save("oversized", &s);

	/* Garbage: bad magic, bad version, lengths that lie, fds, no HELLO. */
	begin(&s, 0, 0);
	for (int i = 0; i < 6; i++)
		open_conn(&s, 0);
	uint8_t buf[64];
	struct proto_hello h = { .version = 1 };
	size_t n = proto_encode(buf, PROTO_HELLO, 1, &h, sizeof(h));
	struct proto_hdr *hd = (struct proto_hdr *)(void *)buf;
	hd->version = 9;
	raw(&s, 0, buf, (uint16_t)n);
	hd->version = 1;
	hd->length = 4096;
	raw(&s, 1, buf, (uint16_t)n);
	hd->length = (uint32_t)n;
	raw(&s, 2, buf, 10);
	raw(&s, 3, buf, 0);
	u8(&s, FZ_FDS);
	u8(&s, 4);
	u8(&s, 3);
	u16(&s, (uint16_t)n);
	put(&s, buf, n);
	plain_alloc(&s, 5, PS);
	save("garbage", &s);

	/* After HELLO: a second HELLO, a reply type, fds with a request, an
	 * empty datagram with fds. */
	begin(&s, 0, 0);
	for (int i = 0; i < 4; i++) {
		open_conn(&s, 0);
		hello(&s, (uint8_t)i);
	}
	hello(&s, 0);
	struct proto_status st = { 0 };
	msg(&s, 1, PROTO_STATUS, &st, sizeof(st));
	u8(&s, FZ_FDS);
	u8(&s, 2);
	u8(&s, 0);
	struct proto_free f = { 1ull << 32 };
	n = proto_encode(buf, PROTO_FREE, 9, &f, sizeof(f));
	u16(&s, (uint16_t)n);
	put(&s, buf, n);
	u8(&s, FZ_FDS);
	u8(&s, 3);
	u8(&s, 5);
	u16(&s, 0);
	plain_alloc(&s, 3, PS);
	save("violations", &s);

	/* Pages leased for carving: counted by their holders (an importer
	 * too) through free, stash take-back and session end; the report
	 * lines written as a hostile client would (more than leased, a sum
	 * that wraps), never shown beyond what was leased. */
	begin(&s, FZ_CFG_QUARANTINE, 0);
	open_conn(&s, FZ_OPEN_TABLE);
	open_conn(&s, FZ_OPEN_TABLE);
	alloc(&s, 0, 4096, 0, UINT64_MAX, 0, -1, PROTO_ALLOC_CARVE);
	alloc(&s, 0, 4096, 0, UINT64_MAX, 0, -1, PROTO_ALLOC_CARVE | PROTO_ALLOC_NOWAIT);
	plain_alloc(&s, 0, 4096);
	carve_report(&s, 0, 0, 4096);
	list(&s, 0, PROTO_TABLE_SESSIONS, 0);
	carve_report(&s, 0, 7, 3 * PS);            /* more than leased */
	list(&s, 1, PROTO_TABLE_SESSIONS, 0);
	list(&s, 1, PROTO_TABLE_STATS, 0);
	carve_report(&s, 0, 0x80, 1ull << 63);     /* every line: the sum wraps */
	list(&s, 0, PROTO_TABLE_REGIONS, 0);
	carve_report(&s, 0, 0x80, 0);
	carve_report(&s, 0, 0, 4096);
	carve_report(&s, 0, 1, UINT64_MAX - 3999); /* wraps to 96 bytes, below the cap */
	list(&s, 0, PROTO_TABLE_SESSIONS, 0);
	region_op(&s, 0, 1, 1);                    /* export the second carve page */
	handle_op(&s, 1, 0, 0);                    /* and import it */
	list(&s, 1, PROTO_TABLE_SESSIONS, 0);
	region_op(&s, 0, 0, 0);                    /* free the first */
	carve_report(&s, 1, 2, 5 * 4096);
	stash(&s, 0, 0x80 | 3, OWN(1));            /* the second, taken back */
	list(&s, 1, PROTO_TABLE_SESSIONS, 0);
	burst(&s, 1, 3, 0, 0x40);                  /* three more, carve */
	close_conn(&s, 1);                         /* ends holding them */
	simple(&s, FZ_RECLAIM);
	list(&s, 0, PROTO_TABLE_STATS, 0);
	save("carve", &s);
}

/* Several sessions at once: full send buffers, stash tables written while
 * replies wait, takes by every path, reloads, fds attached. */
static void concurrency_seeds(void)
{
	struct script s;
	struct proto_hello hl = { .version = PROTO_VERSION };
	struct proto_free fr = { 1ull << 32 };
	struct proto_alloc al = { .nbytes = PS, .highest = UINT64_MAX, .node = -1 };

	/* A names, in its stash, the region whose REGION reply still waits in
	 * the daemon's queue (A stopped reading, its send buffer is full),
	 * and one already in its socket; every kind of take runs; pages come
	 * back from reclaim and go to B; C connects (new fd numbers); then A
	 * reads. The reply must carry that region's pages, which A must still
	 * hold: a queue that kept fd numbers, or a take while a reply waits,
	 * hands A a socket or B's pages here. */
	for (int trusted = 0; trusted < 2; trusted++) {
		begin2(&s, 0, trusted ? FZ_CFG2_TRUSTED : 0, 0);
		open_conn(&s, 0);
		open_conn(&s, 0);
		hello(&s, 0);
		hello(&s, 1);
		stash_table(&s, 0);
		pause_conn(&s, 0, 0);
		burst(&s, 0, 16, 0, 0);           /* 16 one-page ALLOCs, none read */
		stash(&s, 0, 1, OWN(0));           /* the one queued */
		stash(&s, 0, 2, OWN(1));           /* in the socket */
		stash(&s, 0, 3, NEXT(0));
		take_by(&s, 0, 1);                 /* every stash */
		take_by(&s, 1, 1);                 /* idle scan: seen */
		take_by(&s, 1, 1);                 /* idle scan: taken */
		take_by(&s, 4, 1);                 /* B short of memory */
		take_by(&s, 6, 1);                 /* root's quota take */
		access_(&s, 0x0f, 0);              /* a reload */
		simple(&s, FZ_RECLAIM);
		burst(&s, 1, 4, 0, 1);             /* B: 4 x 2 pages */
		open_conn(&s, 0);
		hello(&s, 2);
		pause_conn(&s, 0, 3);              /* A reads three */
		take_by(&s, 0, 1);
		resume(&s, 0);
		take_by(&s, 2, 0);                 /* A's QUERY takes its own */
		take_by(&s, 3, 0);
		simple(&s, FZ_RECLAIM);
		plain_alloc(&s, 2, 8 * PS);
		save(trusted ? "flood-queued-stash-trusted" : "flood-queued-stash", &s);
	}

	/* Three sessions interleaved, none reading for a while: ALLOCs, FREEs
	 * of ids not yet read, EXPORT/IMPORT across them, LISTs and QUERYs
	 * whose replies pile up; partial reads; a big region to a paused
	 * client; the reply queue cut short (max_out 2). */
	for (int big = 0; big < 2; big++) {
		begin(&s, big ? FZ_CFG_BIG | FZ_CFG_MAX_OUT | FZ_CFG_QUARANTINE : FZ_CFG_QUARANTINE,
		      0);
		open_conn(&s, FZ_OPEN_TABLE);
		open_conn(&s, FZ_OPEN_UID | FZ_OPEN_TABLE);
		open_conn(&s, FZ_OPEN_STUCK);
		hello(&s, 2);
		pause_conn(&s, 0, 0);
		pause_conn(&s, 1, 0);
		burst(&s, 0, 14, 0, 0);            /* A: 14 one-page ALLOCs: a reply queues */
		burst(&s, 1, 4, 7, 0);             /* B: ALLOC, FREE of its id, x4 */
		burst(&s, 2, 8, 3, 0);             /* C: 8 LISTs of runs */
		if (big)
			plain_alloc(&s, 2, 255 * PS);
		burst(&s, 0, 4, 4, OWN(0));        /* A exports what it holds */
		pause_conn(&s, 0, 5);
		burst(&s, 1, 4, 5, 0);             /* B imports A's handles */
		burst(&s, 2, 6, 2, 0);
		resume(&s, 1);
		burst(&s, 0, 3, 1, OWN(0));        /* A frees its newest, unread */
		burst(&s, 1, 3, 1, OTHER(0));      /* B frees others' (ENOENT) */
		pause_conn(&s, 2, 2);
		resume(&s, 0);
		close_conn(&s, 1);
		resume(&s, 2);
		burst(&s, 2, 2, 0, 0);
		simple(&s, FZ_RECLAIM);
		save(big ? "flood-big-max-out" : "flood-three-sessions", &s);
	}

	/* A second thread writes A's stash table while A and B allocate, free
	 * and look at the pool, takes run and a reload changes access. */
	begin(&s, FZ_CFG_SMALL_LIMITS | FZ_CFG_GAPS, 8);
	open_conn(&s, FZ_OPEN_UID);
	open_conn(&s, FZ_OPEN_UID | 1 << 2);
	hello(&s, 0);
	hello(&s, 1);
	stash_table(&s, 0);
	stash_table(&s, 1);
	plain_alloc(&s, 0, PS);
	plain_alloc(&s, 0, PS);
	plain_alloc(&s, 1, 2 * PS);
	race(&s, 0, 3);
	pause_conn(&s, 0, 0);
	burst(&s, 0, 4, 0, 0);
	take_by(&s, 0, 1);
	take_by(&s, 1, 1);
	take_by(&s, 1, 1);
	take_by(&s, 5, 1);                         /* B over a lowered quota */
	resume(&s, 0);
	take_by(&s, 2, 0);
	take_by(&s, 3, 0);
	burst(&s, 1, 3, 0, 0);
	take_by(&s, 4, 1);
	access_(&s, 0x0d, 0);                      /* uid 1001 loses the right */
	race(&s, 1, 0x11);                         /* now on B's table */
	take_by(&s, 1, 0);
	take_by(&s, 1, 0);
	access_(&s, 0x0f, 0x10);
	race(&s, 0, 0x80);                         /* stop */
	stash(&s, 0, 5, OWN(0));
	take_by(&s, 7, 0);                         /* A's session closes */
	simple(&s, FZ_RECLAIM);
	plain_alloc(&s, 1, PS);
	save("stash-race", &s);

	/* Every take path, each after the stash was filled again: own ids,
	 * others', predicted, garbage; quarantine on. */
	begin(&s, FZ_CFG_QUARANTINE, 12);
	open_conn(&s, 0);
	open_conn(&s, FZ_OPEN_UID);
	hello(&s, 0);
	hello(&s, 1);
	stash_table(&s, 0);
	stash_table(&s, 1);
	for (uint8_t how = 0; how < 8; how++) {
		plain_alloc(&s, 0, PS);
		plain_alloc(&s, 1, PS);
		plain_alloc(&s, 1, PS);
		stash(&s, 0, (uint8_t)(how * 4), OWN(0));
		stash(&s, 0, (uint8_t)(how * 4 + 1), OTHER(how));
		stash(&s, 1, (uint8_t)(how * 4), OWN(1));
		stash(&s, 1, (uint8_t)(how * 4 + 2), NEXT(0));
		stash(&s, 1, (uint8_t)(how * 4 + 3), JUNK(how));
		take_by(&s, how, (uint8_t)(how & 1));
	}
	simple(&s, FZ_RECLAIM);
	save("stash-take-paths", &s);

	/* A reload: uid 1000 loses the right to allocate (its stash is taken,
	 * it keeps what it holds, LIST shows it no physical address); the
	 * socket's group 3000 gains it; group 3001 may import other uids'
	 * handles. */
	begin(&s, 0, 0);
	open_conn(&s, FZ_OPEN_UID);
	open_conn(&s, FZ_OPEN_DENY | FZ_OPEN_GROUP_A);
	open_conn(&s, FZ_OPEN_DENY | 1 << 2 | FZ_OPEN_GROUP_B);
	open_conn(&s, 0);
	open_conn(&s, FZ_OPEN_UID);
	for (uint8_t i = 0; i < 5; i++)
		hello(&s, i);
	stash_table(&s, 0);
	stash_table(&s, 1);                        /* refused: EACCES */
	stash_table(&s, 4);
	plain_alloc(&s, 0, PS);
	plain_alloc(&s, 0, 2 * PS);
	plain_alloc(&s, 1, PS);                    /* EACCES */
	plain_alloc(&s, 4, PS);
	plain_alloc(&s, 4, PS);
	region_op(&s, 0, 1, 0);                    /* export */
	stash(&s, 0, 0, OWN(0));
	stash(&s, 0, 1, JUNK(1));
	stash(&s, 4, 0, OWN(0));
	stash(&s, 4, 1, OTHER(0));
	list(&s, 1, PROTO_TABLE_PAGES, 0);
	list(&s, 1, PROTO_TABLE_RUNS, 0);
	pause_conn(&s, 0, 0);
	burst(&s, 0, 12, 0, 0);                    /* the last reply stays queued */
	stash(&s, 0, 2, OWN(0));
	access_(&s, 0x00, 0x01 | 0x08 | 0x10);     /* by group only; import 3001; no
						    * SIGHUP take first: the recheck's */
	list(&s, 1, PROTO_TABLE_PAGES, 0);
	list(&s, 2, PROTO_TABLE_RUNS, 0);
	resume(&s, 0);
	list(&s, 0, PROTO_TABLE_PAGES, 0);
	list(&s, 0, PROTO_TABLE_REGIONS, 0);
	plain_alloc(&s, 1, PS);                    /* now allowed */
	handle_op(&s, 2, 0, 0);                    /* import: EACCES (may not allocate) */
	access_(&s, 0x00, 0x01 | 0x02 | 0x08 | 0x10);
	handle_op(&s, 2, 0, 0);                    /* import through group 3001 */
	region_op(&s, 0, 0, 0);
	take_by(&s, 0, 0);
	access_(&s, 0x0f, 0);
	save("access-reload", &s);

	/* fds attached to requests, of every kind, to sessions before and
	 * after HELLO, to one whose reply queue is full (the datagram waits
	 * unread), on empty datagrams; then with SO_PASSRIGHTS off. */
	for (int refuse = 0; refuse < 2; refuse++) {
		begin2(&s, 0, refuse ? FZ_CFG2_NO_PASSRIGHTS : 0, 16);
		for (int i = 0; i < 6; i++)
			open_conn(&s, 0);
		hello(&s, 0);
		hello(&s, 1);
		hello(&s, 2);
		hello(&s, 3);
		stash_table(&s, 0);
		plain_alloc(&s, 0, PS);                /* a page fd to send back */
		fd_msg(&s, 0, FZ_FD_PAGE | FZ_FD_TABLE << 3, PROTO_FREE, &fr, sizeof(fr));
		fd_msg(&s, 1, FZ_FD_OWN_SOCKET | 2 << 3, PROTO_ALLOC, &al, sizeof(al));
		fd_msg(&s, 4, FZ_FD_LISTEN, PROTO_HELLO, &hl, sizeof(hl));
		fd_msg(&s, 5, FZ_FD_SOCKETPAIR | FZ_FDS_EMPTY | 7 << 3, 0, NULL, 0);
		pause_conn(&s, 2, 0);
		burst(&s, 2, 12, 2, 0);                /* QUERYs until its queue is full */
		fd_msg(&s, 2, FZ_FD_MEMFD | 3 << 3, PROTO_ALLOC, &al, sizeof(al));
		fd_msg(&s, 3, FZ_FD_DEVNULL, PROTO_STASH, &(struct proto_stash){ 0 },
		       sizeof(struct proto_stash));
		resume(&s, 2);
		pause_conn(&s, 3, 0);
		burst(&s, 3, 12, 3, 4);
		fd_msg(&s, 3, FZ_FD_PIPE | 1 << 3, PROTO_QUERY, &(struct proto_query){ -1, 0 },
		       sizeof(struct proto_query));
		close_conn(&s, 3);                     /* gone with it unread */
		save(refuse ? "fds-attached-refused" : "fds-attached", &s);
	}

	/* Pipelined: ALLOC and FREE of the id it will get, before the reply is
	 * read (trusted mode hands the zeroed pages on at once). */
	for (int trusted = 0; trusted < 2; trusted++) {
		begin2(&s, FZ_CFG_GAPS, trusted ? FZ_CFG2_TRUSTED : 0, 20);
		open_conn(&s, 0);
		open_conn(&s, 0);
		hello(&s, 0);
		hello(&s, 1);
		stash_table(&s, 0);
		pause_conn(&s, 0, 0);
		burst(&s, 0, 6, 7, 0);
		stash(&s, 0, 0, NEXT(0));
		burst(&s, 0, 3, 0, 0);
		take_by(&s, 1, 1);
		take_by(&s, 1, 1);
		simple(&s, FZ_RECLAIM);
		burst(&s, 1, 4, 0, 0);
		resume(&s, 0);
		burst(&s, 1, 4, 1, OWN(0));
		simple(&s, FZ_RECLAIM);
		save(trusted ? "pipelined-free-trusted" : "pipelined-free", &s);
	}
}

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR   (writes OUTDIR/proto and OUTDIR/session)\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	snprintf(path, sizeof(path), "%s/proto", outdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/session", outdir);
	mkdir(path, 0755);
	proto_seeds();
	session_seeds();
	concurrency_seeds();
	return 0;
}
