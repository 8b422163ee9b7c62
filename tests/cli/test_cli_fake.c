/* SPDX-License-Identifier: MIT */
/*
 * test_cli_fake.c - contigctl against a fake daemon that serves synthetic
 * tables far larger than a test pool can make: 8192 pages (plus three
 * placeholders), 10,000 regions, 1000 sessions, counters in pages of 7,
 * with rows longer than this contigctl knows (a newer daemon). Checks the
 * paging loop itself (cli/conn.c over a socketpair), every command's output
 * built from many reply datagrams, the grouped map of a large pool, and the
 * exit codes of a daemon that speaks another version, refuses, closes, or
 * sends a cursor that never moves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "ctl.h"
#include "expo.h"
#include "jcheck.h"
#include "json.h"
#include "proto.h"

#define PS            (2ull << 20)
#define NREAL         8192u
#define NPLACEHOLDERS 3u
#define NPAGES        (NREAL + NPLACEHOLDERS)
#define NREGIONS      10000u
#define NSESSIONS     1000u
#define NCGROUPS      3u
#define SELF_INDEX    500u
#define STALE         (1ull << 62)
#define LIST_BYTES    (PROTO_MAX_MSG - sizeof(struct proto_hdr) - sizeof(struct proto_list_reply))

enum fake_mode {
	FAKE_OK,
	FAKE_HDR_VERSION,    /* every reply in header version 2 */
	FAKE_HELLO_VERSION,  /* HELLO_REPLY settles on session version 2 */
	FAKE_EACCES,         /* QUERY and LIST refused with EACCES */
	FAKE_STUCK,          /* LIST replies point back at the cursor asked */
	FAKE_WRONG_TABLE,    /* LIST replies for another table */
	FAKE_CLOSE,          /* hang up on LIST and QUERY */
	FAKE_FRAGMENTED,     /* no two pages adjacent: 8192 runs of one page */
};

/* Set before a FAKE_FRAGMENTED daemon starts, cleared after it stopped. */
static bool fragmented;
/* Likewise: every string in the tables is made of terminal escapes. */
static bool hostile;
static const char *const hostile_strings[] = {
	"\x1b]0;pwn\x07",     /* OSC: set the window title */
	"\x1b[2J\x1b[H",      /* erase the screen */
	"\23331m\xc3\xa9",     /* 8-bit CSI (octal 233), then UTF-8 */
	"a\rb\nc\x7f\x08",
};
#define NHOSTILE (sizeof(hostile_strings) / sizeof(hostile_strings[0]))

static const char *const stat_names[] = {
	"allocs", "frees", "fail_einval", "fail_enomem", "fail_edquot", "fail_eacces",
	"fail_other", "waits", "bytes_served", "reclaims", "reclaim_ns", "revoke_errors",
	"quarantined", "pinned", "pin_failures", "phys_changed", "lost", "audit_moved",
	"imports", "exports", "protocol_errors", "sessions_total", "carve_leased_bytes",
	"carve_in_use_bytes", "future_thing", "weird-name.x",
};
#define NSTATS (sizeof(stat_names) / sizeof(stat_names[0]))

/* Rows sent per table: the stride (>= our struct: a newer daemon's longer
 * rows) and at most how many in one reply. */
static const uint32_t stride[PROTO_TABLE_MAX] = {
	[PROTO_TABLE_RUNS] = sizeof(struct proto_run_item) + 8,
	[PROTO_TABLE_REGIONS] = sizeof(struct proto_region_item) + 16,
	[PROTO_TABLE_SESSIONS] = sizeof(struct proto_session_item),
	[PROTO_TABLE_PAGES] = sizeof(struct proto_page_item),
	[PROTO_TABLE_STATS] = sizeof(struct proto_stat_item) + 8,
	[PROTO_TABLE_CGROUPS] = sizeof(struct proto_cgroup_item) + 8,
};
static const uint32_t known_size[PROTO_TABLE_MAX] = {
	[PROTO_TABLE_RUNS] = sizeof(struct proto_run_item),
	[PROTO_TABLE_REGIONS] = sizeof(struct proto_region_item),
	[PROTO_TABLE_SESSIONS] = sizeof(struct proto_session_item),
	[PROTO_TABLE_PAGES] = sizeof(struct proto_page_item),
	[PROTO_TABLE_STATS] = sizeof(struct proto_stat_item),
	[PROTO_TABLE_CGROUPS] = sizeof(struct proto_cgroup_item),
};
static const uint32_t rows[PROTO_TABLE_MAX] = {
	[PROTO_TABLE_RUNS] = 4, [PROTO_TABLE_REGIONS] = NREGIONS,
	[PROTO_TABLE_SESSIONS] = NSESSIONS, [PROTO_TABLE_PAGES] = NPAGES,
	[PROTO_TABLE_STATS] = NSTATS, [PROTO_TABLE_CGROUPS] = NCGROUPS,
};

