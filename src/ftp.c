/*
 * ftp.c - the FTP protocol core (see include/ftp.h for the contract).
 *
 * Each direction is parsed one byte at a time by a small state machine;
 * nothing but a bounded token (a verb, an address argument, a candidate
 * tuple) is kept. Lines nobody needs to edit are skipped with memchr.
 */
#include "ftp.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* direction modes */
enum { M_LINE = 0, M_TLS };

/* phases */
enum {
	P_START = 0,   /* line start: leading blanks (client), code (server) */
	P_VERB,        /* client: command letters */
	P_ARGLEAD,     /* client: blanks before the argument */
	P_ARG,         /* client: argument bytes into tok */
	P_CODE,        /* server: reply code digits */
	P_TEXT,        /* server: reply text, scanned for an address */
	P_SKIP,        /* nothing to learn until the line ends */
};

/* per-line flags (d->flags) */
#define LF_CR        0x01u /* the previous byte was CR */
#define LF_CONTENT   0x02u /* a non-blank byte was seen */
#define LF_IAC_IN    0x04u /* a Telnet command after the content started */
#define LF_BADBYTE   0x08u /* NUL, or a control byte inside an argument */
#define LF_TOK_OVER  0x10u /* the token did not fit */
#define LF_OVERLONG  0x20u /* longer than max-line (already reported) */
#define LF_TERM      0x40u /* server: this line ends a multi-line reply */
#define LF_COLLECT   0x80u /* server: collecting a candidate into tok */

/* session state bits (s->state) */
#define ST_GREETED   0x01u /* the server's 220 was seen */
#define ST_CFIRST    0x02u /* the client spoke before the greeting */
#define ST_LENIENT   0x04u /* replies need not match tracked commands */
#define ST_EPSV_ALL  0x08u
#define ST_MIDSTREAM 0x20u

#define TLS_REC_MAX (16384u + 2048u)

/* a pending EPSV that was EPSV ALL (takes effect on its 2xx) */
#define PEND_EPSV_ALL 0x80u

static const char *const cmd_names[FTP_CMD__COUNT] = {
	[FTP_CMD_NONE] = "", [FTP_CMD_OTHER] = "OTHER",
	[FTP_CMD_PORT] = "PORT", [FTP_CMD_EPRT] = "EPRT",
	[FTP_CMD_LPRT] = "LPRT", [FTP_CMD_PASV] = "PASV",
	[FTP_CMD_EPSV] = "EPSV", [FTP_CMD_LPSV] = "LPSV",
	[FTP_CMD_AUTH] = "AUTH", [FTP_CMD_PBSZ] = "PBSZ",
	[FTP_CMD_PROT] = "PROT", [FTP_CMD_CCC] = "CCC",
	[FTP_CMD_REIN] = "REIN", [FTP_CMD_QUIT] = "QUIT",
	[FTP_CMD_USER] = "USER", [FTP_CMD_PASS] = "PASS",
	[FTP_CMD_ABOR] = "ABOR",
};

static const char *const reason_names[FTP_R__COUNT] = {
	[FTP_R_NONE] = "none", [FTP_R_MALFORMED] = "malformed",
	[FTP_R_OVERLONG] = "overlong", [FTP_R_BOUNCE] = "bounce",
	[FTP_R_FOREIGN_PASV] = "foreign-pasv", [FTP_R_LOW_PORT] = "low-port",
	[FTP_R_PORT_RANGE] = "port-range", [FTP_R_PORT_ZERO] = "port-zero",
	[FTP_R_BAD_ADDR] = "bad-address", [FTP_R_FAMILY] = "family",
	[FTP_R_LPRT] = "lprt", [FTP_R_UNSOLICITED] = "unsolicited",
	[FTP_R_NO_GREETING] = "no-greeting", [FTP_R_EPSV_ALL] = "epsv-all",
	[FTP_R_BAD_REPLY] = "bad-reply", [FTP_R_TLS] = "tls",
	[FTP_R_TLS_END] = "tls-end", [FTP_R_PINHOLE] = "pinhole",
};

const char *ftp_cmd_str(enum ftp_cmd c)
{
	return (unsigned)c < FTP_CMD__COUNT ? cmd_names[c] : "?";
}

const char *ftp_reason_str(enum ftp_reason r)
{
	return (unsigned)r < FTP_R__COUNT ? reason_names[r] : "?";
}

const char *ftp_verdict_str(enum ftp_verdict v)
{
	switch (v) {
	case FTP_V_PASS: return "pass";
	case FTP_V_REWRITE: return "rewrite";
	case FTP_V_REJECT: return "reject";
	case FTP_V_RESET: return "reset";
	}
	return "?";
}

/* ---- addresses ------------------------------------------------------ */

bool ftp_addr_eq(const struct ftp_addr *x, const struct ftp_addr *y)
{
	if (x->family != y->family || x->family == 0)
		return false;
	return memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

/* v (0-255) in decimal at o; returns the digits written (1-3) */
static size_t put_u8(char *o, unsigned v)
{
	size_t n = 0;

	if (v >= 100)
		o[n++] = (char)('0' + v / 100);
	if (v >= 10)
		o[n++] = (char)('0' + v / 10 % 10);
	o[n++] = (char)('0' + v % 10);
	return n;
}

const char *ftp_addr_str(const struct ftp_addr *a, char *out, size_t len)
{
	if (len == 0)
		return out;
	out[0] = '\0';
	if (a->family == 4 && len >= 16) {
		/* by hand: every rewrite logs two of these */
		size_t n = 0;
		for (int i = 0; i < 4; i++) {
			if (i)
				out[n++] = '.';
			n += put_u8(out + n, a->a[i]);
		}
		out[n] = '\0';
	} else if (a->family == 4)
		inet_ntop(AF_INET, a->a, out, (socklen_t)len);
	else if (a->family == 6)
		inet_ntop(AF_INET6, a->a, out, (socklen_t)len);
	return out;
}

int ftp_addr_parse(struct ftp_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = 6;
		return 0;
	}
	return -1;
}

/*
 * SECURITY: addresses that no data connection through a gateway should
 * name unless they are the peer's own: unspecified, loopback, multicast,
 * broadcast and reserved, link-local, and IPv4-mapped IPv6.
 */
static bool addr_special(const struct ftp_addr *a)
{
	const uint8_t *b = a->a;

	if (a->family == 4)
		return b[0] == 0 || b[0] == 127 || b[0] >= 224 ||
		       (b[0] == 169 && b[1] == 254);
	static const uint8_t zero[16];
	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
		return true;                       /* :: and ::1 */
	if (b[0] == 0xff)
		return true;                       /* multicast */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return true;                       /* fe80::/10 */
	if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
		return true;                       /* ::ffff:0:0/96 */
	return false;
}

