/* SPDX-License-Identifier: MIT */
/*
 * carve.c - page granularity (see carve.h): a request smaller than a
 * pool page is carved from a pool page this process leases from contigd
 * (one PROTO_ALLOC of one page, flagged PROTO_ALLOC_CARVE), at 4 KiB
 * granularity, any size in any page.
 *
 * The promises hold because a leased page is one physically contiguous,
 * naturally aligned hugepage mapped by this process alone: a run of units
 * in it is contiguous, its physical address is the page's plus the offset,
 * and a constraint (floor, ceiling, boundary, node) is a question about
 * units (unitmap.c answers it). Blocks are zeroed when handed out, only as
 * far as this process ever wrote in the page (clean_from); a fresh page
 * comes zeroed from the daemon.
 *
 * Threads: pages belong to arenas, one lock each, as many as CPUs (at most
 * PROTO_CARVE_LINES); a thread carves in its own arena, so threads do not
 * share a lock on the fast path; a free takes the lock of the page's arena,
 * whichever thread it runs on. Nothing is asked of the daemon under an
 * arena lock: a lease is made without it, then the page joins the arena.
 *
 * Lookups take no lock: an index from each 2 MiB of address space to the
 * leased page there (a two-level table whose leaves are never freed) and,
 * per page, the start unit of the live region holding each unit. Page
 * records are never freed either (they are recycled), so a lookup racing a
 * page's return reads a stale record, never freed memory, and answers as
 * for any address that is not live.
 *
 * Memory comes back: a page whose last region is freed goes back to the
 * daemon, except one per arena, parked: its id sits in the arena's slot of
 * the session's stash table (proto.h), where the daemon takes it whenever
 * it needs memory, describes the pool, or sees it idle; the next carve
 * that wants it takes it back with a compare-and-swap, and a lost swap
 * means the page is gone (unmapped here, nothing told). Each arena writes
 * its bytes in use to its report line in the same table, for contigctl.
 *
 * A page of an ended session (a daemon restart) is carved no more: its
 * live regions stay until freed, and then it is only unmapped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "carve.h"
#include "contig.h"
#include "link.h"
#include "stash.h"
#include "unitmap.h"
#include "zero.h"

#define UNIT_SHIFT    12u
#define UNIT          (1ull << UNIT_SHIFT)
#define CARVE_ALWAYS  ((2ull << 20) - 1)  /* below the smallest pool page: carved whatever the page */
#define NO_HEAD       UINT32_MAX
#define MAX_ARENAS    PROTO_CARVE_LINES
#define NODE_FULL_NS  100000000ull  /* a node that refused a lease is not asked for this long */
#define ALIVE_NS      100000ull     /* a session found alive is not looked at again for this long */
#define GRANULE_SHIFT 21u           /* index key: 2 MiB of address space */
#define INDEX_BITS    13u           /* two levels of 13 bits: 47-bit addresses */

struct arena;

struct cpage {
	struct region reg;             /* one pool page, leased for carving */
	/* Read by lock-free lookups. */
	_Atomic uintptr_t base;
	_Atomic uint64_t phys;
	_Atomic uint32_t nunits;
	_Atomic(struct arena *) arena;
	_Atomic uint32_t *head;        /* per unit: start of the live region holding it, or NO_HEAD */
	_Atomic uint32_t *len;         /* per start unit: the bytes asked */
	/* The arena lock's. */
	uint32_t cap;                  /* units head and len hold */
	struct unitmap map;
	uint32_t clean_from;           /* units from here were never handed out since the lease */
	uint32_t live;                 /* live regions */
	bool leased, parked, in_avail;
	bool tell;                     /* released: tell the daemon (else only unmap) */
	struct cpage *next, *prev;     /* arena's avail list; then the release or spare list */
};

struct arena {
	pthread_mutex_t lock;
	struct cpage *avail;           /* pages of the session with a free unit, not parked */
	struct cpage *parked;          /* the empty page its table slot offers the daemon */
	uint64_t in_use;               /* bytes of live regions in its pages */
	unsigned index;
} __attribute__((aligned(64)));

