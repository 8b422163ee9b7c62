/* SPDX-License-Identifier: MIT */
/*
 * fuzz_session.c - the daemon's whole message path under a fuzzer: real
 * sessions (accepted by server_accept from a real listening socket), real
 * datagrams over SOCK_SEQPACKET, the real session read handler, dispatch,
 * pool, quarantine and reclaim thread, on a pretend kernel (fake_backing.c).
 * The input (session_input.h) is a script of clients: connect, send raw or
 * well-formed messages (with or without fds), free/export/import what they
 * learnt from replies, hang up, and of the kernel: fail refaults, migrate
 * pages.
 *
 * Several sessions at once: clients that stop reading (their replies fill
 * the daemon's send buffer, then its reply queue) and resume, bursts of
 * requests sent without reading a reply, stash tables written by the script
 * and by a second thread while the daemon runs, stash takes by every path
 * (QUERY, LIST, ALLOC refused for memory or quota, the idle scan, a reload
 * that changes access, a session's end), and fds of every kind attached to
 * requests. Who a client is (uid, groups) is the pretend kernel's to say
 * (fake_socket.c), so admission, access and quotas see several users.
 *
 * After every command the daemon's state is checked against its own rules
 * (check_state), every datagram the daemon sends is checked at its sendmsg
 * (check_sent: a REGION's fds are the pages of a region the session holds
 * at that moment) and every datagram a client reads is checked
 * (check_reply): all in fuzz_session_check.c. At the end, with every client
 * gone and reclaim settled: no session, no region, every page FREE,
 * extent_pool_check clean, every fd a client sent closed, and not one fd
 * more than before. Any violation aborts, which the fuzzer reports as a
 * crash.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_session.h"
#include "dispatch.h"
#include "log.h"
#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct harness H;

static const uint8_t *in;
static size_t in_len;

/* Input reading: false at the end (the command is dropped). */
static bool take(void *out, size_t n)
{
	if (in_len < n)
		return false;
	memcpy(out, in, n);
	in += n;
	in_len -= n;
	return true;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

/* ---- the clients ---- */

/* Read one reply: false when there is none (or no more will come). */
static bool read_one(struct client *c)
{
	static uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	size_t nfds = 0;

	if (c->fd < 0 || c->eof)
		return false;
	ssize_t n = proto_recv(c->fd, buf, sizeof(buf), fds, PROTO_MAX_FDS, &nfds);
	if (n == -EAGAIN)
		return false;
	if (n == 0 || n == -ECONNRESET) {
		c->eof = true;
		H.hangups++;
		return false;
	}
	CHECK(n > 0, "receiving a reply: %s", strerror((int)-n));
	check_reply(c, buf, (size_t)n, fds, nfds);
	proto_close_fds(fds, nfds);
	return true;
}

static void drain(struct client *c)
{
	while (!c->paused && read_one(c))
		;
}

static void drain_all(void)
{
	for (uint32_t i = 0; i < H.nconns; i++)
		drain(&H.conns[i]);
}

/* One loop turn as loop_run makes it, until nothing is ready. */
static void turn(void)
{
	struct epoll_event evs[64];

	for (int round = 0; round < 256; round++) {
		int n = epoll_wait(H.srv.loop.epoll_fd, evs, 64, 0);

		CHECK(n >= 0, "epoll_wait: %m");
		for (int i = 0; i < n; i++) {
			struct loop_source *src = evs[i].data.ptr;
			src->fn(src, evs[i].events);
		}
		/* main.c's turn end: (no fd store here) the takes are
		 * recorded, their slots go back to 0. */
		server_unmark_stashes(&H.srv);
		server_reap(&H.srv);
		drain_all();
		if (n == 0)
			return;
	}
}

/* End quarantine now, let the reclaim thread finish everything it holds,
 * collect, and retry the requests that waited. */
static void settle(void)
{
	pool_quarantine_expire(&H.srv.pool, UINT64_MAX);
	fake_gate(&H.fb, true);
	while (pool_reclaim_collect(&H.srv.pool), reclaim_in_flight())
		usleep(10);
	fake_gate(&H.fb, false);
	server_retry_parked(&H.srv);
}

static struct client *pick_conn(void)
{
	uint8_t k;

	if (!take(&k, 1) || !H.nconns)
		return NULL;
	return &H.conns[k % H.nconns];
}

static void send_msg(struct client *c, const void *buf, size_t len, const int *fds, size_t nfds)
{
	/* Refused sends (a daemon that stopped reading, or hung up) are
	 * what a real client would see; nothing to check here. */
	if (c->fd >= 0)
		(void)proto_send(c->fd, buf, len, fds, nfds);
}

/* proto_send takes at most PROTO_MAX_FDS; a hostile client sends up to
 * SCM_MAX_FD (253). */
static bool send_raw_fds(struct client *c, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 253)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (c->fd < 0)
		return false;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) {
		CHECK(!nfds || !H.passrights_off, "SO_PASSRIGHTS is off on the listening socket, "
		      "yet %zu fds went to an accepted one", nfds);
		return true;
	}
	int e = errno;
	if (getenv("FUZZ_LOG"))
		fprintf(stderr, "fuzz_session: sendmsg: %s\n", strerror(e));
	/* With SO_PASSRIGHTS off no fd reaches the daemon: the kernel says
	 * EPERM (or the daemon stopped reading first, or hung up). */
	CHECK(!nfds || !H.passrights_off || e == EPERM || e == EAGAIN || e == EPIPE ||
	      e == ECONNRESET || e == ENOTCONN, "sendmsg with fds: %s", strerror(e));
	errno = e;
	return false;
}