/* Parse "d", "dd" or "ddd" (value <= max) starting at s[*i]. */
static int num(const char *s, size_t n, size_t *i, unsigned max,
               unsigned ndig, unsigned *out)
{
	unsigned v = 0, k = 0;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		if (++k > ndig)
			return -1;
		v = v * 10 + (unsigned)(s[*i] - '0');
		(*i)++;
	}
	if (k == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* n comma-separated bytes; returns 0 if exactly the whole string. */
static int bytes_list(const char *s, size_t n, unsigned *v, unsigned cnt)
{
	size_t i = 0;

	for (unsigned k = 0; k < cnt; k++) {
		if (k > 0) {
			if (i >= n || s[i] != ',')
				return -1;
			i++;
		}
		if (num(s, n, &i, 255, 3, &v[k]) < 0)
			return -1;
	}
	return i == n ? 0 : -1;
}

int ftp_parse_tuple(const char *s, size_t n, struct ftp_addr *a,
                    uint16_t *port)
{
	unsigned v[6];

	if (bytes_list(s, n, v, 6) < 0)
		return -1;
	memset(a, 0, sizeof(*a));
	a->family = 4;
	for (int k = 0; k < 4; k++)
		a->a[k] = (uint8_t)v[k];
	*port = (uint16_t)(v[4] << 8 | v[5]);
	return 0;
}

int ftp_parse_long(const char *s, size_t n, struct ftp_addr *a,
                   uint16_t *port)
{
	unsigned v[2 + 16 + 1 + 2];
	size_t i = 0;
	unsigned af, hal;

	if (num(s, n, &i, 255, 3, &af) < 0 || i >= n || s[i] != ',')
		return -1;
	i++;
	if (num(s, n, &i, 255, 3, &hal) < 0 || i >= n || s[i] != ',')
		return -1;
	i++;
	if (!((af == 4 && hal == 4) || (af == 6 && hal == 16)))
		return -1;
	/* host bytes, port length, port bytes */
	if (bytes_list(s + i, n - i, v, hal + 3) < 0 || v[hal] != 2)
		return -1;
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)af;
	for (unsigned k = 0; k < hal; k++)
		a->a[k] = (uint8_t)v[k];
	*port = (uint16_t)(v[hal + 1] << 8 | v[hal + 2]);
	return 0;
}

static bool delim_ok(char c)
{
	return c >= 33 && c <= 126 && !(c >= '0' && c <= '9');
}

/* Returns 0, -1 malformed, -2 an unknown network protocol. */
int ftp_parse_ext(const char *s, size_t n, struct ftp_addr *a,
                  uint16_t *port, char *delim)
{
	char txt[INET6_ADDRSTRLEN];
	size_t i = 1, j;
	unsigned proto, p;
	char d;

	if (n < 7 || !delim_ok(s[0]))
		return -1;
	d = s[0];
	if (num(s, n, &i, 65535, 5, &proto) < 0 || i >= n || s[i] != d)
		return -1;
	i++;
	for (j = i; j < n && s[j] != d; j++)
		;
	if (j >= n || j - i == 0 || j - i >= sizeof(txt))
		return -1;
	memcpy(txt, s + i, j - i);
	txt[j - i] = '\0';
	i = j + 1;
	if (num(s, n, &i, 65535, 5, &p) < 0 || i + 1 != n || s[i] != d)
		return -1;
	if (proto != 1 && proto != 2)
		return -2;
	memset(a, 0, sizeof(*a));
	if (inet_pton(proto == 1 ? AF_INET : AF_INET6, txt, a->a) != 1)
		return -1;
	a->family = proto == 1 ? 4 : 6;
	*port = (uint16_t)p;
	*delim = d;
	return 0;
}

int ftp_parse_extport(const char *s, size_t n, uint16_t *port, char *delim)
{
	size_t i = 3;
	unsigned p;

	if (n < 5 || !delim_ok(s[0]) || s[1] != s[0] || s[2] != s[0])
		return -1;
	if (num(s, n, &i, 65535, 5, &p) < 0 || i + 1 != n || s[i] != s[0])
		return -1;
	*port = (uint16_t)p;
	*delim = s[0];
	return 0;
}

static int fmt(size_t len, int r)
{
	return r < 0 || (size_t)r >= len ? -1 : r;
}

/* by hand, not snprintf: this runs for every rewritten PORT and 227 */
int ftp_format_tuple(char *out, size_t len, const struct ftp_addr *a,
                     uint16_t port)
{
	char t[24];             /* "255,255,255,255,255,255" */
	unsigned v[6] = { a->a[0], a->a[1], a->a[2], a->a[3],
	                  (unsigned)(port >> 8), port & 0xffu };
	size_t n = 0;

	if (a->family != 4)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (i)
			t[n++] = ',';
		n += put_u8(t + n, v[i]);
	}
	if (n + 1 > len)
		return -1;
	memcpy(out, t, n);
	out[n] = '\0';
	return (int)n;
}

int ftp_format_ext(char *out, size_t len, const struct ftp_addr *a,
                   uint16_t port, char delim)
{
	char txt[INET6_ADDRSTRLEN];

	if ((a->family != 4 && a->family != 6) || !delim_ok(delim))
		return -1;
	ftp_addr_str(a, txt, sizeof(txt));
	return fmt(len, snprintf(out, len, "%c%c%c%s%c%u%c", delim,
	                              a->family == 4 ? '1' : '2', delim, txt,
	                              delim, port, delim));
}

int ftp_format_long(char *out, size_t len, const struct ftp_addr *a,
                    uint16_t port)
{
	unsigned hal = a->family == 4 ? 4 : 16;
	size_t o;
	int r;

	if (a->family != 4 && a->family != 6)
		return -1;
	r = snprintf(out, len, "%u,%u", a->family, hal);
	if (fmt(len, r) < 0)
		return -1;
	o = (size_t)r;
	for (unsigned k = 0; k < hal; k++) {
		r = snprintf(out + o, len - o, ",%u", a->a[k]);
		if (fmt(len - o, r) < 0)
			return -1;
		o += (size_t)r;
	}
	r = snprintf(out + o, len - o, ",2,%u,%u", (unsigned)(port >> 8),
	             port & 0xffu);
	if (fmt(len - o, r) < 0)
		return -1;
	return (int)(o + (size_t)r);
}

/* ---- policy --------------------------------------------------------- */

void ftp_policy_default(struct ftp_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->max_line = FTP_LINE_DEFAULT;
	p->active_ports = (struct ftp_portrange){ 1, 65535 };
	p->passive_ports = (struct ftp_portrange){ 1, 65535 };
	p->require_greeting = true;
	p->on_violation = FTP_ACT_REJECT;
	p->on_malformed = FTP_ACT_REJECT;
	p->on_overlong = FTP_ACT_PASS;
}

