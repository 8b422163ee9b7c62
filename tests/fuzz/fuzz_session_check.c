/* SPDX-License-Identifier: MIT */
/*
 * fuzz_session_check.c - the rules the session fuzzer holds the daemon to.
 *
 * check_state, after every command: extent_pool_check; every USED page in
 * exactly one live region, at the region's contiguous addresses; leases on
 * both lists, held by live sessions; each session's and each uid's region
 * and byte counts equal to what its leases add up to and within quota;
 * sessions past HELLO within max-sessions and uid-max-sessions; page fds
 * and states consistent (revoked pages have no file, live ones are where
 * the kernel put them); quarantine and reclaim counts; regions a holder
 * died holding go through quarantine when released.
 *
 * check_reply, on every datagram a client reads: it decodes with the
 * daemon's own codec; statuses are documented errnos; a region's fds are
 * the pool's pages, at the addresses the client is told; a new region
 * reads zero and no region ever shows another region's data; a client
 * that is not root sees only its own uid's sessions and regions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_session.h"
#include "pool.h"

static uint64_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

struct session *session_by_id(uint64_t id)
{
	struct list_node *n, *t;

	list_for_each_safe(n, t, &H.srv.sessions) {
		struct session *s = container_of(n, struct session, link);
		if (!s->dead && s->id == id)
			return s;
	}
	return NULL;
}

/* ---- the daemon's rules, checked after every command ---- */

static void check_regions(uint32_t *ret_used)
{
	struct pool *p = &H.srv.pool;
	uint8_t *owned = calloc(p->npages, 1);
	uint32_t nregions = 0, used = 0;

	CHECK(owned, "out of memory");
	for (uint32_t slot = 0; slot < p->npages; slot++) {
		struct region *rg = p->slots[slot];
		struct list_node *n, *t;
		uint32_t nleases = 0;

		if (!rg)
			continue;
		nregions++;
		CHECK(rg->slot == slot && (uint32_t)rg->id == slot, "region %llx in slot %u",
		      (unsigned long long)rg->id, slot);
		CHECK(rg->npages >= 1 && rg->npages <= p->npages, "region of %u pages", rg->npages);
		CHECK((rg->nbytes - 1) / p->page_size + 1 == rg->npages, "region of %llu bytes in %u pages",
		      (unsigned long long)rg->nbytes, rg->npages);
		for (uint32_t k = 0; k < rg->npages; k++) {
			uint32_t id = rg->ids[k];
			CHECK(id < p->npages, "page id %u", id);
			CHECK(!owned[id], "page %u is in two regions", id);
			owned[id] = 1;
			CHECK(p->ext.pages[id].state == EXTENT_USED, "page %u of a live region is in state %u",
			      id, p->ext.pages[id].state);
			CHECK(p->ext.pages[id].phys == rg->phys + (uint64_t)k * p->page_size,
			      "region %llx is not contiguous at page %u", (unsigned long long)rg->id, k);
			used++;
		}
		list_for_each_safe(n, t, &rg->leases) {
			struct lease *l = container_of(n, struct lease, by_region);
			struct session *s = l->holder;
			CHECK(l->region == rg && l->refs >= 1, "lease of region %llx", (unsigned long long)rg->id);
			CHECK(!s->dead, "a dead session holds region %llx", (unsigned long long)rg->id);
			nleases++;
		}
		CHECK(nleases >= 1 && nleases == rg->nleases, "region %llx: %u leases, nleases %u",
		      (unsigned long long)rg->id, nleases, rg->nleases);
	}
	CHECK(nregions == p->nregions, "%u regions in slots, nregions %u", nregions, p->nregions);
	CHECK(used == p->ext.nstate[EXTENT_USED], "%u pages in regions, %u USED", used,
	      p->ext.nstate[EXTENT_USED]);
	free(owned);
	*ret_used = used;
}

/* Sums of the sessions of one uid (non-root), for its quota. */
struct uid_sum {
	uid_t uid;
	uint32_t sessions, regions;
	uint64_t bytes;
};

static void uid_add(struct uid_sum *u, uint32_t *n, const struct session *s)
{
	uint32_t i;

	for (i = 0; i < *n && u[i].uid != s->cred.uid; i++)
		;
	if (i == *n)
		u[(*n)++] = (struct uid_sum){ .uid = s->cred.uid };
	u[i].sessions += s->hello;
	u[i].regions += s->nregions;
	u[i].bytes += s->bytes;
}

/* Each session's counters are what its leases add up to, and within quota;
 * so are the sums per uid. Sessions count once past HELLO. */
