/* SPDX-License-Identifier: MIT */
/*
 * stash.c - regions this process freed, kept mapped so that the next
 * allocation they fit is served with no round trip and no system call (the
 * table's protocol is in proto.h).
 *
 * A freed region that only this process ever mapped (STASH_BYTES at most)
 * is written into a free slot of the session's stash table and stays mapped
 * here. contig_alloc takes an entry that satisfies its request back with a
 * compare-and-swap of the slot, zeroes the bytes earlier regions in it were
 * given (only ever this process's own), and hands it out. The daemon swaps
 * entries out whenever it needs memory, describes the pool, or sees one
 * untouched for a second, and frees them as if we had: an entry whose swap
 * we lose is only unmapped here.
 *
 * So a page leaves this process only through the daemon's revoke, exactly
 * as after an ordinary free, and the stash never hides memory from others:
 * to the daemon it is free memory one exchange away, and idle memory goes
 * back without a thread here. CONTIG_STASH=0 turns it off.
 *
 * The entries are guarded by lc.table, the lock a free and an allocation
 * take anyway: a reuse costs one lock, a keep none of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "contig.h"
#include "internal.h"

#define STASH_KEEP  16                 /* entries at most */
#define STASH_BYTES (64ull << 20)      /* and at most this much memory */
#define NT_FROM     (8u << 20)         /* zero with streaming stores from here */
#define ZERO_LOCKED (256u << 10)       /* zero under lc.table up to here */

struct stash_entry {
	struct lc_region reg;
	uint32_t slot;
};

static int enabled = -1;           /* -1: CONTIG_STASH not read yet */
static uint64_t *table;            /* PROTO_STASH_SLOTS, shared with the daemon */
static uint64_t table_gen;         /* the session the table belongs to */
static uint64_t refused_gen;       /* a session that would not give us one */
static uint64_t used;              /* bit per slot holding one of our entries */
static uint64_t stashed;           /* bytes the entries map */
static struct stash_entry ents[STASH_KEEP];
static uint32_t nents;

static bool stash_enabled(void)
{
	if (enabled < 0) {
		const char *e = getenv("CONTIG_STASH");
		enabled = !(e && !strcmp(e, "0"));
	}
	return enabled;
}

/* In the child: the table and the entries' pages are MADV_DONTFORK, so
 * none of it exists here. */
void stash_forget(void)
{
	enabled = -1; /* the child reads CONTIG_STASH again */
	table = NULL;
	table_gen = refused_gen = 0;
	used = 0;
	stashed = 0;
	nents = 0;
}

/* The session now: written under lc.lock, read here without it (a session
 * that ends meanwhile only makes the next request fail and reconnect). */
static uint64_t current_gen(void)
{
	return __atomic_load_n(&lc.session_gen, __ATOMIC_ACQUIRE);
}

static bool entry_live_session(const struct stash_entry *e)
{
	return table && table_gen == e->reg.session_gen && e->reg.session_gen == current_gen() &&
	       __atomic_load_n(&lc.sock, __ATOMIC_RELAXED) >= 0;
}

static void entry_remove(uint32_t i)
{
	used &= ~(1ull << ents[i].slot);
	stashed -= ents[i].reg.mapped;
	ents[i] = ents[--nents];
}

/* Take entry i back from the daemon: true if it is ours again; false if
 * the daemon took it first (its page is revoked), or its session is gone
 * (and its pages with our mapping): then the mapping is dropped. */
