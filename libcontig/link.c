/* SPDX-License-Identifier: MIT */
/*
 * link.c - this process's session with contigd (see link.h): connect and
 * HELLO on first use, one request at a time under the link's lock, the
 * mapping of the page fds a region arrives with into one virtually
 * contiguous range, and the session's stash table, checked and mapped.
 * The wire mechanics (connect, send, receive, HELLO checks) are
 * proto/client.c's, shared with contigctl and the tests.
 *
 * If the daemon goes away, the socket is dropped and the generation bumped:
 * regions of the old session stay mapped (their pages are held by our
 * mappings, so nobody else can get them) and are only unmapped on free.
 * The generation names the session only once its HELLO is answered: a
 * region is stamped with it after that, and a socket that is connected but
 * not greeted yet still carries the bumped, unused generation of the drop.
 *
 * Every field is the lock's, except gen, which is atomic everywhere: the
 * stash reads it without the lock (link_session_gen).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "link.h"

#define DEFAULT_SOCKET "/run/contigd/contigd.sock"
/* At most this many frees in flight unanswered: their replies queue in our
 * receive buffer, and a daemon that cannot send stops reading us. */
#define MAX_OWED 32
/* Replies remembered (link.recent): a restarted contigd repeats at most the
 * one reply its predecessor owed each session. */
#define RECENT 8

struct link {
	pthread_mutex_t lock;
	int sock;                 /* -1: not connected */
	_Atomic uint64_t gen;     /* bumped on every HELLO answered and every drop */
	uint64_t page_size;       /* from HELLO_REPLY */
	uint32_t next_request;
	uint32_t owed;            /* FREE replies not read yet (frees sent without waiting) */
	uint32_t hello_request;   /* a HELLO sent and not answered yet (0: none) */
	uint32_t answered;        /* the last request whose reply was read */
	/* The last replies read: request, and the region a REGION reply gave
	 * (0: another reply), to tell a repeat from a request served anew. */
	struct {
		uint32_t request;
		uint64_t region;
	} recent[RECENT];
	uint32_t recent_next;
	void (*on_end)(void);
};

static struct link self = { .lock = PTHREAD_MUTEX_INITIALIZER, .sock = -1 };

void link_init(void (*on_end)(void))
{
	self.on_end = on_end;
}

uint64_t link_session_gen(void)
{
	return atomic_load_explicit(&self.gen, memory_order_acquire);
}

static void gen_bump(void)
{
	atomic_fetch_add_explicit(&self.gen, 1, memory_order_acq_rel);
}

static void link_drop(void)
{
	/* Everything of the ended session is stale from here, first of all
	 * a stash table fetched for it and not installed yet. */
	gen_bump();
	/* Before the close: the stash watches this socket for a hang-up, and
	 * the number must not name another file while it does. */
	if (self.on_end)
		self.on_end();
	if (self.sock >= 0)
		close(self.sock);
	self.sock = -1;
	self.owed = 0;
	self.hello_request = 0;
	self.answered = self.next_request;
}

void link_fork_prepare(void)
{
	pthread_mutex_lock(&self.lock);
}

void link_fork_parent(void)
{
	pthread_mutex_unlock(&self.lock);
}

/* The child must not speak on the parent's session. */
void link_fork_child(void)
{
	if (self.sock >= 0)
		close(self.sock);
	self.sock = -1;
	self.owed = 0;
	self.hello_request = 0;
	self.answered = self.next_request;
	gen_bump();
	pthread_mutex_unlock(&self.lock);
}

/* The answer to our HELLO: the session's page size, and a new session. */
static int hello_apply(const struct proto_msg *m)
{
	int r = proto_client_hello_check(m);

	if (r < 0)
		return r;
	self.page_size = m->body.hello_reply.page_size;
	gen_bump();
	return 0;
}

/* A refusal the daemon sent unasked (request 0) before closing on us, e.g.
 * EDQUOT for one session too many: its errno, or 0 if there is none. */
