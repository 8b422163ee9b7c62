/* SPDX-License-Identifier: MIT */
/*
 * extent.c - the allocator core: where a request goes among the pool's pages,
 * and the cached figures that describe the pool.
 *
 * Owns the order (page ids sorted by phys), its inverse pos[], the per-state
 * counts, the number of runs, the longest free stretch, and three bitmaps
 * over the positions of the order: FREE, RECLAIMING and "starts a run".
 * Invariants, all verified by extent_pool_check(): the order is strictly
 * increasing in phys, pos[order[k]] == k, nstate, runs and largest_free
 * equal a full scan, and the bitmaps equal what the pages give.
 *
 * Cost: pools have tens of thousands of pages, so nothing on the allocation
 * path walks them one by one. The bitmaps let every search move 64 positions
 * at a time: extent_find jumps over unusable pages and along each usable
 * stretch by words, visits each stretch at most once (from the top down,
 * stopping at an exact fit on the wanted node) and computes its highest
 * feasible start directly, so it costs O(npages / 64 + stretches). A page
 * changing state finds the ends of its own stretch the same way and rescans
 * (the same walk) only when the longest stretch may have shrunk.
 * extent_set_phys moves one element of the order (a memmove), recomputes the
 * bits of the positions that moved, and rescans. extent_run_next and
 * extent_stats still go page by page: they count states, and the checker
 * needs a recomputation that does not trust the bitmaps.
 */
#include "extent.h"
#include "extent_bits.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SZ_16M (UINT64_C(16) << 20)
#define SZ_4G (UINT64_C(4) << 30)
#define EXTENT_FLAGS (EXTENT_NODE_STRICT | EXTENT_WITH_PENDING)

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* a is a power of two */
static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

static const struct extent_page *page_at(const struct extent_pool *p, uint32_t k)
{
	return &p->pages[p->order[k]];
}

/*
 * Positions k and k + 1 lie in one run: physically adjacent and on one node.
 * The order is sorted, so the difference cannot wrap where a sum near the top
 * of the address space would.
 */
static bool same_run(const struct extent_pool *p, uint32_t k)
{
	const struct extent_page *a = page_at(p, k), *b = page_at(p, k + 1);

	return b->phys - a->phys == p->page_size && a->node == b->node;
}

/* ---- bitmaps: the free stretches, 64 positions at a time ---- */

/* Word w of the positions a request may use: FREE ones, and RECLAIMING ones
 * when it counts pending pages. */
static uint64_t usable_word(const struct extent_pool *p, uint32_t w, bool pending)
{
	return p->free_bits[w] | (pending ? p->reclaim_bits[w] : 0);
}

/* The first usable position from k on, or npages. */
static uint32_t next_usable(const struct extent_pool *p, uint32_t k, bool pending)
{
	uint32_t w = bit_word(k), nw = bits_words(p->npages);
	uint64_t x;

	if (k >= p->npages)
		return p->npages;
	x = usable_word(p, w, pending) & mask_from(k % BITS_PER_WORD);
	while (!x) {
		if (++w == nw)
			return p->npages;
		x = usable_word(p, w, pending);
	}
	/* Bits past npages are clear, so this is a real position. */
	return w * BITS_PER_WORD + word_first(x);
}

/* The last usable position below end, or UINT32_MAX if there is none. */
static uint32_t prev_usable(const struct extent_pool *p, uint32_t end, bool pending)
{
	uint32_t w;
	uint64_t x;

	if (!end)
		return UINT32_MAX;
	w = bit_word(end - 1);
	x = usable_word(p, w, pending) & mask_upto((end - 1) % BITS_PER_WORD);
	while (!x) {
		if (!w)
			return UINT32_MAX;
		x = usable_word(p, --w, pending);
	}
	return w * BITS_PER_WORD + word_last(x);
}

/*
 * The end (exclusive) of the usable stretch through k: the first position
 * after k that is not usable or starts a run, or npages. k's own state is
 * not read, so this also gives the end of what a change at k joins or splits.
 */