__attribute__((format(printf, 3, 4)))
static int set_err(char *err, size_t errlen, const char *f, ...)
{
	if (errlen) {
		va_list ap;

		va_start(ap, f);
		vsnprintf(err, errlen, f, ap);
		va_end(ap);
	}
	return -1;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi,
                      unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int parse_range(const char *s, struct ftp_portrange *r)
{
	char buf[16];
	const char *dash = strchr(s, '-');
	unsigned long lo, hi;
	size_t n;

	if (!dash)
		return -1;
	n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (parse_uint(buf, 1, 65535, &lo) < 0 ||
	    parse_uint(dash + 1, 1, 65535, &hi) < 0 || lo > hi)
		return -1;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

static int parse_action(const char *s, unsigned allowed, uint8_t *out)
{
	static const char *const names[] = { "pass", "reject", "reset" };

	for (unsigned i = 0; i < 3; i++)
		if ((allowed & (1u << i)) && strcmp(s, names[i]) == 0) {
			*out = (uint8_t)i;
			return 0;
		}
	return -1;
}

static int parse_exc(const char *s, struct ftp_policy *p)
{
	struct ftp_policy tmp = *p;
	char buf[8];

	tmp.n_low_port_exc = 0;
	if (strcmp(s, "none") == 0 || *s == '\0') {
		p->n_low_port_exc = 0;
		return 0;
	}
	while (*s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		unsigned long v;

		if (n == 0 || n >= sizeof(buf) ||
		    tmp.n_low_port_exc >= FTP_LOWPORT_EXC_MAX)
			return -1;
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (parse_uint(buf, 1, 65535, &v) < 0)
			return -1;
		tmp.low_port_exc[tmp.n_low_port_exc++] = (uint16_t)v;
		s += n;
		if (*s == ',' && *++s == '\0')
			return -1;
	}
	*p = tmp;
	return 0;
}

int ftp_policy_set(struct ftp_policy *p, const char *key, const char *value,
                   char *err, size_t errlen)
{
	bool *flag = NULL;
	unsigned long v;

	if (errlen)
		err[0] = '\0';
	if (strcmp(key, "max-line") == 0) {
		if (parse_uint(value, FTP_LINE_MIN, FTP_LINE_MAX, &v) < 0)
			return set_err(err, errlen, "max-line: '%s' is not a "
			               "number from 64 to 65535", value);
		p->max_line = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "allow-fxp") == 0)
		flag = &p->allow_fxp;
	else if (strcmp(key, "allow-foreign-pasv") == 0)
		flag = &p->allow_foreign_pasv;
	else if (strcmp(key, "allow-low-ports") == 0)
		flag = &p->allow_low_ports;
	else if (strcmp(key, "allow-lprt") == 0)
		flag = &p->allow_lprt;
	else if (strcmp(key, "require-greeting") == 0)
		flag = &p->require_greeting;
	if (flag) {
		if (parse_bool(value, flag) < 0)
			return set_err(err, errlen, "'%s' is not yes or no",
			               value);
		return 0;
	}
	if (strcmp(key, "active-ports") == 0 ||
	    strcmp(key, "passive-ports") == 0) {
		struct ftp_portrange *r = key[0] == 'a' ? &p->active_ports
		                                        : &p->passive_ports;
		if (parse_range(value, r) < 0)
			return set_err(err, errlen, "'%s' is not a port range "
			               "LO-HI within 1-65535", value);
		return 0;
	}
	if (strcmp(key, "low-port-exceptions") == 0) {
		if (parse_exc(value, p) < 0)
			return set_err(err, errlen, "'%s' is not a list of up "
			               "to 8 ports (or none)", value);
		return 0;
	}
	if (strcmp(key, "on-violation") == 0) {
		if (parse_action(value, 6, &p->on_violation) < 0)
			return set_err(err, errlen, "'%s' is not reject or "
			               "reset", value);
		return 0;
	}
	if (strcmp(key, "on-malformed") == 0) {
		if (parse_action(value, 7, &p->on_malformed) < 0)
			return set_err(err, errlen, "'%s' is not pass, reject "
			               "or reset", value);
		return 0;
	}
	if (strcmp(key, "on-overlong") == 0) {
		if (parse_action(value, 5, &p->on_overlong) < 0)
			return set_err(err, errlen, "'%s' is not pass or reset",
			               value);
		return 0;
	}
	return set_err(err, errlen, "unknown policy option '%s'", key);
}

size_t ftp_policy_format(const struct ftp_policy *p, char *buf, size_t len)
{
	static const char *const act[] = { "pass", "reject", "reset" };
	char exc[FTP_LOWPORT_EXC_MAX * 6 + 8] = "none";
	size_t o = 0;
	int r;

	for (unsigned i = 0; i < p->n_low_port_exc; i++)
		o += (size_t)snprintf(exc + o, sizeof(exc) - o, "%s%u",
		                      i ? "," : "", p->low_port_exc[i]);
	r = snprintf(buf, len,
	             "max-line=%u\nallow-fxp=%s\nallow-foreign-pasv=%s\n"
	             "allow-low-ports=%s\nlow-port-exceptions=%s\n"
	             "active-ports=%u-%u\npassive-ports=%u-%u\n"
	             "allow-lprt=%s\nrequire-greeting=%s\n"
	             "on-violation=%s\non-malformed=%s\non-overlong=%s\n",
	             p->max_line, p->allow_fxp ? "yes" : "no",
	             p->allow_foreign_pasv ? "yes" : "no",
	             p->allow_low_ports ? "yes" : "no", exc,
	             p->active_ports.lo, p->active_ports.hi,
	             p->passive_ports.lo, p->passive_ports.hi,
	             p->allow_lprt ? "yes" : "no",
	             p->require_greeting ? "yes" : "no",
	             act[p->on_violation % 3], act[p->on_malformed % 3],
	             act[p->on_overlong % 3]);
	return r < 0 ? 0 : (size_t)r;
}

/* ---- session -------------------------------------------------------- */

static void line_reset(struct ftp_dirstate *d)
{
	d->line_start = d->off;
	d->line_len = 0;
	d->phase = P_START;
	d->iac = 0;
	d->flags = 0;
	d->tok_len = 0;
	d->aux = 0;
	d->code = 0;
	d->cmd = FTP_CMD_NONE;
}

void ftp_sess_init(struct ftp_sess *s, const struct ftp_policy *pol,
                   const struct ftp_endpoints *ep, unsigned flags)
{
	memset(s, 0, sizeof(*s));
	s->pol = pol;
	s->ep = *ep;
	s->flags = (uint8_t)flags;
	if (flags & FTP_SESS_MIDSTREAM)
		s->state = ST_MIDSTREAM | ST_LENIENT | ST_GREETED;
	line_reset(&s->d[0]);
	line_reset(&s->d[1]);
}

void ftp_sess_set_policy(struct ftp_sess *s, const struct ftp_policy *pol)
{
	s->pol = pol;
}

bool ftp_sess_encrypted(const struct ftp_sess *s)
{
	return s->d[0].mode == M_TLS || s->d[1].mode == M_TLS;
}

/*
 * Commands awaiting their final reply, oldest first. Past FTP_PIPELINE the
 * commands are only counted: their replies answer "something unknown", so
 * an address reply among them is refused rather than guessed at.
 */
static void pend_push(struct ftp_sess *s, uint8_t cmd)
{
	if (s->pend_n == FTP_PIPELINE || s->pend_lost) {
		if (s->pend_lost < UINT16_MAX)
			s->pend_lost++;
		return;
	}
	s->pending[(s->pend_head + s->pend_n) % FTP_PIPELINE] = cmd;
	s->pend_n++;
}

static uint8_t pend_head(const struct ftp_sess *s)
{
	if (s->pend_n)
		return s->pending[s->pend_head];
	return s->pend_lost ? FTP_CMD_OTHER : FTP_CMD_NONE;
}

static bool pend_any(const struct ftp_sess *s)
{
	return s->pend_n || s->pend_lost;
}

static uint8_t pend_pop(struct ftp_sess *s)
{
	uint8_t c;

	if (!s->pend_n) {
		if (s->pend_lost)
			s->pend_lost--;
		return s->pend_lost ? FTP_CMD_OTHER : FTP_CMD_NONE;
	}
	c = s->pending[s->pend_head];
	s->pend_head = (uint8_t)((s->pend_head + 1) % FTP_PIPELINE);
	s->pend_n--;
	return c;
}

static void ev_init(struct ftp_event *ev, const struct ftp_dirstate *d,
                    enum ftp_dir dir, uint64_t line_end)
{
	memset(ev, 0, sizeof(*ev));
	ev->dir = (uint8_t)dir;
	ev->line_start = d->line_start;
	ev->line_len = line_end - d->line_start;
}

static void ev_edit(struct ftp_event *ev, uint64_t start, uint64_t len,
                    const char *txt, size_t n)
{
	if (n > FTP_OUT_MAX)
		n = FTP_OUT_MAX;
	ev->edit_start = start;
	ev->edit_len = (uint32_t)len;
	memcpy(ev->out, txt, n);
	ev->out_len = (uint16_t)n;
}

/* Map a refusal to the configured action. */
static void refuse(struct ftp_sess *s, struct ftp_event *ev,
                   enum ftp_reason r)
{
	uint8_t act = r == FTP_R_MALFORMED ? s->pol->on_malformed
	                                   : s->pol->on_violation;

	ev->reason = (uint8_t)r;
	ev->data.mode = FTP_DATA_NONE;
	ev->out_len = 0;
	ev->edit_len = 0;
	if (act == FTP_ACT_RESET)
		ev->verdict = FTP_V_RESET;
	else if (act == FTP_ACT_REJECT)
		ev->verdict = FTP_V_REJECT;
	else
		ev->verdict = FTP_V_PASS;
}

static enum ftp_reason port_check(const struct ftp_policy *p, uint16_t port,
                                  const struct ftp_portrange *range)
{
	if (port == 0)
		return FTP_R_PORT_ZERO;
	if (port < 1024 && !p->allow_low_ports) {
		bool exc = false;
		for (unsigned i = 0; i < p->n_low_port_exc; i++)
			exc |= p->low_port_exc[i] == port;
		if (!exc)
			return FTP_R_LOW_PORT;
	}
	if (port < range->lo || port > range->hi)
		return FTP_R_PORT_RANGE;
	return FTP_R_NONE;
}

/*
 * The one place that decides about an announced address: is it the
 * announcing endpoint's own (private or public side), is its port allowed.
 * Fills the data plan and the rewrite; returns FTP_R_NONE or the refusal.
 */
static enum ftp_reason judge_addr(struct ftp_sess *s, struct ftp_event *ev,
                                  enum ftp_data_mode mode,
                                  const struct ftp_addr *a, uint16_t port)
{
	const struct ftp_policy *p = s->pol;
	const struct ftp_addr *priv = mode == FTP_DATA_ACTIVE
	                              ? &s->ep.client_priv : &s->ep.server_priv;
	const struct ftp_addr *pub = mode == FTP_DATA_ACTIVE
	                             ? &s->ep.client_pub : &s->ep.server_pub;
	bool third = !ftp_addr_eq(a, priv) && !ftp_addr_eq(a, pub);
	enum ftp_reason r;

	if (a->family != priv->family)
		return FTP_R_FAMILY;
	if (third) {
		/* SECURITY: CERT CA-97.27 (FTP bounce): a data address must
		 * be the announcing endpoint's own unless the operator
		 * allowed otherwise, and never a special address. */
		if (addr_special(a))
			return FTP_R_BAD_ADDR;
		if (mode == FTP_DATA_ACTIVE && !p->allow_fxp)
			return FTP_R_BOUNCE;
		if (mode == FTP_DATA_PASSIVE && !p->allow_foreign_pasv)
			return FTP_R_FOREIGN_PASV;
	}
	r = port_check(p, port, mode == FTP_DATA_ACTIVE ? &p->active_ports
	                                                : &p->passive_ports);
	if (r != FTP_R_NONE)
		return r;
	if (third)
		return FTP_R_NONE;     /* allowed, but not ours to open */
	ev->data.mode = (uint8_t)mode;
	ev->data.listen_addr = *priv;
	ev->data.listen_port = port;
	ev->data.pub_addr = *pub;
	ev->data.pub_port = port;
	return FTP_R_NONE;
}

/* Render the address part of a rewrite from ev->data and ev->style. */
static int render(struct ftp_event *ev)
{
	char buf[FTP_OUT_MAX];
	int n = -1;

	switch (ev->style) {
	case FTP_STYLE_TUPLE:
		n = ftp_format_tuple(buf, sizeof(buf), &ev->data.pub_addr,
		                     ev->data.pub_port);
		break;
	case FTP_STYLE_EXT:
		n = ftp_format_ext(buf, sizeof(buf), &ev->data.pub_addr,
		                   ev->data.pub_port, (char)ev->delim);
		break;
	case FTP_STYLE_EXTPORT:
		n = snprintf(buf, sizeof(buf), "%u", ev->data.pub_port);
		break;
	case FTP_STYLE_LONG:
		n = ftp_format_long(buf, sizeof(buf), &ev->data.pub_addr,
		                    ev->data.pub_port);
		break;
	default:
		break;
	}
	if (n < 0)
		return -1;
	memcpy(ev->out, buf, (size_t)n);
	ev->out_len = (uint16_t)n;
	return 0;
}

int ftp_event_refuse(struct ftp_event *ev, enum ftp_reason r)
{
	static const char cmd[] = "FTPGW-REFUSED";
	static const char *const zero[] = { "0,0,0,0,0,0", "4,4,0,0,0,0,2,0,0",
	                                    "0" };
	char txt[FTP_OUT_MAX];
	int n;

	switch (ev->ref_kind) {
	case 1:
		ev_edit(ev, ev->ref_start, ev->ref_len, cmd, sizeof(cmd) - 1);
		break;
	case 2:
		n = snprintf(txt, sizeof(txt), "502 ftpgw: passive reply refused "
		             "(%s)", ftp_reason_str(r));
		ev_edit(ev, ev->ref_start, ev->ref_len, txt, (size_t)n);
		break;
	case 3: case 4: case 5:
		ev_edit(ev, ev->ref_start, ev->ref_len, zero[ev->ref_kind - 3],
		        strlen(zero[ev->ref_kind - 3]));
		break;
	default:
		return -1;
	}
	ev->verdict = FTP_V_REJECT;
	ev->reason = (uint8_t)r;
	ev->data.mode = FTP_DATA_NONE;
	return 0;
}

int ftp_event_remap(struct ftp_event *ev, uint16_t pub_port)
{
	if (ev->data.mode == FTP_DATA_NONE || ev->style == FTP_STYLE_NONE ||
	    (ev->verdict != FTP_V_REWRITE && ev->verdict != FTP_V_PASS) ||
	    pub_port == 0)
		return -1;
	ev->data.pub_port = pub_port;
	if (render(ev) < 0)
		return -1;
	ev->verdict = FTP_V_REWRITE;
	return 0;
}

/* Make the edit that turns an accepted address into its public form. */
static void accept_addr(struct ftp_event *ev, uint64_t tok_start,
                        size_t tok_len, uint8_t style, char delim,
                        const struct ftp_addr *said, uint16_t said_port)
{
	ev->style = style;
	ev->delim = (uint8_t)delim;
	ev->edit_start = tok_start;
	ev->edit_len = (uint32_t)tok_len;
	ev->verdict = FTP_V_PASS;
	if (ev->data.mode == FTP_DATA_NONE)
		return;
	if (!ftp_addr_eq(said, &ev->data.pub_addr) ||
	    said_port != ev->data.pub_port) {
		if (render(ev) == 0)
			ev->verdict = FTP_V_REWRITE;
	}
}

/* ---- client lines --------------------------------------------------- */

#define VERB4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
                          (uint32_t)(c) << 8 | (uint32_t)(d))