static int refusal(const struct proto_msg *m)
{
	/* Or the refusal of a HELLO sent ahead (it is followed by the close). */
	bool unasked = m->hdr.request == 0 ||
		       (self.hello_request && m->hdr.request == self.hello_request);

	if (m->hdr.type == PROTO_STATUS && unasked && m->body.status.error)
		return -m->body.status.error;
	return 0;
}

static int pending_refusal(void)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	struct proto_msg m;
	size_t nfds;
	ssize_t n;

	n = proto_client_recv(self.sock, 0, buf, sizeof(buf), fds, &nfds);
	proto_close_fds(fds, nfds);
	if (n <= 0 || proto_decode(buf, (size_t)n, 0, &m) < 0)
		return 0;
	return refusal(&m);
}

/* After a send: a failed one ends the session, with the reason the daemon
 * gave if it left one. */
static int sent(int r)
{
	if (r < 0) {
		int why = pending_refusal();
		link_drop();
		return why ? why : r;
	}
	return 0;
}

static int link_send(uint16_t type, uint32_t request, const void *body, size_t len)
{
	return sent(proto_client_send(self.sock, type, request, body, len));
}

static void remember(uint32_t request, uint64_t region)
{
	self.recent[self.recent_next % RECENT].request = request;
	self.recent[self.recent_next % RECENT].region = region;
	self.recent_next++;
}

/* A REGION reply to a request answered already. The same region again is
 * a repeat (a restarted contigd cannot know whether its predecessor's
 * reply left): nothing to do, we hold it. Another region means the request
 * was served anew (the first region could not be restored): the daemon
 * now holds a region for us that nothing here knows, so give it back, as
 * a free sent without waiting. */
static void repeat_region(uint32_t request, uint64_t region)
{
	for (uint32_t i = 0; i < RECENT; i++)
		if (self.recent[i].request == request && self.recent[i].region == region)
			return;
	if (!region || self.owed >= MAX_OWED)
		return;
	struct proto_free f = { .region_id = region };
	if (sent(proto_client_send(self.sock, PROTO_FREE, ++self.next_request, &f, sizeof(f))) == 0)
		self.owed++;
}

/* Receive one reply to request; fds (if any) land in fds[] and are the
 * caller's. A reply to another request id is a protocol error. */
static int link_recv(uint32_t request, struct proto_msg *ret, uint8_t *buf, int *fds,
		     size_t *ret_nfds)
{
	size_t nfds;
	ssize_t n;
	int r;

again:
	n = proto_client_recv(self.sock, -1, buf, PROTO_MAX_MSG, fds, &nfds);
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
	/* A reply to a request answered already: a contigd restarted from
	 * systemd's fd store sends again the reply its predecessor may have
	 * sent just before it died (it cannot know). Replies come in the
	 * order of the requests, so anything not newer than the last one
	 * read is such a repeat. */
	if (r == 0 && ret->hdr.request && ret->hdr.request != request &&
	    (int32_t)(ret->hdr.request - self.answered) <= 0) {
		proto_close_fds(fds, nfds);
		if (ret->hdr.type == PROTO_REGION)
			repeat_region(ret->hdr.request, ret->body.region.region_id);
		goto again;
	}
	int why = r == 0 ? refusal(ret) : 0;
	if (why) {
		proto_close_fds(fds, nfds);
		link_drop();
		return why;
	}
	/* The answer to a HELLO sent ahead of this request comes first. */
	if (r == 0 && self.hello_request && ret->hdr.request == self.hello_request && !nfds) {
		self.hello_request = 0;
		self.answered = ret->hdr.request;
		r = hello_apply(ret);
		if (r < 0) {
			link_drop();
			return r;
		}
		goto again;
	}
	/* Answers to frees sent without waiting come first, in order; what
	 * they say changes nothing (the region is gone from our side). */
	if (r == 0 && self.owed && ret->hdr.request != request && ret->hdr.type == PROTO_STATUS &&
	    !nfds) {
		self.owed--;
		self.answered = ret->hdr.request;
		goto again;
	}
	if (r == 0 && ret->hdr.request != request)
		r = -EPROTO;
	if (r < 0) {
		proto_close_fds(fds, nfds);
		link_drop();
		return r == -EPROTONOSUPPORT ? r : -EPROTO;
	}
	self.answered = request;
	remember(request, ret->hdr.type == PROTO_REGION ? ret->body.region.region_id : 0);
	*ret_nfds = nfds;
	return 0;
}

