/* SPDX-License-Identifier: MIT */
/*
 * test_hostile.c - a client that sends every kind of bad message to a real
 * contigd: unknown types, wrong versions and magic, lengths that lie,
 * truncated and oversized datagrams, zero-length datagrams, fds attached
 * where none belong, SCM_CREDENTIALS that lie from an unprivileged uid,
 * requests on regions it does not own, double frees, forged handles.
 *
 * What must hold: the daemon answers (a STATUS) or drops that connection,
 * nothing else; every fd a client attached is closed by the daemon (its
 * /proc/PID/fd count comes back to the baseline, and the pipe behind a
 * passed fd reports its reader gone); regions of other sessions are never
 * touched; and a witness libcontig client keeps getting correct memory
 * between every step.
 */
#define _GNU_SOURCE
#include <contig.h>
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
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"
#include "relcommon.h"

static struct daemon_proc d;
static struct witness w;
static int baseline_fds;
static int teardown_status;
static unsigned hangups, statuses, fds_passed, refused_by_kernel;

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "64M", NULL };

	(void)state;
	if (daemon_start(&d, args) < 0)
		return -1;
	socket_world_connectable(&d);
	witness_start(&w);
	baseline_fds = daemon_fd_count(&d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	witness_stop(&w);
	printf("hostile: %u connections dropped, %u refusals answered, %u fds passed and closed, "
	       "%u messages with fds refused by the kernel, %u witness checks\n", hangups, statuses,
	       fds_passed, refused_by_kernel, w.checks);
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static size_t make_hello(uint8_t *buf, uint32_t request)
{
	struct proto_hello h = { .version = PROTO_VERSION };

	return proto_encode(buf, PROTO_HELLO, request, &h, sizeof(h));
}

/* Send buf on a fresh connection (after HELLO if hello) and require that the
 * daemon drops it; returns the STATUS error it sent first, or -1. */
static int expect_dropped(bool hello, const void *buf, size_t len, const int *fds, size_t nfds)
{
	int fd = raw_connect(d.socket, hello), st;

	assert_true(fd >= 0);
	int r = raw_sendmsg(fd, buf, len, fds, nfds, NULL);
	if (nfds && r == -EPERM) {
		/* The kernel refused the fds (SO_PASSRIGHTS off on the daemon's
		 * socket): none reached it. The connection is still good. */
		close(fd);
		refused_by_kernel++;
		return -1;
	}
	assert_int_equal(r, 0);
	assert_true(raw_expect_hangup(fd, &st));
	close(fd);
	hangups++;
	return st;
}

static void step_done(void)
{
	witness_check(&w);
	assert_true(wait_daemon_fds(&d, baseline_fds, 5000) <= baseline_fds);
}

static void test_unknown_types(void **state)
{
	static const uint16_t types[] = { 0, PROTO_TYPE_MAX, PROTO_TYPE_MAX + 1, 200, 0x7fff, 0xffff };
	/* Messages only the daemon sends: a client sending them is broken. */
	static const uint16_t replies[] = { PROTO_HELLO_REPLY, PROTO_STATUS, PROTO_POOL_INFO,
					    PROTO_HANDLE, PROTO_LIST_REPLY };
	uint8_t buf[256], body[sizeof(union proto_body)] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t n = proto_encode(buf, types[i], 1, body, 16);
		assert_int_equal(expect_dropped(false, buf, n, NULL, 0), -1);
		assert_int_equal(expect_dropped(true, buf, n, NULL, 0), -1);
	}
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		size_t n = proto_encode(buf, replies[i], 1, body, proto_body_size(replies[i]));
		expect_dropped(true, buf, n, NULL, 0);
	}
	/* A REGION "reply" with its fd, as if the client offered pages. */
	struct proto_region rg = { 1, PS, 0, PS, 1, 0, 1, 0 };
	int fd = memfd_create("fake", MFD_CLOEXEC);
	size_t n = proto_encode(buf, PROTO_REGION, 1, &rg, sizeof(rg));
	expect_dropped(true, buf, n, &fd, 1);
	close(fd);
	fds_passed++;
	/* A second HELLO. */
	n = make_hello(buf, 2);
	expect_dropped(true, buf, n, NULL, 0);
	/* A request before HELLO. */
	struct proto_query q = { PROTO_NODE_ANY, 0 };
	n = proto_encode(buf, PROTO_QUERY, 1, &q, sizeof(q));
	expect_dropped(false, buf, n, NULL, 0);
	step_done();
}

