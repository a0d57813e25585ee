/*
 * ftpload - FTP load generator and minimal FTP responder for `make bench`.
 *
 * usage:
 *   ftpload serve    --listen ADDR [--port P] [--max-conns N] [--timeout S]
 *   ftpload sessions --connect ADDR [--port P] --mode epsv|pasv --duration S
 *                    [--parallel N] [--max-sessions M] [--user U] [--pass W]
 *                    [--list-path PATH] [--timeout S]
 *   ftpload latency  --connect ADDR [--port P] --count N [--warmup W]
 *                    [--cmd noop|port] [--port-first] [--user U] [--pass W]
 *                    [--timeout S]
 *   ftpload flood    --connect ADDR [--port P] --conns K --duration S
 *                    [--depth D] [--threads T] [--cmd noop|port]
 *                    [--user U] [--pass W] [--timeout S]
 *
 * ADDR is a numeric IPv4 or IPv6 address. Defaults: --port 21, --timeout 5
 * (seconds, the limit of every single socket operation), --user anonymous,
 * --pass bench@, --list-path /pub/listdir, --parallel 1, --warmup 100,
 * --cmd noop, --depth 8, --threads 1, --max-conns 4096. Durations and
 * timeouts may be fractional seconds.
 *
 * serve     a single-threaded epoll responder, not an FTP server: "220
 *           ftpload ready" on accept, then per CRLF or LF terminated line
 *           USER 331, PASS 230, NOOP 200, PORT/EPRT 200, QUIT 221 (and
 *           close), anything else 200; a line over 1024 bytes gets 500 and
 *           is discarded up to the next LF. --max-conns bounds concurrent
 *           connections (the ones over it are closed at once). Runs until
 *           SIGTERM or SIGINT. --port 0 picks a free port; "ftpload: serving
 *           ADDR PORT" goes to stderr once listening.
 * sessions  --parallel threads, each repeating whole sessions until
 *           --duration ends or --max-sessions were started in all: connect,
 *           220, USER/PASS, EPSV or PASV, data connect, LIST, 150/125, data
 *           to EOF and 226 (either order), QUIT, 221.
 * latency   one control connection: login, with --port-first one PORT (or
 *           EPRT on IPv6) from the connection's own local address and port
 *           40000, --warmup untimed then --count timed exchanges of one
 *           command and its reply (NOOP, or PORT/EPRT with the port cycling
 *           40000..40999), then QUIT. A non-2xx reply is an error; the run
 *           stops after 10 errors.
 * flood     --conns control connections over --threads epoll threads; all
 *           log in, then each keeps --depth commands outstanding (one
 *           send() per command, TCP_NODELAY) for --duration; the window
 *           starts when every connection is logged in (or has failed).
 *           A connection that fails (including a non-2xx reply) counts one
 *           error and is not replaced.
 *
 * output: one JSON object on one line on stdout at the end of a run:
 *   {"mode":"serve","conns":N,"lines":M}
 *   {"mode":"sessions","proto":"epsv","parallel":N,"sessions":C,"errors":E,
 *    "seconds":T,"rate":R,"median_ms":X,"p99_ms":Y,"first_error":"step: why"}
 *   {"mode":"latency","cmd":"noop","count":N,"min_us":A,"median_us":B,
 *    "p99_us":C,"max_us":D,"mean_us":E,"errors":F}
 *   {"mode":"flood","cmd":"noop","conns":K,"depth":D,"replies":R,
 *    "seconds":T,"rate":R,"errors":E}
 * serve's conns counts the connections accepted and served, lines the
 * command lines answered (a too-long line counts once).
 * sessions counts completed sessions (rate = sessions / seconds, seconds is
 * the measured wall time); median_ms and p99_ms are over the completed
 * sessions' durations; first_error is present only when errors > 0.
 * latency's count is the number of timed exchanges that got a 2xx reply,
 * the statistics are over those. Percentiles are nearest-rank; the median
 * of an even count is the mean of the two middle values.
 * Diagnostics go to stderr, prefixed "ftpload: " (at most 5 error
 * diagnostics per run; the rest are only counted).
 *
 * exit status: 0 no errors; 1 some session, exchange or connection failed
 * (the JSON is printed, with "errors"); 2 bad usage, or nothing could
 * connect at all (the JSON is still printed for a run that was attempted).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE     4096      /* client: reply line buffer */
#define RR_MAX_LINES  10000     /* client: lines of one multi-line reply */
#define CMD_MAX       1100      /* client: longest command line sent */
#define TEXT_MAX      512       /* --user, --pass, --list-path */
#define DATA_BUF      65536     /* sessions: data connection read buffer */
#define DUR_CAP       (1u << 22) /* sessions: durations kept per thread */
#define SV_LINE_MAX   1024      /* serve: longest accepted command line */
#define SV_OUT_CAP    16384     /* serve: output buffer per connection */
#define SV_READ_CHUNK 65536     /* serve: one recv() */
#define SV_ACCEPTS    64        /* serve: accepts per wakeup */
#define MAX_EVENTS    256
#define MAX_DIAGS     5
#define LAT_MAX_ERRORS 10
#define PORT_BASE     40000u
#define PORT_SPAN     1000u
#define FL_CMD_MAX    80        /* flood: one NOOP/PORT/EPRT line */
#define NS_PER_SEC    1000000000LL
#define NS_PER_MS     1000000LL
#define SWEEP_NS      (100 * NS_PER_MS)

enum mode { M_SERVE = 1, M_SESSIONS = 2, M_LATENCY = 4, M_FLOOD = 8 };

struct opts {
	enum mode mode;
	const char *mode_name;
	const char *host;          /* --connect or --listen */
	long port;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int timeout_ms;
	int64_t duration_ns;
	long parallel;
	long max_sessions;         /* 0: no limit */
	bool epsv;
	bool proto_set;
	const char *user;
	const char *pass;
	const char *list_path;
	long count;
	long warmup;
	bool cmd_port;
	bool port_first;
	long conns;
	long depth;
	long threads;
	long max_conns;
};

/* ---------------------------------------------------------------- misc */

static atomic_int g_diags;

__attribute__((format(printf, 1, 2)))
static void diag(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "ftpload: %s\n", msg);
}

/* An error of a run: the first MAX_DIAGS are printed, the rest counted. */
static void diag_error(const char *msg)
{
	int n = atomic_fetch_add(&g_diags, 1);

	if (n < MAX_DIAGS)
		diag("%s", msg);
	else if (n == MAX_DIAGS)
		diag("more errors: counted, not printed");
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Milliseconds left until deadline, rounded up; 0 once it has passed. */
static int ms_until(int64_t deadline)
{
	int64_t left = deadline - now_ns();

	if (left <= 0)
		return 0;
	left = (left + NS_PER_MS - 1) / NS_PER_MS;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Copies printable ASCII of src into dst (cap > 0), '?' for the rest. */
static void clean(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] != '\0' && i + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	dst[i] = '\0';
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct stats {
	double min, median, p99, max, mean;
};

/* Sorts v[0..n) and fills st (same unit as v); all zero when n == 0. */
static void stats_of(int64_t *v, size_t n, struct stats *st)
{
	double sum = 0;

	memset(st, 0, sizeof *st);
	if (n == 0)
		return;
	qsort(v, n, sizeof *v, cmp_i64);
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	st->min = (double)v[0];
	st->max = (double)v[n - 1];
	st->mean = sum / (double)n;
	if (n % 2)
		st->median = (double)v[n / 2];
	else
		st->median = ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
	/* nearest rank: the ceil(0.99 n)-th value */
	st->p99 = (double)v[(n * 99 + 99) / 100 - 1];
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			diag("cannot raise the open file limit: %s",
			     strerror(errno));
	}
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		diag("TCP_NODELAY: %s", strerror(errno));
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

/* ------------------------------------------------------ socket helpers */

/*
 * Waits for events on fd until deadline: 1 ready (or error/hangup, which
 * the next read or write reports), 0 timed out, -1 poll failed.
 */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = ms_until(deadline);
		int r = poll(&p, 1, ms);

		if (r > 0)
			return 1;
		if (r == 0) {
			if (ms == 0)
				return 0;
			continue;
		}
		if (errno != EINTR)
			return -1;
	}
}

/*
 * Non-blocking TCP connect with a timeout. Returns the connected,
 * non-blocking socket with TCP_NODELAY, or -1 with why filled.
 */
