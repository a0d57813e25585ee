/* log.c - see include/log.h */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static bool log_fg = true;
static int log_lvl = LOG_L_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *ident, bool foreground, int level)
{
	log_fg = foreground;
	log_lvl = level;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_level(void)
{
	return log_lvl;
}

static void vlog(int lvl, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	char line[1024];

	if (lvl > log_lvl)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (!log_fg) {
		syslog(prio[lvl], "%s", line);
		return;
	}
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "ftpgwd: %s%s\n", tag[lvl], line);
	fflush(stderr);
	pthread_mutex_unlock(&log_mu);
}

#define LOG_FN(name, lvl)                                                   \
	void name(const char *fmt, ...)                                     \
	{                                                                   \
		va_list ap;                                                 \
		va_start(ap, fmt);                                          \
		vlog(lvl, fmt, ap);                                         \
		va_end(ap);                                                 \
	}
LOG_FN(log_err, LOG_L_ERR)
LOG_FN(log_warn, LOG_L_WARN)
LOG_FN(log_info, LOG_L_INFO)
LOG_FN(log_debug, LOG_L_DEBUG)

const char *log_escape(char *out, size_t outlen, const void *in, size_t n)
{
	const unsigned char *p = in;
	size_t o = 0;

	if (outlen == 0)
		return out;
	for (size_t i = 0; i < n; i++) {
		if (o + 5 >= outlen) {
			if (outlen >= 4)
				memcpy(out + outlen - 4, "...", 4);
			return out;
		}
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", p[i]);
	}
	out[o] = '\0';
	return out;
}

bool log_ratelimit(unsigned kind)
{
	static struct { time_t t; unsigned n; } b[16];
	time_t now = time(NULL);
	bool ok;

	pthread_mutex_lock(&log_mu);
	kind &= 15;
	if (b[kind].t != now) {
		if (now - b[kind].t > 10)
			b[kind].n = 0;
		else if (b[kind].n > 9)
			b[kind].n = 9;
		b[kind].t = now;
	}
	ok = b[kind].n < 10;
	if (ok)
		b[kind].n++;
	pthread_mutex_unlock(&log_mu);
	return ok;
}
