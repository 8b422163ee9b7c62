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
 * The link ends the stash with the session (stash_end), before the socket
 * is closed, and a reuse looks at the socket for the daemon's hang-up
 * unless it did within the last ALIVE_NS: a poll(2) on every reuse would
 * cost more than the reuse itself, while one per ALIVE_NS at most costs
 * little of a core.
 * A daemon that died shows at the next look. A daemon that closes a live
 * session must take that session's entries out of its table before it
 * revokes their pages: the swap then fails here, look or no look.
 *
 * The entries, the table and everything about it are guarded by the
 * regions lock, the lock a free and an allocation take anyway: a reuse
 * costs one lock, a keep none of its own. The table comes from link
 * (link_stash_table), asked for once per session under the asking lock,
 * which only the first keep of a session waits for. enabled and nents are
 * atomic everywhere: they are peeked at without a lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "regions.h"
#include "stash.h"
#include "zero.h"

#define STASH_KEEP  16                 /* entries at most */
#define STASH_BYTES (64ull << 20)      /* and at most this much memory */
#define ZERO_LOCKED (256u << 10)       /* zero under the regions lock up to here */
#define ALIVE_NS    100000u            /* a hang-up check holds this long */

struct stash_entry {
	struct region reg;
	uint32_t slot;
};

struct stash {
	pthread_mutex_t asking;     /* one table request at a time */
	uint64_t refused_gen;       /* (asking) a session that would not give us one */
	/* A race of two first readers only stores the same answer twice. */
	_Atomic int enabled;        /* -1: CONTIG_STASH not read yet */
	/* The rest is the regions lock's. */
	uint64_t *table;            /* PROTO_STASH_SLOTS, shared with the daemon */
	uint64_t table_gen;         /* the session the table belongs to */
	int table_sock;             /* that session's socket (the link's; closed after stash_end) */
	bool hung_up;               /* the daemon closed that session: keep nothing more */
	uint64_t alive_ns;          /* CLOCK_MONOTONIC of the last look that found it alive */
	uint64_t used;              /* bit per slot holding one of our entries */
	uint64_t stashed;           /* bytes the entries map */
	struct stash_entry ents[STASH_KEEP];
	_Atomic uint32_t nents;     /* stash_get peeks at it without the lock */
	/* The installed table and its session, for the carve layer, which
	 * reads them without a lock (pub_read): pub_gen is 0 while pub_slots
	 * changes, and a generation is never used twice. */
	_Atomic uint64_t pub_gen;
	_Atomic(uint64_t *) pub_slots;
};

/* Entries take the lowest free slots, so they never reach the carve
 * layer's (one per arena, at the top of the table). */
static_assert(STASH_KEEP <= STASH_CARVE_SLOT0, "stash slots below the carve layer's");

static struct stash self = {
	.asking = PTHREAD_MUTEX_INITIALIZER, .enabled = -1, .table_sock = -1,
};

static bool stash_enabled(void)
{
	int on = atomic_load_explicit(&self.enabled, memory_order_relaxed);

	if (on < 0) {
		/* A setuid program must not take its caller's settings. */
		const char *e = secure_getenv("CONTIG_STASH");
		on = !(e && !strcmp(e, "0"));
		atomic_store_explicit(&self.enabled, on, memory_order_relaxed);
	}
	return on;
}

static uint32_t count(void)
{
	return atomic_load_explicit(&self.nents, memory_order_relaxed);
}

static void set_count(uint32_t n)
{
	atomic_store_explicit(&self.nents, n, memory_order_relaxed);
}

void stash_fork_prepare(void)
{
	pthread_mutex_lock(&self.asking);
}

void stash_fork_parent(void)
{
	pthread_mutex_unlock(&self.asking);
}

/* In the child: the table and the entries' pages are MADV_DONTFORK, so
 * none of it exists here; the parent's socket is the link's to close. */