struct carve {
	pthread_mutex_t pages_lock;    /* all, spare */
	struct cpage **all;            /* every record ever made */
	size_t nall, cap;
	struct cpage *spare;
	struct arena arenas[MAX_ARENAS];
	unsigned narenas;
	_Atomic unsigned next_arena;
	_Atomic int enabled;           /* -1: CONTIG_CARVE not read yet */
	_Atomic uint64_t page_size;    /* of the latest lease */
	_Atomic uint64_t node_full_until[PROTO_MAX_NODES];
	_Atomic uint64_t alive_ns;     /* when the session was last found alive */
};

static struct carve self = { .pages_lock = PTHREAD_MUTEX_INITIALIZER, .enabled = -1 };
static _Atomic(_Atomic(struct cpage *) *) index_top[1u << INDEX_BITS];
static __thread int my_arena_index __attribute__((tls_model("initial-exec"))) = -1;

__attribute__((constructor)) static void carve_init(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	self.narenas = n < 1 ? 1 : n > MAX_ARENAS ? MAX_ARENAS : (unsigned)n;
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		pthread_mutex_init(&self.arenas[i].lock, NULL);
		self.arenas[i].index = i;
	}
}

static int carve_enabled(void)
{
	int on = atomic_load_explicit(&self.enabled, memory_order_relaxed);

	if (on < 0) {
		/* A setuid program must not take its caller's settings. */
		const char *e = secure_getenv("CONTIG_CARVE");
		on = !(e && !strcmp(e, "0"));
		atomic_store_explicit(&self.enabled, on, memory_order_relaxed);
	}
	return on;
}

static struct arena *my_arena(void)
{
	if (my_arena_index < 0)
		my_arena_index = (int)(atomic_fetch_add_explicit(&self.next_arena, 1,
								 memory_order_relaxed) % self.narenas);
	return &self.arenas[my_arena_index];
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- the index: 2 MiB of address space -> the page leased there --- */

static _Atomic(struct cpage *) *index_leaf(uint64_t key, bool make)
{
	_Atomic(_Atomic(struct cpage *) *) *top = &index_top[key >> INDEX_BITS];
	_Atomic(struct cpage *) *leaf = atomic_load_explicit(top, memory_order_acquire);

	if (!leaf && make) {
		_Atomic(struct cpage *) *fresh = calloc(1u << INDEX_BITS, sizeof(*fresh));
		if (!fresh)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(top, &leaf, fresh, memory_order_acq_rel,
							    memory_order_acquire))
			leaf = fresh;
		else
			free(fresh);
	}
	return leaf;
}

/* Point [base, base + len) at cp, or at nothing (cp NULL). 0 or -ENOMEM. */
static int index_set(uintptr_t base, uint64_t len, struct cpage *cp)
{
	for (uint64_t k = base >> GRANULE_SHIFT, end = (base + len - 1) >> GRANULE_SHIFT; k <= end;
	     k++) {
		if (k >> (2 * INDEX_BITS))
			return -ENOMEM; /* beyond 47 bits: not carved */
		_Atomic(struct cpage *) *leaf = index_leaf(k, cp != NULL);
		if (!leaf) {
			if (cp)
				return -ENOMEM;
			continue;
		}
		atomic_store_explicit(&leaf[k & ((1u << INDEX_BITS) - 1)], cp, memory_order_release);
	}
	return 0;
}

static struct cpage *index_get(uintptr_t va)
{
	uint64_t k = va >> GRANULE_SHIFT;
	_Atomic(struct cpage *) *leaf;

	if (k >> (2 * INDEX_BITS))
		return NULL;
	leaf = atomic_load_explicit(&index_top[k >> INDEX_BITS], memory_order_acquire);
	if (!leaf)
		return NULL;
	return atomic_load_explicit(&leaf[k & ((1u << INDEX_BITS) - 1)], memory_order_acquire);
}

/* --- page records --- */