static uint32_t per_page(uint32_t table)
{
	return table == PROTO_TABLE_STATS ? 7 : (uint32_t)(LIST_BYTES / stride[table]);
}

static uint32_t pages_for(uint32_t table)
{
	return (rows[table] + per_page(table) - 1) / per_page(table);
}

/* ---- the synthetic pool ---- */

static uint64_t page_phys(uint32_t k)
{
	if (k >= NREAL)
		return STALE + (uint64_t)k * PS;
	if (fragmented)
		return 0x100000000ull + (uint64_t)k * 2 * PS;
	if (k < 4096)
		return 0x100000000ull + (uint64_t)k * PS;
	/* A 4 GiB hole, then 4096 adjacent pages: node 0, then node 1. */
	return 0x400000000ull + (uint64_t)(k - 4096) * PS;
}

static int32_t page_node(uint32_t k)
{
	return k >= 6144 && k < NREAL ? 1 : 0;
}

static uint8_t page_state(uint32_t k)
{
	if (k >= NREAL)
		return PROTO_PAGE_RECLAIMING;
	if (k == 5)
		return PROTO_PAGE_QUARANTINED;
	if (k == 7)
		return PROTO_PAGE_LOST;
	return k % 10 < 3 ? PROTO_PAGE_USED : PROTO_PAGE_FREE;
}

static void fill_page(uint32_t k, struct proto_page_item *it)
{
	it->phys = page_phys(k);
	it->state = page_state(k);
	it->node = page_node(k);
}

static const uint32_t run_first[5] = { 0, 4096, 6144, NREAL, NPAGES };

static void fill_run(uint32_t i, struct proto_run_item *it)
{
	it->phys = page_phys(run_first[i]);
	it->pages = run_first[i + 1] - run_first[i];
	it->node = page_node(run_first[i]);
	for (uint32_t k = run_first[i]; k < run_first[i + 1]; k++) {
		switch (page_state(k)) {
		case PROTO_PAGE_FREE: it->free++; break;
		case PROTO_PAGE_USED: it->used++; break;
		case PROTO_PAGE_RECLAIMING: it->reclaiming++; break;
		case PROTO_PAGE_QUARANTINED: it->quarantined++; break;
		default: break;
		}
	}
}

static void region_comm(uint32_t i, char comm[16])
{
	memset(comm, 0, 16);
	if (hostile)
		snprintf(comm, 16, "%s", hostile_strings[i % NHOSTILE]);
	else if (i == 0)
		memcpy(comm, "a\"b\\c\x01z", 7); /* escapes must survive */
	else
		snprintf(comm, 16, "app-%u", i % 50);
}

static void fill_region(uint32_t i, struct proto_region_item *it)
{
	it->region_id = ((uint64_t)(i + 1) << 32) | i;
	it->session_id = 1 + i % 50;
	it->npages = i % 3 + 1;
	it->nbytes = it->npages * PS - (i % 2) * 4096;
	it->phys = 0x100000000ull + (uint64_t)i * 4 * PS;
	it->lowest = (uint64_t)i * 4096;
	it->highest = i % 2 ? UINT64_MAX : 0xffffffffffull;
	it->boundary = i % 4 == 0 ? 1ull << 30 : 0;
	it->age_ns = (uint64_t)i * 1000000;
	it->node = i % 5 == 0 ? 1 : -1;
	it->pid = 1000 + (int32_t)(i % 50);
	it->uid = i % 50;
	it->holders = 1 + i % 3;
	it->flags = i % 7 == 3 ? PROTO_REGION_ITEM_CARVE : 0;
	region_comm(i, it->comm);
}

static uint64_t session_id_of(uint32_t i)
{
	return 10 + 3ull * i;
}

static void fill_session(uint32_t i, struct proto_session_item *it)
{
	it->session_id = session_id_of(i);
	it->bytes = (uint64_t)i * PS;
	it->age_ns = (uint64_t)i * 1000000000ull;
	it->pid = 2000 + (int32_t)i;
	it->uid = i % 7;
	it->gid = i % 5;
	it->regions = i;
	/* Every fourth session leases pages for carving, up to 3 of them, and
	 * has some of them in carved regions (none in its first). */
	it->carve_leased_bytes = i % 4 == 1 ? (uint64_t)(i % 3 + 1) * PS : 0;
	it->carve_in_use_bytes = i % 4 == 1 ? (uint64_t)(i % 5) * 4096 : 0;
	if (hostile)
		snprintf(it->comm, sizeof(it->comm), "%s", hostile_strings[i % NHOSTILE]);
	else
		snprintf(it->comm, sizeof(it->comm), "sess-%u", i);
}

