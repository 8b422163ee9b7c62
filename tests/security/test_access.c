/* SPDX-License-Identifier: MIT */
/*
 * test_access.c - security audit replays about who may do what, against a
 * real contigd:
 *
 *   flood_silent,   one uid cannot take every session slot, with or
 *   flood_hello,    without HELLO, and uid-max-sessions counts
 *   uid_sessions    connections that did not say it (finding 3);
 *   hello_deadline  a connection that never says HELLO is closed soon
 *                   (finding 3d);
 *   phys_hidden     a user not allowed to allocate sees no physical
 *                   address in LIST (finding 5);
 *   revoke_sticky   only a region's owner revokes or exports it, and a
 *                   revoke stands (finding 6);
 *   stash_drain     another user's QUERY or LIST does not take a client's
 *                   stash (finding 7);
 *   reload_revokes  a reload that takes a user off the allow-list takes
 *                   the right away from its open sessions too (finding 8).
 *
 * Finding 9 (a session's lease refs on one region are a uint32_t that 2^32
 * IMPORTs would wrap) is not replayed: 2^32 round trips take too long.
 *
 * Each test fails on the daemon before the audit's fixes (the comment at
 * each says how) and passes after them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"
#include "seccommon.h"

/* Root connects, says HELLO and allocates: 0, or what went wrong (a
 * positive errno from the daemon, a negative one from the transport). */
static int root_gets_in(void)
{
	struct mapped_region r;
	int fd = sec_connect(sec_d.socket, true, NULL), e;

	if (fd < 0)
		return fd;
	e = sec_alloc_map(fd, PS, NULL, &r);
	if (e == 0) {
		e = all_zero(r.va, r.len) ? 0 : -EIO;
		sec_unmap(&r);
	}
	close(fd);
	return e;
}

/* ------------------------------------------------------------------------
 * Finding 3: one uid takes every session slot.
 *
 * max-sessions (4096) counted every connection, but uid-max-sessions only
 * counted sessions that had said HELLO, and nothing kept a slot for root:
 * one unprivileged user, not even allowed to allocate, opened 4096
 * connections (with or without HELLO) and every later client, root
 * included, was refused with EDQUOT; a silent connection held its slot for
 * 30 s, and connections that never said HELLO were not held to the uid's
 * limit at all.
 *
 * Old daemon: root's connection is refused (EDQUOT) while the flood holds;
 * with uid-max-sessions = 8, the uid's ninth connection is accepted when
 * the first eight did not say HELLO.
 * ------------------------------------------------------------------------ */

#define FLOOD 4200

/* The flooder: connects up to FLOOD times (HELLO on each if arg is
 * non-NULL), answers how many connections the daemon accepted and keeps
 * them until told. A refused one got an unsolicited STATUS or a hangup. */
static int flooder(struct agent *self, void *arg)
{
	bool hello = arg != NULL;
	static int fds[FLOOD];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct proto_hello h = { .version = PROTO_VERSION };
	uint64_t deadline = mono_ns() + 20000000000ull;
	int n = 0, open_ok = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sec_d.socket);
	while (n < FLOOD && mono_ns() < deadline) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			if (errno != EAGAIN)
				break;
			usleep(1000); /* the backlog is full: let the daemon accept */
			continue;
		}
		if (hello)
			(void)raw_send(fd, PROTO_HELLO, 1, &h, sizeof(h));
		fds[n++] = fd;
	}
	/* Which ones the daemon kept: with HELLO, those that got its reply
	 * (within 20 s for all); without, those it did not hang up on (nor
	 * told EDQUOT). */
	deadline = mono_ns() + 20000000000ull;
	if (!hello)
		usleep(200000); /* the daemon's verdict on the last ones */
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
		struct proto_msg m;
		int r;
		if (hello) {
			uint64_t now = mono_ns();
			int left = now < deadline ? (int)((deadline - now) / 1000000) : 0;
			r = sec_recv(fds[i], &m, NULL, NULL, left);
			open_ok += r == PROTO_HELLO_REPLY;
		} else {
			r = poll(&pfd, 1, 0);
			open_ok += r == 0;
		}
	}
	agent_say(self, n);
	agent_say(self, open_ok);
	(void)agent_next(self);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