static void send_request(struct client *c, uint16_t type, const void *body, size_t len)
{
	uint8_t buf[PROTO_MAX_MSG];
	uint32_t request = ++H.next_request;
	size_t n = proto_encode(buf, type, request, body, len);

	remember_sent(c, request, type);
	send_msg(c, buf, n, NULL, 0);
}

/* Would server_accept admit this peer now? (session.c: admit, as documented
 * in server.h and contigd.8: a last slot for root, the last half for those
 * who may allocate, uid-max-sessions per uid.) */
static bool admit_model(const struct session *peer)
{
	const struct limits *l = &H.srv.limits;
	uint32_t live = 0, untrusted = 0, same_uid = 0;
	struct list_node *n;
	uint32_t reserve = l->max_sessions / 16 ? l->max_sessions / 16 : 1;

	for (n = H.srv.sessions.next; n != &H.srv.sessions; n = n->next) {
		const struct session *o = container_of(n, struct session, link);
		if (o->dead)
			continue;
		live++;
		untrusted += !o->may_alloc;
		same_uid += o->cred.uid == peer->cred.uid;
	}
	if (live >= l->max_sessions)
		return false;
	if (peer->cred.uid == 0)
		return true;
	if (live + reserve >= l->max_sessions)
		return false;
	if (!access_model(&H.srv.access, peer) && untrusted >= l->max_sessions / 2)
		return false;
	return same_uid < l->uid_max_sessions;
}

static void cmd_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake_peer peer = { 0 };
	struct session who = { 0 };
	struct client *c;
	uint32_t before = H.srv.nsessions;
	socklen_t salen = sizeof(sa);
	uint8_t flags;
	int fd;

	if (!take(&flags, 1) || H.nconns == FZ_MAX_CONNS)
		return;
	if (flags & (FZ_OPEN_UID | FZ_OPEN_DENY)) {
		peer.uid = (flags & FZ_OPEN_DENY ? 2000u : 1000u) + ((flags >> 2) & 3u);
		peer.gid = peer.uid;
	}
	if (flags & FZ_OPEN_GROUP_A)
		peer.groups[peer.ngroups++] = 3000;
	if (flags & FZ_OPEN_GROUP_B)
		peer.groups[peer.ngroups++] = 3001;
	who.cred.uid = peer.uid;
	who.cred.gid = peer.gid;
	who.groups.gid = peer.gid;
	who.groups.n = peer.ngroups;
	memcpy(who.groups.list, peer.groups, sizeof(peer.groups));
	bool admit = admit_model(&who);

	CHECK(getsockname(H.srv.listen_fd, (struct sockaddr *)&sa, &salen) == 0, "getsockname: %m");
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(fd >= 0, "socket: %m");
	CHECK(connect(fd, (struct sockaddr *)&sa, salen) == 0, "connect: %m");
	/* The pretend kernel says who connected (fake_socket.h). */
	fake_peer_arm(&peer);
	int r = server_accept(&H.srv);
	fake_peer_disarm();
	CHECK(r == 0, "server_accept: %s", strerror(-r));
	c = &H.conns[H.nconns++];
	*c = (struct client){ .fd = fd, .paused = flags & FZ_OPEN_STUCK, .root = peer.uid == 0,
			    .uid = peer.uid, .table_fd = -1, .kept_page = -1 };
	CHECK((H.srv.nsessions > before) == admit, "a connection of uid %u was %s (%u sessions)",
	      (unsigned)peer.uid, admit ? "refused" : "admitted", before);
	if (H.srv.nsessions == before) {
		/* Refused: it reads the EDQUOT, then the hang-up. */
		H.refused++;
		return;
	}
	struct session *s = container_of(H.srv.sessions.prev, struct session, link);
	CHECK(s->cred.uid == peer.uid && s->may_alloc == access_model(&H.srv.access, s),
	      "session of uid %u: may_alloc %d", (unsigned)s->cred.uid, s->may_alloc);
	/* A small send buffer, so that replies back up after a few datagrams. */
	int small = 4096;
	(void)setsockopt(s->conn.src.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	c->session_id = s->id;
	if (flags & FZ_OPEN_TABLE) {
		struct proto_hello h = { .version = PROTO_VERSION };
		struct proto_stash st = { 0 };
		send_request(c, PROTO_HELLO, &h, sizeof(h));
		send_request(c, PROTO_STASH, &st, sizeof(st));
		turn();
		while (read_one(c))
			;
	}
}

/* The session behind c is about to die: remember the shared regions it
 * holds that will outlive it (small ones; quarantine must be on). */
static void taint_shared(const struct client *c)
{
	struct session *s = session_by_id(c->session_id);
	struct list_node *n, *t;

	if (!s || !H.srv.pool.quarantine_ns)
		return;
	list_for_each_safe(n, t, &s->leases) {
		struct region *rg = container_of(n, struct lease, by_holder)->region;
		if (rg->nleases < 2 || rg->npages > 8 || H.ntainted == 16)
			continue;
		struct tainted *tn = &H.tainted[H.ntainted++];
		tn->id = rg->id;
		tn->npages = rg->npages;
		memcpy(tn->ids, rg->ids, rg->npages * sizeof(rg->ids[0]));
	}
}

