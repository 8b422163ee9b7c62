/* SPDX-License-Identifier: MIT */
/*
 * test_untrusted.c - what libcontig takes from outside and must not trust
 * blindly: the environment of a setuid program (CONTIG_SOCKET is ignored
 * there, so the invoking user cannot choose the server), and the stash table
 * a server sends (a memfd that is not exactly PROTO_STASH_BYTES, or not
 * sealed against shrinking and growing, is refused: the client runs without
 * a stash instead of taking SIGBUS on its first slot). The table serves two
 * users in the client: the stash (whole-page regions, tried with carving
 * off and 4 KiB "pages") and the carve layer, which parks an emptied page
 * in it and writes its report there (tried with carving on, the default,
 * and 2 MiB "pages": a leased page must be one the daemon could give).
 *
 * No contigd here: the servers are fakes this test controls, speaking just
 * enough of the protocol (HELLO, ALLOC, FREE, STASH) with "pages" made of
 * plain memfds.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "proto.h"

#define NOBODY         65534
#define DEFAULT_DIR    "/run/contigd"
#define DEFAULT_SOCKET DEFAULT_DIR "/contigd.sock"
#define FAKE_PS        4096u        /* whole-page runs: one region, one page */
#define FAKE_CARVE_PS  (2u << 20)   /* carving runs: the smallest pool page */

static const char *setuid_client; /* argv[1]: tests/setuid-client */

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
	    chmod(path, 0666) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Accept and hang up on every connection waiting at fd; how many. */
static int drain_accepts(int fd)
{
	int n = 0, c;

	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, r = -1;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (out < 0)
		goto done;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto done;
	/* fchmod after the writes: a write by a non-owner clears set-user-ID. */
	r = n == 0 && fchmod(out, mode) == 0 ? 0 : -1;
done:
	if (out >= 0)
		close(out);
	close(in);
	return r;
}

/* ---- a setuid program ignores CONTIG_SOCKET ---- */

/* A directory where set-user-ID takes effect (no nosuid mount) and that
 * uid 65534 may enter; into dir, or false. */
static bool suid_dir(char *dir, size_t n)
{
	static char prog_dir[256];
	const char *cand[] = { "/var/tmp", "/tmp", NULL };
	struct statvfs sv;

	snprintf(prog_dir, sizeof(prog_dir), "%s", setuid_client);
	cand[2] = dirname(prog_dir);
	for (size_t i = 0; i < 3; i++) {
		if (statvfs(cand[i], &sv) < 0 || (sv.f_flag & ST_NOSUID))
			continue;
		snprintf(dir, n, "%s/contig-suid-XXXXXX", cand[i]);
		if (mkdtemp(dir) && chmod(dir, 0755) == 0)
			return true;
		if (dir[0])
			rmdir(dir);
	}
	return false;
}

struct report {
	unsigned long secure;
	unsigned euid;
	int r, err;
};

/* Run prog as uid and gid 65534 with only CONTIG_SOCKET=sock in its
 * environment, accepting (and hanging up on) every connection to lfds[i]
 * meanwhile, counted in counts[i]; its report line parsed into *ret. */