static int tcp_connect(const struct sockaddr_storage *ss, socklen_t len,
		       int timeout_ms, char *why, size_t whycap)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	if (fd < 0) {
		snprintf(why, whycap, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		int r;

		if (errno != EINPROGRESS) {
			snprintf(why, whycap, "%s", strerror(errno));
			close(fd);
			return -1;
		}
		r = wait_fd(fd, POLLOUT, now_ns() + timeout_ms * NS_PER_MS);
		if (r <= 0) {
			snprintf(why, whycap, "%s",
				 r == 0 ? "timed out" : strerror(errno));
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr != 0) {
			snprintf(why, whycap, "%s", strerror(soerr));
			close(fd);
			return -1;
		}
	}
	set_nodelay(fd);
	return fd;
}

/* ------------------------------------------------------- reply reader */

/*
 * Incremental FTP reply parser over a bounded buffer. A reply is one line
 * "DDD text" (or just "DDD"), or "DDD-..." continued until a line that
 * starts with the same "DDD " (or is exactly "DDD").
 */
struct rrd {
	size_t off, len;
	int ml;                    /* code of an open multi-line reply */
	unsigned lines;
	int code;                  /* last complete reply */
	const char *text;          /* its final line; valid until rrd_fill */
	char buf[RBUF_SIZE];
};

static void rrd_reset(struct rrd *r)
{
	r->off = r->len = 0;
	r->ml = 0;
	r->lines = 0;
	r->code = 0;
	r->text = "";
}

static int line_code(const char *s, size_t n)
{
	if (n < 3 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]))
		return -1;
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* 1: a reply is complete (code, text); 0: need more; -1: bad (why). */
static int rrd_next(struct rrd *r, const char **why)
{
	while (r->off < r->len) {
		char *s = r->buf + r->off;
		const char *nl = memchr(s, '\n', r->len - r->off);
		size_t n;
		int code;

		if (nl == NULL) {
			if (r->off == 0 && r->len == sizeof r->buf) {
				*why = "reply line too long";
				return -1;
			}
			return 0;
		}
		n = (size_t)(nl - s);
		r->off += n + 1;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		s[n] = '\0';
		code = line_code(s, n);
		if (r->ml == 0) {
			if (code < 0 || (n > 3 && s[3] != ' ' && s[3] != '-')) {
				*why = "malformed reply";
				return -1;
			}
			if (n > 3 && s[3] == '-') {
				r->ml = code;
				r->lines = 1;
				continue;
			}
		} else if (code != r->ml || (n > 3 && s[3] != ' ')) {
			if (++r->lines > RR_MAX_LINES) {
				*why = "multi-line reply too long";
				return -1;
			}
			continue;
		}
		r->ml = 0;
		r->code = code;
		r->text = s;
		return 1;
	}
	return 0;
}

/* One recv() into the buffer: >0 bytes, 0 EOF, -1 error (errno). */
static ssize_t rrd_fill(struct rrd *r, int fd)
{
	ssize_t n;

	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	r->text = "";
	if (r->len == sizeof r->buf) {
		errno = ENOBUFS;
		return -1;
	}
	n = recv(fd, r->buf + r->len, sizeof r->buf - r->len, 0);
	if (n > 0) {
		/* ACK replies at once: a server that writes "150" and "226"
		 * as two small segments (vsftpd) otherwise waits, by Nagle,
		 * for our delayed ACK of the first (40 ms a session) */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
		r->len += (size_t)n;
	}
	return n;
}

/* --------------------------------------- blocking-style control client */

struct ctl {
	int fd;
	int timeout_ms;
	char err[256];
	struct rrd rd;
};

__attribute__((format(printf, 3, 4)))
static int ctl_fail(struct ctl *c, const char *step, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(c->err, sizeof c->err, "%s: %s", step, msg);
	return -1;
}

static int ctl_bad(struct ctl *c, const char *step)
{
	char t[100];

	clean(t, sizeof t, c->rd.text);
	return ctl_fail(c, step, "unexpected reply \"%s\"", t);
}

static int ctl_send(struct ctl *c, const char *step, const char *buf,
		    size_t len)
{
	int64_t dl = now_ns() + c->timeout_ms * NS_PER_MS;
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(c->fd, buf + done, len - done, MSG_NOSIGNAL);
		int r;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return ctl_fail(c, step, "send: %s", strerror(errno));
		r = wait_fd(c->fd, POLLOUT, dl);
		if (r <= 0)
			return ctl_fail(c, step, "send: %s",
					r == 0 ? "timed out" : strerror(errno));
	}
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int ctl_cmd(struct ctl *c, const char *step, const char *fmt, ...)
{
	char line[CMD_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2)
		return ctl_fail(c, step, "command too long");
	line[n] = '\r';
	line[n + 1] = '\n';
	return ctl_send(c, step, line, (size_t)n + 2);
}

/* Reads one complete reply: its code, or -1 (c->err says why). */
static int ctl_reply(struct ctl *c, const char *step)
{
	int64_t dl = now_ns() + c->timeout_ms * NS_PER_MS;

	for (;;) {
		const char *why = NULL;
		int r = rrd_next(&c->rd, &why);
		ssize_t n;

		if (r > 0)
			return c->rd.code;
		if (r < 0)
			return ctl_fail(c, step, "%s", why);
		r = wait_fd(c->fd, POLLIN, dl);
		if (r <= 0)
			return ctl_fail(c, step, "reply: %s",
					r == 0 ? "timed out" : strerror(errno));
		n = rrd_fill(&c->rd, c->fd);
		if (n == 0)
			return ctl_fail(c, step, "connection closed");
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return ctl_fail(c, step, "recv: %s", strerror(errno));
	}
}

/* Connects to the target and reads the 220 greeting. */
static int ctl_open(struct ctl *c, const struct opts *o)
{
	char why[160];
	int code;

	rrd_reset(&c->rd);
	c->timeout_ms = o->timeout_ms;
	c->fd = tcp_connect(&o->addr, o->addrlen, o->timeout_ms, why,
			    sizeof why);
	if (c->fd < 0)
		return ctl_fail(c, "connect", "%s", why);
	code = ctl_reply(c, "greeting");
	if (code < 0)
		return -1;
	if (code != 220)
		return ctl_bad(c, "greeting");
	return 0;
}

