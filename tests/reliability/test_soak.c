/* SPDX-License-Identifier: MIT */
/*
 * test_soak.c - many client processes against one real contigd for
 * $CONTIG_TEST_SOAK_SECONDS (20 by default in the suite; run it for hours
 * with e.g. CONTIG_TEST_SOAK_SECONDS=3600 CONTIG_TEST_SOAK_CLIENTS=16
 * build/tests/reliability/test-soak), while a supervisor SIGKILLs a random
 * client about every 200 ms, wherever it is (in a request, mapping pages,
 * checking memory), and starts a replacement.
 *
 * Each client allocates and frees random sizes (4 KiB .. 8 MiB) under
 * random constraints drawn from the pool's real physical layout (the raw
 * PAGES table): ceilings and floors at page addresses, windows, boundaries.
 * On allocation it checks the memory reads zero, the constraints hold and
 * contig_phys_addr agrees with /proc/self/pagemap; it then fills the region
 * with a tag unique to this client and region, publishes the physical range
 * in shared memory (no live range of another client may overlap it), and
 * before freeing it checks every word still holds its tag.
 *
 * At the end (all clients told to stop, then gone): no violation, every
 * page back (free == total, each page of the table FREE), the daemon's fd
 * count at its baseline, and the daemon's counters agree with what the
 * clients saw (see check_counts). Totals are printed: sessions, operations,
 * kills, bytes checked.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawclient.h"
#include "relcommon.h"

#define MAX_CLIENTS 64
#define MAX_LIVE    3      /* regions a client holds at once */
#define MAX_PAGES   4096

struct range {
	uint64_t lo, hi;     /* inclusive; lo > hi: empty */
};

struct slot {
	pid_t pid;
	int dead;            /* set before SIGKILL: its ranges no longer count */
	int in_alloc;        /* in contig_alloc*, its outcome not counted yet */
	int served;          /* had an answer: it has a session */
	struct range live[MAX_LIVE];
};

struct shared {
	int stop;
	uint64_t serial;                 /* clients started */
	uint64_t allocs, frees, enomem, waits_ns, ops;
	uint64_t bytes_allocated;        /* asked for by the successful allocs */
	uint64_t bytes_checked;
	uint64_t violations;
	char first_violation[512];
	uint32_t npages;
	uint64_t page_phys[MAX_PAGES];   /* the pool's pages, in physical order */
	struct slot slots[MAX_CLIENTS];
};

static struct daemon_proc d;
static struct shared *sh;
static int teardown_status;

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && atoi(v) > 0 ? atoi(v) : def;
}

static int setup(void **state)
{
	static const char *const args[] = { "--pool", "128M", NULL };

	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	return daemon_start(&d, args);
}

static int teardown(void **state)
{
	(void)state;
	teardown_status = daemon_stop(&d) == 0 ? 0 : 1;
	munmap(sh, sizeof(*sh));
	return teardown_status ? -1 : 0;
}

/* ---- the client (a child process: no cmocka here) ---- */

struct held {
	uint8_t *p;
	size_t n;
	uint64_t tag;
};