static int page_arrays(struct cpage *cp, uint32_t nunits)
{
	_Atomic uint32_t *head, *len;
	struct unitmap map;

	if (cp->cap == nunits) {
		unitmap_reset(&cp->map); /* (its heads are NO_HEAD: every region was freed) */
		return 0;
	}
	head = malloc(nunits * sizeof(*head));
	len = calloc(nunits, sizeof(*len));
	if (!head || !len || unitmap_init(&map, nunits) < 0) {
		free(head);
		free(len);
		return -ENOMEM;
	}
	for (uint32_t u = 0; u < nunits; u++)
		atomic_init(&head[u], NO_HEAD);
	/* Only a new pool page size gets here (a daemon restarted with
	 * another): a lookup racing it was reading an address that is not
	 * live. */
	free(cp->head);
	free(cp->len);
	unitmap_fini(&cp->map);
	cp->head = head;
	cp->len = len;
	cp->map = map;
	cp->cap = nunits;
	return 0;
}

static struct cpage *page_get(uint32_t nunits)
{
	struct cpage *cp;

	pthread_mutex_lock(&self.pages_lock);
	cp = self.spare;
	if (cp)
		self.spare = cp->next;
	pthread_mutex_unlock(&self.pages_lock);
	if (!cp) {
		cp = calloc(1, sizeof(*cp));
		if (!cp)
			return NULL;
		pthread_mutex_lock(&self.pages_lock);
		if (self.nall == self.cap) {
			size_t ncap = self.cap ? self.cap * 2 : 64;
			struct cpage **v = realloc(self.all, ncap * sizeof(*v));
			if (!v) {
				pthread_mutex_unlock(&self.pages_lock);
				free(cp);
				return NULL;
			}
			self.all = v;
			self.cap = ncap;
		}
		self.all[self.nall++] = cp;
		pthread_mutex_unlock(&self.pages_lock);
	}
	if (page_arrays(cp, nunits) < 0) {
		pthread_mutex_lock(&self.pages_lock);
		cp->next = self.spare;
		self.spare = cp;
		pthread_mutex_unlock(&self.pages_lock);
		return NULL;
	}
	return cp;
}

static void page_put(struct cpage *cp)
{
	pthread_mutex_lock(&self.pages_lock);
	cp->leased = false;
	cp->next = self.spare;
	self.spare = cp;
	pthread_mutex_unlock(&self.pages_lock);
}

/* --- an arena's lists (its lock held) --- */

static void avail_add(struct arena *ar, struct cpage *cp)
{
	if (cp->in_avail)
		return;
	cp->prev = NULL;
	cp->next = ar->avail;
	if (ar->avail)
		ar->avail->prev = cp;
	ar->avail = cp;
	cp->in_avail = true;
}

static void avail_remove(struct arena *ar, struct cpage *cp)
{
	if (!cp->in_avail)
		return;
	if (cp->prev)
		cp->prev->next = cp->next;
	else
		ar->avail = cp->next;
	if (cp->next)
		cp->next->prev = cp->prev;
	cp->next = cp->prev = NULL;
	cp->in_avail = false;
}

/* Take cp out of the arena and the index, onto *gone for release_pages
 * once the lock is dropped; tell: free it at the daemon (else unmap only). */
static void detach(struct arena *ar, struct cpage *cp, bool tell, struct cpage **gone)
{
	avail_remove(ar, cp);
	if (ar->parked == cp)
		ar->parked = NULL;
	cp->parked = false;
	(void)index_set(cp->reg.base, cp->reg.mapped, NULL);
	cp->tell = tell;
	cp->next = *gone;
	*gone = cp;
}

/* No lock held: the daemon may be asked. */
static void release_pages(struct cpage *gone)
{
	while (gone) {
		struct cpage *next = gone->next;
		if (gone->tell)
			link_region_free(&gone->reg);
		else
			munmap((void *)gone->reg.base, gone->reg.mapped);
		page_put(gone);
		gone = next;
	}
}

/* --- the stash table: parking, and the report --- */

static _Atomic uint64_t *park_slot(const struct arena *ar, uint64_t gen)
{
	uint64_t *t = stash_carve_table(gen, false);

	return t ? (_Atomic uint64_t *)&t[STASH_CARVE_SLOT0 + ar->index] : NULL;
}

static void report(const struct arena *ar, uint64_t gen)
{
	uint64_t *t = stash_carve_table(gen, false);

	if (t)
		atomic_store_explicit((_Atomic uint64_t *)((char *)t + PROTO_CARVE_REPORT_OFF +
							   ar->index * PROTO_CARVE_LINE_BYTES),
				      ar->in_use, memory_order_relaxed);
}

