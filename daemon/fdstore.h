/* SPDX-License-Identifier: MIT */
/*
 * fdstore.h - the daemon's half of systemd's file descriptor store
 * (sd_notify(3): FDSTORE=1, FDNAME=, FDSTOREREMOVE=1; sd_listen_fds(3)):
 * what we believe the store holds, and the datagrams that keep it so.
 *
 * Names (FDNAME: no ':' and at most 255 characters; a name given to a
 * datagram of several fds names each of them; FDSTOREREMOVE=1 removes every
 * fd of a name):
 *   listen        the listening socket
 *   state-G       the state memfd (state.h), G its generation of file
 *   pages-B       a batch of pool page files, up to FDSTORE_BATCH of them:
 *                 the state says which inode is which page, so one datagram
 *                 carries a whole batch (the notify socket queues only
 *                 net.unix.max_dgram_qlen datagrams, 10 by default)
 *   sess-ID       a session's socket
 *   stash-ID      a session's stash table
 * A page whose file changes (reclaim, repair) leaves a stale member in its
 * batch: a batch goes when its last live member goes, and when stale
 * members outnumber FDSTORE_STALE_MAX the batch with most of them is
 * stored anew (its live files reopened, so the store does not take them
 * for the ones it holds) and the old one removed.
 *
 * Never blocks: the socket is non-blocking, and what does not go now
 * (EAGAIN: the manager is behind) goes at a later turn; only the last
 * flush at exit waits, boundedly. The store's size is known only where
 * $FDSTORE says it (systemd 254 on; the unit sets it for older ones): an
 * fd past it is not sent, and the store is then incomplete (said once).
 */
#ifndef CONTIG_FDSTORE_H
#define CONTIG_FDSTORE_H

#include <stdbool.h>
#include <stdint.h>

#define FDSTORE_BATCH     250u  /* fds in one datagram (SCM_MAX_FD is 253) */
#define FDSTORE_NAME_MAX  64u   /* ours are short; systemd allows 255 */

struct fdstore_batch {
	uint64_t seq;
	uint32_t total;              /* files the store holds under pages-SEQ */
	uint32_t live;               /* of which a page's current file */
};

struct fdstore {
	int sock;                    /* connected to $NOTIFY_SOCKET; -1: no store */
	uint32_t max;                /* $FDSTORE, 0: not known */
	uint32_t held;               /* fds the store holds, as far as we know */
	bool full;                   /* something did not fit (logged once until it fits again) */
	bool behind;                 /* the socket was full: more to send */
	uint64_t sent;               /* datagrams sent (for the figures) */
	uint64_t send_ns;            /* time spent sending them */
	/* Pages: what the store holds for each page id. */
	uint32_t npages;
	uint64_t *page_ino;          /* 0: nothing */
	uint64_t *page_batch;
	struct fdstore_batch *batches;
	uint32_t nbatches, cap_batches;
	uint64_t next_batch;
	/* Removals not sent yet. */
	char (*gone)[FDSTORE_NAME_MAX];
	uint32_t *gone_fds;          /* fds each removal takes out of the store */
	uint32_t ngone, cap_gone;
};

/* Connect to $NOTIFY_SOCKET (no store without it: st->sock stays -1).
 * 0 or -errno. */
int fdstore_open(struct fdstore *st);
/* The pool's size, once known. 0 or -ENOMEM. */
int fdstore_size(struct fdstore *st, uint32_t npages);
void fdstore_close(struct fdstore *st);
static inline bool fdstore_on(const struct fdstore *st)
{
	return st->sock >= 0;
}

/* The fds systemd passed us at start (sd_listen_fds_with_names), each
 * classified by its name. The caller takes what it uses (sets fd to -1);
 * fdstore_passed_free closes the rest. */
enum fdstore_kind { FDSTORE_OTHER, FDSTORE_LISTEN, FDSTORE_STATE, FDSTORE_PAGES, FDSTORE_SESS,
		    FDSTORE_STASH };
struct fdstore_passed {
	int fd;
	enum fdstore_kind kind;
	uint64_t num;                /* G, B or ID of the name */
	uint64_t ino;                /* fstat */
	char name[FDSTORE_NAME_MAX];
};
int fdstore_passed_load(struct fdstore_passed **ret, uint32_t *ret_n);
void fdstore_passed_free(struct fdstore_passed *p, uint32_t n);

/* After a restart: the store holds what was passed. Pages whose current
 * file is among the pages-B fds count as stored (page_ino[id] is ino);
 * names holding nothing of ours any more are queued for removal. */
void fdstore_resume(struct fdstore *st, const struct fdstore_passed *p, uint32_t n,
		    const uint64_t *page_ino);

/* One fd under name: 0, -EAGAIN (try again later), -EXFULL (the store is
 * full) or -errno. fd borrowed. */
int fdstore_put(struct fdstore *st, const char *name, int fd);
/* Queue the removal of every fd of name (nfds of them as we count). */
void fdstore_remove(struct fdstore *st, const char *name, uint32_t nfds);

/* The pool's pages: file_of(ctx, id, &ino) gives each page's current fd
 * (borrowed, or -1) and inode. Stores new files in batches, forgets old
 * ones, removes batches nothing lives in, compacts. */
typedef int (*fdstore_page_fn)(void *ctx, uint32_t id, uint64_t *ret_ino);
void fdstore_sync_pages(struct fdstore *st, fdstore_page_fn file_of, void *ctx);
/* Remove every batch (a stop that leaves nothing behind). */
void fdstore_remove_pages(struct fdstore *st);
/* Pages whose current file the store does not hold (0: all there). */
uint32_t fdstore_pages_missing(const struct fdstore *st, fdstore_page_fn file_of, void *ctx);

/* Send queued removals: 0, or -EAGAIN when some wait. */
int fdstore_flush(struct fdstore *st);
/* At exit: flush, waiting up to timeout_ms for room. */
int fdstore_flush_wait(struct fdstore *st, int timeout_ms);
/* Wait (up to timeout_ms) until the manager processed every datagram sent
 * so far (BARRIER=1, sd_notify(3)). 0, -ETIMEDOUT or -errno. */
int fdstore_barrier(struct fdstore *st, int timeout_ms);

#endif
