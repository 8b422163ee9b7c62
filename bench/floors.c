/* SPDX-License-Identifier: MIT */
/*
 * floors.c - what the machine itself costs, measured in the same run as the
 * figures compared to it: the SOCK_SEQPACKET round trip that carries page fds
 * (plus the receiver's mmap of them, as libcontig maps them), zeroing
 * bandwidth, the kernel's fault-in of hugepages (one page, and 1024 pages on
 * one and on every core), one-memfd-per-page acquisition (the daemon's unit
 * of work at start and in reclaim) and fallocate(PUNCH_HOLE).
 *
 * The IPC server is a forked child holding pre-faulted hugetlb memfds; the
 * requests and replies have the sizes of contig's (about 64 and 100 bytes).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <emmintrin.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define IPC_MAX_FDS 32

/* ---- IPC ---- */

static int hugetlb_memfd(bool populate_map, void **ret_map)
{
	int fd = memfd_create("bench-page", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)HUGE_2M) < 0 || fallocate(fd, 0, 0, (off_t)HUGE_2M) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (populate_map) {
		void *m = mmap(NULL, HUGE_2M, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			       fd, 0);
		if (m == MAP_FAILED) {
			int r = -errno;
			close(fd);
			return r;
		}
		*ret_map = m;
	}
	return fd;
}

static void ipc_serve_conn(int c, const int *pagefds)
{
	uint8_t req[64], rep[96] = { 0 };
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} u;

	for (;;) {
		ssize_t n = recv(c, req, sizeof(req), 0);
		unsigned k;

		if (n <= 0)
			return;
		k = req[0] > IPC_MAX_FDS ? IPC_MAX_FDS : req[0];
		struct iovec iov = { rep, sizeof(rep) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (k) {
			mh.msg_control = u.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * k);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * k);
			memcpy(CMSG_DATA(cm), pagefds, sizeof(int) * k);
		}
		if (sendmsg(c, &mh, MSG_NOSIGNAL) < 0)
			return;
	}
}

static void ipc_server(int lfd)
{
	int pagefds[IPC_MAX_FDS];

	for (int i = 0; i < IPC_MAX_FDS; i++) {
		void *m;
		pagefds[i] = hugetlb_memfd(true, &m);
		if (pagefds[i] < 0)
			_exit(1);
	}
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			_exit(0);
		}
		ipc_serve_conn(c, pagefds);
		close(c);
	}
}

int seqpacket_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request for k fds and its reply; the fds land in fds[]. */
static int ipc_rtt(int s, unsigned k, int *fds)
{
	uint8_t req[64] = { (uint8_t)k }, rep[96];
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { rep, sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;

	if (send(s, req, sizeof(req), MSG_NOSIGNAL) != sizeof(req))
		return -1;
	if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (k && (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int) * k)))
		return -1;
	if (k)
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * k);
	return 0;
}

/* libcontig's way: an aligned PROT_NONE reservation, each page fd mapped
 * over it with MAP_FIXED | MAP_POPULATE. */
