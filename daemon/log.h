/* SPDX-License-Identifier: MIT */
/*
 * log.h - contigd's logging: one line per event to stderr. Under systemd
 * (JOURNAL_STREAM set) each line starts with a <N> syslog level prefix the
 * journal understands; otherwise with a plain word.
 */
#ifndef CONTIG_LOG_H
#define CONTIG_LOG_H

#include <syslog.h>

extern int log_max_level;

void log_init(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse "err", "warning", "notice", "info", "debug" or 3..7: level or -EINVAL. */
int log_level_parse(const char *s);

#define log_err(...)     log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)    log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   do { if (log_max_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
