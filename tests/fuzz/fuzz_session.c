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
 * After every command the daemon's state is checked against its own rules
 * (check_state), every datagram a client reads is checked (check_reply):
 * both in fuzz_session_check.c. At the end, with every client gone and
 * reclaim settled: no session, no region, every page FREE, extent_pool_check
 * clean, and not one fd more than before. Any violation aborts, which the
 * fuzzer reports as a crash.
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
#include <unistd.h>

#include "fuzz_session.h"
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

static void drain(struct conn *c)
{
	static uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];

	while (c->fd >= 0 && !c->stuck && !c->eof) {
		size_t nfds = 0;
		ssize_t n = proto_recv(c->fd, buf, sizeof(buf), fds, PROTO_MAX_FDS, &nfds);

		if (n == -EAGAIN)
			return;
		if (n == 0 || n == -ECONNRESET) {
			c->eof = true;
			H.hangups++;
			return;
		}
		CHECK(n > 0, "receiving a reply: %s", strerror((int)-n));
		check_reply(c, buf, (size_t)n, fds, nfds);
		proto_close_fds(fds, nfds);
	}
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

static struct conn *pick_conn(void)
{
	uint8_t k;

	if (!take(&k, 1) || !H.nconns)
		return NULL;
	return &H.conns[k % H.nconns];
}

static void send_msg(struct conn *c, const void *buf, size_t len, const int *fds, size_t nfds)
{
	/* Refused sends (a daemon that stopped reading, or hung up) are
	 * what a real client would see; nothing to check here. */
	if (c->fd >= 0)
		(void)proto_send(c->fd, buf, len, fds, nfds);
}

/* proto_send takes at most PROTO_MAX_FDS; a hostile client sends up to
 * SCM_MAX_FD (253). */
static void send_raw_fds(struct conn *c, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 253)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (c->fd < 0)
		return;
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
	if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && getenv("FUZZ_LOG"))
		fprintf(stderr, "fuzz_session: sendmsg: %m\n");
}

static void send_request(struct conn *c, uint16_t type, const void *body, size_t len)
{
	uint8_t buf[PROTO_MAX_MSG];
	uint32_t request = ++H.next_request;
	size_t n = proto_encode(buf, type, request, body, len);

	remember_sent(c, request, type);
	send_msg(c, buf, n, NULL, 0);
}

static void cmd_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *c;
	uint32_t before = H.srv.nsessions;
	socklen_t salen = sizeof(sa);
	uint8_t flags;
	int fd;

	if (!take(&flags, 1) || H.nconns == FZ_MAX_CONNS)
		return;
	CHECK(getsockname(H.srv.listen_fd, (struct sockaddr *)&sa, &salen) == 0, "getsockname: %m");
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(fd >= 0, "socket: %m");
	CHECK(connect(fd, (struct sockaddr *)&sa, salen) == 0, "connect: %m");
	CHECK(server_accept(&H.srv) == 0, "server_accept failed");
	c = &H.conns[H.nconns++];
	*c = (struct conn){ .fd = fd, .stuck = flags & FZ_OPEN_STUCK, .root = true };
	if (H.srv.nsessions == before) {
		c->eof = true; /* refused: over max_sessions */
		return;
	}
	struct session *s = container_of(H.srv.sessions.prev, struct session, link);
	/* A small send buffer, so that replies back up after a few datagrams. */
	int small = 4096;
	(void)setsockopt(s->src.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	if (flags & FZ_OPEN_DENY)
		s->may_alloc = false;
	if (flags & FZ_OPEN_UID) {
		s->cred.uid = 1000 + ((flags >> 2) & 3);
		s->cred.gid = s->cred.uid;
		c->root = false;
	}
	c->session_id = s->id;
}

/* The session behind c is about to die: remember the shared regions it
 * holds that will outlive it (small ones; quarantine must be on). */
static void taint_shared(const struct conn *c)
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

static void cmd_close(void)
{
	struct conn *c = pick_conn();

	if (c && c->fd >= 0) {
		taint_shared(c);
		close(c->fd);
		c->fd = -1;
		c->eof = true;
	}
}