static __attribute__((format(printf, 1, 2))) void violation(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&sh->violations, 1, __ATOMIC_SEQ_CST) == 0) {
		va_start(ap, fmt);
		vsnprintf(sh->first_violation, sizeof(sh->first_violation), fmt, ap);
		va_end(ap);
	}
	va_start(ap, fmt);
	fprintf(stderr, "soak violation (pid %d): ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: a stream per client. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void add(uint64_t *counter, uint64_t v)
{
	__atomic_fetch_add(counter, v, __ATOMIC_RELAXED);
}

/* Which other live client, if any, has published a range overlapping r. */
static int overlap(int me, struct range r)
{
	for (int s = 0; s < MAX_CLIENTS; s++) {
		if (s == me || __atomic_load_n(&sh->slots[s].dead, __ATOMIC_SEQ_CST))
			continue;
		for (int k = 0; k < MAX_LIVE; k++) {
			uint64_t lo = __atomic_load_n(&sh->slots[s].live[k].lo, __ATOMIC_SEQ_CST);
			uint64_t hi = __atomic_load_n(&sh->slots[s].live[k].hi, __ATOMIC_SEQ_CST);
			if (lo <= hi && lo <= r.hi && r.lo <= hi)
				return s;
		}
	}
	return -1;
}

static void publish(int me, int k, uint64_t lo, uint64_t hi)
{
	/* Empty first, then hi, then lo: a reader never sees a wrong range. */
	__atomic_store_n(&sh->slots[me].live[k].lo, UINT64_MAX, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sh->slots[me].live[k].hi, hi, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sh->slots[me].live[k].lo, lo, __ATOMIC_SEQ_CST);
}

static void fill(struct held *h)
{
	uint64_t *w = (uint64_t *)(void *)h->p;

	for (size_t i = 0; i < h->n / 8; i++)
		w[i] = h->tag;
}

/* Every word still holds the tag; on a mismatch, say whose it looks like. */
static void verify(const struct held *h)
{
	const uint64_t *w = (const uint64_t *)(const void *)h->p;

	for (size_t i = 0; i < h->n / 8; i++) {
		if (w[i] != h->tag) {
			violation("region at phys 0x%llx: word %zu is 0x%llx, not its tag 0x%llx%s",
				  (unsigned long long)contig_phys_addr(h->p), i,
				  (unsigned long long)w[i], (unsigned long long)h->tag,
				  w[i] >> 48 == 0x50a4 ? " (another client's tag)" : "");
			return;
		}
	}
	add(&sh->bytes_checked, h->n);
}

static size_t random_size(uint64_t *s)
{
	unsigned shift = 12 + (unsigned)(rnd(s) % 12);          /* 4 KiB .. 8 MiB */
	size_t n = ((size_t)1 << shift) + (size_t)(rnd(s) % ((size_t)1 << shift));

	return n > 8 * MiB ? 8 * MiB : n;
}

/* Random constraints that are valid arguments (the answer may be ENOMEM). */
static void random_constraints(uint64_t *s, size_t n, uint64_t *lo, uint64_t *hi, uint64_t *bound)
{
	uint32_t np = sh->npages;
	uint64_t first = sh->page_phys[0], last = sh->page_phys[np - 1] + PS - 1;

	*lo = 0;
	*hi = CONTIG_MAX_ADDRESS;
	*bound = 0;
	switch (rnd(s) % 6) {
	case 0: /* a ceiling at the end of some pool page */
		*hi = sh->page_phys[rnd(s) % np] + PS - 1;
		break;
	case 1: /* a floor at some pool page */
		*lo = sh->page_phys[rnd(s) % np];
		break;
	case 2: { /* a window between two pool pages */
		uint32_t a = (uint32_t)(rnd(s) % np), b = (uint32_t)(rnd(s) % np);
		if (a > b) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		*lo = sh->page_phys[a];
		*hi = sh->page_phys[b] + PS - 1;
		break;
	}
	case 3: { /* a boundary: a power of two >= n */
		uint64_t b = 4096;
		while (b < n)
			b <<= 1;
		*bound = b << (rnd(s) % 3);
		break;
	}
	case 4: /* the pool's whole range, exactly */
		*lo = first;
		*hi = last;
		break;
	default:
		break;
	}
}

static void client_alloc(int me, uint64_t *s, struct held *h, int k, uint64_t serial, uint64_t seq)
{
	size_t n = random_size(s);
	uint64_t lo, hi, bound;

	random_constraints(s, n, &lo, &hi, &bound);
	errno = 0;
	/* Until the outcome is counted, a kill leaves the daemon's count of
	 * it unknown to us (it may have answered): the supervisor notes it. */
	__atomic_store_n(&sh->slots[me].in_alloc, 1, __ATOMIC_SEQ_CST);
	uint8_t *p = contig_alloc_specify_cache(n, lo, hi, bound, CONTIG_CACHED);
	int e = errno;
	add(&sh->ops, 1);
	if (p || e == ENOMEM)
		__atomic_store_n(&sh->slots[me].served, 1, __ATOMIC_SEQ_CST);
	if (!p) {
		if (e == ENOMEM)
			add(&sh->enomem, 1);
		__atomic_store_n(&sh->slots[me].in_alloc, 0, __ATOMIC_SEQ_CST);
		if (e != ENOMEM)
			violation("alloc of %zu in [0x%llx, 0x%llx] boundary 0x%llx: errno %d", n,
				  (unsigned long long)lo, (unsigned long long)hi,
				  (unsigned long long)bound, e);
		return;
	}
	add(&sh->allocs, 1);
	add(&sh->bytes_allocated, n);
	__atomic_store_n(&sh->slots[me].in_alloc, 0, __ATOMIC_SEQ_CST);
	uint64_t ph = contig_phys_addr(p);
	struct range r = { ph, ph + n - 1 };
	if (ph == CONTIG_PHYS_INVALID || ph < lo || ph + n - 1 > hi ||
	    (bound && ph / bound != (ph + n - 1) / bound))
		violation("region 0x%llx+%zu breaks [0x%llx, 0x%llx] boundary 0x%llx",
			  (unsigned long long)ph, n, (unsigned long long)lo, (unsigned long long)hi,
			  (unsigned long long)bound);
	if (pagemap_phys(p) != ph || pagemap_phys(p + n - 1) != ph + n - 1)
		violation("contig_phys_addr 0x%llx, pagemap 0x%llx", (unsigned long long)ph,
			  (unsigned long long)pagemap_phys(p));
	if (!all_zero(p, n)) {
		const uint64_t *w = (const uint64_t *)(const void *)p;
		size_t i = 0;
		while (i < n / 8 && !w[i])
			i++;
		violation("new region at 0x%llx is not zero: word %zu is 0x%llx%s",
			  (unsigned long long)ph, i, i < n / 8 ? (unsigned long long)w[i] : 0ull,
			  i < n / 8 && w[i] >> 48 == 0x50a4 ? " (another client's tag)" : "");
	} else {
		add(&sh->bytes_checked, n);
	}
	int other = overlap(me, r);
	if (other >= 0)
		violation("region 0x%llx+%zu overlaps a live region of client slot %d",
			  (unsigned long long)ph, n, other);
	*h = (struct held){ p, n, 0x50a4ull << 48 | (serial & 0xffffff) << 24 | (seq & 0xffffff) };
	fill(h);
	publish(me, k, r.lo, r.hi);
}

static void client_free(int me, struct held *h, int k)
{
	publish(me, k, UINT64_MAX, 0);
	verify(h);
	contig_free(h->p);
	add(&sh->ops, 1);
	add(&sh->frees, 1);
	h->p = NULL;
}

static int client_main(int me, uint64_t serial)
{
	struct held held[MAX_LIVE] = { { 0 } };
	uint64_t s = serial * 0x9e3779b97f4a7c15ull + 1, seq = 0;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		int k = (int)(rnd(&s) % MAX_LIVE);
		if (held[k].p)
			client_free(me, &held[k], k);
		else
			client_alloc(me, &s, &held[k], k, serial, ++seq);
	}
	for (int k = 0; k < MAX_LIVE; k++)
		if (held[k].p)
			client_free(me, &held[k], k);
	return 0;
}