static void test_versions_and_magic(void **state)
{
	static const uint16_t versions[] = { 0, PROTO_VERSION + 1, 0x100, 0xffff };
	uint8_t buf[256];
	struct proto_hdr *h = (struct proto_hdr *)(void *)buf;

	(void)state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		size_t n = make_hello(buf, 9);
		h->version = versions[i];
		/* Told which version it speaks, then dropped. */
		assert_int_equal(expect_dropped(false, buf, n, NULL, 0), EPROTONOSUPPORT);
		statuses++;
		/* The same after a good HELLO, on a request. */
		struct proto_query q = { PROTO_NODE_ANY, 0 };
		n = proto_encode(buf, PROTO_QUERY, 1, &q, sizeof(q));
		h->version = versions[i];
		assert_int_equal(expect_dropped(true, buf, n, NULL, 0), EPROTONOSUPPORT);
		statuses++;
	}
	/* HELLO announcing a version 0 client, in a version-1 header. */
	struct proto_hello old = { .version = 0 };
	size_t n = proto_encode(buf, PROTO_HELLO, 1, &old, sizeof(old));
	expect_dropped(false, buf, n, NULL, 0);
	/* Wrong magic, byte-swapped magic. */
	n = make_hello(buf, 1);
	h->magic = 0x12345678;
	assert_int_equal(expect_dropped(false, buf, n, NULL, 0), -1);
	h->magic = __builtin_bswap32(PROTO_MAGIC);
	assert_int_equal(expect_dropped(false, buf, n, NULL, 0), -1);
	step_done();
}

static void test_lengths(void **state)
{
	static const uint32_t lies[] = { 0, 1, 15, 16, 23, 25, 4096, PROTO_MAX_MSG, PROTO_MAX_MSG + 1,
					 0x7fffffff, 0xffffffff };
	static uint8_t big[PROTO_MAX_MSG + 4096];
	uint8_t buf[512];
	struct proto_hdr *h = (struct proto_hdr *)(void *)buf;
	size_t n;

	(void)state;
	/* The header's length is not the datagram's. */
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		n = make_hello(buf, 1);
		h->length = lies[i];
		expect_dropped(false, buf, n, NULL, 0);
		struct proto_free f = { 1 };
		n = proto_encode(buf, PROTO_FREE, 1, &f, sizeof(f));
		h->length = lies[i];
		expect_dropped(true, buf, n, NULL, 0);
	}
	/* Shorter than a header. */
	for (size_t len = 1; len < sizeof(struct proto_hdr); len += 4) {
		n = make_hello(buf, 1);
		expect_dropped(false, buf, len, NULL, 0);
	}
	/* A body cut short, with a header that admits it. */
	struct proto_alloc a = { .nbytes = 4096, .highest = UINT64_MAX, .node = -1 };
	n = proto_encode(buf, PROTO_ALLOC, 1, &a, sizeof(a) - 8);
	expect_dropped(true, buf, n, NULL, 0);
	n = proto_encode(buf, PROTO_ALLOC, 1, NULL, 0);
	expect_dropped(true, buf, n, NULL, 0);
	/* A longer body: a zero tail is fine (append-only), anything else is not. */
	uint8_t tail[sizeof(a) + 64] = { 0 };
	memcpy(tail, &a, sizeof(a));
	int fd = raw_connect(d.socket, 1);
	assert_true(fd >= 0);
	struct proto_msg m;
	assert_int_equal(raw_send(fd, PROTO_ALLOC, 3, tail, sizeof(tail)), 0);
	assert_int_equal(raw_reply(fd, &m), PROTO_REGION);
	assert_int_equal(raw_status(fd, PROTO_FREE, &m.body.region.region_id, 8), 0);
	close(fd);
	tail[sizeof(a) + 63] = 1;
	n = proto_encode(buf, PROTO_ALLOC, 1, tail, sizeof(tail));
	expect_dropped(true, buf, n, NULL, 0);
	/* Reserved fields set. */
	a.reserved = 1;
	n = proto_encode(buf, PROTO_ALLOC, 1, &a, sizeof(a));
	expect_dropped(true, buf, n, NULL, 0);
	/* Larger than any message: the daemon reads it truncated and drops it. */
	memset(big, 0x41, sizeof(big));
	n = proto_encode(big, PROTO_HELLO, 1, NULL, 0);
	((struct proto_hdr *)(void *)big)->length = sizeof(big);
	expect_dropped(true, big, sizeof(big), NULL, 0);
	expect_dropped(true, big, PROTO_MAX_MSG + 1, NULL, 0);
	step_done();
}

