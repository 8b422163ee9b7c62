/* SPDX-License-Identifier: MIT */
/*
 * ready.c - start-up with cfg->ready_pages pages of 2 MiB, every contender
 * once per round: the kernel's own fault-in (one thread, every thread), one
 * memfd per page, contigd until its socket accepts, DPDK's rte_eal_init in
 * legacy and default (preallocated) mode, and EAL's fixed cost without
 * hugepages. All of it is the kernel zeroing pages, which is memory
 * bandwidth that other work on the machine shares: interleaving the rounds
 * keeps that drift out of the ratios.
 */
#include "bench.h"

#include <stdio.h>
#include <unistd.h>

void ready_run(const struct run_cfg *cfg)
{
	struct samples floor2 = { 0 }, floor1 = { 0 }, memfd = { 0 }, contig = { 0 },
		       pinned = { 0 }, contig0 = { 0 }, pinned0 = { 0 }, legacy = { 0 },
		       dflt = { 0 }, nohuge = { 0 }, repaired = { 0 };
	unsigned rounds = cfg->smoke ? 1 : 3, pages = cfg->ready_pages;
	long nthreads = sysconf(_SC_NPROCESSORS_ONLN), rss = -1, huge = -1;
	char who[128], how[128], runs[96] = "", runs0[96] = "", repair[256] = "";
	bool dpdk = cfg->dpdk_helper[0] != 0;

	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > 8)
		nthreads = 8;
	for (unsigned r = 0; r < rounds; r++) {
		struct ready_once o = { 0 };
		double ms;

		hugepages_ensure((long)pages + 16);
		if ((ms = fault_bulk(pages, (unsigned)nthreads)) >= 0)
			samples_add(&floor2, ms);
		if ((ms = fault_bulk(pages, 1)) >= 0)
			samples_add(&floor1, ms);
		if ((ms = memfd_bulk(pages)) >= 0)
			samples_add(&memfd, ms);
		if (contig_ready_once(cfg, NULL, &o) == 0) {
			samples_add(&contig, o.ready_ms);
			if (o.pinned_ms >= 0)
				samples_add(&pinned, o.pinned_ms);
			if (o.repair_ms >= 0)
				samples_add(&repaired, o.repair_ms);
			rss = o.rss_kb;
			huge = o.huge_kb;
			snprintf(runs, sizeof(runs), "%s", o.runs);
			snprintf(repair, sizeof(repair), "%s", o.repair);
		}
		if (contig_ready_once(cfg, "oversample = 0\n", &o) == 0) {
			samples_add(&contig0, o.ready_ms);
			if (o.pinned_ms >= 0)
				samples_add(&pinned0, o.pinned_ms);
			snprintf(runs0, sizeof(runs0), "%s", o.runs);
		}
		if (!dpdk)
			continue;
		if ((ms = dpdk_ready_once(cfg, DPDK_READY_LEGACY)) >= 0)
			samples_add(&legacy, ms);
		if ((ms = dpdk_ready_once(cfg, DPDK_READY_DEFAULT)) >= 0)
			samples_add(&dflt, ms);
		if ((ms = dpdk_ready_once(cfg, DPDK_READY_NOHUGE)) >= 0)
			samples_add(&nohuge, ms);
	}

	snprintf(who, sizeof(who), "kernel fault-in of %u pages, %ld threads", pages, nthreads);
	result_samples(G_READY, who, ROLE_FLOOR, "ms", &floor2,
		       "one mapping, pages touched in parallel");
	snprintf(who, sizeof(who), "kernel fault-in of %u pages, 1 thread", pages);
	result_samples(G_READY, who, ROLE_INFO, "ms", &floor1, NULL);
	snprintf(who, sizeof(who), "%u × (memfd + fallocate + mmap + pagemap), 1 thread", pages);
	result_samples(G_READY, who, ROLE_INFO, "ms", &memfd, "the daemon's way, serially");
	snprintf(who, sizeof(who), "contig: contigd --pool %uM, fork → socket accepts", pages * 2);
	result_samples(G_READY, who, ROLE_CONTIG, "ms", &contig, "pool: %s", runs);
	result_samples(G_READY, "contig: its log line 'pinned in N ms'", ROLE_INFO, "ms", &pinned,
		       "the pool's own pages; oversampling (default 1) runs after READY");
	result_samples(G_READY, "contig: background repair done, from fork", ROLE_INFO, "ms",
		       &repaired, "serving meanwhile; last round: %s",
		       repair[0] ? repair : "no repair line in the log");
	snprintf(who, sizeof(who), "contig oversample = 0: contigd --pool %uM, fork → socket accepts",
		 pages * 2);
	result_samples(G_READY, who, ROLE_INFO, "ms", &contig0, "faults exactly the pool; pool: %s",
		       runs0);
	result_samples(G_READY, "contig oversample = 0: its log line 'pinned in N ms'", ROLE_INFO,
		       "ms", &pinned0, NULL);
	if (dpdk) {
		snprintf(how, sizeof(how), "--legacy-mem -m %u", pages * 2);
		result_samples(G_READY, "DPDK legacy: rte_eal_init", ROLE_PEER, "ms", &legacy, "%s",
			       how);
		snprintf(how, sizeof(how), "--socket-mem %u --in-memory (preallocated)", pages * 2);
		result_samples(G_READY, "DPDK default: rte_eal_init", ROLE_PEER, "ms", &dflt, "%s",
			       how);
		result_samples(G_READY, "DPDK --no-huge: rte_eal_init", ROLE_INFO, "ms", &nohuge,
			       "--no-huge -m 64: EAL's fixed cost (plugins, threads), no page");
	}
	snprintf(who, sizeof(who), "contig: contigd with %u pages", pages);
	if (rss >= 0)
		result_value(G_RSS, who, ROLE_INFO, "MiB", rss / 1024.0, 1,
			     "budget 8 MiB + 64 B/page = %.2f MiB; hugetlb mapped %ld MiB (not in RSS)",
			     8 + pages * 64.0 / MIB, huge / 1024);
	else
		result_missing(G_RSS, who, ROLE_INFO, "MiB", "daemon did not start");
	samples_free(&floor2);
	samples_free(&floor1);
	samples_free(&memfd);
	samples_free(&contig);
	samples_free(&pinned);
	samples_free(&contig0);
	samples_free(&pinned0);
	samples_free(&legacy);
	samples_free(&dflt);
	samples_free(&nohuge);
	samples_free(&repaired);
}
