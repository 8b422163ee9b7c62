/* SPDX-License-Identifier: MIT */
/*
 * grants.c - `contigctl grant create SIZE`, `grant revoke TOKEN` and
 * `grants`: the grants a Kubernetes device plugin makes for the containers
 * the kubelet gives contig memory to (root only). A token is printed once,
 * at creation, for the plugin to hand on; the daemon never shows it again.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

/* "2M", "64M", "1G", "4096": bytes, or 0 for anything else. */
static uint64_t size_of(const char *s)
{
	char *end;
	uint64_t v, mult = 1;

	if (!s || !isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return 0;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	default: break;
	}
	if (*end || v > UINT64_MAX / mult)
		return 0;
	return v * mult;
}

static int token_of(const char *s, uint8_t ret[PROTO_GRANT_TOKEN])
{
	if (!s || strlen(s) != 2 * PROTO_GRANT_TOKEN)
		return -EINVAL;
	for (unsigned i = 0; i < PROTO_GRANT_TOKEN; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		ret[i] = (uint8_t)v;
	}
	return 0;
}

static int grant_create(struct conn *c, const struct cmd_opts *o)
{
	struct proto_grant g = { .op = PROTO_GRANT_CREATE, .bytes = size_of(o->args[1]) };
	struct proto_msg rep;
	int r;

	if (!g.bytes) {
		fprintf(stderr, "contigctl: grant create takes a size (2M, 64M, 1G), not '%s'\n",
			o->args[1] ? o->args[1] : "");
		return -EINVAL;
	}
	r = conn_call(c, PROTO_GRANT, &g, sizeof(g), PROTO_GRANT_REPLY, &rep);
	if (r < 0)
		return r;
	const struct proto_grant_reply *gr = &rep.body.grant_reply;
	if (o->json)
		printf("{\"grant\":%" PRIu64 ",\"token\":\"", gr->id);
	for (unsigned i = 0; i < PROTO_GRANT_TOKEN; i++)
		printf("%02x", gr->token[i]);
	if (o->json)
		printf("\",\"bytes\":%" PRIu64 "}", gr->bytes);
	printf("\n");
	return 0;
}

static int grant_revoke(struct conn *c, const struct cmd_opts *o)
{
	struct proto_grant g = { .op = PROTO_GRANT_REVOKE };
	struct proto_msg rep;
	int r;

	if (token_of(o->args[1], g.token) < 0) {
		fprintf(stderr, "contigctl: grant revoke takes a token of %u hex digits\n",
			2 * PROTO_GRANT_TOKEN);
		return -EINVAL;
	}
	r = conn_call(c, PROTO_GRANT, &g, sizeof(g), PROTO_STATUS, &rep);
	if (r == 0 && rep.body.status.error)
		r = -rep.body.status.error;
	return r;
}

int cmd_grant(struct conn *c, const struct cmd_opts *o)
{
	if (o->args[0] && !strcmp(o->args[0], "create"))
		return grant_create(c, o);
	if (o->args[0] && !strcmp(o->args[0], "revoke"))
		return grant_revoke(c, o);
	fprintf(stderr, "contigctl: grant create SIZE | grant revoke TOKEN\n");
	return -EINVAL;
}

int cmd_grants(struct conn *c, const struct cmd_opts *o)
{
	struct proto_grant_item *it;
	size_t n;
	int r;

	r = conn_list(c, PROTO_TABLE_GRANTS, sizeof(*it), (void **)&it, &n);
	if (r < 0)
		return r;
	if (o->json) {
		printf("{\"grants\":[");
		for (size_t i = 0; i < n; i++)
			printf("%s{\"grant\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"held_bytes\":%" PRIu64
			       ",\"sessions\":%u,\"revoked\":%s}",
			       i ? "," : "", it[i].id, it[i].bytes, it[i].held_bytes, it[i].sessions,
			       it[i].flags & PROTO_GRANT_ITEM_REVOKED ? "true" : "false");
		printf("]}\n");
	} else {
		char a[32], b[32];
		printf("%8s %10s %10s %8s\n", "GRANT", "BYTES", "HELD", "SESSIONS");
		for (size_t i = 0; i < n; i++)
			printf("%8" PRIu64 " %10s %10s %8u%s\n", it[i].id,
			       fmt_bytes(it[i].bytes, a, sizeof(a)),
			       fmt_bytes(it[i].held_bytes, b, sizeof(b)), it[i].sessions,
			       it[i].flags & PROTO_GRANT_ITEM_REVOKED ? "  (revoked)" : "");
		printf("%zu grant%s\n", n, n == 1 ? "" : "s");
	}
	free(it);
	return 0;
}