static void test_zero_length(void **state)
{
	int fd;

	(void)state;
	/* On SOCK_SEQPACKET an empty datagram reads as end of file: dropped. */
	expect_dropped(false, "", 0, NULL, 0);
	expect_dropped(true, "", 0, NULL, 0);
	/* Many of them on one connection, then a real request: no answer. */
	fd = raw_connect(d.socket, 1);
	assert_true(fd >= 0);
	for (int i = 0; i < 10; i++)
		(void)send(fd, "", 0, MSG_NOSIGNAL);
	assert_true(raw_expect_hangup(fd, NULL));
	close(fd);
	hangups++;
	step_done();
}

/* An fd whose closing we can observe: the read end of a pipe (our write
 * end gets EPIPE once every copy of it is closed). */
struct probe {
	int rd, wr;
};

static void probe_open(struct probe *p)
{
	int pfd[2];

	assert_int_equal(pipe2(pfd, O_CLOEXEC | O_NONBLOCK), 0);
	p->rd = pfd[0];
	p->wr = pfd[1];
}

/* Our read end is closed: true once the daemon closed its copy too. */
static bool probe_gone(struct probe *p)
{
	for (int i = 0; i < 250; i++) {
		if (write(p->wr, "x", 1) < 0 && errno == EPIPE)
			return true;
		/* Drain nothing: a full pipe would give EAGAIN; it holds 64 KiB. */
		sleep_ms(20);
	}
	return false;
}

static void fds_case(bool hello, uint16_t type, size_t body_len, size_t nfds)
{
	struct probe p;
	int fds[253];
	uint8_t buf[256], body[64] = { 0 };
	size_t n;

	assert_true(nfds >= 1 && nfds <= 253);
	probe_open(&p);
	fds[0] = p.rd;
	for (size_t i = 1; i < nfds; i++)
		fds[i] = i % 2 ? p.rd : STDIN_FILENO;
	if (type == PROTO_HELLO)
		n = make_hello(buf, 1);
	else if (type == PROTO_ALLOC) {
		struct proto_alloc a = { .nbytes = 4096, .highest = UINT64_MAX, .node = -1 };
		n = proto_encode(buf, type, 1, &a, sizeof(a));
	} else
		n = body_len ? proto_encode(buf, type, 1, body, body_len) : 0;
	expect_dropped(hello, buf, n, fds, nfds);
	fds_passed += (unsigned)nfds;
	close(p.rd);
	signal(SIGPIPE, SIG_IGN);
	assert_true(probe_gone(&p));
	close(p.wr);
}

static void test_fds_attached(void **state)
{
	(void)state;
	fds_case(false, PROTO_HELLO, 0, 1);
	fds_case(false, PROTO_HELLO, 0, 3);
	fds_case(true, PROTO_ALLOC, 0, 1);
	fds_case(true, PROTO_ALLOC, 0, PROTO_MAX_FDS);
	fds_case(true, PROTO_ALLOC, 0, 253);   /* SCM_MAX_FD: more than the daemon takes */
	fds_case(true, 0, 0, 5);               /* an empty datagram carrying fds */
	fds_case(true, PROTO_FREE, 8, 2);
	fds_case(true, 200, 16, 2);            /* unknown type with fds */

	/* Two SCM_RIGHTS messages in one datagram, and SCM_CREDENTIALS too. */
	struct probe p1, p2;
	probe_open(&p1);
	probe_open(&p2);
	uint8_t buf[64];
	size_t n = make_hello(buf, 1);
	union {
		char b[CMSG_SPACE(sizeof(int)) * 2 + CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { buf, n };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p1.rd, sizeof(int));
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p2.rd, sizeof(int));
	c = CMSG_NXTHDR(&msg, c);
	struct ucred me = { getpid(), getuid(), getgid() };
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(me));
	memcpy(CMSG_DATA(c), &me, sizeof(me));
	int fd = raw_connect(d.socket, 0);
	assert_true(fd >= 0);
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0)
		assert_true(raw_expect_hangup(fd, NULL));
	else
		assert_int_equal(errno, EPERM);
	close(fd);
	close(p1.rd);
	close(p2.rd);
	assert_true(probe_gone(&p1));
	assert_true(probe_gone(&p2));
	close(p1.wr);
	close(p2.wr);
	fds_passed += 2;

	/* The client's own socket, and a socket connected to the daemon. */
	int other = raw_connect(d.socket, 1);
	fd = raw_connect(d.socket, 1);
	int pass[2] = { fd, other };
	n = make_hello(buf, 1);
	int r = raw_sendmsg(fd, buf, n, pass, 2, NULL);
	if (r == 0)
		assert_true(raw_expect_hangup(fd, NULL));
	else
		assert_int_equal(r, -EPERM);
	close(fd);
	/* other still works: its session was not touched. */
	struct proto_query q = { PROTO_NODE_ANY, 0 };
	struct proto_msg m;
	assert_int_equal(raw_send(other, PROTO_QUERY, 4, &q, sizeof(q)), 0);
	assert_int_equal(raw_reply(other, &m), PROTO_POOL_INFO);
	close(other);
	fds_passed += 2;

	/* Volume: a leak of one fd per message would show as hundreds. */
	for (int i = 0; i < 300; i++) {
		int nul[4];
		for (int k = 0; k < 4; k++)
			nul[k] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		fd = raw_connect(d.socket, i % 2);
		assert_true(fd >= 0);
		n = make_hello(buf, 1);
		(void)raw_sendmsg(fd, buf, n, nul, 4, NULL);
		close(fd);
		proto_close_fds(nul, 4);
		fds_passed += 4;
	}
	int now = wait_daemon_fds(&d, baseline_fds, 10000);
	printf("daemon fds: baseline %d, after 1,000+ passed fds %d\n", baseline_fds, now);
	assert_true(now <= baseline_fds);
	step_done();
}

