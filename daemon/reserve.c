/* SPDX-License-Identifier: MIT */
/*
 * reserve.c - see reserve.h.
 *
 * Nodes: "--pool SIZE" means SIZE on every node with memory; "--pool
 * node0:1G,node1:512M" names them. With one node and no names nothing is
 * bound (the kernel's default placement is that node anyway); otherwise each
 * page is faulted under a MPOL_BIND policy for its node, its node is read
 * back, and a page that landed elsewhere is reported and counted where it is.
 */
#define _GNU_SOURCE
#include "reserve.h"

#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hugetlb.h"
#include "log.h"
#include "lowmem.h"

const char *human(uint64_t bytes, char *buf, size_t n)
{
	if (bytes >= (1ull << 30) && !(bytes & ((1ull << 30) - 1)))
		snprintf(buf, n, "%" PRIu64 " GiB", bytes >> 30);
	else if (bytes >= (1ull << 20))
		snprintf(buf, n, "%" PRIu64 " MiB", bytes >> 20);
	else
		snprintf(buf, n, "%" PRIu64 " KiB", bytes >> 10);
	return buf;
}

static bool node_has_memory(int node)
{
	if (numa_available() < 0)
		return node == 0;
	return node <= numa_max_node() && numa_node_size64(node, NULL) > 0;
}

struct plan {
	uint32_t pages[PROTO_MAX_NODES];
	uint32_t total;
	bool bind;                 /* fault each page on its node */
};

static int plan_nodes(const struct settings *arg, struct plan *pl)
{
	uint64_t ps = arg->page_size;
	int nodes = 0;

	memset(pl, 0, sizeof(*pl));
	for (int n = 0; n < PROTO_MAX_NODES; n++) {
		uint64_t bytes = arg->pool_bytes ? (node_has_memory(n) ? arg->pool_bytes : 0)
						 : arg->node_pool[n];
		if (!bytes)
			continue;
		if (!node_has_memory(n)) {
			log_err("--pool: node %d has no memory here (nodes with "
					"memory: see /sys/devices/system/node/has_memory)", n);
			return -ENODEV;
		}
		pl->pages[n] = (uint32_t)((bytes + ps - 1) / ps);
		pl->total += pl->pages[n];
		nodes++;
	}
	pl->bind = nodes > 1 || !arg->pool_bytes;
	return pl->total ? 0 : -EINVAL;
}

static int ensure_hugepages(const struct settings *arg, const struct plan *pl,
			    const struct start_watch *watch)
{
	uint64_t ps = arg->page_size;
	char a[32], b[32];

	for (int n = 0; n < PROTO_MAX_NODES; n++) {
		int node = pl->bind ? n : -1;
		uint32_t want = pl->bind ? pl->pages[n] : pl->total;
		int64_t avail;

		if (!want)
			continue;
		avail = hugetlb_ensure_free(ps, node, want, arg->may_raise_hugepages, watch);
		if (avail == -EINTR)
			return -EINTR;
		if (avail < 0) {
			log_err("cannot read the hugepage pool for %s pages: %s",
				human(ps, a, sizeof(a)), strerror((int)-avail));
			return -EIO;
		}
		if ((uint64_t)avail < want) {
			struct hugetlb_counts c = { 0 };
			hugetlb_read_node(ps, node, &c);
			log_err(				"cannot reserve the pool: got %" PRId64 " of %u hugepages of %s"
				"%s%.0d (needed %s); raise %s%.0d%snr_hugepages for %" PRIu64
				"kB pages to at least %" PRIu64 "%s",
				avail, want, human(ps, a, sizeof(a)), node >= 0 ? " on node " : "",
				node >= 0 ? node : 0, human((uint64_t)want * ps, b, sizeof(b)),
				node >= 0 ? "/sys/devices/system/node/node" : "", node >= 0 ? node : 0,
				node >= 0 ? "/hugepages/.../" : "/proc/sys/vm/", ps >> 10,
				c.nr + (want - (uint64_t)avail),
				arg->may_raise_hugepages ? " (contigd could not raise it)"
							 : " or drop --no-raise");
			return -ENOMEM;
		}
		if (!pl->bind)
			break;
	}
	return 0;
}

/* --low-pool SIZE@CEILING: find that much below the ceiling before the
 * normal pool is faulted; say what it achieved, in how long, and why not. */
static int dig_low_pool(struct backing_linux *bl, const struct settings *arg,
			struct pool_config *cfg, const struct start_watch *watch)
{
	uint64_t ps = arg->page_size;
	struct lowmem_request rq = {
		.page_size = ps,
		.ceiling = arg->low_pool_ceiling,
		.want = (uint32_t)((arg->low_pool_bytes + ps - 1) / ps),
		.margin = arg->low_pool_margin,
		.time_limit_ns = 120ull * 1000000000u,
		.step = (uint32_t)((512ull << 20) / ps ? (512ull << 20) / ps : 1),
		.watch = watch,
	};
	struct lowmem_report rep;
	char a[32], b[32], c[32];
	int r;