/* Send a request and receive its single reply, of type want (or a STATUS:
 * its -errno). Not for replies that carry fds. */
static int link_call(uint16_t type, const void *body, size_t len, uint16_t want,
		     struct proto_msg *ret)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	uint32_t request = ++self.next_request;
	size_t nfds;
	int r;

	r = link_send(type, request, body, len);
	if (r < 0)
		return r;
	r = link_recv(request, ret, buf, fds, &nfds);
	if (r < 0)
		return r;
	r = proto_client_reply(ret, request, want);
	if (r < 0 && ret->hdr.type != PROTO_STATUS) {
		proto_close_fds(fds, nfds);
		link_drop();
		return r;
	}
	if (ret->items) /* points into buf, which dies here: callers take the body */
		ret->items = NULL;
	return r;
}

static int link_connect(void)
{
	/* secure_getenv: a setuid or file-capability program must not be
	 * pointed at a server its caller chose (getauxval(AT_SECURE)). */
	const char *path = secure_getenv("CONTIG_SOCKET");

	if (!path || !*path)
		path = DEFAULT_SOCKET;
	return proto_client_connect(path, 0);
}

/* Connect and send HELLO as request; ahead: without waiting for its
 * answer, so that the first request goes out right behind it (link_recv
 * reads the answer first). */
static int link_open(uint32_t request, bool ahead)
{
	int fd = link_connect();

	if (fd < 0)
		return fd;
	self.sock = fd;
	if (ahead)
		self.hello_request = request;
	return sent(proto_client_hello_send(self.sock, request));
}

/* CONTIG_GRANT: the token a Kubernetes device plugin put in this
 * container's environment, 64 hex digits. 0 with the token, -ENOENT if
 * there is none; a malformed one is a forged one (-EACCES). secure_getenv:
 * a setuid program must not present its caller's. */
static int grant_token(uint8_t ret[PROTO_GRANT_TOKEN])
{
	const char *e = secure_getenv("CONTIG_GRANT");

	if (!e || !*e)
		return -ENOENT;
	if (strlen(e) != 2 * PROTO_GRANT_TOKEN)
		return -EACCES;
	for (unsigned i = 0; i < 2 * PROTO_GRANT_TOKEN; i++) {
		char c = e[i];
		int v = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			return -EACCES;
		if (i % 2 == 0)
			ret[i / 2] = (uint8_t)(v << 4);
		else
			ret[i / 2] |= (uint8_t)v;
	}
	return 0;
}

static bool has_grant(void)
{
	const char *e = secure_getenv("CONTIG_GRANT");

	return e && *e;
}

/* Bind the new session to the grant, before it holds anything: the
 * daemon caps what all sessions of one grant hold. */
static int grant_present(void)
{
	struct proto_grant g = { .op = PROTO_GRANT_USE };
	struct proto_msg rep;
	int r = grant_token(g.token);

	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = link_call(PROTO_GRANT, &g, sizeof(g), PROTO_STATUS, &rep);
	if (r == 0 && rep.body.status.error)
		r = -rep.body.status.error;
	return r;
}

static int link_ensure(void)
{
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	struct proto_msg rep;
	uint32_t request;
	size_t nfds;
	int r;

	if (self.sock >= 0)
		return 0;
	request = ++self.next_request;
	r = link_open(request, false);
	if (r == 0)
		r = link_recv(request, &rep, buf, fds, &nfds);
	if (r == 0)
		r = hello_apply(&rep);
	if (r == 0)
		r = grant_present();
	if (r < 0 && self.sock >= 0)
		link_drop();
	return r;
}

