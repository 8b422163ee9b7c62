/* SPDX-License-Identifier: MIT */
/*
 * carve_work.c - what both sides of the page-granularity figures share
 * (see carve.h): the parameters and their text form for the DPDK helper,
 * the sizes, the lookup pattern and the random-mix trace. Nothing here
 * calls an allocator except through the ops it is given.
 */
#define _GNU_SOURCE
#include "carve.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const size_t carve_sizes[CARVE_NSIZES] = { 4 * KIB, 64 * KIB, 256 * KIB };
const char *const carve_group_ws[CARVE_NSIZES] = { G_CARVE_4K_WS, G_CARVE_64K_WS,
						   G_CARVE_256K_WS };
const char *const carve_group_b2b[CARVE_NSIZES] = { G_CARVE_4K_B2B, G_CARVE_64K_B2B,
						    G_CARVE_256K_B2B };

/* 4 KiB to 2 MiB; the two 2 MiB ones are whole pool pages for contig. */
const size_t carve_v2p_sizes[CARVE_V2P_REGIONS] = {
	4 * KIB,   2048 * KIB, 8 * KIB,  1024 * KIB, 16 * KIB, 512 * KIB, 32 * KIB,  256 * KIB,
	64 * KIB,  128 * KIB,  12 * KIB, 2048 * KIB, 20 * KIB, 768 * KIB, 48 * KIB, 1024 * KIB,
};

void carve_params_default(struct carve_params *p, bool smoke)
{
	if (smoke)
		*p = (struct carve_params){ .rounds = 1, .runs = 3, .thr_runs = 3, .pairs4k = 300,
					    .ws = 16, .batches = 5, .many = 2000, .thr_ms = 50,
					    .mix_mb = 16, .mix_ops = 2000, .mix_samples = 3,
					    .count_cap = 1000000, .count_mb = 256 };
	else
		*p = (struct carve_params){ .rounds = 3, .runs = 4, .thr_runs = 7,
					    .pairs4k = 100000, .ws = 64, .batches = 70,
					    .many = 100000, .thr_ms = 500, .mix_mb = 128,
					    .mix_ops = 200000, .mix_samples = 20,
					    .count_cap = 1000000, .count_mb = 256 };
}

int carve_pin_timed(void)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(CARVE_TIMED_CPU, &one);
	return -pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
}

const char *carve_raw_group(char *buf, const char *group)
{
	snprintf(buf, 32, "%s%s", CARVE_RAW, group);
	return buf;
}

void carve_raw(const char *group, const char *who, enum role role, const char *unit,
	       double value, unsigned failed, const char *note)
{
	char g[32];

	result_raw(carve_raw_group(g, group), who, role, unit, value, failed, "%s", note);
}

#define FIELDS(X)                                                                                 \
	X(rounds) X(runs) X(thr_runs) X(pairs4k) X(ws) X(batches) X(many) X(thr_ms) X(mix_mb)     \
	X(mix_ops) X(mix_samples) X(count_cap) X(count_mb)