static void flood_case(bool hello)
{
	struct agent fl;

	agent_start(&fl, SEC_STRANGER, SEC_STRANGER, flooder, hello ? (void *)1 : NULL);
	int64_t n = agent_hear(&fl, 60000);
	int64_t kept = agent_hear(&fl, 60000);
	int r = root_gets_in();
	printf("uid %u opened %lld connections%s, the daemon kept %lld; root: %s\n", SEC_STRANGER,
	       (long long)n, hello ? " with HELLO" : " without HELLO", (long long)kept,
	       r == 0 ? "served" : r > 0 ? strerror(r) : strerror(-r));
	agent_tell(&fl, 1);
	assert_int_equal(agent_finish(&fl, 30000), 0);
	assert_true(n >= 4097); /* past the old max-sessions */
	assert_int_equal(r, 0);
}

/* HELLO on fd: 1 if the daemon answered it (a session), 0 if it refused
 * the connection (a STATUS EDQUOT, solicited or not, or a hangup), 2 for
 * anything else. */
static int hello_outcome(int fd)
{
	struct proto_hello h = { .version = PROTO_VERSION };
	struct proto_msg m;
	int r = raw_send(fd, PROTO_HELLO, 1, &h, sizeof(h));

	if (r == -EPIPE || r == -ECONNRESET)
		return 0;
	if (r < 0)
		return 2;
	r = sec_recv(fd, &m, NULL, NULL, 10000);
	if (r == PROTO_HELLO_REPLY)
		return 1;
	if (r == 0 || (r == PROTO_STATUS && m.body.status.error == EDQUOT))
		return 0;
	return 2;
}

/* uid-max-sessions = 8. Answers, in order, hello_outcome of: a ninth
 * connection whose eight elders are silent; then the sum of those of the
 * eight; then a ninth connection, silent for a while, beside eight
 * sessions. */
static int nine(struct agent *self, void *arg)
{
	int fds[8], extra, replies = 0;

	(void)arg;
	for (int i = 0; i < 8; i++) {
		fds[i] = sec_connect(sec_d.socket, false, NULL);
		if (fds[i] < 0)
			CHILD_FAIL(2, "connection %d: %s", i, strerror(-fds[i]));
	}
	usleep(200000); /* accepted, all of them */
	extra = sec_connect(sec_d.socket, false, NULL);
	agent_say(self, extra < 0 ? 0 : hello_outcome(extra));
	if (extra >= 0)
		close(extra);
	for (int i = 0; i < 8; i++)
		replies += hello_outcome(fds[i]);
	agent_say(self, replies);
	extra = sec_connect(sec_d.socket, false, NULL);
	usleep(200000);
	agent_say(self, extra < 0 ? 0 : hello_outcome(extra));
	if (extra >= 0)
		close(extra);
	(void)agent_next(self);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	return 0;
}

/* (a) A flood of silent connections, default limits. */
static void test_flood_silent(void **state)
{
	(void)state;
	sec_start("32M", "\n");
	flood_case(false);
}

/* (b) The same with HELLO on every connection. */
static void test_flood_hello(void **state)
{
	(void)state;
	sec_start("32M", "\n");
	flood_case(true);
}

/* (c) uid-max-sessions holds whether or not HELLO was said. */
static void test_uid_sessions(void **state)
{
	struct agent a;

	(void)state;
	sec_start("32M", "uid-max-sessions = 8\n");
	agent_start(&a, SEC_STRANGER, SEC_STRANGER, nine, NULL);
	int64_t ninth_beside_silent = agent_hear(&a, 30000);
	int64_t eight = agent_hear(&a, 30000);
	int64_t ninth_silent = agent_hear(&a, 30000);
	int r = root_gets_in();
	static const char *const outcome[] = { "was refused", "was ACCEPTED",
					       "got a wrong answer" };
	printf("uid-max-sessions 8: a ninth connection beside 8 silent ones %s; %lld of those 8 "
	       "then said HELLO; a ninth silent one %s; root %s\n",
	       outcome[ninth_beside_silent], (long long)eight, outcome[ninth_silent],
	       r == 0 ? "served" : "REFUSED");
	agent_tell(&a, 1);
	assert_int_equal(agent_finish(&a, 10000), 0);
	assert_int_equal(ninth_beside_silent, 0);
	assert_int_equal(eight, 8);
	assert_int_equal(ninth_silent, 0);
	assert_int_equal(r, 0);
}