/* The client's end goes, as when its process dies. Shut down first: if the
 * client sent its own socket to the daemon (FZ_FD_OWN_SOCKET), the copy in
 * flight would keep the connection open, and the daemon, waiting to write
 * to it, would never see the hang-up; a process that dies does not leave
 * its socket in the daemon's queue either. */
static void client_close(struct client *c)
{
	if (c->fd < 0)
		return;
	taint_shared(c);
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;
	c->eof = true;
	c->fly_len = 0;
}

static void cmd_close(void)
{
	struct client *c = pick_conn();

	if (c)
		client_close(c);
}

static void cmd_raw(bool with_fds)
{
	static uint8_t buf[PROTO_MAX_MSG + 64];
	struct client *c = pick_conn();
	int fds[253];
	uint8_t nfds = 0;
	uint16_t len;

	if (!c || (with_fds && !take(&nfds, 1)) || !take(&len, 2))
		return;
	if (len > sizeof(buf))
		len = sizeof(buf);
	/* What the input has, then zeros: a long datagram needs no long input. */
	size_t have = len < in_len ? len : in_len;
	memset(buf, 0, len);
	take(buf, have);
	if (len >= sizeof(struct proto_hdr)) {
		struct proto_hdr h;
		memcpy(&h, buf, sizeof(h));
		remember_sent(c, h.request, 0xffff);
	}
	size_t n = !with_fds ? 0 : nfds >= 248 ? 250u + nfds % 4u : nfds % 8u + 1;
	if (n)
		fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (size_t i = 1; i < n; i++)
		fds[i] = fds[0];
	send_raw_fds(c, buf, len, fds, n);
	if (n)
		close(fds[0]);
}

static void cmd_msg(void)
{
	uint8_t body[PROTO_MAX_MSG];
	struct client *c = pick_conn();
	uint16_t type, len;

	if (!c || !take(&type, 2) || !take(&len, 2))
		return;
	if (len > sizeof(body) - sizeof(struct proto_hdr))
		len = sizeof(body) - sizeof(struct proto_hdr);
	if (len > in_len)
		len = (uint16_t)in_len;
	take(body, len);
	send_request(c, type, body, len);
}

static void cmd_region_op(void)
{
	struct client *c = pick_conn();
	uint8_t op, k;
	uint64_t id;

	if (!c || !take(&op, 1) || !take(&k, 1))
		return;
	/* Nothing learnt yet: a made-up id (slot k, first generation). */
	id = H.nregions ? H.regions[k % (H.nregions < FZ_MAX_KNOWN ? H.nregions : FZ_MAX_KNOWN)]
			: (1ull << 32) | k;
	if (op % 2 == 0) {
		struct proto_free f = { .region_id = id };
		send_request(c, PROTO_FREE, &f, sizeof(f));
	} else {
		struct proto_export e = { .region_id = id };
		send_request(c, PROTO_EXPORT, &e, sizeof(e));
	}
}

static void cmd_handle_op(void)
{
	struct client *c = pick_conn();
	struct proto_handle h = { { 0 } };
	uint8_t op, k;

	if (!c || !take(&op, 1) || !take(&k, 1))
		return;
	if (H.nhandles) {
		h = H.handles[k % (H.nhandles < FZ_MAX_KNOWN ? H.nhandles : FZ_MAX_KNOWN)];
		/* op bit 1: a forgery, one bit off a real handle. */
		if (op & 2)
			h.bytes[8 + k % 24] ^= (uint8_t)(1u << (op >> 5));
	} else if (H.nregions) {
		/* A real id, no token. */
		memcpy(h.bytes, &H.regions[k % (H.nregions < FZ_MAX_KNOWN ? H.nregions : FZ_MAX_KNOWN)],
		       8);
	}
	send_request(c, op % 2 == 0 ? PROTO_IMPORT : PROTO_REVOKE, &h, sizeof(h));
}

static void cmd_migrate(void)
{
	uint8_t k;

	if (!take(&k, 1))
		return;
	int fd = H.srv.pool.pages[k % H.srv.pool.npages].fd;
	if (fd >= 0 && fake_migrate(&H.fb, fd))
		H.migrated = true;
}

/* A repair round, as the daemon runs one after start: with reclaim idle, so
 * which frames the candidates get is decided by the input alone. */
static void repair_round(uint32_t want, bool long_runs)
{
	struct repair_result rr;
	uint32_t gaps = H.fb.gap_every;

	settle();
	if (long_runs)
		fake_set_gaps(&H.fb, 0);
	fake_gate(&H.fb, true);
	H.srv.repair.want = want;
	CHECK(repair_start(&H.srv.repair, &H.srv.pool) == 0, "repair_start");
	CHECK(repair_apply(&H.srv.repair, &H.srv.pool, &rr) == 0, "repair_apply");
	fake_gate(&H.fb, false);
	fake_set_gaps(&H.fb, gaps);
	CHECK(rr.swapped <= rr.looked, "repair swapped %u pages for %u candidates", rr.swapped,
	      rr.looked);
	CHECK(!rr.swapped || rr.score_after > rr.score_before,
	      "repair swapped %u pages for no longer runs", rr.swapped);
	server_retry_parked(&H.srv);
}

static void cmd_repair(void)
{
	uint8_t n;

	if (take(&n, 1))
		repair_round(n % 16 + 1, n & 16);
}

/* ---- region ids a client can name (session_input.h: "id k") ---- */