static void check_sessions(void)
{
	const struct limits *lim = &H.srv.limits;
	struct uid_sum uids[FZ_MAX_CONNS];
	struct list_node *n, *t;
	uint32_t live = 0, hello = 0, nuids = 0;

	list_for_each_safe(n, t, &H.srv.sessions) {
		struct session *s = container_of(n, struct session, link);
		struct list_node *ln, *lt;
		uint32_t nleases = 0;
		uint64_t bytes = 0;

		if (s->dead)
			continue;
		live++;
		hello += s->hello;
		list_for_each_safe(ln, lt, &s->leases) {
			struct lease *l = container_of(ln, struct lease, by_holder);
			CHECK(l->holder == s, "lease on the wrong session's list");
			CHECK(pool_lease_of(l->region, s) == l, "lease not on its region's list");
			nleases++;
			bytes += (uint64_t)l->region->npages * H.srv.pool.page_size;
		}
		CHECK(s->nregions == nleases && s->bytes == bytes,
		      "session %llu counts %u regions / %llu bytes, holds %u / %llu",
		      (unsigned long long)s->id, s->nregions, (unsigned long long)s->bytes, nleases,
		      (unsigned long long)bytes);
		CHECK(s->nregions <= lim->session_max_regions && s->bytes <= lim->session_max_bytes,
		      "session %llu over quota: %u regions, %llu bytes", (unsigned long long)s->id,
		      s->nregions, (unsigned long long)s->bytes);
		if (s->cred.uid != 0 && nuids < FZ_MAX_CONNS)
			uid_add(uids, &nuids, s);
	}
	CHECK(live == H.srv.nsessions, "%u live sessions, nsessions %u", live, H.srv.nsessions);
	CHECK(hello <= lim->max_sessions, "%u sessions past HELLO, max-sessions %u", hello,
	      lim->max_sessions);
	for (uint32_t i = 0; i < nuids; i++) {
		CHECK(uids[i].sessions <= lim->uid_max_sessions,
		      "uid %u has %u sessions past HELLO, uid-max-sessions %u", (unsigned)uids[i].uid,
		      uids[i].sessions, lim->uid_max_sessions);
		CHECK(uids[i].regions <= lim->uid_max_regions && uids[i].bytes <= lim->uid_max_bytes,
		      "uid %u over quota: %u regions, %llu bytes", (unsigned)uids[i].uid,
		      uids[i].regions, (unsigned long long)uids[i].bytes);
	}
}

uint32_t reclaim_in_flight(void)
{
	struct reclaim *rc = &H.srv.pool.reclaim;
	uint32_t n;

	pthread_mutex_lock(&rc->lock);
	n = rc->in_flight;
	pthread_mutex_unlock(&rc->lock);
	return n;
}

static void check_pages(void)
{
	struct pool *p = &H.srv.pool;

	for (uint32_t id = 0; id < p->npages; id++) {
		uint8_t st = p->ext.pages[id].state;
		int fd = p->pages[id].fd;

		CHECK(st < EXTENT_STATE_MAX, "page %u in state %u", id, st);
		/* Revoked pages have no file; in trusted mode a page being
		 * zeroed keeps its own. */
		if (st == EXTENT_RECLAIMING && p->zero_in_place)
			continue;
		if (st == EXTENT_RECLAIMING || st == EXTENT_LOST) {
			CHECK(fd < 0, "page %u is %s but still has fd %d", id,
			      st == EXTENT_LOST ? "LOST" : "RECLAIMING", fd);
			continue;
		}
		/* FREE, USED, QUARANTINED: a live page where the pool says it is. */
		CHECK(fd >= 0, "page %u in state %u has no fd", id, st);
		uint64_t truth = fake_frame(&H.fb, fd);
		CHECK(truth, "page %u: fd %d is no page the kernel made", id, fd);
		CHECK(H.migrated || truth == p->ext.pages[id].phys,
		      "page %u is at 0x%llx, the pool says 0x%llx", id, (unsigned long long)truth,
		      (unsigned long long)p->ext.pages[id].phys);
	}
	CHECK(p->q_len == p->ext.nstate[EXTENT_QUARANTINED], "%u in the quarantine ring, %u QUARANTINED",
	      p->q_len, p->ext.nstate[EXTENT_QUARANTINED]);
	/* Revoked this turn and not handed over yet (pool_reclaim_kick), or
	 * with the reclaim workers: nothing else is RECLAIMING. */
	CHECK(reclaim_in_flight() + p->npending == p->ext.nstate[EXTENT_RECLAIMING],
	      "%u pages with the reclaim workers, %u pending, %u RECLAIMING", reclaim_in_flight(),
	      p->npending, p->ext.nstate[EXTENT_RECLAIMING]);
}

