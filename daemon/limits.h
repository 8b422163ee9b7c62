/* SPDX-License-Identifier: MIT */
/*
 * limits.h - what an operator bounds (sessions, regions, bytes, per session
 * and per uid) and who may allocate: settings that the server enforces and
 * a reload may change while it runs.
 */
#ifndef CONTIG_LIMITS_H
#define CONTIG_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct limits {
	uint32_t max_sessions;          /* connections at once, all users */
	uint32_t session_max_regions;
	uint64_t session_max_bytes;
	uint32_t uid_max_sessions;
	uint32_t uid_max_regions;
	uint64_t uid_max_bytes;
	uint32_t max_out;               /* queued reply datagrams per session */
};

#define ACCESS_MAX_IDS 32
struct access {
	gid_t socket_gid;               /* members of the socket's group may allocate */
	bool socket_gid_set;
	uint32_t nuids, ngids;
	uid_t uids[ACCESS_MAX_IDS];     /* extra users allowed */
	gid_t gids[ACCESS_MAX_IDS];     /* extra groups allowed */
	uint32_t nimport_gids;
	gid_t import_gids[ACCESS_MAX_IDS]; /* may import handles of other uids */
};

void limits_default(struct limits *l);

#endif