static uint64_t garbage_id(uint8_t k)
{
	return 0x9e3779b97f4a7c15ull * k;
}

/* The j-th newest region the session of c holds, as the daemon sees it. */
static uint64_t own_region(const struct client *c, uint32_t j)
{
	struct session *s = session_by_id(c->session_id);
	struct list_node *n;
	uint32_t count = 0;

	if (!s || !s->nregions)
		return 0;
	j %= s->nregions;
	for (n = s->leases.prev; n != &s->leases; n = n->prev, count++)
		if (count == j)
			return container_of(n, struct lease, by_holder)->region->id;
	return 0;
}

/* The j-th region (in slot order) that the session of c does not hold. */
static uint64_t other_region(const struct client *c, uint32_t j)
{
	struct session *s = session_by_id(c->session_id);
	struct pool *p = &H.srv.pool;
	uint32_t ids[PROTO_MAX_REGION_PAGES / 256], n = 0;

	for (uint32_t slot = 0; slot < p->npages && n < sizeof(ids) / sizeof(ids[0]); slot++)
		if (p->slots[slot] && (!s || !pool_lease_of(p->slots[slot], s)))
			ids[n++] = slot;
	return n ? p->slots[ids[j % n]]->id : 0;
}

/* The id the j-th next allocation gets, if nothing is freed before. */
static uint64_t predicted_id(uint32_t j)
{
	const struct pool *p = &H.srv.pool;

	if (j >= p->nfree_slots)
		return garbage_id((uint8_t)j);
	return ((p->next_seq + j) << 32) | p->free_slots[p->nfree_slots - 1 - j];
}

static uint64_t learnt_region(uint32_t j)
{
	uint32_t known = H.nregions < FZ_MAX_KNOWN ? H.nregions : FZ_MAX_KNOWN;

	return known ? H.regions[j % known] : 0;
}

static uint64_t pick_id(const struct client *c, uint8_t k, uint32_t i)
{
	switch (k >> 6) {
	case 0: return learnt_region(k + i);
	case 1: return k & 0x20 ? predicted_id((k & 31u) + i) : own_region(c, (k & 31u) + i);
	case 2: return garbage_id((uint8_t)(k + i));
	default: return other_region(c, (k & 63u) + i);
	}
}

static void cmd_stash(void)
{
	struct client *c = pick_conn();
	uint8_t slot, k;

	if (!c || !take(&slot, 1) || !take(&k, 1) || !c->stash)
		return;
	__atomic_store_n(&c->stash[slot % PROTO_STASH_SLOTS], pick_id(c, k, 0), __ATOMIC_RELEASE);
	if (slot & 0x80)
		server_take_stashes(&H.srv);
	if (slot & 0x40)
		server_take_idle_stashes(&H.srv);
}

/* ---- several sessions, full buffers ---- */

static void cmd_pause(void)
{
	struct client *c = pick_conn();
	uint8_t n;

	if (!c || !take(&n, 1))
		return;
	if (n & 0x80) {
		c->paused = false;
		drain(c);
		return;
	}
	c->paused = true;
	for (uint8_t i = 0; i < n && read_one(c); i++)
		;
}

static void send_alloc(struct client *c, uint64_t nbytes, uint32_t flags)
{
	struct proto_alloc a = { .nbytes = nbytes, .highest = UINT64_MAX, .node = PROTO_NODE_ANY,
				 .flags = flags };

	send_request(c, PROTO_ALLOC, &a, sizeof(a));
}

static void send_free(struct client *c, uint64_t id)
{
	struct proto_free f = { .region_id = id };

	send_request(c, PROTO_FREE, &f, sizeof(f));
}

static void send_list(struct client *c, uint32_t table)
{
	struct proto_list l = { .table = table };

	send_request(c, PROTO_LIST, &l, sizeof(l));
}

static void send_query(struct client *c)
{
	struct proto_query q = { .node = PROTO_NODE_ANY };

	send_request(c, PROTO_QUERY, &q, sizeof(q));
}

static void cmd_burst(void)
{
	struct client *c = pick_conn();
	uint8_t n, kind, arg;

	if (!c || !take(&n, 1) || !take(&kind, 1) || !take(&arg, 1))
		return;
	for (uint32_t i = 0; i < n % 32u + 1; i++) {
		switch (kind % 8) {
		case 0:
			send_alloc(c, (arg % 4u + 1) * PS,
				   (arg & 0x80 ? PROTO_ALLOC_NOWAIT : 0) |
				   (arg & 0x40 ? PROTO_ALLOC_CARVE : 0));
			break;
		case 1: send_free(c, pick_id(c, arg, i)); break;
		case 2: send_query(c); break;
		case 3: send_list(c, arg % 5u + 1); break;
		case 4: {
			struct proto_export e = { .region_id = pick_id(c, arg, i) };
			send_request(c, PROTO_EXPORT, &e, sizeof(e));
			break;
		}
		case 5: {
			struct proto_handle h = { { 0 } };
			if (H.nhandles)
				h = H.handles[(arg + i) % (H.nhandles < FZ_MAX_KNOWN ? H.nhandles
										: FZ_MAX_KNOWN)];
			send_request(c, PROTO_IMPORT, &h, sizeof(h));
			break;
		}
		case 6: {
			struct proto_stash st = { 0 };
			send_request(c, PROTO_STASH, &st, sizeof(st));
			break;
		}
		default:
			/* Named before its reply is read: the reply may still be
			 * in the daemon's queue when the FREE is (not) read. */
			send_alloc(c, PS, 0);
			send_free(c, predicted_id(i));
			break;
		}
	}
}

