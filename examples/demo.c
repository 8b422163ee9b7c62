/* SPDX-License-Identifier: MIT */
/*
 * demo - the smallest contig client: allocate a region below a physical
 * ceiling, show where it is, check it reads as zero, free it.
 *
 *   build/examples/contig-demo [SIZE_BYTES [CEILING]]
 *
 * Without a CEILING the demo picks one the running pool can honour: the
 * pool's pages lie wherever the kernel put them (on a 24 GiB machine usually
 * well above 4 GiB), so it asks for the region to end at or below the top of
 * the pool's largest physically contiguous run, learnt by taking that run
 * once. (An allocation made while freed pages are still being reclaimed
 * waits for them, so the run is there again when it asks.)
 */
#include <contig.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 4u << 20;
	uint64_t ceiling = argc > 2 ? strtoull(argv[2], NULL, 0) : 0;
	struct contig_pool_info info = { 0 };
	uint8_t *p;

	if (contig_query(&info) < 0) {
		fprintf(stderr, "contig_query: %s\n", strerror(errno));
		return 1;
	}
	printf("pool: page size %" PRIu64 " KiB, %" PRIu64 " MiB total, %" PRIu64
	       " MiB free, largest free run %" PRIu64 " MiB\n",
	       info.page_size >> 10, info.total_bytes >> 20, info.free_bytes >> 20,
	       info.largest_free_run >> 20);

	if (argc <= 1 && size > info.largest_free_run)
		size = info.largest_free_run;
	if (!ceiling) {
		/* Where does the pool's memory lie? Take its largest run once,
		 * note where it ends, and give it back. */
		void *probe = contig_alloc(info.largest_free_run, CONTIG_MAX_ADDRESS);
		if (!probe) {
			fprintf(stderr, "probe allocation: %s\n", strerror(errno));
			return 1;
		}
		ceiling = contig_phys_addr(probe) + info.largest_free_run - 1;
		contig_free(probe);
		printf("ceiling: 0x%" PRIx64 ", the top of the pool's largest run "
		       "(the pool's pages are wherever the kernel put them)\n", ceiling);
	}

	p = contig_alloc(size, ceiling);
	if (!p) {
		fprintf(stderr, "contig_alloc(%zu, 0x%" PRIx64 "): %s\n", size, ceiling,
			strerror(errno));
		return 1;
	}
	uint64_t phys = contig_phys_addr(p);
	for (size_t i = 0; i < size; i++)
		if (p[i]) {
			fprintf(stderr, "byte %zu is not zero\n", i);
			return 1;
		}
	printf("region: va %p  phys 0x%" PRIx64 "-0x%" PRIx64 "  size %zu bytes (%zu MiB)\n",
	       (void *)p, phys, phys + size - 1, size, size >> 20);
	printf("        below the ceiling: %s, zeroed: yes, phys(va+size-1) = 0x%" PRIx64 "\n",
	       phys + size - 1 <= ceiling ? "yes" : "NO", contig_phys_addr(p + size - 1));
	memset(p, 0xa5, size);
	if (contig_query(&info) == 0)
		printf("pool now: %" PRIu64 " MiB free, largest free run %" PRIu64 " MiB\n",
		       info.free_bytes >> 20, info.largest_free_run >> 20);
	contig_free(p);
	return 0;
}
