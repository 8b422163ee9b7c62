/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c - contigctl against a real contigd: three client processes
 * (two root, one uid 65534) make a known set of allocations through
 * libcontig and report what they got (va, phys via contig_phys_addr, size);
 * then every command's --json output must agree with it (sizes, owners,
 * physical ranges, region and session counts, free and total bytes), the
 * map must draw one cell per page with a legend (plain through a pipe,
 * coloured on a pty), stats --prometheus must be valid exposition format,
 * an unprivileged caller must see the pool but none of root's regions or
 * sessions, errors must exit with their documented codes, and the session
 * table must be read across several reply datagrams. Last, a raw client
 * leases pages for carving (PROTO_ALLOC_CARVE) and writes its carve report:
 * clients, regions and stats show what it leased and, capped at that, what
 * it reports, through free, import, stash take-back and session end; and a
 * libcontig client that carves (the default) is shown as it carves.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "ctl.h"
#include "expo.h"
#include "harness.h"
#include "jcheck.h"
#include "json.h"
#include "rawclient.h"

#define MiB       (1ull << 20)
#define PS        (2 * MiB)
#define POOL      (64 * MiB)
#define NOBODY    65534
#define NCLIENTS  3
#define MAX_SPECS 4

/* K_LARGEST: the pool's largest free run, at most 4 pages, less 4 KiB: a
 * multi-page region whenever the pool has a run of two pages (the pool's
 * physical layout is the kernel's choice, often fragmented). */
enum alloc_kind { K_ALLOC, K_SPECIFY, K_NODE, K_LARGEST };

struct spec {
	enum alloc_kind kind;
	uint64_t nbytes, lowest, highest, boundary;
	int node;
	bool may_fail;           /* ENOMEM allowed: needs a run the pool may not have */
	int want_errno;          /* else: 0 or this errno */
};

/* What a client got, reported through a pipe. */
struct rec {
	uint64_t va, phys, nbytes, lowest, highest, boundary;
	int32_t node;            /* as sent to the daemon: -1 unless K_NODE */
	int32_t err;             /* errno of a failure, -1 if phys was wrong */
};

struct client {
	const char *comm;
	uid_t uid;
	struct spec specs[MAX_SPECS];
	size_t nspecs;
	pid_t pid;
	int go_w;                /* closed by the parent: the client may exit */
	struct rec recs[MAX_SPECS];
};

static struct client clients[NCLIENTS] = {
	{ "cli-client-a", 0, {
		{ K_LARGEST, 0, 0, UINT64_MAX, 0, -1, false, 0 },
		{ K_SPECIFY, 64 << 10, 1 * MiB, UINT64_MAX, 1 * MiB, -1, false, 0 },
		{ K_ALLOC, 4096, 0, UINT64_MAX, 0, -1, false, 0 },
		{ K_ALLOC, 1ull << 30, 0, UINT64_MAX, 0, -1, false, ENOMEM },
	}, 4 },
	{ "cli-client-b", 0, {
		{ K_NODE, 2 * MiB, 1 * MiB, UINT64_MAX, 0, 0, false, 0 },
		{ K_ALLOC, 3 * MiB, 0, UINT64_MAX, 0, -1, true, 0 },
	}, 2 },
	{ "cli-client-n", NOBODY, {
		{ K_ALLOC, 2 * MiB, 0, UINT64_MAX, 0, -1, false, 0 },
	}, 1 },
};

static struct daemon_proc d;
static char conf_path[64];
/* A copy of contigctl that uid 65534 can surely execute: the build tree may
 * sit below a directory only root can enter. */
static char nobody_ctl[128];
static int teardown_status;

static uint64_t pages_of(uint64_t nbytes)
{
	return (nbytes + PS - 1) / PS;
}

/* ---- the clients ---- */

static void *do_alloc(const struct spec *s, uint64_t nbytes)
{
	switch (s->kind) {
	case K_ALLOC:
	case K_LARGEST:
		return contig_alloc(nbytes, s->highest);
	case K_SPECIFY:
		return contig_alloc_specify_cache(nbytes, s->lowest, s->highest, s->boundary,
						  CONTIG_CACHED);
	default:
		return contig_alloc_node(nbytes, s->lowest, s->highest, s->boundary,
					 CONTIG_CACHED, s->node);
	}
}

static uint64_t spec_bytes(const struct spec *s)
{
	struct contig_pool_info info = { 0 };

	if (s->kind != K_LARGEST)
		return s->nbytes;
	if (contig_query(&info) < 0 || info.largest_free_run < PS)
		return PS;
	/* At most 4 pages, so that most of the pool stays free. */
	if (info.largest_free_run > 4 * PS)
		info.largest_free_run = 4 * PS;
	return info.largest_free_run > PS ? info.largest_free_run - 4096 : PS;
}

static void client_main(const struct client *c, int rep_w, int go_r)
{
	/* Whole daemon regions only: these tests hold contigctl's listings to
	 * each allocation one to one. Carving (the default) has its own test,
	 * test_carve. */
	setenv("CONTIG_CARVE", "0", 1);
	prctl(PR_SET_NAME, c->comm);
	if (c->uid && (setgroups(0, NULL) < 0 || setgid(c->uid) < 0 || setuid(c->uid) < 0))
		_exit(100);
	for (size_t i = 0; i < c->nspecs; i++) {
		const struct spec *s = &c->specs[i];
		uint64_t nbytes = spec_bytes(s);
		uint8_t *p = do_alloc(s, nbytes);
		struct rec r = {
			.va = (uintptr_t)p, .nbytes = nbytes, .lowest = s->lowest,
			.highest = s->highest, .boundary = s->boundary,
			.node = s->kind == K_NODE ? s->node : -1, .err = p ? 0 : errno,
		};
		if (p) {
			r.phys = contig_phys_addr(p);
			if (r.phys == CONTIG_PHYS_INVALID ||
			    contig_phys_addr(p + nbytes - 1) != r.phys + nbytes - 1)
				r.err = -1;
		}
		if (write(rep_w, &r, sizeof(r)) != sizeof(r))
			_exit(101);
	}
	close(rep_w);
	/* Hold the regions until the parent has looked. */
	char ch;
	while (read(go_r, &ch, 1) > 0)
		;
	_exit(0);
}

