/* SPDX-License-Identifier: MIT */
/*
 * settings.h - everything an operator can set, from the command line or
 * the config file (config.c), with where each value came from so that the
 * command line wins and SIGHUP knows what it may change.
 */
#ifndef CONTIG_SETTINGS_H
#define CONTIG_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "limits.h"
#include "proto.h"
#include "tenant.h"

#define SETTINGS_DEFAULT_SOCKET "/run/contigd/contigd.sock"
#define SETTINGS_DEFAULT_POOL   (256ull << 20)

struct settings {
	char socket[108];
	uint64_t pool_bytes;         /* on every node with memory; 0 when node_pool says */
	uint64_t node_pool[PROTO_MAX_NODES]; /* --pool node0:1G,node1:512M */
	uint64_t page_size;
	uint64_t low_pool_bytes;     /* --low-pool SIZE@CEILING; 0 = none */
	uint64_t low_pool_ceiling;
	uint64_t low_pool_margin;    /* keep MemAvailable above this while digging */
	uint32_t threads;            /* start-up fault-in threads; 0 = one per CPU */
	uint32_t oversample;         /* spare pages the background repair looks at, times the pool */
	uint32_t repair_idle_s;      /* another repair round after this long idle (0: never) */
	uint32_t audit_interval_s;   /* PFN audit period; 0 = never */
	uint32_t quarantine_ms;      /* delay before reclaiming a dead session's regions */
	int log_level;
	bool may_raise_hugepages;    /* raise nr_hugepages when short */
	bool zero_in_place;          /* trusted clients: zero freed pages in place, no revoke */
	struct limits limits;
	struct access access;
	struct tenant_limits cgroup_limits; /* cgroup-max-bytes = PATH SIZE, repeatable */
	char socket_group[64];       /* group that owns the socket; "" = none */
	uint32_t cmdline_keys;       /* keys set by config_apply, i.e. on the command line
				      * (one bit per key of config.c): the config file,
				      * loaded or reloaded, never overrides them */
};

void settings_default(struct settings *s);
/* Parse "256M", "1G", "4096", "2m": bytes, or -EINVAL/-ERANGE. */
int parse_size(const char *s, uint64_t *ret);

#endif