/* ---- as uid 65534, with SCM_CREDENTIALS claiming to be root ---- */

struct lie_arg {
	const char *socket;
	uint64_t victim;             /* a region of the witness */
};

#define FAIL(code, ...)                                  \
	do {                                             \
		fprintf(stderr, "child: " __VA_ARGS__);  \
		fputc('\n', stderr);                     \
		return code;                             \
	} while (0)

static int liar(void *arg)
{
	const struct lie_arg *a = arg;
	struct ucred root = { .pid = 1, .uid = 0, .gid = 0 };
	struct ucred self = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
	uint8_t buf[64];
	struct proto_msg m;
	size_t n = make_hello(buf, 1);
	int fd = raw_connect(a->socket, 0), r, on = 1;

	if (fd < 0)
		FAIL(2, "connect: %s", strerror(-fd));
	/* SO_PASSCRED on our side is what makes the kernel attach credentials. */
	(void)setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	/* The kernel refuses to forward the lie from an unprivileged process. */
	r = raw_sendmsg(fd, buf, n, NULL, 0, &root);
	if (r != -EPERM)
		FAIL(3, "a credential lie was sent (%s)", strerror(-r));
	/* Only pid lies (a pid of another process) are refused too. */
	struct ucred pid_lie = self;
	pid_lie.pid = 1;
	if (raw_sendmsg(fd, buf, n, NULL, 0, &pid_lie) != -EPERM)
		FAIL(4, "a pid lie was sent");
	/* The truth goes through; the daemon ignores it and uses SO_PEERCRED. */
	if (raw_sendmsg(fd, buf, n, NULL, 0, &self) < 0 || raw_reply(fd, &m) != PROTO_HELLO_REPLY)
		FAIL(5, "HELLO with true credentials refused");
	struct proto_alloc al = { .nbytes = 4096, .highest = UINT64_MAX, .node = -1 };
	n = proto_encode(buf, PROTO_ALLOC, 2, &al, sizeof(al));
	if (raw_sendmsg(fd, buf, n, NULL, 0, &self) < 0 || raw_reply(fd, &m) != PROTO_STATUS ||
	    m.body.status.error != EACCES)
		FAIL(6, "uid %u was allowed to allocate", (unsigned)getuid());
	/* Not its regions: nothing to free, export or see. */
	struct proto_free f = { a->victim };
	if ((r = raw_status(fd, PROTO_FREE, &f, sizeof(f))) != ENOENT)
		FAIL(7, "FREE of root's region: %d", r);
	if ((r = raw_status(fd, PROTO_EXPORT, &f, sizeof(f))) != ENOENT)
		FAIL(8, "EXPORT of root's region: %d", r);
	struct proto_list l = { .table = PROTO_TABLE_REGIONS };
	if (raw_send(fd, PROTO_LIST, 3, &l, sizeof(l)) < 0 || raw_reply(fd, &m) != PROTO_LIST_REPLY)
		FAIL(9, "LIST refused");
	if (m.body.list_reply.count)
		FAIL(10, "uid %u sees %u regions of root", (unsigned)getuid(), m.body.list_reply.count);
	l.table = PROTO_TABLE_SESSIONS;
	if (raw_send(fd, PROTO_LIST, 4, &l, sizeof(l)) < 0 || raw_reply(fd, &m) != PROTO_LIST_REPLY)
		FAIL(11, "LIST refused");
	if (m.body.list_reply.count != 1)
		FAIL(12, "uid %u sees %u sessions, not only its own", (unsigned)getuid(),
		     m.body.list_reply.count);
	close(fd);
	/* libcontig sees the same: EACCES. */
	errno = 0;
	if (contig_alloc(4096, CONTIG_MAX_ADDRESS) || errno != EACCES)
		FAIL(13, "contig_alloc as uid %u: errno %d", (unsigned)getuid(), errno);
	return 0;
}

