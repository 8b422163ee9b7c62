/* SPDX-License-Identifier: MIT */
/*
 * link.c - this process's session with contigd: connect and HELLO on first
 * use, one request at a time under lc.lock, and the mapping of the page fds
 * a region arrives with into one virtually contiguous range.
 *
 * If the daemon goes away, the socket is dropped and session_gen bumped:
 * regions of the old session stay mapped (their pages are held by our
 * mappings, so nobody else can get them) and are only unmapped on free.
 * session_gen names the session only once its HELLO is answered: a region
 * is stamped with it after that, and a socket that is connected but not
 * greeted yet still carries the bumped, unused generation of the drop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_SOCKET "/run/contigd/contigd.sock"

void link_drop(void)
{
	/* Before the close: the stash watches this socket for a hang-up, and
	 * the number must not name another file while it does. */
	stash_end();
	if (lc.sock >= 0)
		close(lc.sock);
	lc.sock = -1;
	lc.owed = 0;
	lc.hello_request = 0;
	lc.session_gen++; /* everything of the ended session is stale now */
}

/* The answer to our HELLO: the session's page size, and a new session. */
static int hello_apply(const struct proto_msg *m)
{
	if (m->hdr.type == PROTO_STATUS)
		return m->body.status.error ? -m->body.status.error : -EPROTO;
	if (m->hdr.type != PROTO_HELLO_REPLY || m->body.hello_reply.page_size < 4096 ||
	    (m->body.hello_reply.page_size & (m->body.hello_reply.page_size - 1)))
		return -EPROTO;
	lc.page_size = m->body.hello_reply.page_size;
	lc.session_gen++;
	return 0;
}

/* A refusal the daemon sent unasked (request 0) before closing on us, e.g.
 * EDQUOT for one session too many: its errno, or 0 if there is none. */
static int refusal(const struct proto_msg *m)
{
	/* Or the refusal of a HELLO sent ahead (it is followed by the close). */
	bool unasked = m->hdr.request == 0 || (lc.hello_request && m->hdr.request == lc.hello_request);

	if (m->hdr.type == PROTO_STATUS && unasked && m->body.status.error)
		return -m->body.status.error;
	return 0;
}

static int pending_refusal(void)
{
	struct pollfd pfd = { .fd = lc.sock, .events = POLLIN };
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	struct proto_msg m;
	size_t nfds = 0;
	ssize_t n;

	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		return 0;
	n = proto_recv(lc.sock, buf, sizeof(buf), fds, PROTO_MAX_FDS, &nfds);
	proto_close_fds(fds, nfds);
	if (n <= 0 || proto_decode(buf, (size_t)n, 0, &m) < 0)
		return 0;
	return refusal(&m);
}

int link_send(uint16_t type, uint32_t request, const void *body, size_t len)
{
	uint8_t buf[sizeof(struct proto_hdr) + sizeof(union proto_body)];
	size_t n = proto_encode(buf, type, request, body, len);
	int r = proto_send(lc.sock, buf, n, NULL, 0);

	if (r < 0) {
		int why = pending_refusal();
		link_drop();
		if (why)
			return why;
		return r == -EPIPE ? -ECONNRESET : r;
	}
	return 0;
}

int link_recv(uint32_t request, struct proto_msg *ret, uint8_t *buf, int *fds, size_t *ret_nfds)
{
	size_t nfds;
	ssize_t n;
	int r;

again:
	nfds = 0;
	n = proto_recv(lc.sock, buf, PROTO_MAX_MSG, fds, PROTO_MAX_FDS, &nfds);
	if (n <= 0) {
		/* A unix socket reports the peer's close (ECONNRESET) before the
		 * datagrams still queued: one of them may say why it closed. */
		int why = n < 0 ? pending_refusal() : 0;
		link_drop();
		if (why)
			return why;
		return n == 0 || n == -EPIPE ? -ECONNRESET : (int)n;
	}
	r = proto_decode(buf, (size_t)n, nfds, ret);
	int why = r == 0 ? refusal(ret) : 0;
	if (why) {
		proto_close_fds(fds, nfds);
		link_drop();
		return why;
	}
	/* The answer to a HELLO sent ahead of this request comes first. */
	if (r == 0 && lc.hello_request && ret->hdr.request == lc.hello_request && !nfds) {
		lc.hello_request = 0;
		r = hello_apply(ret);
		if (r < 0) {
			link_drop();
			return r;
		}
		goto again;
	}
	/* Answers to frees sent without waiting come first, in order; what
	 * they say changes nothing (the region is gone from our side). */
	if (r == 0 && lc.owed && ret->hdr.request != request && ret->hdr.type == PROTO_STATUS &&
	    !nfds) {
		lc.owed--;
		goto again;
	}
	if (r == 0 && ret->hdr.request != request)
		r = -EPROTO;
	if (r < 0) {
		proto_close_fds(fds, nfds);
		link_drop();
		return r == -EPROTONOSUPPORT ? r : -EPROTO;
	}
	*ret_nfds = nfds;
	return 0;
}