static int client_start(struct client *c)
{
	int rep[2], go[2];

	if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(rep[0]);
		close(go[1]);
		for (int i = 0; i < NCLIENTS; i++)
			if (clients[i].go_w > 0)
				close(clients[i].go_w);
		client_main(c, rep[1], go[0]);
	}
	close(rep[1]);
	close(go[0]);
	c->go_w = go[1];
	size_t want = c->nspecs * sizeof(struct rec), got = 0;
	while (got < want) {
		ssize_t k = read(rep[0], (char *)c->recs + got, want - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(rep[0]);
	if (got != want) {
		fprintf(stderr, "client %s reported %zu of %zu bytes\n", c->comm, got, want);
		return -1;
	}
	for (size_t i = 0; i < c->nspecs; i++) {
		if (c->specs[i].may_fail && c->recs[i].err == ENOMEM)
			continue;
		if (c->recs[i].err != c->specs[i].want_errno) {
			fprintf(stderr, "client %s allocation %zu: errno %d, expected %d\n", c->comm,
				i, c->recs[i].err, c->specs[i].want_errno);
			return -1;
		}
	}
	return 0;
}

static void clients_stop(void)
{
	/* All first: a client forked later holds copies of earlier ones' go_w. */
	for (int i = 0; i < NCLIENTS; i++) {
		if (clients[i].go_w > 0) {
			close(clients[i].go_w);
			clients[i].go_w = -1;
		}
	}
	for (int i = 0; i < NCLIENTS; i++) {
		if (clients[i].pid > 0) {
			waitpid(clients[i].pid, NULL, 0);
			clients[i].pid = 0;
		}
	}
}

/* Totals over the successful allocations of uid (or of everyone: -1). */
struct expect {
	uint64_t regions, pages, nbytes;
	uint64_t enomem;         /* refusals the daemon counted */
};

static struct expect expected(long uid)
{
	struct expect e = { 0 };

	for (int i = 0; i < NCLIENTS; i++) {
		if (uid >= 0 && clients[i].uid != (uid_t)uid)
			continue;
		for (size_t k = 0; k < clients[i].nspecs; k++) {
			e.enomem += clients[i].recs[k].err == ENOMEM;
			if (clients[i].recs[k].err)
				continue;
			e.regions++;
			e.pages += pages_of(clients[i].recs[k].nbytes);
			e.nbytes += clients[i].recs[k].nbytes;
		}
	}
	return e;
}

/* ---- setup ---- */

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, r = -1;
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0)
		goto done;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto done;
	r = n == 0 && fchmod(out, 0755) == 0 ? 0 : -1;
done:
	if (out >= 0)
		close(out);
	close(in);
	return r;
}

static int teardown(void **state)
{
	(void)state;
	clients_stop();
	unlink(conf_path);
	if (nobody_ctl[0])
		unlink(nobody_ctl);
	teardown_status = d.pid > 0 && daemon_stop(&d) == 0 ? 0 : 1;
	return teardown_status ? -1 : 0;
}

static int setup(void **state)
{
	const char *ctl = getenv("CONTIGCTL");
	int fd;

	/* Let uid 65534 allocate, so that it has a region of its own to see. */
	snprintf(conf_path, sizeof(conf_path), "/tmp/contig-cli-conf-XXXXXX");
	fd = mkstemp(conf_path);
	if (fd < 0)
		return -1;
	if (dprintf(fd, "allow-users = %d\n", NOBODY) < 0) {
		close(fd);
		unlink(conf_path);
		return -1;
	}
	close(fd);
	const char *const args[] = { "--pool", "64M", "--config", conf_path, NULL };
	if (daemon_start(&d, args) < 0) {
		unlink(conf_path);
		return -1;
	}
	/* The unprivileged client and contigctl runs must reach the socket. */
	snprintf(nobody_ctl, sizeof(nobody_ctl), "%s/contigctl", d.dir);
	if (chmod(d.dir, 0755) < 0 || chmod(d.socket, 0666) < 0 ||
	    copy_file(ctl ? ctl : "build/cli/contigctl", nobody_ctl) < 0)
		goto fail;
	for (int i = 0; i < NCLIENTS; i++)
		if (client_start(&clients[i]) < 0)
			goto fail;
	return 0;
fail:
	/* cmocka runs no teardown after a failed setup. */
	teardown(state);
	teardown_status = 1;
	return -1;
}

/* ---- running contigctl ---- */

static const char *const as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534",
					  "--clear-groups", NULL };

/* contigctl --socket <ours> args... (with prefix), which must succeed with
 * one JSON object on stdout and nothing on stderr. */
static struct json *ctl_json_as(const char *const *prefix, const char *cmd, pid_t *ret_pid)
{
	const char *const args[] = { "--socket", d.socket, cmd, "--json", NULL };
	struct ctl_out r;
	struct json *j;
	char err[256];

	assert_int_equal(ctl_run_bin(&r, prefix, prefix ? nobody_ctl : NULL, args), 0);
	if (r.status != 0 || r.err[0])
		fail_msg("contigctl %s --json: exit %d, stderr: %s", cmd, r.status, r.err);
	assert_int_equal(count_lines(r.out), 1);
	j = json_parse(r.out, err, sizeof(err));
	if (!j)
		fail_msg("contigctl %s --json: not JSON (%s): %.300s", cmd, err, r.out);
	assert_int_equal(j->type, JSON_OBJECT);
	if (ret_pid)
		*ret_pid = r.pid;
	ctl_free(&r);
	return j;
}

static struct json *ctl_json(const char *cmd)
{
	return ctl_json_as(NULL, cmd, NULL);
}

/* Session id of pid in a clients listing, 0 if absent. */
static uint64_t session_of(const struct json *cl, pid_t pid)
{
	const struct json *a = j_arr(cl, "clients");

	for (size_t i = 0; i < a->n; i++)
		if (j_i64(&a->items[i], "pid") == pid)
			return j_u64(&a->items[i], "session");
	return 0;
}

/* ---- the tests ---- */

static void test_status(void **state)
{
	struct expect e = expected(-1);
	struct json *j;

	(void)state;
	j = ctl_json("status");
	assert_int_equal(j_u64(j, "page_size"), PS);
	assert_int_equal(j_u64(j, "total_bytes"), POOL);
	assert_int_equal(j_u64(j, "free_bytes"), POOL - e.pages * PS);
	assert_int_equal(j_u64(j, "used_bytes"), e.pages * PS);
	assert_int_equal(j_u64(j, "regions"), e.regions);
	/* The three clients and this contigctl. */
	assert_int_equal(j_u64(j, "sessions"), NCLIENTS + 1);
	assert_true(j_u64(j, "largest_free_run") >= PS);
	assert_true(j_u64(j, "largest_free_run") <= j_u64(j, "free_bytes"));
	assert_true(j_u64(j, "largest_free_run") % PS == 0);
	assert_int_equal(j_u64(j, "reclaiming_bytes") + j_u64(j, "quarantined_bytes") +
				 j_u64(j, "lost_bytes"), 0);
	assert_true(j_u64(j, "runs") >= 1);
	assert_true(j_u64(j, "below_4g_free") <= j_u64(j, "below_4g_total"));
	assert_true(j_u64(j, "below_16m_total") <= j_u64(j, "below_4g_total"));
	assert_true(j_arr(j, "nodes")->n >= 1);
	json_free(j);

	/* The socket from $CONTIG_SOCKET (daemon_start set it) works too. */
	const char *const args[] = { "status", NULL };
	struct ctl_out r;
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "largest free run"));
	ctl_free(&r);
}

/* The region listed at phys, or NULL. */
static const struct json *region_at(const struct json *regions, uint64_t phys)
{
	const struct json *a = j_arr(regions, "regions");

	for (size_t i = 0; i < a->n; i++)
		if (j_u64(&a->items[i], "phys") == phys)
			return &a->items[i];
	return NULL;
}