void carve_params_format(const struct carve_params *p, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
#define PUT(f)                                                                                    \
	if (off < len)                                                                            \
		off += (size_t)snprintf(buf + off, len - off, "%s" #f "=%u", off ? "," : "", p->f);
	FIELDS(PUT)
#undef PUT
}

int carve_params_parse(struct carve_params *p, const char *spec)
{
	char buf[512], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
		return -EINVAL;
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return -EINVAL;
		*eq = 0;
		unsigned v = (unsigned)strtoul(eq + 1, NULL, 10);
#define GET(f)                                                                                    \
	if (!strcmp(kv, #f))                                                                      \
		p->f = v;
		FIELDS(GET)
#undef GET
	}
	return 0;
}

unsigned carve_pairs(const struct carve_params *p, size_t bytes)
{
	unsigned n = (unsigned)((uint64_t)p->pairs4k * CARVE_UNIT / bytes);
	unsigned floor = p->pairs4k / 50 ? p->pairs4k / 50 : 1;

	return n > floor ? n : floor;
}

void carve_v2p_pattern(uint8_t *const *r, uint32_t *ret_region, uint32_t *ret_offset,
		       void **ret_addr)
{
	uint64_t s = 11;

	for (size_t i = 0; i < CARVE_V2P_N; i++) {
		uint32_t k = (uint32_t)(carve_rng(&s) % CARVE_V2P_REGIONS);
		ret_region[i] = k;
		ret_offset[i] = 1 + (uint32_t)(carve_rng(&s) % (carve_v2p_sizes[k] - 1));
		ret_addr[i] = r[k] + ret_offset[i];
	}
}

void carve_many_pattern(uint8_t *const *r, unsigned nr, void **ret_addr)
{
	uint64_t s = 13;

	for (size_t i = 0; i < CARVE_MANY_N; i++) {
		uint64_t x = carve_rng(&s);
		ret_addr[i] = r[x % nr] + 1 + (x >> 32) % (CARVE_UNIT - 1);
	}
}

/* ---- the random mix ---- */

struct mix_live {
	void *p;
	size_t bytes;
};

/* Log-uniform over 1..256 units of 4 KiB. */
static size_t mix_size(uint64_t *s)
{
	double u = (double)(carve_rng(s) >> 11) * 0x1.0p-53;
	size_t units = (size_t)exp(u * log(257.0));

	if (units < 1)
		units = 1;
	if (units > 256)
		units = 256;
	return units * CARVE_UNIT;
}

int mix_run(const struct mix_ops *ops, const struct carve_params *p, struct mix_result *ret)
{
	uint64_t cap_bytes = (uint64_t)p->mix_mb * MIB, target = cap_bytes / 5 * 4, live = 0;
	uint64_t s = 42, t0 = now_ns();
	size_t cap = cap_bytes / CARVE_UNIT + 1, nlive = 0;
	unsigned every = p->mix_samples ? p->mix_ops / 2 / p->mix_samples : 0;
	struct mix_live *lv = calloc(cap, sizeof(*lv));
	struct mix_result r = { 0 };

	if (!lv)
		return -ENOMEM;
	for (r.ops = 0; r.ops < p->mix_ops; r.ops++) {
		if (live < target || nlive == 0) {
			size_t bytes = mix_size(&s);
			void *q = nlive < cap ? ops->alloc(ops->ctx, bytes) : NULL;

			r.allocs++;
			if (!q) {
				r.fails++;
			} else {
				lv[nlive++] = (struct mix_live){ q, bytes };
				live += bytes;
				if (live > r.peak_live)
					r.peak_live = live;
			}
		} else {
			size_t k = (size_t)(carve_rng(&s) % nlive);

			ops->free(ops->ctx, lv[k].p);
			live -= lv[k].bytes;
			lv[k] = lv[--nlive];
			r.frees++;
		}
		/* Samples in the second half, the last one at the very end. */
		if (every && ops->held && r.ops >= p->mix_ops / 2 &&
		    (p->mix_ops - 1 - r.ops) % every == 0) {
			uint64_t held;
			uint64_t used;
			if (ops->held(ops->ctx, &held) == 0 && held) {
				samples_add(&r.ratio, (double)live / (double)held);
				samples_add(&r.held, (double)held);
				if (ops->used && ops->used(ops->ctx, &used) == 0)
					samples_add(&r.own, (double)used / (double)held);
			}
		}
	}
	r.seconds = (double)(now_ns() - t0) / 1e9;
	while (nlive) {
		nlive--;
		ops->free(ops->ctx, lv[nlive].p);
	}
	free(lv);
	*ret = r;
	return 0;
}

void mix_result_free(struct mix_result *r)
{
	samples_free(&r->ratio);
	samples_free(&r->own);
	samples_free(&r->held);
}
