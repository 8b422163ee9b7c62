/* SPDX-License-Identifier: MIT */
/*
 * raw.c - the do-it-yourself peer (ixy, Snabb): mmap(MAP_HUGETLB), touch,
 * and read the physical address from /proc/self/pagemap (root only). It
 * gets one hugepage at a time; whether 64 MiB comes out physically
 * contiguous is up to the kernel's free lists, which is what is counted here.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PM_PFN_MASK ((1ull << 55) - 1)

static uint64_t virt_to_phys(int pagemap, const void *va)
{
	uintptr_t a = (uintptr_t)va;
	uint64_t e;

	if (pread(pagemap, &e, sizeof(e), (off_t)(a / 4096 * 8)) != sizeof(e))
		return UINT64_MAX;
	return (e & PM_PFN_MASK) * 4096 + (a & 4095);
}

static void raw_2m(const struct run_cfg *cfg, int pagemap)
{
	struct samples all = { 0 }, unmap = { 0 };

	for (unsigned i = 0; i < cfg->iters; i++) {
		uint64_t t0 = now_ns(), t1;
		uint8_t *m = mmap(NULL, HUGE_2M, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (m == MAP_FAILED)
			break;
		for (size_t off = 0; off < HUGE_2M; off += 4096)
			m[off] = 1;
		bench_sink += virt_to_phys(pagemap, m);
		t1 = now_ns();
		munmap(m, HUGE_2M);
		samples_add(&all, (double)(now_ns() - t0) / 1e3);
		samples_add(&unmap, (double)(now_ns() - t1) / 1e3);
	}
	double med, p99;
	samples_summary(&unmap, &med, &p99);
	result_samples(G_ALLOC2M, "raw: mmap(MAP_HUGETLB) + touch + pagemap + munmap", ROLE_PEER,
		       "µs", &all, "munmap %.1f µs of it; the kernel zeroes on the fault", med);
	samples_free(&all);
	samples_free(&unmap);
}

static void raw_64m(const struct run_cfg *cfg, int pagemap)
{
	struct samples t = { 0 }, runs = { 0 };
	unsigned reps = cfg->smoke ? 3 : 30, contiguous = 0, tries = 0;
	size_t len = 64 * MIB;

	hugepages_ensure(48);
	for (unsigned i = 0; i < reps; i++) {
		uint64_t t0 = now_ns(), prev = 0;
		unsigned nruns = 0;
		uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (m == MAP_FAILED)
			break;
		for (size_t off = 0; off < len; off += 4096)
			m[off] = 1;
		for (size_t p = 0; p < len / HUGE_2M; p++) {
			uint64_t pa = virt_to_phys(pagemap, m + p * HUGE_2M);
			if (p == 0 || pa != prev + HUGE_2M)
				nruns++;
			prev = pa;
		}
		samples_add(&t, (double)(now_ns() - t0) / 1e3);
		munmap(m, len);
		samples_add(&runs, nruns);
		tries++;
		contiguous += nruns == 1;
	}
	result_samples(G_ALLOC64M, "raw: mmap 64 MiB + touch + pagemap (no contiguity promise)",
		       ROLE_INFO, "µs", &t, "munmap not included");
	result_value(G_RAW64, "raw: mappings that came out physically contiguous", ROLE_PEER, "%",
		     tries ? 100.0 * contiguous / tries : 0, tries, "%u of %u", contiguous, tries);
	result_samples(G_RAW64, "raw: physically contiguous runs per 64 MiB mapping", ROLE_INFO,
		       "runs", &runs, "1 = contiguous; 32 = every page apart");
	samples_free(&t);
	samples_free(&runs);
}

static void raw_v2p(const struct run_cfg *cfg, int pagemap)
{
	struct samples s = { 0 };
	unsigned batch = 100, nb = cfg->smoke ? 20 : 200;
	uint8_t *m = mmap(NULL, HUGE_2M, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);

	if (m == MAP_FAILED) {
		result_missing(G_V2P, "raw: pread(/proc/self/pagemap)", ROLE_PEER, "ns", "mmap: %s",
			       strerror(errno));
		return;
	}
	for (unsigned b = 0; b < nb; b++) {
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < batch; i++)
			bench_sink += virt_to_phys(pagemap, m + ((i * 7919u) % HUGE_2M));
		samples_add(&s, (double)(now_ns() - t0) / batch);
	}
	result_samples(G_V2P, "raw: pread(/proc/self/pagemap)", ROLE_PEER, "ns", &s,
		       "per call, batches of %u; needs CAP_SYS_ADMIN", batch);
	samples_free(&s);
	munmap(m, HUGE_2M);
}

void raw_run(const struct run_cfg *cfg)
{
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (pagemap < 0) {
		result_missing(G_RAW64, "raw: mappings that came out physically contiguous",
			       ROLE_PEER, "%", "/proc/self/pagemap: %s", strerror(errno));
		return;
	}
	raw_2m(cfg, pagemap);
	raw_64m(cfg, pagemap);
	raw_v2p(cfg, pagemap);
	close(pagemap);
}
