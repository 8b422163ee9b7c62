/* SPDX-License-Identifier: MIT */
/*
 * proto.c - the pure codec (validation and encoding) and the two socket
 * helpers that move one datagram and its fds. The codec does no I/O and
 * touches no state, so it is fuzzed on its own (tests/fuzz_proto.c).
 */
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const size_t body_size[PROTO_TYPE_MAX] = {
	[PROTO_HELLO] = sizeof(struct proto_hello),
	[PROTO_HELLO_REPLY] = sizeof(struct proto_hello_reply),
	[PROTO_ALLOC] = sizeof(struct proto_alloc),
	[PROTO_REGION] = sizeof(struct proto_region),
	[PROTO_FREE] = sizeof(struct proto_free),
	[PROTO_STATUS] = sizeof(struct proto_status),
	[PROTO_QUERY] = sizeof(struct proto_query),
	[PROTO_POOL_INFO] = sizeof(struct proto_pool_info),
	[PROTO_EXPORT] = sizeof(struct proto_export),
	[PROTO_HANDLE] = sizeof(struct proto_handle),
	[PROTO_IMPORT] = sizeof(struct proto_handle),
	[PROTO_REVOKE] = sizeof(struct proto_handle),
	[PROTO_LIST] = sizeof(struct proto_list),
	[PROTO_LIST_REPLY] = sizeof(struct proto_list_reply),
	[PROTO_STASH] = sizeof(struct proto_stash),
	[PROTO_STASH_TABLE] = sizeof(struct proto_stash_table),
	[PROTO_GRANT] = sizeof(struct proto_grant),
	[PROTO_GRANT_REPLY] = sizeof(struct proto_grant_reply),
};

static const size_t table_item_size[PROTO_TABLE_MAX] = {
	[PROTO_TABLE_RUNS] = sizeof(struct proto_run_item),
	[PROTO_TABLE_REGIONS] = sizeof(struct proto_region_item),
	[PROTO_TABLE_SESSIONS] = sizeof(struct proto_session_item),
	[PROTO_TABLE_PAGES] = sizeof(struct proto_page_item),
	[PROTO_TABLE_STATS] = sizeof(struct proto_stat_item),
	[PROTO_TABLE_CGROUPS] = sizeof(struct proto_cgroup_item),
	[PROTO_TABLE_GRANTS] = sizeof(struct proto_grant_item),
};