static void check_region(const struct json *g, const struct client *c, const struct rec *r,
			 uint64_t session)
{
	uint64_t pages = pages_of(r->nbytes);

	assert_int_equal(j_u64(g, "bytes"), r->nbytes);
	assert_int_equal(j_u64(g, "pages"), pages);
	assert_int_equal(j_u64(g, "mapped_bytes"), pages * PS);
	assert_int_equal(j_u64(g, "phys_end"), r->phys + r->nbytes - 1);
	assert_int_equal(j_i64(g, "pid"), c->pid);
	assert_int_equal(j_u64(g, "uid"), c->uid);
	assert_string_equal(j_str(g, "comm"), c->comm);
	assert_int_equal(j_u64(g, "session"), session);
	assert_int_equal(j_u64(g, "lowest"), r->lowest);
	assert_int_equal(j_u64(g, "highest"), r->highest);
	assert_int_equal(j_u64(g, "boundary"), r->boundary);
	assert_int_equal(j_i64(g, "node"), r->node);
	assert_int_equal(j_u64(g, "holders"), 1);
	assert_true(j_num(g, "age_s") >= 0 && j_num(g, "age_s") < 3600);
	/* What was asked holds for what is listed. */
	assert_true(r->phys >= r->lowest && r->phys + r->nbytes - 1 <= r->highest);
	if (r->boundary)
		assert_int_equal(r->phys / r->boundary, (r->phys + r->nbytes - 1) / r->boundary);
}

static void test_regions(void **state)
{
	struct json *rg = ctl_json("regions"), *cl = ctl_json("clients");
	struct expect e = expected(-1);
	const struct json *a = j_arr(rg, "regions");

	(void)state;
	assert_int_equal(j_u64(rg, "page_size"), PS);
	assert_int_equal(a->n, e.regions);
	for (int i = 0; i < NCLIENTS; i++) {
		const struct client *c = &clients[i];
		uint64_t session = session_of(cl, c->pid);
		assert_int_not_equal(session, 0);
		for (size_t k = 0; k < c->nspecs; k++) {
			if (c->recs[k].err)
				continue;
			const struct json *g = region_at(rg, c->recs[k].phys);
			if (!g)
				fail_msg("%s's region at 0x%" PRIx64 " is not listed", c->comm,
					 c->recs[k].phys);
			check_region(g, c, &c->recs[k], session);
		}
	}
	/* Ids are distinct. */
	for (size_t i = 0; i < a->n; i++)
		for (size_t k = i + 1; k < a->n; k++)
			assert_int_not_equal(j_u64(&a->items[i], "id"), j_u64(&a->items[k], "id"));
	json_free(rg);
	json_free(cl);
}

static void test_clients(void **state)
{
	pid_t ctl_pid;
	struct json *cl = ctl_json_as(NULL, "clients", &ctl_pid);
	const struct json *a = j_arr(cl, "clients");
	double now = (double)time(NULL);
	int selves = 0;

	(void)state;
	assert_int_equal(a->n, NCLIENTS + 1);
	for (size_t i = 0; i < a->n; i++) {
		const struct json *s = &a->items[i];
		double since = j_num(s, "connected_since");
		if (!(since <= now + 1 && since > now - 3600))
			fail_msg("session %d: connected_since %.3f, now %.0f, age_s %.3f", (int)i, since,
				 now, j_num(s, "age_s"));
		assert_true(j_num(s, "age_s") >= 0);
		if (j_bool(s, "self")) {
			selves++;
			assert_int_equal(j_i64(s, "pid"), ctl_pid);
			assert_string_equal(j_str(s, "comm"), "contigctl");
			assert_int_equal(j_u64(s, "regions"), 0);
			assert_int_equal(j_u64(s, "bytes"), 0);
		}
	}
	assert_int_equal(selves, 1);
	for (int i = 0; i < NCLIENTS; i++) {
		const struct client *c = &clients[i];
		uint64_t regions = 0, bytes = 0;
		const struct json *s = NULL;
		for (size_t k = 0; k < c->nspecs; k++) {
			if (c->recs[k].err)
				continue;
			regions++;
			bytes += pages_of(c->recs[k].nbytes) * PS;
		}
		for (size_t k = 0; k < a->n; k++)
			if (j_i64(&a->items[k], "pid") == c->pid)
				s = &a->items[k];
		assert_non_null(s);
		assert_string_equal(j_str(s, "comm"), c->comm);
		assert_int_equal(j_u64(s, "uid"), c->uid);
		assert_int_equal(j_u64(s, "regions"), regions);
		assert_int_equal(j_u64(s, "bytes"), bytes);
		assert_false(j_bool(s, "self"));
	}
	json_free(cl);
}

/* The run holding [phys, phys + bytes), or NULL. */
static const struct json *run_holding(const struct json *runs, uint64_t phys, uint64_t bytes)
{
	const struct json *a = j_arr(runs, "runs");

	for (size_t i = 0; i < a->n; i++) {
		const struct json *r = &a->items[i];
		if (phys >= j_u64(r, "phys") && phys + bytes - 1 <= j_u64(r, "phys_end"))
			return r;
	}
	return NULL;
}

static void test_runs(void **state)
{
	struct json *runs = ctl_json("runs"), *st = ctl_json("status");
	const struct json *a = j_arr(runs, "runs");
	struct expect e = expected(-1);
	uint64_t pages = 0, used = 0, free_pages = 0, prev_end = 0;

	(void)state;
	assert_int_equal(a->n, j_u64(st, "runs"));
	for (size_t i = 0; i < a->n; i++) {
		const struct json *r = &a->items[i];
		assert_false(j_bool(r, "placeholder"));
		assert_int_equal(j_u64(r, "bytes"), j_u64(r, "pages") * PS);
		assert_int_equal(j_u64(r, "phys_end"), j_u64(r, "phys") + j_u64(r, "bytes") - 1);
		assert_int_equal(j_u64(r, "free") + j_u64(r, "used") + j_u64(r, "reclaiming") +
					 j_u64(r, "quarantined") + j_u64(r, "lost"), j_u64(r, "pages"));
		assert_true(j_u64(r, "phys") >= prev_end); /* physical order */
		prev_end = j_u64(r, "phys_end") + 1;
		pages += j_u64(r, "pages");
		used += j_u64(r, "used");
		free_pages += j_u64(r, "free");
	}
	assert_int_equal(pages * PS, POOL);
	assert_int_equal(used, e.pages);
	assert_int_equal(free_pages * PS, j_u64(st, "free_bytes"));
	for (int i = 0; i < NCLIENTS; i++) {
		for (size_t k = 0; k < clients[i].nspecs; k++) {
			const struct rec *rc = &clients[i].recs[k];
			if (rc->err)
				continue;
			const struct json *r = run_holding(runs, rc->phys, pages_of(rc->nbytes) * PS);
			assert_non_null(r);
			if (rc->node >= 0)
				assert_int_equal(j_i64(r, "node"), rc->node);
		}
	}
	json_free(runs);
	json_free(st);
}

