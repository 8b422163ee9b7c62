/* SPDX-License-Identifier: MIT */
/*
 * stash.c - regions this process freed, kept mapped so that the next
 * allocation they fit is served with no round trip to the daemon (the
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
 * An entry is only ever reused while its session is known to be alive: a
 * session that ended took its regions with it (a daemon that closed on us
 * revoked the pages, so the mapping would fault in a frame that is not at
 * the entry's physical address; a dead daemon's pages belong to no pool).
 * link_drop ends the stash with the session (stash_end), before the socket
 * is closed, and a reuse looks at the socket for the daemon's hang-up
 * unless it did within the last ALIVE_NS: a poll(2) on every reuse would
 * cost more than the reuse itself (1.8 us against 0.1 us on a VM with
 * costly system calls), one per ALIVE_NS at most a few percent of a core.
 * A daemon that died shows at the next look. A daemon that closes a live
 * session must take that session's entries out of its table before it
 * revokes their pages: the swap then fails here, look or no look.
 *
 * The entries are guarded by lc.table, the lock a free and an allocation
 * take anyway: a reuse costs one lock, a keep none of its own. The table,
 * its session and its socket change under lc.lock and lc.table both, so
 * either lock is enough to read them; hung_up is lc.table's alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
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
#define ALIVE_NS    100000u            /* a hang-up check holds this long */

struct stash_entry {
	struct lc_region reg;
	uint32_t slot;
};

/* Read without a lock (the unlocked peek, small_*): atomic, and a race of
 * two first readers only stores the same answer twice. */
static int enabled = -1;           /* -1: CONTIG_STASH not read yet */
static uint64_t *table;            /* PROTO_STASH_SLOTS, shared with the daemon */
static uint64_t table_gen;         /* the session the table belongs to */
static int table_sock = -1;        /* that session's socket (lc.sock; link_drop closes it) */
static bool hung_up;               /* the daemon closed that session: keep nothing more */
static uint64_t alive_ns;          /* CLOCK_MONOTONIC of the last look that found it alive */
static uint64_t refused_gen;       /* a session that would not give us one (lc.lock) */
static uint64_t used;              /* bit per slot holding one of our entries */
static uint64_t stashed;           /* bytes the entries map */
static struct stash_entry ents[STASH_KEEP];
static uint32_t nents;             /* written atomically: stash_get peeks without lc.table */

static bool stash_enabled(void)
{
	int on = __atomic_load_n(&enabled, __ATOMIC_RELAXED);

	if (on < 0) {
		/* A setuid program must not take its caller's settings. */
		const char *e = secure_getenv("CONTIG_STASH");
		on = !(e && !strcmp(e, "0"));
		__atomic_store_n(&enabled, on, __ATOMIC_RELAXED);
	}
	return on;
}

static void set_nents(uint32_t n)
{
	__atomic_store_n(&nents, n, __ATOMIC_RELAXED);
}

/* In the child: the table and the entries' pages are MADV_DONTFORK, so
 * none of it exists here; the parent's socket is closed by the caller. */
void stash_forget(void)
{
	__atomic_store_n(&enabled, -1, __ATOMIC_RELAXED); /* the child reads CONTIG_STASH again */
	table = NULL;
	table_gen = refused_gen = 0;
	table_sock = -1;
	hung_up = false;
	alive_ns = 0;
	used = 0;
	stashed = 0;
	set_nents(0);
}

static void entry_remove(uint32_t i)
{
	used &= ~(1ull << ents[i].slot);
	stashed -= ents[i].reg.mapped;
	ents[i] = ents[nents - 1];
	set_nents(nents - 1);
}

/* Unmap every entry without taking it back: their session is over, and
 * with it the regions (the daemon revoked them, or died). lc.table held. */
static void drop_all(void)
{
	while (nents) {
		munmap((void *)ents[0].reg.base, ents[0].reg.mapped);
		entry_remove(0);
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* the vDSO's: no system call */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Has the daemon closed the table's session? A peer's close shows as a
 * hang-up on our end at once (unix(7)); the replies still queued there
 * are the link's to read. Errors count as closed: a miss costs a round
 * trip, a wrong "alive" a region whose pages are gone. lc.table held. */
static bool session_hung_up(void)
{
	struct pollfd pfd = { .fd = table_sock, .events = POLLRDHUP };
	uint64_t now;

	if (hung_up)
		return true;
	now = mono_ns();
	if (alive_ns && now - alive_ns < ALIVE_NS)
		return false;
	if (poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)))
		hung_up = true;
	else
		alive_ns = now;
	return hung_up;
}

