/* SPDX-License-Identifier: MIT */
/*
 * repair.c - see repair.h. The harvest runs in its own thread (it only
 * touches its candidate array); the choice and the swaps run on the loop
 * thread, so no request ever sees a half-swapped pool.
 */
#define _GNU_SOURCE
#include "repair.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "proto.h"

static void *harvest(void *arg)
{
	struct repair *rp = arg;
	uint64_t t0 = now_ns();
	uint32_t i;

	/* Background work: requests and reclaim come first. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	for (i = 0; i < rp->want && !__atomic_load_n(&rp->stop, __ATOMIC_RELAXED); i++) {
		int r = rp->ops->acquire(rp->ops_ctx, rp->page_size, &rp->cand[i]);
		if (r < 0) {
			/* Out of free hugepages (or fds): what we have is it. */
			rp->error = r;
			break;
		}
	}
	rp->ncand = i;
	rp->harvest_ns = now_ns() - t0;
	uint64_t one = 1;
	(void)!write(rp->event_fd, &one, sizeof(one));
	return NULL;
}

void repair_init(struct repair *rp, uint32_t want, uint32_t idle_s)
{
	*rp = (struct repair){ .want = want, .idle_s = idle_s, .event_fd = -1 };
}

int repair_start(struct repair *rp, const struct pool *p)
{
	uint32_t want = rp->want;

	if (rp->running)
		return -EBUSY;
	if (!want)
		return 0;
	rp->moved_at = p->stats.phys_changed;
	if (rp->event_fd < 0) {
		rp->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (rp->event_fd < 0)
			return -errno;
	}
	rp->cand = calloc(want, sizeof(*rp->cand));
	if (!rp->cand)
		return -ENOMEM;
	for (uint32_t i = 0; i < want; i++)
		rp->cand[i].fd = -1;
	rp->ncand = 0;
	rp->error = 0;
	rp->stop = false;
	rp->ops = p->ops;
	rp->ops_ctx = p->ops_ctx;
	rp->page_size = p->page_size;
	rp->started_ns = now_ns();
	int r = pthread_create(&rp->thread, NULL, harvest, rp);
	if (r) {
		free(rp->cand);
		rp->cand = NULL;
		return -r;
	}
	rp->running = true;
	return 0;
}

int repair_fd(const struct repair *rp)
{
	return rp->event_fd;
}

static void drop_candidates(struct repair *rp)
{
	for (uint32_t i = 0; rp->cand && i < rp->want; i++)
		backing_page_drop(&rp->cand[i], rp->page_size);
	free(rp->cand);
	rp->cand = NULL;
	rp->ncand = 0;
}

static void join(struct repair *rp)
{
	uint64_t v;

	pthread_join(rp->thread, NULL);
	rp->running = false;
	(void)!read(rp->event_fd, &v, sizeof(v));
}

void repair_stop(struct repair *rp)
{
	if (rp->running) {
		__atomic_store_n(&rp->stop, true, __ATOMIC_RELAXED);
		join(rp);
	}
	drop_candidates(rp);
	if (rp->event_fd >= 0)
		close(rp->event_fd);
	rp->event_fd = -1;
}

/* By address; at equal addresses (a bug elsewhere) pool frames first, so
 * the duplicate candidate is the one skipped. */