/* A tainted region that is gone left its pages in quarantine. */
static void check_tainted(void)
{
	struct pool *p = &H.srv.pool;

	for (uint32_t i = 0; i < H.ntainted;) {
		struct tainted *t = &H.tainted[i];
		if (pool_region_find(p, t->id)) {
			i++;
			continue;
		}
		for (uint32_t k = 0; k < t->npages; k++)
			CHECK(p->ext.pages[t->ids[k]].state == EXTENT_QUARANTINED,
			      "region %llx, released after a holder died, put page %u in state %u, not "
			      "in quarantine", (unsigned long long)t->id, t->ids[k],
			      p->ext.pages[t->ids[k]].state);
		*t = H.tainted[--H.ntainted];
	}
}

void check_state(void)
{
	uint32_t used;

	CHECK(extent_pool_check(&H.srv.pool.ext) == 0, "extent_pool_check");
	check_regions(&used);
	check_sessions();
	check_pages();
	check_tainted();
}

void remember_sent(struct conn *c, uint32_t request, uint16_t type)
{
	c->sent[c->nsent++ % 64] = (struct sent){ request, type };
}

/* The type of the request a reply answers, or 0 when unknown or ambiguous
 * (a raw datagram may have reused a request id). */
static uint16_t sent_type(const struct conn *c, uint32_t request)
{
	uint16_t type = 0;
	uint32_t n = c->nsent < 64 ? c->nsent : 64;

	for (uint32_t i = 0; i < n; i++) {
		if (c->sent[i].request != request)
			continue;
		if (type && type != c->sent[i].type)
			return 0;
		type = c->sent[i].type;
	}
	return type;
}

static void remember_region(uint64_t id)
{
	for (uint32_t i = 0; i < H.nregions && i < FZ_MAX_KNOWN; i++)
		if (H.regions[i] == id)
			return;
	H.regions[H.nregions++ % FZ_MAX_KNOWN] = id;
}

static bool status_ok(int32_t e)
{
	static const int ok[] = { 0, EINVAL, ENOMEM, ENOTSUP, EDQUOT, EACCES, ENOENT, EAGAIN,
				  EPROTONOSUPPORT, EEXIST };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (e == ok[i])
			return true;
	return false;
}

/* One page of a region as the client sees it: zero when new, never another
 * region's tag; then tagged as this region's. */
static void check_page(int fd, uint64_t region_id, bool fresh)
{
	uint64_t head[2] = { 0, 0 }, tail = 0, tag[2] = { TAG, region_id };

	CHECK(pread(fd, head, sizeof(head), 0) == sizeof(head), "read of a page fd: %m");
	CHECK(pread(fd, &tail, sizeof(tail), (off_t)(PS - 8)) == sizeof(tail), "read of a page fd: %m");
	if (fresh)
		CHECK(!head[0] && !head[1] && !tail, "a new region %llx holds data: %llx %llx",
		      (unsigned long long)region_id, (unsigned long long)head[0],
		      (unsigned long long)head[1]);
	else
		CHECK((!head[0] && !head[1]) || (head[0] == TAG && head[1] == region_id),
		      "region %llx shows the data of region %llx", (unsigned long long)region_id,
		      (unsigned long long)head[1]);
	CHECK(pwrite(fd, tag, sizeof(tag), 0) == sizeof(tag), "write to a page fd: %m");
	H.pages_checked++;
}

static void check_region_reply(struct conn *c, const struct proto_msg *m, const int *fds, size_t nfds)
{
	const struct proto_region *r = &m->body.region;
	struct pool *p = &H.srv.pool;
	struct region *rg = pool_region_find(p, r->region_id);
	uint16_t asked = sent_type(c, m->hdr.request);

	CHECK(r->page_size == p->page_size, "region of page size %llu", (unsigned long long)r->page_size);
	CHECK(r->npages == (r->nbytes - 1) / r->page_size + 1, "%u pages for %llu bytes", r->npages,
	      (unsigned long long)r->nbytes);
	CHECK(nfds == r->count, "%zu fds for %u pages", nfds, r->count);
	if (r->first == 0)
		remember_region(r->region_id);
	if (!rg)
		return; /* freed since (its session died, or another holder let go) */
	CHECK(rg->phys == r->phys && rg->npages == r->npages && rg->nbytes == r->nbytes,
	      "the client is told region %llx is at 0x%llx, %u pages; it is at 0x%llx, %u pages",
	      (unsigned long long)r->region_id, (unsigned long long)r->phys, r->npages,
	      (unsigned long long)rg->phys, rg->npages);
	for (uint32_t k = 0; k < r->count; k++) {
		uint32_t id = rg->ids[r->first + k];
		uint64_t want = r->phys + (uint64_t)(r->first + k) * r->page_size;

		CHECK(ino_of(fds[k]) == ino_of(p->pages[id].fd),
		      "region %llx page %u: the fd sent is not the pool's page", (unsigned long long)r->region_id,
		      r->first + k);
		CHECK(H.migrated || fake_frame(&H.fb, p->pages[id].fd) == want,
		      "region %llx page %u: told 0x%llx, really 0x%llx", (unsigned long long)r->region_id,
		      r->first + k, (unsigned long long)want,
		      (unsigned long long)fake_frame(&H.fb, p->pages[id].fd));
		check_page(fds[k], r->region_id, asked == PROTO_ALLOC);
	}
}