static void test_map_json(void **state)
{
	struct json *m = ctl_json("map");
	const struct json *a = j_arr(m, "pages");
	struct expect e = expected(-1);
	uint64_t used = 0;

	(void)state;
	assert_int_equal(a->n, POOL / PS);
	for (size_t i = 0; i < a->n; i++) {
		assert_false(j_bool(&a->items[i], "placeholder"));
		if (i)
			assert_true(j_u64(&a->items[i], "phys") > j_u64(&a->items[i - 1], "phys"));
		used += !strcmp(j_str(&a->items[i], "state"), "used");
	}
	assert_int_equal(used, e.pages);
	/* Every page of every region is there, used. */
	for (int i = 0; i < NCLIENTS; i++) {
		for (size_t k = 0; k < clients[i].nspecs; k++) {
			const struct rec *rc = &clients[i].recs[k];
			for (uint64_t p = 0; !rc->err && p < pages_of(rc->nbytes); p++) {
				bool found = false;
				for (size_t x = 0; x < a->n; x++) {
					if (j_u64(&a->items[x], "phys") != rc->phys + p * PS)
						continue;
					assert_string_equal(j_str(&a->items[x], "state"), "used");
					found = true;
				}
				assert_true(found);
			}
		}
	}
	json_free(m);
}

/* Drop ANSI escapes and carriage returns (a pty sends \r\n). */
static void strip_ansi(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		if (*p == '\033' && p[1] == '[') {
			p += 2;
			while (*p && !(*p >= '@' && *p <= '~'))
				p++;
			if (!*p)
				break;
			continue;
		}
		if (*p != '\r')
			*o++ = *p;
	}
	*o = 0;
}

struct map_count {
	size_t cells, used, free_cells, lines, gaps;
	size_t widest;
	char first_label[32];
};

/* Count the cells of a plain map: lines "0x<hex> <cells>". */
static struct map_count count_map(const char *text)
{
	struct map_count mc = { 0 };
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > mc.widest)
			mc.widest = n;
		if (n > 2 && p[0] == '0' && p[1] == 'x') {
			const char *sp = memchr(p, ' ', n);
			assert_non_null(sp);
			if (!mc.lines)
				snprintf(mc.first_label, sizeof(mc.first_label), "%.*s", (int)(sp - p), p);
			for (const char *c = sp + 1; c < p + n; c++) {
				assert_non_null(strchr(".#rqX+", *c));
				mc.cells++;
				mc.used += *c == '#';
				mc.free_cells += *c == '.';
			}
			mc.lines++;
		}
		if (memmem(p, n, "~~", 2))
			mc.gaps++;
		p += n + (nl ? 1 : 0);
	}
	return mc;
}

static void check_map_text(const char *text, int width)
{
	struct json *m = ctl_json("map"), *runs = ctl_json("runs");
	struct expect e = expected(-1);
	struct map_count mc = count_map(text);
	char label[32];

	assert_non_null(strstr(text, "legend:"));
	assert_non_null(strstr(text, "free (zeroed)"));
	assert_non_null(strstr(text, "quarantined"));
	assert_non_null(strstr(text, "1 cell = 1 page of 2 MiB"));
	assert_int_equal(mc.cells, POOL / PS);
	assert_int_equal(mc.used, e.pages);
	assert_int_equal(mc.free_cells, POOL / PS - e.pages);
	assert_true(mc.widest <= (size_t)width);
	/* One marker between each two runs. */
	assert_int_equal(mc.gaps, j_arr(runs, "runs")->n - 1);
	/* The first line starts at the lowest page. */
	snprintf(label, sizeof(label), "0x%" PRIx64, j_u64(&j_arr(m, "pages")->items[0], "phys"));
	assert_int_equal(strtoull(mc.first_label, NULL, 16), strtoull(label, NULL, 16));
	json_free(m);
	json_free(runs);
}

static void test_map_plain(void **state)
{
	const char *const args[] = { "--socket", d.socket, "map", "--width", "40", NULL };
	struct ctl_out r;

	(void)state;
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	assert_null(strchr(r.out, '\033'));
	check_map_text(r.out, 40);
	ctl_free(&r);
}

static void test_map_pty(void **state)
{
	const char *const args[] = { "--socket", d.socket, "map", NULL };
	const char *const plain[] = { "--socket", d.socket, "map", "--no-color", NULL };
	struct ctl_out r;

	(void)state;
	/* A 50-column terminal: colours, and lines that fit it. */
	assert_int_equal(ctl_run_pty(&r, 50, args), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\033[32m."));  /* free: green */
	assert_non_null(strstr(r.out, "\033[1;31m#")); /* used: red */
	assert_non_null(strstr(r.out, "\033[0m"));
	strip_ansi(r.out);
	check_map_text(r.out, 50);
	ctl_free(&r);

	assert_int_equal(ctl_run_pty(&r, 50, plain), 0);
	assert_int_equal(r.status, 0);
	assert_null(strchr(r.out, '\033'));
	ctl_free(&r);
}

/* The STATS table, in the order the daemon sends it (daemon/inspect.c). */
static const char *const stat_names[] = {
	"allocs", "frees", "fail_einval", "fail_enomem", "fail_edquot", "fail_eacces",
	"fail_other", "waits", "bytes_served", "reclaims", "zeroed_in_place", "reclaim_ns",
	"revoke_errors", "quarantined", "pinned", "pin_failures", "phys_changed", "lost",
	"audits", "wrong_node", "audit_moved", "imports", "exports", "protocol_errors",
	"sessions_total", "repair_looked", "repair_swapped", "stash_taken", "stash_bogus",
	"carve_leased_bytes", "carve_in_use_bytes",
};

/* What the daemon's log says: lines containing text, and the sum of the
 * numbers that follow each occurrence of after (if not NULL) in them. */
static uint64_t log_sum(const char *text, const char *after, uint64_t *ret_lines)
{
	FILE *f = fopen(d.log, "re");
	char line[1024];
	uint64_t sum = 0, lines = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, text);
		if (!at)
			continue;
		lines++;
		if (after && (at = strstr(line, after)))
			sum += strtoull(at + strlen(after), NULL, 10);
	}
	fclose(f);
	if (ret_lines)
		*ret_lines = lines;
	return sum;
}

/* Every counter the daemon sends, by name and in order, each to its value:
 * at this point the clients hold what they got and nothing was ever freed,
 * exported or refused but the ENOMEM they were told. */
