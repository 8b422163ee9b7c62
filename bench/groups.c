/* SPDX-License-Identifier: MIT */
/*
 * groups.c - the figures of the report, in the order they are printed.
 */
#include "bench.h"
#include "carve.h"

const struct bench_group bench_groups[] = {
	{ G_FLOOR_IPC, "Floor: SOCK_SEQPACKET round trips between two processes", false },
	{ G_FLOOR_ZERO, "Floor: zeroing with memset and with non-temporal stores", false },
	{ G_FLOOR_FAULT, "Floor: kernel fault-in of 2 MiB hugepages (the kernel zeroes them)",
	  false },
	{ G_FLOOR_PUNCH, "Floor: fallocate(PUNCH_HOLE) of a mapped 2 MiB hugetlb page", false },
	{ G_SMALL4K, "alloc+free 4 KiB, zeroed", false },
	{ G_SMALL64K, "alloc+free 64 KiB, zeroed", false },
	{ G_ALLOC2M, "alloc+touch+free 2 MiB, physically contiguous", false },
	{ G_ALLOC64M, "alloc+touch+free 64 MiB, physically contiguous", false },
	{ G_RAW64, "raw mmap(MAP_HUGETLB) of 64 MiB: physically contiguous at all?", false },
	{ G_V2P, "virtual → physical address of a byte", false },
	{ G_RTT, "a request to an idle daemon: contig_query round trips, back to back", false },
	{ G_FIRST, "a new process's first 2 MiB region: from main() to the region in hand",
	  false },
	{ "firstexec", "the same seen by the parent: fork + exec + region + exit + wait", false },
	{ G_READY, "ready to serve with 1024 pages of 2 MiB", false },
	{ G_FRAG_FAIL,
	  "fragmentation: 1 GiB kept 80% full, 20,000 random alloc/free of 2–32 MiB contiguous: "
	  "failures with enough free memory",
	  false },
	{ G_FRAG_RUN, "fragmentation: largest contiguous allocation possible at the end", true },
	{ G_RECLAIM, "reclaim: freed pages back in the pool", true },
	{ G_CONC2, "concurrency, 2 client processes: alloc+touch+free 2 MiB", false },
	{ G_CONC8, "concurrency, 8 client processes: alloc+touch+free 2 MiB", false },
	{ G_CONC64, "concurrency, 64 client processes: alloc+touch+free 2 MiB", false },
	{ G_CONCOPS, "concurrency: aggregate alloc+free pairs per second", true },
	{ G_RESTART, "restart from systemd's fd store, clients on: signal → serving again "
		     "(÷ floor: ÷ a cold start of the same pool beside it)", false },
	{ G_SCALE_READY_2M, "scale: ready to serve against pool size, 2 MiB pages", false },
	{ G_SCALE_READY_1G, "scale: ready to serve against pool size, 1 GiB pages", false },
	{ G_SCALE_RECLAIM, "scale: reclaim, freed pages back in the pool against pages freed",
	  true },
	{ G_RSS, "daemon memory (VmRSS, idle, after the workloads)", false },
	{ G_SCALE_FRAG, "fragmentation over time: largest free run at the end of each idle gap "
			"(÷ floor: ÷ the longest run the pool's free pages and the kernel's free "
			"hugepages could form)", true },
	/* Scale (issue 19): each also a curve, curve-scale-*.tsv. */
	{ G_SCALE_SESS, "scale: alloc+free 2 MiB (CONTIG_STASH=0) from one more client, N "
			"sessions connected", false },
	{ G_SCALE_RSS, "scale: contigd VmRSS per connected session", false },
	{ G_SCALE_LIST, "scale: contigctl clients / regions --json, fork to exit", false },
	{ G_SCALE_TPUT, "scale: 2 MiB alloc+touch+free pairs per second, N client processes",
	  true },
	{ G_SCALE_CPU, "scale: server CPU time per pair, N client processes", false },
	{ G_SCALE_P99, "scale: a pair's latency under load, contig (stash off) and a bare "
		       "SOCK_SEQPACKET echo server", false },
	/* Page granularity (carve.c, dpdk_carve.c). */
	{ G_CARVE_4K_WS, "page granularity: 4 KiB alloc+touch+free, one of a working set replaced, ns per pair",
	  false },
	{ G_CARVE_4K_B2B, "page granularity: 4 KiB alloc+touch+free back to back, ns per pair",
	  false },
	{ G_CARVE_64K_WS, "page granularity: 64 KiB alloc+touch+free, one of a working set replaced",
	  false },
	{ G_CARVE_64K_B2B, "page granularity: 64 KiB alloc+touch+free back to back", false },
	{ G_CARVE_256K_WS, "page granularity: 256 KiB alloc+touch+free, one of a working set replaced",
	  false },
	{ G_CARVE_256K_B2B, "page granularity: 256 KiB alloc+touch+free back to back", false },
	{ G_CARVE_V2P16, "page granularity: physical address of interior bytes of 16 regions of "
			 "4 KiB–2 MiB", false },
	{ G_CARVE_V2PMANY, "page granularity: physical address among 100,000 live 4 KiB regions, "
			   "random bytes", false },
	{ G_CARVE_THREADS, "page granularity: 2 threads against 1 allocating 4 KiB (throughput)",
	  true },
	{ G_CARVE_MIX, "page granularity: random 4 KiB–1 MiB kept 80% full: bytes live ÷ bytes "
		       "held", true },
	{ G_CARVE_COUNT, "page granularity: 4 KiB regions live at once from a 256 MiB pool", true },
	{ G_CARVE_COUNT64K, "page granularity: 64 KiB regions live at once from a 256 MiB pool",
	  true },
	{ G_CARVE_COUNT1G, "page granularity: 4 KiB regions live at once from 2 GiB of 1 GiB pages",
	  true },
};

const size_t bench_ngroups = sizeof(bench_groups) / sizeof(bench_groups[0]);