/* The verb (1-4 upper-case letters) as one word: one compare per entry. */
static uint8_t classify(const char *v, size_t n)
{
	static const struct { uint32_t verb; uint8_t cmd; } tab[] = {
		{ VERB4('P', 'O', 'R', 'T'), FTP_CMD_PORT },
		{ VERB4('E', 'P', 'R', 'T'), FTP_CMD_EPRT },
		{ VERB4('L', 'P', 'R', 'T'), FTP_CMD_LPRT },
		{ VERB4('P', 'A', 'S', 'V'), FTP_CMD_PASV },
		{ VERB4('E', 'P', 'S', 'V'), FTP_CMD_EPSV },
		{ VERB4('L', 'P', 'S', 'V'), FTP_CMD_LPSV },
		{ VERB4('A', 'U', 'T', 'H'), FTP_CMD_AUTH },
		{ VERB4('P', 'B', 'S', 'Z'), FTP_CMD_PBSZ },
		{ VERB4('P', 'R', 'O', 'T'), FTP_CMD_PROT },
		{ VERB4('C', 'C', 'C', 0), FTP_CMD_CCC },
		{ VERB4('R', 'E', 'I', 'N'), FTP_CMD_REIN },
		{ VERB4('Q', 'U', 'I', 'T'), FTP_CMD_QUIT },
		{ VERB4('U', 'S', 'E', 'R'), FTP_CMD_USER },
		{ VERB4('P', 'A', 'S', 'S'), FTP_CMD_PASS },
		{ VERB4('A', 'B', 'O', 'R'), FTP_CMD_ABOR },
	};
	uint32_t w = 0;

	if (n < 3 || n > 4)
		return FTP_CMD_OTHER;
	for (size_t i = 0; i < 4; i++)
		w = w << 8 | (i < n ? (uint8_t)v[i] : 0u);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].verb == w)
			return tab[i].cmd;
	return FTP_CMD_OTHER;
}