/* The root, a limited subtree, one with a quote and a backslash in its
 * name (cgroup names may hold both), and a hostile one in hostile mode. */
static void fill_cgroup(uint32_t i, struct proto_cgroup_item *it)
{
	static const char *const paths[NCGROUPS] = { "/", "/kubepods.slice", "/we\\ird\"x" };

	if (hostile && i == NCGROUPS - 1)
		snprintf(it->path, sizeof(it->path), "/%s", hostile_strings[0]);
	else
		snprintf(it->path, sizeof(it->path), "%s", paths[i]);
	it->bytes = (uint64_t)(i + 1) * PS;
	it->limit = i == 1 ? 64 * PS : UINT64_MAX;
	it->sessions = i;
}

static void fill_stat(uint32_t i, struct proto_stat_item *it)
{
	if (hostile && i >= NSTATS - NHOSTILE)
		snprintf(it->name, sizeof(it->name), "%s", hostile_strings[NSTATS - 1 - i]);
	else
		snprintf(it->name, sizeof(it->name), "%s", stat_names[i]);
	it->value = (uint64_t)i * 1000 + 1;
}

/* ---- the fake daemon ---- */

struct fake {
	enum fake_mode mode;
	int listen_fd;
	char dir[64];
	char path[108];
	pthread_t thread;
	uint32_t lists[PROTO_TABLE_MAX];   /* LIST requests answered, per table */
};

static void fill_row(uint32_t table, uint32_t i, void *it)
{
	switch (table) {
	case PROTO_TABLE_RUNS: fill_run(i, it); break;
	case PROTO_TABLE_REGIONS: fill_region(i, it); break;
	case PROTO_TABLE_SESSIONS: fill_session(i, it); break;
	case PROTO_TABLE_PAGES: fill_page(i, it); break;
	case PROTO_TABLE_CGROUPS: fill_cgroup(i, it); break;
	default: fill_stat(i, it); break;
	}
}

/* Index of the first row at cursor: sessions go by last id sent (as the
 * daemon does), the rest by index. */
static uint32_t first_row(uint32_t table, uint64_t cursor)
{
	uint32_t i = 0;

	if (table != PROTO_TABLE_SESSIONS)
		return (uint32_t)cursor;
	while (i < NSESSIONS && session_id_of(i) <= cursor)
		i++;
	return i;
}

static size_t list_reply(struct fake *f, const struct proto_list *l, uint8_t *body)
{
	struct proto_list_reply *rep = (struct proto_list_reply *)(void *)body;
	uint32_t t = l->table, i = first_row(t, l->cursor), n = 0;

	memset(rep, 0, sizeof(*rep));
	rep->table = f->mode == FAKE_WRONG_TABLE ? (t % (PROTO_TABLE_MAX - 1)) + 1 : t;
	rep->item_size = stride[t];
	for (; i < rows[t] && n < per_page(t); i++, n++) {
		uint8_t *it = body + sizeof(*rep) + (size_t)n * stride[t];
		/* A newer daemon's tail, which must be ignored. */
		memset(it, 0xa5, stride[t]);
		memset(it, 0, known_size[t]);
		fill_row(t, i, it);
	}
	rep->count = n;
	if (i < rows[t])
		rep->next = t == PROTO_TABLE_SESSIONS ? session_id_of(i - 1) : i;
	if (f->mode == FAKE_STUCK)
		rep->next = l->cursor ? l->cursor : 1;
	f->lists[t]++;
	return sizeof(*rep) + (size_t)n * stride[t];
}

static void pool_info(struct proto_pool_info *i)
{
	memset(i, 0, sizeof(*i));
	i->page_size = PS;
	i->total_bytes = (uint64_t)NPAGES * PS;
	i->free_bytes = 1000 * PS;
	i->largest_free_run = 7 * PS;
	i->runs = 4;
	i->sessions = NSESSIONS;
	i->regions = NREGIONS;
	i->nodes = 3;
}

