/* SPDX-License-Identifier: MIT */
/*
 * tenant.h - tenants by cgroup: the tree of cgroup v2 paths that sessions
 * connected from, what each subtree holds and what it may hold.
 *
 * The kernel charges a hugetlb page to the cgroup that faulted it first,
 * which is contigd's, so a client's container never pays for contig
 * memory in its own hugetlb limit: only contigd can meter it. A node is
 * one path ("/", "/kubepods.slice", "/kubepods.slice/pod1"); its subtree
 * bytes are what every session at it or below it holds, so that a limit
 * on a path covers everything under it and nested limits all apply.
 *
 * Pure: no system calls, tested on synthetic trees (tests/test_tenant.c).
 * The charge stays with the node a session connected from, whatever the
 * process does afterwards (it may migrate; its bytes do not).
 */
#ifndef CONTIG_TENANT_H
#define CONTIG_TENANT_H

#include <stdbool.h>
#include <stdint.h>

#define TENANT_PATH_MAX   4096        /* longer paths are refused (-ENAMETOOLONG) */
#define TENANT_NO_LIMIT   UINT64_MAX
#define TENANT_MAX_LIMITS 64          /* cgroup-max-bytes lines */
#define TENANT_LIMIT_PATH_MAX 512     /* a configured path, with its NUL */
/* Deeper cgroups are charged to their ancestor at this depth: whoever may
 * create cgroups (a delegated subtree) must not make each connection cost
 * contigd a node per level of a path thousands of levels deep. */
#define TENANT_DEPTH_MAX  32

struct tenant {
	char *path;                   /* "/" or "/a/b", no trailing slash */
	const char *name;             /* the last component (within path) */
	struct tenant *parent;        /* NULL: the root */
	struct tenant *child, *sibling;
	uint32_t refs;                /* sessions + children + 1 if it has a limit */
	uint32_t depth;               /* components: the root's is 0 */
	uint32_t sessions;            /* sessions whose cgroup is exactly this */
	uint64_t subtree_bytes;       /* held at or below here */
	uint64_t limit;               /* TENANT_NO_LIMIT: none */
};

struct tenant_limit {
	char path[TENANT_LIMIT_PATH_MAX];
	uint64_t bytes;
};

/* What the config says (cgroup-max-bytes lines), in the settings. */
struct tenant_limits {
	uint32_t n;
	struct tenant_limit l[TENANT_MAX_LIMITS];
};

struct tenants {
	struct tenant root;
	uint32_t nodes;               /* besides the root */
};

void tenants_init(struct tenants *t);
/* Free every node; none may hold bytes or sessions any more. */
void tenants_fini(struct tenants *t);

/* Is path a cgroup v2 path as the kernel writes it: "/" or "/" and
 * components without "//", "." or ".." and no trailing slash? */
bool tenant_path_valid(const char *path);

/* The node of path (of its ancestor at TENANT_DEPTH_MAX if it is deeper),
 * made with its ancestors as needed, one reference taken for a session
 * (tenant_leave gives it back): -EINVAL, -ENAMETOOLONG, -ENOMEM. */
int tenant_join(struct tenants *t, const char *path, struct tenant **ret);
void tenant_leave(struct tenants *t, struct tenant *n);

/* The nearest node from n up whose limit adding bytes would pass, or NULL
 * if there is none. */
const struct tenant *tenant_over(const struct tenant *n, uint64_t bytes);
void tenant_charge(struct tenant *n, uint64_t bytes);
void tenant_uncharge(struct tenant *n, uint64_t bytes);

/* Put exactly these limits in place (start-up and reload): paths not
 * listed lose theirs. All or nothing: -EINVAL or -ENOMEM leaves the old
 * ones. */
int tenants_set_limits(struct tenants *t, const struct tenant_limit *lims, uint32_t n);

/* The nodes that get a gauge: the root, each top-level cgroup and each
 * path with a limit; nothing else, so that the label count stays bounded
 * by what the operator configured and root made. Visited depth first. */
void tenants_for_each_labelled(const struct tenants *t,
			       void (*fn)(void *arg, const struct tenant *n), void *arg);

#endif