static void ctl_close(struct ctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* USER, then PASS if asked (331); a 230 at either step logs in. */
static int ctl_login(struct ctl *c, const char *user, const char *pass)
{
	int code;

	if (ctl_cmd(c, "user", "USER %s", user) < 0)
		return -1;
	code = ctl_reply(c, "user");
	if (code < 0)
		return -1;
	if (code == 230)
		return 0;
	if (code != 331)
		return ctl_bad(c, "user");
	if (ctl_cmd(c, "pass", "PASS %s", pass) < 0)
		return -1;
	code = ctl_reply(c, "pass");
	if (code < 0)
		return -1;
	if (code != 230)
		return ctl_bad(c, "pass");
	return 0;
}

/* ------------------------------------------------- PORT/EPRT commands */

struct portgen {
	bool v6;
	unsigned char a4[4];
	char a6[INET6_ADDRSTRLEN];
};

/* From the socket's own local address; a v4-mapped one makes PORT. */
static int portgen_init(struct portgen *pg, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	memset(pg, 0, sizeof *pg);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		memcpy(pg->a4, &s4->sin_addr, 4);
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(pg->a4, &s6->sin6_addr.s6_addr[12], 4);
			return 0;
		}
		pg->v6 = true;
		if (inet_ntop(AF_INET6, &s6->sin6_addr, pg->a6,
			      sizeof pg->a6) == NULL)
			return -1;
		return 0;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

/* "PORT h1,h2,h3,h4,p1,p2\r\n" or "EPRT |2|addr|port|\r\n"; its length. */
static size_t portgen_line(const struct portgen *pg, unsigned port, char *out,
			   size_t cap)
{
	int n;

	if (pg->v6)
		n = snprintf(out, cap, "EPRT |2|%s|%u|\r\n", pg->a6, port);
	else
		n = snprintf(out, cap, "PORT %u,%u,%u,%u,%u,%u\r\n",
			     pg->a4[0], pg->a4[1], pg->a4[2], pg->a4[3],
			     port >> 8, port & 0xff);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

/* ------------------------------------------------------------ serve */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

struct sconn {
	int fd;
	size_t slot;
	bool discarding;
	bool closing;
	uint32_t events;
	size_t inlen;
	size_t outoff, outlen;
	int64_t stall_since;
	char in[SV_LINE_MAX + 1];
	char out[SV_OUT_CAP];
};

struct server {
	int ep;
	int lfd;
	int spare;
	size_t cap;
	struct sconn **slots;
	size_t *freel;
	size_t nfree;
	unsigned long long conns, lines;
	int timeout_ms;
	bool emfile_said;
};

static char sv_rbuf[SV_READ_CHUNK];

static void sv_close(struct server *sv, struct sconn *s)
{
	close(s->fd);
	sv->slots[s->slot] = NULL;
	sv->freel[sv->nfree++] = s->slot;
	free(s);
}

/* Appends to the output buffer; -1 when it is full. */
static int sv_out(struct sconn *s, const char *str, size_t len)
{
	if (s->outlen + len > sizeof s->out && s->outoff > 0) {
		memmove(s->out, s->out + s->outoff, s->outlen - s->outoff);
		s->outlen -= s->outoff;
		s->outoff = 0;
	}
	if (s->outlen + len > sizeof s->out)
		return -1;
	memcpy(s->out + s->outlen, str, len);
	s->outlen += len;
	return 0;
}

static const struct {
	const char *verb;
	const char *reply;
} sv_replies[] = {
	{ "USER", "331 ok\r\n" },
	{ "PASS", "230 ok\r\n" },
	{ "NOOP", "200 NOOP ok\r\n" },
	{ "PORT", "200 PORT command successful\r\n" },
	{ "EPRT", "200 PORT command successful\r\n" },
	{ "QUIT", "221 bye\r\n" },
};

/* One complete line (without CR/LF): queue its reply. -1: buffer full. */
static int sv_line(struct server *sv, struct sconn *s, const char *line,
		   size_t len)
{
	const char *reply = "200 ok\r\n";
	size_t v = 0;

	sv->lines++;
	if (len > SV_LINE_MAX)
		return sv_out(s, "500 line too long\r\n", 19);
	while (v < len && line[v] != ' ')
		v++;
	for (size_t i = 0; i < sizeof sv_replies / sizeof sv_replies[0]; i++) {
		if (strlen(sv_replies[i].verb) == v &&
		    strncasecmp(line, sv_replies[i].verb, v) == 0) {
			reply = sv_replies[i].reply;
			if (i == sizeof sv_replies / sizeof sv_replies[0] - 1)
				s->closing = true;
			break;
		}
	}
	return sv_out(s, reply, strlen(reply));
}

/* Splits received bytes into lines. -1: output buffer overflowed. */
static int sv_input(struct server *sv, struct sconn *s, const char *p,
		    size_t n)
{
	const char *end = p + n;

	while (p < end && !s->closing) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t chunk = (size_t)((nl != NULL ? nl : end) - p);
		size_t len;

		if (s->discarding) {
			if (nl == NULL)
				return 0;
			s->discarding = false;
			p = nl + 1;
			continue;
		}
		/* in[] holds at most SV_LINE_MAX bytes and a CR */
		if (s->inlen + chunk > sizeof s->in) {
			s->inlen = 0;
			sv->lines++;
			if (sv_out(s, "500 line too long\r\n", 19) < 0)
				return -1;
			if (nl == NULL) {
				s->discarding = true;
				return 0;
			}
			p = nl + 1;
			continue;
		}
		memcpy(s->in + s->inlen, p, chunk);
		s->inlen += chunk;
		if (nl == NULL)
			return 0;
		p = nl + 1;
		len = s->inlen;
		s->inlen = 0;
		if (len > 0 && s->in[len - 1] == '\r')
			len--;
		if (sv_line(sv, s, s->in, len) < 0)
			return -1;
	}
	return 0;
}

/*
 * Writes what is queued and sets the epoll interest to match.
 * Returns 1 when the connection is to be closed, 0 otherwise.
 */
static int sv_flush(struct server *sv, struct sconn *s, int64_t now)
{
	uint32_t want;

	while (s->outoff < s->outlen) {
		ssize_t n = send(s->fd, s->out + s->outoff,
				 s->outlen - s->outoff, MSG_NOSIGNAL);
		if (n > 0) {
			s->outoff += (size_t)n;
			s->stall_since = now;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		return 1;
	}
	if (s->outoff == s->outlen) {
		s->outoff = s->outlen = 0;
		if (s->closing)
			return 1;
	}
	want = (s->closing ? 0 : EPOLLIN) | (s->outlen > 0 ? EPOLLOUT : 0);
	if (want != s->events) {
		struct epoll_event ev = { .events = want, .data.ptr = s };
		if (epoll_ctl(sv->ep, EPOLL_CTL_MOD, s->fd, &ev) < 0)
			return 1;
		s->events = want;
	}
	return 0;
}

static void sv_accept(struct server *sv, int64_t now)
{
	for (int k = 0; k < SV_ACCEPTS; k++) {
		struct epoll_event ev;
		struct sconn *s;
		int fd = accept(sv->lfd, NULL, NULL);
		int fl;

		if (fd < 0) {
			if (errno == ECONNABORTED || errno == EPROTO)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    sv->spare >= 0) {
				/* drop one to keep the listener from spinning */
				if (!sv->emfile_said)
					diag("accept: %s: dropping connections",
					     strerror(errno));
				sv->emfile_said = true;
				close(sv->spare);
				fd = accept(sv->lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				sv->spare = open("/dev/null",
						 O_RDONLY | O_CLOEXEC);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
				   errno != EINTR && !sv->emfile_said) {
				diag("accept: %s", strerror(errno));
				sv->emfile_said = errno == EMFILE ||
						  errno == ENFILE;
			}
			return;
		}
		if (sv->nfree == 0) {
			close(fd);
			continue;
		}
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			close(fd);
			continue;
		}
		set_nodelay(fd);
		s = malloc(sizeof *s);
		if (s == NULL) {
			close(fd);
			continue;
		}
		s->fd = fd;
		s->slot = sv->freel[--sv->nfree];
		s->discarding = s->closing = false;
		s->events = EPOLLIN;
		s->inlen = s->outoff = s->outlen = 0;
		s->stall_since = now;
		ev.events = EPOLLIN;
		ev.data.ptr = s;
		sv->slots[s->slot] = s;
		if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			sv_close(sv, s);
			continue;
		}
		sv->conns++;
		if (sv_out(s, "220 ftpload ready\r\n", 19) < 0 ||
		    sv_flush(sv, s, now))
			sv_close(sv, s);
	}
}

static void sv_event(struct server *sv, struct sconn *s, uint32_t events,
		     int64_t now)
{
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !s->closing) {
		ssize_t n = recv(s->fd, sv_rbuf, sizeof sv_rbuf, 0);

		if (n == 0 || (n < 0 && errno != EAGAIN &&
			       errno != EWOULDBLOCK && errno != EINTR)) {
			sv_close(sv, s);
			return;
		}
		if (n > 0 && sv_input(sv, s, sv_rbuf, (size_t)n) < 0) {
			sv_close(sv, s);   /* output buffer full */
			return;
		}
	} else if ((events & (EPOLLERR | EPOLLHUP)) && s->outlen == 0) {
		sv_close(sv, s);
		return;
	}
	if (sv_flush(sv, s, now))
		sv_close(sv, s);
}

/* Closes connections whose output has not moved for the timeout. */
static void sv_sweep(struct server *sv, int64_t now)
{
	int64_t limit = sv->timeout_ms * NS_PER_MS;

	for (size_t i = 0; i < sv->cap; i++) {
		struct sconn *s = sv->slots[i];
		if (s != NULL && s->outlen > s->outoff &&
		    now - s->stall_since > limit)
			sv_close(sv, s);
	}
}

