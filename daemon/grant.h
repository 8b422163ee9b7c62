/* SPDX-License-Identifier: MIT */
/*
 * grant.h - grants: bytes that all sessions presenting one token may hold
 * together. The Kubernetes device plugin asks root's way for a grant of
 * exactly what the kubelet allocated to a container and hands the token to
 * that container alone; the token is the binding, so it must be
 * unguessable (32 bytes from getrandom) and compared in constant time.
 *
 * A grant lives while it is not revoked or a session still refers to it: a
 * revoked grant binds no new session and lets none of its sessions take
 * more, but their regions stay theirs until they free them or go.
 */
#ifndef CONTIG_GRANT_H
#define CONTIG_GRANT_H

#include <stdbool.h>
#include <stdint.h>

#include "list.h"
#include "proto.h"

#define GRANTS_MAX 4096

struct grant {
	uint64_t id;
	uint8_t token[PROTO_GRANT_TOKEN];
	uint64_t bytes;            /* the cap */
	uint64_t held;             /* what its sessions hold */
	uint32_t sessions;
	bool revoked;
	struct list_node link;     /* grants.all */
};

struct grants {
	struct list_node all;
	uint32_t n;
	uint64_t next_id;
};

void grants_init(struct grants *g);
void grants_fini(struct grants *g);

/* A new grant of bytes with a fresh token: 0, -ENOSPC (GRANTS_MAX live),
 * -ENOMEM, or getrandom's -errno. */
int grant_create(struct grants *g, uint64_t bytes, struct grant **ret);
/* A grant as a previous contigd left it (restart): 0, -EEXIST (that id or
 * token is here already), -ENOSPC, -ENOMEM. */
int grant_restore(struct grants *g, uint64_t id, uint64_t bytes,
		  const uint8_t token[PROTO_GRANT_TOKEN], bool revoked, struct grant **ret);
/* The grant with this id, revoked or not, or NULL. */
struct grant *grant_by_id(struct grants *g, uint64_t id);
/* Revoked grants no session came back for: gone. */
void grants_prune(struct grants *g);
/* The live grant with this token, or NULL. */
struct grant *grant_find(struct grants *g, const uint8_t token[PROTO_GRANT_TOKEN]);
/* Revoke it; freed now if no session refers to it. */
void grant_revoke(struct grants *g, struct grant *gr);
/* A session takes or drops its reference. */
void grant_join(struct grant *gr);
void grant_leave(struct grants *g, struct grant *gr);

/* Would bytes more pass the cap (or is it revoked)? */
bool grant_over(const struct grant *gr, uint64_t bytes);

#endif
