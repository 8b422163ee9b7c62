/* SPDX-License-Identifier: MIT */
/*
 * first.c - contig-bench-first: the smallest contig client. Started with
 * fork+exec by contig-bench, it takes the time at the top of main(), gets
 * one 2 MiB region (connect, handshake, alloc, map), takes the time again,
 * prints both (CLOCK_MONOTONIC ns) on stdout and exits without freeing: the
 * daemon takes the region back when the session ends, as for any client.
 *
 *   --noop         print the first time only (the exec floor)
 *   --floor PATH   the same trip against contig-bench's IPC floor server
 *                  with plain syscalls: connect, a bare round trip, a round
 *                  trip bringing one hugetlb memfd, and libcontig's mapping
 *                  of it (the floor of the figure, in an equally fresh process)
 */
#define _GNU_SOURCE
#include <contig.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PAGE (2u << 20)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int rtt(int s, unsigned k, int *ret_fd)
{
	uint8_t req[64] = { (uint8_t)k }, rep[96];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { rep, sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;

	if (send(s, req, sizeof(req), MSG_NOSIGNAL) != sizeof(req) ||
	    recvmsg(s, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (k) {
		if (!cm || cm->cmsg_type != SCM_RIGHTS)
			return -1;
		memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
	}
	return 0;
}

static volatile uint8_t *floor_region(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), fd;
	uint8_t *p, *start;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || rtt(s, 0, NULL) < 0 ||
	    rtt(s, 1, &fd) < 0)
		return NULL;
	p = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	start = (uint8_t *)(((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
	if (start > p)
		munmap(p, (size_t)(start - p));
	munmap(start + PAGE, (size_t)(p + PAGE - start));
	if (mmap(start, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd,
		 0) == MAP_FAILED)
		return NULL;
	close(fd);
	return start;
}

int main(int argc, char **argv)
{
	uint64_t t_main = mono_ns(), t_region;
	volatile uint8_t *p;

	if (argc > 1 && !strcmp(argv[1], "--noop")) {
		printf("%" PRIu64 " 0\n", t_main);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "--floor"))
		p = floor_region(argv[2]);
	else
		p = contig_alloc(PAGE, CONTIG_MAX_ADDRESS);
	t_region = mono_ns();
	if (!p) {
		fprintf(stderr, "contig-bench-first: no region: %s\n", strerror(errno));
		return 1;
	}
	p[0] = 1;
	printf("%" PRIu64 " %" PRIu64 "\n", t_main, t_region);
	return 0;
}