/* ------------------------------------------------------------------------
 * Finding 3d: a connection that never says HELLO held its slot for 30 s.
 *
 * Old daemon: still open after 10 s. Fixed: closed after 5 s.
 * ------------------------------------------------------------------------ */

static void test_hello_deadline(void **state)
{
	struct proto_msg m;
	int fd, r;

	(void)state;
	sec_start("32M", "\n");
	fd = sec_connect(sec_d.socket, false, NULL);
	assert_true(fd >= 0);
	uint64_t t0 = mono_ns();
	/* Whatever comes first (an unsolicited STATUS, say), then the hangup. */
	do {
		int left = 10000 - (int)((mono_ns() - t0) / 1000000);
		r = left > 0 ? sec_recv(fd, &m, NULL, NULL, left) : -ETIMEDOUT;
	} while (r > 0);
	uint64_t ms = (mono_ns() - t0) / 1000000;
	printf("a connection without HELLO: %s after %llu ms\n", r == 0 ? "closed" : "STILL OPEN",
	       (unsigned long long)ms);
	close(fd);
	assert_int_equal(r, 0);
	assert_true(ms < 10000);
	assert_int_equal(root_gets_in(), 0);
}

/* ------------------------------------------------------------------------
 * Finding 5: LIST showed every user the pool's physical addresses.
 *
 * Physical addresses are what Rowhammer-style and DMA attacks need; only
 * those who may allocate (and so learn their own regions' addresses
 * anyway) need them. Old daemon: a user refused ALLOC (EACCES) reads the
 * real phys of every run and page.
 * ------------------------------------------------------------------------ */

/* Answers: its ALLOC's error, rows of the runs table, how many with a
 * non-zero phys, rows of the pages table, how many with a non-zero phys. */
static int phys_reader(struct agent *self, void *arg)
{
	static uint8_t items[PROTO_MAX_MSG];
	int fd = sec_connect(sec_d.socket, true, NULL), e = 0;
	uint32_t isz;
	int n;

	(void)arg;
	if (fd < 0)
		CHILD_FAIL(2, "connect: %s", strerror(-fd));
	(void)raw_alloc(fd, PS, &e);
	agent_say(self, e);
	n = sec_list(fd, PROTO_TABLE_RUNS, items, sizeof(items), &isz);
	int64_t nonzero = 0;
	for (int i = 0; i < n; i++) {
		struct proto_run_item it;
		memcpy(&it, items + (size_t)i * isz, sizeof(it));
		nonzero += it.phys != 0;
	}
	agent_say(self, n);
	agent_say(self, nonzero);
	n = sec_list(fd, PROTO_TABLE_PAGES, items, sizeof(items), &isz);
	nonzero = 0;
	for (int i = 0; i < n; i++) {
		struct proto_page_item it;
		memcpy(&it, items + (size_t)i * isz, sizeof(it));
		nonzero += it.phys != 0;
	}
	agent_say(self, n);
	agent_say(self, nonzero);
	close(fd);
	return 0;
}

struct phys_view {
	int64_t alloc_error, runs, runs_phys, pages, pages_phys;
};

static void phys_view_of(uid_t uid, gid_t gid, struct phys_view *v)
{
	struct agent a;

	agent_start(&a, uid, gid, phys_reader, NULL);
	v->alloc_error = agent_hear(&a, 30000);
	v->runs = agent_hear(&a, 30000);
	v->runs_phys = agent_hear(&a, 30000);
	v->pages = agent_hear(&a, 30000);
	v->pages_phys = agent_hear(&a, 30000);
	assert_int_equal(agent_finish(&a, 10000), 0);
	printf("uid %u (ALLOC: %s): %lld of %lld runs and %lld of %lld pages show a phys\n",
	       (unsigned)uid, v->alloc_error ? strerror((int)v->alloc_error) : "allowed",
	       (long long)v->runs_phys, (long long)v->runs, (long long)v->pages_phys,
	       (long long)v->pages);
}