static uint32_t stretch_end(const struct extent_pool *p, uint32_t k, bool pending)
{
	uint32_t w, nw = bits_words(p->npages);
	uint64_t x;

	if (++k >= p->npages)
		return p->npages;
	w = bit_word(k);
	x = (~usable_word(p, w, pending) | p->run_start_bits[w]) & mask_from(k % BITS_PER_WORD);
	while (!x) {
		if (++w == nw)
			return p->npages;
		x = ~usable_word(p, w, pending) | p->run_start_bits[w];
	}
	/* Bits past npages are clear, hence unusable: the last word stops at npages. */
	return w * BITS_PER_WORD + word_first(x);
}

/*
 * The start of the usable stretch through k: the lowest s <= k such that
 * every position in [s, k) is usable and none in (s, k] starts a run. Like
 * stretch_end, it does not read k's own state.
 */
static uint32_t stretch_start(const struct extent_pool *p, uint32_t k, bool pending)
{
	uint32_t w = bit_word(k), b = k % BITS_PER_WORD, from_gap = 0, from_run = 0;
	/* Not usable below k; starting a run at or below k. */
	uint64_t gap = ~usable_word(p, w, pending) & (mask_upto(b) >> 1);
	uint64_t run = p->run_start_bits[w] & mask_upto(b);

	/* Position 0 starts a run: word 0 always stops this. */
	while (!gap && !run && w) {
		w--;
		gap = ~usable_word(p, w, pending);
		run = p->run_start_bits[w];
	}
	if (gap)
		from_gap = w * BITS_PER_WORD + word_last(gap) + 1;
	if (run)
		from_run = w * BITS_PER_WORD + word_last(run);
	return from_gap > from_run ? from_gap : from_run;
}

/* Recompute the bits of positions [from, to) from their pages. */
static void set_bits(struct extent_pool *p, uint32_t from, uint32_t to)
{
	for (uint32_t k = from; k < to; k++) {
		uint8_t s = page_at(p, k)->state;

		bit_assign(p->free_bits, k, s == EXTENT_FREE);
		bit_assign(p->reclaim_bits, k, s == EXTENT_RECLAIMING);
		bit_assign(p->run_start_bits, k, !k || !same_run(p, k - 1));
	}
}

/* ---- scans: by page, trusting no bitmap; what the checker compares against ---- */

int extent_run_next(const struct extent_pool *p, uint32_t *cursor, struct extent_run_info *ret)
{
	struct extent_run_info r = { .pos = *cursor };
	uint32_t k, stretch = 0;

	if (r.pos >= p->npages)
		return 0;
	r.phys = page_at(p, r.pos)->phys;
	r.node = page_at(p, r.pos)->node;
	for (k = r.pos;; k++) {
		uint8_t s = page_at(p, k)->state;

		r.nstate[s]++;
		stretch = s == EXTENT_FREE ? stretch + 1 : 0;
		if (stretch > r.largest_free)
			r.largest_free = stretch;
		if (k + 1 == p->npages || !same_run(p, k))
			break;
	}
	r.pages = k + 1 - r.pos;
	*cursor = k + 1;
	*ret = r;
	return 1;
}

void extent_stats(const struct extent_pool *p, int32_t node, struct extent_stats *ret)
{
	struct extent_stats st = { 0 };
	struct extent_run_info r;
	uint32_t cursor = 0;

	while (extent_run_next(p, &cursor, &r)) {
		if (node != EXTENT_NODE_ANY && r.node != node)
			continue;
		st.pages += r.pages;
		st.runs++;
		for (int s = 0; s < EXTENT_STATE_MAX; s++)
			st.nstate[s] += r.nstate[s];
		if (r.largest_free > st.largest_free)
			st.largest_free = r.largest_free;
	}
	*ret = st;
}

/*
 * Recompute the figures that depend on the layout, after a change to it,
 * from the bitmaps: a word per 64 positions and a step per free stretch.
 */
