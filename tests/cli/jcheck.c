/* SPDX-License-Identifier: MIT */
/*
 * jcheck.c - see jcheck.h.
 */
#include "jcheck.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static const struct json *member(const struct json *o, const char *key, enum json_type t)
{
	const struct json *v = json_get(o, key);

	if (!v)
		fail_msg("JSON key \"%s\" is missing", key);
	if (v->type != t)
		fail_msg("JSON key \"%s\" has type %d, expected %d", key, v->type, t);
	return v;
}

uint64_t j_u64(const struct json *o, const char *key)
{
	const struct json *v = member(o, key, JSON_NUMBER);

	if (!v->is_uint)
		fail_msg("JSON key \"%s\" is not a non-negative integer", key);
	return v->u;
}

int64_t j_i64(const struct json *o, const char *key)
{
	const struct json *v = member(o, key, JSON_NUMBER);

	if (v->is_uint)
		return (int64_t)v->u;
	if (v->d != (double)(int64_t)v->d)
		fail_msg("JSON key \"%s\" is not an integer", key);
	return (int64_t)v->d;
}

double j_num(const struct json *o, const char *key)
{
	return member(o, key, JSON_NUMBER)->d;
}

const char *j_str(const struct json *o, const char *key)
{
	return member(o, key, JSON_STRING)->s;
}

bool j_bool(const struct json *o, const char *key)
{
	return member(o, key, JSON_BOOL)->boolean;
}

const struct json *j_arr(const struct json *o, const char *key)
{
	return member(o, key, JSON_ARRAY);
}

const struct json *j_obj(const struct json *o, const char *key)
{
	return member(o, key, JSON_OBJECT);
}