	cfg->extra = calloc(rq.want, sizeof(*cfg->extra));
	if (!cfg->extra)
		return -ENOMEM;
	log_info("low pool: looking for %u pages of %s below 0x%" PRIx64 "...", rq.want,
		 human(ps, a, sizeof(a)), rq.ceiling);
	r = lowmem_dig(bl, &rq, cfg->extra, &rep);
	if (r == -EINTR) {
		log_notice("low pool: stopped after %" PRIu64 " ms (%u steps, nr_hugepages up to %"
			   PRIu64 "); every page given back", rep.ns / 1000000, rep.steps,
			   rep.peak_nr);
		return r;
	}
	if (r < 0) {
		log_err("low pool: %s", strerror(-r));
		return r;
	}
	cfg->nextra = rep.got;
	if (rep.got < rq.want)
		log_warn("low pool: got %s of %s below 0x%" PRIx64 " in %" PRIu64 " ms (%u steps, "
			 "%" PRIu64 " hugepages looked at, nr_hugepages up to %" PRIu64 "): %s",
			 human((uint64_t)rep.got * ps, a, sizeof(a)),
			 human(arg->low_pool_bytes, b, sizeof(b)), rq.ceiling, rep.ns / 1000000,
			 rep.steps, rep.scanned, rep.peak_nr, rep.why);
	else
		log_info("low pool: %s below 0x%" PRIx64 " in %" PRIu64 " ms (%u steps, %" PRIu64
			 " hugepages looked at, nr_hugepages up to %" PRIu64 ", MemAvailable down to %s)",
			 human((uint64_t)rep.got * ps, a, sizeof(a)), rq.ceiling, rep.ns / 1000000,
			 rep.steps, rep.scanned, rep.peak_nr,
			 rep.mem_available ? human(rep.mem_available, c, sizeof(c)) : "-");
	return 0;
}

int reserve_pool(struct pool *pool, struct backing_linux *bl, const struct settings *arg,
		 bool no_pin, const struct start_watch *watch)
{
	uint64_t ps = arg->page_size, t0 = now_ns();
	struct pool_config cfg = { .page_size = ps, .threads = arg->threads,
				   .quarantine_ms = arg->quarantine_ms,
				   .zero_in_place = arg->zero_in_place, .watch = watch };
	int32_t *want_node = NULL;
	struct plan pl;
	uint32_t got = 0, low_want;
	char a[32], b[32];
	int r;

	r = plan_nodes(arg, &pl);
	if (r < 0)
		return r;
	r = ensure_hugepages(arg, &pl, watch);
	if (r < 0)
		return r;
	cfg.npages = pl.total;
	if (!pl.bind && arg->oversample) {
		/* Free hugepages beyond our need are candidates: fault them too
		 * and keep the longest runs (DPDK legacy mode sorts all of
		 * them too). Bounded by the fds they cost while we look. */
		struct hugetlb_counts c;
		struct rlimit rl;
		uint64_t spare = 0;
		if (hugetlb_read(ps, &c) == 0 && c.free > c.resv + pl.total)
			spare = c.free - c.resv - pl.total;
		if (spare > (uint64_t)pl.total * arg->oversample)
			spare = (uint64_t)pl.total * arg->oversample;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && spare + pl.total * 2 > rl.rlim_cur / 2)
			spare = rl.rlim_cur / 2 > pl.total * 2 ? rl.rlim_cur / 2 - pl.total * 2 : 0;
		cfg.oversample = (uint32_t)spare;
	}
	if (pl.bind) {
		want_node = calloc(pl.total, sizeof(*want_node));
		if (!want_node)
			return -ENOMEM;
		for (int n = 0, k = 0; n < PROTO_MAX_NODES; n++)
			for (uint32_t i = 0; i < pl.pages[n]; i++)
				want_node[k++] = n;
		cfg.want_node = want_node;
	}

	low_want = (uint32_t)((arg->low_pool_bytes + ps - 1) / ps);
	r = backing_linux_open(bl, ps, no_pin ? 0 : pl.total + low_want);
	if (r < 0) {
		log_err("cannot open /proc/self/pagemap: %s", strerror(-r));
		goto out;
	}
	if (arg->low_pool_bytes) {
		r = dig_low_pool(bl, arg, &cfg, watch);
		if (r < 0)
			goto out;
	}
	r = pool_init(pool, &cfg, &backing_linux_ops, bl, &got);
	if (r == -EINTR)
		goto out;
	if (r == -EPERM) {
		log_err("/proc/self/pagemap gives no physical addresses: contigd "
				"needs CAP_SYS_ADMIN");
		goto out;
	}
	if (r < 0) {
		log_err(			"cannot reserve the pool: got %u of %u hugepages of %s (needed %s): "
			"%s; another process took them meanwhile, or raise nr_hugepages",
			got, pl.total, human(ps, a, sizeof(a)),
			human((uint64_t)pl.total * ps, b, sizeof(b)), strerror(-r));
		goto out;
	}

	struct pool_figures info;
	pool_figures(pool, EXTENT_NODE_ANY, &info);
	log_info("pool: %u pages of %s (%s) pinned in %" PRIu64 " ms; %u runs, largest %s",
		 pool->npages, human(ps, a, sizeof(a)), human(info.total_bytes, b, sizeof(b)),
		 (now_ns() - t0) / 1000000, info.runs,
		 human(info.largest_free_run, (char[32]){ 0 }, 32));
	for (int n = 0; pl.bind && n < PROTO_MAX_NODES; n++) {
		if (!pl.pages[n])
			continue;
		pool_figures(pool, n, &info);
		log_info("node %d: %s, largest run %s", n, human(info.total_bytes, a, sizeof(a)),
			 human(info.largest_free_run, b, sizeof(b)));
	}
out:
	/* The low pool's pages, unless pool_init took them. */
	for (uint32_t i = 0; cfg.extra && i < cfg.nextra; i++)
		if (cfg.extra[i].fd >= 0)
			backing_page_drop(&cfg.extra[i], ps);
	free(cfg.extra);
	free(want_node);
	return r;
}