/* A peer's close shows as a hang-up on our end at once (unix(7)), with
 * replies maybe still queued: the session is over either way. Errors
 * count as over: a miss costs a reconnect, a wrong "alive" a carved
 * region from a page the pool no longer counts. */
void link_check_hangup(void)
{
	struct pollfd pfd = { .events = POLLRDHUP };

	pthread_mutex_lock(&self.lock);
	pfd.fd = self.sock;
	if (self.sock >= 0 &&
	    (poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))))
		link_drop();
	pthread_mutex_unlock(&self.lock);
}

uint64_t link_page_size(void)
{
	uint64_t ps = 0;

	pthread_mutex_lock(&self.lock);
	/* A HELLO sent ahead and not answered yet leaves an older figure. */
	if (link_ensure() == 0 && !self.hello_request)
		ps = self.page_size;
	pthread_mutex_unlock(&self.lock);
	return ps;
}

static int link_ensure_async(void)
{
	if (self.sock >= 0)
		return 0;
	/* The grant must be in place before the first request. */
	if (has_grant())
		return link_ensure();
	return link_open(++self.next_request, true);
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

/* Receive a region's datagrams and map them: at fixed_va (MAP_FIXED_NOREPLACE)
 * or anywhere. Fills *ret; on failure nothing stays mapped. */
static int link_recv_region(uint32_t request, void *fixed_va, struct region *ret)
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
	    m.body.region.page_size != self.page_size) {
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
		/* The region's first chunks again: a restarted contigd sends
		 * the whole reply again (see link_recv); they are the same
		 * pages. */
		if (m.hdr.type == PROTO_REGION && m.body.region.first < done &&
		    chunk_matches(&head, &m.body.region, m.body.region.first)) {
			proto_close_fds(fds, nfds);
			nfds = 0;
			continue;
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
		if (self.sock >= 0) {
			struct proto_free f = { .region_id = head.region_id };
			struct proto_msg rep;
			(void)link_call(PROTO_FREE, &f, sizeof(f), PROTO_STATUS, &rep);
		}
		return err;
	}
	*ret = (struct region){
		.base = (uintptr_t)base,
		.mapped = len,
		.nbytes = head.nbytes,
		.dirty = head.nbytes,
		.phys = head.phys,
		.id = head.region_id,
		.page_size = head.page_size,
		.session_gen = link_session_gen(),
		.node = head.node,
	};
	return 0;
}

int link_region_fetch(uint16_t type, const void *body, size_t len, void *fixed_va,
		      struct region *ret)
{
	int r = 0;

	pthread_mutex_lock(&self.lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		/* A first request rides right behind the HELLO: one wait saved. */
		r = link_ensure_async();
		if (r < 0)
			break;
		uint32_t request = ++self.next_request;
		r = link_send(type, request, body, len);
		if (r == 0)
			r = link_recv_region(request, fixed_va, ret);
		if (r != -ECONNRESET)
			break;
	}
	pthread_mutex_unlock(&self.lock);
	return r;
}

/*
 * A region only this process ever mapped needs no answer to its FREE: our
 * mapping is gone before the message leaves, and the daemon handles a
 * session's requests in order, so it revokes the pages before it serves our
 * next request, and before anyone else can be given them. A shared region
 * waits for the answer, so that when contig_free returns the pages have
 * been revoked from every mapping (unless another holder keeps them).
 */
void link_region_free(const struct region *reg)
{
	munmap((void *)reg->base, reg->mapped);
	pthread_mutex_lock(&self.lock);
	if (reg->session_gen == link_session_gen() && self.sock >= 0) {
		struct proto_free f = { .region_id = reg->id };
		struct proto_msg rep;

		if (!reg->shared && self.owed < MAX_OWED) {
			if (link_send(PROTO_FREE, ++self.next_request, &f, sizeof(f)) == 0)
				self.owed++;
		} else {
			(void)link_call(PROTO_FREE, &f, sizeof(f), PROTO_STATUS, &rep);
		}
	}
	pthread_mutex_unlock(&self.lock);
}