static pid_t spawn(int slot)
{
	uint64_t serial = __atomic_add_fetch(&sh->serial, 1, __ATOMIC_SEQ_CST);
	struct slot *sl = &sh->slots[slot];
	pid_t pid;

	for (int k = 0; k < MAX_LIVE; k++)
		publish(slot, k, UINT64_MAX, 0);
	__atomic_store_n(&sl->in_alloc, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sl->served, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sl->dead, 0, __ATOMIC_SEQ_CST);
	pid = fork();
	if (pid == 0)
		_exit(client_main(slot, serial));
	sl->pid = pid;
	return pid;
}

/* ---- the supervisor ---- */

/* The daemon's STATS table, the counters check_counts reads. */
struct counters {
	uint64_t allocs, frees, fail_einval, fail_enomem, fail_edquot, fail_eacces, fail_other;
	uint64_t bytes_served, reclaims, quarantined, revoke_errors, imports, exports;
	uint64_t protocol_errors, sessions_total, stash_taken, stash_bogus;
	int seen;
};

static void counter_row(const void *item, void *arg)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
#define C(f) { #f, offsetof(struct counters, f) }
		C(allocs), C(frees), C(fail_einval), C(fail_enomem), C(fail_edquot),
		C(fail_eacces), C(fail_other), C(bytes_served), C(reclaims),
		C(quarantined), C(revoke_errors), C(imports), C(exports), C(protocol_errors),
		C(sessions_total), C(stash_taken), C(stash_bogus),