static void test_credential_lies(void **state)
{
	uint64_t ids[64];
	struct lie_arg a = { .socket = d.socket };
	int n;

	(void)state;
	n = raw_region_ids(d.socket, ids, 64);
	assert_true(n >= 1);
	a.victim = ids[0];
	assert_int_equal(run_as(65534, 65534, NULL, 0, liar, &a), 0);
	/* Root may send a pid lie (CAP_SYS_ADMIN); it changes nothing either. */
	int fd = raw_connect(d.socket, 0);
	struct ucred pid_lie = { .pid = 1, .uid = 0, .gid = 0 };
	uint8_t buf[64];
	struct proto_msg m;
	size_t len = make_hello(buf, 1);
	assert_int_equal(raw_sendmsg(fd, buf, len, NULL, 0, &pid_lie), 0);
	assert_int_equal(raw_reply(fd, &m), PROTO_HELLO_REPLY);
	close(fd);
	step_done();
}

/* ---- regions of others, double free, forged handles ---- */

static void test_foreign_regions(void **state)
{
	uint64_t ids[64];
	int fd, n;

	(void)state;
	n = raw_region_ids(d.socket, ids, 64);
	assert_true(n >= 1);
	fd = raw_connect(d.socket, 1);
	assert_true(fd >= 0);
	for (int i = 0; i < n; i++) {
		struct proto_free f = { ids[i] };
		struct proto_handle h = { { 0 } };
		assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), ENOENT);
		assert_int_equal(raw_status(fd, PROTO_EXPORT, &f, sizeof(f)), ENOENT);
		memcpy(h.bytes, &ids[i], 8);
		assert_int_equal(raw_status(fd, PROTO_REVOKE, &h, sizeof(h)), ENOENT);
		assert_int_equal(raw_status(fd, PROTO_IMPORT, &h, sizeof(h)), ENOENT);
		/* Neighbouring ids: other generations of the slot, other slots. */
		for (int k = -2; k <= 2; k++) {
			f.region_id = ids[i] + ((uint64_t)(int64_t)k << 32) + (k & 1);
			assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), ENOENT);
		}
	}
	close(fd);
	/* The witness's held region is untouched and still its to free. */
	witness_check(&w);
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0x3d, PS);
	n = raw_region_ids(d.socket, ids, 64);
	fd = raw_connect(d.socket, 1);
	for (int i = 0; i < n; i++) {
		struct proto_free f = { ids[i] };
		assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), ENOENT);
	}
	close(fd);
	for (size_t off = 0; off < PS; off += 4096)
		assert_int_equal(p[off], 0x3d);
	assert_int_equal(contig_phys_addr(p), pagemap_phys(p));
	contig_free(p);
	step_done();
}

