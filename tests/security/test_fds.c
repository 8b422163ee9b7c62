/* SPDX-License-Identifier: MIT */
/*
 * test_fds.c - security audit replays about file descriptors crossing the
 * daemon's socket, against a real contigd:
 *
 *   borrowed_fds    queued replies must not name page fds the daemon may
 *                   close and reuse before the reply goes out (finding 1);
 *   lingering_fd    an fd a client passes in must not stall the event loop
 *                   when the daemon closes it (finding 2);
 *   sealed_pages    in trusted mode (zero-in-place) a client must not be
 *                   able to truncate a page file under the daemon's own
 *                   mapping (finding 4).
 *
 * Each test fails on the daemon before the audit's fixes (the comment at
 * each says how) and passes after them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"
#include "seccommon.h"

static const char secret[] = "VICTIM-SECRET";
static const char marker[] = "ATTACKER-WROTE-THIS";

/* ------------------------------------------------------------------------
 * Finding 1: queued replies held BORROWED page fd numbers.
 *
 * A session is read only while its reply queue is empty, and a reply that
 * does not fit the socket waits in the daemon's queue. A REGION reply
 * queued that way named the pool's own page fds (borrowed, not dup'd). The
 * attacker then got the region freed under the queued reply by writing its
 * id into its stash table and having any session trigger a stash take: the
 * pages were revoked and their fds closed, reclaim opened new memfds that
 * took the same fd numbers (or accept4 gave one to a new connection), and
 * when the attacker finally read its queue the kernel sent it whatever
 * those numbers named then: pool pages that root was using (root's data
 * readable and writable), or another client's connection socket.
 *
 * Old daemon: the attacker maps root's pages and reads VICTIM-SECRET, and
 * what it writes lands in root's regions or in pages handed out next.
 * ------------------------------------------------------------------------ */

#define ATTACK_PAGES 1 /* one page: any free page will do, however scattered the pool */

static int outq(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n) < 0)
		return -1;
	return n;
}

/* True once the daemon read everything sent on fd (up to ms). */
static bool consumed(int fd, int ms)
{
	for (int t = 0; t < ms; t++) {
		if (outq(fd) == 0)
			return true;
		usleep(1000);
	}
	return outq(fd) == 0;
}

struct borrow_result {
	int64_t sockets, secrets, others, fds, stuck;
};

/* What one received fd is: a socket, a page showing the secret, something
 * else; pages get the marker written all over them. */
static void inspect_fd(int fd, uint64_t page_size, struct borrow_result *res)
{
	struct stat st;

	res->fds++;
	if (fstat(fd, &st) < 0 || S_ISSOCK(st.st_mode)) {
		res->sockets++;
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		res->others++;
		return;
	}
	uint8_t *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		res->others++;
		return;
	}
	if (memmem(p, page_size, secret, sizeof(secret) - 1))
		res->secrets++;
	for (size_t off = 0; off + sizeof(marker) <= page_size; off += 4096)
		memcpy(p + off, marker, sizeof(marker));
	munmap(p, page_size);
}

/* How many replies fit the daemon's send buffer of one session: requests
 * one at a time (FREE of a bogus id, a STATUS each) on a connection that
 * never reads, until one is not read any more, because the daemon reads a
 * session only while its queue is empty. Measured once, by root: the
 * kernel's numbers are the same for every session. */
static int measure_fit(void)
{
	int c = sec_connect(sec_d.socket, true, NULL), fit = -1;

	assert_true(c >= 0);
	for (int i = 0; i < 4000; i++) {
		struct proto_free f = { .region_id = 0xdead000000000000ull + (uint64_t)i };
		assert_int_equal(raw_send(c, PROTO_FREE, 100 + (uint32_t)i, &f, sizeof(f)), 0);
		if (!consumed(c, 1000)) {
			/* i read, the last of their replies waits in the
			 * daemon's queue: i - 1 fit. */
			fit = i - 1;
			break;
		}
	}
	close(c);
	assert_true(fit > 0);
	return fit;
}