/* Offer empty page cp to the daemon in the arena's slot. */
static bool park(struct arena *ar, struct cpage *cp)
{
	_Atomic uint64_t *slot = park_slot(ar, cp->reg.session_gen);

	if (!slot || atomic_load_explicit(slot, memory_order_acquire))
		return false;
	/* Release: the daemon may take it the moment it is visible. */
	atomic_store_explicit(slot, cp->reg.id, memory_order_release);
	return true;
}

/* Take parked page cp back: false if the daemon took it first (or its
 * session is over). */
static bool unpark(struct arena *ar, struct cpage *cp, uint64_t gen)
{
	_Atomic uint64_t *slot;
	uint64_t id = cp->reg.id;

	if (cp->reg.session_gen != gen || !(slot = park_slot(ar, gen)))
		return false;
	return atomic_compare_exchange_strong_explicit(slot, &id, 0, memory_order_acq_rel,
						       memory_order_acquire);
}

/* Has the daemon taken the arena's parked page? */
static bool parked_gone(struct arena *ar, uint64_t gen)
{
	const struct cpage *cp = ar->parked;
	_Atomic uint64_t *slot = park_slot(ar, gen);

	return cp->reg.session_gen != gen || !slot ||
	       atomic_load_explicit(slot, memory_order_acquire) != cp->reg.id;
}

/* cp's last region was freed: park it, or let it go. */
static void page_empty(struct arena *ar, struct cpage *cp, uint64_t gen, struct cpage **gone)
{
	if (cp->reg.session_gen != gen) {
		detach(ar, cp, false, gone); /* (its session is over: nothing to tell) */
		return;
	}
	if (ar->parked && parked_gone(ar, gen))
		detach(ar, ar->parked, false, gone);
	if (!ar->parked && park(ar, cp)) {
		avail_remove(ar, cp);
		cp->parked = true;
		ar->parked = cp;
		return;
	}
	detach(ar, cp, true, gone);
}

/* --- carving --- */

struct grant {
	uintptr_t va;
	uint64_t dirty;                /* bytes from va to zero */
};

static uint32_t units_of(uint64_t nbytes)
{
	return (uint32_t)((nbytes + UNIT - 1) >> UNIT_SHIFT);
}

/* Where in cp a region for a of n units fits, every byte of it within
 * [lowest, highest] and inside one boundary window, or UNITMAP_NONE. The
 * page is naturally aligned, so a boundary of a page or more never cuts it. */
static uint32_t fit(const struct cpage *cp, const struct proto_alloc *a, uint32_t n)
{
	uint64_t phys = cp->reg.phys, size = cp->reg.mapped;
	uint32_t lo = 0, last = cp->map.nunits - n, window = 0;

	if (cp->map.nfree < n)
		return UNITMAP_NONE;
	if (a->lowest > phys) {
		if (a->lowest - phys >= size)
			return UNITMAP_NONE;
		lo = units_of(a->lowest - phys);
	}
	if (a->highest < phys + size - 1) {
		if (a->highest < phys || a->highest - phys + 1 < a->nbytes)
			return UNITMAP_NONE;
		uint64_t l = (a->highest - phys + 1 - a->nbytes) >> UNIT_SHIFT;
		if (l < last)
			last = (uint32_t)l;
	}
	if (lo > last)
		return UNITMAP_NONE;
	if (a->boundary >= UNIT && a->boundary < size)
		window = (uint32_t)(a->boundary >> UNIT_SHIFT);
	return unitmap_find(&cp->map, n, lo, last, window);
}

static void take(struct arena *ar, struct cpage *cp, uint32_t at, uint32_t n, uint64_t nbytes,
		 uint64_t gen, struct grant *g)
{
	uint32_t dirty_end = at + n < cp->clean_from ? at + n : cp->clean_from;

	unitmap_take(&cp->map, at, n);
	for (uint32_t u = at; u < at + n; u++)
		atomic_store_explicit(&cp->head[u], at, memory_order_relaxed);
	atomic_store_explicit(&cp->len[at], (uint32_t)nbytes, memory_order_relaxed);
	cp->live++;
	ar->in_use += (uint64_t)n << UNIT_SHIFT;
	report(ar, gen);
	if (!cp->map.nfree)
		avail_remove(ar, cp);
	g->dirty = dirty_end > at ? (uint64_t)(dirty_end - at) << UNIT_SHIFT : 0;
	if (at + n > cp->clean_from)
		cp->clean_from = at + n;
	g->va = cp->reg.base + ((uintptr_t)at << UNIT_SHIFT);
}