static void test_stats_json(void **state)
{
	const size_t nnames = sizeof(stat_names) / sizeof(stat_names[0]);
	struct expect e = expected(-1);
	struct json *s, *again, *status;
	const struct json *st, *st2;
	uint64_t rounds, migrated, unpinned;

	(void)state;
	/* The start-up repair round is over (it logs its one line when it is). */
	assert_true(daemon_wait_log(&d, "repair: ", 10000));
	s = ctl_json("stats");
	st = j_obj(s, "stats");
	assert_non_null(st);
	assert_int_equal(st->type, JSON_OBJECT);
	assert_int_equal(st->n, nnames);
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->keys[i], stat_names[i]))
			fail_msg("stats member %zu is %s, expected %s", i, st->keys[i],
				 stat_names[i]);
		assert_true(st->items[i].type == JSON_NUMBER && st->items[i].is_uint);
	}
	assert_int_equal(j_u64(st, "allocs"), e.regions);
	assert_int_equal(j_u64(st, "frees"), 0);
	assert_int_equal(j_u64(st, "fail_einval"), 0);
	assert_int_equal(j_u64(st, "fail_enomem"), e.enomem);
	assert_int_equal(j_u64(st, "fail_edquot"), 0);
	assert_int_equal(j_u64(st, "fail_eacces"), 0);
	assert_int_equal(j_u64(st, "fail_other"), 0);
	/* Nothing was ever in reclaim, so nothing waited for it. */
	assert_int_equal(j_u64(st, "waits"), 0);
	assert_int_equal(j_u64(st, "bytes_served"), e.nbytes);
	assert_int_equal(j_u64(st, "reclaims"), 0);
	assert_int_equal(j_u64(st, "zeroed_in_place"), 0);
	assert_int_equal(j_u64(st, "reclaim_ns"), 0);
	assert_int_equal(j_u64(st, "revoke_errors"), 0);
	assert_int_equal(j_u64(st, "quarantined"), 0);
	assert_int_equal(j_u64(st, "phys_changed"), 0);
	assert_int_equal(j_u64(st, "lost"), 0);
	assert_int_equal(j_u64(st, "wrong_node"), 0);
	assert_int_equal(j_u64(st, "imports"), 0);
	assert_int_equal(j_u64(st, "exports"), 0);
	assert_int_equal(j_u64(st, "protocol_errors"), 0);
	assert_int_equal(j_u64(st, "stash_taken"), 0);
	assert_int_equal(j_u64(st, "stash_bogus"), 0);
	/* The clients carve nothing (CONTIG_CARVE=0 in client_main). */
	assert_int_equal(j_u64(st, "carve_leased_bytes"), 0);
	assert_int_equal(j_u64(st, "carve_in_use_bytes"), 0);
	/* Repair: what its log lines say it looked at and swapped. */
	assert_int_equal(j_u64(st, "repair_looked"),
			 log_sum("repair: looked at", "looked at ", &rounds));
	assert_int_equal(j_u64(st, "repair_swapped"),
			 log_sum("repair: looked at", "swapped ", NULL));
	assert_true(j_u64(st, "repair_swapped") <= j_u64(st, "repair_looked"));
	assert_true(rounds <= 1); /* no reclaim yet: no idle round */
	/* Every pool page pinned once at start, and every page a swap brought
	 * in; nothing at all when io_uring pinning is not available. */
	log_sum("pool pages are not pinned", NULL, &unpinned);
	if (unpinned) {
		assert_int_equal(j_u64(st, "pinned") + j_u64(st, "pin_failures"), 0);
	} else {
		assert_int_equal(j_u64(st, "pinned") + j_u64(st, "pin_failures"),
				 POOL / PS + j_u64(st, "repair_swapped"));
	}
	/* A page the audit found moved is logged, one line each. */
	log_sum("the kernel migrated it", NULL, &migrated);
	assert_int_equal(j_u64(st, "audit_moved"), migrated);
	/* Sessions: at least the clients' and this one; another stats run
	 * is exactly one more session and changes no other counter but the
	 * audit's, which advances once per pass of the pool. */
	assert_true(j_u64(st, "sessions_total") >= NCLIENTS + 1);
	again = ctl_json("stats");
	st2 = j_obj(again, "stats");
	assert_int_equal(st2->n, nnames);
	assert_int_equal(j_u64(st2, "sessions_total"), j_u64(st, "sessions_total") + 1);
	for (size_t i = 0; i < nnames; i++)
		if (strcmp(stat_names[i], "sessions_total") && strcmp(stat_names[i], "audits"))
			assert_int_equal(j_u64(st2, stat_names[i]), j_u64(st, stat_names[i]));
	/* The default audit (the pool every 10 s, a slice of ceil(32 / 10)
	 * pages per one-second tick) completes a pass every 8 ticks. */
	status = ctl_json("status");
	assert_true(j_u64(st2, "audits") >= j_u64(st, "audits"));
	assert_true((double)j_u64(st2, "audits") * 8 <= j_num(status, "uptime_s"));
	json_free(status);
	json_free(again);
	json_free(s);
}

static void expect_sample(const char *text, const char *sample, double want)
{
	double v;

	if (expo_value(text, sample, &v) < 0)
		fail_msg("no sample %s", sample);
	if (v != want)
		fail_msg("%s is %f, expected %f", sample, v, want);
}

static void test_stats_prometheus(void **state)
{
	const char *const args[] = { "--socket", d.socket, "stats", "--prometheus", NULL };
	struct json *s = ctl_json("stats");
	struct expect e = expected(-1);
	struct ctl_out r;
	char err[512];
	int n;

	(void)state;
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	n = expo_check(r.out, err, sizeof(err));
	if (n < 0)
		fail_msg("invalid exposition format: %s", err);
	/* Every counter of the STATS table, and the pool gauges. */
	assert_true((size_t)n >= j_obj(s, "stats")->n + 12);
	expect_sample(r.out, "contig_allocations_total", (double)e.regions);
	expect_sample(r.out, "contig_allocation_failures_total{reason=\"ENOMEM\"}",
		      (double)e.enomem);
	expect_sample(r.out, "contig_served_bytes_total", (double)e.nbytes);
	expect_sample(r.out, "contig_pool_size_bytes", POOL);
	expect_sample(r.out, "contig_pool_page_size_bytes", PS);
	expect_sample(r.out, "contig_pool_bytes{state=\"used\"}", (double)(e.pages * PS));
	expect_sample(r.out, "contig_pool_bytes{state=\"free\"}", (double)(POOL - e.pages * PS));
	expect_sample(r.out, "contig_regions", (double)e.regions);
	ctl_free(&r);
	json_free(s);
}

static void test_text_outputs(void **state)
{
	static const char *const cmds[] = { "status", "runs", "map", "regions", "clients", "stats" };
	struct ctl_out r;

	(void)state;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *const args[] = { "--socket", d.socket, cmds[i], NULL };
		assert_int_equal(ctl_run(&r, NULL, args), 0);
		if (r.status || r.err[0] || !r.out[0])
			fail_msg("contigctl %s: exit %d, stderr %s", cmds[i], r.status, r.err);
		if (!strcmp(cmds[i], "regions"))
			for (int c = 0; c < NCLIENTS; c++)
				assert_non_null(strstr(r.out, clients[c].comm));
		if (!strcmp(cmds[i], "clients"))
			assert_non_null(strstr(r.out, "<- this contigctl"));
		ctl_free(&r);
	}
}

/* uid 65534 sees the pool, its own region and session, nothing of root's. */
static void test_unprivileged(void **state)
{
	struct json *st_root = ctl_json("status"), *st, *rg, *cl, *runs, *runs_root, *m;
	struct expect mine = expected(NOBODY), all = expected(-1);
	const struct json *a;
	pid_t ctl_pid;

	(void)state;
	st = ctl_json_as(as_nobody, "status", NULL);
	assert_int_equal(j_u64(st, "total_bytes"), POOL);
	assert_int_equal(j_u64(st, "free_bytes"), j_u64(st_root, "free_bytes"));
	assert_int_equal(j_u64(st, "largest_free_run"), j_u64(st_root, "largest_free_run"));
	assert_int_equal(j_u64(st, "regions"), all.regions);

	rg = ctl_json_as(as_nobody, "regions", NULL);
	a = j_arr(rg, "regions");
	assert_int_equal(a->n, mine.regions);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(j_u64(&a->items[i], "uid"), NOBODY);
		assert_int_equal(j_i64(&a->items[i], "pid"), clients[2].pid);
		assert_int_equal(j_u64(&a->items[i], "phys"), clients[2].recs[0].phys);
	}

	cl = ctl_json_as(as_nobody, "clients", &ctl_pid);
	a = j_arr(cl, "clients");
	assert_int_equal(a->n, 2); /* its client and itself */
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(j_u64(&a->items[i], "uid"), NOBODY);
		if (j_bool(&a->items[i], "self"))
			assert_int_equal(j_i64(&a->items[i], "pid"), ctl_pid);
		else
			assert_int_equal(j_i64(&a->items[i], "pid"), clients[2].pid);
	}

	runs = ctl_json_as(as_nobody, "runs", NULL);
	runs_root = ctl_json("runs");
	assert_int_equal(j_arr(runs, "runs")->n, j_arr(runs_root, "runs")->n);
	m = ctl_json_as(as_nobody, "map", NULL);
	assert_int_equal(j_arr(m, "pages")->n, POOL / PS);
	json_free(ctl_json_as(as_nobody, "stats", NULL));

	json_free(st_root);
	json_free(st);
	json_free(rg);
	json_free(cl);
	json_free(runs);
	json_free(runs_root);
	json_free(m);
}