static void test_double_free(void **state)
{
	int fd, e;
	uint64_t id, id2;

	(void)state;
	fd = raw_connect(d.socket, 1);
	assert_true(fd >= 0);
	id = raw_alloc(fd, PS, &e);
	assert_int_equal(e, 0);
	assert_int_not_equal(id, 0);
	struct proto_free f = { id };
	assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), 0);
	assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), ENOENT);
	assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), ENOENT);
	assert_int_equal(raw_status(fd, PROTO_EXPORT, &f, sizeof(f)), ENOENT);
	/* The slot is reused by the next region: the old id stays dead. */
	id2 = raw_alloc(fd, 4096, &e);
	assert_int_equal(e, 0);
	assert_int_not_equal(id2, id);
	assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), ENOENT);
	f.region_id = id2;
	assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), 0);
	/* Ids nobody ever had. */
	static const uint64_t junk[] = { 0, 1, UINT64_MAX, 0xffffffffull, 1ull << 63,
					 (1ull << 32) | 0xfffffff0u };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		f.region_id = junk[i];
		assert_int_equal(raw_status(fd, PROTO_FREE, &f, sizeof(f)), ENOENT);
	}
	close(fd);
	/* libcontig: a second free is a no-op. */
	uint8_t *p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	contig_free(p);
	contig_free(p);
	step_done();
}

static void test_forged_handles(void **state)
{
	struct contig_handle h;
	struct proto_handle ph;
	uint8_t *p, *q;
	int fd;

	(void)state;
	p = contig_alloc(PS, CONTIG_MAX_ADDRESS);
	assert_non_null(p);
	memset(p, 0x61, PS);
	assert_int_equal(contig_export(p, &h), 0);
	fd = raw_connect(d.socket, 1);
	assert_true(fd >= 0);
	/* Random handles. */
	for (int i = 0; i < 64; i++) {
		assert_int_equal(getrandom(ph.bytes, sizeof(ph.bytes), 0), (ssize_t)sizeof(ph.bytes));
		assert_int_equal(raw_status(fd, PROTO_IMPORT, &ph, sizeof(ph)), ENOENT);
		assert_int_equal(raw_status(fd, PROTO_REVOKE, &ph, sizeof(ph)), ENOENT);
	}
	/* The real region id with a wrong token: one bit off, anywhere. */
	for (int byte = 8; byte < 32; byte++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(ph.bytes, h.opaque, sizeof(ph.bytes));
			ph.bytes[byte] ^= (uint8_t)(1u << bit);
			assert_int_equal(raw_status(fd, PROTO_IMPORT, &ph, sizeof(ph)), ENOENT);
		}
	}
	/* A zero token. */
	memset(ph.bytes + 8, 0, sizeof(ph.bytes) - 8);
	assert_int_equal(raw_status(fd, PROTO_IMPORT, &ph, sizeof(ph)), ENOENT);
	/* The genuine handle does work (the refusals above were not blanket). */
	struct proto_msg m;
	memcpy(ph.bytes, h.opaque, sizeof(ph.bytes));
	assert_int_equal(raw_send(fd, PROTO_IMPORT, 6, &ph, sizeof(ph)), 0);
	assert_int_equal(raw_reply(fd, &m), PROTO_REGION);
	/* A forger cannot revoke it; the holder can, then it is dead. */
	close(fd);
	q = contig_import(&h, NULL);
	assert_non_null(q);
	assert_int_equal(q[0], 0x61);
	contig_free(q);
	assert_int_equal(contig_revoke(&h), 0);
	errno = 0;
	assert_null(contig_import(&h, NULL));
	assert_int_equal(errno, ENOENT);
	contig_free(p);
	/* A handle of a freed region. */
	errno = 0;
	assert_null(contig_import(&h, NULL));
	assert_int_equal(errno, ENOENT);
	step_done();
}

/* Hundreds of hostile connections at once, all dropped; nothing leaks. */
static void test_flood(void **state)
{
	enum { N = 400 };
	static int fds[N];
	uint8_t buf[64];

	(void)state;
	for (int i = 0; i < N; i++) {
		fds[i] = raw_connect(d.socket, i % 2);
		assert_true(fds[i] >= 0);
	}
	for (int i = 0; i < N; i++) {
		size_t n = make_hello(buf, 1);
		((struct proto_hdr *)(void *)buf)->type = (uint16_t)(1000 + i);
		(void)raw_sendmsg(fds[i], buf, n, NULL, 0, NULL);
	}
	witness_check(&w);
	for (int i = 0; i < N; i++) {
		assert_true(raw_expect_hangup(fds[i], NULL));
		close(fds[i]);
	}
	hangups += N;
	step_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_versions_and_magic),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_fds_attached),
		cmocka_unit_test(test_credential_lies),
		cmocka_unit_test(test_foreign_regions),
		cmocka_unit_test(test_double_free),
		cmocka_unit_test(test_forged_handles),
		cmocka_unit_test(test_flood),
	};

	signal(SIGPIPE, SIG_IGN);
	int failed = cmocka_run_group_tests_name("reliability-hostile", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