static bool cmd_takes_arg(uint8_t c)
{
	return c == FTP_CMD_PORT || c == FTP_CMD_EPRT || c == FTP_CMD_LPRT ||
	       c == FTP_CMD_EPSV || c == FTP_CMD_PROT || c == FTP_CMD_AUTH;
}

static bool cmd_is_addr(uint8_t c)
{
	return c == FTP_CMD_PORT || c == FTP_CMD_EPRT || c == FTP_CMD_LPRT;
}

static size_t trim(const char *t, size_t n)
{
	while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r'))
		n--;
	return n;
}

static bool greeting_missing(const struct ftp_sess *s)
{
	if (!s->pol->require_greeting || (s->state & ST_MIDSTREAM))
		return false;
	return !(s->state & ST_GREETED) || (s->state & ST_CFIRST);
}

/*
 * SECURITY: a refused command is turned into one no server knows, so the
 * server answers 500 and the client sees its command fail; nothing of the
 * original argument reaches the server.
 */
static void reject_cmd(struct ftp_sess *s, struct ftp_event *ev,
                       const struct ftp_dirstate *d, uint64_t content_end,
                       enum ftp_reason r)
{
	static const char txt[] = "FTPGW-REFUSED";

	refuse(s, ev, r);
	if (ev->verdict == FTP_V_REJECT)
		ev_edit(ev, d->verb_start, content_end - d->verb_start, txt,
		        sizeof(txt) - 1);
}

static void client_addr_cmd(struct ftp_sess *s, struct ftp_dirstate *d,
                            struct ftp_event *ev, uint64_t content_end)
{
	struct ftp_addr a;
	uint16_t port = 0;
	char delim = 0;
	size_t n = trim(d->tok, d->tok_len);
	enum ftp_reason r;
	uint8_t style;
	int pr;

	ev->ref_kind = 1;
	ev->ref_start = d->verb_start;
	ev->ref_len = (uint32_t)(content_end - d->verb_start);
	if (greeting_missing(s))
		return reject_cmd(s, ev, d, content_end, FTP_R_NO_GREETING);
	if (s->state & ST_EPSV_ALL)
		return reject_cmd(s, ev, d, content_end, FTP_R_EPSV_ALL);
	if (d->cmd == FTP_CMD_LPRT && !s->pol->allow_lprt)
		return reject_cmd(s, ev, d, content_end, FTP_R_LPRT);
	if (d->flags & (LF_IAC_IN | LF_BADBYTE | LF_TOK_OVER) || n == 0)
		return reject_cmd(s, ev, d, content_end, FTP_R_MALFORMED);
	if (d->cmd == FTP_CMD_PORT) {
		pr = ftp_parse_tuple(d->tok, n, &a, &port);
		style = FTP_STYLE_TUPLE;
	} else if (d->cmd == FTP_CMD_EPRT) {
		pr = ftp_parse_ext(d->tok, n, &a, &port, &delim);
		style = FTP_STYLE_EXT;
	} else {
		pr = ftp_parse_long(d->tok, n, &a, &port);
		style = FTP_STYLE_LONG;
	}
	if (pr == -2)
		return reject_cmd(s, ev, d, content_end, FTP_R_FAMILY);
	if (pr < 0)
		return reject_cmd(s, ev, d, content_end, FTP_R_MALFORMED);
	r = judge_addr(s, ev, FTP_DATA_ACTIVE, &a, port);
	if (r != FTP_R_NONE)
		return reject_cmd(s, ev, d, content_end, r);
	accept_addr(ev, d->tok_start, n, style, delim, &a, port);
}

static bool arg_is(const struct ftp_dirstate *d, const char *w)
{
	size_t n = trim(d->tok, d->tok_len), k = strlen(w);

	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = d->tok[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != w[i])
			return false;
	}
	return true;
}

/* A client line ended at line_end (offset after LF). Returns 1 to report. */
static int client_line(struct ftp_sess *s, struct ftp_dirstate *d,
                       struct ftp_event *ev, uint64_t line_end, int term)
{
	uint8_t cmd = d->cmd;
	uint64_t content_end = line_end - (uint64_t)term;

	ev_init(ev, d, FTP_DIR_CLIENT, line_end);
	if (d->phase == P_VERB) {
		/* the verb ended with the line ("PASV\n") */
		cmd = d->cmd = classify(d->tok, d->tok_len);
		d->tok_len = 0;
	}
	if (!(s->state & ST_GREETED) && (d->flags & LF_CONTENT))
		s->state |= ST_CFIRST;
	if (cmd == FTP_CMD_NONE && (d->flags & LF_CONTENT))
		cmd = FTP_CMD_OTHER;
	ev->cmd = cmd;
	ev->flags = FTP_EVF_FINAL;
	if (cmd == FTP_CMD_PASS)
		ev->flags |= FTP_EVF_SECRET;
	if (d->flags & LF_OVERLONG)
		cmd = FTP_CMD_OTHER;   /* reported already; the server refuses */
	else if (cmd_is_addr(cmd))
		client_addr_cmd(s, d, ev, content_end);
	else if (cmd == FTP_CMD_LPSV && !s->pol->allow_lprt)
		reject_cmd(s, ev, d, content_end, FTP_R_LPRT);
	else if (cmd == FTP_CMD_EPSV && arg_is(d, "ALL"))
		cmd |= PEND_EPSV_ALL;
	else if (cmd == FTP_CMD_PROT && d->tok_len)
		s->prot = (uint8_t)d->tok[0];

	/* A line with no command (empty, or only Telnet bytes) is not
	 * tracked: should a server answer it, the replies after it are a step
	 * off and an address reply among them is refused, never guessed. */
	if (cmd != FTP_CMD_NONE)
		pend_push(s, cmd);
	return (s->flags & FTP_SESS_REPORT_ALL) || ev->verdict != FTP_V_PASS ||
	       ev->reason != FTP_R_NONE || ev->data.mode != FTP_DATA_NONE;
}