static void rescan(struct extent_pool *p)
{
	uint32_t nw = bits_words(p->npages), runs = 0, largest = 0, end = 0;

	for (uint32_t w = 0; w < nw; w++)
		runs += (uint32_t)__builtin_popcountll(p->run_start_bits[w]);
	for (uint32_t k = next_usable(p, 0, false); k < p->npages; k = next_usable(p, end, false)) {
		end = stretch_end(p, k, false);
		if (end - k > largest)
			largest = end - k;
	}
	p->runs = runs;
	p->largest_free = largest;
}

/* ---- setup ---- */

struct sort_key {
	uint64_t phys;
	uint32_t id;
};

static int cmp_key(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;

	return (x->phys > y->phys) - (x->phys < y->phys);
}

/* Fill order and pos from the pages' phys; -EINVAL on a duplicate. */
static int sort_pages(struct extent_pool *p)
{
	struct sort_key *keys = calloc(p->npages, sizeof(*keys));
	int r = 0;

	if (!keys)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->npages; i++)
		keys[i] = (struct sort_key){ .phys = p->pages[i].phys, .id = i };
	qsort(keys, p->npages, sizeof(*keys), cmp_key);
	for (uint32_t k = 0; k < p->npages; k++) {
		if (k && keys[k].phys == keys[k - 1].phys)
			r = -EINVAL;
		p->order[k] = keys[k].id;
		p->pos[keys[k].id] = k;
	}
	free(keys);
	return r;
}

int extent_pool_init(struct extent_pool *p, uint64_t page_size, uint32_t npages,
		     const uint64_t *phys, const int32_t *node)
{
	struct extent_pool q = { .page_size = page_size, .npages = npages };
	uint32_t nw = bits_words(npages);
	int r;

	if (!is_pow2(page_size) || !npages || !phys)
		return -EINVAL;
	for (uint32_t i = 0; i < npages; i++)
		if (phys[i] & (page_size - 1))
			return -EINVAL;

	q.pages = calloc(npages, sizeof(*q.pages));
	q.order = calloc(npages, sizeof(*q.order));
	q.pos = calloc(npages, sizeof(*q.pos));
	/* Zeroed: the bits past npages stay clear for good. */
	q.free_bits = calloc(nw, sizeof(*q.free_bits));
	q.reclaim_bits = calloc(nw, sizeof(*q.reclaim_bits));
	q.run_start_bits = calloc(nw, sizeof(*q.run_start_bits));
	if (!q.pages || !q.order || !q.pos || !q.free_bits || !q.reclaim_bits ||
	    !q.run_start_bits) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < npages; i++) {
		q.pages[i].phys = phys[i];
		q.pages[i].node = node ? node[i] : 0;
		q.pages[i].state = EXTENT_FREE;
	}
	r = sort_pages(&q);
	if (r < 0)
		goto fail;
	set_bits(&q, 0, npages);
	q.nstate[EXTENT_FREE] = npages;
	rescan(&q);
	*p = q;
	return 0;

fail:
	extent_pool_destroy(&q);
	return r;
}

void extent_pool_destroy(struct extent_pool *p)
{
	if (!p)
		return;
	free(p->pages);
	free(p->order);
	free(p->pos);
	free(p->free_bits);
	free(p->reclaim_bits);
	free(p->run_start_bits);
	memset(p, 0, sizeof(*p));
}

/* ---- placement ---- */

int extent_request_check(const struct extent_request *rq)
{
	if (!rq->nbytes || rq->lowest > rq->highest)
		return -EINVAL;
	if (rq->boundary && (!is_pow2(rq->boundary) || rq->boundary < rq->nbytes))
		return -EINVAL;
	if (rq->node < EXTENT_NODE_ANY || rq->node >= EXTENT_MAX_NODES)
		return -EINVAL;
	if (rq->flags & ~EXTENT_FLAGS)
		return -EINVAL;
	return 0;
}