#undef C
	};
	struct counters *c = arg;
	struct proto_stat_item it;

	memcpy(&it, item, sizeof(it));
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strncmp(it.name, known[i].name, sizeof(it.name)))
			continue;
		memcpy((char *)c + known[i].off, &it.value, sizeof(it.value));
		c->seen++;
	}
}

/* One raw session (counted in sessions_total as it reads it). */
static void read_counters(struct counters *c)
{
	*c = (struct counters){ 0 };
	assert_true(raw_list(d.socket, PROTO_TABLE_STATS, counter_row, c) > 0);
	assert_int_equal(c->seen, 17);
}

#define DELTA(f) (b->f - a->f)

/*
 * What the daemon counted between a and b against what the clients saw.
 * Exact where the clients see it all; a client killed inside contig_alloc
 * (in_alloc kills) may have been answered without counting it, and a stash
 * hit is an allocation the daemon never sees, hence the bounds. raw_between
 * is how many raw sessions the supervisor opened after a, b's own included.
 */
static void check_counts(const struct counters *a, const struct counters *b,
			 uint64_t in_alloc_kills, uint64_t served_clients, uint64_t raw_between)
{
	/* Every region served went back, by FREE, stash take or session end. */
	assert_int_equal(DELTA(frees), DELTA(allocs));
	assert_true(DELTA(allocs) <= sh->allocs + in_alloc_kills);
	assert_true(DELTA(bytes_served) <= sh->bytes_allocated + in_alloc_kills * 8 * MiB);
	assert_true(DELTA(fail_enomem) >= sh->enomem);
	assert_true(DELTA(fail_enomem) <= sh->enomem + in_alloc_kills);
	/* Valid arguments, no quota, no sharing, well-formed messages. */
	assert_int_equal(DELTA(fail_einval), 0);
	assert_int_equal(DELTA(fail_edquot), 0);
	assert_int_equal(DELTA(fail_eacces), 0);
	assert_int_equal(DELTA(fail_other), 0);
	assert_int_equal(DELTA(imports), 0);
	assert_int_equal(DELTA(exports), 0);
	assert_int_equal(DELTA(protocol_errors), 0);
	assert_int_equal(DELTA(stash_bogus), 0);
	assert_int_equal(DELTA(revoke_errors), 0);
	/* A stash taken back is one of the frees; every page of a freed
	 * region (at least one each) came back through reclaim, quarantined
	 * ones too. */
	assert_true(DELTA(stash_taken) <= DELTA(frees));
	assert_true(DELTA(reclaims) >= DELTA(frees));
	assert_true(DELTA(reclaims) >= DELTA(quarantined));
	/* One session per client that got an answer at least, at most one per
	 * client started. */
	assert_true(DELTA(sessions_total) >= served_clients + raw_between);
	assert_true(DELTA(sessions_total) <= sh->serial + raw_between);
}