/* ---- a second thread in the stash table ---- */

static void *race_main(void *arg)
{
	struct racer *r = arg;
	uint64_t i;

	/* A fixed sequence: every slot in turn (a stride prime to 64), each
	 * given the next id of the list; a short sleep now and then, so the
	 * loop thread and reclaim get the cores. */
	for (i = 0; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); i++) {
		uint32_t slot = (uint32_t)((r->seed + i * 5) % PROTO_STASH_SLOTS);
		__atomic_store_n(&r->table[slot], r->ids[(i + r->seed) % r->nids], __ATOMIC_RELEASE);
		if (i % 64 == 63)
			nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
	}
	r->writes = i;
	return NULL;
}

static void race_stop(void)
{
	struct racer *r = &H.racer;

	if (!r->running)
		return;
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	CHECK(pthread_join(r->thread, NULL) == 0, "joining the stash writer");
	r->running = false;
	H.race_writes += r->writes;
}

static void cmd_stash_race(void)
{
	struct client *c = pick_conn();
	struct racer *r = &H.racer;
	uint8_t seed;

	if (!c || !take(&seed, 1))
		return;
	race_stop();
	if ((seed & 0x80) || !c->stash)
		return;
	*r = (struct racer){ .conn = (uint32_t)(c - H.conns), .table = c->stash, .seed = seed };
	/* Its own regions (newest first), other sessions', the next ids to
	 * be given out, learnt ones, garbage and zero. */
	for (uint32_t j = 0; j < 4; j++)
		r->ids[r->nids++] = own_region(c, j);
	for (uint32_t j = 0; j < 4; j++)
		r->ids[r->nids++] = other_region(c, j + seed);
	for (uint32_t j = 0; j < 3; j++)
		r->ids[r->nids++] = predicted_id(j);
	r->ids[r->nids++] = learnt_region(seed);
	r->ids[r->nids++] = learnt_region(seed + 1u);
	r->ids[r->nids++] = garbage_id(seed);
	r->ids[r->nids++] = 0;
	CHECK(pthread_create(&r->thread, NULL, race_main, r) == 0, "starting the stash writer");
	r->running = true;
}

/* ---- stash takes by every path ---- */

static void cmd_take(void)
{
	uint8_t how;
	struct client *c;

	if (!take(&how, 1) || !(c = pick_conn()))
		return;
	H.takes[how % 8]++;
	struct session *s = session_by_id(c->session_id);
	switch (how % 8) {
	case 0: server_take_stashes(&H.srv); break;
	case 1: server_take_idle_stashes(&H.srv); break;
	case 2: send_query(c); break;
	case 3: send_list(c, PROTO_TABLE_REGIONS); break;
	case 4: send_alloc(c, (uint64_t)(H.srv.pool.npages + 1) * PS, PROTO_ALLOC_NOWAIT); break;
	case 5:
		/* A quota lowered to what the session holds, for this command
		 * (as a reload could): its next ALLOC is over quota. */
		if (!H.restore_limits) {
			H.saved_limits = H.srv.limits;
			H.restore_limits = true;
		}
		if (s && s->nregions < H.srv.limits.session_max_regions)
			H.srv.limits.session_max_regions = s->nregions;
		send_alloc(c, PS, PROTO_ALLOC_NOWAIT);
		break;
	case 6:
		if (s)
			server_take_stashes_of(&H.srv, s->cred.uid);
		break;
	default: client_close(c); break;
	}
}

/* ---- a reload that changes who may allocate ---- */

static void cmd_access(void)
{
	struct access *a = &H.srv.access;
	uint8_t uids, flags;
	bool had[FZ_MAX_CONNS] = { false }, queued[FZ_MAX_CONNS] = { false };

	if (!take(&uids, 1) || !take(&flags, 1))
		return;
	for (uint32_t i = 0; i < H.nconns; i++) {
		struct session *s = session_by_id(H.conns[i].session_id);
		had[i] = s && s->may_alloc;
		queued[i] = s && s->conn.out_head;
	}
	/* SIGHUP takes every stash before it reads the new configuration. */
	if (!(flags & 16))
		server_take_stashes(&H.srv);
	memset(a, 0, sizeof(*a));
	for (uint32_t i = 0; i < 4; i++) {
		if (uids & (1u << i))
			a->uids[a->nuids++] = 1000 + i;
		if (uids & (16u << i))
			a->uids[a->nuids++] = 2000 + i;
	}
	a->socket_gid_set = flags & 1;
	a->socket_gid = 3000;
	if (flags & 2)
		a->gids[a->ngids++] = 3001;
	if (flags & 4)
		a->import_gids[a->nimport_gids++] = 3000;
	if (flags & 8)
		a->import_gids[a->nimport_gids++] = 3001;
	server_apply(&H.srv, &H.srv.limits, &H.srv.access);
	H.access_changed = true;
	H.rechecks++;
	/* Every live session judged by the new lists; one that lost the right
	 * keeps no stash, unless a reply of its was queued (it keeps it until
	 * that reply leaves) or the writer thread keeps filling it. */
	for (uint32_t i = 0; i < H.nconns; i++) {
		struct client *c = &H.conns[i];
		struct session *s = session_by_id(c->session_id);
		if (!s)
			continue;
		CHECK(s->may_alloc == access_model(a, s), "after a reload, session %llu (uid %u) "
		      "may_alloc %d", (unsigned long long)s->id, (unsigned)s->cred.uid, s->may_alloc);
		if (!had[i] || s->may_alloc || queued[i] || !s->stash.slots ||
		    (H.racer.running && H.racer.conn == i))
			continue;
		/* (A taken slot keeps its mark until the turn ends.) */
		for (uint32_t k = 0; k < PROTO_STASH_SLOTS; k++) {
			uint64_t v = __atomic_load_n(&s->stash.slots[k], __ATOMIC_ACQUIRE);
			CHECK(!v || (v & PROTO_STASH_TAKEN),
			      "session %llu lost the right to allocate but slot %u of its stash "
			      "still holds %llx", (unsigned long long)s->id, k,
			      (unsigned long long)v);
		}
	}
}