static int sv_listen(const struct opts *o, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int one = 1;
	int fd = socket(o->addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		diag("socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (const struct sockaddr *)&o->addr, o->addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		diag("listen on %s port %ld: %s", o->host, o->port,
		     strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ?
		      ((const struct sockaddr_in6 *)&ss)->sin6_port :
		      ((const struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int run_serve(const struct opts *o)
{
	struct server sv;
	struct sigaction sa;
	sigset_t block, waitmask;
	struct epoll_event ev;
	int64_t next_sweep;
	unsigned port = 0;
	int rc = 0;

	memset(&sv, 0, sizeof sv);
	sv.timeout_ms = o->timeout_ms;
	sv.cap = (size_t)o->max_conns;
	sv.ep = sv.lfd = sv.spare = -1;
	raise_nofile();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigprocmask(SIG_BLOCK, &block, &waitmask) < 0) {
		diag("signals: %s", strerror(errno));
		return 2;
	}
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);

	sv.slots = calloc(sv.cap, sizeof *sv.slots);
	sv.freel = calloc(sv.cap, sizeof *sv.freel);
	if (sv.slots == NULL || sv.freel == NULL) {
		diag("out of memory");
		rc = 2;
		goto out;
	}
	for (size_t i = 0; i < sv.cap; i++)
		sv.freel[i] = sv.cap - 1 - i;
	sv.nfree = sv.cap;

	sv.lfd = sv_listen(o, &port);
	sv.ep = epoll_create1(EPOLL_CLOEXEC);
	sv.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (sv.lfd < 0 || sv.ep < 0) {
		if (sv.ep < 0)
			diag("epoll: %s", strerror(errno));
		rc = 2;
		goto out;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(sv.ep, EPOLL_CTL_ADD, sv.lfd, &ev) < 0) {
		diag("epoll: %s", strerror(errno));
		rc = 2;
		goto out;
	}
	diag("serving %s %u", o->host, port);

	next_sweep = now_ns() + NS_PER_SEC;
	while (!g_stop) {
		struct epoll_event evs[MAX_EVENTS];
		int n = epoll_pwait(sv.ep, evs, MAX_EVENTS, 1000, &waitmask);
		int64_t now = now_ns();

		if (n < 0 && errno != EINTR) {
			diag("epoll_wait: %s", strerror(errno));
			rc = 2;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				sv_accept(&sv, now);
			else
				sv_event(&sv, evs[i].data.ptr, evs[i].events,
					 now);
		}
		if (now >= next_sweep) {
			sv_sweep(&sv, now);
			next_sweep = now + NS_PER_SEC;
		}
	}
	if (rc == 0)
		printf("{\"mode\":\"serve\",\"conns\":%llu,\"lines\":%llu}\n",
		       sv.conns, sv.lines);
out:
	if (sv.slots != NULL)
		for (size_t i = 0; i < sv.cap; i++)
			if (sv.slots[i] != NULL)
				sv_close(&sv, sv.slots[i]);
	if (sv.lfd >= 0)
		close(sv.lfd);
	if (sv.ep >= 0)
		close(sv.ep);
	if (sv.spare >= 0)
		close(sv.spare);
	free(sv.slots);
	free(sv.freel);
	return rc;
}

/* --------------------------------------------------------- sessions */

/* "229 ... (|||port|)" with any delimiter. */
static int parse_epsv(const char *text, unsigned *port)
{
	const char *p = strchr(text, '(');
	unsigned v = 0;
	int nd = 0;
	char d;

	if (p == NULL)
		return -1;
	d = p[1];
	if (d < 33 || d > 126 || is_digit(d) || p[2] != d || p[3] != d)
		return -1;
	for (p += 4; is_digit(*p) && nd < 5; p++, nd++)
		v = v * 10 + (unsigned)(*p - '0');
	if (nd == 0 || *p != d || v == 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* Six comma-separated numbers anywhere after the code of a 227 reply. */
static int parse_pasv(const char *text, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	size_t tl = strlen(text);

	for (size_t i = 3; i < tl; i++) {
		unsigned v[6];
		const char *q = text + i;
		int k;

		if (!is_digit(text[i]) || is_digit(text[i - 1]))
			continue;
		for (k = 0; k < 6; k++) {
			unsigned x = 0;
			int nd = 0;

			for (; is_digit(*q) && nd < 3; q++, nd++)
				x = x * 10 + (unsigned)(*q - '0');
			if (nd == 0 || is_digit(*q) || x > 255)
				break;
			v[k] = x;
			if (k < 5) {
				if (*q != ',')
					break;
				q++;
			}
		}
		if (k == 6 && (v[4] | v[5]) != 0) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

			memset(ss, 0, sizeof *ss);
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)(v[4] * 256 + v[5]));
			s4->sin_addr.s_addr = htonl(v[0] << 24 | v[1] << 16 |
						    v[2] << 8 | v[3]);
			*len = sizeof *s4;
			return 0;
		}
	}
	return -1;
}

struct sess_shared {
	const struct opts *o;
	int64_t end_ns;
	atomic_long started;
	atomic_long ok;
	atomic_long errors;
	atomic_long connected;
	pthread_mutex_t lock;
	char first_error[256];
};

struct sess_thread {
	pthread_t tid;
	bool created;
	struct sess_shared *sh;
	int64_t *dur;
	size_t ndur, capdur;
	struct ctl c;
	char data[DATA_BUF];
};

/* After the LIST preliminary reply: data to EOF and the 226, any order. */
static int sess_transfer(struct ctl *c, int dfd, int final, char *dbuf,
			 size_t dcap)
{
	int64_t hard = now_ns() + 10LL * c->timeout_ms * NS_PER_MS;
	int64_t idle = now_ns() + c->timeout_ms * NS_PER_MS;
	bool data_eof = false;

	while (!data_eof || final == 0) {
		struct pollfd p[2];
		nfds_t np = 0;
		int di = -1, ci = -1, ms, r;

		if (final == 0) {
			const char *why = NULL;

			r = rrd_next(&c->rd, &why);
			if (r < 0)
				return ctl_fail(c, "transfer", "%s", why);
			if (r > 0) {
				if (c->rd.code / 100 == 1)
					continue;
				if (c->rd.code != 226 && c->rd.code != 250)
					return ctl_bad(c, "transfer");
				final = c->rd.code;
				continue;
			}
		}
		if (!data_eof) {
			di = (int)np;
			p[np].fd = dfd;
			p[np++].events = POLLIN;
		}
		if (final == 0) {
			ci = (int)np;
			p[np].fd = c->fd;
			p[np++].events = POLLIN;
		}
		ms = ms_until(idle < hard ? idle : hard);
		if (ms == 0)
			return ctl_fail(c, "transfer", "timed out %s",
					data_eof ? "waiting for 226" :
					"reading data");
		r = poll(p, np, ms);
		if (r < 0 && errno != EINTR)
			return ctl_fail(c, "transfer", "poll: %s",
					strerror(errno));
		if (r <= 0)
			continue;
		if (di >= 0 && p[di].revents != 0) {
			ssize_t n = recv(dfd, dbuf, dcap, 0);

			if (n > 0)
				idle = now_ns() + c->timeout_ms * NS_PER_MS;
			else if (n == 0) {
				/* our FIN at once, as clients do: vsftpd sends
				 * its 226 only when the data connection is
				 * closed on both sides */
				shutdown(dfd, SHUT_WR);
				data_eof = true;
			}
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
				 errno != EINTR)
				return ctl_fail(c, "data", "recv: %s",
						strerror(errno));
		}
		if (ci >= 0 && p[ci].revents != 0) {
			ssize_t n = rrd_fill(&c->rd, c->fd);

			if (n == 0)
				return ctl_fail(c, "transfer",
						"connection closed");
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				return ctl_fail(c, "transfer", "recv: %s",
						strerror(errno));
			idle = now_ns() + c->timeout_ms * NS_PER_MS;
		}
	}
	return 0;
}

/* One whole session; 0 or -1 (c->err says at which step and why). */
static int sess_one(struct sess_thread *t)
{
	const struct opts *o = t->sh->o;
	struct ctl *c = &t->c;
	struct sockaddr_storage da;
	socklen_t dlen = sizeof da;
	char why[160];
	int dfd = -1, rc = -1, code, final = 0;

	if (ctl_open(c, o) < 0) {
		if (c->fd >= 0)
			atomic_fetch_add(&t->sh->connected, 1);
		goto out;
	}
	atomic_fetch_add(&t->sh->connected, 1);
	if (ctl_login(c, o->user, o->pass) < 0)
		goto out;
	if (o->epsv) {
		unsigned port;

		if (ctl_cmd(c, "epsv", "EPSV") < 0)
			goto out;
		code = ctl_reply(c, "epsv");
		if (code < 0)
			goto out;
		if (code != 229) {
			ctl_bad(c, "epsv");
			goto out;
		}
		if (parse_epsv(c->rd.text, &port) < 0) {
			ctl_bad(c, "epsv");
			goto out;
		}
		if (getpeername(c->fd, (struct sockaddr *)&da, &dlen) < 0) {
			ctl_fail(c, "epsv", "getpeername: %s", strerror(errno));
			goto out;
		}
		set_port(&da, port);
	} else {
		if (ctl_cmd(c, "pasv", "PASV") < 0)
			goto out;
		code = ctl_reply(c, "pasv");
		if (code < 0)
			goto out;
		if (code != 227 || parse_pasv(c->rd.text, &da, &dlen) < 0) {
			ctl_bad(c, "pasv");
			goto out;
		}
	}
	dfd = tcp_connect(&da, dlen, o->timeout_ms, why, sizeof why);
	if (dfd < 0) {
		char a[INET6_ADDRSTRLEN] = "?";
		const void *ap = da.ss_family == AF_INET6
		    ? (const void *)&((const struct sockaddr_in6 *)&da)->sin6_addr
		    : (const void *)&((const struct sockaddr_in *)&da)->sin_addr;
		unsigned port = ntohs(da.ss_family == AF_INET6
		    ? ((const struct sockaddr_in6 *)&da)->sin6_port
		    : ((const struct sockaddr_in *)&da)->sin_port);
		inet_ntop(da.ss_family, ap, a, sizeof a);
		ctl_fail(c, "data-connect", "%s port %u: %s", a, port, why);
		goto out;
	}
	if (o->list_path[0] != '\0' ?
	    ctl_cmd(c, "list", "LIST %s", o->list_path) < 0 :
	    ctl_cmd(c, "list", "LIST") < 0)
		goto out;
	code = ctl_reply(c, "list");
	if (code < 0)
		goto out;
	if (code == 226 || code == 250)
		final = code;
	else if (code != 150 && code != 125) {
		ctl_bad(c, "list");
		goto out;
	}
	if (sess_transfer(c, dfd, final, t->data, sizeof t->data) < 0)
		goto out;
	close(dfd);
	dfd = -1;
	if (ctl_cmd(c, "quit", "QUIT") < 0)
		goto out;
	code = ctl_reply(c, "quit");
	if (code < 0)
		goto out;
	if (code != 221) {
		ctl_bad(c, "quit");
		goto out;
	}
	rc = 0;
out:
	if (dfd >= 0)
		close(dfd);
	ctl_close(c);
	return rc;
}

static void sess_record(struct sess_thread *t, int64_t ns)
{
	if (t->ndur == t->capdur) {
		size_t cap = t->capdur ? t->capdur * 2 : 1024;
		int64_t *d;

		if (cap > DUR_CAP)
			return;
		d = realloc(t->dur, cap * sizeof *d);
		if (d == NULL)
			return;
		t->dur = d;
		t->capdur = cap;
	}
	t->dur[t->ndur++] = ns;
}

static void *sess_main(void *arg)
{
	struct sess_thread *t = arg;
	struct sess_shared *sh = t->sh;
	long max = sh->o->max_sessions;

	t->c.fd = -1;
	while (now_ns() < sh->end_ns) {
		int64_t t0;

		if (max > 0 && atomic_fetch_add(&sh->started, 1) >= max)
			break;
		t0 = now_ns();
		if (sess_one(t) == 0) {
			sess_record(t, now_ns() - t0);
			atomic_fetch_add(&sh->ok, 1);
			continue;
		}
		if (atomic_fetch_add(&sh->errors, 1) == 0) {
			pthread_mutex_lock(&sh->lock);
			snprintf(sh->first_error, sizeof sh->first_error, "%s",
				 t->c.err);
			pthread_mutex_unlock(&sh->lock);
		}
		{
			char msg[300];

			snprintf(msg, sizeof msg, "session failed at %s",
				 t->c.err);
			diag_error(msg);
		}
	}
	return NULL;
}

static int run_sessions(const struct opts *o)
{
	struct sess_shared sh;
	struct sess_thread *ts;
	int64_t *all = NULL;
	size_t nall = 0, k = 0;
	long ok, errors, connected;
	struct stats st;
	double secs;
	int64_t t0;

	memset(&sh, 0, sizeof sh);
	sh.o = o;
	atomic_init(&sh.started, 0);
	atomic_init(&sh.ok, 0);
	atomic_init(&sh.errors, 0);
	atomic_init(&sh.connected, 0);
	if (pthread_mutex_init(&sh.lock, NULL) != 0) {
		diag("pthread_mutex_init failed");
		return 2;
	}
	ts = calloc((size_t)o->parallel, sizeof *ts);
	if (ts == NULL) {
		diag("out of memory");
		pthread_mutex_destroy(&sh.lock);
		return 2;
	}
	t0 = now_ns();
	sh.end_ns = t0 + o->duration_ns;
	for (long i = 0; i < o->parallel; i++) {
		int e;

		ts[i].sh = &sh;
		e = pthread_create(&ts[i].tid, NULL, sess_main, &ts[i]);
		if (e != 0) {
			diag("pthread_create: %s", strerror(e));
			break;
		}
		ts[i].created = true;
	}
	for (long i = 0; i < o->parallel; i++) {
		if (ts[i].created) {
			pthread_join(ts[i].tid, NULL);
			nall += ts[i].ndur;
		}
	}
	secs = (double)(now_ns() - t0) / (double)NS_PER_SEC;

	if (nall > 0)
		all = malloc(nall * sizeof *all);
	for (long i = 0; i < o->parallel; i++) {
		if (all != NULL && ts[i].ndur > 0) {
			memcpy(all + k, ts[i].dur, ts[i].ndur * sizeof *all);
			k += ts[i].ndur;
		}
		free(ts[i].dur);
	}
	free(ts);
	stats_of(all, k, &st);
	free(all);

	ok = atomic_load(&sh.ok);
	errors = atomic_load(&sh.errors);
	connected = atomic_load(&sh.connected);
	printf("{\"mode\":\"sessions\",\"proto\":\"%s\",\"parallel\":%ld,"
	       "\"sessions\":%ld,\"errors\":%ld,\"seconds\":%.3f,"
	       "\"rate\":%.1f,\"median_ms\":%.3f,\"p99_ms\":%.3f",
	       o->epsv ? "epsv" : "pasv", o->parallel, ok, errors, secs,
	       secs > 0 ? (double)ok / secs : 0.0,
	       st.median / (double)NS_PER_MS, st.p99 / (double)NS_PER_MS);
	if (errors > 0) {
		fputs(",\"first_error\":", stdout);
		json_str(sh.first_error);
	}
	puts("}");
	pthread_mutex_destroy(&sh.lock);
	if (connected == 0 && errors > 0)
		return 2;
	return errors > 0 ? 1 : 0;
}

/* ---------------------------------------------------------- latency */

static int run_latency(const struct opts *o)
{
	static const char noop[] = "NOOP\r\n";
	const char *cmdname = o->cmd_port ? "port" : "noop";
	struct ctl *c = calloc(1, sizeof *c);
	int64_t *samples = malloc((size_t)o->count * sizeof *samples);
	size_t ns = 0;
	long errors = 0, total = o->warmup + o->count;
	unsigned pctr = 0;
	bool connected = false, broken = true;
	struct portgen pg;
	struct stats st;

	if (c == NULL || samples == NULL) {
		diag("out of memory");
		free(c);
		free(samples);
		return 2;
	}
	if (ctl_open(c, o) < 0) {
		connected = c->fd >= 0;
		goto fail;
	}
	connected = true;
	if (ctl_login(c, o->user, o->pass) < 0)
		goto fail;
	if ((o->port_first || o->cmd_port) && portgen_init(&pg, c->fd) < 0) {
		ctl_fail(c, "port", "local address: %s", strerror(errno));
		goto fail;
	}
	if (o->port_first) {
		char line[FL_CMD_MAX];
		size_t len = portgen_line(&pg, PORT_BASE, line, sizeof line);
		int code;

		if (ctl_send(c, "port-first", line, len) < 0)
			goto fail;
		code = ctl_reply(c, "port-first");
		if (code < 0)
			goto fail;
		if (code / 100 != 2) {
			ctl_bad(c, "port-first");
			errors++;
			diag_error(c->err);
		}
	}
	broken = false;
	for (long i = 0; i < total && errors < LAT_MAX_ERRORS; i++) {
		char line[FL_CMD_MAX];
		const char *cmd = noop;
		size_t len = sizeof noop - 1;
		int64_t t0;
		int code;

		if (o->cmd_port) {
			len = portgen_line(&pg, PORT_BASE + pctr++ % PORT_SPAN,
					   line, sizeof line);
			cmd = line;
		}
		t0 = now_ns();
		if (ctl_send(c, "exchange", cmd, len) < 0 ||
		    (code = ctl_reply(c, "exchange")) < 0) {
			broken = true;
			break;
		}
		if (code / 100 != 2) {
			errors++;
			ctl_bad(c, "exchange");
			diag_error(c->err);
			continue;
		}
		if (i >= o->warmup)
			samples[ns++] = now_ns() - t0;
	}
	if (!broken) {
		int code = -1;

		if (ctl_cmd(c, "quit", "QUIT") == 0) {
			code = ctl_reply(c, "quit");
			if (code >= 0 && code != 221)
				ctl_bad(c, "quit");
		}
		if (code != 221)
			broken = true;
	}
fail:
	if (broken) {
		errors++;
		diag_error(c->err);
	}
	ctl_close(c);
	free(c);
	stats_of(samples, ns, &st);
	free(samples);
	printf("{\"mode\":\"latency\",\"cmd\":\"%s\",\"count\":%zu,"
	       "\"min_us\":%.1f,\"median_us\":%.1f,\"p99_us\":%.1f,"
	       "\"max_us\":%.1f,\"mean_us\":%.1f,\"errors\":%ld}\n",
	       cmdname, ns, st.min / 1e3, st.median / 1e3, st.p99 / 1e3,
	       st.max / 1e3, st.mean / 1e3, errors);
	if (!connected)
		return 2;
	return errors > 0 ? 1 : 0;
}

/* ------------------------------------------------------------ flood */

enum fstate { FS_CONNECTING, FS_GREET, FS_USER, FS_PASS, FS_READY, FS_RUN,
	      FS_DEAD };

struct fconn {
	int fd;
	enum fstate state;
	long outstanding;
	unsigned pctr;
	bool out_armed;
	size_t outoff, outlen, outcap;
	int64_t deadline;
	char *out;
	struct portgen pg;
	struct rrd rd;
};

struct flood_shared {
	const struct opts *o;
	pthread_barrier_t ready;   /* every thread has logged its share in */
	pthread_barrier_t go;      /* start_ns and end_ns are set */
	int64_t start_ns, end_ns;
};

struct fthread {
	pthread_t tid;
	struct flood_shared *sh;
	long n;                    /* its share of --conns */
	int ep;
	struct fconn *conns;
	long unsettled;            /* not yet logged in nor failed */
	unsigned long long replies;
	long errors, connected;
	int64_t stop_ns;
};

static const char *const fstate_name[] = {
	"connect", "greeting", "user", "pass", "ready", "run", "dead"
};

__attribute__((format(printf, 3, 4)))
static void fl_fail(struct fthread *t, struct fconn *c, const char *fmt, ...)
{
	char msg[200], line[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof line, "flood connection failed at %s: %s",
		 fstate_name[c->state], msg);
	diag_error(line);
	t->errors++;
	if (c->state < FS_READY)
		t->unsettled--;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = FS_DEAD;
}

static int fl_set_events(struct fthread *t, struct fconn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0),
				  .data.ptr = c };

	if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		fl_fail(t, c, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	c->out_armed = out;
	return 0;
}