static int borrow_fit;   /* STATUS replies that fit a session's socket */

/* How the attacker gets its stashed region taken. */
enum trigger { BY_QUERY, BY_LIST, BY_SIGHUP, BY_IDLE_SCAN };
static const char *const trigger_name[] = { "another session's QUERY", "another session's LIST",
					    "SIGHUP", "the idle scan" };

/* uid nobody, allowed: the attacker (arg: its enum trigger). Answers the
 * id of the region it stashed under its queued reply (0 if it found none),
 * then on command reads its queue and answers what it received (struct
 * borrow_result). */
static int borrow_attacker(struct agent *self, void *arg)
{
	enum trigger how = *(const enum trigger *)arg;
	const char *socket = sec_d.socket;
	int fit = borrow_fit;
	struct borrow_result res = { 0 };
	uint64_t sid_a = 0, id = 0;
	int a, b, r;

	a = sec_connect(socket, true, &sid_a);
	b = sec_connect(socket, true, NULL);
	if (a < 0 || b < 0)
		CHILD_FAIL(2, "connect: %d %d", a, b);

	/* The stash table of session a. */
	struct proto_stash sreq = { 0 };
	struct proto_msg m;
	int tfd = -1;
	size_t nfds = 0;
	if (raw_send(a, PROTO_STASH, 3, &sreq, sizeof(sreq)) < 0 ||
	    sec_recv(a, &m, &tfd, &nfds, 10000) != PROTO_STASH_TABLE || nfds != 1)
		CHILD_FAIL(3, "no stash table");
	uint64_t *slots = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	if (slots == MAP_FAILED)
		CHILD_FAIL(4, "mmap stash: %m");
	close(tfd);

	/* Stop reading a, and send exactly as many requests as replies fit:
	 * then the send buffer is full but the daemon's queue is empty, so it
	 * reads the ALLOC behind them and its REGION reply, with the page
	 * fds, is what waits in the queue. */
	for (int i = 0; i < fit; i++) {
		struct proto_free f = { .region_id = 0xdead000000000000ull + (uint64_t)i };
		if (raw_send(a, PROTO_FREE, 100 + (uint32_t)i, &f, sizeof(f)) < 0)
			break;
	}
	struct proto_alloc al = { .nbytes = ATTACK_PAGES * PS, .highest = UINT64_MAX,
				  .node = PROTO_NODE_ANY };
	if (raw_send(a, PROTO_ALLOC, 7, &al, sizeof(al)) == 0 && consumed(a, 5000))
		res.stuck = fit;

	/* The region's id, from another session of the same uid. */
	int n = 0;
	for (int tries = 0; tries < 100 && !id; tries++) {
		uint8_t items[PROTO_MAX_MSG];
		uint32_t isz = 0;
		if (tries)
			sleep_ms(20);
		n = sec_list(b, PROTO_TABLE_REGIONS, items, sizeof(items), &isz);
		for (int i = 0; i < n; i++) {
			struct proto_region_item it;
			memcpy(&it, items + (size_t)i * isz, sizeof(it));
			if (it.session_id == sid_a)
				id = it.region_id;
		}
	}
	if (!id)
		fprintf(stderr, "attacker: no region of session %llu in the LIST (%d)\n",
			(unsigned long long)sid_a, n);
	/* Stashed: any session's QUERY or LIST (of the first page), SIGHUP
	 * (the parent sends it) or the idle scan (an id seen at two scans a
	 * second apart) frees it as a FREE of a would. */
	if (id) {
		__atomic_store_n(&slots[0], id, __ATOMIC_RELEASE);
		if (how == BY_QUERY) {
			struct proto_query q = { PROTO_NODE_ANY, 0 };
			if (raw_send(b, PROTO_QUERY, 8, &q, sizeof(q)) < 0 ||
			    sec_recv(b, &m, NULL, NULL, 10000) != PROTO_POOL_INFO)
				CHILD_FAIL(5, "QUERY on the second session failed");
		} else if (how == BY_LIST) {
			uint8_t items[PROTO_MAX_MSG];
			uint32_t isz;
			if (sec_list(b, PROTO_TABLE_RUNS, items, sizeof(items), &isz) < 0)
				CHILD_FAIL(5, "LIST on the second session failed");
		} else if (how == BY_IDLE_SCAN) {
			sleep_ms(2500);
		}
	}
	agent_say(self, (int64_t)id);

	/* Root allocated and wrote its secret, and opened connections. */
	if (agent_next(self) < 0)
		return 6;
	uint32_t got = 0, want = UINT32_MAX;
	while (got < want) {
		int fds[PROTO_MAX_FDS];
		r = sec_recv(a, &m, fds, &nfds, 3000);
		if (r <= 0) {
			if (want != UINT32_MAX)
				fprintf(stderr, "attacker: %u of %u pages came (%d)\n", got,
					want, r);
			break;
		}
		if (r != PROTO_REGION) {
			proto_close_fds(fds, nfds);
			continue;
		}
		want = m.body.region.npages;
		got += m.body.region.count;
		for (size_t k = 0; k < nfds; k++) {
			inspect_fd(fds[k], m.body.region.page_size, &res);
			close(fds[k]);
		}
	}
	agent_say(self, res.sockets);
	agent_say(self, res.secrets);
	agent_say(self, res.others);
	agent_say(self, res.fds);
	agent_say(self, res.stuck);
	(void)agent_next(self);
	close(a);
	close(b);
	return 0;
}

