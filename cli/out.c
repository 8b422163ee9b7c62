/* SPDX-License-Identifier: MIT */
/*
 * out.c - formatting shared by the commands.
 */
#include <inttypes.h>
#include <string.h>

#include "cmds.h"

const char *fmt_bytes(uint64_t v, char *buf, size_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	uint64_t whole = v, rem = 0;

	while (whole >= 1024 && u < 4) {
		rem = whole % 1024;
		whole /= 1024;
		u++;
	}
	if (rem)
		snprintf(buf, n, "%" PRIu64 ".%" PRIu64 " %s", whole, rem * 10 / 1024, unit[u]);
	else
		snprintf(buf, n, "%" PRIu64 " %s", whole, unit[u]);
	return buf;
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