/* A checked request, reduced to what placement compares against. */
struct want {
	uint64_t nbytes;
	uint64_t lowest;
	uint64_t last_start; /* highest s with s + nbytes - 1 <= highest */
	uint64_t boundary;
	uint32_t pages;
	int32_t node;
	bool strict;
	bool pending;
};

static int make_want(const struct extent_pool *p, const struct extent_request *rq,
		     struct want *ret)
{
	uint64_t pages;
	int r;

	r = extent_request_check(rq);
	if (r < 0)
		return r;
	/* Needs the page size, so extent_request_check cannot see it. */
	pages = (rq->nbytes - 1) / p->page_size + 1;
	if (pages > UINT32_MAX)
		return -EINVAL;
	/* Valid, but nothing in this pool can ever hold it. */
	if (pages > p->npages || rq->highest < rq->nbytes - 1)
		return -ENOMEM;
	*ret = (struct want){
		.nbytes = rq->nbytes,
		.lowest = rq->lowest,
		.last_start = rq->highest - (rq->nbytes - 1),
		.boundary = rq->boundary,
		.pages = (uint32_t)pages,
		.node = rq->node,
		.strict = rq->flags & EXTENT_NODE_STRICT,
		.pending = rq->flags & EXTENT_WITH_PENDING,
	};
	return 0;
}

/*
 * The highest start for w in a free stretch of len pages at phys first: page
 * aligned, its pages inside the stretch, every byte in [lowest, highest], and
 * no multiple of the boundary crossed. Every start s is page aligned, so
 * s >= lowest needs no rounding of lowest (which could overflow).
 */
static bool place(uint64_t ps, const struct want *w, uint64_t first, uint32_t len, uint64_t *ret)
{
	uint64_t lo = w->lowest > first ? w->lowest : first;
	uint64_t s = first + (uint64_t)(len - w->pages) * ps;

	if (s > w->last_start)
		s = align_down(w->last_start, ps);
	if (s < lo)
		return false;
	/*
	 * With boundary <= page size every aligned start already sits inside one
	 * block (nbytes <= boundary). Above it, a start that crosses is moved to
	 * end just below the block start it crossed: every start between the
	 * two crosses too, so this is the highest that does not, and it cannot
	 * cross the previous multiple because nbytes <= boundary.
	 */
	if (w->boundary > ps && s / w->boundary != (s + w->nbytes - 1) / w->boundary) {
		uint64_t block = align_down(s + w->nbytes - 1, w->boundary);

		s = align_down(block - w->nbytes, ps);
		if (s < lo)
			return false;
	}
	*ret = s;
	return true;
}

/* What rules 1-4 of extent_find compare, most significant first. */
struct candidate {
	uint32_t tier;  /* 0: the wanted node (or any), 1: another node */
	uint32_t class; /* 0: start >= 4 GiB, 1: >= 16 MiB, 2: below */
	uint32_t len;   /* the free stretch holding it: shorter is better */
	uint64_t phys;  /* higher is better */
	uint32_t pos;
};

static bool better(const struct candidate *a, const struct candidate *b)
{
	if (a->tier != b->tier)
		return a->tier < b->tier;
	if (a->class != b->class)
		return a->class < b->class;
	if (a->len != b->len)
		return a->len < b->len;
	return a->phys > b->phys;
}

static uint32_t mem_class(uint64_t s)
{
	return s >= SZ_4G ? 0 : s >= SZ_16M ? 1 : 2;
}

/* The best placement inside the free stretch [k, k + len); false if none. */
static bool consider(const struct extent_pool *p, const struct want *w, uint32_t k,
		     uint32_t len, struct candidate *ret)
{
	const struct extent_page *pg = page_at(p, k);
	uint32_t tier = w->node != EXTENT_NODE_ANY && pg->node != w->node;
	uint64_t s;

	if (tier && w->strict)
		return false;
	if (!place(p->page_size, w, pg->phys, len, &s))
		return false;
	*ret = (struct candidate){
		.tier = tier,
		.class = mem_class(s),
		.len = len,
		.phys = s,
		.pos = k + (uint32_t)((s - pg->phys) / p->page_size),
	};
	return true;
}