/* Answer one request; false to hang up. */
static bool serve_one(struct fake *f, const struct proto_msg *m, uint8_t *out)
{
	static uint8_t body[PROTO_MAX_MSG];
	uint16_t type = PROTO_STATUS;
	size_t len = sizeof(struct proto_status);
	struct proto_status *st = (void *)body;

	memset(body, 0, sizeof(struct proto_pool_info) + 64);
	switch (m->hdr.type) {
	case PROTO_HELLO: {
		struct proto_hello_reply *h = (void *)body;
		h->version = f->mode == FAKE_HELLO_VERSION ? 2 : PROTO_VERSION;
		h->max_fds = PROTO_MAX_FDS;
		h->page_size = PS;
		h->session_id = session_id_of(SELF_INDEX);
		h->pool_bytes = (uint64_t)NPAGES * PS;
		type = PROTO_HELLO_REPLY;
		len = sizeof(*h);
		break;
	}
	case PROTO_QUERY:
	case PROTO_LIST:
		if (f->mode == FAKE_CLOSE)
			return false;
		if (f->mode == FAKE_EACCES) {
			st->error = EACCES;
			break;
		}
		if (m->hdr.type == PROTO_QUERY) {
			pool_info((void *)body);
			type = PROTO_POOL_INFO;
			len = sizeof(struct proto_pool_info);
		} else {
			type = PROTO_LIST_REPLY;
			len = list_reply(f, &m->body.list, body);
		}
		break;
	default:
		st->error = EPROTO;
	}
	proto_encode(out, type, m->hdr.request, body, len);
	if (f->mode == FAKE_HDR_VERSION)
		((struct proto_hdr *)(void *)out)->version = 2;
	return true;
}

/* Serve one connection until the peer hangs up. Borrows fd. */
static void serve_conn(struct fake *f, int fd)
{
	static uint8_t in[PROTO_MAX_MSG], out[PROTO_MAX_MSG];
	struct proto_msg m;
	int fds[4];
	size_t nfds;

	for (;;) {
		ssize_t n = proto_recv(fd, in, sizeof(in), fds, 4, &nfds);
		if (n <= 0 || proto_decode(in, (size_t)n, nfds, &m) < 0)
			return;
		if (!serve_one(f, &m, out))
			return;
		if (proto_send(fd, out, ((struct proto_hdr *)(void *)out)->length, NULL, 0) < 0)
			return;
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return NULL; /* shut down */
		serve_conn(f, fd);
		close(fd);
	}
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	snprintf(f->dir, sizeof(f->dir), "/tmp/contig-fake-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/fake.sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(f->listen_fd >= 0);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->listen_fd, 8), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->listen_fd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	unlink(f->path);
	rmdir(f->dir);
}

/* ---- the paging loop itself ---- */

struct pair {
	struct fake f;
	int sv[2];
	pthread_t thread;
};

static void *pair_main(void *arg)
{
	struct pair *p = arg;

	serve_conn(&p->f, p->sv[1]);
	close(p->sv[1]);
	return NULL;
}

static struct conn *pair_start(struct pair *p, enum fake_mode mode)
{
	static struct conn c;

	memset(p, 0, sizeof(*p));
	p->f.mode = mode;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->sv), 0);
	assert_int_equal(pthread_create(&p->thread, NULL, pair_main, p), 0);
	memset(&c, 0, sizeof(c));
	c.fd = p->sv[0];
	return &c;
}

static void pair_stop(struct pair *p, struct conn *c)
{
	conn_close(c);
	pthread_join(p->thread, NULL);
}

static void test_conn_list_pages(void **state)
{
	struct pair p;
	struct conn *c = pair_start(&p, FAKE_OK);
	struct proto_region_item *rg, want_rg;
	struct proto_session_item *ss;
	struct proto_page_item *pg;
	struct proto_stat_item *st;
	size_t n;

	(void)state;
	assert_int_equal(conn_list(c, PROTO_TABLE_REGIONS, sizeof(*rg), (void **)&rg, &n), 0);
	assert_int_equal(n, NREGIONS);
	assert_true(pages_for(PROTO_TABLE_REGIONS) > 30);
	assert_int_equal(p.f.lists[PROTO_TABLE_REGIONS], pages_for(PROTO_TABLE_REGIONS));
	for (uint32_t i = 0; i < NREGIONS; i++) {
		memset(&want_rg, 0, sizeof(want_rg));
		fill_region(i, &want_rg);
		assert_memory_equal(&rg[i], &want_rg, sizeof(want_rg));
	}
	free(rg);

	assert_int_equal(conn_list(c, PROTO_TABLE_SESSIONS, sizeof(*ss), (void **)&ss, &n), 0);
	assert_int_equal(n, NSESSIONS);
	assert_int_equal(p.f.lists[PROTO_TABLE_SESSIONS], pages_for(PROTO_TABLE_SESSIONS));
	for (uint32_t i = 0; i < NSESSIONS; i++)
		assert_int_equal(ss[i].session_id, session_id_of(i));
	free(ss);

	assert_int_equal(conn_list(c, PROTO_TABLE_PAGES, sizeof(*pg), (void **)&pg, &n), 0);
	assert_int_equal(n, NPAGES);
	assert_int_equal(p.f.lists[PROTO_TABLE_PAGES], 5); /* 2045 a datagram */
	for (uint32_t i = 0; i < NPAGES; i++)
		assert_int_equal(pg[i].phys, page_phys(i));
	free(pg);

	assert_int_equal(conn_list(c, PROTO_TABLE_STATS, sizeof(*st), (void **)&st, &n), 0);
	assert_int_equal(n, NSTATS);
	assert_int_equal(p.f.lists[PROTO_TABLE_STATS], (NSTATS + 6) / 7);
	assert_string_equal(st[NSTATS - 1].name, "weird-name.x");
	free(st);
	pair_stop(&p, c);
}