/* ---- fds attached to requests ---- */

/* An fd of the kind to send, and whether it is the harness's to close after. */
static int fd_of_kind(struct client *c, unsigned kind, bool *ours)
{
	int fd = -1, two[2];

	*ours = false;
	switch (kind) {
	case FZ_FD_PIPE:
		CHECK(pipe2(two, O_CLOEXEC) == 0, "pipe2: %m");
		close(two[0]);
		*ours = true;
		return two[1];
	case FZ_FD_OWN_SOCKET: return c->fd;
	case FZ_FD_PAGE: fd = c->kept_page; break;
	case FZ_FD_SOCKETPAIR:
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, two) == 0, "socketpair: %m");
		close(two[1]);
		*ours = true;
		return two[0];
	case FZ_FD_TABLE: fd = c->table_fd; break;
	case FZ_FD_MEMFD:
		fd = memfd_create("fz-client", MFD_CLOEXEC);
		CHECK(fd >= 0, "memfd_create: %m");
		*ours = true;
		return fd;
	case FZ_FD_LISTEN: return H.srv.listen_fd;
	default: break;
	}
	if (fd >= 0)
		return fd;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "/dev/null: %m");
	*ours = true;
	return fd;
}

static void cmd_fd_msg(void)
{
	static uint8_t buf[PROTO_MAX_MSG];
	uint8_t body[PROTO_MAX_MSG];
	struct client *c = pick_conn();
	uint16_t type, len;
	uint8_t what;
	int fds[9], probe[2];
	bool ours[9] = { false };
	size_t n;

	if (!c || !take(&what, 1) || !take(&type, 2) || !take(&len, 2))
		return;
	if (len > sizeof(body) - sizeof(struct proto_hdr))
		len = sizeof(body) - sizeof(struct proto_hdr);
	if (len > in_len)
		len = (uint16_t)in_len;
	take(body, len);
	if (c->fd < 0)
		return;
	n = ((what >> 3) & 7u) + 1;
	for (size_t i = 0; i < n; i++)
		fds[i] = fd_of_kind(c, (what + i) % FZ_FD_KINDS, &ours[i]);
	/* And a pipe whose other end the harness watches. */
	CHECK(pipe2(probe, O_CLOEXEC) == 0, "pipe2: %m");
	fds[n++] = probe[1];
	ours[n - 1] = true;
	size_t blen = 0;
	if (!(what & FZ_FDS_EMPTY)) {
		uint32_t request = ++H.next_request;
		blen = proto_encode(buf, type, request, body, len);
		remember_sent(c, request, FZ_SENT_WITH_FDS);
	}
	bool sent = send_raw_fds(c, buf, blen, fds, n);
	H.fd_msgs++;
	for (size_t i = 0; i < n; i++)
		if (ours[i])
			close(fds[i]);
	if (sent && H.nprobes < FZ_MAX_PROBES && c->session_id)
		H.probes[H.nprobes++] = (struct probe){ probe[0], c->session_id };
	else
		close(probe[0]);
}

/* ---- the carve report, which the client writes as it likes ---- */

static void cmd_carve_report(void)
{
	struct client *c = pick_conn();
	uint8_t line;
	uint64_t v;

	if (!c || !take(&line, 1) || !take(&v, 8) || !c->stash)
		return;
	for (uint32_t i = 0; i < PROTO_CARVE_LINES; i++) {
		if (!(line & 0x80) && i != line % PROTO_CARVE_LINES)
			continue;
		uint64_t *at = (uint64_t *)(void *)((uint8_t *)c->stash + PROTO_CARVE_REPORT_OFF +
						    (size_t)i * PROTO_CARVE_LINE_BYTES);
		__atomic_store_n(at, v, __ATOMIC_RELAXED);
	}
}

static void run_command(uint8_t cmd)
{
	uint8_t n;

	switch (cmd % FZ_CMD_MAX) {
	case FZ_OPEN: cmd_open(); break;
	case FZ_CLOSE: cmd_close(); break;
	case FZ_RAW: cmd_raw(false); break;
	case FZ_MSG: cmd_msg(); break;
	case FZ_FDS: cmd_raw(true); break;
	case FZ_REGION_OP: cmd_region_op(); break;
	case FZ_HANDLE_OP: cmd_handle_op(); break;
	case FZ_RECLAIM: settle(); break;
	case FZ_FAIL_ACQUIRE:
		if (take(&n, 1))
			fake_fail_next(&H.fb, n % 8);
		break;
	case FZ_RETRY_LOST: pool_retry_lost(&H.srv.pool); break;
	case FZ_AUDIT: pool_audit(&H.srv.pool); break;
	case FZ_MIGRATE: cmd_migrate(); break;
	case FZ_REPAIR: cmd_repair(); break;
	case FZ_STASH: cmd_stash(); break;
	case FZ_PAUSE: cmd_pause(); break;
	case FZ_BURST: cmd_burst(); break;
	case FZ_STASH_RACE: cmd_stash_race(); break;
	case FZ_TAKE: cmd_take(); break;
	case FZ_ACCESS: cmd_access(); break;
	case FZ_FD_MSG: cmd_fd_msg(); break;
	case FZ_CARVE_REPORT: cmd_carve_report(); break;
	}
}