void stash_fork_child(void)
{
	/* The child reads CONTIG_STASH again. */
	atomic_store_explicit(&self.enabled, -1, memory_order_relaxed);
	self.table = NULL;
	atomic_store(&self.pub_gen, 0);
	atomic_store(&self.pub_slots, NULL);
	self.table_gen = self.refused_gen = 0;
	self.table_sock = -1;
	self.hung_up = false;
	self.alive_ns = 0;
	self.used = 0;
	self.stashed = 0;
	set_count(0);
	pthread_mutex_unlock(&self.asking);
}

static void entry_remove(uint32_t i)
{
	uint32_t n = count();

	self.used &= ~(1ull << self.ents[i].slot);
	self.stashed -= self.ents[i].reg.mapped;
	self.ents[i] = self.ents[n - 1];
	set_count(n - 1);
}

/* Unmap every entry without taking it back: their session is over, and
 * with it the regions (the daemon revoked them, or died). */
static void drop_all(void)
{
	while (count()) {
		munmap((void *)self.ents[0].reg.base, self.ents[0].reg.mapped);
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
 * trip, a wrong "alive" a region whose pages are gone. */
static bool session_hung_up(void)
{
	struct pollfd pfd = { .fd = self.table_sock, .events = POLLRDHUP };
	uint64_t now;

	if (self.hung_up)
		return true;
	now = mono_ns();
	if (self.alive_ns && now - self.alive_ns < ALIVE_NS)
		return false;
	if (poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)))
		self.hung_up = true;
	else
		self.alive_ns = now;
	return self.hung_up;
}

/* Forget the table (the regions lock held). The carve layer may still
 * hold its address without a lock (stash_carve_table), so the range is not
 * given up: fresh private memory replaces the daemon's page there, where a
 * late write lands harmlessly and a late claim finds no id. That keeps a
 * page of address space per session that ends, which a reconnect makes
 * rare. */