static uint8_t *map_pages(const int *fds, unsigned k)
{
	size_t len = (size_t)k * HUGE_2M;
	uint8_t *p = mmap(NULL, len + HUGE_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uint8_t *start;

	if (p == MAP_FAILED)
		return NULL;
	start = (uint8_t *)(((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	if (start > p)
		munmap(p, (size_t)(start - p));
	munmap(start + len, (size_t)(p + HUGE_2M - start));
	for (unsigned i = 0; i < k; i++)
		if (mmap(start + i * HUGE_2M, HUGE_2M, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fds[i], 0) == MAP_FAILED) {
			munmap(start, len);
			return NULL;
		}
	return start;
}

static void close_all(int *fds, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		close(fds[i]);
}

/* The floor of one alloc+free through a daemon: a request answered with k
 * page fds, their mapping, the unmapping, and a bare round trip for the free. */
static int ipc_alloc_free(int s, unsigned k, double *ret_us)
{
	int fds[IPC_MAX_FDS];
	uint64_t t0 = now_ns();
	uint8_t *m;

	if (ipc_rtt(s, k, fds) < 0)
		return -1;
	m = map_pages(fds, k);
	close_all(fds, k);
	if (!m)
		return -1;
	m[0] = 1;
	munmap(m, (size_t)k * HUGE_2M);
	if (ipc_rtt(s, 0, NULL) < 0)
		return -1;
	*ret_us = (double)(now_ns() - t0) / 1e3;
	return 0;
}

pid_t ipc_server_start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		int r = -errno;
		if (lfd >= 0)
			close(lfd);
		return r;
	}
	pid = fork();
	if (pid == 0)
		ipc_server(lfd);
	close(lfd);
	return pid < 0 ? -errno : pid;
}

void ipc_server_stop(pid_t pid, const char *path)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(path);
}

static void ipc_floors(const struct run_cfg *cfg)
{
	struct samples bare = { 0 }, onefd = { 0 }, mapped = { 0 }, af1 = { 0 }, af32 = { 0 },
		       first = { 0 };
	char path[100];
	int s = -1, fds[IPC_MAX_FDS];
	unsigned n = cfg->iters;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/ipc-floor.sock", cfg->tmpdir);
	pid = ipc_server_start(path);
	if (pid < 0) {
		result_missing(G_FLOOR_IPC, "bare round trip", ROLE_FLOOR, "µs", "socket: %s",
			       strerror((int)-pid));
		return;
	}
	s = seqpacket_connect(path);
	if (s < 0 || ipc_rtt(s, 0, NULL) < 0 || ipc_rtt(s, 1, fds) < 0)
		goto out;
	close(fds[0]);
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		if (ipc_rtt(s, 0, NULL) < 0)
			goto out;
		samples_add(&bare, (double)(now_ns() - t0) / 1e3);
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		if (ipc_rtt(s, 1, fds) < 0)
			goto out;
		close(fds[0]);
		samples_add(&onefd, (double)(now_ns() - t0) / 1e3);
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		uint8_t *m;
		if (ipc_rtt(s, 1, fds) < 0)
			goto out;
		m = map_pages(fds, 1);
		close(fds[0]);
		if (!m)
			goto out;
		samples_add(&mapped, (double)(now_ns() - t0) / 1e3);
		munmap(m, HUGE_2M);
	}
	for (unsigned i = 0; i < n; i++) {
		double us;
		if (ipc_alloc_free(s, 1, &us) < 0)
			goto out;
		samples_add(&af1, us);
	}
	for (unsigned i = 0; i < n / 10 + 3; i++) {
		double us;
		if (ipc_alloc_free(s, 32, &us) < 0)
			goto out;
		samples_add(&af32, us);
	}
	/* A new client's first region: connect, a handshake, one page. The
	 * server serves one connection at a time: let go of ours first. */
	close(s);
	s = -1;
	for (unsigned i = 0; i < n / 10 + 3; i++) {
		uint64_t t0 = now_ns();
		int c = seqpacket_connect(path);
		uint8_t *m;
		if (c < 0 || ipc_rtt(c, 0, NULL) < 0 || ipc_rtt(c, 1, fds) < 0)
			goto out;
		m = map_pages(fds, 1);
		close(fds[0]);
		if (!m)
			goto out;
		samples_add(&first, (double)(now_ns() - t0) / 1e3);
		munmap(m, HUGE_2M);
		close(c);
	}
out:
	if (s >= 0)
		close(s);
	ipc_server_stop(pid, path);
	result_samples(G_FLOOR_IPC, "bare round trip", ROLE_FLOOR, "µs", &bare, "no fd");
	result_samples(G_FLOOR_IPC, "round trip + 1 memfd (SCM_RIGHTS)", ROLE_INFO, "µs", &onefd,
		       NULL);
	result_samples(G_FLOOR_IPC, "round trip + 1 memfd + mmap of it", ROLE_INFO, "µs", &mapped,
		       "MAP_SHARED|MAP_FIXED|MAP_POPULATE into an aligned reservation");
	result_samples(G_FLOOR_IPC, "alloc+free trip, 1 page", ROLE_INFO, "µs", &af1,
		       "round trip + fd + mmap + touch + munmap + bare round trip");
	result_samples(G_FLOOR_IPC, "alloc+free trip, 32 pages", ROLE_INFO, "µs", &af32,
		       "one reply with 32 fds, 32 mmaps, one munmap, bare round trip");
	result_samples(G_FLOOR_IPC, "connect + handshake + 1 page", ROLE_INFO, "µs", &first,
		       "a new connection's first page, from a warm process");
	/* The same floors again where the figures they bound are. */
	result_samples(G_SMALL4K, "alloc+free trip, 1 page", ROLE_FLOOR, "µs", &af1, NULL);
	result_samples(G_SMALL64K, "alloc+free trip, 1 page", ROLE_FLOOR, "µs", &af1, NULL);
	result_samples(G_ALLOC2M, "alloc+free trip, 1 page", ROLE_FLOOR, "µs", &af1, NULL);
	result_samples(G_ALLOC64M, "alloc+free trip, 32 pages", ROLE_FLOOR, "µs", &af32, NULL);
	result_samples(G_RTT, "bare round trip", ROLE_FLOOR, "µs", &bare, NULL);
	samples_free(&bare);
	samples_free(&onefd);
	samples_free(&mapped);
	samples_free(&af1);
	samples_free(&af32);
	samples_free(&first);
}