int extent_find(const struct extent_pool *p, const struct extent_request *rq,
		struct extent_range *ret)
{
	struct candidate best = { .tier = UINT32_MAX }, c;
	struct want w;
	int r;

	r = make_want(p, rq, &w);
	if (r < 0)
		return r;
	/*
	 * Each maximal usable stretch once, from the top of the order down: k
	 * is its last position, start its first. Going down, starts only get
	 * lower, so a tie never beats what was found first (ties go to the
	 * highest phys) and the memory class never gets better. An exact fit
	 * on the first tier is then the best any stretch below could give, and
	 * the walk stops there: in a fragmented pool most small requests are
	 * served that way near the top.
	 */
	for (uint32_t k = prev_usable(p, p->npages, w.pending), start; k != UINT32_MAX;
	     k = prev_usable(p, start, w.pending)) {
		start = stretch_start(p, k, w.pending);
		if (k + 1 - start < w.pages || !consider(p, &w, start, k + 1 - start, &c) ||
		    !better(&c, &best))
			continue;
		best = c;
		if (!best.tier && best.len == w.pages)
			break;
	}
	if (best.tier == UINT32_MAX)
		return -ENOMEM;
	*ret = (struct extent_range){ .pos = best.pos, .count = w.pages, .phys = best.phys };
	return 0;
}

/* ---- state changes ---- */

void extent_take(struct extent_pool *p, const struct extent_range *r)
{
	uint32_t last = r->pos + r->count - 1, len;

	assert(r->count && r->pos < p->npages && last >= r->pos && last < p->npages);
	/* The whole free stretch the range is cut from. */
	len = stretch_end(p, last, false) - stretch_start(p, r->pos, false);
	for (uint32_t k = r->pos; k <= last; k++) {
		struct extent_page *pg = &p->pages[p->order[k]];

		assert(pg->state == EXTENT_FREE);
		p->nstate[pg->state]--;
		p->nstate[EXTENT_USED]++;
		pg->state = EXTENT_USED;
	}
	bits_clear_range(p->free_bits, r->pos, last + 1);
	/* Only cutting a longest stretch can lower the maximum. */
	if (len >= p->largest_free)
		rescan(p);
}

void extent_set_state(struct extent_pool *p, uint32_t id, enum extent_state s)
{
	struct extent_page *pg;
	uint32_t k, len;
	bool was_free;

	assert(id < p->npages && (unsigned)s < EXTENT_STATE_MAX);
	pg = &p->pages[id];
	k = p->pos[id];
	was_free = pg->state == EXTENT_FREE;
	if (pg->state == s)
		return;
	p->nstate[pg->state]--;
	p->nstate[s]++;
	pg->state = (uint8_t)s;
	bit_assign(p->free_bits, k, s == EXTENT_FREE);
	bit_assign(p->reclaim_bits, k, s == EXTENT_RECLAIMING);
	if (was_free == (s == EXTENT_FREE))
		return;

	/* The stretch through k: joined by a page that became free, or split
	 * by one that stopped being free. */
	len = stretch_end(p, k, false) - stretch_start(p, k, false);
	if (!was_free && len > p->largest_free)
		p->largest_free = len;
	else if (was_free && len >= p->largest_free)
		rescan(p);
}