static void table_reset(void)
{
	atomic_store(&self.pub_gen, 0);
	if (self.table &&
	    mmap(self.table, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
		(void)madvise(self.table, PROTO_STASH_BYTES, MADV_DONTFORK);
	self.table = NULL;
	self.table_gen = 0;
	self.table_sock = -1;
	self.hung_up = false;
	self.alive_ns = 0;
	self.used = 0;
}

void stash_end(void)
{
	regions_lock();
	drop_all();
	table_reset();
	regions_unlock();
}

/* Take entry i back from the daemon: true if it is ours again; false if
 * the daemon took it first (its page is revoked): then the mapping is
 * dropped. Whether its session is still alive is the caller's to check. */
static bool entry_claim(uint32_t i)
{
	uint64_t id = self.ents[i].reg.id;

	if (__atomic_compare_exchange_n(&self.table[self.ents[i].slot], &id, 0, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return true;
	munmap((void *)self.ents[i].reg.base, self.ents[i].reg.mapped);
	return false;
}

/* Drop the entries the daemon has taken (their slot reads 0). */
static void reap(void)
{
	for (uint32_t i = 0; i < count();) {
		const struct stash_entry *e = &self.ents[i];
		if (__atomic_load_n(&self.table[e->slot], __ATOMIC_ACQUIRE) == e->reg.id) {
			i++;
			continue;
		}
		munmap((void *)e->reg.base, e->reg.mapped);
		entry_remove(i);
	}
}

static bool full(const struct region *reg)
{
	return count() == STASH_KEEP || self.stashed + reg->mapped > STASH_BYTES;
}

int stash_put(const struct region *reg)
{
	if (reg->shared || reg->mapped > STASH_BYTES || !stash_enabled())
		return -EINVAL;
	if (!self.table || reg->session_gen != self.table_gen)
		return -ENOENT;
	if (self.hung_up)
		return -ENOTCONN;
	if (full(reg))
		reap();
	if (full(reg))
		return -ENOSPC;
	/* A slot of ours that the daemon took may still hold its mark
	 * (proto.h): only one that reads 0 is free. Release: the daemon may
	 * take the entry the moment it is visible. */
	for (uint64_t free_slots = ~self.used; free_slots; free_slots &= free_slots - 1) {
		uint32_t slot = (uint32_t)__builtin_ctzll(free_slots), n = count();
		uint64_t empty = 0;
		if (!__atomic_compare_exchange_n(&self.table[slot], &empty, reg->id, false,
						 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			continue;
		self.ents[n] = (struct stash_entry){ .reg = *reg, .slot = slot };
		set_count(n + 1);
		self.used |= 1ull << slot;
		self.stashed += reg->mapped;
		return 0;
	}
	return -ENOSPC;
}

/* Install the table link fetched for session gen, unless that session has
 * ended since (its stash_end may have run already: the link bumps the
 * generation before it calls it). true if installed. */
static bool table_install(uint64_t gen, const struct link_stash_table *t)
{
	bool ok;

	regions_lock();
	ok = link_session_gen() == gen;
	if (ok) {
		table_reset(); /* (an earlier session's table ended with it: stash_end) */
		self.table = t->slots;
		self.table_gen = gen;
		self.table_sock = t->sock;
		atomic_store(&self.pub_slots, t->slots);
		atomic_store(&self.pub_gen, gen);
	}
	regions_unlock();
	if (!ok)
		munmap(t->slots, PROTO_STASH_BYTES);
	return ok;
}

/* Get session gen's table from the daemon unless it is here already or
 * was refused. true: installed. */
static bool want_table(uint64_t gen)
{
	struct link_stash_table t;
	bool ready;
	int r;

	pthread_mutex_lock(&self.asking);
	regions_lock();
	ready = self.table && self.table_gen == gen;
	regions_unlock();
	if (!ready && self.refused_gen != gen) {
		r = link_stash_table(gen, &t);
		if (r == 0)
			ready = table_install(gen, &t);
		else if (r != -ESTALE) /* (-ESTALE: not the session connected now) */
			self.refused_gen = gen;
	}
	pthread_mutex_unlock(&self.asking);
	return ready;
}

bool stash_want_table(const struct region *reg)
{
	if (reg->shared || reg->mapped > STASH_BYTES || !stash_enabled())
		return false;
	return want_table(reg->session_gen);
}

/* The table of session gen, if it is the one installed. Sequentially
 * consistent loads (plain loads on x86): slots read between two reads of
 * the same nonzero generation is that generation's, since an install
 * clears the generation before it changes slots. A stale address is
 * harmless anyway: table_reset never unmaps one. */
static uint64_t *pub_read(uint64_t gen)
{
	uint64_t *slots;

	if (!gen || atomic_load(&self.pub_gen) != gen)
		return NULL;
	slots = atomic_load(&self.pub_slots);
	return atomic_load(&self.pub_gen) == gen ? slots : NULL;
}

uint64_t *stash_carve_table(uint64_t gen, bool ask)
{
	uint64_t *slots = pub_read(gen);

	if (!slots && ask && want_table(gen))
		slots = pub_read(gen);
	return slots;
}

void stash_flush(void)
{
	struct region give[STASH_KEEP];
	uint32_t ngive = 0;

	regions_lock();
	while (count()) {
		if (entry_claim(0))
			give[ngive++] = self.ents[0].reg;
		entry_remove(0);
	}
	regions_unlock();
	for (uint32_t i = 0; i < ngive; i++)
		link_region_free(&give[i]);
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
int stash_get(const struct proto_alloc *a, void **ret)
{
	struct region reg;
	bool found = false;
	int r;

	if (!count() || a->cache != PROTO_CACHED || !stash_enabled())
		return -ENOENT; /* a racy peek: a miss only costs the round trip */
	regions_lock();
	/* Newest first: the page most likely still in cache. */
	for (uint32_t i = count(); i-- > 0;) {
		if (!entry_fits(&self.ents[i], a))
			continue;
		found = entry_claim(i);
		reg = self.ents[i].reg;
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
		regions_unlock();
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
		regions_unlock();
		zero_bytes((void *)reg.base, dirty);
		regions_lock();
	} else {
		zero_bytes((void *)reg.base, dirty);
	}
	r = regions_insert(&reg);
	regions_unlock();
	if (r < 0) {
		link_region_free(&reg);
		return r;
	}
	*ret = (void *)reg.base;
	return 0;
}