/* ---- zeroing ---- */

static void nt_zero(void *dst, size_t len)
{
	__m128i z = _mm_setzero_si128();
	__m128i *p = dst, *end = (__m128i *)((uint8_t *)dst + len);

	for (; p < end; p += 4) {
		_mm_stream_si128(p, z);
		_mm_stream_si128(p + 1, z);
		_mm_stream_si128(p + 2, z);
		_mm_stream_si128(p + 3, z);
	}
	_mm_sfence();
}

static void zero_one(const char *who, uint8_t *buf, size_t len, unsigned reps, bool nt,
		     enum role role)
{
	struct samples s = { 0 };
	double med, p99;

	/* Per 2 MiB whatever the size, so the rows compare as bandwidths. */
	for (unsigned i = 0; i < reps; i++) {
		uint64_t t0 = now_ns();
		if (nt)
			nt_zero(buf, len);
		else
			memset(buf, 0, len);
		samples_add(&s, (double)(now_ns() - t0) / 1e3 / (double)(len / HUGE_2M));
		bench_sink += buf[len / 2];
	}
	samples_summary(&s, &med, &p99);
	result_samples(G_FLOOR_ZERO, who, role, "µs/2MiB", &s, "%.1f GB/s (median)",
		       (double)HUGE_2M / (med * 1e3));
	if (nt && len == 64 * MIB)
		result_value(G_RECLAIM, "non-temporal zeroing of 2 MiB pages, 1 thread", ROLE_FLOOR,
			     "pages/s", 1e6 / med, (unsigned)s.n,
			     "from the 64 MiB non-temporal figure: the zeroing floor");
	samples_free(&s);
}

static void zero_floors(const struct run_cfg *cfg)
{
	size_t len = 64 * MIB;
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	unsigned reps = cfg->smoke ? 5 : 100;

	if (buf == MAP_FAILED) {
		result_missing(G_FLOOR_ZERO, "non-temporal stores, 64 MiB", ROLE_FLOOR, "µs/2MiB",
			       "no 64 MiB of hugepages: %s", strerror(errno));
		return;
	}
	zero_one("non-temporal stores, 64 MiB", buf, len, reps, true, ROLE_FLOOR);
	zero_one("memset, 64 MiB", buf, len, reps, false, ROLE_INFO);
	zero_one("non-temporal stores, 2 MiB (the same 2 MiB again and again)", buf, 2 * MIB,
		 reps * 10, true, ROLE_INFO);
	zero_one("memset, 2 MiB (the same 2 MiB again and again: cache-warm)", buf, 2 * MIB,
		 reps * 10, false, ROLE_INFO);
	munmap(buf, len);
}

/* ---- kernel fault-in ---- */

struct touch_job {
	uint8_t *base;
	size_t first, step, npages;
};

static void *touch_worker(void *arg)
{
	struct touch_job *j = arg;

	for (size_t i = j->first; i < j->npages; i += j->step)
		j->base[i * HUGE_2M] = 1;
	return NULL;
}

/* mmap npages of hugetlb memory and touch them from nthreads threads;
 * milliseconds until every page is in, or a negative value. */