/* Flushes queued output; -1 if the connection failed. */
static int fl_flush(struct fthread *t, struct fconn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff,
				 c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		fl_fail(t, c, "send: %s", strerror(errno));
		return -1;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if ((c->outlen > 0) != c->out_armed)
		return fl_set_events(t, c, c->outlen > 0);
	return 0;
}

/* One send() per line; what does not fit in the socket is queued. */
static int fl_send(struct fthread *t, struct fconn *c, const char *buf,
		   size_t len)
{
	if (c->outlen == 0) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n == (ssize_t)len)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			fl_fail(t, c, "send: %s", strerror(errno));
			return -1;
		}
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		}
	}
	if (c->outcap - c->outlen < len && c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outcap - c->outlen < len) {
		fl_fail(t, c, "output buffer full");
		return -1;
	}
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
	return c->out_armed ? 0 : fl_set_events(t, c, true);
}

static int fl_login_cmd(struct fthread *t, struct fconn *c, const char *verb,
			const char *arg)
{
	char line[CMD_MAX];
	int n = snprintf(line, sizeof line, "%s %s\r\n", verb, arg);

	if (n < 0 || (size_t)n >= sizeof line) {
		fl_fail(t, c, "command too long");
		return -1;
	}
	return fl_send(t, c, line, (size_t)n);
}

