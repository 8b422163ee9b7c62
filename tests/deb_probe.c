/* SPDX-License-Identifier: MIT */
/*
 * deb_probe.c - the client tests/deb_install.sh runs inside the Debian tree
 * it installs the packages into. The test builds it on the host against
 * <contig.h> and libcontig.so as unpacked from the libcontig-dev and
 * libcontig0 packages (so it also checks that -dev is enough to build a
 * client); inside, it runs on the installed libcontig.so.0.
 *
 *   deb-probe alloc SIZE        allocate SIZE bytes (K/M suffix) once, print
 *                               "ok phys=0x..." or "errno=ENAME", exit 0/1
 *   deb-probe hold SIZE FILE    allocate SIZE, fill it with a pattern, append
 *                               "held pid=.. va=0x.. phys=0x.." to FILE; then
 *                               on SIGUSR1 check that the bytes and the
 *                               physical address are unchanged ("check N ok
 *                               phys=0x.." or "check N BAD ..."), on SIGUSR2
 *                               allocate and free 2 MiB more through the same
 *                               session ("alloc N ok" or "alloc N errno=.."),
 *                               on SIGTERM exit.
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end == 'K')
		v <<= 10;
	else if (*end == 'M')
		v <<= 20;
	return (size_t)v;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + 13 + (i >> 12));
}

static int alloc_once(size_t n)
{
	void *p = contig_alloc(n, CONTIG_MAX_ADDRESS);

	if (!p) {
		printf("errno=%s\n", strerrorname_np(errno));
		return 1;
	}
	printf("ok phys=0x%llx\n", (unsigned long long)contig_phys_addr(p));
	contig_free(p);
	return 0;
}

static int hold(size_t n, const char *path)
{
	int out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	unsigned char *p;
	uint64_t phys;
	sigset_t set;

	if (out < 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	p = contig_alloc(n, CONTIG_MAX_ADDRESS);
	if (!p) {
		dprintf(out, "hold errno=%s\n", strerrorname_np(errno));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(i);
	phys = contig_phys_addr(p);
	dprintf(out, "held pid=%d va=0x%llx phys=0x%llx\n", (int)getpid(),
		(unsigned long long)(uintptr_t)p, (unsigned long long)phys);
	for (unsigned int round = 1;; round++) {
		int sig;

		if (sigwait(&set, &sig) != 0 || sig == SIGTERM)
			break;
		if (sig == SIGUSR1) {
			size_t bad = 0;
			for (size_t i = 0; i < n; i++)
				bad += p[i] != pattern(i);
			uint64_t now = contig_phys_addr(p), last = contig_phys_addr(p + n - 1);
			if (bad || now != phys || last != phys + n - 1)
				dprintf(out, "check %u BAD bytes=%zu phys=0x%llx last=0x%llx\n", round,
					bad, (unsigned long long)now, (unsigned long long)last);
			else
				dprintf(out, "check %u ok phys=0x%llx\n", round, (unsigned long long)now);
		} else {
			void *q = contig_alloc(2 << 20, CONTIG_MAX_ADDRESS);
			if (q)
				dprintf(out, "alloc %u ok\n", round);
			else
				dprintf(out, "alloc %u errno=%s\n", round, strerrorname_np(errno));
			contig_free(q);
		}
	}
	contig_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "alloc") == 0)
		return alloc_once(parse_size(argv[2]));
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return hold(parse_size(argv[2]), argv[3]);
	fprintf(stderr, "usage: deb-probe alloc SIZE | hold SIZE FILE\n");
	return 2;
}