void stash_end(void)
{
	pthread_mutex_lock(&lc.table);
	drop_all();
	if (table)
		munmap(table, PROTO_STASH_BYTES);
	table = NULL;
	table_gen = 0;
	table_sock = -1;
	hung_up = false;
	alive_ns = 0;
	used = 0;
	pthread_mutex_unlock(&lc.table);
}

/* Take entry i back from the daemon: true if it is ours again; false if
 * the daemon took it first (its page is revoked): then the mapping is
 * dropped. Whether its session is still alive is the caller's to check. */
static bool entry_claim(uint32_t i)
{
	uint64_t id = ents[i].reg.id;

	if (__atomic_compare_exchange_n(&table[ents[i].slot], &id, 0, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return true;
	munmap((void *)ents[i].reg.base, ents[i].reg.mapped);
	return false;
}

/* Drop the entries the daemon has taken (their slot reads 0). */
static void reap(void)
{
	for (uint32_t i = 0; i < nents;) {
		if (__atomic_load_n(&table[ents[i].slot], __ATOMIC_ACQUIRE) == ents[i].reg.id) {
			i++;
			continue;
		}
		munmap((void *)ents[i].reg.base, ents[i].reg.mapped);
		entry_remove(i);
	}
}

bool stash_put(const struct lc_region *reg)
{
	if (reg->shared || reg->mapped > STASH_BYTES || !stash_enabled() || !table || hung_up ||
	    reg->session_gen != table_gen)
		return false;
	if (nents == STASH_KEEP || stashed + reg->mapped > STASH_BYTES)
		reap();
	if (nents == STASH_KEEP || stashed + reg->mapped > STASH_BYTES || used == UINT64_MAX)
		return false;
	uint32_t slot = (uint32_t)__builtin_ctzll(~used);
	ents[nents] = (struct stash_entry){ .reg = *reg, .slot = slot };
	set_nents(nents + 1);
	used |= 1ull << slot;
	stashed += reg->mapped;
	/* Release: the daemon may take it the moment it is visible. */
	__atomic_store_n(&table[slot], reg->id, __ATOMIC_RELEASE);
	return true;
}

/* The daemon's table must be what both sides map, and stay so: a file we
 * could be cut short under would SIGBUS us on the next slot we touch
 * (memfd_create(2): F_SEAL_SHRINK, F_SEAL_GROW). Borrows fd. */
static int table_check(int fd)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != PROTO_STASH_BYTES)
		return -EPROTO;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -EPROTO; /* not a memfd (or shmem) at all */
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPROTO;
	return 0;
}

/* The session's table, asked for once per session. Called with lc.lock.
 * A table that fails table_check is refused: the session goes on without
 * a stash. */
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
	if (m.hdr.type == PROTO_STATUS) {
		proto_close_fds(fds, nfds);
		return m.body.status.error ? -m.body.status.error : -EPROTO;
	}
	if (m.hdr.type != PROTO_STASH_TABLE || nfds != 1) {
		proto_close_fds(fds, nfds);
		link_drop();
		return -EPROTO;
	}
	r = table_check(fds[0]);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	map = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	close(fds[0]);
	if (map == MAP_FAILED)
		return -errno;
	(void)madvise(map, PROTO_STASH_BYTES, MADV_DONTFORK);
	pthread_mutex_lock(&lc.table);
	/* An earlier session's table and entries ended with it (stash_end). */
	if (table)
		munmap(table, PROTO_STASH_BYTES);
	table = map;
	table_gen = lc.session_gen;
	table_sock = lc.sock;
	hung_up = false;
	alive_ns = 0;
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
	/* After the swap: a session found alive then had not been closed
	 * when we took the entry back, so the region was one of its live
	 * regions, its pages still the ones at reg.phys. */
	if (found && session_hung_up()) {
		munmap((void *)reg.base, reg.mapped);
		drop_all();
		found = false;
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
