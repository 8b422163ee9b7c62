/* SPDX-License-Identifier: MIT */
/*
 * fuzz_session_check.c - the rules the session fuzzer holds the daemon to.
 *
 * check_state, after every command: pool_check and server_check (the
 * daemon's own); extent_pool_check; every USED page in
 * exactly one live region, at the region's contiguous addresses; leases on
 * both lists, held by live sessions; each session's and each uid's region
 * and byte counts equal to what its leases add up to and within quota;
 * each session's bytes leased for carving those of the carve regions it
 * holds, and what is shown of its carve report the saturating sum of the
 * lines, capped at them; sessions past HELLO within max-sessions and uid-max-sessions; page fds
 * and states consistent (revoked pages have no file, live ones are where
 * the kernel put them); quarantine and reclaim counts; regions a holder
 * died holding go through quarantine when released.
 *
 * Sessions and queues, after every command: admission (at accept, per uid,
 * slots kept for root and for those who may allocate) and access (who may
 * allocate, as the access lists say, also after a reload) hold for every
 * live session; a reply queue holds no fd number of the pool, only a
 * REGION's id and page slice, for a region the session still holds (a
 * session with a queued reply keeps its stash), and a stash table's fd of
 * its own. Every pipe a client sent with a request is closed in the daemon
 * exactly when that session is gone, and no request that came with fds is
 * ever answered.
 *
 * check_sent, on every datagram the daemon sends on a session's socket, at
 * its sendmsg: it decodes; a REGION's fds are, at that moment, the files
 * of the pages it names, of a region this session holds (never a socket,
 * never another session's page, never a page the pool has reclaimed); a
 * STASH_TABLE's fd is a sealed memfd, no page; LIST pages and runs show no
 * physical address to a session that may not allocate. The files sent are
 * remembered for the client.
 *
 * check_reply, on every datagram a client reads: it decodes with the
 * daemon's own codec; the fds are the files the daemon was seen to send,
 * memfds; statuses are documented errnos; a region's fds are the pool's
 * pages, at the addresses the client is told, and (unless trusted mode
 * hands zeroed pages on) a page file still in the pool is only ever that
 * page of that region; a new region reads zero and no region ever shows
 * another region's data; a client that is not root sees only its own uid's
 * sessions and regions; no sessions row or stats page shows more bytes
 * carved than leased for carving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuzz_session.h"
#include "pool.h"

static uint64_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

uint64_t file_id(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	return ((uint64_t)st.st_dev << 40) ^ (uint64_t)st.st_ino;
}

_Static_assert(offsetof(struct proto_run_item, phys) == 0 &&
	       offsetof(struct proto_page_item, phys) == 0, "phys leads run and page items");

static bool is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A memfd the fake backing made ("fake-page"), or another memfd. */
static bool is_memfd(int fd, const char *name)
{
	char path[64], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	return !strncmp(target, "/memfd:", 7) && (!name || !strncmp(target + 7, name, strlen(name)));
}

bool access_model(const struct access *a, const struct session *s)
{
	const struct peer_groups *g = &s->groups;
	bool in_group;

	if (s->cred.uid == 0)
		return true;
	for (uint32_t i = 0; i < a->nuids; i++)
		if (a->uids[i] == s->cred.uid)
			return true;
	for (uint32_t i = 0; i < a->ngids + a->socket_gid_set; i++) {
		gid_t want = i < a->ngids ? a->gids[i] : a->socket_gid;
		in_group = g->gid == want;
		for (int k = 0; k < g->n; k++)
			in_group |= g->list[k] == want;
		if (in_group)
			return true;
	}
	return false;
}

static struct session *session_by_fd(int fd)
{
	struct list_node *n;

	for (n = H.srv.sessions.next; n != &H.srv.sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);
		if (!s->dead && s->conn.src.fd == fd)
			return s;
	}
	return NULL;
}

static struct client *conn_of(uint64_t session_id)
{
	for (uint32_t i = 0; i < H.nconns; i++)
		if (H.conns[i].session_id == session_id)
			return &H.conns[i];
	return NULL;
}