/* ---- server lines --------------------------------------------------- */

static bool code_is_addr(uint16_t c)
{
	return c == 227 || c == 228 || c == 229;
}

/* A candidate in tok ended; keep it if it is the reply's address. */
static void cand_end(struct ftp_sess *s, struct ftp_dirstate *d)
{
	uint16_t code = s->ml_code ? s->ml_code : d->code;
	size_t n = d->tok_len;
	int ok = -1;

	d->flags &= (uint8_t)~LF_COLLECT;
	if (s->rep_found || (d->flags & LF_TOK_OVER)) {
		d->flags &= (uint8_t)~LF_TOK_OVER;
		return;
	}
	if (code == 227) {
		ok = ftp_parse_tuple(d->tok, n, &s->rep_addr, &s->rep_port);
	} else if (code == 228) {
		ok = ftp_parse_long(d->tok, n, &s->rep_addr, &s->rep_port);
	} else {
		/* tok holds what followed '(' up to ')' or the line end */
		char delim;
		memset(&s->rep_addr, 0, sizeof(s->rep_addr));
		ok = ftp_parse_extport(d->tok, trim(d->tok, n), &s->rep_port,
		                       &delim);
		if (ok == 0) {
			s->rep_delim = (uint8_t)delim;
			s->rep_start = d->tok_start + 3;
			s->rep_len = (uint8_t)(trim(d->tok, n) - 4);
		}
	}
	if (ok == 0) {
		s->rep_found = 1;
		if (code != 229) {
			s->rep_start = d->tok_start;
			s->rep_len = (uint8_t)n;
		}
	}
}

/* Scan one byte of reply text for the address. */
static void scan_byte(struct ftp_sess *s, struct ftp_dirstate *d, uint8_t c)
{
	uint16_t code = s->ml_code ? s->ml_code : d->code;
	bool in;

	if (s->rep_found)
		return;
	if (code == 229) {
		if (!(d->flags & LF_COLLECT)) {
			if (c == '(') {
				d->flags |= LF_COLLECT;
				d->tok_len = 0;
				d->tok_start = d->off;  /* the byte after '(' */
			}
			return;
		}
		if (c == ')' || d->tok_len >= 16) {
			cand_end(s, d);
			return;
		}
		d->tok[d->tok_len++] = (char)c;
		return;
	}
	in = (c >= '0' && c <= '9') || c == ',';
	if (!(d->flags & LF_COLLECT)) {
		if (!in)
			return;
		d->flags |= LF_COLLECT;
		d->tok_len = 0;
		d->tok_start = d->off - 1;
	} else if (!in) {
		cand_end(s, d);
		return;
	}
	if (d->tok_len < FTP_ARG_MAX)
		d->tok[d->tok_len++] = (char)c;
	else
		d->flags |= LF_TOK_OVER;
}

static void reject_reply(struct ftp_sess *s, struct ftp_event *ev,
                         const struct ftp_dirstate *d, uint64_t content_end,
                         bool multiline, enum ftp_reason r)
{
	refuse(s, ev, r);
	if (ev->verdict != FTP_V_REJECT)
		return;
	if (!multiline) {
		char txt[FTP_OUT_MAX];
		int n;


		/* SECURITY: the reply becomes an error; 502 makes clients
		 * fall back to another mode rather than hang. */
		n = snprintf(txt, sizeof(txt), "502 ftpgw: passive reply "
		             "refused (%s)", ftp_reason_str(r));
		ev_edit(ev, d->line_start, content_end - d->line_start, txt,
		        (size_t)n);
	} else if (s->rep_found) {
		/* Inside a multi-line reply only the address can go: it is
		 * replaced by one no client can connect to. */
		const char *z = s->ml_code == 229 ? "0"
		                : s->ml_code == 228 ? "4,4,0,0,0,0,2,0,0"
		                : "0,0,0,0,0,0";
		ev_edit(ev, s->rep_start, s->rep_len, z, strlen(z));
	} else {
		ev->verdict = FTP_V_PASS;  /* nothing usable to take away */
	}
}

static void server_addr_reply(struct ftp_sess *s, struct ftp_dirstate *d,
                              struct ftp_event *ev, uint16_t code,
                              uint64_t content_end, bool multiline)
{
	static const uint8_t want[3] = { FTP_CMD_PASV, FTP_CMD_LPSV,
	                                 FTP_CMD_EPSV };
	enum ftp_reason r;
	struct ftp_addr a229;

	if (!multiline) {
		ev->ref_kind = 2;
		ev->ref_start = d->line_start;
		ev->ref_len = (uint32_t)(content_end - d->line_start);
	} else if (s->rep_found) {
		ev->ref_kind = code == 229 ? 5 : code == 228 ? 4 : 3;
		ev->ref_start = s->rep_start;
		ev->ref_len = s->rep_len;
	}
	if (!(s->state & ST_LENIENT) && pend_head(s) != want[code - 227])
		return reject_reply(s, ev, d, content_end, multiline,
		                    FTP_R_UNSOLICITED);
	if (greeting_missing(s))
		return reject_reply(s, ev, d, content_end, multiline,
		                    FTP_R_NO_GREETING);
	if (code != 229 && (s->state & ST_EPSV_ALL))
		return reject_reply(s, ev, d, content_end, multiline,
		                    FTP_R_EPSV_ALL);
	if (code == 228 && !s->pol->allow_lprt)
		return reject_reply(s, ev, d, content_end, multiline,
		                    FTP_R_LPRT);
	if (!s->rep_found)
		return reject_reply(s, ev, d, content_end, multiline,
		                    FTP_R_MALFORMED);
	if (code == 229) {
		/* 229 names only a port: the address is the server's. */
		a229 = s->ep.server_priv;
		r = judge_addr(s, ev, FTP_DATA_PASSIVE, &a229, s->rep_port);
		if (r != FTP_R_NONE)
			return reject_reply(s, ev, d, content_end, multiline, r);
		/* the connecting side is told only a port; nothing to
		 * rewrite unless the caller remaps it */
		ev->data.pub_addr = s->ep.server_pub;
		accept_addr(ev, s->rep_start, s->rep_len, FTP_STYLE_EXTPORT,
		            (char)s->rep_delim, &s->ep.server_pub, s->rep_port);
		return;
	}
	r = judge_addr(s, ev, FTP_DATA_PASSIVE, &s->rep_addr, s->rep_port);
	if (r != FTP_R_NONE)
		return reject_reply(s, ev, d, content_end, multiline, r);
	accept_addr(ev, s->rep_start, s->rep_len,
	            code == 227 ? FTP_STYLE_TUPLE : FTP_STYLE_LONG, 0,
	            &s->rep_addr, s->rep_port);
}

