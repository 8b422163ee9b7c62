/* SPDX-License-Identifier: MIT */
/*
 * server_check.c - the sessions' invariants, recomputed from scratch (as
 * pool_check.c does for the pool): every live session's counters are what
 * the leases on its list add up to, the bytes it leased for carving are
 * part of the bytes it holds, the live sessions are nsessions, and each
 * cgroup tenant's subtree holds what its sessions and its children's do
 * (the root: what every live session holds), and so does each uid's
 * account (account.h). Called
 * by the fuzzer after every step, and by contigd after every loop turn
 * when CONTIG_DEBUG_CHECK is set (the integration tests set it).
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static __attribute__((format(printf, 3, 4))) int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

#define FAIL(...) return fail(why, len, __VA_ARGS__)

static int check_session(const struct session *s, char *why, size_t len)
{
	const struct list_node *n;
	uint64_t ps = s->srv->pool.page_size, bytes = 0, carve = 0;
	uint32_t nleases = 0;

	for (n = s->leases.next; n != &s->leases; n = n->next) {
		const struct lease *l = container_of(n, struct lease, by_holder);
		uint64_t b = (uint64_t)l->region->npages * ps;

		if (l->holder != s)
			FAIL("session %" PRIu64 " lists a lease of another holder", s->id);
		nleases++;
		bytes += b;
		carve += l->region->carve ? b : 0;
	}
	if (s->nregions != nleases || s->bytes != bytes)
		FAIL("session %" PRIu64 " counts %u regions / %" PRIu64 " bytes, holds %u / %" PRIu64,
		     s->id, s->nregions, s->bytes, nleases, bytes);
	if (s->carve_bytes != carve)
		FAIL("session %" PRIu64 " counts %" PRIu64 " bytes leased for carving, holds %" PRIu64,
		     s->id, s->carve_bytes, carve);
	if (s->carve_bytes > s->bytes)
		FAIL("session %" PRIu64 ": %" PRIu64 " bytes leased for carving of %" PRIu64, s->id,
		     s->carve_bytes, s->bytes);
	if (session_carve_in_use(s) > s->carve_bytes)
		FAIL("session %" PRIu64 ": %" PRIu64 " carved bytes shown of %" PRIu64 " leased",
		     s->id, session_carve_in_use(s), s->carve_bytes);
	return 0;
}

/* Every node's subtree bytes are its own sessions' plus its children's;
 * own[] is unknown here, so check the weaker, still exact, sum: a node
 * holds at least its children's, and the root holds all. */
static int check_tenants(const struct tenant *n, char *why, size_t len)
{
	for (; n; n = n->sibling) {
		uint64_t kids = 0;
		for (const struct tenant *c = n->child; c; c = c->sibling)
			kids += c->subtree_bytes;
		if (kids > n->subtree_bytes)
			FAIL("cgroup %s holds %" PRIu64 " bytes, its children %" PRIu64, n->path,
			     n->subtree_bytes, kids);
		int r = check_tenants(n->child, why, len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Each grant holds what its live sessions hold, and counts them. */
static int check_grants(const struct server *srv, char *why, size_t len)
{
	const struct list_node *g, *n;

	for (g = srv->grants.all.next; g != &srv->grants.all; g = g->next) {
		const struct grant *gr = container_of(g, struct grant, link);
		uint64_t held = 0;
		uint32_t sessions = 0;

		for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
			const struct session *s = container_of(n, struct session, link);
			if (!s->dead && s->grant == gr) {
				held += s->bytes;
				sessions++;
			}
		}
		if (held != gr->held || sessions != gr->sessions)
			FAIL("grant %" PRIu64 " counts %u sessions / %" PRIu64 " bytes, has %u / %" PRIu64,
			     gr->id, gr->sessions, gr->held, sessions, held);
		if (gr->revoked && !gr->sessions)
			FAIL("grant %" PRIu64 " revoked and unused, still listed", gr->id);
	}
	return 0;
}

/* Each uid's account holds what its live sessions hold, and counts them;
 * every live session has its uid's. */
static int check_accounts(const struct server *srv, char *why, size_t len)
{
	const struct list_node *n;
	uint32_t accounts = 0;

	for (uint32_t b = 0; b < ACCOUNT_BUCKETS; b++) {
		for (const struct account *acc = srv->accounts.bucket[b]; acc; acc = acc->next) {
			uint32_t sessions = 0, regions = 0;
			uint64_t bytes = 0;

			accounts++;
			for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
				const struct session *s = container_of(n, struct session, link);
				if (s->dead || s->account != acc)
					continue;
				if (s->cred.uid != acc->uid)
					FAIL("session %" PRIu64 " of uid %u in the account of uid %u",
					     s->id, (unsigned)s->cred.uid, (unsigned)acc->uid);
				sessions++;
				regions += s->nregions;
				bytes += s->bytes;
			}
			if (sessions != acc->sessions || regions != acc->regions ||
			    bytes != acc->bytes)
				FAIL("uid %u counts %u sessions / %u regions / %" PRIu64 " bytes, "
				     "has %u / %u / %" PRIu64, (unsigned)acc->uid, acc->sessions,
				     acc->regions, acc->bytes, sessions, regions, bytes);
		}
	}
	if (accounts != srv->accounts.n)
		FAIL("%u uid accounts listed, %u counted", accounts, srv->accounts.n);
	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		const struct session *s = container_of(n, struct session, link);
		if (!s->dead && !s->account)
			FAIL("session %" PRIu64 " has no uid account", s->id);
	}
	return 0;
}

int server_check(const struct server *srv, char *why, size_t len)
{
	const struct list_node *n;
	uint64_t held = 0;
	uint32_t live = 0, gated = 0, out_held = 0;
	int r;

	for (n = srv->sessions.next; n != &srv->sessions; n = n->next) {
		const struct session *s = container_of(n, struct session, link);

		gated += s->conn.gated;
		out_held += !s->dead && s->conn.out_held;
		if (s->dead) {
			/* Ended: it holds nothing and counts nothing. */
			if (s->nregions || s->bytes || s->carve_bytes || s->leases.next != &s->leases)
				FAIL("ended session %" PRIu64 " still counts or holds leases", s->id);
			continue;
		}
		live++;
		held += s->bytes;
		if (!s->tenant)
			FAIL("session %" PRIu64 " has no cgroup tenant", s->id);
		r = check_session(s, why, len);
		if (r < 0)
			return r;
	}
	if (live != srv->nsessions)
		FAIL("%u live sessions, nsessions %u", live, srv->nsessions);
	/* A gate left shut is a session never read again. */
	if (gated != srv->ngated || (gated && !srv->gate_unstored))
		FAIL("%u sessions wait for the store, %u counted (gating %s)", gated, srv->ngated,
		     srv->gate_unstored ? "on" : "off");
	if (out_held && !srv->gate_unstored)
		FAIL("%u sessions' replies held with no store to wait for", out_held);
	if (srv->tenants.root.subtree_bytes != held)
		FAIL("the cgroup tenants hold %" PRIu64 " bytes, the sessions %" PRIu64,
		     srv->tenants.root.subtree_bytes, held);
	r = check_grants(srv, why, len);
	if (r < 0)
		return r;
	r = check_accounts(srv, why, len);
	if (r < 0)
		return r;
	return check_tenants(&srv->tenants.root, why, len);
}
