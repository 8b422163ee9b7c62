/* SPDX-License-Identifier: MIT */
/*
 * json.c - see json.h. Recursive descent over the grammar of RFC 8259,
 * section 2-7; depth is bounded so a broken output cannot blow the stack.
 */
#include "json.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct parser {
	const char *p;
	const char *start;
	char *err;
	size_t errlen;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static bool fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (ps->failed)
		return false;
	ps->failed = true;
	k = snprintf(ps->err, ps->errlen, "offset %zu: ", (size_t)(ps->p - ps->start));
	va_start(ap, fmt);
	if (k >= 0 && (size_t)k < ps->errlen)
		vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return false;
}

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static bool parse_value(struct parser *ps, struct json *j, int depth);

static bool put_utf8(char **out, unsigned cp)
{
	char *o = *out;

	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	*out = o;
	return true;
}

static bool parse_string(struct parser *ps, char **ret)
{
	const char *q = ++ps->p; /* past the quote */
	char *buf, *o;

	/* Decoded text is never longer than the source. */
	while (*q && *q != '"')
		q += (*q == '\\' && q[1]) ? 2 : 1;
	if (*q != '"')
		return fail(ps, "unterminated string");
	buf = o = malloc((size_t)(q - ps->p) + 1);
	if (!buf)
		return fail(ps, "out of memory");
	while (*ps->p != '"') {
		unsigned char ch = (unsigned char)*ps->p++;
		if (ch < 0x20) {
			free(buf);
			return fail(ps, "control character in string");
		}
		if (ch != '\\') {
			*o++ = (char)ch;
			continue;
		}
		ch = (unsigned char)*ps->p++;
		switch (ch) {
		case '"': case '\\': case '/': *o++ = (char)ch; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 0; i < 4; i++, ps->p++) {
				if (!isxdigit((unsigned char)*ps->p)) {
					free(buf);
					return fail(ps, "bad \\u escape");
				}
				cp = cp * 16 + (unsigned)(isdigit((unsigned char)*ps->p)
					? *ps->p - '0' : (tolower((unsigned char)*ps->p) - 'a' + 10));
			}
			put_utf8(&o, cp);
			break;
		}
		default:
			free(buf);
			return fail(ps, "bad escape \\%c", ch);
		}
	}
	ps->p++;
	*o = 0;
	*ret = buf;
	return true;
}

static bool parse_number(struct parser *ps, struct json *j)
{
	const char *s = ps->p, *q = s;
	bool integer = true;
	uint64_t u = 0;
	bool overflow = false;

	if (*q == '-')
		q++;
	if (!isdigit((unsigned char)*q))
		return fail(ps, "bad number");
	if (*q == '0' && isdigit((unsigned char)q[1]))
		return fail(ps, "leading zero");
	while (isdigit((unsigned char)*q)) {
		unsigned dgt = (unsigned)(*q++ - '0');
		if (u > (UINT64_MAX - dgt) / 10)
			overflow = true;
		u = u * 10 + dgt;
	}
	if (*q == '.') {
		integer = false;
		if (!isdigit((unsigned char)*++q))
			return fail(ps, "bad fraction");
		while (isdigit((unsigned char)*q))
			q++;
	}
	if (*q == 'e' || *q == 'E') {
		integer = false;
		q++;
		if (*q == '+' || *q == '-')
			q++;
		if (!isdigit((unsigned char)*q))
			return fail(ps, "bad exponent");
		while (isdigit((unsigned char)*q))
			q++;
	}
	j->type = JSON_NUMBER;
	j->d = strtod(s, NULL);
	j->is_uint = integer && *s != '-' && !overflow;
	j->u = j->is_uint ? u : 0;
	ps->p = q;
	return true;
}

static bool grow(struct json *j, size_t *cap, bool keys)
{
	if (j->n < *cap)
		return true;
	*cap = *cap ? *cap * 2 : 8;
	struct json *ni = realloc(j->items, *cap * sizeof(*ni));
	if (!ni)
		return false;
	j->items = ni;
	if (keys) {
		char **nk = realloc(j->keys, *cap * sizeof(*nk));
		if (!nk)
			return false;
		j->keys = nk;
	}
	return true;
}

static bool parse_array(struct parser *ps, struct json *j, int depth)
{
	size_t cap = 0;

	j->type = JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (*ps->p == ']') {
		ps->p++;
		return true;
	}
	for (;;) {
		if (!grow(j, &cap, false))
			return fail(ps, "out of memory");
		memset(&j->items[j->n], 0, sizeof(j->items[0]));
		if (!parse_value(ps, &j->items[j->n++], depth + 1))
			return false;
		skip_ws(ps);
		if (*ps->p == ']') {
			ps->p++;
			return true;
		}
		if (*ps->p++ != ',')
			return fail(ps, "expected , or ] in array");
	}
}

static bool parse_object(struct parser *ps, struct json *j, int depth)
{
	size_t cap = 0;

	j->type = JSON_OBJECT;
	ps->p++;
	skip_ws(ps);
	if (*ps->p == '}') {
		ps->p++;
		return true;
	}
	for (;;) {
		char *key;
		skip_ws(ps);
		if (*ps->p != '"')
			return fail(ps, "expected a key");
		if (!parse_string(ps, &key))
			return false;
		if (json_get(j, key)) {
			fail(ps, "duplicate key \"%s\"", key);
			free(key);
			return false;
		}
		if (!grow(j, &cap, true)) {
			free(key);
			return fail(ps, "out of memory");
		}
		j->keys[j->n] = key;
		memset(&j->items[j->n], 0, sizeof(j->items[0]));
		j->n++;
		skip_ws(ps);
		if (*ps->p++ != ':')
			return fail(ps, "expected :");
		if (!parse_value(ps, &j->items[j->n - 1], depth + 1))
			return false;
		skip_ws(ps);
		if (*ps->p == '}') {
			ps->p++;
			return true;
		}
		if (*ps->p++ != ',')
			return fail(ps, "expected , or } in object");
	}
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(ps->p, word, n))
		return fail(ps, "bad literal");
	ps->p += n;
	return true;
}

static bool parse_value(struct parser *ps, struct json *j, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(ps, "nested too deep");
	skip_ws(ps);
	switch (*ps->p) {
	case '{': return parse_object(ps, j, depth);
	case '[': return parse_array(ps, j, depth);
	case '"': j->type = JSON_STRING; return parse_string(ps, &j->s);
	case 't': j->type = JSON_BOOL; j->boolean = true; return literal(ps, "true");
	case 'f': j->type = JSON_BOOL; return literal(ps, "false");
	case 'n': j->type = JSON_NULL; return literal(ps, "null");
	default: return parse_number(ps, j);
	}
}

static void json_fini(struct json *j)
{
	for (size_t i = 0; i < j->n; i++) {
		json_fini(&j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->s);
}

void json_free(struct json *j)
{
	if (!j)
		return;
	json_fini(j);
	free(j);
}

struct json *json_parse(const char *text, char *err, size_t errlen)
{
	struct parser ps = { .p = text, .start = text, .err = err, .errlen = errlen };
	struct json *j = calloc(1, sizeof(*j));

	if (!j) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_value(&ps, j, 0)) {
		skip_ws(&ps);
		if (*ps.p)
			fail(&ps, "text after the value");
	}
	if (ps.failed) {
		json_free(j);
		return NULL;
	}
	return j;
}

const struct json *json_get(const struct json *j, const char *key)
{
	if (!j || j->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < j->n; i++)
		if (!strcmp(j->keys[i], key))
			return &j->items[i];
	return NULL;
}