static bool shows(const struct mapped_region *r, const char *text)
{
	return memmem(r->va, r->len, text, strlen(text)) != NULL;
}

static void fill_secret(struct mapped_region *r)
{
	for (size_t off = 0; off + sizeof(secret) <= r->len; off += 4096)
		memcpy(r->va + off, secret, sizeof(secret));
}

static bool secret_intact(const struct mapped_region *r)
{
	for (size_t off = 0; off + sizeof(secret) <= r->len; off += 4096)
		if (memcmp(r->va + off, secret, sizeof(secret)))
			return false;
	return true;
}

/* Pages in the pool, once all of them are free again (up to 10 s: what
 * the last round freed goes through quarantine and reclaim). */
static uint32_t pool_pages_idle(int fd)
{
	struct proto_query q = { PROTO_NODE_ANY, 0 };
	struct proto_msg m;

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(raw_send(fd, PROTO_QUERY, 2, &q, sizeof(q)), 0);
		assert_int_equal(sec_recv(fd, &m, NULL, NULL, 10000), PROTO_POOL_INFO);
		if (m.body.pool_info.free_bytes == m.body.pool_info.total_bytes)
			break;
		sleep_ms(10);
	}
	assert_int_equal(m.body.pool_info.free_bytes, m.body.pool_info.total_bytes);
	return (uint32_t)(m.body.pool_info.total_bytes / m.body.pool_info.page_size);
}

static int round_hups; /* SIGHUPs sent so far to this daemon */

struct borrow_tally {
	int64_t sockets, secrets, others, overwritten, dirty, stuck;
};

/* One round; hold: how many one-page regions root allocates (and fills
 * with its secret) before the attacker reads its queue. The rest of the
 * pool is allocated after, and must read zero. */