int link_query(int node, struct proto_pool_info *ret)
{
	struct proto_query q = { .node = node };
	struct proto_msg rep;
	int r = 0;

	pthread_mutex_lock(&self.lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		r = link_ensure();
		if (r == 0)
			r = link_call(PROTO_QUERY, &q, sizeof(q), PROTO_POOL_INFO, &rep);
		if (r != -ECONNRESET)
			break;
	}
	pthread_mutex_unlock(&self.lock);
	if (r == 0)
		*ret = rep.body.pool_info;
	return r;
}

int link_export(const struct region *reg, struct proto_handle *ret)
{
	struct proto_export e = { .region_id = reg->id };
	struct proto_msg rep;
	int r;

	pthread_mutex_lock(&self.lock);
	if (reg->session_gen != link_session_gen() || self.sock < 0)
		r = -ECONNRESET; /* its daemon is gone: nothing to share it through */
	else
		r = link_call(PROTO_EXPORT, &e, sizeof(e), PROTO_HANDLE, &rep);
	pthread_mutex_unlock(&self.lock);
	if (r == 0)
		*ret = rep.body.handle;
	return r;
}

int link_revoke(const struct proto_handle *h)
{
	struct proto_msg rep;
	int r;

	pthread_mutex_lock(&self.lock);
	r = link_ensure();
	if (r == 0)
		r = link_call(PROTO_REVOKE, h, sizeof(*h), PROTO_STATUS, &rep);
	if (r == 0 && rep.body.status.error)
		r = -rep.body.status.error;
	pthread_mutex_unlock(&self.lock);
	return r;
}

/* The daemon's stash table must be what both sides map, and stay so: a
 * file we could be cut short under would SIGBUS us on the next slot we
 * touch (memfd_create(2): F_SEAL_SHRINK, F_SEAL_GROW). Borrows fd. */
static int stash_table_check(int fd)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != PROTO_STASH_BYTES)
		return -EPROTO;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -EPROTO; /* not a memfd (or shmem) at all */
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPROTO;
	return 0;
}

/* PROTO_STASH on the session connected now. A table that fails
 * stash_table_check is refused: the session goes on without a stash. */
static int stash_table_fetch(struct link_stash_table *ret)
{
	struct proto_stash body = { 0 };
	uint8_t buf[PROTO_MAX_MSG];
	int fds[PROTO_MAX_FDS];
	uint32_t request = ++self.next_request;
	struct proto_msg m;
	size_t nfds = 0;
	void *map;
	int r;

	r = link_send(PROTO_STASH, request, &body, sizeof(body));
	if (r == 0)
		r = link_recv(request, &m, buf, fds, &nfds);
	if (r < 0)
		return r;
	if (m.hdr.type == PROTO_STATUS) {
		proto_close_fds(fds, nfds);
		return m.body.status.error ? -m.body.status.error : -EPROTO;
	}
	if (m.hdr.type != PROTO_STASH_TABLE || nfds != 1) {
		proto_close_fds(fds, nfds);
		link_drop();
		return -EPROTO;
	}
	r = stash_table_check(fds[0]);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	map = mmap(NULL, PROTO_STASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	close(fds[0]);
	if (map == MAP_FAILED)
		return -errno;
	(void)madvise(map, PROTO_STASH_BYTES, MADV_DONTFORK);
	*ret = (struct link_stash_table){ .slots = map, .sock = self.sock };
	return 0;
}

int link_stash_table(uint64_t gen, struct link_stash_table *ret)
{
	int r;

	pthread_mutex_lock(&self.lock);
	if (gen != link_session_gen() || self.sock < 0)
		r = -ESTALE;
	else
		r = stash_table_fetch(ret);
	pthread_mutex_unlock(&self.lock);
	return r;
}