static void expect_exit(const char *const *prefix, const char *const *args, int code,
			const char *words)
{
	struct ctl_out r;

	assert_int_equal(ctl_run_bin(&r, prefix, prefix ? nobody_ctl : NULL, args), 0);
	if (r.status != code)
		fail_msg("%s: exit %d, expected %d (stderr: %s)", args[0], r.status, code, r.err);
	assert_int_equal(count_lines(r.err), 1);
	assert_non_null(strstr(r.err, words));
	assert_string_equal(r.out, "");
	ctl_free(&r);
}

static void test_errors(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char missing[108], dead[108];
	int fd;

	(void)state;
	/* No daemon: no socket file, and a socket nobody listens on. */
	snprintf(missing, sizeof(missing), "%s/missing.sock", d.dir);
	const char *const a1[] = { "--socket", missing, "status", NULL };
	expect_exit(NULL, a1, 3, "no daemon");
	snprintf(dead, sizeof(dead), "%s/dead.sock", d.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dead);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	const char *const a2[] = { "--socket", dead, "regions", "--json", NULL };
	expect_exit(NULL, a2, 3, "no daemon");
	unlink(dead);

	/* Permission denied on the socket. */
	assert_int_equal(chmod(d.socket, 0600), 0);
	const char *const a3[] = { "--socket", d.socket, "status", NULL };
	expect_exit(as_nobody, a3, 4, "permission denied");
	assert_int_equal(chmod(d.socket, 0666), 0);

	/* Usage. */
	const char *const a4[] = { "--socket", d.socket, "bogus", NULL };
	expect_exit(NULL, a4, 2, "unknown command");
	const char *const a5[] = { "--socket", d.socket, "status", "--prometheus", NULL };
	expect_exit(NULL, a5, 2, "does not take");
	const char *const a6[] = { "--socket", d.socket, "map", "--width", "wide", NULL };
	expect_exit(NULL, a6, 2, "--width");

	/* --help fits on one screen. */
	const char *const a7[] = { "--help", NULL };
	struct ctl_out r;
	assert_int_equal(ctl_run(&r, NULL, a7), 0);
	assert_int_equal(r.status, 0);
	assert_true(count_lines(r.out) < 25);
	for (const char *p = r.out; *p;) {
		const char *nl = strchr(p, '\n');
		assert_true((size_t)(nl - p) <= 80);
		p = nl + 1;
	}
	ctl_free(&r);
}

/* More sessions than one reply datagram holds: the listing is complete,
 * in order, and really came in several pages. */
