/* SPDX-License-Identifier: MIT */
/*
 * outcome.h - what became of one request, named. A handler returns one;
 * the server turns it into what the client sees, in one place (server.c:
 * answer), and counts it there. Refusals are data (a STATUS with an errno,
 * the session goes on); a violation closes the session (dbus-broker's
 * PEER_E_* and its protocol-violation class, never mixed).
 */
#ifndef CONTIG_OUTCOME_H
#define CONTIG_OUTCOME_H

#include <errno.h>

enum outcome {
	OUTCOME_REPLIED = 0,    /* the handler queued its own reply */
	OUTCOME_WAITING,        /* parked until reclaim ends; answered then */
	OUTCOME_DONE,           /* STATUS 0 */
	/* Refusals: a STATUS with the errno below; the session goes on. */
	OUTCOME_INVALID,        /* bad arguments */
	OUTCOME_NO_MEMORY,      /* the pool cannot satisfy it now */
	OUTCOME_NOT_SUPPORTED,  /* a cache type hugetlb pages cannot have */
	OUTCOME_OVER_QUOTA,     /* over a session or uid limit */
	OUTCOME_DENIED,         /* not allowed */
	OUTCOME_NOT_FOUND,      /* no such region or handle, for this session */
	OUTCOME_TRY_AGAIN,      /* a transient failure (no randomness now) */
	/* Endings: the session is closed. */
	OUTCOME_CLOSE_OVER_QUOTA, /* a connection over a session limit: told EDQUOT first */
	OUTCOME_CLOSE_BUSY,     /* a connection the daemon cannot take now (its fd limit):
				 * told EAGAIN first */
	OUTCOME_CLOSE_VERSION,  /* a HELLO for versions we do not speak: told ours first */
	OUTCOME_VIOLATION,      /* the peer broke the protocol */
	OUTCOME_UNDELIVERABLE,  /* the reply could not be queued: closing rolls it back */
	OUTCOME_MAX
};

/* The errno a refusal puts on the wire, 0 for none. */
static inline int outcome_errno(enum outcome o)
{
	switch (o) {
	case OUTCOME_INVALID: return EINVAL;
	case OUTCOME_NO_MEMORY: return ENOMEM;
	case OUTCOME_NOT_SUPPORTED: return ENOTSUP;
	case OUTCOME_OVER_QUOTA:
	case OUTCOME_CLOSE_OVER_QUOTA: return EDQUOT;
	case OUTCOME_DENIED: return EACCES;
	case OUTCOME_NOT_FOUND: return ENOENT;
	case OUTCOME_TRY_AGAIN:
	case OUTCOME_CLOSE_BUSY: return EAGAIN;
	case OUTCOME_CLOSE_VERSION: return EPROTONOSUPPORT;
	default: return 0;
	}
}

/* The refusal for an -errno from the pool or a helper. */
static inline enum outcome outcome_of_errno(int error)
{
	switch (error < 0 ? -error : error) {
	case 0: return OUTCOME_DONE;
	case EINVAL: return OUTCOME_INVALID;
	case ENOMEM:
	case EAGAIN: return OUTCOME_NO_MEMORY;
	case ENOTSUP: return OUTCOME_NOT_SUPPORTED;
	case EDQUOT:
	case EOVERFLOW: return OUTCOME_OVER_QUOTA;
	case EACCES: return OUTCOME_DENIED;
	case ENOENT: return OUTCOME_NOT_FOUND;
	default: return OUTCOME_TRY_AGAIN; /* EMFILE and the like: transient */
	}
}

#endif