static void borrow_round(int round, uint32_t hold, enum trigger how, struct borrow_tally *t)
{
	struct mapped_region mine[64], more[64];
	struct borrow_result res;
	struct agent att;
	uint32_t nmine = 0, fresh = 0, total, overwritten = 0, dirty = 0;
	int conns[8], root;

	root = sec_connect(sec_d.socket, true, NULL);
	assert_true(root >= 0);
	total = pool_pages_idle(root);
	assert_true(total <= 64);

	agent_start(&att, SEC_NOBODY, SEC_NOGROUP, borrow_attacker, &how);
	uint64_t id = (uint64_t)agent_hear(&att, 60000);
	if (how == BY_SIGHUP)
		sec_reload(++round_hups);

	/* Root: regions with its secret (waiting for reclaim where needed),
	 * and new connections (accept4 takes the lowest free fd numbers). */
	for (; nmine < hold && nmine < total; nmine++) {
		if (sec_alloc_map(root, PS, NULL, &mine[nmine]) != 0)
			break;
		fill_secret(&mine[nmine]);
	}
	for (int i = 0; i < 8; i++)
		conns[i] = sec_connect(sec_d.socket, true, NULL);

	agent_tell(&att, 1);
	res.sockets = agent_hear(&att, 60000);
	res.secrets = agent_hear(&att, 60000);
	res.others = agent_hear(&att, 60000);
	res.fds = agent_hear(&att, 60000);
	res.stuck = agent_hear(&att, 60000);

	/* Root's regions still hold exactly what root wrote; the rest of
	 * the pool, fresh, reads zero (nothing of the attacker's). */
	for (uint32_t i = 0; i < nmine; i++)
		overwritten += !secret_intact(&mine[i]);
	for (; nmine + fresh < total; fresh++) {
		if (sec_alloc_map(root, PS, NULL, &more[fresh]) != 0)
			break;
		dirty += !all_zero(more[fresh].va, more[fresh].len) || shows(&more[fresh], marker);
	}
	printf("round %d: region %#llx stashed, a take asked by %s; root held %u of %u pages; "
	       "the attacker received %lld fds (%s): %lld sockets, %lld showing root's secret, "
	       "%lld other; %u of root's regions overwritten, %u of %u fresh ones not zero\n",
	       round, (unsigned long long)id, trigger_name[how], nmine, total, (long long)res.fds,
	       res.stuck ? "its REGION reply queued behind a full socket" : "its ALLOC NOT read",
	       (long long)res.sockets, (long long)res.secrets, (long long)res.others, overwritten,
	       dirty, fresh);

	agent_tell(&att, 2);
	assert_int_equal(agent_finish(&att, 10000), 0);
	for (int i = 0; i < 8; i++)
		if (conns[i] >= 0)
			close(conns[i]);
	for (uint32_t i = 0; i < nmine; i++)
		sec_unmap(&mine[i]);
	for (uint32_t i = 0; i < fresh; i++)
		sec_unmap(&more[i]);
	close(root);
	t->sockets += res.sockets;
	t->secrets += res.secrets;
	t->others += res.others;
	t->overwritten += overwritten;
	t->dirty += dirty;
	t->stuck += res.stuck > 0;
}

/* After the rounds, every page of the pool, fresh: zero, nothing of the
 * attacker's. Returns how many are not. */
static uint32_t pool_dirty_pages(void)
{
	struct mapped_region r[64];
	uint32_t n = 0, dirty = 0, total;
	int root = sec_connect(sec_d.socket, true, NULL);

	assert_true(root >= 0);
	total = pool_pages_idle(root);
	for (; n < total && n < 64; n++) {
		assert_int_equal(sec_alloc_map(root, PS, NULL, &r[n]), 0);
		dirty += !all_zero(r[n].va, r[n].len);
	}
	for (uint32_t i = 0; i < n; i++)
		sec_unmap(&r[i]);
	close(root);
	return dirty;
}

static void test_borrowed_fds(void **state)
{
	struct borrow_tally t = { 0 };

	(void)state;
	sec_start("32M", "allow-users = nobody\n");
	borrow_fit = measure_fit();
	round_hups = 0;
	/* All of the pool held by root when the attacker reads; none (its
	 * writes then land in free pages handed out next); half. Each round
	 * has the region taken another way. */
	borrow_round(1, 64, BY_QUERY, &t);
	borrow_round(2, 0, BY_LIST, &t);
	borrow_round(3, 8, BY_SIGHUP, &t);
	borrow_round(4, 64, BY_IDLE_SCAN, &t);
	assert_true(sec_daemon_alive());
	uint32_t dirty = pool_dirty_pages();
	printf("afterwards: %u of the pool's pages not zero\n", dirty);
	t.dirty += dirty;
	/* The attack did what it means to: an ALLOC read while the socket
	 * was full, so its REGION reply waited in the daemon's queue. */
	assert_int_equal(t.stuck, 4); /* every round */
	assert_int_equal(t.sockets, 0);
	assert_int_equal(t.secrets, 0);
	assert_int_equal(t.others, 0);
	assert_int_equal(t.overwritten, 0);
	assert_int_equal(t.dirty, 0);
}