/* The file of every pool page (0: none), to look many fds up at once. */
static void pool_files(uint64_t *files)
{
	struct pool *p = &H.srv.pool;

	for (uint32_t k = 0; k < p->npages; k++)
		files[k] = p->pages[k].fd >= 0 ? file_id(p->pages[k].fd) : 0;
}

static int page_in(const uint64_t *files, uint64_t id)
{
	for (uint32_t k = 0; id && k < H.srv.pool.npages; k++)
		if (files[k] == id)
			return (int)k;
	return -1;
}

/* Which pool page file is this, if any: its page id, or -1. */
static int page_of_file(uint64_t id)
{
	uint64_t files[PROTO_MAX_FDS + 16];

	CHECK(H.srv.pool.npages <= sizeof(files) / sizeof(files[0]), "a pool of %u pages",
	      H.srv.pool.npages);
	pool_files(files);
	return page_in(files, id);
}

/* The live region a page is in, or NULL. */
static struct region *region_of_page(uint32_t page)
{
	struct pool *p = &H.srv.pool;

	for (uint32_t slot = 0; slot < p->npages; slot++) {
		struct region *rg = p->slots[slot];
		for (uint32_t k = 0; rg && k < rg->npages; k++)
			if (rg->ids[k] == page)
				return rg;
	}
	return NULL;
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
	u[i].sessions++;
	u[i].regions += s->nregions;
	u[i].bytes += s->bytes;
}

/* What the daemon may show of a session's carve report: the saturating
 * sum of every line of its table, at most what it leased for carving. */
static uint64_t carve_shown_model(const struct session *s)
{
	const uint8_t *t = (const uint8_t *)s->stash.slots;
	uint64_t sum = 0;

	for (uint32_t i = 0; t && i < PROTO_CARVE_LINES; i++) {
		uint64_t v = __atomic_load_n((const uint64_t *)(const void *)(t +
				PROTO_CARVE_REPORT_OFF + (size_t)i * PROTO_CARVE_LINE_BYTES),
					     __ATOMIC_RELAXED);
		sum = __builtin_add_overflow(sum, v, &sum) ? UINT64_MAX : sum;
	}
	return sum < s->carve_bytes ? sum : s->carve_bytes;
}

/* Each session's counters are what its leases add up to, and within quota;
 * so are the sums per uid; the bytes leased for carving are those of the
 * carve regions it holds, and what is shown of its report is capped at
 * them. Sessions count from accept (admission), and may allocate exactly
 * when the access lists say so. */
