/*
 * log.h - the daemon's log: stderr in the foreground, syslog otherwise.
 * Session lines start with "#<sid> ". Untrusted bytes go through
 * log_escape() first; PASS lines are never logged. Per-packet warnings
 * use log_ratelimit() so a flood cannot fill the disk.
 */
#ifndef FTPGW_LOG_H
#define FTPGW_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum { LOG_L_ERR = 0, LOG_L_WARN, LOG_L_INFO, LOG_L_DEBUG };

void log_init(const char *ident, bool foreground, int level);
int log_level(void);

__attribute__((format(printf, 1, 2))) void log_err(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_info(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_debug(const char *fmt, ...);

/* Escape bytes for a log line: printable ASCII kept, the rest \xHH;
 * truncated to fit out (always NUL-terminated, "..." when cut). */
const char *log_escape(char *out, size_t outlen, const void *in, size_t n);

/* true if a warning of this kind (0..15) may be logged now: at most a
 * burst of 10, then 1 per second. */
bool log_ratelimit(unsigned kind);

#endif