/* ------------------------------------------------------------------------
 * Finding 2: a received fd closed on the loop thread blocks the event loop.
 *
 * Clients never send fds and the daemon closed whatever arrived right
 * where it read it, on the loop thread. close() of the last reference to a
 * TCP socket with SO_LINGER {1, 60} and unsent data (its peer never reads,
 * so the window is shut) blocks for the linger time: 60 s in which no
 * client is served. Any user who can connect can do it, before HELLO.
 *
 * Old daemon: root's QUERY right after is not answered for a minute. Fixed:
 * either the kernel refuses the attacker's sendmsg (EPERM: the daemon turns
 * SO_PASSRIGHTS off) or the daemon closes it off the loop thread.
 * ------------------------------------------------------------------------ */

static int linger_listener = -1, linger_peer = -1;

/* uid 4242, not allowed: answers the bytes it left unsent in the TCP
 * socket; on command, passes the socket and closes its own copy, answers
 * the sendmsg's result (0 or -errno), and once the daemon read the
 * datagram, 0. */
static int linger_attacker(struct agent *self, void *arg)
{
	const struct sockaddr_in *to = arg;
	struct linger lg = { .l_onoff = 1, .l_linger = 60 };
	static uint8_t junk[1 << 16];
	int tcp, small = 4096, unsent = 0, r;

	tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tcp < 0 || setsockopt(tcp, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) < 0 ||
	    connect(tcp, (const struct sockaddr *)to, sizeof(*to)) < 0)
		CHILD_FAIL(2, "tcp: %m");
	/* Fill both ends: the peer never reads, so its window closes and
	 * what is left in our send queue can never go. */
	if (fcntl(tcp, F_SETFL, O_NONBLOCK) < 0)
		CHILD_FAIL(3, "O_NONBLOCK: %m");
	for (int idle = 0; idle < 20;) {
		ssize_t n = send(tcp, junk, sizeof(junk), MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			CHILD_FAIL(4, "send: %m");
		if (n < 0) {
			idle++;
			usleep(10000);
		}
	}
	if (ioctl(tcp, SIOCOUTQ, &unsent) < 0 || unsent <= 0)
		CHILD_FAIL(5, "nothing left unsent (%d)", unsent);
	if (setsockopt(tcp, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		CHILD_FAIL(6, "SO_LINGER: %m");

	/* Any datagram, before HELLO, with the socket attached. */
	int fd = sec_connect(sec_d.socket, false, NULL);
	if (fd < 0)
		CHILD_FAIL(7, "connect: %s", strerror(-fd));
	agent_say(self, unsent);
	/* The daemon is stopped now (see below). */
	if (agent_next(self) != 1)
		return 8;
	uint8_t buf[64];
	struct proto_hello h = { .version = PROTO_VERSION };
	size_t len = proto_encode(buf, PROTO_HELLO, 1, &h, sizeof(h));
	r = raw_sendmsg(fd, buf, len, &tcp, 1, NULL);
	/* Sent, ours closes at once (the datagram holds a reference): the
	 * daemon's copy is the last, the one whose close lingers. Refused,
	 * ours is the last: no linger then, or this close would block. */
	if (r < 0) {
		lg.l_onoff = 0;
		(void)setsockopt(tcp, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(tcp);
	agent_say(self, r);
	/* Until the daemon, running again, has read it. */
	(void)consumed(fd, 5000);
	agent_say(self, 0);
	(void)agent_next(self);
	close(fd);
	return 0;
}

static int linger_teardown(void **state)
{
	if (sec_d.pid > 0)
		kill(sec_d.pid, SIGCONT);
	/* Unread data at our end: the close resets the connection, which
	 * ends the linger wherever it blocks. */
	if (linger_peer >= 0)
		close(linger_peer);
	if (linger_listener >= 0)
		close(linger_listener);
	linger_peer = linger_listener = -1;
	return sec_teardown(state);
}

static void test_lingering_fd(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	int small = 4096, root;
	struct agent att;

	(void)state;
	sec_start("32M", "\n");
	linger_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(linger_listener >= 0);
	/* Inherited by the accepted socket: a small window fills fast. */
	assert_int_equal(setsockopt(linger_listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
			 0);
	assert_int_equal(bind(linger_listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(linger_listener, (struct sockaddr *)&sa, &salen), 0);
	assert_int_equal(listen(linger_listener, 4), 0);

	agent_start(&att, SEC_STRANGER, SEC_STRANGER, linger_attacker, &sa);
	int unsent = (int)agent_hear(&att, 30000);
	linger_peer = accept4(linger_listener, NULL, NULL, SOCK_CLOEXEC);
	assert_true(linger_peer >= 0);
	/* The attacker's own copy must be gone before the daemon closes its
	 * one, or the daemon's close is not the last and does not linger. A
	 * real attacker retries until it wins that race; here the daemon is
	 * stopped from the sendmsg until after the attacker's close. */
	assert_int_equal(kill(sec_d.pid, SIGSTOP), 0);
	agent_tell(&att, 1);
	int sent = (int)agent_hear(&att, 30000);
	assert_int_equal(kill(sec_d.pid, SIGCONT), 0);
	assert_int_equal(agent_hear(&att, 30000), 0);
	printf("the attacker's sendmsg of a lingering TCP socket (%d bytes unsent): %s\n", unsent,
	       sent == 0 ? "sent" : strerror(-sent));
	assert_true(sent == 0 || sent == -EPERM);
	sleep_ms(100);

	/* Root is served, within 10 s (the linger would hold it 60). */
	uint64_t t0 = mono_ns();
	root = sec_connect(sec_d.socket, true, NULL);
	struct proto_query q = { PROTO_NODE_ANY, 0 };
	struct proto_msg m;
	int r = root < 0 ? root : raw_send(root, PROTO_QUERY, 2, &q, sizeof(q));
	int left = 10000 - (int)((mono_ns() - t0) / 1000000);
	if (r == 0)
		r = left > 0 ? sec_recv(root, &m, NULL, NULL, left) : -ETIMEDOUT;
	uint64_t ms = (mono_ns() - t0) / 1000000;
	printf("root's HELLO and QUERY: %d after %llu ms\n", r, (unsigned long long)ms);
	assert_int_equal(r, PROTO_POOL_INFO);
	assert_true(ms < 10000);
	close(root);

	agent_tell(&att, 1);
	assert_int_equal(agent_finish(&att, 10000), 0);
	/* Let the linger end (reset), then the daemon must stop cleanly. */
	close(linger_peer);
	close(linger_listener);
	linger_peer = linger_listener = -1;
	assert_true(sec_daemon_alive());
}

/* ------------------------------------------------------------------------
 * Finding 4: in trusted-host mode (zero-in-place = yes) a freed page is
 * zeroed through the daemon's own mapping of the page's memfd, and that
 * memfd is the one clients receive. A client could ftruncate(fd, 0): the
 * page left the file and the daemon's zeroing touched a mapping beyond
 * EOF.
 *
 * Old daemon: the ftruncate succeeds (the memfds were not sealed) and the
 * FREE that follows kills the daemon with SIGBUS. Fixed: page memfds carry
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL.
 * ------------------------------------------------------------------------ */

enum {
	SEAL_TRUNCATED = 1 << 0,   /* ftruncate(fd, 0) succeeded */
	SEAL_GREW = 1 << 1,        /* ftruncate(fd, 2 * size) succeeded */
	SEAL_MISSING = 1 << 2,     /* F_GET_SEALS lacks SHRINK, GROW or SEAL */
	SEAL_RESEALABLE = 1 << 3,  /* F_ADD_SEALS still accepted */
	SEAL_FREE_LOST = 1 << 4,   /* the FREE was not answered */
};

/* uid nobody, allowed: every check, answered as a mask of SEAL_*. */
static int truncating_client(struct agent *self, void *arg)
{
	const char *socket = arg;
	struct proto_alloc al = { .nbytes = PS, .highest = UINT64_MAX, .node = PROTO_NODE_ANY };
	int fds[PROTO_MAX_FDS], mask = 0, r;
	struct proto_msg m;
	size_t nfds = 0;
	int fd = sec_connect(socket, true, NULL);

	if (fd < 0)
		CHILD_FAIL(2, "connect: %s", strerror(-fd));
	if (raw_send(fd, PROTO_ALLOC, 2, &al, sizeof(al)) < 0 ||
	    sec_recv(fd, &m, fds, &nfds, 10000) != PROTO_REGION || nfds != 1)
		CHILD_FAIL(3, "no region");
	uint64_t id = m.body.region.region_id;
	off_t size = (off_t)m.body.region.page_size;
	for (size_t k = 0; k < nfds; k++) {
		int seals = fcntl(fds[k], F_GET_SEALS);
		int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
		if (seals < 0 || (seals & want) != want)
			mask |= SEAL_MISSING;
		if (ftruncate(fds[k], 2 * size) == 0)
			mask |= SEAL_GREW;
		if (ftruncate(fds[k], 0) == 0)
			mask |= SEAL_TRUNCATED;
		if (fcntl(fds[k], F_ADD_SEALS, F_SEAL_WRITE) == 0)
			mask |= SEAL_RESEALABLE;
	}
	proto_close_fds(fds, nfds);
	struct proto_free f = { id };
	r = raw_status(fd, PROTO_FREE, &f, sizeof(f));
	if (r != 0)
		mask |= SEAL_FREE_LOST;
	agent_say(self, mask);
	close(fd);
	return 0;
}

static void test_sealed_pages(void **state)
{
	struct agent cl;

	(void)state;
	sec_start("32M", "zero-in-place = yes\nallow-users = nobody\n");
	agent_start(&cl, SEC_NOBODY, SEC_NOGROUP, truncating_client, sec_d.socket);
	int mask = (int)agent_hear(&cl, 30000);
	assert_int_equal(agent_finish(&cl, 10000), 0);
	printf("page memfds: %s%s%s%s%s\n", mask & SEAL_TRUNCATED ? "truncated to 0; " : "",
	       mask & SEAL_GREW ? "grown; " : "", mask & SEAL_MISSING ? "seals missing; " : "",
	       mask & SEAL_RESEALABLE ? "more seals accepted; " : "",
	       mask & SEAL_FREE_LOST ? "FREE not answered" : mask ? "" : "sealed");

	/* The daemon zeroes the page on its reclaim thread after the FREE's
	 * answer: alive and serving once reclaim is done. */
	int root = sec_connect(sec_d.socket, true, NULL), r = root;
	for (int i = 0; i < 300 && root >= 0; i++) {
		struct proto_query q = { PROTO_NODE_ANY, 0 };
		struct proto_msg m;
		r = raw_send(root, PROTO_QUERY, 2, &q, sizeof(q));
		if (r == 0)
			r = sec_recv(root, &m, NULL, NULL, 10000);
		if (r != PROTO_POOL_INFO ||
		    m.body.pool_info.free_bytes == m.body.pool_info.total_bytes)
			break;
		sleep_ms(10);
	}
	sleep_ms(100);
	bool alive = sec_daemon_alive();
	printf("after the FREE: daemon %s, root's QUERY %d\n", alive ? "alive" : "DEAD", r);
	if (root >= 0)
		close(root);
	assert_true(alive);
	assert_int_equal(r, PROTO_POOL_INFO);
	assert_int_equal(mask, 0);
	/* And a fresh region out of the zeroed pages reads zero. */
	root = sec_connect(sec_d.socket, true, NULL);
	assert_true(root >= 0);
	for (int i = 0; i < 4; i++) {
		struct mapped_region mr;
		assert_int_equal(sec_alloc_map(root, PS, NULL, &mr), 0);
		assert_true(all_zero(mr.va, mr.len));
		memset(mr.va, 0x77, mr.len);
		sec_unmap(&mr);
		struct proto_free f = { mr.id };
		assert_int_equal(raw_status(root, PROTO_FREE, &f, sizeof(f)), 0);
	}
	close(root);
}

/*
 * Found after the audit, by the team writing these tests: in trusted mode a
 * former holder that kept its page fd can punch the page out of its file
 * before freeing it (F_SEAL_* do not stop PUNCH_HOLE). The daemon's
 * zeroing in place then faulted a new hugepage in elsewhere, and the pool
 * went on announcing the old frame: every one of 16 pages handed out next
 * was not where the daemon said, so a device would DMA into memory that is
 * nobody's. Now the zeroing checks the frame and refaults the page instead.
 */
static bool pool_whole(int fd, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		struct proto_query q = { PROTO_NODE_ANY, 0 };
		struct proto_msg m;
		if (raw_send(fd, PROTO_QUERY, 7, &q, sizeof(q)) < 0 ||
		    sec_recv(fd, &m, NULL, NULL, 10000) != PROTO_POOL_INFO)
			return false;
		if (m.body.pool_info.free_bytes == m.body.pool_info.total_bytes)
			return true;
		sleep_ms(20);
	}
	return false;
}

static void test_punched_pages(void **state)
{
	enum { N = 16 };
	uint64_t ids[N];
	int punched = 0, bad = 0, got = 0;

	(void)state;
	sec_start("32M", "zero-in-place = yes\n");
	int fd = sec_connect(sec_d.socket, true, NULL);
	assert_true(fd >= 0);
	for (int n = 0; n < N; n++) {
		struct proto_alloc al = { .nbytes = PS, .highest = UINT64_MAX, .node = PROTO_NODE_ANY };
		int fds[PROTO_MAX_FDS];
		size_t nfds;
		struct proto_msg m;
		assert_int_equal(raw_send(fd, PROTO_ALLOC, 2, &al, sizeof(al)), 0);
		assert_int_equal(sec_recv(fd, &m, fds, &nfds, 10000), PROTO_REGION);
		ids[n] = m.body.region.region_id;
		for (size_t k = 0; k < nfds; k++) {
			punched += fallocate(fds[k], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
					     PS) == 0;
			close(fds[k]);
		}
	}
	for (int i = 0; i < N; i++) {
		struct proto_free f = { ids[i] };
		assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), 0);
	}
	/* Punched pages come back through a fresh refault (a second or two). */
	assert_true(pool_whole(fd, 10000));
	for (int i = 0; i < N; i++) {
		struct mapped_region r;
		if (sec_alloc_map(fd, PS, NULL, &r) != 0)
			break;
		got++;
		assert_true(all_zero(r.va, r.len));
		r.va[0] = 1;
		bad += pagemap_phys(r.va) != r.phys;
	}
	printf("trusted mode: %d of %d pages punched before their free; %d of %d handed out "
	       "next were not where the daemon said\n", punched, N, bad, got);
	assert_int_equal(punched, N);
	assert_int_equal(got, N);
	assert_int_equal(bad, 0);
	assert_true(sec_daemon_alive());
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_borrowed_fds, sec_teardown),
		cmocka_unit_test_teardown(test_lingering_fd, linger_teardown),
		cmocka_unit_test_teardown(test_sealed_pages, sec_teardown),
		cmocka_unit_test_teardown(test_punched_pages, sec_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("CONTIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CONTIG_TEST_FILTER"));
	return cmocka_run_group_tests_name("security-fds", tests, NULL, NULL);
}