static void test_phys_hidden(void **state)
{
	struct phys_view stranger, allowed, root;

	(void)state;
	sec_start("32M", "allow-users = nobody\n");
	phys_view_of(SEC_STRANGER, SEC_STRANGER, &stranger);
	phys_view_of(SEC_NOBODY, SEC_NOGROUP, &allowed);
	phys_view_of(0, 0, &root);
	/* Not allowed: the rows, without a single address. */
	assert_int_equal(stranger.alloc_error, EACCES);
	assert_true(stranger.runs > 0 && stranger.pages == 16);
	assert_int_equal(stranger.runs_phys, 0);
	assert_int_equal(stranger.pages_phys, 0);
	/* Allowed, and root: the addresses. */
	assert_int_equal(allowed.alloc_error, 0);
	assert_int_equal(allowed.runs_phys, allowed.runs);
	assert_int_equal(allowed.pages_phys, 16);
	assert_int_equal(root.alloc_error, 0);
	assert_int_equal(root.runs_phys, root.runs);
	assert_int_equal(root.pages_phys, 16);
}

/* ------------------------------------------------------------------------
 * Finding 6: revocation was neither owner-only nor sticky.
 *
 * Any session holding a region (an importer) could REVOKE its handle,
 * cutting the owner's other importers off, and could EXPORT it, minting
 * handles the owner never gave out; and an EXPORT after the owner's REVOKE
 * drew a new token, so the revoke did not stand.
 *
 * Old daemon: the importer's REVOKE succeeds (and the handle dies for a
 * third session), its EXPORT succeeds, and after the owner revoked, the
 * owner's EXPORT hands out a fresh handle that imports.
 * ------------------------------------------------------------------------ */

enum {
	RV_IMPORT = 1 << 0,         /* B's first import failed */
	RV_B_REVOKED = 1 << 1,      /* B's REVOKE was not refused with EACCES */
	RV_C_IMPORT = 1 << 2,       /* C could not import after B's REVOKE */
	RV_B_EXPORTED = 1 << 3,     /* B's EXPORT was not refused with EACCES */
	RV_C_REVOKED = 1 << 4,      /* C's REVOKE was not refused with EACCES */
	RV_A_REVOKE = 1 << 5,       /* the owner's REVOKE failed */
	RV_IMPORT_AFTER = 1 << 6,   /* an IMPORT after the owner's REVOKE did not get ENOENT */
	RV_A_REEXPORT = 1 << 7,     /* the owner's EXPORT after its REVOKE was not EACCES */
	RV_B_REEXPORT = 1 << 8,     /* B's EXPORT after the REVOKE was not EACCES */
	RV_NEW_HANDLE = 1 << 9,     /* a handle exported after the REVOKE imported */
	RV_SETUP = 1 << 10,
};

/* EXPORT: 0 with *h, or the STATUS error (> 0), or -errno. */
static int export_of(int fd, uint64_t id, struct proto_handle *h)
{
	struct proto_export e = { id };
	struct proto_msg m;
	int r = raw_send(fd, PROTO_EXPORT, 4, &e, sizeof(e));

	if (r < 0)
		return r;
	r = sec_recv(fd, &m, NULL, NULL, 10000);
	if (r == PROTO_HANDLE) {
		*h = m.body.handle;
		return 0;
	}
	if (r == PROTO_STATUS)
		return m.body.status.error ? m.body.status.error : -EPROTO;
	return r < 0 ? r : -EPROTO;
}

/* IMPORT on fd: 0 (mapped, then unmapped), or the STATUS error. */
static int import_on(int fd, const struct proto_handle *h)
{
	struct mapped_region r;
	int e = sec_alloc_map(fd, 0, h, &r);

	if (e == 0)
		sec_unmap(&r);
	return e;
}

static int revoker(struct agent *self, void *arg)
{
	struct proto_handle h, h2;
	struct mapped_region mine;
	int a, b, c, d, mask = 0, e;

	(void)arg;
	a = sec_connect(sec_d.socket, true, NULL);
	b = sec_connect(sec_d.socket, true, NULL);
	c = sec_connect(sec_d.socket, true, NULL);
	d = sec_connect(sec_d.socket, true, NULL);
	if (a < 0 || b < 0 || c < 0 || d < 0 || sec_alloc_map(a, PS, NULL, &mine) != 0 ||
	    export_of(a, mine.id, &h) != 0) {
		agent_say(self, RV_SETUP);
		return 0;
	}
	if (import_on(b, &h) != 0)
		mask |= RV_IMPORT;
	/* An importer may neither revoke nor re-export. */
	if (raw_status(b, PROTO_REVOKE, &h, sizeof(h)) != EACCES)
		mask |= RV_B_REVOKED;
	if (import_on(c, &h) != 0)
		mask |= RV_C_IMPORT;
	if (export_of(b, mine.id, &h2) != EACCES)
		mask |= RV_B_EXPORTED;
	if (raw_status(c, PROTO_REVOKE, &h, sizeof(h)) != EACCES)
		mask |= RV_C_REVOKED;
	/* The owner revokes: it stands, for everyone. */
	if (raw_status(a, PROTO_REVOKE, &h, sizeof(h)) != 0)
		mask |= RV_A_REVOKE;
	if (import_on(d, &h) != ENOENT || import_on(b, &h) != ENOENT)
		mask |= RV_IMPORT_AFTER;
	if ((e = export_of(a, mine.id, &h2)) != EACCES)
		mask |= RV_A_REEXPORT;
	if (e == 0 && import_on(d, &h2) == 0)
		mask |= RV_NEW_HANDLE;
	if ((e = export_of(b, mine.id, &h2)) != EACCES)
		mask |= RV_B_REEXPORT;
	if (e == 0 && import_on(d, &h2) == 0)
		mask |= RV_NEW_HANDLE;
	agent_say(self, mask);
	sec_unmap(&mine);
	close(a);
	close(b);
	close(c);
	close(d);
	return 0;
}