static int fl_command(struct fthread *t, struct fconn *c)
{
	static const char noop[] = "NOOP\r\n";

	if (!t->sh->o->cmd_port) {
		if (fl_send(t, c, noop, sizeof noop - 1) < 0)
			return -1;
	} else {
		char line[FL_CMD_MAX];
		size_t len = portgen_line(&c->pg,
					  PORT_BASE + c->pctr++ % PORT_SPAN,
					  line, sizeof line);

		if (len == 0 || fl_send(t, c, line, len) < 0)
			return -1;
	}
	c->outstanding++;
	return 0;
}

static void fl_reply(struct fthread *t, struct fconn *c, int64_t now)
{
	const struct opts *o = t->sh->o;
	int code = c->rd.code;
	char txt[100];

	c->deadline = now + o->timeout_ms * NS_PER_MS;
	switch (c->state) {
	case FS_GREET:
		if (code / 100 == 1)
			return;
		if (code != 220)
			break;
		if (fl_login_cmd(t, c, "USER", o->user) == 0)
			c->state = FS_USER;
		return;
	case FS_USER:
		if (code == 230) {
			c->state = FS_READY;
			t->unsettled--;
			return;
		}
		if (code != 331)
			break;
		if (fl_login_cmd(t, c, "PASS", o->pass) == 0)
			c->state = FS_PASS;
		return;
	case FS_PASS:
		if (code != 230)
			break;
		c->state = FS_READY;
		t->unsettled--;
		return;
	case FS_RUN:
		if (code / 100 != 2 || c->outstanding <= 0)
			break;
		c->outstanding--;
		t->replies++;
		fl_command(t, c);
		return;
	default:
		break;
	}
	clean(txt, sizeof txt, c->rd.text);
	fl_fail(t, c, "unexpected reply \"%s\"", txt);
}

static void fl_event(struct fthread *t, struct fconn *c, uint32_t events,
		     int64_t now)
{
	ssize_t n;

	if (c->state == FS_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof soerr;

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr != 0) {
			fl_fail(t, c, "%s", strerror(soerr));
			return;
		}
		if (portgen_init(&c->pg, c->fd) < 0) {
			fl_fail(t, c, "local address: %s", strerror(errno));
			return;
		}
		t->connected++;
		c->state = FS_GREET;
		c->deadline = now + t->sh->o->timeout_ms * NS_PER_MS;
		fl_set_events(t, c, false);
		return;
	}
	if ((events & EPOLLOUT) && fl_flush(t, c) < 0)
		return;
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	n = rrd_fill(&c->rd, c->fd);
	if (n == 0) {
		fl_fail(t, c, "connection closed");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			fl_fail(t, c, "recv: %s", strerror(errno));
		return;
	}
	while (c->state != FS_DEAD) {
		const char *why = NULL;
		int r = rrd_next(&c->rd, &why);

		if (r == 0)
			break;
		if (r < 0) {
			fl_fail(t, c, "%s", why);
			break;
		}
		fl_reply(t, c, now);
	}
}

/* Fails connections that made no progress within the timeout. */
static void fl_sweep(struct fthread *t, int64_t now)
{
	for (long i = 0; i < t->n; i++) {
		struct fconn *c = &t->conns[i];
		bool waiting = c->state < FS_READY ||
			       (c->state == FS_RUN && c->outstanding > 0);

		if (waiting && now >= c->deadline)
			fl_fail(t, c, "timed out");
	}
}