static void run_as_nobody(const char *prog, const char *sock, const int *lfds, int *counts,
			  size_t nl, struct report *ret)
{
	char env_sock[160], out[256] = "";
	char *const envp[] = { env_sock, NULL };
	struct pollfd pfd[4];
	size_t got = 0;
	int out_pipe[2], status;
	pid_t pid;

	snprintf(env_sock, sizeof(env_sock), "CONTIG_SOCKET=%s", sock);
	assert_int_equal(pipe2(out_pipe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out_pipe[1], STDOUT_FILENO);
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(126);
		execve(prog, (char *const[]){ (char *)prog, NULL }, envp);
		_exit(127);
	}
	close(out_pipe[1]);
	for (size_t i = 0; i < nl; i++)
		counts[i] = 0;
	for (int waited = 0;; waited++) {
		pfd[0] = (struct pollfd){ .fd = out_pipe[0], .events = POLLIN };
		for (size_t i = 0; i < nl; i++)
			pfd[1 + i] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
		if (waited == 100) { /* 10 s: the client is stuck somewhere */
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(out_pipe[0]);
			fail_msg("%s did not finish within 10 s", prog);
		}
		if (poll(pfd, 1 + nl, 100) <= 0)
			continue;
		for (size_t i = 0; i < nl; i++)
			counts[i] += drain_accepts(lfds[i]);
		if (pfd[0].revents) {
			ssize_t k = read(out_pipe[0], out + got, sizeof(out) - 1 - got);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
	}
	close(out_pipe[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (size_t i = 0; i < nl; i++)
		counts[i] += drain_accepts(lfds[i]);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("%s as uid %d: status 0x%x, output: %s", prog, NOBODY, status, out);
	out[got] = 0;
	if (sscanf(out, "secure=%lu euid=%u r=%d errno=%d", &ret->secure, &ret->euid, &ret->r,
		   &ret->err) != 4)
		fail_msg("unexpected report from %s: %s", prog, out);
}

/* What the setuid test made, for its teardown to undo whatever happened. */
static struct {
	char dir[64], prog[128], fake[108];
	int lfds[2];
	bool made_default_dir, bound_default;
} su = { .lfds = { -1, -1 } };

static int setuid_teardown(void **state)
{
	(void)state;
	if (su.lfds[0] >= 0) {
		close(su.lfds[0]);
		unlink(su.fake);
	}
	if (su.bound_default) {
		close(su.lfds[1]);
		unlink(DEFAULT_SOCKET);
	}
	if (su.made_default_dir)
		rmdir(DEFAULT_DIR);
	if (su.dir[0]) {
		unlink(su.prog);
		rmdir(su.dir);
	}
	return 0;
}

static void test_setuid_ignores_env(void **state)
{
	int counts[2];
	struct report rep;
	size_t nl = 1;

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: cannot install a setuid-root program\n");
		skip();
	}
	if (!suid_dir(su.dir, sizeof(su.dir))) {
		su.dir[0] = 0;
		print_message("no directory on a filesystem that honours set-user-ID "
			      "(/var/tmp, /tmp and the build tree are nosuid)\n");
		skip();
	}
	snprintf(su.prog, sizeof(su.prog), "%s/setuid-client", su.dir);
	snprintf(su.fake, sizeof(su.fake), "%s/fake.sock", su.dir);
	assert_int_equal(copy_file(setuid_client, su.prog, 0755), 0);
	su.lfds[0] = listen_at(su.fake);
	assert_true(su.lfds[0] >= 0);
	/* Where a secure program must go instead: listen there too, unless a
	 * daemon (or anything) already does. */
	if (access(DEFAULT_SOCKET, F_OK) < 0 && errno == ENOENT) {
		su.made_default_dir = mkdir(DEFAULT_DIR, 0755) == 0;
		su.lfds[1] = listen_at(DEFAULT_SOCKET);
		su.bound_default = su.lfds[1] >= 0;
		nl += su.bound_default;
	}

	/* Not setuid: the variable is honoured, so the fake is reachable. */
	run_as_nobody(su.prog, su.fake, su.lfds, counts, nl, &rep);
	assert_true(counts[0] > 0);
	if (su.bound_default)
		assert_int_equal(counts[1], 0);

	/* Setuid root, run by uid 65534: it must not go near the fake. */
	assert_int_equal(chown(su.prog, 0, 0), 0);
	assert_int_equal(chmod(su.prog, 04755), 0);
	run_as_nobody(su.prog, su.fake, su.lfds, counts, nl, &rep);
	if (rep.secure != 1 || rep.euid != 0) {
		print_message("set-user-ID had no effect here (AT_SECURE %lu, euid %u: "
			      "no_new_privs or a user namespace?)\n", rep.secure, rep.euid);
		skip();
	}
	if (counts[0])
		fail_msg("the setuid program connected %d times to the socket its caller chose",
			 counts[0]);
	assert_int_equal(rep.r, -1);
	if (su.bound_default)
		assert_true(counts[1] > 0); /* it went to the default instead */
}

/* ---- a server's stash table is checked before it is mapped ---- */

enum table_kind {
	TABLE_GOOD,       /* PROTO_STASH_BYTES, sealed: the stash works */
	TABLE_EMPTY,      /* 0 bytes (sealed): the first slot would SIGBUS */
	TABLE_UNSEALED,   /* right size, but the server could shrink it at will */
	TABLE_OVERSIZED,  /* sealed, but 64 KiB: not the table the protocol names */
};

static int table_fd(enum table_kind k)
{
	int fd = memfd_create("fake-stash", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	off_t size = k == TABLE_EMPTY ? 0 : k == TABLE_OVERSIZED ? 65536 : PROTO_STASH_BYTES;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	if (k != TABLE_UNSEALED)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	return fd;
}

struct fake_counts {
	int allocs, frees, stashes;
	int carve_leases;          /* allocs flagged PROTO_ALLOC_CARVE */
};

static void reply(int conn, uint16_t type, uint32_t request, const void *body, size_t len,
		  const int *fds, size_t nfds)
{
	uint8_t out[PROTO_MAX_MSG];
	size_t n = proto_encode(out, type, request, body, len);
	int r = proto_send(conn, out, n, fds, nfds);

	/* A client that exits right after a free it did not wait for has
	 * hung up by now: the next receive ends the session. */
	if (r != -EPIPE && r != -ECONNRESET)
		assert_int_equal(r, 0);
}

/* One session's worth of a daemon with pages of ps bytes, until the
 * client hangs up. */
static void fake_serve(int conn, enum table_kind kind, uint32_t ps, struct fake_counts *c)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	uint64_t next_id = 1;
	struct proto_msg m;
	size_t nfds;

	for (;;) {
		struct pollfd pfd = { .fd = conn, .events = POLLIN };
		assert_int_equal(poll(&pfd, 1, 10000), 1);
		ssize_t n = proto_recv(conn, buf, sizeof(buf), fds, PROTO_MAX_FDS, &nfds);
		if (n <= 0)
			return;
		proto_close_fds(fds, nfds);
		assert_int_equal(proto_decode(buf, (size_t)n, 0, &m), 0);
		uint32_t rq = m.hdr.request;
		switch (m.hdr.type) {
		case PROTO_HELLO: {
			struct proto_hello_reply h = { .version = PROTO_VERSION,
						       .max_fds = PROTO_MAX_FDS,
						       .page_size = ps, .session_id = 1,
						       .pool_bytes = 1 << 20 };
			reply(conn, PROTO_HELLO_REPLY, rq, &h, sizeof(h), NULL, 0);
			break;
		}
		case PROTO_ALLOC: {
			assert_true(m.body.alloc.nbytes <= ps);
			int page = memfd_create("fake-page", MFD_CLOEXEC);
			assert_true(page >= 0);
			assert_int_equal(ftruncate(page, ps), 0);
			uint64_t id = next_id++;
			struct proto_region r = { .region_id = id, .nbytes = m.body.alloc.nbytes,
						  .phys = 0x100000000ull + id * ps,
						  .page_size = ps, .npages = 1, .count = 1 };
			reply(conn, PROTO_REGION, rq, &r, sizeof(r), &page, 1);
			close(page);
			c->allocs++;
			c->carve_leases += (m.body.alloc.flags & PROTO_ALLOC_CARVE) != 0;
			break;
		}
		case PROTO_FREE: {
			struct proto_status st = { 0 };
			reply(conn, PROTO_STATUS, rq, &st, sizeof(st), NULL, 0);
			c->frees++;
			break;
		}
		case PROTO_STASH: {
			struct proto_stash_table t = { .slots = PROTO_STASH_SLOTS,
						       .bytes = PROTO_STASH_BYTES };
			int fd = table_fd(kind);
			reply(conn, PROTO_STASH_TABLE, rq, &t, sizeof(t), &fd, 1);
			close(fd);
			c->stashes++;
			break;
		}
		default:
			fail_msg("the fake daemon got request type %u", m.hdr.type);
		}
	}
}

#define ROUNDS 4

/* The client: allocate, touch, check and free a 4 KiB region ROUNDS
 * times, and leak no fd doing it (a refused table is closed). carve: with
 * carving on (the default), else each region is a whole fake page. Exits 0
 * when all went well. */
static void client_main(const char *sock, bool carve)
{
	int fds_before = -1;

	/* cmocka's handlers would carry on with the next test in here. */
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	setenv("CONTIG_SOCKET", sock, 1);
	unsetenv("CONTIG_STASH");
	if (carve)
		unsetenv("CONTIG_CARVE");
	else
		setenv("CONTIG_CARVE", "0", 1);
	for (int i = 0; i < ROUNDS; i++) {
		uint8_t *p = contig_alloc(FAKE_PS, CONTIG_MAX_ADDRESS);
		if (!p)
			_exit(2);
		if (i == 0)
			fds_before = fd_count(); /* the session's socket is open now */
		for (size_t k = 0; k < FAKE_PS; k++)
			if (p[k])
				_exit(3);
		memset(p, 0xa5, FAKE_PS);
		if (contig_phys_addr(p + 100) == CONTIG_PHYS_INVALID)
			_exit(4);
		contig_free(p);
	}
	_exit(fd_count() == fds_before ? 0 : 5);
}

static void run_table(enum table_kind kind, bool carve, struct fake_counts *c)
{
	char dir[] = "/tmp/contig-fake-XXXXXX", path[108];
	int lfd, conn, status;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	lfd = listen_at(path);
	assert_true(lfd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		client_main(path, carve);
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	memset(c, 0, sizeof(*c));
	fake_serve(conn, kind, carve ? FAKE_CARVE_PS : FAKE_PS, c);
	close(conn);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(lfd);
	unlink(path);
	rmdir(dir);
	if (WIFSIGNALED(status))
		fail_msg("table kind %d%s: the client died of signal %d (%s)", kind,
			 carve ? ", carving" : "", WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("table kind %d%s: the client exited with status 0x%x", kind,
			 carve ? ", carving" : "", status);
	/* Every region a lease to carve from, or none. */
	assert_int_equal(c->carve_leases, carve ? c->allocs : 0);
}

/* The fake is a daemon the table works with: one allocation reaches it,
 * the rest are reuses, of the stashed page or of the parked one. */
static void test_table_good(void **state)
{
	struct fake_counts c;

	(void)state;
	for (int carve = 0; carve < 2; carve++) {
		run_table(TABLE_GOOD, carve, &c);
		assert_int_equal(c.stashes, 1);
		assert_int_equal(c.allocs, 1);
		assert_int_equal(c.frees, 0);
	}
}

static void expect_refused(enum table_kind kind)
{
	struct fake_counts c;

	for (int carve = 0; carve < 2; carve++) {
		run_table(kind, carve, &c);
		/* Asked once per session, refused, and every region (or
		 * emptied page) went back: nothing kept without a table. */
		assert_int_equal(c.stashes, 1);
		assert_int_equal(c.allocs, ROUNDS);
		assert_int_equal(c.frees, ROUNDS);
	}
}

static void test_table_empty(void **state)
{
	(void)state;
	expect_refused(TABLE_EMPTY);
}

static void test_table_unsealed(void **state)
{
	(void)state;
	expect_refused(TABLE_UNSEALED);
}

static void test_table_oversized(void **state)
{
	(void)state;
	expect_refused(TABLE_OVERSIZED);
}

/* A contigd restarted from systemd's fd store repeats the reply its
 * predecessor owed, not knowing whether it left. When the region of that
 * reply could not be restored it serves the request anew: a client that
 * had the first reply then gets a region it never asked for. The fake
 * plays both after the client's second allocation: the first reply again
 * (same region: a repeat, to keep) and the request served anew (another
 * region: to give back). The client must free the second and only it. */
static void test_repeat_served_anew(void **state)
{
	char dir[] = "/tmp/contig-fake-XXXXXX", path[108];
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS], lfd, conn, status;
	uint64_t freed[8];
	unsigned nfreed = 0, nalloc = 0;
	uint32_t first_alloc = 0;
	struct proto_msg m;
	size_t nfds;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fake.sock", dir);
	lfd = listen_at(path);
	assert_true(lfd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("CONTIG_SOCKET", path, 1);
		setenv("CONTIG_CARVE", "0", 1);
		setenv("CONTIG_STASH", "0", 1);
		uint8_t *p = contig_alloc(FAKE_PS, CONTIG_MAX_ADDRESS);
		uint8_t *q = p ? contig_alloc(FAKE_PS, CONTIG_MAX_ADDRESS) : NULL;
		if (!p || !q)
			_exit(2);
		/* The repeat left the first region ours, mapped and whole. */
		memset(p, 0x5a, FAKE_PS);
		if (contig_phys_addr(p) != 0x100000000ull + FAKE_PS)
			_exit(3);
		contig_free(q);
		contig_free(p);
		_exit(0);
	}
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	for (;;) {
		struct pollfd cp = { .fd = conn, .events = POLLIN };
		assert_int_equal(poll(&cp, 1, 10000), 1);
		ssize_t n = proto_recv(conn, buf, sizeof(buf), fds, PROTO_MAX_FDS, &nfds);
		if (n <= 0)
			break;
		proto_close_fds(fds, nfds);
		assert_int_equal(proto_decode(buf, (size_t)n, 0, &m), 0);
		uint32_t rq = m.hdr.request;
		if (m.hdr.type == PROTO_HELLO) {
			struct proto_hello_reply h = { .version = PROTO_VERSION,
						       .max_fds = PROTO_MAX_FDS,
						       .page_size = FAKE_PS, .session_id = 1,
						       .pool_bytes = 1 << 20 };
			reply(conn, PROTO_HELLO_REPLY, rq, &h, sizeof(h), NULL, 0);
		} else if (m.hdr.type == PROTO_ALLOC) {
			/* Region 1 for the first allocation, 3 for the second;
			 * 2 is the one served anew. */
			uint64_t id = nalloc == 0 ? 1 : 3;
			struct proto_region r = { .region_id = id, .nbytes = FAKE_PS,
						  .phys = 0x100000000ull + id * FAKE_PS,
						  .page_size = FAKE_PS, .npages = 1, .count = 1 };
			int page = memfd_create("fake-page", MFD_CLOEXEC);
			assert_true(page >= 0);
			assert_int_equal(ftruncate(page, FAKE_PS), 0);
			if (nalloc == 1) {
				/* What the restarted daemon sends first. */
				struct proto_region again = r, anew = r;
				again.region_id = 1;
				again.phys = 0x100000000ull + 1 * FAKE_PS;
				anew.region_id = 2;
				anew.phys = 0x100000000ull + 2 * FAKE_PS;
				reply(conn, PROTO_REGION, first_alloc, &again, sizeof(again), &page, 1);
				reply(conn, PROTO_REGION, first_alloc, &anew, sizeof(anew), &page, 1);
			} else {
				first_alloc = rq;
			}
			reply(conn, PROTO_REGION, rq, &r, sizeof(r), &page, 1);
			close(page);
			nalloc++;
		} else if (m.hdr.type == PROTO_FREE) {
			struct proto_status st = { 0 };
			assert_true(nfreed < 8);
			freed[nfreed++] = m.body.free.region_id;
			reply(conn, PROTO_STATUS, rq, &st, sizeof(st), NULL, 0);
		} else {
			fail_msg("the fake daemon got request type %u", m.hdr.type);
		}
	}
	close(conn);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(lfd);
	unlink(path);
	rmdir(dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The one served anew given back first, then the client's own two;
	 * the repeated one freed once, by the client. */
	assert_int_equal(nfreed, 3);
	assert_int_equal(freed[0], 2);
	assert_int_equal(freed[1], 3);
	assert_int_equal(freed[2], 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_setuid_ignores_env, setuid_teardown),
		cmocka_unit_test(test_repeat_served_anew),
		cmocka_unit_test(test_table_good),
		cmocka_unit_test(test_table_empty),
		cmocka_unit_test(test_table_unsealed),
		cmocka_unit_test(test_table_oversized),
	};

	setuid_client = argc > 1 ? argv[1] : "tests/setuid-client";
	return cmocka_run_group_tests_name("untrusted", tests, NULL, NULL);
}
