/* SPDX-License-Identifier: MIT */
/*
 * json.h - a small, strict JSON reader for tests: contigctl's --json output
 * must parse as exactly one value (RFC 8259: no trailing commas, no leading
 * zeros, no duplicate keys, nothing after the value). Integers keep all 64
 * bits (physical addresses, UINT64_MAX ceilings).
 */
#ifndef CONTIG_TEST_JSON_H
#define CONTIG_TEST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool boolean;
	bool is_uint;        /* a number written as a non-negative integer that fits uint64 */
	uint64_t u;
	double d;            /* every number */
	char *s;             /* JSON_STRING */
	size_t n;            /* items of an array or members of an object */
	struct json *items;
	char **keys;         /* JSON_OBJECT: keys[i] names items[i] */
};

/* Parse text (NUL-terminated) as one JSON value; NULL on any error, with a
 * message in err. */
struct json *json_parse(const char *text, char *err, size_t errlen);
void json_free(struct json *j);

/* Member key of an object, or NULL (also when j is not an object). */
const struct json *json_get(const struct json *j, const char *key);

#endif