static void test_revoke_sticky(void **state)
{
	struct agent a;

	(void)state;
	sec_start("32M", "allow-users = nobody\n");
	agent_start(&a, SEC_NOBODY, SEC_NOGROUP, revoker, NULL);
	int64_t mask = agent_hear(&a, 30000);
	assert_int_equal(agent_finish(&a, 10000), 0);
	printf("revocation: %s%s%s%s%s%s%s%s%s%s%s\n", mask ? "" : "owner-only and sticky",
	       mask & RV_SETUP ? "setup failed; " : "",
	       mask & RV_IMPORT ? "B could not import; " : "",
	       mask & RV_B_REVOKED ? "an importer's REVOKE was not refused; " : "",
	       mask & RV_C_IMPORT ? "the handle died for C; " : "",
	       mask & RV_B_EXPORTED ? "an importer's EXPORT was not refused; " : "",
	       mask & RV_C_REVOKED ? "a second importer's REVOKE was not refused; " : "",
	       mask & RV_A_REVOKE ? "the owner could not revoke; " : "",
	       mask & RV_IMPORT_AFTER ? "IMPORT after the revoke was not ENOENT; " : "",
	       mask & (RV_A_REEXPORT | RV_B_REEXPORT) ? "EXPORT after the revoke not EACCES; " : "",
	       mask & RV_NEW_HANDLE ? "a handle minted after the revoke imported" : "");
	assert_int_equal(mask, 0);
}

/* ------------------------------------------------------------------------
 * Finding 7: any connected user drained every client's stash.
 *
 * QUERY and LIST took back every stashed region of every session ("the
 * pool as it is"), so any user who could connect, allowed to allocate or
 * not, could revoke every other client's stashed regions at will: their
 * next reuse became a round trip, and the memory they meant to keep was
 * gone.
 *
 * Old daemon: the victim's slot reads 0 after another user's QUERY, and its
 * FREE of the region gets ENOENT.
 * ------------------------------------------------------------------------ */

/* The victim (nobody, allowed): two regions, a stash table. Command 1:
 * put the other region's id in slot 0; command 2: answer whether slot 0
 * still holds it; command 3: empty the slot and FREE both (answers how
 * many FREEs succeeded). */