static bool entry_claim(uint32_t i)
{
	uint64_t id = ents[i].reg.id;

	if (entry_live_session(&ents[i]) &&
	    __atomic_compare_exchange_n(&table[ents[i].slot], &id, 0, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return true;
	munmap((void *)ents[i].reg.base, ents[i].reg.mapped);
	return false;
}

/* Drop the entries the daemon has taken (their slot reads 0) or whose
 * session is gone. */
static void reap(void)
{
	for (uint32_t i = 0; i < nents;) {
		if (entry_live_session(&ents[i]) &&
		    __atomic_load_n(&table[ents[i].slot], __ATOMIC_ACQUIRE) == ents[i].reg.id) {
			i++;
			continue;
		}
		munmap((void *)ents[i].reg.base, ents[i].reg.mapped);
		entry_remove(i);
	}
}

bool stash_put(const struct lc_region *reg)
{
	if (reg->shared || reg->mapped > STASH_BYTES || !stash_enabled() ||
	    table_gen != reg->session_gen || reg->session_gen != current_gen())
		return false;
	if (nents == STASH_KEEP || stashed + reg->mapped > STASH_BYTES)
		reap();
	if (nents == STASH_KEEP || stashed + reg->mapped > STASH_BYTES || used == UINT64_MAX)
		return false;
	uint32_t slot = (uint32_t)__builtin_ctzll(~used);
	ents[nents++] = (struct stash_entry){ .reg = *reg, .slot = slot };
	used |= 1ull << slot;
	stashed += reg->mapped;
	/* Release: the daemon may take it the moment it is visible. */
	__atomic_store_n(&table[slot], reg->id, __ATOMIC_RELEASE);
	return true;
}

/* The session's table, asked for once per session. Called with lc.lock. */
static int table_fetch(void)
{
	struct proto_stash body = { 0 };
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	uint32_t request;
	struct proto_msg m;
	size_t nfds = 0;
	void *map;
	int r;

	if (lc.sock < 0)
		return -ENOTCONN;
	request = ++lc.next_request;
	r = link_send(PROTO_STASH, request, &body, sizeof(body));
	if (r == 0)
		r = link_recv(request, &m, buf, fds, &nfds);
	if (r < 0)
		return r;
	if (m.hdr.type == PROTO_STATUS)
		return m.body.status.error ? -m.body.status.error : -EPROTO;
	if (m.hdr.type != PROTO_STASH_TABLE) {
		proto_close_fds(fds, nfds);
		link_drop();
		return -EPROTO;
	}
	map = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	close(fds[0]);
	if (map == MAP_FAILED)
		return -errno;
	(void)madvise(map, PROTO_STASH_BYTES, MADV_DONTFORK);
	pthread_mutex_lock(&lc.table);
	/* The old session's entries went with it (its daemon took or lost
	 * them); their mappings go now. */
	while (nents) {
		munmap((void *)ents[0].reg.base, ents[0].reg.mapped);
		entry_remove(0);
	}
	if (table)
		munmap(table, PROTO_STASH_BYTES);
	table = map;
	table_gen = lc.session_gen;
	used = 0;
	pthread_mutex_unlock(&lc.table);
	return 0;
}

bool stash_want_table(const struct lc_region *reg)
{
	if (reg->shared || reg->mapped > STASH_BYTES || !stash_enabled())
		return false;
	pthread_mutex_lock(&lc.lock);
	if (reg->session_gen == lc.session_gen && lc.sock >= 0 && table_gen != lc.session_gen &&
	    refused_gen != lc.session_gen && table_fetch() < 0)
		refused_gen = lc.session_gen;
	bool ready = reg->session_gen == lc.session_gen && table_gen == lc.session_gen;
	pthread_mutex_unlock(&lc.lock);
	return ready;
}

void stash_flush(void)
{
	struct lc_region give[STASH_KEEP];
	uint32_t ngive = 0;

	pthread_mutex_lock(&lc.table);
	while (nents) {
		if (entry_claim(0))
			give[ngive++] = ents[0].reg;
		entry_remove(0);
	}
	pthread_mutex_unlock(&lc.table);
	for (uint32_t i = 0; i < ngive; i++)
		lc_region_release(&give[i]);
}

/* Does entry e satisfy a (its cache type is checked by the caller)? A page
 * serves any request it holds; a longer region only one of as many pages,
 * so that a small request never sits on a large region. */
static bool entry_fits(const struct stash_entry *e, const struct proto_alloc *a)
{
	uint64_t first = e->reg.phys, last = e->reg.phys + a->nbytes - 1;
	uint64_t pages = (a->nbytes + e->reg.page_size - 1) / e->reg.page_size;

	if (a->nbytes > e->reg.mapped || first < a->lowest || last > a->highest)
		return false;
	if (e->reg.mapped > e->reg.page_size && pages * e->reg.page_size != e->reg.mapped)
		return false;
	if (a->boundary && (first & ~(a->boundary - 1)) != (last & ~(a->boundary - 1)))
		return false;
	return a->node == PROTO_NODE_ANY || a->node == e->reg.node;
}

/* A region reused back to back is still in the caches, where memset is
 * fastest (2 MiB: 68-77 us against 92-99 us with streaming stores here);
 * past what they keep, streaming stores go at memory bandwidth without
 * reading every line in first (2.4x memset on 64 MiB, BENCHMARKS.md). */
static void zero(void *p, uint64_t n)
{
#if defined(__x86_64__)
	if (n >= NT_FROM) {
		__m128i z = _mm_setzero_si128(), *q = p;
		uint64_t whole = n & ~(uint64_t)63;
		for (__m128i *end = (__m128i *)((char *)p + whole); q < end; q += 4) {
			_mm_stream_si128(q, z);
			_mm_stream_si128(q + 1, z);
			_mm_stream_si128(q + 2, z);
			_mm_stream_si128(q + 3, z);
		}
		_mm_sfence();
		memset((char *)p + whole, 0, n - whole);
		return;
	}
#endif
	memset(p, 0, n);
}

int stash_get(const struct proto_alloc *a, void **ret)
{
	struct lc_region reg;
	bool found = false;
	int r;

	if (!__atomic_load_n(&nents, __ATOMIC_RELAXED) || a->cache != PROTO_CACHED ||
	    !stash_enabled())
		return -ENOENT; /* a racy peek: a miss only costs the round trip */
	pthread_mutex_lock(&lc.table);
	/* Newest first: the page most likely still in cache. */
	for (uint32_t i = nents; i-- > 0;) {
		if (!entry_fits(&ents[i], a))
			continue;
		found = entry_claim(i);
		reg = ents[i].reg;
		entry_remove(i);
		if (found)
			break;
	}
	if (!found) {
		pthread_mutex_unlock(&lc.table);
		return -ENOENT;
	}
	/* Only this process ever wrote here, and only within what it was
	 * given: zero that much of what the new region covers. Small ones
	 * under the lock; a long zeroing must not hold up other threads. */
	uint64_t dirty = a->nbytes < reg.dirty ? a->nbytes : reg.dirty;
	reg.nbytes = a->nbytes;
	if (a->nbytes > reg.dirty)
		reg.dirty = a->nbytes;
	if (dirty > ZERO_LOCKED) {
		pthread_mutex_unlock(&lc.table);
		zero((void *)reg.base, dirty);
		pthread_mutex_lock(&lc.table);
	} else {
		zero((void *)reg.base, dirty);
	}
	r = regions_insert(&reg);
	pthread_mutex_unlock(&lc.table);
	if (r < 0) {
		lc_region_release(&reg);
		return r;
	}
	*ret = (void *)reg.base;
	return 0;
}