static bool node_ok(const struct cpage *cp, int node)
{
	return node == PROTO_NODE_ANY || cp->reg.node == node;
}

/* Carve from ar's pages on node (or any): its pages in use first, then its
 * parked one. The lock held; 0 or -ENOENT. */
static int take_in(struct arena *ar, const struct proto_alloc *a, uint32_t n, int node,
		   struct grant *g, struct cpage **gone)
{
	uint64_t gen = link_session_gen();
	struct cpage *cp, *next;
	uint32_t at;

	for (cp = ar->avail; cp; cp = next) {
		next = cp->next;
		if (cp->reg.session_gen != gen) {
			avail_remove(ar, cp); /* carved no more: its session is over */
			continue;
		}
		if (node_ok(cp, node) && (at = fit(cp, a, n)) != UNITMAP_NONE) {
			take(ar, cp, at, n, a->nbytes, gen, g);
			return 0;
		}
	}
	cp = ar->parked;
	if (cp && node_ok(cp, node) && (at = fit(cp, a, n)) != UNITMAP_NONE) {
		if (!unpark(ar, cp, gen)) {
			detach(ar, cp, false, gone);
			return -ENOENT;
		}
		ar->parked = NULL;
		cp->parked = false;
		avail_add(ar, cp);
		take(ar, cp, at, n, a->nbytes, gen, g);
		return 0;
	}
	return -ENOENT;
}

static int take_locked(struct arena *ar, const struct proto_alloc *a, uint32_t n, int node,
		       struct grant *g)
{
	struct cpage *gone = NULL;
	int r;

	pthread_mutex_lock(&ar->lock);
	r = take_in(ar, a, n, node, g, &gone);
	pthread_mutex_unlock(&ar->lock);
	release_pages(gone);
	return r;
}

/* Carve from another arena's pages: the pool may hold nothing more, but a
 * page another thread leased may. */
static int take_elsewhere(struct arena *mine, const struct proto_alloc *a, uint32_t n, int node,
			  struct grant *g)
{
	for (unsigned i = 0; i < self.narenas; i++)
		if (&self.arenas[i] != mine && take_locked(&self.arenas[i], a, n, node, g) == 0)
			return 0;
	return -ENOENT;
}

/* The first byte, inside a page starting at 0 of size ps, where n units
 * can start at or after byte pos without crossing a boundary (0: none). */
static uint64_t first_start(uint64_t pos, uint64_t size, uint64_t boundary)
{
	uint64_t at = (pos + UNIT - 1) & ~(UNIT - 1);

	if (boundary && (at & (boundary - 1)) + size > boundary)
		at = (at + boundary - 1) & ~(boundary - 1);
	return at;
}

/* The constraints to lease a page for a with: the daemon places whole pages
 * and checks every byte of the page, but a carved region needs only its own
 * bytes inside them. So a floor or ceiling inside a page lets that page in
 * when the region still fits between it and the page's far end, and a
 * boundary never cuts an aligned page (fit() applies it per unit). Pages
 * wholly inside [lowest, highest] always fit: boundary >= nbytes. Returns
 * -ENOMEM when no page can hold it. */
static int lease_constraints(struct proto_alloc *la, uint64_t ps, uint64_t size)
{
	uint64_t bound = la->boundary && la->boundary < ps ? la->boundary : 0;
	uint64_t lo = la->lowest, hi = la->highest, base;

	la->boundary = 0;
	if (!ps || (ps & (ps - 1)))
		return 0; /* no page size yet: ask as is, fit() checks */
	base = lo & ~(ps - 1);
	if (lo != base) {
		if (first_start(lo - base, size, bound) + size <= ps)
			lo = base;
		else if (base > UINT64_MAX - ps)
			return -ENOMEM;
		else
			lo = base + ps;
	}
	if (hi != UINT64_MAX && ((hi + 1) & (ps - 1))) {
		uint64_t end = hi + 1, pbase = end & ~(ps - 1);

		/* In the page of the ceiling, the region must end by it; a
		 * start at the page's base crosses no boundary. */
		if (end - pbase >= size && pbase <= UINT64_MAX - ps)
			hi = pbase + ps - 1;
		else if (!pbase)
			return -ENOMEM;
		else
			hi = pbase - 1;
	}
	if (lo > hi || hi - lo < ps - 1)
		return -ENOMEM;
	la->lowest = lo;
	la->highest = hi;
	return 0;
}

