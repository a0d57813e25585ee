/* testutil.h - helpers shared by the unit tests (header-only). */
#ifndef FTPGW_TESTUTIL_H
#define FTPGW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ftp.h"

#define MAXEV 16

/* A session with its policy and endpoints, and the stream offsets fed. */
struct tsess {
	struct ftp_policy pol;
	struct ftp_endpoints ep;
	struct ftp_sess s;
	unsigned flags;
};

/* What came out of feeding some text. */
struct tout {
	int nev;
	struct ftp_event ev[MAXEV];
	char out[8192];      /* the text after the edits, NUL-terminated */
	size_t out_len;
};

static inline void tsess_setup(struct tsess *t, const char *cpriv,
                               const char *cpub, const char *spriv,
                               const char *spub, unsigned flags)
{
	memset(t, 0, sizeof(*t));
	ftp_policy_default(&t->pol);
	assert_int_equal(ftp_addr_parse(&t->ep.client_priv, cpriv), 0);
	assert_int_equal(ftp_addr_parse(&t->ep.client_pub, cpub), 0);
	assert_int_equal(ftp_addr_parse(&t->ep.server_priv, spriv), 0);
	assert_int_equal(ftp_addr_parse(&t->ep.server_pub, spub), 0);
	t->flags = flags;
	ftp_sess_init(&t->s, &t->pol, &t->ep, flags);
}

/* Re-init the session (e.g. after changing t->pol). */
static inline void tsess_reset(struct tsess *t)
{
	ftp_sess_init(&t->s, &t->pol, &t->ep, t->flags);
}

/*
 * Feed len bytes in dir, chunk bytes at a time (0: all at once). Collects
 * the events and applies every edit that lies inside the text fed.
 */
static inline void tfeed_chunked(struct tsess *t, enum ftp_dir dir,
                                 const char *text, size_t len, size_t chunk,
                                 struct tout *o)
{
	uint64_t base;
	size_t pos = 0, opos = 0;

	memset(o, 0, sizeof(*o));
	ftp_partial(&t->s, dir, &base);
	base = t->s.d[dir].off;
	while (pos < len) {
		size_t n = chunk && chunk < len - pos ? chunk : len - pos;
		size_t off = 0, used;
		struct ftp_event ev;

		while (off < n) {
			if (!ftp_feed(&t->s, dir, (const uint8_t *)text + pos + off,
			              n - off, &used, &ev))
				break;
			off += used;
			if (o->nev < MAXEV)
				o->ev[o->nev++] = ev;
		}
		pos += n;
	}
	/* apply edits in order */
	for (int i = 0; i < o->nev; i++) {
		const struct ftp_event *e = &o->ev[i];
		size_t st;

		if (e->verdict != FTP_V_REWRITE && e->verdict != FTP_V_REJECT)
			continue;
		/* an edit lies inside its line */
		assert_true(e->edit_start >= e->line_start);
		assert_true(e->edit_start + e->edit_len <=
		            e->line_start + e->line_len);
		/* only edits of what this call fed can be applied here */
		if (e->edit_start < base)
			continue;
		assert_true(e->edit_start + e->edit_len <= base + len);
		st = (size_t)(e->edit_start - base);
		assert_true(st >= opos);
		assert_true(o->out_len + (st - opos) + e->out_len <
		            sizeof(o->out));
		memcpy(o->out + o->out_len, text + opos, st - opos);
		o->out_len += st - opos;
		memcpy(o->out + o->out_len, e->out, e->out_len);
		o->out_len += e->out_len;
		opos = st + e->edit_len;
	}
	assert_true(o->out_len + (len - opos) < sizeof(o->out));
	memcpy(o->out + o->out_len, text + opos, len - opos);
	o->out_len += len - opos;
	o->out[o->out_len] = '\0';
}

static inline void tfeed(struct tsess *t, enum ftp_dir dir, const char *text,
                         struct tout *o)
{
	tfeed_chunked(t, dir, text, strlen(text), 0, o);
}

/* Feed and expect no event at all. */
static inline void tquiet(struct tsess *t, enum ftp_dir dir, const char *text)
{
	struct tout o;

	tfeed(t, dir, text, &o);
	if (o.nev != 0)
		fail_msg("unexpected event for '%s': verdict %s reason %s",
		         text, ftp_verdict_str(o.ev[0].verdict),
		         ftp_reason_str(o.ev[0].reason));
}

/* Feed one line and expect exactly one event; returns it in o->ev[0]. */
static inline const struct ftp_event *tone(struct tsess *t, enum ftp_dir dir,
                                           const char *text, struct tout *o)
{
	tfeed(t, dir, text, o);
	if (o->nev != 1)
		fail_msg("'%s': %d events, expected 1", text, o->nev);
	return &o->ev[0];
}

#define C FTP_DIR_CLIENT
#define S FTP_DIR_SERVER

static inline void greet(struct tsess *t)
{
	struct tout o;

	tfeed(t, S, "220 ready\r\n", &o);
	assert_true(o.nev == 0 || (t->flags & FTP_SESS_REPORT_ALL));
}

static inline void addr_is(const struct ftp_addr *a, const char *txt)
{
	char buf[64];

	ftp_addr_str(a, buf, sizeof(buf));
	assert_string_equal(buf, txt);
}

/* Decode C escapes (\\ \r \n \t \xHH) from src into dst; returns length. */
static inline size_t tunescape(const char *src, char *dst, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; src[i] && o + 1 < cap; i++) {
		if (src[i] != '\\' || !src[i + 1]) {
			dst[o++] = src[i];
			continue;
		}
		i++;
		switch (src[i]) {
		case 'r': dst[o++] = '\r'; break;
		case 'n': dst[o++] = '\n'; break;
		case 't': dst[o++] = '\t'; break;
		case 'x': {
			char h[3] = { src[i + 1], src[i + 1] ? src[i + 2] : 0, 0 };
			dst[o++] = (char)strtol(h, NULL, 16);
			i += 2;
			break;
		}
		default: dst[o++] = src[i]; break;
		}
	}
	dst[o] = '\0';
	return o;
}

#endif