size_t proto_body_size(uint16_t type)
{
	return type < PROTO_TYPE_MAX ? body_size[type] : 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Field rules that hold whatever the sender's intent: a request that passes
 * here may still be refused by the daemon (that is data, not a violation). */
static int check_fields(const struct proto_msg *m, size_t nfds)
{
	const union proto_body *b = &m->body;

	if (m->hdr.type != PROTO_REGION && m->hdr.type != PROTO_STASH_TABLE && nfds)
		return -EPROTO;

	switch (m->hdr.type) {
	case PROTO_HELLO:
		return b->hello.flags ? -EBADMSG : 0;
	case PROTO_ALLOC:
		if (b->alloc.reserved || (b->alloc.flags & ~PROTO_ALLOC_FLAGS))
			return -EBADMSG;
		return 0;
	case PROTO_REGION:
		if (!b->region.npages || b->region.npages > PROTO_MAX_REGION_PAGES ||
		    !is_pow2(b->region.page_size) ||
		    b->region.page_size > UINT64_MAX / b->region.npages || !b->region.count ||
		    b->region.count > PROTO_MAX_FDS || b->region.first >= b->region.npages ||
		    b->region.count > b->region.npages - b->region.first ||
		    b->region.nbytes == 0 || b->region.nbytes > (uint64_t)b->region.npages * b->region.page_size ||
		    b->region.phys & (b->region.page_size - 1))
			return -EBADMSG;
		return nfds == b->region.count ? 0 : -EPROTO;
	case PROTO_STATUS:
		if (b->status.reserved || b->status.error < 0 || b->status.error > 4095)
			return -EBADMSG;
		return 0;
	case PROTO_QUERY:
		if (b->query.reserved || b->query.node < PROTO_NODE_ANY || b->query.node >= PROTO_MAX_NODES)
			return -EBADMSG;
		return 0;
	case PROTO_LIST:
		if (b->list.reserved || !b->list.table || b->list.table >= PROTO_TABLE_MAX)
			return -EBADMSG;
		return 0;
	case PROTO_STASH:
		return b->stash.flags || b->stash.reserved ? -EBADMSG : 0;
	case PROTO_GRANT:
		if (b->grant.reserved || !b->grant.op || b->grant.op >= PROTO_GRANT_OP_MAX ||
		    (b->grant.op == PROTO_GRANT_CREATE) != (b->grant.bytes != 0))
			return -EBADMSG;
		return 0;
	case PROTO_STASH_TABLE:
		if (b->stash_table.slots != PROTO_STASH_SLOTS ||
		    b->stash_table.bytes != PROTO_STASH_BYTES)
			return -EBADMSG;
		return nfds == 1 ? 0 : -EPROTO;
	case PROTO_LIST_REPLY:
		if (b->list_reply.reserved || !b->list_reply.table ||
		    b->list_reply.table >= PROTO_TABLE_MAX ||
		    b->list_reply.item_size < table_item_size[b->list_reply.table] ||
		    b->list_reply.item_size > PROTO_MAX_MSG ||
		    (uint64_t)b->list_reply.count * b->list_reply.item_size != m->items_len)
			return -EBADMSG;
		return 0;
	default:
		return 0;
	}
}

int proto_alloc_check(const struct proto_alloc *a)
{
	if (!a->nbytes || a->lowest > a->highest || a->cache >= PROTO_CACHE_MAX ||
	    a->node < PROTO_NODE_ANY || a->node >= PROTO_MAX_NODES || (a->flags & ~PROTO_ALLOC_FLAGS))
		return -EINVAL;
	if (a->boundary && (!is_pow2(a->boundary) || a->boundary < a->nbytes))
		return -EINVAL;
	return 0;
}

int proto_decode(const void *buf, size_t len, size_t nfds, struct proto_msg *ret)
{
	const uint8_t *p = buf;
	struct proto_msg m;
	size_t want, have;

	if (!buf || len < sizeof(struct proto_hdr) || len > PROTO_MAX_MSG)
		return -EBADMSG;
	memcpy(&m.hdr, p, sizeof(m.hdr));
	if (m.hdr.magic != PROTO_MAGIC || m.hdr.length != len)
		return -EBADMSG;
	if (m.hdr.version != PROTO_VERSION)
		return -EPROTONOSUPPORT;
	want = proto_body_size(m.hdr.type);
	if (!want)
		return -EBADMSG;

	have = len - sizeof(struct proto_hdr);
	p += sizeof(struct proto_hdr);
	memset(&m.body, 0, sizeof(m.body));
	m.items = NULL;
	m.items_len = 0;

	/* Version 1 bodies are complete: none is short of a field yet, so
	 * there is nothing to zero-extend (proto.h). */
	if (have < want)
		return -EBADMSG;
	if (m.hdr.type == PROTO_LIST_REPLY) {
		/* Fixed part, then items: no append-only tail possible here. */
		m.items = p + want;
		m.items_len = have - want;
	} else if (have > want && !all_zero(p + want, have - want)) {
		/* Append-only: a longer body's tail must be zero. */
		return -EBADMSG;
	}
	memcpy(&m.body, p, want);

	int r = check_fields(&m, nfds);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

size_t proto_encode(void *buf, uint16_t type, uint32_t request, const void *body, size_t body_len)
{
	struct proto_hdr h = {
		.magic = PROTO_MAGIC,
		.version = PROTO_VERSION,
		.type = type,
		.length = (uint32_t)(sizeof(h) + body_len),
		.request = request,
	};

	memcpy(buf, &h, sizeof(h));
	if (body_len)
		memcpy((uint8_t *)buf + sizeof(h), body, body_len);
	return sizeof(h) + body_len;
}

void proto_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int proto_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > PROTO_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n >= 0)
			return (size_t)n == len ? 0 : -EMSGSIZE;
		if (errno != EINTR)
			return -errno;
	}
}

/* One recvmsg; every fd that came goes to got (at most PROTO_RECV_MAX_FDS:
 * the control buffer has room for no more, the kernel drops the rest). */
static ssize_t recv_all(int sock, void *buf, size_t cap, int got[PROTO_RECV_MAX_FDS],
			size_t *ret_ngot, int *ret_flags)
{
	/* Room for more fds than anyone accepts, so an excess is seen and
	 * disposed of rather than silently truncated by the kernel. */
	union {
		char buf[CMSG_SPACE(sizeof(int) * PROTO_RECV_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	size_t ngot = 0;
	ssize_t n;

	*ret_ngot = 0;
	*ret_flags = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && ngot < PROTO_RECV_MAX_FDS; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	*ret_ngot = ngot;
	*ret_flags = msg.msg_flags;
	return n;
}

ssize_t proto_recv_untrusted(int sock, void *buf, size_t cap, int fds[PROTO_RECV_MAX_FDS],
			     size_t *ret_nfds)
{
	int flags;
	ssize_t n = recv_all(sock, buf, cap, fds, ret_nfds, &flags);

	if (n < 0)
		return n;
	if (flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	if (n == 0 && *ret_nfds)
		return -EBADMSG; /* would read as end of file */
	return n;
}

ssize_t proto_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds, size_t *ret_nfds)
{
	int got[PROTO_RECV_MAX_FDS];
	size_t ngot;
	int flags;
	ssize_t n = recv_all(sock, buf, cap, got, &ngot, &flags);

	*ret_nfds = 0;
	if (n < 0)
		return n;
	if ((flags & (MSG_TRUNC | MSG_CTRUNC)) || ngot > max_fds) {
		proto_close_fds(got, ngot);
		return -EMSGSIZE;
	}
	if (n == 0 && ngot) {
		/* An empty datagram would read as end of file: its fds would leak. */
		proto_close_fds(got, ngot);
		return -EBADMSG;
	}
	if (ngot)
		memcpy(fds, got, ngot * sizeof(int));
	*ret_nfds = ngot;
	return n;
}
