/* SPDX-License-Identifier: MIT */
/*
 * jcheck.h - typed access to members of contigctl's JSON objects inside a
 * cmocka test: a member that is missing or of the wrong type fails the
 * test, naming the key.
 */
#ifndef CONTIG_TEST_JCHECK_H
#define CONTIG_TEST_JCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "json.h"

uint64_t j_u64(const struct json *o, const char *key);   /* non-negative integer */
int64_t j_i64(const struct json *o, const char *key);    /* any integer */
double j_num(const struct json *o, const char *key);
const char *j_str(const struct json *o, const char *key);
bool j_bool(const struct json *o, const char *key);
const struct json *j_arr(const struct json *o, const char *key);
const struct json *j_obj(const struct json *o, const char *key);

#endif