static int stash_victim(struct agent *self, void *arg)
{
	struct proto_stash sreq = { 0 };
	struct proto_msg m;
	uint64_t ids[2], want = 0;
	size_t nfds = 0;
	int fd, tfd = -1, e, k = 0;

	(void)arg;
	fd = sec_connect(sec_d.socket, true, NULL);
	if (fd < 0)
		CHILD_FAIL(2, "connect: %s", strerror(-fd));
	for (int i = 0; i < 2; i++)
		if (!(ids[i] = raw_alloc(fd, PS, &e)))
			CHILD_FAIL(3, "ALLOC: %s", strerror(e));
	if (raw_send(fd, PROTO_STASH, 3, &sreq, sizeof(sreq)) < 0 ||
	    sec_recv(fd, &m, &tfd, &nfds, 10000) != PROTO_STASH_TABLE || nfds != 1)
		CHILD_FAIL(4, "no stash table");
	uint64_t *slots = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	close(tfd);
	if (slots == MAP_FAILED)
		CHILD_FAIL(5, "mmap: %m");
	agent_say(self, 0);
	for (;;) {
		int64_t cmd = agent_next(self);
		if (cmd == 1) {
			/* Take it back (compare-and-swap to 0), stash the other. */
			uint64_t cur = want;
			if (cur)
				__atomic_compare_exchange_n(&slots[0], &cur, 0, false,
							    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
			want = ids[k++ % 2];
			__atomic_store_n(&slots[0], want, __ATOMIC_RELEASE);
			agent_say(self, 0);
		} else if (cmd == 2) {
			agent_say(self, __atomic_load_n(&slots[0], __ATOMIC_ACQUIRE) == want);
		} else {
			break;
		}
	}
	uint64_t cur = want;
	__atomic_compare_exchange_n(&slots[0], &cur, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	int freed = 0;
	for (int i = 0; i < 2; i++) {
		struct proto_free f = { ids[i] };
		freed += raw_status(fd, PROTO_FREE, &f, sizeof(f)) == 0;
	}
	agent_say(self, freed);
	close(fd);
	return 0;
}

/* Another user: on each command, QUERY twice and LIST every table (first
 * page, which is where a take happened), then answers. */
static int stash_poker(struct agent *self, void *arg)
{
	static uint8_t items[PROTO_MAX_MSG];
	int fd = sec_connect(sec_d.socket, true, NULL);
	uint32_t isz;

	(void)arg;
	if (fd < 0)
		CHILD_FAIL(2, "connect: %s", strerror(-fd));
	agent_say(self, 0);
	while (agent_next(self) == 1) {
		int bad = 0;
		for (int i = 0; i < 2; i++) {
			struct proto_query q = { PROTO_NODE_ANY, 0 };
			struct proto_msg m;
			bad += raw_send(fd, PROTO_QUERY, 2, &q, sizeof(q)) < 0 ||
			       sec_recv(fd, &m, NULL, NULL, 10000) != PROTO_POOL_INFO;
		}
		for (uint32_t t = PROTO_TABLE_RUNS; t < PROTO_TABLE_MAX; t++)
			bad += sec_list(fd, t, items, sizeof(items), &isz) < 0;
		agent_say(self, bad);
	}
	close(fd);
	return 0;
}

static void test_stash_drain(void **state)
{
	struct agent victim, pokers[2];
	int intact = 0, rounds = 0;

	(void)state;
	sec_start("32M", "allow-users = nobody, daemon\n");
	agent_start(&victim, SEC_NOBODY, SEC_NOGROUP, stash_victim, NULL);
	/* Not allowed to allocate; allowed, another uid. */
	agent_start(&pokers[0], SEC_STRANGER, SEC_STRANGER, stash_poker, NULL);
	agent_start(&pokers[1], SEC_DAEMON, SEC_DAEMON, stash_poker, NULL);
	assert_int_equal(agent_hear(&victim, 30000), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(agent_hear(&pokers[i], 30000), 0);
	/* Under 0.6 s in all, each id in the slot for a few ms: the daemon's
	 * idle scan (an id seen in the same slot at two scans a second
	 * apart) can take nothing meanwhile. */
	uint64_t t0 = mono_ns();
	while (rounds < 3 || (rounds < 40 && mono_ns() - t0 < 600000000ull)) {
		agent_tell(&victim, 1);
		assert_int_equal(agent_hear(&victim, 10000), 0);
		for (int i = 0; i < 2; i++) {
			agent_tell(&pokers[i], 1);
			assert_int_equal(agent_hear(&pokers[i], 10000), 0);
		}
		agent_tell(&victim, 2);
		intact += (int)agent_hear(&victim, 10000);
		rounds++;
	}
	agent_tell(&victim, 3);
	int64_t freed = agent_hear(&victim, 10000);
	printf("stash: the victim's slot held its id after other users' QUERY and LIST in %d of "
	       "%d rounds; its FREEs: %lld of 2 succeeded\n", intact, rounds, (long long)freed);
	for (int i = 0; i < 2; i++) {
		agent_tell(&pokers[i], 0);
		assert_int_equal(agent_finish(&pokers[i], 10000), 0);
	}
	assert_int_equal(agent_finish(&victim, 10000), 0);
	assert_int_equal(intact, rounds);
	assert_int_equal(freed, 2);
}

/* ------------------------------------------------------------------------
 * Finding 8: a reload did not take access away from open sessions.
 *
 * may_alloc was decided once, at accept: a user taken off allow-users by
 * SIGHUP kept allocating, importing and stashing on every connection it
 * had open, for as long as it kept them.
 *
 * Old daemon: after the reload, the same session's ALLOC, IMPORT and STASH
 * succeed.
 * ------------------------------------------------------------------------ */

enum {
	RL_SETUP = 1 << 0,
	RL_ALLOC = 1 << 1,      /* ALLOC after the reload was not EACCES */
	RL_IMPORT = 1 << 2,     /* IMPORT after the reload was not EACCES */
	RL_STASH = 1 << 3,      /* STASH after the reload was not EACCES */
	RL_FREE = 1 << 4,       /* the region held from before could not be freed */
	RL_LOST = 1 << 5,       /* ... or lost its content */
};

static int reloaded_user(struct agent *self, void *arg)
{
	struct proto_stash sreq = { 0 };
	struct mapped_region mine, more;
	struct proto_handle h;
	struct proto_msg m;
	int fd, mask = 0, e, r;

	(void)arg;
	fd = sec_connect(sec_d.socket, true, NULL);
	if (fd < 0 || sec_alloc_map(fd, PS, NULL, &mine) != 0 || export_of(fd, mine.id, &h) != 0) {
		agent_say(self, RL_SETUP);
		return 0;
	}
	memset(mine.va, 0x5a, mine.len);
	agent_say(self, 0);
	if (agent_next(self) != 1)
		return 3;
	/* Taken off the list: no new memory, by any door. */
	e = sec_alloc_map(fd, PS, NULL, &more);
	if (e != EACCES)
		mask |= RL_ALLOC;
	if (e == 0)
		sec_unmap(&more);
	e = sec_alloc_map(fd, 0, &h, &more);
	if (e != EACCES)
		mask |= RL_IMPORT;
	if (e == 0)
		sec_unmap(&more);
	r = raw_send(fd, PROTO_STASH, 3, &sreq, sizeof(sreq));
	if (r == 0)
		r = sec_recv(fd, &m, NULL, NULL, 10000);
	if (r != PROTO_STATUS || m.body.status.error != EACCES)
		mask |= RL_STASH;
	/* What it held stays valid: still its content, and its to free. */
	for (size_t off = 0; off < mine.len; off += 4096)
		if (mine.va[off] != 0x5a)
			mask |= RL_LOST;
	struct proto_free f = { mine.id };
	if (raw_status(fd, PROTO_FREE, &f, sizeof(f)) != 0)
		mask |= RL_FREE;
	agent_say(self, mask);
	sec_unmap(&mine);
	close(fd);
	return 0;
}

static void test_reload_revokes(void **state)
{
	struct agent a;

	(void)state;
	sec_start("32M", "allow-users = bin\n");
	agent_start(&a, SEC_BIN, SEC_BIN, reloaded_user, NULL);
	assert_int_equal(agent_hear(&a, 30000), 0);
	sec_write_config("allow-users = nobody\n");
	sec_reload(1);
	agent_tell(&a, 1);
	int64_t mask = agent_hear(&a, 30000);
	assert_int_equal(agent_finish(&a, 10000), 0);
	printf("after the reload, the open session's %s%s%s%s%s\n",
	       mask ? "" : "ALLOC, IMPORT and STASH were refused, its region stayed",
	       mask & RL_ALLOC ? "ALLOC was not refused; " : "",
	       mask & RL_IMPORT ? "IMPORT was not refused; " : "",
	       mask & RL_STASH ? "STASH was not refused; " : "",
	       mask & (RL_FREE | RL_LOST) ? "region held from before was lost" : "");
	assert_int_equal(mask, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_flood_silent, sec_teardown),
		cmocka_unit_test_teardown(test_flood_hello, sec_teardown),
		cmocka_unit_test_teardown(test_uid_sessions, sec_teardown),
		cmocka_unit_test_teardown(test_hello_deadline, sec_teardown),
		cmocka_unit_test_teardown(test_phys_hidden, sec_teardown),
		cmocka_unit_test_teardown(test_revoke_sticky, sec_teardown),
		cmocka_unit_test_teardown(test_stash_drain, sec_teardown),
		cmocka_unit_test_teardown(test_reload_revokes, sec_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("CONTIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CONTIG_TEST_FILTER"));
	return cmocka_run_group_tests_name("security-access", tests, NULL, NULL);
}