static void expect_list_error(enum fake_mode mode, int want)
{
	struct pair p;
	struct conn *c = pair_start(&p, mode);
	void *rows_out = (void *)1;
	size_t n = 77;

	assert_int_equal(conn_list(c, PROTO_TABLE_REGIONS, sizeof(struct proto_region_item),
				   &rows_out, &n), want);
	/* Outputs untouched on failure. */
	assert_ptr_equal(rows_out, (void *)1);
	assert_int_equal(n, 77);
	pair_stop(&p, c);
}

static void test_conn_list_broken(void **state)
{
	(void)state;
	expect_list_error(FAKE_STUCK, -EPROTO);
	expect_list_error(FAKE_WRONG_TABLE, -EPROTO);
	expect_list_error(FAKE_EACCES, -EACCES);
	expect_list_error(FAKE_CLOSE, -ECONNRESET);
	expect_list_error(FAKE_HDR_VERSION, -EPROTONOSUPPORT);
}

/* ---- the binary against the fake daemon ---- */

static struct fake fk;

static struct json *run_json(const char *cmd, double *ret_ms)
{
	const char *const args[] = { "--socket", fk.path, cmd, "--json", NULL };
	struct timespec a, b;
	struct ctl_out r;
	struct json *j;
	char err[256];

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (r.status || r.err[0])
		fail_msg("%s --json: exit %d: %s", cmd, r.status, r.err);
	j = json_parse(r.out, err, sizeof(err));
	if (!j)
		fail_msg("%s --json: %s", cmd, err);
	if (ret_ms)
		*ret_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	ctl_free(&r);
	return j;
}

static void test_regions_10000(void **state)
{
	struct proto_region_item w;
	double ms;
	struct json *j = run_json("regions", &ms);
	const struct json *a = j_arr(j, "regions");
	char comm[17];

	(void)state;
	printf("contigctl regions --json, %u regions in %u datagrams: %.1f ms\n", NREGIONS,
	       pages_for(PROTO_TABLE_REGIONS), ms);
	assert_int_equal(a->n, NREGIONS);
	for (uint32_t i = 0; i < NREGIONS; i++) {
		const struct json *g = &a->items[i];
		memset(&w, 0, sizeof(w));
		fill_region(i, &w);
		assert_int_equal(j_u64(g, "id"), w.region_id);
		assert_int_equal(j_u64(g, "session"), w.session_id);
		assert_int_equal(j_u64(g, "bytes"), w.nbytes);
		assert_int_equal(j_u64(g, "mapped_bytes"), w.npages * PS);
		assert_int_equal(j_u64(g, "phys"), w.phys);
		assert_int_equal(j_u64(g, "phys_end"), w.phys + w.nbytes - 1);
		assert_int_equal(j_u64(g, "lowest"), w.lowest);
		assert_int_equal(j_u64(g, "highest"), w.highest);
		assert_int_equal(j_u64(g, "boundary"), w.boundary);
		assert_int_equal((int)j_i64(g, "node"), w.node);
		assert_int_equal((int)j_i64(g, "pid"), w.pid);
		assert_int_equal(j_u64(g, "uid"), w.uid);
		assert_int_equal(j_u64(g, "holders"), w.holders);
		assert_int_equal(j_bool(g, "carve"), !!(w.flags & PROTO_REGION_ITEM_CARVE));
		memcpy(comm, w.comm, 16);
		comm[16] = 0;
		assert_string_equal(j_str(g, "comm"), comm);
	}
	json_free(j);
}