double fault_bulk(size_t npages, unsigned nthreads)
{
	struct touch_job jobs[8];
	pthread_t tid[8];
	uint64_t t0 = now_ns();
	double ms;
	uint8_t *m = mmap(NULL, npages * HUGE_2M, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (m == MAP_FAILED)
		return -1;
	for (unsigned k = 0; k < nthreads; k++) {
		jobs[k] = (struct touch_job){ m, k, nthreads, npages };
		if (k && pthread_create(&tid[k], NULL, touch_worker, &jobs[k]))
			touch_worker(&jobs[k]), tid[k] = 0;
	}
	touch_worker(&jobs[0]);
	for (unsigned k = 1; k < nthreads; k++)
		if (tid[k])
			pthread_join(tid[k], NULL);
	ms = (double)(now_ns() - t0) / 1e6;
	munmap(m, npages * HUGE_2M);
	return ms;
}

/* The daemon's unit: one memfd per page, allocated, mapped, located. */
static int memfd_acquire(int pagemap)
{
	void *m;
	uint64_t e;
	int fd = hugetlb_memfd(true, &m);

	if (fd < 0)
		return fd;
	if (pread(pagemap, &e, sizeof(e), (off_t)((uintptr_t)m / 4096 * 8)) != sizeof(e))
		e = 0;
	bench_sink += e;
	munmap(m, HUGE_2M);
	close(fd);
	return 0;
}

double memfd_bulk(size_t npages)
{
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int *fds = calloc(npages, sizeof(int));
	void **maps = calloc(npages, sizeof(void *));
	uint64_t t0 = now_ns();
	double ms = -1;
	size_t got = 0;

	if (!fds || !maps)
		goto out;
	for (; got < npages; got++) {
		uint64_t e;
		fds[got] = hugetlb_memfd(true, &maps[got]);
		if (fds[got] < 0)
			break;
		if (pread(pagemap, &e, sizeof(e), (off_t)((uintptr_t)maps[got] / 4096 * 8)) ==
		    sizeof(e))
			bench_sink += e;
	}
	if (got == npages)
		ms = (double)(now_ns() - t0) / 1e6;
	for (size_t i = 0; i < got; i++) {
		munmap(maps[i], HUGE_2M);
		close(fds[i]);
	}
out:
	free(fds);
	free(maps);
	if (pagemap >= 0)
		close(pagemap);
	return ms;
}

static void fault_floors(const struct run_cfg *cfg)
{
	struct samples one = { 0 }, unmap = { 0 }, acq = { 0 };
	unsigned n = cfg->smoke ? 20 : 300;
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns(), t1;
		uint8_t *m = mmap(NULL, HUGE_2M, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (m == MAP_FAILED)
			break;
		m[0] = 1;
		t1 = now_ns();
		munmap(m, HUGE_2M);
		samples_add(&one, (double)(t1 - t0) / 1e3);
		samples_add(&unmap, (double)(now_ns() - t1) / 1e3);
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		if (memfd_acquire(pagemap) < 0)
			break;
		samples_add(&acq, (double)(now_ns() - t0) / 1e3);
	}
	result_samples(G_FLOOR_FAULT, "mmap(MAP_HUGETLB) + touch, 1 page", ROLE_FLOOR, "µs", &one,
		       NULL);
	result_samples(G_FLOOR_FAULT, "munmap of it (page back to the kernel)", ROLE_INFO, "µs",
		       &unmap, NULL);
	result_samples(G_FLOOR_FAULT, "memfd_create + fallocate + mmap POPULATE + pagemap, 1 page",
		       ROLE_INFO, "µs", &acq, "the daemon's unit of work at start and in reclaim");
	if (one.n) {
		double med, p99;
		samples_summary(&one, &med, &p99);
		result_value(G_RECLAIM, "kernel fault-in, 1 thread", ROLE_INFO, "pages/s",
			     1e6 / med, (unsigned)one.n, "from the 1-page fault figure");
	}
	if (acq.n) {
		double med, p99;
		samples_summary(&acq, &med, &p99);
		result_value(G_RECLAIM, "memfd page acquire, 1 thread", ROLE_INFO, "pages/s",
			     1e6 / med, (unsigned)acq.n, "what one reclaim thread can do at best");
	}
	samples_free(&one);
	samples_free(&unmap);
	samples_free(&acq);
	if (pagemap >= 0)
		close(pagemap);
}

/* ---- punch ---- */

static void punch_floor(const struct run_cfg *cfg)
{
	struct samples s = { 0 };
	unsigned n = cfg->smoke ? 20 : 300;

	for (unsigned i = 0; i < n; i++) {
		void *m;
		int fd = hugetlb_memfd(true, &m);
		uint64_t t0;

		if (fd < 0)
			break;
		t0 = now_ns();
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)HUGE_2M) < 0) {
			close(fd);
			break;
		}
		samples_add(&s, (double)(now_ns() - t0) / 1e3);
		munmap(m, HUGE_2M);
		close(fd);
	}
	result_samples(G_FLOOR_PUNCH, "fallocate(PUNCH_HOLE | KEEP_SIZE), page mapped here",
		       ROLE_FLOOR, "µs", &s, "unmaps it from every mapping and frees it");
	samples_free(&s);
}

void floors_run(const struct run_cfg *cfg)
{
	hugepages_ensure(64);
	ipc_floors(cfg);
	zero_floors(cfg);
	punch_floor(cfg);
	fault_floors(cfg);
}