int link_call(uint16_t type, const void *body, size_t len, uint16_t want_type,
	      struct proto_msg *ret)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	uint32_t request = ++lc.next_request;
	size_t nfds;
	int r;

	r = link_send(type, request, body, len);
	if (r < 0)
		return r;
	r = link_recv(request, ret, buf, fds, &nfds);
	if (r < 0)
		return r;
	if (ret->hdr.type == PROTO_STATUS && want_type != PROTO_STATUS)
		return ret->body.status.error ? -ret->body.status.error : -EPROTO;
	if (ret->hdr.type != want_type) {
		link_drop();
		return -EPROTO;
	}
	if (ret->items) /* points into buf, which dies here: callers take the body */
		ret->items = NULL;
	return 0;
}

static int link_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* secure_getenv: a setuid or file-capability program must not be
	 * pointed at a server its caller chose (getauxval(AT_SECURE)). */
	const char *path = secure_getenv("CONTIG_SOCKET");
	int fd;

	if (!path || !*path)
		path = DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int link_ensure(void)
{
	struct proto_hello hello = { .version = PROTO_VERSION };
	struct proto_msg rep;
	int fd, r;

	if (lc.sock >= 0)
		return 0;
	fd = link_connect();
	if (fd < 0)
		return fd;
	lc.sock = fd;
	r = link_call(PROTO_HELLO, &hello, sizeof(hello), PROTO_HELLO_REPLY, &rep);
	if (r == 0)
		r = hello_apply(&rep);
	if (r < 0)
		link_drop();
	return r;
}

int link_ensure_async(void)
{
	struct proto_hello hello = { .version = PROTO_VERSION };
	int fd, r;

	if (lc.sock >= 0)
		return 0;
	fd = link_connect();
	if (fd < 0)
		return fd;
	lc.sock = fd;
	lc.hello_request = ++lc.next_request;
	r = link_send(PROTO_HELLO, lc.hello_request, &hello, sizeof(hello));
	if (r < 0)
		link_drop(); /* (link_send did) */
	return r;
}

/* Reserve len bytes of address space aligned to align (hugetlb mappings
 * must start on a huge page boundary), or exactly at fixed. */
static void *reserve_va(size_t len, size_t align, void *fixed)
{
	uint8_t *p, *start;

	if (fixed) {
		p = mmap(fixed, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
							MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (p != fixed) { /* a kernel without MAP_FIXED_NOREPLACE */
			munmap(p, len);
			errno = EEXIST;
			return NULL;
		}
		return p;
	}
	p = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	start = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (start > p)
		munmap(p, (size_t)(start - p));
	munmap(start + len, (size_t)(p + align - start));
	return start;
}

/* Check that a chunk belongs to the region the first chunk announced. */
static bool chunk_matches(const struct proto_region *first, const struct proto_region *c,
			  uint32_t expect)
{
	return c->region_id == first->region_id && c->npages == first->npages &&
	       c->phys == first->phys && c->page_size == first->page_size &&
	       c->nbytes == first->nbytes && c->first == expect;
}

int link_recv_region(uint32_t request, void *fixed_va, struct lc_region *ret)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	struct proto_region head;
	struct proto_msg m;
	uint8_t *base = NULL;
	size_t nfds, len = 0;
	uint32_t done = 0;
	int r, err = 0;

	r = link_recv(request, &m, buf, fds, &nfds);
	if (r < 0)
		return r;
	if (m.hdr.type == PROTO_STATUS)
		return m.body.status.error ? -m.body.status.error : -EPROTO;
	if (m.hdr.type != PROTO_REGION || m.body.region.first != 0 ||
	    m.body.region.page_size != lc.page_size) {
		proto_close_fds(fds, nfds);
		link_drop();
		return -EPROTO;
	}
	head = m.body.region;
	len = (size_t)head.npages * head.page_size;
	if (fixed_va && ((uintptr_t)fixed_va & (head.page_size - 1)))
		err = -EINVAL;
	if (!err) {
		base = reserve_va(len, head.page_size, fixed_va);
		if (!base)
			err = -errno;
	}
	/* Map every chunk, or on any error keep draining them (closing their
	 * fds) so the session stays in step, then give the region back. */
	for (;;) {
		for (size_t k = 0; k < nfds; k++) {
			if (!err && mmap(base + (size_t)(head.first + k) * head.page_size,
					 head.page_size, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fds[k],
					 0) == MAP_FAILED)
				err = -errno;
			close(fds[k]);
		}
		done += (uint32_t)nfds;
		if (done == head.npages)
			break;
		r = link_recv(request, &m, buf, fds, &nfds);
		if (r < 0) {
			err = r;
			break;
		}
		if (m.hdr.type != PROTO_REGION || !chunk_matches(&head, &m.body.region, done)) {
			proto_close_fds(fds, nfds);
			link_drop();
			err = -EPROTO;
			break;
		}
		head.first = m.body.region.first;
	}
	head.first = 0;
	if (!err && madvise(base, len, MADV_DONTFORK) < 0)
		err = -errno;
	if (err) {
		if (base)
			munmap(base, len);
		if (lc.sock >= 0) {
			struct proto_free f = { .region_id = head.region_id };
			struct proto_msg rep;
			(void)link_call(PROTO_FREE, &f, sizeof(f), PROTO_STATUS, &rep);
		}
		return err;
	}
	*ret = (struct lc_region){
		.base = (uintptr_t)base,
		.mapped = len,
		.nbytes = head.nbytes,
		.dirty = head.nbytes,
		.phys = head.phys,
		.id = head.region_id,
		.page_size = head.page_size,
		.session_gen = lc.session_gen,
		.node = head.node,
	};
	return 0;
}