static void test_map_8192(void **state)
{
	const char *const args[] = { "--socket", fk.path, "map", "--width", "80", NULL };
	double ms;
	struct json *j = run_json("map", &ms);
	const struct json *a = j_arr(j, "pages");
	size_t cells = 0, lines = 0, placeholder_cells = 0, widest = 0, group = 0;
	struct ctl_out r;

	(void)state;
	printf("contigctl map --json, %u pages in %u datagrams: %.1f ms\n", NPAGES,
	       pages_for(PROTO_TABLE_PAGES), ms);
	assert_int_equal(a->n, NPAGES);
	for (uint32_t i = 0; i < NPAGES; i++) {
		assert_int_equal(j_u64(&a->items[i], "phys"), page_phys(i));
		assert_int_equal(j_bool(&a->items[i], "placeholder"), i >= NREAL);
	}
	json_free(j);

	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	const char *g = strstr(r.out, "1 cell = ");
	assert_non_null(g);
	group = strtoul(g + 9, NULL, 10);
	assert_true(group > 1); /* 8192 pages do not fit 64 lines of 68 cells */
	for (const char *p = r.out; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p);
		if (n > 80)
			fail_msg("line wider than 80 columns: %.*s", (int)n, p);
		widest = n > widest ? n : widest;
		/* Cells are the last word of a line labelled by an address or
		 * "(no frame)". */
		const char *sp = memrchr(p, ' ', n);
		if (!strncmp(p, "0x", 2) || !strncmp(p, "(no frame)", 10)) {
			for (const char *c = sp + 1; c < p + n; c++) {
				assert_non_null(strchr(".#rqX+", *c));
				cells++;
				placeholder_cells += *p == '(';
			}
			lines++;
		}
		p = nl + 1;
	}
	assert_true(widest <= 80);
	assert_true(lines <= 64);
	assert_int_equal(cells, (4096 + group - 1) / group + 2 * ((2048 + group - 1) / group) +
					(NPLACEHOLDERS + group - 1) / group);
	assert_int_equal(placeholder_cells, (NPLACEHOLDERS + group - 1) / group);
	assert_non_null(strstr(r.out, "~~ gap of 4 GiB ~~"));
	assert_non_null(strstr(r.out, "~~ node 0 | node 1 ~~"));
	assert_non_null(strstr(r.out, "3 pages reclaiming, no frame yet"));
	assert_non_null(strstr(r.out, "+ mixed"));
	assert_non_null(strstr(r.out, "legend:"));
	ctl_free(&r);
}

/* Many short runs: one line each, one page a cell (bigger cells would
 * hide the holes without making the map shorter). */
static void test_map_fragmented(void **state)
{
	struct fake f;
	struct ctl_out r;
	size_t cells = 0, gaps = 0;

	(void)state;
	fragmented = true;
	fake_start(&f, FAKE_FRAGMENTED);
	const char *const args[] = { "--socket", f.path, "map", "--width", "80", NULL };
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	fake_stop(&f);
	fragmented = false;
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "1 cell = 1 page of 2 MiB"));
	for (const char *p = r.out; *p;) {
		const char *nl = strchr(p, '\n');
		const char *sp = memrchr(p, ' ', (size_t)(nl - p));
		if (!strncmp(p, "0x", 2) || !strncmp(p, "(no frame)", 10))
			cells += (size_t)(nl - sp - 1);
		gaps += !!memmem(p, (size_t)(nl - p), "~~ gap of 2 MiB ~~", 18);
		p = nl + 1;
	}
	assert_int_equal(cells, NPAGES);
	assert_int_equal(gaps, NREAL - 1);
	ctl_free(&r);
}

static void test_runs_placeholder(void **state)
{
	const char *const args[] = { "--socket", fk.path, "runs", NULL };
	struct json *j = run_json("runs", NULL);
	const struct json *a = j_arr(j, "runs");
	struct ctl_out r;

	(void)state;
	assert_int_equal(a->n, 4);
	for (uint32_t i = 0; i < 4; i++) {
		struct proto_run_item w = { 0 };
		fill_run(i, &w);
		assert_int_equal(j_u64(&a->items[i], "phys"), w.phys);
		assert_int_equal(j_u64(&a->items[i], "pages"), w.pages);
		assert_int_equal(j_u64(&a->items[i], "used"), w.used);
		assert_int_equal(j_u64(&a->items[i], "lost"), i == 0 ? 1 : 0);
		assert_int_equal(j_bool(&a->items[i], "placeholder"), i == 3);
	}
	json_free(j);
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "3 runs, 8192 pages"));
	assert_non_null(strstr(r.out, "3 more pages are being reclaimed"));
	assert_non_null(strstr(r.out, "4 GiB"));   /* the hole before the second run */
	ctl_free(&r);
}