static void small_limits(struct limits *l)
{
	l->max_sessions = 4;
	l->session_max_regions = 3;
	l->session_max_bytes = 8 * PS;
	l->uid_max_sessions = 2;
	l->uid_max_regions = 4;
	l->uid_max_bytes = 12 * PS;
}

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16 */
#endif

static int listen_socket(bool no_passrights)
{
	static unsigned serial;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	socklen_t len;

	CHECK(fd >= 0, "socket: %m");
	/* Abstract: nothing on disk to clean up, unique per process and input. */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			  (size_t)snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
					   "contig-fuzz-%d-%u", (int)getpid(), serial++));
	CHECK(bind(fd, (struct sockaddr *)&sa, len) == 0, "bind: %m");
	/* As contigd does (main.c: refuse_fds); accepted sockets inherit it.
	 * A kernel without it delivers fds, as if the flag were not given. */
	int off = 0;
	H.passrights_off = no_passrights &&
			   setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof(off)) == 0;
	CHECK(listen(fd, 64) == 0, "listen: %m");
	return fd;
}

static void setup(uint8_t flags, uint8_t flags2, uint8_t npages_less)
{
	struct pool_config cfg = {
		.page_size = PS,
		.npages = flags & FZ_CFG_BIG ? 260 : 32 - npages_less % 29,
		.threads = 1,
		.reclaim_threads = 1,   /* with the gate: the same order every run */
		.quarantine_ms = flags & FZ_CFG_QUARANTINE ? 1000 : 0,
		.zero_in_place = flags2 & FZ_CFG2_TRUSTED,
		.oversample = flags2 & FZ_CFG2_OVERSAMPLE ? 6 : 0,
	};
	uint64_t base = flags & FZ_CFG_LOW ? (4ull << 30) - 8 * PS
			: flags2 & FZ_CFG2_HIGH ? (8ull << 30) : (1ull << 30);
	struct backing_page extra[2] = { { .fd = -1 }, { .fd = -1 } };
	static int32_t want_node[260];
	uint32_t got;

	memset(&H, 0, sizeof(H));
	H.abrupt = flags & FZ_CFG_ABRUPT;
	fake_init(&H.fb, PS, base, flags & FZ_CFG_GAPS ? 5 : 0, flags & FZ_CFG_NODES ? 25 : 0);
	if (flags2 & FZ_CFG2_EXTRA) {
		/* Low-pool pages: acquired first, handed to pool_init. */
		for (int i = 0; i < 2; i++)
			CHECK(fake_backing_ops.acquire(&H.fb, PS, &extra[i]) == 0, "acquire");
		cfg.extra = extra;
		cfg.nextra = 2;
	}
	if (flags2 & FZ_CFG2_WANT_NODE) {
		for (uint32_t i = 0; i < cfg.npages; i++)
			want_node[i] = (int32_t)(i % 2);
		cfg.want_node = want_node;
	}
	limits_default(&H.srv.limits);
	/* Root may always allocate; uids 1000-1003 by name (FZ_OPEN_UID),
	 * 2000-2003 not (FZ_OPEN_DENY), until an FZ_ACCESS says otherwise. */
	for (uint32_t i = 0; i < 4; i++)
		H.srv.access.uids[H.srv.access.nuids++] = 1000 + i;
	if (flags & FZ_CFG_SMALL_LIMITS)
		small_limits(&H.srv.limits);
	if (flags & FZ_CFG_MAX_OUT)
		H.srv.limits.max_out = 2;
	server_init(&H.srv, &dispatch_handlers);
	CHECK(loop_init(&H.srv.loop) == 0, "loop_init: %m");
	CHECK(pool_init(&H.srv.pool, &cfg, &fake_backing_ops, &H.fb, &got) == 0, "pool_init");
	repair_init(&H.srv.repair, H.srv.pool.oversample, 0);
	if (H.srv.pool.oversample)
		repair_round(H.srv.pool.oversample, true);
	H.srv.listen_fd = listen_socket(flags2 & FZ_CFG2_NO_PASSRIGHTS);
}