/* Inspection: a client that is not root sees the sessions of its own uid
 * and the regions its uid allocated or holds, nothing else (inspect.c). */
static bool uid_holds(const struct region *rg, uid_t uid)
{
	const struct list_node *n;

	if (rg->owner.uid == uid)
		return true;
	for (n = rg->leases.next; n != &rg->leases; n = n->next) {
		const struct lease *l = container_of(n, struct lease, by_region);
		if (((const struct session *)l->holder)->cred.uid == uid)
			return true;
	}
	return false;
}

static void check_list_reply(struct conn *c, const struct proto_msg *m)
{
	const struct proto_list_reply *lr = &m->body.list_reply;
	struct session *self = session_by_id(c->session_id);

	for (uint32_t i = 0; i < lr->count; i++) {
		const uint8_t *it = m->items + (size_t)i * lr->item_size;
		if (lr->table == PROTO_TABLE_PAGES) {
			struct proto_page_item pi;
			memcpy(&pi, it, sizeof(pi));
			CHECK(pi.state < EXTENT_STATE_MAX, "page item in state %u", pi.state);
		}
		if (c->root || !self)
			continue;
		if (lr->table == PROTO_TABLE_SESSIONS) {
			struct proto_session_item si;
			memcpy(&si, it, sizeof(si));
			struct session *o = session_by_id(si.session_id);
			CHECK(si.uid == self->cred.uid && (!o || o->cred.uid == self->cred.uid),
			      "uid %u sees session %llu of uid %u", (unsigned)self->cred.uid,
			      (unsigned long long)si.session_id, (unsigned)si.uid);
		}
		if (lr->table == PROTO_TABLE_REGIONS) {
			struct proto_region_item ri;
			memcpy(&ri, it, sizeof(ri));
			struct region *rg = pool_region_find(&H.srv.pool, ri.region_id);
			CHECK(!rg || uid_holds(rg, self->cred.uid), "uid %u sees region %llx of uid %u",
			      (unsigned)self->cred.uid, (unsigned long long)ri.region_id, (unsigned)ri.uid);
		}
	}
}

void check_reply(struct conn *c, const uint8_t *buf, size_t len, int *fds, size_t nfds)
{
	struct proto_msg m;
	int r = proto_decode(buf, len, nfds, &m);

	CHECK(r == 0, "the daemon sent a message its own codec rejects: %s", strerror(-r));
	H.replies[m.hdr.type]++;
	switch (m.hdr.type) {
	case PROTO_HELLO_REPLY:
		CHECK(m.body.hello_reply.page_size == H.srv.pool.page_size, "HELLO_REPLY page size");
		c->session_id = m.body.hello_reply.session_id;
		break;
	case PROTO_STATUS:
		CHECK(status_ok(m.body.status.error), "undocumented status %d", m.body.status.error);
		switch (m.body.status.error) {
		case 0: H.statuses[0]++; break;
		case EINVAL: H.statuses[1]++; break;
		case ENOMEM: H.statuses[2]++; break;
		case ENOTSUP: H.statuses[3]++; break;
		case EDQUOT: H.statuses[4]++; break;
		case EACCES: H.statuses[5]++; break;
		case ENOENT: H.statuses[6]++; break;
		default: H.statuses[7]++; break;
		}
		break;
	case PROTO_REGION:
		check_region_reply(c, &m, fds, nfds);
		break;
	case PROTO_HANDLE:
		H.handles[H.nhandles++ % FZ_MAX_KNOWN] = m.body.handle;
		break;
	case PROTO_LIST_REPLY:
		check_list_reply(c, &m);
		break;
	case PROTO_POOL_INFO:
		CHECK(m.body.pool_info.free_bytes <= m.body.pool_info.total_bytes, "free > total");
		break;
	case PROTO_STASH_TABLE: {
		/* One table per session, sealed so that we cannot cut the
		 * daemon's mapping short. */
		int seals = fcntl(fds[0], F_GET_SEALS);
		CHECK(!c->stash, "a second stash table for one session");
		CHECK(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
		      (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), "stash table seals %#x", seals);
		CHECK(ftruncate(fds[0], 0) < 0, "a client shrank its stash table");
		void *t = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
		CHECK(t != MAP_FAILED, "mapping the stash table: %m");
		c->stash = t;
		break;
	}
	default:
		CHECK(0, "the daemon sent a message of type %u", m.hdr.type);
	}
}