static void test_clients_1000(void **state)
{
	struct json *j = run_json("clients", NULL);
	const struct json *a = j_arr(j, "clients");
	size_t selves = 0;

	(void)state;
	assert_int_equal(a->n, NSESSIONS);
	for (uint32_t i = 0; i < NSESSIONS; i++) {
		const struct json *s = &a->items[i];
		struct proto_session_item w = { 0 };
		fill_session(i, &w);
		assert_int_equal(j_u64(s, "session"), session_id_of(i));
		assert_int_equal(j_u64(s, "regions"), i);
		assert_int_equal(j_u64(s, "bytes"), (uint64_t)i * PS);
		assert_int_equal(j_u64(s, "carve_leased_bytes"), w.carve_leased_bytes);
		assert_int_equal(j_u64(s, "carve_in_use_bytes"), w.carve_in_use_bytes);
		if (j_bool(s, "self")) {
			selves++;
			assert_int_equal(i, SELF_INDEX);
		}
	}
	assert_int_equal(selves, 1);
	json_free(j);
}

/* The carve columns of the clients text: sizes for a session that leases
 * pages for carving, "-" for one that does not; and the mark of a carve
 * region in the regions text, on its line and no other. */
static void test_carve_text(void **state)
{
	const char *const args[] = { "--socket", fk.path, "clients", NULL };
	const char *const rargs[] = { "--socket", fk.path, "regions", NULL };
	size_t marked = 0, carve = 0;
	struct ctl_out r;
	char want[160];

	(void)state;
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "CARVE LEASED"));
	assert_non_null(strstr(r.out, "CARVE USED"));
	/* Session 5: 3 pages leased, 0 carved; session 9: 1 page, 16 KiB. */
	snprintf(want, sizeof(want), "%9s %12s %10s  ", "10 MiB", "6 MiB", "0 B");
	assert_non_null(strstr(r.out, want));
	snprintf(want, sizeof(want), "%9s %12s %10s  ", "18 MiB", "2 MiB", "16 KiB");
	assert_non_null(strstr(r.out, want));
	/* Session 0 leases none. */
	snprintf(want, sizeof(want), "%9s %12s %10s  ", "0 B", "-", "-");
	assert_non_null(strstr(r.out, want));
	ctl_free(&r);

	assert_int_equal(ctl_run(&r, NULL, rargs), 0);
	assert_int_equal(r.status, 0);
	for (uint32_t i = 0; i < NREGIONS; i++)
		carve += i % 7 == 3;
	for (const char *p = r.out; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p);
		if (n > 9 && !memcmp(nl - 9, "  (carve)", 9)) {
			uint64_t id = strtoull(p, NULL, 10);
			assert_int_equal((uint32_t)id % 7, 3);
			marked++;
		}
		p = nl + 1;
	}
	assert_int_equal(marked, carve);
	snprintf(want, sizeof(want), "; %zu (carve) leased for carving", carve);
	assert_non_null(strstr(r.out, want));
	ctl_free(&r);
}

static void test_stats_pages(void **state)
{
	const char *const args[] = { "--socket", fk.path, "stats", "--prometheus", NULL };
	struct json *j = run_json("stats", NULL);
	const struct json *st = j_obj(j, "stats");
	struct ctl_out r;
	char err[256];
	double v;

	(void)state;
	assert_int_equal(st->n, NSTATS);
	for (uint32_t i = 0; i < NSTATS; i++)
		assert_int_equal(j_u64(st, stat_names[i]), i * 1000 + 1);
	json_free(j);

	assert_int_equal(ctl_run(&r, NULL, args), 0);
	assert_int_equal(r.status, 0);
	int n = expo_check(r.out, err, sizeof(err));
	if (n < 0)
		fail_msg("%s", err);
	/* Counters we have no name for keep theirs. */
	assert_int_equal(expo_value(r.out, "contig_future_thing_total", &v), 0);
	assert_true(v == 24001);
	/* The carve totals are figures of now: gauges, not counters. */
	assert_int_equal(expo_value(r.out, "contig_carve_leased_bytes", &v), 0);
	assert_true(v == 22001);
	assert_int_equal(expo_value(r.out, "contig_carve_in_use_bytes", &v), 0);
	assert_true(v == 23001);
	assert_non_null(strstr(r.out, "# TYPE contig_carve_leased_bytes gauge\n"));
	assert_non_null(strstr(r.out, "# TYPE contig_carve_in_use_bytes gauge\n"));
	assert_int_equal(expo_value(r.out, "contig_weird_name_x_total", &v), 0);
	/* Base units: reclaim_ns (index 10) in seconds. */
	assert_int_equal(expo_value(r.out, "contig_reclaim_seconds_total", &v), 0);
	assert_true(v > 10001e-9 * 0.999 && v < 10001e-9 * 1.001);
	assert_non_null(strstr(r.out, "# TYPE contig_future_thing_total counter\n"));
	/* Per cgroup: bytes for each, a limit where there is one; label
	 * values escaped as the exposition format asks. */
	assert_non_null(strstr(r.out, "contig_cgroup_bytes{cgroup=\"/\"} 2097152\n"));
	assert_non_null(strstr(r.out, "contig_cgroup_bytes{cgroup=\"/kubepods.slice\"} 4194304\n"));
	assert_non_null(strstr(r.out, "contig_cgroup_bytes{cgroup=\"/we\\\\ird\\\"x\"} 6291456\n"));
	assert_non_null(strstr(r.out, "contig_cgroup_limit_bytes{cgroup=\"/kubepods.slice\"} 134217728\n"));
	assert_null(strstr(r.out, "contig_cgroup_limit_bytes{cgroup=\"/\"}"));
	ctl_free(&r);
}

