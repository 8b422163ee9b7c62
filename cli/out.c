/* SPDX-License-Identifier: MIT */
/*
 * out.c - formatting shared by the commands: sizes, ages, nodes, page
 * states, JSON strings and strings made safe for a terminal. Pure functions
 * of their arguments (and, for since_epoch, the clock).
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cmds.h"

const char *fmt_bytes(uint64_t v, char *buf, size_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;
	uint64_t whole = v, rem = 0;

	while (whole >= 1024 && u < 6) {
		rem = whole % 1024;
		whole /= 1024;
		u++;
	}
	if (rem * 10 / 1024)
		snprintf(buf, n, "%" PRIu64 ".%" PRIu64 " %s", whole, rem * 10 / 1024, unit[u]);
	else
		snprintf(buf, n, "%" PRIu64 " %s", whole, unit[u]);
	return buf;
}

const char *fmt_age(uint64_t ns, char *buf, size_t n)
{
	uint64_t s = ns / 1000000000u;

	if (s < 60)
		snprintf(buf, n, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(buf, n, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
	return buf;
}

const char *fmt_node(int32_t node, char *buf, size_t n)
{
	if (node == PROTO_NODE_ANY)
		snprintf(buf, n, "any");
	else
		snprintf(buf, n, "%d", (int)node);
	return buf;
}

const char *page_state_name(uint8_t state)
{
	static const char *const name[] = {
		[PROTO_PAGE_FREE] = "free",
		[PROTO_PAGE_USED] = "used",
		[PROTO_PAGE_RECLAIMING] = "reclaiming",
		[PROTO_PAGE_QUARANTINED] = "quarantined",
		[PROTO_PAGE_LOST] = "lost",
	};

	return state < sizeof(name) / sizeof(name[0]) ? name[state] : "unknown";
}

void json_string(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

const char *text_safe(const char *s, size_t n, char *buf, size_t bufsz)
{
	size_t k = 0;

	for (size_t i = 0; i < n && s[i] && k + 1 < bufsz; i++) {
		unsigned char ch = (unsigned char)s[i];
		/* Printable ASCII only: a control byte or a lone UTF-8 byte
		 * could start an escape sequence (ECMA-48 C1 controls). */
		buf[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[k] = 0;
	return buf;
}

double since_epoch(uint64_t age_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (double)age_ns / 1e9;
}
