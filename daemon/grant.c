/* SPDX-License-Identifier: MIT */
/*
 * grant.c - see grant.h.
 */
#define _GNU_SOURCE
#include "grant.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void grants_init(struct grants *g)
{
	list_init(&g->all);
	g->n = 0;
	g->next_id = 0;
}

void grants_fini(struct grants *g)
{
	struct list_node *n, *t;

	list_for_each_safe(n, t, &g->all) {
		list_del(n);
		free(container_of(n, struct grant, link));
	}
	g->n = 0;
}

int grant_create(struct grants *g, uint64_t bytes, struct grant **ret)
{
	struct grant *gr;
	size_t got = 0;

	if (g->n >= GRANTS_MAX)
		return -ENOSPC;
	gr = calloc(1, sizeof(*gr));
	if (!gr)
		return -ENOMEM;
	while (got < sizeof(gr->token)) {
		ssize_t r = getrandom(gr->token + got, sizeof(gr->token) - got, 0);
		if (r < 0 && errno != EINTR) {
			int e = -errno;
			free(gr);
			return e;
		}
		got += r > 0 ? (size_t)r : 0;
	}
	gr->id = ++g->next_id;
	gr->bytes = bytes;
	list_add_tail(&g->all, &gr->link);
	g->n++;
	*ret = gr;
	return 0;
}

/* Every byte looked at whatever the first difference: how long a guess
 * takes must not say how much of it was right. */
static bool token_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;

	for (unsigned i = 0; i < PROTO_GRANT_TOKEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

struct grant *grant_find(struct grants *g, const uint8_t token[PROTO_GRANT_TOKEN])
{
	struct list_node *n;

	for (n = g->all.next; n != &g->all; n = n->next) {
		struct grant *gr = container_of(n, struct grant, link);
		if (!gr->revoked && token_equal(gr->token, token))
			return gr;
	}
	return NULL;
}


static void release(struct grants *g, struct grant *gr)
{
	list_del(&gr->link);
	g->n--;
	free(gr);
}

struct grant *grant_by_id(struct grants *g, uint64_t id)
{
	struct list_node *n;

	for (n = g->all.next; n != &g->all; n = n->next) {
		struct grant *gr = container_of(n, struct grant, link);
		if (gr->id == id)
			return gr;
	}
	return NULL;
}

int grant_restore(struct grants *g, uint64_t id, uint64_t bytes,
		  const uint8_t token[PROTO_GRANT_TOKEN], bool revoked, struct grant **ret)
{
	struct grant *gr;

	if (!id || !bytes || grant_by_id(g, id) || grant_find(g, token))
		return -EEXIST;
	if (g->n >= GRANTS_MAX)
		return -ENOSPC;
	gr = calloc(1, sizeof(*gr));
	if (!gr)
		return -ENOMEM;
	gr->id = id;
	gr->bytes = bytes;
	gr->revoked = revoked;
	memcpy(gr->token, token, sizeof(gr->token));
	list_add_tail(&g->all, &gr->link);
	g->n++;
	if (id > g->next_id)
		g->next_id = id;
	*ret = gr;
	return 0;
}

void grants_prune(struct grants *g)
{
	struct list_node *n, *t;

	list_for_each_safe(n, t, &g->all) {
		struct grant *gr = container_of(n, struct grant, link);
		if (gr->revoked && !gr->sessions)
			release(g, gr);
	}
}

void grant_revoke(struct grants *g, struct grant *gr)
{
	gr->revoked = true;
	if (!gr->sessions)
		release(g, gr);
}

void grant_join(struct grant *gr)
{
	gr->sessions++;
}

void grant_leave(struct grants *g, struct grant *gr)
{
	if (--gr->sessions == 0 && gr->revoked)
		release(g, gr);
}

bool grant_over(const struct grant *gr, uint64_t bytes)
{
	return gr->revoked || bytes > gr->bytes || gr->held > gr->bytes - bytes;
}
