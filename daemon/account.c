/* SPDX-License-Identifier: MIT */
/* account.c - see account.h. */
#include "account.h"

#include <errno.h>
#include <stdlib.h>

static uint32_t bucket_of(uid_t uid)
{
	/* Fibonacci hashing: uids come in runs (user namespaces map ranges). */
	return (uint32_t)(((uint64_t)uid * 0x9e3779b97f4a7c15ull) >> 54) % ACCOUNT_BUCKETS;
}

const struct account *account_find(const struct accounts *a, uid_t uid)
{
	const struct account *acc = a->bucket[bucket_of(uid)];

	while (acc && acc->uid != uid)
		acc = acc->next;
	return acc;
}

int account_join(struct accounts *a, uid_t uid, struct account **ret)
{
	struct account *acc = (struct account *)account_find(a, uid);

	if (!acc) {
		uint32_t b = bucket_of(uid);
		acc = calloc(1, sizeof(*acc));
		if (!acc)
			return -ENOMEM;
		acc->uid = uid;
		acc->next = a->bucket[b];
		a->bucket[b] = acc;
		a->n++;
	}
	acc->sessions++;
	*ret = acc;
	return 0;
}

void account_leave(struct accounts *a, struct account *acc)
{
	struct account **p;

	if (--acc->sessions)
		return;
	for (p = &a->bucket[bucket_of(acc->uid)]; *p != acc; p = &(*p)->next)
		;
	*p = acc->next;
	a->n--;
	free(acc);
}

void accounts_fini(struct accounts *a)
{
	for (uint32_t b = 0; b < ACCOUNT_BUCKETS; b++) {
		while (a->bucket[b]) {
			struct account *acc = a->bucket[b];
			a->bucket[b] = acc->next;
			free(acc);
		}
	}
	a->n = 0;
}
