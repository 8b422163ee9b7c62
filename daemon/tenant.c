/* SPDX-License-Identifier: MIT */
/*
 * tenant.c - see tenant.h. A node lives while a session, a child or a
 * limit refers to it, so the tree holds what is connected and configured
 * and nothing more: a tenant that connects from ever new cgroups costs
 * nodes only while it stays connected (and max-sessions bounds that).
 */
#include "tenant.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void tenants_init(struct tenants *t)
{
	memset(t, 0, sizeof(*t));
	t->root.path = (char *)"/";
	t->root.name = t->root.path;
	t->root.limit = TENANT_NO_LIMIT;
}

static void free_subtree(struct tenant *n)
{
	while (n) {
		struct tenant *next = n->sibling;
		free_subtree(n->child);
		free(n->path);
		free(n);
		n = next;
	}
}

void tenants_fini(struct tenants *t)
{
	free_subtree(t->root.child);
	t->root.child = NULL;
	t->nodes = 0;
}

bool tenant_path_valid(const char *path)
{
	size_t len = strnlen(path, TENANT_PATH_MAX);
	const char *c = path;

	if (len == 0 || len == TENANT_PATH_MAX || path[0] != '/')
		return false;
	if (len == 1)
		return true;
	if (path[len - 1] == '/')
		return false;
	while (*c) {
		const char *end;
		size_t clen;

		c++; /* past the '/' */
		end = strchr(c, '/');
		clen = end ? (size_t)(end - c) : strlen(c);
		if (clen == 0 || (clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		for (size_t i = 0; i < clen; i++)
			if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
				return false; /* the kernel refuses '\n' in names; we refuse all controls */
		c += clen;
	}
	return true;
}

static struct tenant *child_named(const struct tenant *n, const char *name, size_t len)
{
	struct tenant *c;

	for (c = n->child; c; c = c->sibling)
		if (strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	return NULL;
}

static struct tenant *child_new(struct tenants *t, struct tenant *parent, const char *path,
				size_t plen)
{
	struct tenant *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->path = strndup(path, plen);
	if (!c->path) {
		free(c);
		return NULL;
	}
	c->name = strrchr(c->path, '/') + 1;
	c->parent = parent;
	c->depth = parent->depth + 1;
	c->limit = TENANT_NO_LIMIT;
	c->sibling = parent->child;
	parent->child = c;
	if (parent != &t->root) /* (the root is never freed: it keeps no count) */
		parent->refs++;
	t->nodes++;
	return c;
}

/* Drop one reference to n; free the nodes that nothing refers to any more,
 * up the tree. */
static void unref(struct tenants *t, struct tenant *n)
{
	while (n != &t->root && --n->refs == 0) {
		struct tenant *parent = n->parent, **pp = &parent->child;

		while (*pp != n)
			pp = &(*pp)->sibling;
		*pp = n->sibling;
		free(n->path);
		free(n);
		t->nodes--;
		n = parent;
	}
}

/* The node of a valid path, made as needed; one reference taken for the
 * caller. */
static int lookup(struct tenants *t, const char *path, struct tenant **ret)
{
	struct tenant *n = &t->root, *c;
	const char *p = path;

	while (*p && p[1] && n->depth < TENANT_DEPTH_MAX) {
		const char *name = p + 1, *end = strchr(name, '/');
		size_t len = end ? (size_t)(end - name) : strlen(name);

		c = child_named(n, name, len);
		if (!c) {
			c = child_new(t, n, path, (size_t)(name + len - path));
			if (!c) {
				/* The new ancestors hold nothing yet: let them go. */
				if (n != &t->root) {
					n->refs++;
					unref(t, n);
				}
				return -ENOMEM;
			}
		}
		n = c;
		p = name + len;
	}
	if (n != &t->root)
		n->refs++;
	*ret = n;
	return 0;
}

int tenant_join(struct tenants *t, const char *path, struct tenant **ret)
{
	int r;

	if (strnlen(path, TENANT_PATH_MAX) == TENANT_PATH_MAX)
		return -ENAMETOOLONG;
	if (!tenant_path_valid(path))
		return -EINVAL;
	r = lookup(t, path, ret);
	if (r == 0)
		(*ret)->sessions++;
	return r;
}

void tenant_leave(struct tenants *t, struct tenant *n)
{
	n->sessions--;
	unref(t, n);
}

const struct tenant *tenant_over(const struct tenant *n, uint64_t bytes)
{
	for (; n; n = n->parent)
		if (n->limit != TENANT_NO_LIMIT &&
		    (bytes > n->limit || n->subtree_bytes > n->limit - bytes))
			return n;
	return NULL;
}

void tenant_charge(struct tenant *n, uint64_t bytes)
{
	for (; n; n = n->parent)
		n->subtree_bytes += bytes;
}

void tenant_uncharge(struct tenant *n, uint64_t bytes)
{
	for (; n; n = n->parent)
		n->subtree_bytes -= bytes;
}

static void clear_limits(struct tenants *t, struct tenant *n)
{
	while (n) {
		struct tenant *next = n->sibling;
		/* Held, so that its children's going does not free it under us
		 * (the caller holds the parent the same way). */
		n->refs++;
		clear_limits(t, n->child);
		if (n->limit != TENANT_NO_LIMIT) {
			n->limit = TENANT_NO_LIMIT;
			unref(t, n);
		}
		unref(t, n);
		n = next;
	}
}

int tenants_set_limits(struct tenants *t, const struct tenant_limit *lims, uint32_t n)
{
	struct tenant **got;
	uint32_t i;
	int r = 0;

	if (n > TENANT_MAX_LIMITS)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!tenant_path_valid(lims[i].path))
			return -EINVAL;
	got = calloc(n ? n : 1, sizeof(*got));
	if (!got)
		return -ENOMEM;
	/* The new nodes first, each held, so that a failure changes nothing
	 * and clearing the old limits frees none of them. */
	for (i = 0; i < n && r == 0; i++)
		r = lookup(t, lims[i].path, &got[i]);
	if (r < 0) {
		for (uint32_t k = 0; k + 1 < i; k++)
			unref(t, got[k]);
		free(got);
		return r;
	}
	t->root.limit = TENANT_NO_LIMIT;
	clear_limits(t, t->root.child);
	for (i = 0; i < n; i++) {
		if (got[i]->limit != TENANT_NO_LIMIT) {
			/* The same path twice: the smaller limit, one reference. */
			if (lims[i].bytes < got[i]->limit)
				got[i]->limit = lims[i].bytes;
			if (got[i] != &t->root)
				unref(t, got[i]);
			continue;
		}
		got[i]->limit = lims[i].bytes; /* the lookup's reference is the limit's */
	}
	free(got);
	return 0;
}

static void visit(const struct tenant *n, void (*fn)(void *arg, const struct tenant *n), void *arg)
{
	for (; n; n = n->sibling) {
		if (n->depth == 1 || n->limit != TENANT_NO_LIMIT)
			fn(arg, n);
		visit(n->child, fn, arg);
	}
}

void tenants_for_each_labelled(const struct tenants *t,
			       void (*fn)(void *arg, const struct tenant *n), void *arg)
{
	fn(arg, &t->root);
	visit(t->root.child, fn, arg);
}