static void test_sessions_paginated(void **state)
{
	enum { EXTRA = 700 };
	static int fds[EXTRA];
	uint8_t buf[PROTO_MAX_MSG];
	struct proto_list l = { .table = PROTO_TABLE_SESSIONS };
	struct proto_msg msg;
	size_t mine = 0;
	ssize_t n;

	(void)state;
	for (int i = 0; i < EXTRA; i++) {
		fds[i] = raw_connect(d.socket, 1);
		assert_true(fds[i] >= 0);
	}
	/* One raw page is not all of it. */
	n = raw_call(fds[0], buf, proto_encode(buf, PROTO_LIST, 7, &l, sizeof(l)), buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(proto_decode(buf, (size_t)n, 0, &msg), 0);
	assert_int_equal(msg.hdr.type, PROTO_LIST_REPLY);
	assert_int_not_equal(msg.body.list_reply.next, 0);
	assert_true(msg.body.list_reply.count < EXTRA + NCLIENTS + 1);

	struct json *cl = ctl_json("clients");
	const struct json *a = j_arr(cl, "clients");
	assert_int_equal(a->n, EXTRA + NCLIENTS + 1);
	for (size_t i = 0; i < a->n; i++) {
		if (i)
			assert_true(j_u64(&a->items[i], "session") > j_u64(&a->items[i - 1], "session"));
		mine += j_i64(&a->items[i], "pid") == getpid();
	}
	assert_int_equal(mine, EXTRA);
	json_free(cl);
	for (int i = 0; i < EXTRA; i++)
		close(fds[i]);
}

/* After the clients exit, everything comes back and the listings empty. */
static void test_after_exit(void **state)
{
	struct expect e = expected(-1);
	struct json *st = NULL, *rg, *cl, *s;

	(void)state;
	clients_stop();
	/* Quarantine (1 s) then reclaim: wait for it, up to 30 s. */
	for (int i = 0; i < 300; i++) {
		json_free(st);
		st = ctl_json("status");
		if (j_u64(st, "free_bytes") == POOL && j_u64(st, "regions") == 0)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(j_u64(st, "free_bytes"), POOL);
	assert_int_equal(j_u64(st, "regions"), 0);
	rg = ctl_json("regions");
	assert_int_equal(j_arr(rg, "regions")->n, 0);
	cl = ctl_json("clients");
	assert_int_equal(j_arr(cl, "clients")->n, 1);
	s = ctl_json("stats");
	assert_int_equal(j_u64(j_obj(s, "stats"), "frees"), e.regions);
	assert_true(j_u64(j_obj(s, "stats"), "reclaims") >= e.pages);

	const char *const args[] = { "--socket", d.socket, "map", "--width", "40", NULL };
	struct ctl_out r;
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	struct map_count mc = count_map(r.out);
	assert_int_equal(mc.cells, POOL / PS);
	assert_int_equal(mc.free_cells, POOL / PS);
	ctl_free(&r);
	json_free(st);
	json_free(rg);
	json_free(cl);
	json_free(s);
}

/* ---- page granularity: pages a session leases for carving ---- */

struct raw_session {
	int fd;
	uint64_t id;
	uint32_t request;
	uint8_t buf[PROTO_MAX_MSG];
};

static void raw_open(struct raw_session *r)
{
	struct proto_hello_reply h;

	r->fd = proto_client_connect(d.socket, 5);
	assert_true(r->fd >= 0);
	r->request = 1;
	assert_int_equal(proto_client_hello(r->fd, 5000, r->request++, r->buf, &h), 0);
	r->id = h.session_id;
}

/* A request whose reply is want, with fds (the caller's, *ret_nfds). */
static void raw_fd_call(struct raw_session *r, uint16_t type, const void *body, size_t len,
			uint16_t want, struct proto_msg *m, int *fds, size_t *ret_nfds)
{
	uint32_t req = r->request++;
	ssize_t n;

	assert_int_equal(proto_client_send(r->fd, type, req, body, len), 0);
	n = proto_client_recv(r->fd, 5000, r->buf, sizeof(r->buf), fds, ret_nfds);
	assert_true(n > 0);
	assert_int_equal(proto_decode(r->buf, (size_t)n, *ret_nfds, m), 0);
	assert_int_equal(proto_client_reply(m, req, want), 0);
}

/* 4 KiB with flags: one page, whose fd is closed at once. The region id. */
static uint64_t raw_alloc_page(struct raw_session *r, uint32_t flags)
{
	struct proto_alloc a = { .nbytes = 4096, .highest = UINT64_MAX, .node = PROTO_NODE_ANY,
				 .flags = flags };
	int fds[PROTO_MAX_FDS];
	struct proto_msg m;
	size_t nfds;

	raw_fd_call(r, PROTO_ALLOC, &a, sizeof(a), PROTO_REGION, &m, fds, &nfds);
	proto_close_fds(fds, nfds);
	assert_int_equal(m.body.region.npages, 1);
	assert_int_equal(nfds, 1);
	return m.body.region.region_id;
}

/* A request answered by a STATUS: its error (0: done). */
static int32_t raw_status_of(struct raw_session *r, uint16_t type, const void *body, size_t len)
{
	struct proto_msg m;
	int rc = proto_client_call(r->fd, 5000, r->request++, type, body, len, PROTO_STATUS, r->buf,
				   &m);

	return rc < 0 ? rc : (int32_t)m.body.status.error;
}

struct carve_row {
	uint64_t bytes, leased, in_use;
};

/* What contigctl clients --json shows for session id (which must be listed). */
static struct carve_row carve_row_of(uint64_t id)
{
	struct json *cl = ctl_json("clients");
	const struct json *a = j_arr(cl, "clients");
	struct carve_row row = { 0 };
	bool found = false;

	for (size_t i = 0; i < a->n; i++) {
		const struct json *s = &a->items[i];
		if (j_u64(s, "session") != id)
			continue;
		row = (struct carve_row){ j_u64(s, "bytes"), j_u64(s, "carve_leased_bytes"),
					  j_u64(s, "carve_in_use_bytes") };
		found = true;
	}
	json_free(cl);
	if (!found)
		fail_msg("session %" PRIu64 " is not listed", id);
	return row;
}

static void expect_carve(uint64_t id, uint64_t bytes, uint64_t leased, uint64_t in_use)
{
	struct carve_row row = carve_row_of(id);
	struct json *s = ctl_json("stats");
	const struct json *st = j_obj(s, "stats");

	if (row.bytes != bytes || row.leased != leased || row.in_use != in_use)
		fail_msg("session %" PRIu64 ": bytes %" PRIu64 ", carve leased %" PRIu64 ", in use "
			 "%" PRIu64 "; expected %" PRIu64 ", %" PRIu64 ", %" PRIu64, id, row.bytes,
			 row.leased, row.in_use, bytes, leased, in_use);
	/* This session is the only one that carves: the totals are its own. */
	assert_int_equal(j_u64(st, "carve_leased_bytes"), leased);
	assert_int_equal(j_u64(st, "carve_in_use_bytes"), in_use);
	json_free(s);
}

/* The regions listing: is region id there, and a carve lease? */
static void expect_region_carve(uint64_t id, bool carve)
{
	struct json *rg = ctl_json("regions");
	const struct json *a = j_arr(rg, "regions");
	bool found = false;

	for (size_t i = 0; i < a->n; i++) {
		if (j_u64(&a->items[i], "id") != id)
			continue;
		found = true;
		assert_int_equal(j_bool(&a->items[i], "carve"), carve);
	}
	if (!found)
		fail_msg("region %" PRIu64 " is not listed", id);
	json_free(rg);
}

static void report_set(uint64_t *const line[PROTO_CARVE_LINES], const uint64_t *v)
{
	for (uint32_t i = 0; i < PROTO_CARVE_LINES; i++)
		__atomic_store_n(line[i], v[i], __ATOMIC_RELAXED);
}

static void test_carve(void **state)
{
	struct raw_session rs, imp;
	uint64_t *line[PROTO_CARVE_LINES];
	int fds[PROTO_MAX_FDS];
	struct proto_msg m;
	size_t nfds;
	struct ctl_out r;
	char want[64];

	(void)state;
	raw_open(&rs);
	uint64_t carve_a = raw_alloc_page(&rs, PROTO_ALLOC_CARVE);
	uint64_t plain = raw_alloc_page(&rs, 0);
	uint64_t carve_b = raw_alloc_page(&rs, PROTO_ALLOC_CARVE | PROTO_ALLOC_NOWAIT);

	/* Counted by the daemon; no table yet, so nothing reported in use. */
	expect_carve(rs.id, 3 * PS, 2 * PS, 0);
	expect_region_carve(carve_a, true);
	expect_region_carve(plain, false);
	expect_region_carve(carve_b, true);

	/* The stash table, and its carve report lines. */
	struct proto_stash sreq = { 0 };
	raw_fd_call(&rs, PROTO_STASH, &sreq, sizeof(sreq), PROTO_STASH_TABLE, &m, fds, &nfds);
	assert_int_equal(nfds, 1);
	uint8_t *table = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	assert_true(table != MAP_FAILED);
	close(fds[0]);
	for (uint32_t i = 0; i < PROTO_CARVE_LINES; i++)
		line[i] = (uint64_t *)(void *)(table + PROTO_CARVE_REPORT_OFF +
					       (size_t)i * PROTO_CARVE_LINE_BYTES);
	expect_carve(rs.id, 3 * PS, 2 * PS, 0);

	/* The sum of the lines, the last one included. */
	report_set(line, (const uint64_t[PROTO_CARVE_LINES]){ 4096, 0, 0, 12288, 0, 0, 0, 8192 });
	expect_carve(rs.id, 3 * PS, 2 * PS, 24576);

	/* The text shows the same: the session's carve columns, the marks. */
	const char *const cargs[] = { "--socket", d.socket, "clients", NULL };
	assert_int_equal(ctl_run(&r, NULL, cargs), 0);
	assert_int_equal(r.status, 0);
	snprintf(want, sizeof(want), "%9s %12s %10s  ", "6 MiB", "4 MiB", "24 KiB");
	assert_non_null(strstr(r.out, want));
	ctl_free(&r);
	const char *const rargs[] = { "--socket", d.socket, "regions", NULL };
	assert_int_equal(ctl_run(&r, NULL, rargs), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "; 2 (carve) leased for carving"));
	ctl_free(&r);

	/* A client may write anything: more than it leased, or lines whose
	 * sum wraps (to 96 bytes here, in 64 bits): shown as what it leased. */
	report_set(line, (const uint64_t[PROTO_CARVE_LINES]){ 0, 0, 0, 0, 0, 3 * PS, 0, 0 });
	expect_carve(rs.id, 3 * PS, 2 * PS, 2 * PS);
	report_set(line, (const uint64_t[PROTO_CARVE_LINES]){ 4096, UINT64_MAX - 3999 });
	expect_carve(rs.id, 3 * PS, 2 * PS, 2 * PS);
	report_set(line, (const uint64_t[PROTO_CARVE_LINES]){ UINT64_MAX, 0, 0, 0, 0, 0, 0, 1 });
	expect_carve(rs.id, 3 * PS, 2 * PS, 2 * PS);

	/* FREE: one page less leased, and the cap follows it. */
	struct proto_free fr = { .region_id = carve_a };
	assert_int_equal(raw_status_of(&rs, PROTO_FREE, &fr, sizeof(fr)), 0);
	report_set(line, (const uint64_t[PROTO_CARVE_LINES]){ 0, 0, 0, 0, 0, 0, 0, 3 * PS });
	expect_carve(rs.id, 2 * PS, PS, PS);
	report_set(line, (const uint64_t[PROTO_CARVE_LINES]){ 0, 8192 });
	expect_carve(rs.id, 2 * PS, PS, 8192);

	/* An importer holds the same carve page, and counts it while it
	 * does: its own report is empty (it has no table). */
	struct proto_export ex = { .region_id = carve_b };
	struct proto_msg hm;
	assert_int_equal(proto_client_call(rs.fd, 5000, rs.request++, PROTO_EXPORT, &ex, sizeof(ex),
					   PROTO_HANDLE, rs.buf, &hm), 0);
	struct proto_handle h = hm.body.handle;
	raw_open(&imp);
	raw_fd_call(&imp, PROTO_IMPORT, &h, sizeof(h), PROTO_REGION, &m, fds, &nfds);
	proto_close_fds(fds, nfds);
	assert_int_equal(m.body.region.region_id, carve_b);
	struct carve_row ir = carve_row_of(imp.id);
	assert_int_equal(ir.bytes, PS);
	assert_int_equal(ir.leased, PS);
	assert_int_equal(ir.in_use, 0);
	fr.region_id = carve_b;
	assert_int_equal(raw_status_of(&imp, PROTO_FREE, &fr, sizeof(fr)), 0);
	ir = carve_row_of(imp.id);
	assert_int_equal(ir.bytes + ir.leased + ir.in_use, 0);
	close(imp.fd);
	expect_carve(rs.id, 2 * PS, PS, 8192);

	/* Taken back from the stash (the session's QUERY takes its own). */
	int64_t taken = raw_stat(d.socket, "stash_taken");
	__atomic_store_n((uint64_t *)(void *)table, carve_b, __ATOMIC_RELEASE);
	struct proto_query q = { .node = PROTO_NODE_ANY };
	assert_int_equal(proto_client_call(rs.fd, 5000, rs.request++, PROTO_QUERY, &q, sizeof(q),
					   PROTO_POOL_INFO, rs.buf, &m), 0);
	assert_int_equal(raw_stat(d.socket, "stash_taken"), taken + 1);
	expect_carve(rs.id, PS, 0, 0);
	expect_region_carve(plain, false);

	/* The session ends holding a carve page: nothing left counted. */
	uint64_t carve_c = raw_alloc_page(&rs, PROTO_ALLOC_CARVE);
	expect_region_carve(carve_c, true);
	expect_carve(rs.id, 2 * PS, PS, 8192);
	munmap(table, PROTO_STASH_BYTES);
	close(rs.fd);
	struct json *s = NULL;
	for (int i = 0; i < 100; i++) {
		json_free(s);
		s = ctl_json("stats");
		if (j_u64(j_obj(s, "stats"), "carve_leased_bytes") == 0)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(j_u64(j_obj(s, "stats"), "carve_leased_bytes"), 0);
	assert_int_equal(j_u64(j_obj(s, "stats"), "carve_in_use_bytes"), 0);
	json_free(s);
}

/* ---- the same, as libcontig carves ---- */

static const uint64_t carved_sizes[] = { 4096, 64 << 10, 12 << 10 };
#define CARVED_BYTES ((4096 + (64 << 10) + (12 << 10)))

/* Carve the sizes above, say so (1) or not (0) on rep_w, wait for a byte
 * on go_r, free them all, say so again, and wait for go_r to close. */
static void carver_main(int rep_w, int go_r)
{
	void *p[sizeof(carved_sizes) / sizeof(carved_sizes[0])];
	char ok = 1, ch;

	prctl(PR_SET_NAME, "cli-carver");
	unsetenv("CONTIG_CARVE");
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		p[i] = contig_alloc(carved_sizes[i], CONTIG_MAX_ADDRESS);
		ok &= p[i] != NULL;
	}
	if (write(rep_w, &ok, 1) != 1 || read(go_r, &ch, 1) != 1)
		_exit(1);
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		contig_free(p[i]);
	if (write(rep_w, &ok, 1) != 1)
		_exit(1);
	while (read(go_r, &ch, 1) > 0)
		;
	_exit(0);
}

/* The carve regions pid holds (its session's, as the listing shows them). */
static uint64_t carve_regions_of(pid_t pid)
{
	struct json *rg = ctl_json("regions");
	const struct json *a = j_arr(rg, "regions");
	uint64_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += j_i64(&a->items[i], "pid") == pid && j_bool(&a->items[i], "carve");
	json_free(rg);
	return n;
}

static void test_carve_libcontig(void **state)
{
	int rep[2], go[2];
	uint64_t session, pages;
	char ok = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(rep[0]);
		close(go[1]);
		carver_main(rep[1], go[0]);
	}
	close(rep[1]);
	close(go[0]);
	assert_int_equal(read(rep[0], &ok, 1), 1);
	assert_int_equal(ok, 1);

	/* Its regions are carved from whole pages it leases: the daemon counts
	 * the pages, the client reports exactly what it carved. */
	struct json *cl = ctl_json("clients");
	session = session_of(cl, pid);
	json_free(cl);
	assert_int_not_equal(session, 0);
	pages = carve_regions_of(pid);
	assert_true(pages >= 1);
	expect_carve(session, pages * PS, pages * PS, CARVED_BYTES);

	/* All freed: nothing in use; a page it parks for reuse stays leased
	 * until the daemon takes it. */
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(read(rep[0], &ok, 1), 1);
	pages = carve_regions_of(pid);
	expect_carve(session, pages * PS, pages * PS, 0);

	close(go[1]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(rep[0]);
	struct json *s = NULL;
	for (int i = 0; i < 100; i++) {
		json_free(s);
		s = ctl_json("stats");
		if (j_u64(j_obj(s, "stats"), "carve_leased_bytes") == 0)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(j_u64(j_obj(s, "stats"), "carve_leased_bytes"), 0);
	assert_int_equal(j_u64(j_obj(s, "stats"), "carve_in_use_bytes"), 0);
	json_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_clients),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_map_json),
		cmocka_unit_test(test_map_plain),
		cmocka_unit_test(test_map_pty),
		cmocka_unit_test(test_stats_json),
		cmocka_unit_test(test_stats_prometheus),
		cmocka_unit_test(test_text_outputs),
		cmocka_unit_test(test_unprivileged),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_sessions_paginated),
		cmocka_unit_test(test_after_exit),
		cmocka_unit_test(test_carve),
		cmocka_unit_test(test_carve_libcontig),
	};
	int failed = cmocka_run_group_tests_name("contigctl", tests, setup, teardown);

	return failed ? failed : teardown_status;
}