/* Lease one page for a on node (flags: PROTO_ALLOC_NODE_STRICT or 0), no
 * lock held, and carve from it. */
static int lease(struct arena *ar, const struct proto_alloc *a, uint32_t n, int node,
		 uint32_t flags, struct grant *g)
{
	struct proto_alloc la = *a;
	struct cpage *cp, *gone = NULL;
	struct region reg;
	uint64_t ps;
	uint32_t at;
	int r;

	la.node = node;
	la.flags = flags | PROTO_ALLOC_CARVE;
	ps = atomic_load_explicit(&self.page_size, memory_order_relaxed);
	r = lease_constraints(&la, ps ? ps : link_page_size(), (uint64_t)n << UNIT_SHIFT);
	if (r < 0)
		return r;
	r = link_region_fetch(PROTO_ALLOC, &la, sizeof(la), NULL, &reg);
	if (r < 0)
		return r;
	if (reg.mapped != reg.page_size || reg.page_size < (2ull << 20) ||
	    reg.page_size > (1ull << 30) || (reg.base & (reg.page_size - 1)) ||
	    reg.phys < la.lowest || reg.phys + reg.page_size - 1 > la.highest) {
		link_region_free(&reg);
		return -EPROTO;
	}
	cp = page_get((uint32_t)(reg.page_size >> UNIT_SHIFT));
	if (!cp) {
		link_region_free(&reg);
		return -ENOMEM;
	}
	cp->reg = reg;
	cp->clean_from = 0;
	cp->live = 0;
	cp->leased = true;
	cp->parked = cp->in_avail = false;
	atomic_store_explicit(&cp->base, reg.base, memory_order_relaxed);
	atomic_store_explicit(&cp->phys, reg.phys, memory_order_relaxed);
	atomic_store_explicit(&cp->nunits, cp->map.nunits, memory_order_relaxed);
	atomic_store_explicit(&cp->arena, ar, memory_order_release);
	r = index_set(reg.base, reg.mapped, cp);
	if (r < 0) {
		(void)index_set(reg.base, reg.mapped, NULL);
		link_region_free(&reg);
		page_put(cp);
		return r;
	}
	atomic_store_explicit(&self.page_size, reg.page_size, memory_order_relaxed);
	/* The table, for parking and the report: asked once per session. */
	(void)stash_carve_table(reg.session_gen, true);

	pthread_mutex_lock(&ar->lock);
	avail_add(ar, cp);
	at = fit(cp, a, n);
	if (at != UNITMAP_NONE && reg.session_gen == link_session_gen()) {
		take(ar, cp, at, n, a->nbytes, reg.session_gen, g);
	} else {
		/* The daemon placed it where it does not fit, or its session
		 * ended since: not ours to carve. */
		detach(ar, cp, true, &gone);
		r = at == UNITMAP_NONE ? -ENOMEM : -ECONNRESET;
	}
	pthread_mutex_unlock(&ar->lock);
	release_pages(gone);
	return r;
}

static bool node_full(int node)
{
	return mono_ns() < atomic_load_explicit(&self.node_full_until[node], memory_order_relaxed);
}

/* Carving from the pages already here sends nothing to the daemon, so
 * nothing would notice that it closed the session (it restarted, or
 * died): the pages would go on serving regions that its successor's pool
 * does not count. Look at most once per ALIVE_NS, outside every arena
 * lock: ending the session takes the regions lock. */
static void session_check(void)
{
	uint64_t now = mono_ns();

	if (now - atomic_load_explicit(&self.alive_ns, memory_order_relaxed) < ALIVE_NS)
		return;
	atomic_store_explicit(&self.alive_ns, now, memory_order_relaxed);
	link_check_hangup();
}