static void cmd_raw(bool with_fds)
{
	static uint8_t buf[PROTO_MAX_MSG + 64];
	struct conn *c = pick_conn();
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
	struct conn *c = pick_conn();
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
	struct conn *c = pick_conn();
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
	struct conn *c = pick_conn();
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
		memcpy(h.bytes, &H.regions[k % H.nregions], 8); /* a real id, no token */
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
	CHECK(pool_repair_start(&H.srv.pool, want) == 0, "pool_repair_start");
	CHECK(pool_repair_apply(&H.srv.pool, &rr) == 0, "pool_repair_apply");
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

static void cmd_stash(void)
{
	struct conn *c = pick_conn();
	uint8_t slot, k;

	if (!c || !take(&slot, 1) || !take(&k, 1) || !c->stash)
		return;
	uint64_t id = (k & 0x80) ? 0x9e3779b97f4a7c15ull * k
		    : H.nregions ? H.regions[k % (H.nregions < FZ_MAX_KNOWN ? H.nregions
									: FZ_MAX_KNOWN)] : 0;
	__atomic_store_n(&c->stash[slot % PROTO_STASH_SLOTS], id, __ATOMIC_RELEASE);
	if (slot & 0x80)
		server_take_stashes(&H.srv);
	if (slot & 0x40)
		server_take_idle_stashes(&H.srv);
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

static int listen_socket(void)
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
	if (flags & FZ_CFG_SMALL_LIMITS)
		small_limits(&H.srv.limits);
	if (flags & FZ_CFG_MAX_OUT)
		H.srv.limits.max_out = 2;
	list_init(&H.srv.sessions);
	list_init(&H.srv.parked);
	CHECK(loop_init(&H.srv.loop) == 0, "loop_init: %m");
	CHECK(pool_init(&H.srv.pool, &cfg, &fake_backing_ops, &H.fb, &got) == 0, "pool_init");
	if (H.srv.pool.oversample)
		repair_round(H.srv.pool.oversample, true);
	H.srv.listen_fd = listen_socket();
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
		"  stash tables %u, taken %llu, bogus %llu\n",
		H.replies[PROTO_HELLO_REPLY], H.replies[PROTO_REGION], H.replies[PROTO_STATUS],
		H.replies[PROTO_POOL_INFO], H.replies[PROTO_HANDLE], H.replies[PROTO_LIST_REPLY],
		H.statuses[0], H.statuses[1], H.statuses[2], H.statuses[3], H.statuses[4],
		H.statuses[5], H.statuses[6], H.statuses[7], H.pages_checked, H.hangups,
		(unsigned long long)st->allocs, (unsigned long long)st->frees,
		(unsigned long long)st->waits, (unsigned long long)st->protocol_errors,
		(unsigned long long)st->lost, (unsigned long long)st->audit_moved,
		(unsigned long long)st->quarantined, (unsigned long long)H.fb.acquires,
		(unsigned long long)H.fb.revokes, (unsigned long long)H.fb.pins,
		(unsigned long long)H.fb.zeroes, (unsigned long long)st->repair_looked,
		(unsigned long long)st->repair_swapped,
		H.replies[PROTO_STASH_TABLE], (unsigned long long)st->stash_taken,
		(unsigned long long)st->stash_bogus);
}

static void teardown(void)
{
	fake_gate(&H.fb, true); /* reclaim_stop joins the threads */
	server_close_all(&H.srv);
	close(H.srv.listen_fd);
	pool_destroy(&H.srv.pool);
	loop_fini(&H.srv.loop);
	fake_fini(&H.fb);
	for (uint32_t i = 0; i < H.nconns; i++) {
		if (H.conns[i].fd >= 0)
			close(H.conns[i].fd);
		if (H.conns[i].stash)
			munmap(H.conns[i].stash, PROTO_STASH_BYTES);
		H.conns[i].stash = NULL;
	}
}

/* Every client gone and reclaim settled: the pool is whole again. Or, for
 * FZ_CFG_ABRUPT, contigd's SIGTERM path: sessions closed without revoking
 * anything, the reclaim thread's results dropped; then only fds (checked by
 * the caller) and memory (LeakSanitizer) are checked. */
static void finish(void)
{
	struct pool *p = &H.srv.pool;

	if (H.abrupt) {
		teardown();
		return;
	}
	for (uint32_t i = 0; i < H.nconns; i++) {
		if (H.conns[i].fd >= 0)
			close(H.conns[i].fd);
		H.conns[i].fd = -1;
	}
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
	in = data;
	in_len = size;
	if (!take(cfg, 3))
		return 0;
	setup(cfg[0], cfg[1], cfg[2]);
	check_state();
	for (uint8_t cmd; take(&cmd, 1);) {
		run_command(cmd);
		turn();
		check_state();
	}
	finish();
	CHECK(count_fds() == fds_before, "%d fds open, %d before", count_fds(), fds_before);
	return 0;
}