/* Nothing but printable ASCII and newlines reaches the terminal, whatever
 * the daemon's strings hold; JSON still carries them exactly. */
static void test_hostile_strings(void **state)
{
	static const char *const cmds[][3] = {
		{ "clients", NULL }, { "regions", NULL }, { "stats", NULL },
		{ "stats", "--prometheus" },
	};
	struct fake f;
	struct ctl_out r;
	char err[256];

	(void)state;
	hostile = true;
	fake_start(&f, FAKE_OK);
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		const char *const args[] = { "--socket", f.path, cmds[c][0], cmds[c][1], NULL };
		assert_int_equal(ctl_run(&r, NULL, args), 0);
		assert_int_equal(r.status, 0);
		for (const char *p = r.out; *p; p++)
			if (*p != '\n' && (*p < 0x20 || *p >= 0x7f))
				fail_msg("%s %s: byte %#x at offset %zu of its output", cmds[c][0],
					 cmds[c][1] ? cmds[c][1] : "", (unsigned char)*p,
					 (size_t)(p - r.out));
		if (cmds[c][1] && expo_check(r.out, err, sizeof(err)) < 0)
			fail_msg("stats --prometheus: %s", err);
		if (!strcmp(cmds[c][0], "clients"))
			assert_non_null(strstr(r.out, "?]0;pwn?"));
		ctl_free(&r);
	}
	const char *const args[] = { "--socket", f.path, "clients", "--json", NULL };
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	struct json *j = json_parse(r.out, err, sizeof(err));
	if (!j)
		fail_msg("clients --json: %s", err);
	assert_string_equal(j_str(&j_arr(j, "clients")->items[0], "comm"), hostile_strings[0]);
	json_free(j);
	ctl_free(&r);
	fake_stop(&f);
	hostile = false;
}

static void expect_mode_exit(enum fake_mode mode, const char *cmd, int code, const char *words)
{
	struct fake f;
	struct ctl_out r;

	fake_start(&f, mode);
	const char *const args[] = { "--socket", f.path, cmd, "--json", NULL };
	assert_int_equal(ctl_run(&r, NULL, args), 0);
	fake_stop(&f);
	if (r.status != code || !strstr(r.err, words))
		fail_msg("mode %d, %s: exit %d (expected %d), stderr: %s", mode, cmd, r.status, code,
			 r.err);
	assert_int_equal(count_lines(r.err), 1);
	assert_string_equal(r.out, "");
	ctl_free(&r);
}

static void test_exit_codes(void **state)
{
	(void)state;
	expect_mode_exit(FAKE_HDR_VERSION, "status", 5, "another protocol version");
	expect_mode_exit(FAKE_HELLO_VERSION, "status", 5, "another protocol version");
	expect_mode_exit(FAKE_EACCES, "regions", 4, "permission denied");
	expect_mode_exit(FAKE_EACCES, "status", 4, "permission denied");
	expect_mode_exit(FAKE_CLOSE, "map", 3, "closed the connection");
	expect_mode_exit(FAKE_STUCK, "clients", 1, "clients");
	expect_mode_exit(FAKE_WRONG_TABLE, "runs", 1, "runs");
}

static int group_setup(void **state)
{
	(void)state;
	fake_start(&fk, FAKE_OK);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fake_stop(&fk);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_list_pages),
		cmocka_unit_test(test_conn_list_broken),
		cmocka_unit_test(test_regions_10000),
		cmocka_unit_test(test_map_8192),
		cmocka_unit_test(test_map_fragmented),
		cmocka_unit_test(test_runs_placeholder),
		cmocka_unit_test(test_clients_1000),
		cmocka_unit_test(test_carve_text),
		cmocka_unit_test(test_stats_pages),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests_name("contigctl-fake", tests, group_setup, group_teardown);
}