static void fl_start(struct fthread *t, struct fconn *c, int64_t now)
{
	const struct opts *o = t->sh->o;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	c->state = FS_CONNECTING;
	c->deadline = now + o->timeout_ms * NS_PER_MS;
	c->fd = socket(o->addr.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fl_fail(t, c, "socket: %s", strerror(errno));
		return;
	}
	set_nodelay(c->fd);
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) < 0 &&
	    errno != EINPROGRESS) {
		fl_fail(t, c, "%s", strerror(errno));
		return;
	}
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		fl_fail(t, c, "epoll_ctl: %s", strerror(errno));
}

/* Connects and logs in this thread's share; bounded by the timeouts. */
static void fl_login_phase(struct fthread *t)
{
	const struct opts *o = t->sh->o;
	int64_t now = now_ns(), next_sweep = now + SWEEP_NS;

	t->unsettled = t->n;
	for (long i = 0; i < t->n; i++) {
		struct fconn *c = &t->conns[i];

		c->fd = -1;
		c->outcap = (size_t)o->depth * FL_CMD_MAX + CMD_MAX;
		c->out = malloc(c->outcap);
		rrd_reset(&c->rd);
		if (c->out == NULL) {
			c->state = FS_CONNECTING;
			fl_fail(t, c, "out of memory");
			continue;
		}
		fl_start(t, c, now);
	}
	while (t->unsettled > 0) {
		struct epoll_event evs[MAX_EVENTS];
		int n = epoll_wait(t->ep, evs, MAX_EVENTS, 100);

		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct fconn *c = evs[i].data.ptr;

			if (c->state != FS_DEAD)
				fl_event(t, c, evs[i].events, now);
		}
		if (now >= next_sweep) {
			fl_sweep(t, now);
			next_sweep = now + SWEEP_NS;
		}
	}
}

static void fl_run_phase(struct fthread *t)
{
	const struct opts *o = t->sh->o;
	int64_t end = t->sh->end_ns, now = now_ns();
	int64_t next_sweep = now + SWEEP_NS;

	for (long i = 0; i < t->n; i++) {
		struct fconn *c = &t->conns[i];

		if (c->state != FS_READY)
			continue;
		c->state = FS_RUN;
		c->deadline = now + o->timeout_ms * NS_PER_MS;
		for (long d = 0; d < o->depth && c->state == FS_RUN; d++)
			fl_command(t, c);
	}
	for (;;) {
		struct epoll_event evs[MAX_EVENTS];
		int ms, n;

		now = now_ns();
		if (now >= end)
			break;
		ms = ms_until(end);
		n = epoll_wait(t->ep, evs, MAX_EVENTS, ms < 100 ? ms : 100);
		now = now_ns();
		if (now >= end)
			break;
		for (int i = 0; i < n; i++) {
			struct fconn *c = evs[i].data.ptr;

			if (c->state != FS_DEAD)
				fl_event(t, c, evs[i].events, now);
		}
		if (now >= next_sweep) {
			fl_sweep(t, now);
			next_sweep = now + SWEEP_NS;
		}
	}
	t->stop_ns = now;
}

static void *fl_main(void *arg)
{
	struct fthread *t = arg;
	struct flood_shared *sh = t->sh;

	t->ep = epoll_create1(EPOLL_CLOEXEC);
	t->conns = calloc((size_t)(t->n > 0 ? t->n : 1), sizeof *t->conns);
	if (t->ep < 0 || t->conns == NULL) {
		diag("thread setup: %s", strerror(errno));
		t->errors += t->n;
		t->n = 0;
	} else {
		fl_login_phase(t);
	}
	pthread_barrier_wait(&sh->ready);
	pthread_barrier_wait(&sh->go);
	if (t->n > 0)
		fl_run_phase(t);
	else
		t->stop_ns = now_ns();
	for (long i = 0; i < t->n; i++) {
		if (t->conns[i].fd >= 0)
			close(t->conns[i].fd);
		free(t->conns[i].out);
	}
	free(t->conns);
	if (t->ep >= 0)
		close(t->ep);
	return NULL;
}

static int run_flood(const struct opts *o)
{
	struct flood_shared sh;
	struct fthread *ts;
	unsigned long long replies = 0;
	long errors = 0, connected = 0;
	int64_t stop = 0;
	double secs;

	raise_nofile();
	memset(&sh, 0, sizeof sh);
	sh.o = o;
	ts = calloc((size_t)o->threads, sizeof *ts);
	if (ts == NULL) {
		diag("out of memory");
		return 2;
	}
	if (pthread_barrier_init(&sh.ready, NULL,
				 (unsigned)o->threads + 1) != 0 ||
	    pthread_barrier_init(&sh.go, NULL, (unsigned)o->threads + 1) != 0) {
		diag("pthread_barrier_init failed");
		free(ts);
		return 2;
	}
	for (long i = 0; i < o->threads; i++) {
		int e;

		ts[i].sh = &sh;
		ts[i].ep = -1;
		ts[i].n = o->conns / o->threads + (i < o->conns % o->threads);
		e = pthread_create(&ts[i].tid, NULL, fl_main, &ts[i]);
		if (e != 0) {
			/* the others wait at a barrier sized for all */
			diag("pthread_create: %s", strerror(e));
			exit(2);
		}
	}
	pthread_barrier_wait(&sh.ready);
	sh.start_ns = now_ns();
	sh.end_ns = sh.start_ns + o->duration_ns;
	pthread_barrier_wait(&sh.go);
	for (long i = 0; i < o->threads; i++) {
		pthread_join(ts[i].tid, NULL);
		replies += ts[i].replies;
		errors += ts[i].errors;
		connected += ts[i].connected;
		if (ts[i].stop_ns > stop)
			stop = ts[i].stop_ns;
	}
	free(ts);
	pthread_barrier_destroy(&sh.ready);
	pthread_barrier_destroy(&sh.go);
	secs = (double)(stop - sh.start_ns) / (double)NS_PER_SEC;
	printf("{\"mode\":\"flood\",\"cmd\":\"%s\",\"conns\":%ld,\"depth\":%ld,"
	       "\"replies\":%llu,\"seconds\":%.3f,\"rate\":%.1f,"
	       "\"errors\":%ld}\n",
	       o->cmd_port ? "port" : "noop", o->conns, o->depth, replies,
	       secs, secs > 0 ? (double)replies / secs : 0.0, errors);
	if (connected == 0)
		return 2;
	return errors > 0 ? 1 : 0;
}

/* ---------------------------------------------------------- options */

static void usage(FILE *f)
{
	fputs("usage: ftpload serve    --listen ADDR [--port P] [--max-conns N]\n"
	      "                        [--timeout S]\n"
	      "       ftpload sessions --connect ADDR [--port P] --mode epsv|pasv\n"
	      "                        --duration S [--parallel N]\n"
	      "                        [--max-sessions M] [--user U] [--pass W]\n"
	      "                        [--list-path PATH] [--timeout S]\n"
	      "       ftpload latency  --connect ADDR [--port P] --count N\n"
	      "                        [--warmup W] [--cmd noop|port]\n"
	      "                        [--port-first] [--user U] [--pass W]\n"
	      "                        [--timeout S]\n"
	      "       ftpload flood    --connect ADDR [--port P] --conns K\n"
	      "                        --duration S [--depth D] [--threads T]\n"
	      "                        [--cmd noop|port] [--user U] [--pass W]\n"
	      "                        [--timeout S]\n"
	      "Prints one JSON object on stdout; see the comment at the top of\n"
	      "tools/bench/ftpload.c.\n", f);
}

enum {
	O_CONNECT = 256, O_LISTEN, O_PORT, O_TIMEOUT, O_MAX_CONNS, O_MODE,
	O_PARALLEL, O_DURATION, O_MAX_SESSIONS, O_USER, O_PASS, O_LIST_PATH,
	O_COUNT, O_WARMUP, O_CMD, O_PORT_FIRST, O_CONNS, O_DEPTH, O_THREADS,
	O_HELP
};