/* The last line of a reply: greeting, command tracking, TLS. */
static void reply_final(struct ftp_sess *s, struct ftp_event *ev,
                        uint16_t code)
{
	uint8_t cmd;

	if (!(s->state & ST_GREETED) && (code == 220 || code == 120 ||
	                                 code == 421)) {
		if (code == 220)
			s->state |= ST_GREETED;
		return;
	}
	if (code < 200)
		return;                    /* preliminary: still pending */
	if (!pend_any(s))
		return;                    /* unsolicited (e.g. 421 timeout) */
	cmd = pend_pop(s);
	if (!pend_any(s))
		s->state &= (uint8_t)~ST_LENIENT;  /* a full exchange: in step */
	if (cmd == FTP_CMD_AUTH && code == 234) {
		s->d[FTP_DIR_CLIENT].mode = M_TLS;
		s->d[FTP_DIR_SERVER].mode = M_TLS;   /* after this line */
		ev->reason = FTP_R_TLS;
		ev->flags |= FTP_EVF_ENCRYPTED;
	} else if (cmd == (FTP_CMD_EPSV | PEND_EPSV_ALL) && code < 300) {
		s->state |= ST_EPSV_ALL;
	} else if (cmd == FTP_CMD_REIN && code == 220) {
		s->state &= (uint8_t)~ST_EPSV_ALL;
		s->prot = 0;
	}
}

static int server_line(struct ftp_sess *s, struct ftp_dirstate *d,
                       struct ftp_event *ev, uint64_t line_end, int term)
{
	uint64_t content_end = line_end - (uint64_t)term;
	bool ml = s->ml_code != 0, final;
	uint16_t code;

	ev_init(ev, d, FTP_DIR_SERVER, line_end);
	if (d->flags & LF_COLLECT)
		cand_end(s, d);
	if (ml) {
		code = s->ml_code;
		/* "ddd " closes it; so does "ddd" and the line end */
		final = (d->flags & LF_TERM) ||
		        (d->phase == P_CODE && d->aux == 3);
	} else if (d->phase == P_START || d->code == 0 ||
	           (d->phase == P_CODE && d->aux < 3)) {
		/* not a reply: count it, pass it */
		ev->reason = FTP_R_BAD_REPLY;
		ev->flags = FTP_EVF_FINAL;
		s->rep_found = 0;
		return 1;
	} else {
		code = d->code;
		final = !(d->flags & LF_TERM);  /* LF_TERM here: it was '-' */
		if (!final) {
			s->ml_code = code;
			ml = true;
		}
	}
	ev->code = code;
	ev->cmd = (uint8_t)(pend_head(s) & ~PEND_EPSV_ALL);  /* answering */
	if (ml)
		ev->flags |= FTP_EVF_MULTILINE;
	if (final)
		ev->flags |= FTP_EVF_FINAL;
	if (code_is_addr(code) && !(d->flags & LF_OVERLONG) &&
	    !s->ml_found && (s->rep_found || final)) {
		server_addr_reply(s, d, ev, code, content_end, ml);
		s->ml_found = 1;
	}
	if (d->flags & LF_OVERLONG)
		s->rep_found = 0;   /* an address in an overlong line is not
		                       used, here or by a later line */
	if (final) {
		reply_final(s, ev, code);
		s->ml_code = 0;
		s->ml_found = 0;
		s->rep_found = 0;
	}
	return (s->flags & FTP_SESS_REPORT_ALL) || ev->verdict != FTP_V_PASS ||
	       ev->reason != FTP_R_NONE || ev->data.mode != FTP_DATA_NONE;
}

/* ---- the byte machine ----------------------------------------------- */