/* What the input made happen (FUZZ_VERBOSE). */
static void report(void)
{
	const struct pool_stats *st = &H.srv.pool.stats;

	fprintf(stderr,
		"  replies: hello %u region %u status %u info %u handle %u list %u; status 0:%u "
		"EINVAL:%u ENOMEM:%u ENOTSUP:%u EDQUOT:%u EACCES:%u ENOENT:%u other:%u\n"
		"  pages checked %u, hangups %u; pool: allocs %llu frees %llu waits %llu "
		"protocol_errors %llu lost %llu audit_moved %llu quarantined %llu; kernel: %llu "
		"acquires %llu revokes %llu pins %llu zeroes; repair looked %llu swapped %llu\n"
		"  stash tables %u, taken %llu, bogus %llu; takes by path %u %u %u %u %u %u %u %u, "
		"rechecks %u, writer thread wrote %llu\n"
		"  daemon sent %u datagrams with %u fds; longest reply queue %u; refused at accept %u; "
		"requests with fds %u, their pipes closed %u\n",
		H.replies[PROTO_HELLO_REPLY], H.replies[PROTO_REGION], H.replies[PROTO_STATUS],
		H.replies[PROTO_POOL_INFO], H.replies[PROTO_HANDLE], H.replies[PROTO_LIST_REPLY],
		H.statuses[0], H.statuses[1], H.statuses[2], H.statuses[3], H.statuses[4],
		H.statuses[5], H.statuses[6], H.statuses[7], H.pages_checked, H.hangups,
		(unsigned long long)st->allocs, (unsigned long long)st->frees,
		(unsigned long long)H.srv.stats.waits, (unsigned long long)H.srv.stats.protocol_errors,
		(unsigned long long)st->lost, (unsigned long long)st->audit_moved,
		(unsigned long long)st->quarantined, (unsigned long long)H.fb.acquires,
		(unsigned long long)H.fb.revokes, (unsigned long long)H.fb.pins,
		(unsigned long long)H.fb.zeroes, (unsigned long long)H.srv.repair.looked,
		(unsigned long long)st->repair_swapped,
		H.replies[PROTO_STASH_TABLE], (unsigned long long)H.srv.stats.stash_taken,
		(unsigned long long)H.srv.stats.stash_bogus, H.takes[0], H.takes[1], H.takes[2], H.takes[3],
		H.takes[4], H.takes[5], H.takes[6], H.takes[7], H.rechecks,
		(unsigned long long)H.race_writes, H.sent_datagrams, H.sent_fds, H.max_queued,
		H.refused, H.fd_msgs, H.probes_closed);
}

/* What the clients hold: kept fds, stash mappings, their ends. */
static void close_clients(void)
{
	for (uint32_t i = 0; i < H.nconns; i++) {
		struct client *c = &H.conns[i];
		client_close(c);
		if (c->kept_page >= 0)
			close(c->kept_page);
		if (c->table_fd >= 0)
			close(c->table_fd);
		c->kept_page = c->table_fd = -1;
	}
}

static void teardown(void)
{
	fake_gate(&H.fb, true); /* reclaim_stop joins the threads */
	server_close_all(&H.srv);
	server_fini(&H.srv);
	repair_stop(&H.srv.repair);
	close(H.srv.listen_fd);
	pool_destroy(&H.srv.pool);
	loop_fini(&H.srv.loop);
	fake_fini(&H.fb);
	close_clients();
	for (uint32_t i = 0; i < H.nconns; i++) {
		if (H.conns[i].stash)
			munmap(H.conns[i].stash, PROTO_STASH_BYTES);
		H.conns[i].stash = NULL;
	}
	/* Every session is gone: so is every fd a client sent the daemon. */
	check_probes();
	CHECK(H.nprobes == 0, "%u pipes sent to the daemon are still open", H.nprobes);
}

/* Every client gone and reclaim settled: the pool is whole again. Or, for
 * FZ_CFG_ABRUPT, contigd's SIGTERM path: sessions closed without revoking
 * anything, the reclaim thread's results dropped; then only fds (checked by
 * the caller) and memory (LeakSanitizer) are checked. */
static void finish(void)
{
	struct pool *p = &H.srv.pool;

	race_stop();
	if (H.abrupt) {
		teardown();
		return;
	}
	close_clients();
	turn();
	check_state();
	fake_fail_next(&H.fb, 0);
	for (int round = 0; round < 16; round++) {
		settle();
		if (!pool_retry_lost(p))
			break;
	}
	settle();
	check_state();
	CHECK(H.srv.nsessions == 0 && list_empty(&H.srv.sessions), "%u sessions left", H.srv.nsessions);
	CHECK(list_empty(&H.srv.parked), "a parked request outlived its session");
	CHECK(p->nregions == 0, "%u regions left", p->nregions);
	CHECK(p->ext.nstate[EXTENT_FREE] == p->npages, "%u of %u pages FREE (%u used, %u reclaiming, "
	      "%u quarantined, %u lost)", p->ext.nstate[EXTENT_FREE], p->npages,
	      p->ext.nstate[EXTENT_USED], p->ext.nstate[EXTENT_RECLAIMING],
	      p->ext.nstate[EXTENT_QUARANTINED], p->ext.nstate[EXTENT_LOST]);
	CHECK(p->nfree_slots == p->npages, "%u of %u region slots free", p->nfree_slots, p->npages);
	if (getenv("FUZZ_VERBOSE"))
		report();
	teardown();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before = count_fds();
	uint8_t cfg[3];

	log_max_level = getenv("FUZZ_LOG") ? LOG_DEBUG : LOG_CRIT;
	fake_on_sent(check_sent);
	in = data;
	in_len = size;
	if (!take(cfg, 3))
		return 0;
	setup(cfg[0], cfg[1], cfg[2]);
	check_state();
	for (uint8_t cmd; take(&cmd, 1);) {
		run_command(cmd);
		turn();
		if (H.restore_limits) {
			H.srv.limits = H.saved_limits;
			H.restore_limits = false;
		}
		check_state();
	}
	finish();
	CHECK(count_fds() == fds_before, "%d fds open, %d before", count_fds(), fds_before);
	return 0;
}