static const struct option long_opts[] = {
	{ "connect", required_argument, NULL, O_CONNECT },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "port", required_argument, NULL, O_PORT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "max-conns", required_argument, NULL, O_MAX_CONNS },
	{ "mode", required_argument, NULL, O_MODE },
	{ "parallel", required_argument, NULL, O_PARALLEL },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "max-sessions", required_argument, NULL, O_MAX_SESSIONS },
	{ "user", required_argument, NULL, O_USER },
	{ "pass", required_argument, NULL, O_PASS },
	{ "list-path", required_argument, NULL, O_LIST_PATH },
	{ "count", required_argument, NULL, O_COUNT },
	{ "warmup", required_argument, NULL, O_WARMUP },
	{ "cmd", required_argument, NULL, O_CMD },
	{ "port-first", no_argument, NULL, O_PORT_FIRST },
	{ "conns", required_argument, NULL, O_CONNS },
	{ "depth", required_argument, NULL, O_DEPTH },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

/* The modes each option belongs to. */
static int opt_modes(int id)
{
	const int client = M_SESSIONS | M_LATENCY | M_FLOOD;

	switch (id) {
	case O_CONNECT:      return client;
	case O_LISTEN:       return M_SERVE;
	case O_MAX_CONNS:    return M_SERVE;
	case O_MODE:         return M_SESSIONS;
	case O_PARALLEL:     return M_SESSIONS;
	case O_MAX_SESSIONS: return M_SESSIONS;
	case O_LIST_PATH:    return M_SESSIONS;
	case O_DURATION:     return M_SESSIONS | M_FLOOD;
	case O_USER:         return client;
	case O_PASS:         return client;
	case O_COUNT:        return M_LATENCY;
	case O_WARMUP:       return M_LATENCY;
	case O_PORT_FIRST:   return M_LATENCY;
	case O_CMD:          return M_LATENCY | M_FLOOD;
	case O_CONNS:        return M_FLOOD;
	case O_DEPTH:        return M_FLOOD;
	case O_THREADS:      return M_FLOOD;
	default:             return M_SERVE | client;
	}
}

static bool num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Seconds in (0, hi], as nanoseconds. */
static bool secs_ns(const char *s, double hi, int64_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > hi)
		return false;
	*out = (int64_t)(v * (double)NS_PER_SEC);
	return *out > 0;
}

static bool text_ok(const char *s)
{
	return strlen(s) <= TEXT_MAX && strpbrk(s, "\r\n") == NULL;
}

static bool parse_addr(const char *s, long port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct addrinfo hints, *res = NULL;
	char ps[16];
	bool ok = false;

	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof ps, "%ld", port);
	if (getaddrinfo(s, ps, &hints, &res) != 0 || res == NULL)
		return false;
	if (res->ai_addrlen <= sizeof *ss &&
	    (res->ai_family == AF_INET || res->ai_family == AF_INET6)) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		ok = true;
	}
	freeaddrinfo(res);
	return ok;
}

/* 0 ok, 1 --help, -1 bad usage (said why). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	const char *mode = argv[0];
	int64_t ns;
	bool have_dur = false, have_count = false, have_conns = false;
	int opt, li = -1;

	memset(o, 0, sizeof *o);
	o->port = 21;
	o->timeout_ms = 5000;
	o->parallel = 1;
	o->user = "anonymous";
	o->pass = "bench@";
	o->list_path = "/pub/listdir";
	o->warmup = 100;
	o->depth = 8;
	o->threads = 1;
	o->max_conns = 4096;
	o->mode_name = mode;
	if (strcmp(mode, "serve") == 0)
		o->mode = M_SERVE;
	else if (strcmp(mode, "sessions") == 0)
		o->mode = M_SESSIONS;
	else if (strcmp(mode, "latency") == 0)
		o->mode = M_LATENCY;
	else if (strcmp(mode, "flood") == 0)
		o->mode = M_FLOOD;
	else if (strcmp(mode, "--help") == 0 || strcmp(mode, "-h") == 0)
		return 1;
	else {
		diag("unknown mode '%s'", mode);
		return -1;
	}

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", long_opts, &li)) != -1) {
		const char *a = optarg;
		const char *name = li >= 0 ? long_opts[li].name : "?";
		bool ok = true;

		if (opt == '?' || opt == ':') {
			diag("%s: %s '%s'", mode,
			     opt == ':' ? "missing argument for" :
			     "unknown option", argv[optind - 1]);
			return -1;
		}
		if (opt == O_HELP)
			return 1;
		if (!(opt_modes(opt) & (int)o->mode)) {
			diag("%s: option --%s does not apply", mode, name);
			return -1;
		}
		switch (opt) {
		case O_CONNECT:
		case O_LISTEN:
			o->host = a;
			break;
		case O_PORT:
			ok = num(a, o->mode == M_SERVE ? 0 : 1, 65535, &o->port);
			break;
		case O_TIMEOUT:
			ok = secs_ns(a, 3600, &ns);
			o->timeout_ms = (int)((ns + NS_PER_MS - 1) / NS_PER_MS);
			break;
		case O_MAX_CONNS:
			ok = num(a, 1, 1000000, &o->max_conns);
			break;
		case O_MODE:
			ok = strcmp(a, "epsv") == 0 || strcmp(a, "pasv") == 0;
			o->epsv = strcmp(a, "epsv") == 0;
			o->proto_set = true;
			break;
		case O_PARALLEL:
			ok = num(a, 1, 1024, &o->parallel);
			break;
		case O_DURATION:
			ok = secs_ns(a, 86400, &o->duration_ns);
			have_dur = true;
			break;
		case O_MAX_SESSIONS:
			ok = num(a, 1, LONG_MAX / 2, &o->max_sessions);
			break;
		case O_USER:
			ok = text_ok(a);
			o->user = a;
			break;
		case O_PASS:
			ok = text_ok(a);
			o->pass = a;
			break;
		case O_LIST_PATH:
			ok = text_ok(a);
			o->list_path = a;
			break;
		case O_COUNT:
			ok = num(a, 1, 10000000, &o->count);
			have_count = true;
			break;
		case O_WARMUP:
			ok = num(a, 0, 10000000, &o->warmup);
			break;
		case O_CMD:
			ok = strcmp(a, "noop") == 0 || strcmp(a, "port") == 0;
			o->cmd_port = strcmp(a, "port") == 0;
			break;
		case O_PORT_FIRST:
			o->port_first = true;
			break;
		case O_CONNS:
			ok = num(a, 1, 100000, &o->conns);
			have_conns = true;
			break;
		case O_DEPTH:
			ok = num(a, 1, 1024, &o->depth);
			break;
		case O_THREADS:
			ok = num(a, 1, 256, &o->threads);
			break;
		default:
			ok = false;
			break;
		}
		li = -1;
		if (!ok) {
			diag("%s: bad value '%s' for --%s", mode, a ? a : "",
			     name);
			return -1;
		}
	}
	if (optind < argc) {
		diag("%s: unexpected argument '%s'", mode, argv[optind]);
		return -1;
	}
	if (o->host == NULL) {
		diag("%s: %s is required", mode,
		     o->mode == M_SERVE ? "--listen" : "--connect");
		return -1;
	}
	if (!parse_addr(o->host, o->port, &o->addr, &o->addrlen)) {
		diag("%s: '%s' is not a numeric IPv4 or IPv6 address", mode,
		     o->host);
		return -1;
	}
	if (o->mode == M_SESSIONS && !o->proto_set) {
		diag("sessions: --mode epsv|pasv is required");
		return -1;
	}
	if ((o->mode == M_SESSIONS || o->mode == M_FLOOD) && !have_dur) {
		diag("%s: --duration is required", mode);
		return -1;
	}
	if (o->mode == M_LATENCY && !have_count) {
		diag("latency: --count is required");
		return -1;
	}
	if (o->mode == M_FLOOD && !have_conns) {
		diag("flood: --conns is required");
		return -1;
	}
	if (o->mode == M_FLOOD && o->threads > o->conns)
		o->threads = o->conns;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	int r;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	r = parse_opts(argc - 1, argv + 1, &o);
	if (r > 0) {
		usage(stdout);
		return 0;
	}
	if (r < 0) {
		diag("usage: see ftpload --help");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	atomic_init(&g_diags, 0);
	switch (o.mode) {
	case M_SERVE:
		r = run_serve(&o);
		break;
	case M_SESSIONS:
		r = run_sessions(&o);
		break;
	case M_LATENCY:
		r = run_latency(&o);
		break;
	default:
		r = run_flood(&o);
		break;
	}
	fflush(stdout);
	return r;
}