static int cmp_frame(const void *a, const void *b)
{
	const struct repair_frame *x = a, *y = b;

	if (x->phys != y->phys)
		return x->phys < y->phys ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

static bool adjacent(const struct repair_frame *a, const struct repair_frame *b, uint64_t ps)
{
	return b->phys == a->phys + ps && b->node == a->node;
}

static bool counts(const struct repair_frame *f)
{
	return f->kind == REPAIR_FIXED || f->keep;
}

uint64_t repair_score(const struct repair_frame *f, uint32_t n, uint64_t ps, uint32_t *ret_runs,
		      uint32_t *ret_largest)
{
	uint64_t score = 0;
	uint32_t runs = 0, largest = 0, len = 0;
	const struct repair_frame *last = NULL;

	for (uint32_t k = 0; k < n; k++) {
		if (!counts(&f[k]))
			continue;
		if (last && adjacent(last, &f[k], ps)) {
			len++;
		} else {
			score += (uint64_t)len * len;
			len = 1;
			runs++;
		}
		if (len > largest)
			largest = len;
		last = &f[k];
	}
	score += (uint64_t)len * len;
	if (ret_runs)
		*ret_runs = runs;
	if (ret_largest)
		*ret_largest = largest;
	return score;
}

struct span {
	uint32_t first, last, len, free; /* into f; frames; FREE frames among them */
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	/* Equal length: the one we already own more of, fewer swaps. */
	if (x->free != y->free)
		return x->free > y->free ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* A second frame at the address of the one before it (sorted): skipped. */
static bool duplicate(const struct repair_frame *f, uint32_t k)
{
	return k && f[k].phys == f[k - 1].phys;
}

uint32_t repair_choose(struct repair_frame *f, uint32_t n, uint64_t ps, uint32_t quota)
{
	struct span *spans;
	uint32_t nspans = 0, kept = 0;

	qsort(f, n, sizeof(*f), cmp_frame);
	for (uint32_t k = 0; k < n; k++)
		f[k].keep = 0;
	spans = calloc(n ? n : 1, sizeof(*spans));
	if (!spans) {
		/* No memory to think: keep what the pool has. */
		for (uint32_t k = 0; k < n && kept < quota; k++)
			if (f[k].kind == REPAIR_FREE) {
				f[k].keep = 1;
				kept++;
			}
		return kept;
	}
	for (uint32_t k = 0; k < n; k++) {
		struct span *s = nspans ? &spans[nspans - 1] : NULL;

		if (duplicate(f, k))
			continue;
		if (s && adjacent(&f[s->last], &f[k], ps)) {
			s->last = k;
			s->len++;
		} else {
			s = &spans[nspans++];
			*s = (struct span){ .first = k, .last = k, .len = 1 };
		}
		s->free += f[k].kind == REPAIR_FREE;
	}
	qsort(spans, nspans, sizeof(*spans), cmp_span);
	for (uint32_t s = 0; s < nspans && kept < quota; s++)
		for (uint32_t k = spans[s].first; k <= spans[s].last && kept < quota; k++)
			if (f[k].kind != REPAIR_FIXED && !duplicate(f, k)) {
				f[k].keep = 1;
				kept++;
			}
	free(spans);
	return kept;
}

/* The pool's free frames: FREE ones may go; low memory stays: the low
 * pool's pages (dug for at start, ids from p->nbase on) and any page below
 * 4 GiB are scarce, and a candidate from anywhere is no substitute for them.
 * Pages held (USED, QUARANTINED) are left out: a run is what a request can
 * have now, so a held page ends one, and a round makes the free runs
 * longest (at start, when nothing is held, that is the pool's runs). A
 * round that counted held pages in runs would build runs around regions
 * and leave the free ones short: under churn it left the largest free run
 * at 0.4 of what the pool's and the kernel's free pages could form.
 * RECLAIMING and LOST pages own no frame (their address is a stale record). */
static uint32_t pool_frames(const struct pool *p, struct repair_frame *f, uint32_t *ret_free)
{
	uint32_t n = 0, nfree = 0;

	for (uint32_t id = 0; id < p->npages; id++) {
		const struct extent_page *pg = &p->ext.pages[id];
		uint8_t kind;

		if (pg->state == EXTENT_FREE && id < p->nbase && pg->phys >= (4ull << 30))
			kind = REPAIR_FREE, nfree++;
		else if (pg->state == EXTENT_FREE)
			kind = REPAIR_FIXED;
		else
			continue;
		f[n++] = (struct repair_frame){ .phys = pg->phys, .node = pg->node, .ref = id,
						.kind = kind, .keep = kind == REPAIR_FREE };
	}
	*ret_free = nfree;
	return n;
}

int repair_apply(struct repair *rp, struct pool *p, struct repair_result *ret)
{
	struct repair_frame *f;
	uint32_t n, nfree, *give = NULL, ngive = 0;

	if (!rp->running)
		return -ENOENT;
	join(rp);
	memset(ret, 0, sizeof(*ret));
	ret->looked = rp->ncand;
	ret->harvest_ns = rp->harvest_ns;
	rp->looked += rp->ncand;
	f = calloc((size_t)p->npages + rp->ncand, sizeof(*f));
	give = calloc(p->npages, sizeof(*give));
	if (!f || !give || !rp->ncand)
		goto out;
	n = pool_frames(p, f, &nfree);
	for (uint32_t i = 0; i < rp->ncand; i++)
		f[n++] = (struct repair_frame){ .phys = rp->cand[i].phys, .node = rp->cand[i].node,
						.ref = i, .kind = REPAIR_CANDIDATE };
	qsort(f, n, sizeof(*f), cmp_frame);
	ret->score_before = repair_score(f, n, p->page_size, &ret->runs_before,
					 &ret->largest_before);
	repair_choose(f, n, p->page_size, nfree);
	ret->score_after = repair_score(f, n, p->page_size, &ret->runs_after, &ret->largest_after);
	if (ret->score_after <= ret->score_before) {
		/* Nothing better among the candidates: the pool stays as it is. */
		ret->score_after = ret->score_before;
		ret->runs_after = ret->runs_before;
		ret->largest_after = ret->largest_before;
		goto out;
	}
	/* Pair every FREE page that goes with a candidate that comes in:
	 * the counts match because exactly nfree movable frames are kept. */
	for (uint32_t k = 0; k < n; k++)
		if (f[k].kind == REPAIR_FREE && !f[k].keep)
			give[ngive++] = f[k].ref;
	for (uint32_t k = 0, g = 0; k < n && g < ngive; k++) {
		if (f[k].kind != REPAIR_CANDIDATE || !f[k].keep)
			continue;
		if (pool_page_swap(p, give[g], &rp->cand[f[k].ref]) < 0)
			continue; /* that page keeps its frame; the candidate is dropped */
		g++;
		ret->swapped++;
	}
out:
	free(f);
	free(give);
	drop_candidates(rp);
	struct pool_figures info;
	pool_figures(p, EXTENT_NODE_ANY, &info);
	rp->runs_after = info.runs;
	rp->largest_free_after = (uint32_t)(info.largest_free_run / p->page_size);
	return 0;
}

bool repair_idle_due(struct repair *rp, const struct pool *p, uint64_t now,
		     uint64_t last_request_ns)
{
	struct pool_figures info;

	if (!rp->idle_s || !rp->want || rp->running ||
	    now - last_request_ns < (uint64_t)rp->idle_s * 1000000000u ||
	    p->stats.phys_changed == rp->moved_at)
		return false;
	pool_figures(p, EXTENT_NODE_ANY, &info);
	if (info.reclaiming_bytes || info.quarantined_bytes)
		return false;
	uint32_t largest_free = (uint32_t)(info.largest_free_run / p->page_size);
	if (info.runs <= rp->runs_after && largest_free >= rp->largest_free_after) {
		/* Churn moved pages but left the runs as they were and the
		 * largest free one as long: not worth a round until something
		 * moves again. */
		rp->moved_at = p->stats.phys_changed;
		return false;
	}
	log_info("repair: idle for %u s with %u runs (%u after the last round), the largest free "
		 "one %u pages (%u): another round", rp->idle_s, info.runs, rp->runs_after,
		 largest_free, rp->largest_free_after);
	return true;
}
