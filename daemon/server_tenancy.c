/* SPDX-License-Identifier: MIT */
/*
 * server_tenancy.c - who a session answers to beyond its uid: the cgroup
 * its peer connected from (tenant.h) and the grant it presented (grant.h).
 * Their charges follow the session's bytes (server.c: session_lease_added,
 * session_lease_release, session_end); their limits are in
 * session_over_quota.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "peer_cgroup.h"

/* The tenant of a new session: the cgroup its peer connected from. A peer
 * already gone at accept (it connected and exited, maybe handing the
 * socket on) cannot be placed: it is charged to "/" but may not allocate,
 * or a process could leave its cgroup's limit by connecting and exiting.
 * When the kernel cannot tell (no SO_PEERPIDFD, no cgroup v2), every
 * session is "/" (logged once). */
int session_join_tenant(struct server *srv, struct session *s, bool may_refuse)
{
	static char path[TENANT_PATH_MAX];
	int r = peer_cgroup(s->conn.src.fd, s->cred.pid, path, sizeof(path));

	if (r == 0)
		r = tenant_join(&srv->tenants, path, &s->tenant);
	if (r == 0)
		return 0;
	/* Out of fds or memory: the cgroup is there, we could not read it.
	 * Charging "/" would let a container past its limit by connecting
	 * while the daemon is short (which it can cause). */
	bool transient = r == -EMFILE || r == -ENFILE || r == -ENOMEM;
	if (transient && may_refuse)
		return r;
	if (r == -ESRCH || transient)
		s->may_alloc = false;
	else if (!srv->cgroup_fallbacks++)
		log_warn("session of pid %d: cannot tell its cgroup (%s): charged to \"/\"; "
			 "logged once", (int)s->cred.pid, strerror(-r));
	(void)tenant_join(&srv->tenants, "/", &s->tenant); /* the root: never fails */
	return 0;
}

void server_set_cgroup_limits(struct server *srv, const struct tenant_limits *tl)
{
	int r = tenants_set_limits(&srv->tenants, tl->l, tl->n);

	if (r < 0)
		log_err("cgroup-max-bytes: %s; the previous limits stay", strerror(-r));
}

int session_use_grant(struct session *s, const uint8_t *token)
{
	struct grant *gr;

	if (s->grant || s->nregions)
		return -EBUSY;
	gr = grant_find(&s->srv->grants, token);
	if (!gr)
		return -EACCES;
	grant_join(gr);
	s->grant = gr;
	s->srv->version++; /* (the restart state names it) */
	log_debug("session %llu: grant %llu", (unsigned long long)s->id,
		  (unsigned long long)gr->id);
	return 0;
}

void server_fini(struct server *srv)
{
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	srv->spare_fd = -1;
	accounts_fini(&srv->accounts);
	grants_fini(&srv->grants);
	tenants_fini(&srv->tenants);
}