static bool blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool letter(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void client_byte(struct ftp_dirstate *d, uint8_t c)
{
	switch (d->phase) {
	case P_START:
		if (blank(c) || c == '\r')
			return;
		if (letter(c)) {
			d->phase = P_VERB;
			d->verb_start = d->off - 1;
			d->tok[0] = (char)(c & ~0x20);
			d->tok_len = 1;
			return;
		}
		d->cmd = FTP_CMD_OTHER;
		d->phase = P_SKIP;
		return;
	case P_VERB:
		if (letter(c) && d->tok_len < 4) {
			d->tok[d->tok_len++] = (char)(c & ~0x20);
			return;
		}
		if (blank(c) || c == '\r') {
			d->cmd = classify(d->tok, d->tok_len);
			d->tok_len = 0;
			d->phase = cmd_takes_arg(d->cmd) ? P_ARGLEAD : P_SKIP;
			return;
		}
		d->cmd = FTP_CMD_OTHER;
		d->phase = P_SKIP;
		return;
	case P_ARGLEAD:
		if (blank(c))
			return;
		d->phase = P_ARG;
		d->tok_start = d->off - 1;
		/* fall through */
	case P_ARG:
		if (c < 0x20 && c != '\r' && c != '\t')
			d->flags |= LF_BADBYTE;
		if (d->tok_len < FTP_ARG_MAX)
			d->tok[d->tok_len++] = (char)c;
		else
			d->flags |= LF_TOK_OVER;
		return;
	default:
		return;
	}
}

static void server_byte(struct ftp_sess *s, struct ftp_dirstate *d,
                        uint8_t c)
{
	switch (d->phase) {
	case P_START:
		d->phase = P_CODE;
		d->aux = 0;
		d->code = 0;
		/* fall through */
	case P_CODE:
		if (s->ml_code) {
			/* continuation or the closing "ddd " line */
			static const uint16_t pw[3] = { 100, 10, 1 };
			if (d->aux < 3 && c == '0' + (s->ml_code / pw[d->aux]) % 10) {
				d->aux++;
			} else if (d->aux == 3 && (c == ' ' || c == '\r')) {
				d->flags |= LF_TERM;
				d->aux = 4;
			} else {
				d->aux = 4;
			}
			if (code_is_addr(s->ml_code) && !s->ml_found)
				scan_byte(s, d, c);
			if (d->aux == 4)
				d->phase = (code_is_addr(s->ml_code) &&
				            !s->ml_found) ? P_TEXT : P_SKIP;
			return;
		}
		if (d->aux < 3) {
			if (c < '0' || c > '9' || (d->aux == 0 &&
			                           (c < '1' || c > '5'))) {
				d->code = 0;
				d->phase = P_SKIP;
				return;
			}
			d->code = (uint16_t)(d->code * 10 + (c - '0'));
			d->aux++;
			return;
		}
		if (c == '-')
			d->flags |= LF_TERM;   /* opens a multi-line reply */
		else if (c != ' ' && c != '\r') {
			d->code = 0;           /* "2270": not a reply */
			d->phase = P_SKIP;
			return;
		}
		d->phase = code_is_addr(d->code) ? P_TEXT : P_SKIP;
		return;
	case P_TEXT:
		scan_byte(s, d, c);
		return;
	default:
		return;
	}
}

/* Leave TLS: the bytes seen as a record header were plaintext after all. */
static void tls_leave(struct ftp_sess *s, struct ftp_dirstate *d,
                      enum ftp_dir dir)
{
	uint64_t off = d->off;
	uint8_t n = d->tls_hdr_len;

	d->mode = M_LINE;
	d->tls_hdr_len = 0;
	d->off = off - n;
	line_reset(d);
	/* those bytes are all non-LF (see tls_byte), feed them back */
	for (uint8_t i = 0; i < n; i++) {
		d->line_len++;
		d->off++;
		d->flags |= LF_CONTENT;
		if (dir == FTP_DIR_CLIENT)
			client_byte(d, d->tls_hdr[i]);
		else
			server_byte(s, d, d->tls_hdr[i]);
	}
}

/*
 * One byte at a record boundary while walking TLS records. Returns 1 if the
 * byte is not part of a record header (plaintext again).
 */
static int tls_byte(struct ftp_dirstate *d, uint8_t c)
{
	uint8_t k = d->tls_hdr_len;
	bool ok;

	switch (k) {
	case 0: ok = c >= 20 && c <= 24; break;   /* content type */
	case 1: ok = c == 3; break;               /* version major */
	case 2: ok = c <= 4; break;               /* version minor */
	case 3: ok = ((unsigned)c << 8) <= TLS_REC_MAX; break;
	default:
		ok = (((unsigned)d->tls_hdr[3] << 8) | c) <= TLS_REC_MAX;
		break;
	}
	if (!ok)
		return 1;
	d->tls_hdr[d->tls_hdr_len++] = c;
	if (d->tls_hdr_len == 5) {
		d->tls_need = (uint16_t)((d->tls_hdr[3] << 8) | d->tls_hdr[4]);
		d->tls_hdr_len = 0;
	}
	return 0;
}

int ftp_feed(struct ftp_sess *s, enum ftp_dir dir, const uint8_t *buf,
             size_t len, size_t *used, struct ftp_event *ev)
{
	struct ftp_dirstate *d = &s->d[dir & 1];
	const uint32_t max = s->pol->max_line;
	size_t i = 0;

	while (i < len) {
		uint8_t c;

		if (d->mode == M_TLS) {
			if (d->tls_need) {
				size_t n = len - i < d->tls_need ? len - i
				                                 : d->tls_need;
				d->tls_need = (uint16_t)(d->tls_need - n);
				d->off += n;
				i += n;
				continue;
			}
			if (tls_byte(d, buf[i]) == 0) {
				d->off++;
				i++;
				continue;
			} else {
				tls_leave(s, d, dir);
				ev_init(ev, d, dir, d->off);
				ev->reason = FTP_R_TLS_END;
				/* the byte is processed by the next call */
				*used = i;
				return 1;
			}
		}
		if (d->off == 0 && dir == FTP_DIR_CLIENT && buf[i] == 0x16 &&
		    !(s->state & ST_MIDSTREAM)) {
			/* implicit TLS (a ClientHello first): not inspectable */
			s->d[0].mode = M_TLS;
			s->d[1].mode = M_TLS;
			ev_init(ev, d, dir, 0);
			ev->reason = FTP_R_TLS;
			ev->flags = FTP_EVF_ENCRYPTED;
			*used = 0;
			return 1;
		}
		if (d->phase == P_SKIP && d->iac == 0) {
			/* fast path: nothing to learn before the LF */
			const uint8_t *lf = memchr(buf + i, '\n', len - i);
			size_t n = lf ? (size_t)(lf - (buf + i)) : len - i;

			if (!(d->flags & LF_OVERLONG) && n > max - d->line_len)
				n = max - d->line_len;
			if (n) {
				d->flags = (uint8_t)((d->flags & ~LF_CR) |
				           (buf[i + n - 1] == '\r' ? LF_CR : 0));
				d->line_len = d->line_len + n < d->line_len
				              ? UINT32_MAX
				              : (uint32_t)(d->line_len + n);
				d->off += n;
				i += n;
				continue;
			}
		}
		if (dir == FTP_DIR_CLIENT && d->phase == P_ARG && d->iac == 0 &&
		    !(d->flags & LF_OVERLONG)) {
			/* fast path: a command's argument, printable ASCII, is
			 * only collected (what client_byte() does byte by byte) */
			size_t n = 0, room = max - d->line_len;
			bool content = false;

			while (n < len - i && n < room && buf[i + n] >= 0x20 &&
			       buf[i + n] < 0x7f) {
				content |= buf[i + n] != ' ';
				n++;
			}
			if (n) {
				size_t take = FTP_ARG_MAX - d->tok_len;
				if (take > n)
					take = n;
				else if (take < n)
					d->flags |= LF_TOK_OVER;
				memcpy(d->tok + d->tok_len, buf + i, take);
				d->tok_len = (uint8_t)(d->tok_len + take);
				d->flags &= (uint8_t)~LF_CR;
				if (content)
					d->flags |= LF_CONTENT;
				d->line_len += (uint32_t)n;
				d->off += n;
				i += n;
				continue;
			}
		}
		c = buf[i++];
		d->off++;
		if (d->line_len < UINT32_MAX)
			d->line_len++;
		if (c == '\n') {
			int term = (d->flags & LF_CR) ? 2 : 1;
			int r;
			bool over = !(d->flags & LF_OVERLONG) &&
			            d->line_len > max;

			if (over)
				d->flags |= LF_OVERLONG;
			r = dir == FTP_DIR_CLIENT
			    ? client_line(s, d, ev, d->off, term)
			    : server_line(s, d, ev, d->off, term);
			if (over) {
				ev->verdict = s->pol->on_overlong == FTP_ACT_RESET
				              ? FTP_V_RESET : FTP_V_PASS;
				ev->reason = FTP_R_OVERLONG;
				ev->edit_len = 0;
				ev->out_len = 0;
				ev->data.mode = FTP_DATA_NONE;
				r = 1;
			}
			line_reset(d);
			if (r) {
				*used = i;
				return 1;
			}
			continue;
		}
		if (!(d->flags & LF_OVERLONG) && d->line_len > max) {
			d->flags |= LF_OVERLONG;
			d->phase = P_SKIP;
			d->iac = 0;
			if (d->flags & LF_COLLECT)
				d->flags &= (uint8_t)~LF_COLLECT;
			if (dir == FTP_DIR_SERVER)
				s->rep_found = 0;
			ev_init(ev, d, dir, d->off);
			ev->cmd = d->cmd;
			ev->code = d->code;
			ev->reason = FTP_R_OVERLONG;
			ev->flags = FTP_EVF_PARTIAL;
			ev->verdict = s->pol->on_overlong == FTP_ACT_RESET
			              ? FTP_V_RESET : FTP_V_PASS;
			*used = i;
			return 1;
		}
		d->flags = (uint8_t)((d->flags & ~LF_CR) |
		                     (c == '\r' ? LF_CR : 0));
		/* Telnet: IAC sequences are not part of the text. */
		if (d->iac == 1) {
			d->iac = (c >= 251 && c <= 254) ? 2 : 0;
			if (c != 0xff)
				continue;
		} else if (d->iac == 2) {
			d->iac = 0;
			continue;
		} else if (c == 0xff) {
			d->iac = 1;
			if (d->flags & LF_CONTENT)
				d->flags |= LF_IAC_IN;
			continue;
		}
		if (c == 0)
			d->flags |= LF_BADBYTE;
		if (!blank(c) && c != '\r')
			d->flags |= LF_CONTENT;
		if (dir == FTP_DIR_CLIENT)
			client_byte(d, c);
		else
			server_byte(s, d, c);
	}
	*used = len;
	return 0;
}

int ftp_partial(const struct ftp_sess *s, enum ftp_dir dir,
                uint64_t *line_start)
{
	const struct ftp_dirstate *d = &s->d[dir & 1];

	*line_start = d->line_start;
	if (d->mode == M_TLS || d->line_len == 0)
		return 0;
	if (d->flags & LF_OVERLONG)
		return 1;
	if (dir == FTP_DIR_CLIENT) {
		if (d->phase == P_START || d->phase == P_VERB)
			return 2;
		return (cmd_is_addr(d->cmd) || d->cmd == FTP_CMD_LPSV) ? 2 : 1;
	}
	if (s->ml_code)
		return code_is_addr(s->ml_code) && !s->ml_found ? 2 : 1;
	if (d->phase == P_START || d->phase == P_CODE)
		return 2;
	return code_is_addr(d->code) ? 2 : 1;
}
