/* SPDX-License-Identifier: MIT */
/*
 * settings.c - built-in defaults and the size syntax shared by the command
 * line and the config file.
 */
#define _GNU_SOURCE
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void settings_default(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->socket, SETTINGS_DEFAULT_SOCKET);
	s->pool_bytes = SETTINGS_DEFAULT_POOL;
	s->page_size = 2ull << 20;
	s->low_pool_margin = 1ull << 30;
	s->audit_interval_s = 10;
	s->quarantine_ms = 1000;
	s->oversample = 1;
	s->repair_idle_s = 30;
	s->log_level = 6; /* LOG_INFO */
	s->may_raise_hugepages = true;
	limits_default(&s->limits);
}

int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	/* Accept "2MiB"/"2MB" as well as "2M". */
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}