int carve_alloc(const struct proto_alloc *a, void **ret)
{
	bool strict = a->flags & PROTO_ALLOC_NODE_STRICT;
	struct arena *ar;
	struct grant g;
	uint32_t n;
	int r;

	if (!carve_enabled())
		return -ENOTSUP;
	if (a->nbytes > CARVE_ALWAYS) {
		uint64_t ps = atomic_load_explicit(&self.page_size, memory_order_relaxed);
		if (!ps)
			ps = link_page_size();
		if (!ps || a->nbytes >= ps)
			return -ENOTSUP;
	}
	n = units_of(a->nbytes);
	ar = my_arena();
	session_check();
	r = take_locked(ar, a, n, a->node, &g);
	if (r == -ENOENT && a->node != PROTO_NODE_ANY && !strict) {
		/* Preferred, not required: that node first, from the pool
		 * too; then any page here; then whatever the pool has. */
		r = node_full(a->node) ? -ENOMEM : lease(ar, a, n, a->node, PROTO_ALLOC_NODE_STRICT, &g);
		if (r == -ENOMEM) {
			atomic_store_explicit(&self.node_full_until[a->node], mono_ns() + NODE_FULL_NS,
					      memory_order_relaxed);
			r = take_locked(ar, a, n, PROTO_NODE_ANY, &g);
			if (r == -ENOENT)
				r = lease(ar, a, n, a->node, 0, &g);
		}
	} else if (r == -ENOENT) {
		r = lease(ar, a, n, a->node, a->flags & PROTO_ALLOC_NODE_STRICT, &g);
	}
	if ((r == -ENOMEM || r == -EDQUOT) &&
	    take_elsewhere(ar, a, n, strict ? a->node : PROTO_NODE_ANY, &g) == 0)
		r = 0;
	if (r < 0)
		return r;
	if (g.dirty)
		zero_bytes((void *)g.va, g.dirty);
	*ret = (void *)g.va;
	return 0;
}

/* Free the region at va in cp, if va is a live region's base (the arena's
 * lock held). */
static void free_in(struct arena *ar, struct cpage *cp, uintptr_t va, struct cpage **gone)
{
	uint64_t gen = link_session_gen();
	uint32_t u = (uint32_t)((va - cp->reg.base) >> UNIT_SHIFT), n;

	if ((va & (UNIT - 1)) || cp->parked ||
	    atomic_load_explicit(&cp->head[u], memory_order_relaxed) != u)
		return; /* an interior, stale or foreign address: ignored */
	n = units_of(atomic_load_explicit(&cp->len[u], memory_order_relaxed));
	for (uint32_t k = u; k < u + n; k++)
		atomic_store_explicit(&cp->head[k], NO_HEAD, memory_order_relaxed);
	unitmap_give(&cp->map, u, n);
	cp->live--;
	ar->in_use -= (uint64_t)n << UNIT_SHIFT;
	report(ar, gen);
	if (cp->reg.session_gen == gen)
		avail_add(ar, cp);
	if (!cp->live)
		page_empty(ar, cp, gen, gone);
}

bool carve_free(void *p)
{
	uintptr_t va = (uintptr_t)p;

	for (;;) {
		struct cpage *cp = index_get(va), *gone = NULL;
		struct arena *ar;

		if (!cp)
			return false;
		ar = atomic_load_explicit(&cp->arena, memory_order_acquire);
		pthread_mutex_lock(&ar->lock);
		/* The page may have been given back (and its record reused)
		 * since the lookup: only under its arena's lock is it stable. */
		if (index_get(va) != cp || atomic_load_explicit(&cp->arena, memory_order_relaxed) != ar) {
			pthread_mutex_unlock(&ar->lock);
			continue;
		}
		free_in(ar, cp, va, &gone);
		pthread_mutex_unlock(&ar->lock);
		release_pages(gone);
		return true;
	}
}

