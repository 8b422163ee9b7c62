/* SPDX-License-Identifier: MIT */
/*
 * account.h - what each uid's live sessions hold together, kept as they
 * change, for the uid quotas (uid-max-sessions, -regions, -bytes): a quota
 * check costs one lookup, not a walk of every session (2,000 sessions made
 * each allocation walk 2,000 of them). server_check recomputes every
 * account from the sessions, so a counter that drifts is caught by the
 * tests and the fuzzer.
 *
 * Pure: a hash of uids, no system calls.
 */
#ifndef CONTIG_ACCOUNT_H
#define CONTIG_ACCOUNT_H

#include <stdint.h>
#include <sys/types.h>

#define ACCOUNT_BUCKETS 1024u

struct account {
	struct account *next;        /* in its bucket */
	uid_t uid;
	uint32_t sessions;           /* live sessions of the uid: the account's references */
	uint32_t regions;
	uint64_t bytes;
};

struct accounts {
	struct account *bucket[ACCOUNT_BUCKETS];
	uint32_t n;
};

/* The uid's account, made on first use, with one more session: 0 or
 * -ENOMEM. */
int account_join(struct accounts *a, uid_t uid, struct account **ret);
/* One session fewer; the account goes with its last. */
void account_leave(struct accounts *a, struct account *acc);
/* The uid's account, or NULL (no live session). */
const struct account *account_find(const struct accounts *a, uid_t uid);
void accounts_fini(struct accounts *a);

#endif