static void test_soak(void **state)
{
	int secs = env_int("CONTIG_TEST_SOAK_SECONDS", 20);
	int nclients = env_int("CONTIG_TEST_SOAK_CLIENTS", 8);
	struct raw_page *pages;
	uint64_t kills = 0, in_alloc_kills = 0, served_clients = 0, seed = 0x1234567;
	struct counters before, after;
	int n, baseline, status;

	(void)state;
	if (nclients > MAX_CLIENTS)
		nclients = MAX_CLIENTS;
	assert_true(wait_pool_idle(10000));
	/* The start-up repair round is over: its candidates' fds are gone.
	 * Counted before any raw session, which the daemon closes a little
	 * after we do. */
	assert_true(daemon_wait_log(&d, "repair: ", 10000));
	baseline = daemon_fd_count(&d);
	n = raw_pages(d.socket, &pages);
	assert_true(n > 0 && n <= MAX_PAGES);
	sh->npages = (uint32_t)n;
	for (int i = 0; i < n; i++)
		sh->page_phys[i] = pages[i].phys;
	free(pages);
	read_counters(&before);

	for (int i = 0; i < nclients; i++)
		assert_true(spawn(i) > 0);
	uint64_t end = mono_ns() + (uint64_t)secs * 1000000000u;
	while (mono_ns() < end) {
		sleep_ms(100 + (int)(rnd(&seed) % 200));
		int victim = (int)(rnd(&seed) % (uint64_t)nclients);
		struct slot *sl = &sh->slots[victim];
		__atomic_store_n(&sl->dead, 1, __ATOMIC_SEQ_CST);
		kill(sl->pid, SIGKILL);
		assert_int_equal(waitpid(sl->pid, &status, 0), sl->pid);
		/* It may have finished on its own just before: a crash is not. */
		assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
		kills++;
		in_alloc_kills += (uint64_t)sl->in_alloc;
		served_clients += (uint64_t)sl->served;
		assert_true(spawn(victim) > 0);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < nclients; i++) {
		assert_int_equal(waitpid(sh->slots[i].pid, &status, 0), sh->slots[i].pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		served_clients += (uint64_t)sh->slots[i].served;
	}

	/* Every page back (quarantine of the last killed clients included). */
	bool idle = wait_pool_idle(15000);
	int fds = wait_daemon_fds(&d, baseline, 10000);
	printf("soak: %d s, %d clients: %llu sessions, %llu operations (%llu allocs, %llu frees, "
	       "%llu ENOMEM), %llu kills, %.2f GiB checked, %llu violations\n",
	       secs, nclients, (unsigned long long)sh->serial, (unsigned long long)sh->ops,
	       (unsigned long long)sh->allocs, (unsigned long long)sh->frees,
	       (unsigned long long)sh->enomem, (unsigned long long)kills,
	       (double)sh->bytes_checked / (1 << 30), (unsigned long long)sh->violations);
	printf("soak: pool idle at the end: %s; daemon fds %d (baseline %d)\n", idle ? "yes" : "NO",
	       fds, baseline);
	if (sh->violations)
		fail_msg("first violation: %s", sh->first_violation);
	assert_true(idle);
	assert_int_equal(fds, baseline);
	/* The same pages as at the start, every one of them FREE. */
	n = raw_pages(d.socket, &pages);
	assert_int_equal(n, sh->npages);
	for (int i = 0; i < n; i++)
		assert_int_equal(pages[i].state, PROTO_PAGE_FREE);
	free(pages);
	read_counters(&after);
	printf("soak: daemon counted %llu allocs, %llu frees, %llu ENOMEM, %llu stashes taken, "
	       "%llu sessions; %llu kills inside an alloc\n",
	       (unsigned long long)(after.allocs - before.allocs),
	       (unsigned long long)(after.frees - before.frees),
	       (unsigned long long)(after.fail_enomem - before.fail_enomem),
	       (unsigned long long)(after.stash_taken - before.stash_taken),
	       (unsigned long long)(after.sessions_total - before.sessions_total),
	       (unsigned long long)in_alloc_kills);
	check_counts(&before, &after, in_alloc_kills, served_clients, 2);
	assert_true(sh->allocs > 0 && kills > 0);
	assert_true(sh->frees > 0 && sh->bytes_checked > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soak),
	};

	signal(SIGPIPE, SIG_IGN);
	int failed = cmocka_run_group_tests_name("reliability-soak", tests, setup, teardown);
	return failed ? failed : teardown_status;
}