/* The live region holding va in cp: its start unit, or NO_HEAD. */
static uint32_t head_of(const struct cpage *cp, uintptr_t va, uint64_t *off)
{
	uint32_t nunits = atomic_load_explicit(&cp->nunits, memory_order_relaxed), h;

	*off = va - atomic_load_explicit(&cp->base, memory_order_relaxed);
	if (*off >= (uint64_t)nunits << UNIT_SHIFT)
		return NO_HEAD;
	h = atomic_load_explicit(&cp->head[*off >> UNIT_SHIFT], memory_order_relaxed);
	/* Only the bytes asked for have an address. */
	if (h != NO_HEAD &&
	    *off - ((uint64_t)h << UNIT_SHIFT) >= atomic_load_explicit(&cp->len[h], memory_order_relaxed))
		return NO_HEAD;
	return h;
}

bool carve_phys(const void *p, uint64_t *phys)
{
	struct cpage *cp = index_get((uintptr_t)p);
	uint64_t off;

	if (!cp)
		return false;
	*phys = head_of(cp, (uintptr_t)p, &off) == NO_HEAD ?
			CONTIG_PHYS_INVALID :
			atomic_load_explicit(&cp->phys, memory_order_relaxed) + off;
	return true;
}

int carve_info(const void *p, struct contig_region_info *ret)
{
	struct cpage *cp = index_get((uintptr_t)p);
	uint64_t off;
	uint32_t h;

	if (!cp || (h = head_of(cp, (uintptr_t)p, &off)) == NO_HEAD)
		return -ENOENT;
	uint64_t start = (uint64_t)h << UNIT_SHIFT;
	uint32_t nbytes = atomic_load_explicit(&cp->len[h], memory_order_relaxed);
	*ret = (struct contig_region_info){
		.base = (void *)(atomic_load_explicit(&cp->base, memory_order_relaxed) + start),
		.nbytes = nbytes,
		.mapped_bytes = (size_t)units_of(nbytes) << UNIT_SHIFT,
		.page_size = cp->reg.page_size,
		.phys = atomic_load_explicit(&cp->phys, memory_order_relaxed) + start,
		.node = cp->reg.node,
	};
	return 0;
}

bool carve_owns(const void *p)
{
	struct cpage *cp = index_get((uintptr_t)p);
	uint64_t off;

	return cp && !((uintptr_t)p & (UNIT - 1)) && head_of(cp, (uintptr_t)p, &off) == off >> UNIT_SHIFT;
}

void carve_trim(void)
{
	if (atomic_load_explicit(&self.enabled, memory_order_relaxed) <= 0)
		return;
	for (unsigned i = 0; i < self.narenas; i++) {
		struct arena *ar = &self.arenas[i];
		struct cpage *gone = NULL;

		pthread_mutex_lock(&ar->lock);
		if (ar->parked)
			detach(ar, ar->parked, unpark(ar, ar->parked, link_session_gen()), &gone);
		pthread_mutex_unlock(&ar->lock);
		release_pages(gone);
	}
}

void carve_fork_prepare(void)
{
	pthread_mutex_lock(&self.pages_lock);
	for (unsigned i = 0; i < MAX_ARENAS; i++)
		pthread_mutex_lock(&self.arenas[i].lock);
}

void carve_fork_parent(void)
{
	for (unsigned i = MAX_ARENAS; i-- > 0;)
		pthread_mutex_unlock(&self.arenas[i].lock);
	pthread_mutex_unlock(&self.pages_lock);
}

/* In the child: the leased pages were MADV_DONTFORK, and the session is
 * the parent's. Their addresses are free here, so they leave the index. */
void carve_fork_child(void)
{
	self.spare = NULL;
	for (size_t i = 0; i < self.nall; i++) {
		struct cpage *cp = self.all[i];
		if (cp->leased) {
			(void)index_set(cp->reg.base, cp->reg.mapped, NULL);
			for (uint32_t u = 0; u < cp->cap; u++)
				atomic_store_explicit(&cp->head[u], NO_HEAD, memory_order_relaxed);
		}
		cp->leased = cp->parked = cp->in_avail = false;
		cp->next = self.spare;
		self.spare = cp;
	}
	for (unsigned i = 0; i < MAX_ARENAS; i++) {
		self.arenas[i].avail = self.arenas[i].parked = NULL;
		self.arenas[i].in_use = 0;
	}
	atomic_store_explicit(&self.page_size, 0, memory_order_relaxed);
	/* The child reads CONTIG_CARVE anew. */
	atomic_store_explicit(&self.enabled, -1, memory_order_relaxed);
	carve_fork_parent();
}