/* Number of pages whose phys is below phys: where phys belongs in the order. */
static uint32_t lower_bound(const struct extent_pool *p, uint64_t phys)
{
	uint32_t lo = 0, hi = p->npages;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (page_at(p, mid)->phys < phys)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Move the id at position from to position to, shifting the ones between by
 * one, and keep pos[] the inverse of the order for every id that moved. */
static void move_in_order(struct extent_pool *p, uint32_t from, uint32_t to)
{
	uint32_t id = p->order[from];
	uint32_t lo = from < to ? from : to, hi = from < to ? to : from;

	if (from < to)
		memmove(&p->order[from], &p->order[from + 1],
			(size_t)(to - from) * sizeof(*p->order));
	else
		memmove(&p->order[to + 1], &p->order[to], (size_t)(from - to) * sizeof(*p->order));
	p->order[to] = id;
	for (uint32_t k = lo; k <= hi; k++)
		p->pos[p->order[k]] = k;
}

int extent_set_phys(struct extent_pool *p, uint32_t id, uint64_t phys, int32_t node)
{
	struct extent_page *pg;
	uint32_t from, to, lo, hi;

	assert(id < p->npages);
	pg = &p->pages[id];
	/* An unaligned phys would break the order's invariants. */
	if (phys & (p->page_size - 1))
		return -EINVAL;
	if (phys == pg->phys && node == pg->node)
		return 0;
	from = to = p->pos[id];
	if (phys != pg->phys) {
		/* Searched while the page still sits at its old place, which
		 * counts as "below" exactly when the page moves up. */
		to = lower_bound(p, phys);
		if (to < p->npages && page_at(p, to)->phys == phys)
			return -EEXIST;
		if (to > from)
			to--;
		pg->phys = phys;
		move_in_order(p, from, to);
	}
	pg->node = node;
	/* Every position whose page changed, and the one after the last: its
	 * run start bit depends on the page before it. */
	lo = from < to ? from : to;
	hi = from < to ? to : from;
	set_bits(p, lo, hi + 1 < p->npages ? hi + 2 : p->npages);
	/* Runs may have joined or split at both places: state is unchanged but
	 * runs and largest_free are not, and a scan is no dearer than the move. */
	rescan(p);
	return 0;
}

/* ---- checking ---- */

static bool order_ok(const struct extent_pool *p)
{
	for (uint32_t k = 0; k < p->npages; k++) {
		uint32_t id = p->order[k];

		/* pos[order[k]] == k for every k makes order injective, hence
		 * a permutation, and pos its inverse. */
		if (id >= p->npages || p->pos[id] != k)
			return false;
		if (p->pages[id].phys & (p->page_size - 1))
			return false;
		if (p->pages[id].state >= EXTENT_STATE_MAX)
			return false;
		if (k && page_at(p, k - 1)->phys >= p->pages[id].phys)
			return false;
	}
	return true;
}

/* Every word of the bitmaps against the pages, the bits past npages included. */
static bool bits_ok(const struct extent_pool *p)
{
	uint32_t nw = bits_words(p->npages);

	for (uint32_t w = 0; w < nw; w++) {
		uint64_t fr = 0, rc = 0, rs = 0;

		for (uint32_t b = 0; b < BITS_PER_WORD && w * BITS_PER_WORD + b < p->npages; b++) {
			uint32_t k = w * BITS_PER_WORD + b;
			uint8_t s = page_at(p, k)->state;

			fr |= (uint64_t)(s == EXTENT_FREE) << b;
			rc |= (uint64_t)(s == EXTENT_RECLAIMING) << b;
			rs |= (uint64_t)(!k || !same_run(p, k - 1)) << b;
		}
		if (fr != p->free_bits[w] || rc != p->reclaim_bits[w] || rs != p->run_start_bits[w])
			return false;
	}
	return true;
}

int extent_pool_check(const struct extent_pool *p)
{
	struct extent_stats st;

	if (!is_pow2(p->page_size) || !p->npages || !p->pages || !p->order || !p->pos ||
	    !p->free_bits || !p->reclaim_bits || !p->run_start_bits)
		return -EUCLEAN;
	/* States are range checked here before the scan counts by them. */
	if (!order_ok(p) || !bits_ok(p))
		return -EUCLEAN;
	extent_stats(p, EXTENT_NODE_ANY, &st);
	if (st.pages != p->npages || st.runs != p->runs || st.largest_free != p->largest_free ||
	    memcmp(st.nstate, p->nstate, sizeof(st.nstate)))
		return -EUCLEAN;
	return 0;
}