static void check_sessions(void)
{
	const struct limits *lim = &H.srv.limits;
	struct uid_sum uids[FZ_MAX_CONNS];
	struct list_node *n, *t;
	uint32_t live = 0, nuids = 0, trusted = 0, others = 0;
	uint32_t reserve = lim->max_sessions / 16 ? lim->max_sessions / 16 : 1;

	list_for_each_safe(n, t, &H.srv.sessions) {
		struct session *s = container_of(n, struct session, link);
		struct list_node *ln, *lt;
		uint32_t nleases = 0;
		uint64_t bytes = 0, carve = 0;

		if (s->dead)
			continue;
		live++;
		trusted += s->may_alloc;
		others += s->cred.uid != 0;
		CHECK(s->may_alloc == access_model(&H.srv.access, s), "session %llu of uid %u: "
		      "may_alloc %d, the access lists say %d", (unsigned long long)s->id,
		      (unsigned)s->cred.uid, s->may_alloc, access_model(&H.srv.access, s));
		list_for_each_safe(ln, lt, &s->leases) {
			struct lease *l = container_of(ln, struct lease, by_holder);
			CHECK(l->holder == s, "lease on the wrong session's list");
			CHECK(pool_lease_of(l->region, s) == l, "lease not on its region's list");
			nleases++;
			bytes += (uint64_t)l->region->npages * H.srv.pool.page_size;
			if (l->region->carve)
				carve += (uint64_t)l->region->npages * H.srv.pool.page_size;
		}
		CHECK(s->carve_bytes == carve && carve <= bytes, "session %llu counts %llu bytes "
		      "leased for carving, holds %llu in carve regions of %llu",
		      (unsigned long long)s->id, (unsigned long long)s->carve_bytes,
		      (unsigned long long)carve, (unsigned long long)bytes);
		/* Only this thread writes the report lines (FZ_CARVE_REPORT). */
		CHECK(session_carve_in_use(s) == carve_shown_model(s), "session %llu: %llu carved "
		      "bytes shown, the report and the cap say %llu", (unsigned long long)s->id,
		      (unsigned long long)session_carve_in_use(s),
		      (unsigned long long)carve_shown_model(s));
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
	CHECK(live <= lim->max_sessions, "%u sessions, max-sessions %u", live, lim->max_sessions);
	CHECK(!others || others + reserve <= lim->max_sessions, "%u sessions of users other "
	      "than root, max-sessions %u keeps %u for root", others, lim->max_sessions, reserve);
	CHECK(H.access_changed || live - trusted <= lim->max_sessions / 2, "%u sessions of users "
	      "who may not allocate, max-sessions %u", live - trusted, lim->max_sessions);
	for (uint32_t i = 0; i < nuids; i++) {
		CHECK(uids[i].sessions <= lim->uid_max_sessions,
		      "uid %u has %u sessions, uid-max-sessions %u", (unsigned)uids[i].uid,
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

/* A reply queue keeps no fd number of the pool: a REGION datagram keeps its
 * region's id and page slice (the fds are looked up at sendmsg), for a
 * region the session still holds, since a session with a reply queued
 * keeps its stash; the only fd a queue owns is a stash table's. */
static void check_queues(void)
{
	struct pool *p = &H.srv.pool;
	struct list_node *n;

	for (n = H.srv.sessions.next; n != &H.srv.sessions; n = n->next) {
		struct session *s = container_of(n, struct session, link);
		struct outmsg **tail = &s->conn.out_head;
		uint32_t count = 0;

		if (s->dead) {
			CHECK(!s->conn.out_head && !s->conn.nout, "a dead session keeps a reply queue");
			continue;
		}
		for (struct outmsg *m = s->conn.out_head; m; tail = &m->next, m = m->next) {
			struct proto_msg pm;
			count++;
			CHECK(proto_decode(m->buf, m->len, m->region_id ? m->nfds : m->owned_fd >= 0,
					   &pm) == 0, "a queued reply the codec rejects");
			if (pm.hdr.type == PROTO_REGION) {
				const struct proto_region *r = &pm.body.region;
				struct region *rg = pool_region_find(p, m->region_id);
				CHECK(m->region_id == r->region_id && m->first == r->first &&
				      m->nfds == r->count && m->owned_fd < 0,
				      "a queued REGION keeps region %llx pages %u+%u, says %llx %u+%u",
				      (unsigned long long)m->region_id, m->first, m->nfds,
				      (unsigned long long)r->region_id, r->first, r->count);
				CHECK(rg && pool_lease_of(rg, s), "session %llu has a REGION reply queued "
				      "for region %llx, which it no longer holds (%s): the reply cannot "
				      "leave", (unsigned long long)s->id, (unsigned long long)m->region_id,
				      rg ? "another session does" : "freed");
				CHECK(m->first + m->nfds <= rg->npages, "a queued REGION past its region");
			} else {
				CHECK(!m->region_id && !m->nfds, "a queued %u keeps region pages",
				      pm.hdr.type);
			}
			if (pm.hdr.type == PROTO_STASH_TABLE) {
				CHECK(m->owned_fd >= 3 && fcntl(m->owned_fd, F_GETFD) >= 0,
				      "a queued stash table without its fd (%d)", m->owned_fd);
				CHECK(page_of_file(file_id(m->owned_fd)) < 0 &&
				      is_memfd(m->owned_fd, "contig-stash"),
				      "a queued stash table's fd is not a stash table");
			} else {
				CHECK(m->owned_fd < 0, "a queued reply of type %u owns fd %d",
				      pm.hdr.type, m->owned_fd);
			}
		}
		CHECK(count == s->conn.nout && s->conn.out_tail == tail, "reply queue of %u datagrams, "
		      "nout %u", count, s->conn.nout);
		CHECK(count <= H.srv.limits.max_out, "%u replies queued, max_out %u", count,
		      H.srv.limits.max_out);
		if (count > H.max_queued)
			H.max_queued = count;
	}
}

void check_probes(void)
{
	for (uint32_t i = 0; i < H.nprobes;) {
		struct probe *pr = &H.probes[i];
		struct pollfd pf = { .fd = pr->rfd, .events = POLLIN };
		CHECK(poll(&pf, 1, 0) >= 0, "poll: %m");
		bool closed = pf.revents & POLLHUP;
		if (session_by_id(pr->session_id)) {
			/* Still in its socket, unread: a session that read a
			 * request with fds must be closed for it. */
			CHECK(!closed, "session %llu read a request that came with fds (closed them) "
			      "and lives on", (unsigned long long)pr->session_id);
			i++;
			continue;
		}
		CHECK(closed, "session %llu is gone, but a pipe its client sent is still open "
		      "(the daemon kept an fd a client sent)", (unsigned long long)pr->session_id);
		close(pr->rfd);
		H.probes_closed++;
		*pr = H.probes[--H.nprobes];
	}
}

void check_state(void)
{
	uint32_t used;

	char why[256];
	CHECK(pool_check(&H.srv.pool, why, sizeof(why)) == 0, "pool_check: %s", why);
	CHECK(server_check(&H.srv, why, sizeof(why)) == 0, "server_check: %s", why);
	check_regions(&used);
	check_sessions();
	check_pages();
	check_tainted();
	check_queues();
	check_probes();
}

/* ---- what the daemon sends, at its sendmsg ---- */

static void check_sent_region(struct session *s, const struct proto_msg *m, const int *fds,
			      size_t nfds)
{
	const struct proto_region *r = &m->body.region;
	struct pool *p = &H.srv.pool;
	struct region *rg = pool_region_find(p, r->region_id);

	CHECK(rg, "session %llu is sent REGION %llx, a region that no longer exists",
	      (unsigned long long)s->id, (unsigned long long)r->region_id);
	CHECK(pool_lease_of(rg, s), "session %llu is sent the pages of region %llx, which it does "
	      "not hold", (unsigned long long)s->id, (unsigned long long)r->region_id);
	CHECK(r->npages == rg->npages && r->first + r->count <= rg->npages && nfds == r->count,
	      "REGION %llx pages %u+%u of %u, %zu fds", (unsigned long long)r->region_id, r->first,
	      r->count, rg->npages, nfds);
	for (uint32_t k = 0; k < r->count; k++) {
		uint32_t id = rg->ids[r->first + k];
		uint64_t want = file_id(p->pages[id].fd), got = file_id(fds[k]);
		if (got == want)
			continue;
		int other = page_of_file(got);
		struct region *orr = other >= 0 ? region_of_page((uint32_t)other) : NULL;
		CHECK(0, "session %llu is sent, as page %u of region %llx (pool page %u, fd %d), "
		      "fd %d, which is %s%s%llx", (unsigned long long)s->id, r->first + k,
		      (unsigned long long)r->region_id, id, p->pages[id].fd, fds[k],
		      is_socket(fds[k]) ? "a socket" : other >= 0 ? "pool page " : "no page of the pool",
		      orr ? " of region " : "", orr ? (unsigned long long)orr->id : 0ull);
	}
}

void check_sent(int sock, const struct msghdr *msg, ssize_t sent)
{
	int fds[PROTO_MAX_FDS + 8];
	size_t nfds = 0;
	struct session *s = session_by_fd(sock);
	struct proto_msg m;

	if (!s)
		return; /* a client's, or a refusal before any session */
	CHECK(msg->msg_iovlen == 1 && (size_t)sent == msg->msg_iov[0].iov_len,
	      "a datagram sent in %zu parts, %zd bytes", (size_t)msg->msg_iovlen, sent);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		CHECK(c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS,
		      "the daemon sent ancillary data of type %d", c->cmsg_type);
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		CHECK(nfds + k <= PROTO_MAX_FDS, "the daemon sent %zu fds", nfds + k);
		memcpy(fds + nfds, CMSG_DATA(c), k * sizeof(int));
		nfds += k;
	}
	CHECK(proto_decode(msg->msg_iov[0].iov_base, (size_t)sent, nfds, &m) == 0,
	      "the daemon sent a message its own codec rejects");
	H.sent_datagrams++;
	H.sent_fds += (uint32_t)nfds;
	switch (m.hdr.type) {
	case PROTO_REGION:
		check_sent_region(s, &m, fds, nfds);
		break;
	case PROTO_STASH_TABLE:
		CHECK(s->stash.slots, "a stash table sent to a session that has none");
		CHECK(!is_socket(fds[0]) && page_of_file(file_id(fds[0])) < 0 &&
		      is_memfd(fds[0], "contig-stash"), "the stash table sent is fd %d, no stash table",
		      fds[0]);
		break;
	case PROTO_LIST_REPLY: {
		const struct proto_list_reply *lr = &m.body.list_reply;
		if (s->cred.uid == 0 || s->may_alloc ||
		    (lr->table != PROTO_TABLE_RUNS && lr->table != PROTO_TABLE_PAGES))
			break;
		for (uint32_t i = 0; i < lr->count; i++) {
			uint64_t phys;
			/* phys leads both items */
			memcpy(&phys, m.items + (size_t)i * lr->item_size, sizeof(phys));
			CHECK(!phys, "session %llu of uid %u, which may not allocate, is shown "
			      "physical address 0x%llx", (unsigned long long)s->id,
			      (unsigned)s->cred.uid, (unsigned long long)phys);
		}
		break;
	}
	default:
		break;
	}
	if (!nfds)
		return;
	struct client *c = conn_of(s->id);
	CHECK(c, "session %llu has no client", (unsigned long long)s->id);
	CHECK(c->fly_len < FZ_MAX_INFLIGHT, "more than %u datagrams with fds in flight",
	      FZ_MAX_INFLIGHT);
	struct inflight *f = &c->fly[(c->fly_head + c->fly_len++) % FZ_MAX_INFLIGHT];
	f->type = m.hdr.type;
	f->region_id = m.hdr.type == PROTO_REGION ? m.body.region.region_id : 0;
	f->first = m.hdr.type == PROTO_REGION ? m.body.region.first : 0;
	f->count = (uint32_t)nfds;
	for (size_t k = 0; k < nfds; k++)
		f->file[k] = file_id(fds[k]);
}

void remember_sent(struct client *c, uint32_t request, uint16_t type)
{
	c->sent[c->nsent++ % 64] = (struct sent){ request, type };
}

/* The type of the request a reply answers, or 0 when unknown or ambiguous
 * (a raw datagram may have reused a request id). */
static uint16_t sent_type(const struct client *c, uint32_t request)
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

static void check_region_reply(struct client *c, const struct proto_msg *m, const int *fds, size_t nfds)
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
	/* A page file still in the pool is that page of that region, or, the
	 * region gone, a page in quarantine (its last holder died: the files
	 * stay until it ends, then are revoked); never another region's page or
	 * a free one. Revoked files never come back, so this holds however
	 * late the client reads, unless trusted mode zeroed the region's pages
	 * in place and handed them on (the client freed it, or its session
	 * ended, before it read the reply: as designed for trusted hosts). */
	uint64_t files[PROTO_MAX_FDS + 16];
	CHECK(p->npages <= sizeof(files) / sizeof(files[0]), "a pool of %u pages", p->npages);
	if (!p->zero_in_place)
		pool_files(files);
	for (uint32_t k = 0; !p->zero_in_place && k < r->count; k++) {
		int page = page_in(files, file_id(fds[k]));
		if (page < 0)
			continue;
		CHECK((rg && rg->ids[r->first + k] == (uint32_t)page) ||
		      (!rg && p->ext.pages[page].state == EXTENT_QUARANTINED),
		      "the client reads, as page %u of region %llx, pool page %d, which is %s "
		      "(state %u)", r->first + k, (unsigned long long)r->region_id, page,
		      region_of_page((uint32_t)page) ? "another region's" : "in no region",
		      p->ext.pages[page].state);
	}
	/* The last page sent stays with the client, to send back (FZ_FD_PAGE). */
	if (c->kept_page >= 0)
		close(c->kept_page);
	c->kept_page = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
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

/* A stats row by name (the carve totals), or false. */
static bool stat_row(const struct proto_stat_item *st, const char *name, uint64_t *v)
{
	if (strncmp(st->name, name, sizeof(st->name)))
		return false;
	*v = st->value;
	return true;
}

static void check_list_reply(struct client *c, const struct proto_msg *m)
{
	const struct proto_list_reply *lr = &m->body.list_reply;
	struct session *self = session_by_id(c->session_id);
	uint64_t leased = 0, in_use = 0;
	bool has_leased = false, has_in_use = false;

	for (uint32_t i = 0; i < lr->count; i++) {
		const uint8_t *it = m->items + (size_t)i * lr->item_size;
		if (lr->table == PROTO_TABLE_PAGES) {
			struct proto_page_item pi;
			memcpy(&pi, it, sizeof(pi));
			CHECK(pi.state < EXTENT_STATE_MAX, "page item in state %u", pi.state);
		}
		/* Whatever a client wrote in its report, and whenever the row
		 * was made: never more shown in use than leased for carving. */
		if (lr->table == PROTO_TABLE_SESSIONS) {
			struct proto_session_item si;
			memcpy(&si, it, sizeof(si));
			CHECK(si.carve_in_use_bytes <= si.carve_leased_bytes &&
			      si.carve_leased_bytes <= si.bytes, "session %llu shown with %llu bytes "
			      "carved of %llu leased for carving, of %llu",
			      (unsigned long long)si.session_id,
			      (unsigned long long)si.carve_in_use_bytes,
			      (unsigned long long)si.carve_leased_bytes, (unsigned long long)si.bytes);
		}
		if (lr->table == PROTO_TABLE_STATS) {
			struct proto_stat_item st;
			memcpy(&st, it, sizeof(st));
			has_leased |= stat_row(&st, "carve_leased_bytes", &leased);
			has_in_use |= stat_row(&st, "carve_in_use_bytes", &in_use);
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
	/* Both in one page (a cursor may start between them). */
	CHECK(!has_leased || !has_in_use || in_use <= leased,
	      "stats: %llu bytes carved of %llu leased for carving",
	      (unsigned long long)in_use, (unsigned long long)leased);
}

/* The fds of a datagram are the files the daemon was seen to send in it. */
static void check_inflight(struct client *c, const struct proto_msg *m, const int *fds, size_t nfds)
{
	CHECK(c->fly_len, "the client got %zu fds the daemon was not seen to send", nfds);
	struct inflight *f = &c->fly[c->fly_head];
	c->fly_head = (c->fly_head + 1) % FZ_MAX_INFLIGHT;
	c->fly_len--;
	CHECK(f->type == m->hdr.type && f->count == nfds &&
	      (m->hdr.type != PROTO_REGION ||
	       (f->region_id == m->body.region.region_id && f->first == m->body.region.first)),
	      "the client reads a datagram of type %u with %zu fds; the next sent with fds was "
	      "type %u with %u", m->hdr.type, nfds, f->type, f->count);
	for (size_t k = 0; k < nfds; k++) {
		CHECK(file_id(fds[k]) == f->file[k], "fd %zu of a datagram is not the file sent", k);
		CHECK(!is_socket(fds[k]) && is_memfd(fds[k], NULL), "the client was sent fd %d, "
		      "which is no memfd", fds[k]);
	}
}

void check_reply(struct client *c, const uint8_t *buf, size_t len, int *fds, size_t nfds)
{
	struct proto_msg m;
	int r = proto_decode(buf, len, nfds, &m);

	CHECK(r == 0, "the daemon sent a message its own codec rejects: %s", strerror(-r));
	CHECK(sent_type(c, m.hdr.request) != FZ_SENT_WITH_FDS, "the daemon answered request %u, "
	      "which came with fds (type %u)", m.hdr.request, m.hdr.type);
	if (nfds)
		check_inflight(c, &m, fds, nfds);
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
	case PROTO_GRANT_REPLY: {
		/* A token nobody could guess: not all zero, at least. */
		uint8_t any = 0;
		for (unsigned i = 0; i < PROTO_GRANT_TOKEN; i++)
			any |= m.body.grant_reply.token[i];
		CHECK(any && m.body.grant_reply.bytes && m.body.grant_reply.id, "grant reply");
		break;
	}
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
		c->table_fd = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
		break;
	}
	default:
		CHECK(0, "the daemon sent a message of type %u", m.hdr.type);
	}
}
