/* SPDX-License-Identifier: MIT */
/*
 * config.h - the config file (/etc/contigd/contigd.conf): "key = value"
 * lines, '#' comments, blank lines. Every key is also a command-line option
 * (contigd --help) and goes through config_apply, so the two accept and
 * reject exactly the same values.
 */
#ifndef CONTIG_CONFIG_H
#define CONTIG_CONFIG_H

#include <stddef.h>

#include "settings.h"

struct server;

/*
 * Set one key from its text value. Returns 0, or -EINVAL with a reason in
 * err ("not a size", "must be a power of two ..."), or -ENOENT for an
 * unknown key.
 */
int config_apply(struct settings *s, const char *key, const char *value, char *err, size_t errlen);

/*
 * Read path into *s (on top of what *s holds). Returns 0, or -errno with
 * "path:line: reason" in err. Unknown keys, bad values and a key given twice
 * are errors. On error *s may be partly updated: callers parse into a copy.
 */
int config_load(const char *path, struct settings *s, char *err, size_t errlen);

/*
 * SIGHUP: re-read path and take what can change without touching live
 * regions (log level, quarantine, limits, access lists) into *s; log one
 * line saying what was applied and which changed keys need a restart.
 * Returns 0, or -errno with the reason in err (then nothing changed).
 * config_apply_live puts them in force.
 */
int config_reload(const char *path, struct settings *s, char *err, size_t errlen);

/* Put the live settings in force: the one place a start or a reload does
 * it (log level, the pool's quarantine, the server's limits and access). */
void config_apply_live(const struct settings *s, struct server *srv);

#endif
