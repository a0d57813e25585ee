/*
 * fuzz_pkt_parse - the packet view. Input: 3 control bytes (room past the
 * packet, and an edit: offset, old length, new length), then the packet
 * from its IP header. Whatever parses must keep the view's invariants
 * through a SACK round trip, an edit, a truncation and the checksums.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The view describes buf: lengths add up, fields match the bytes. */
static void check_view(const struct pkt_view *v, size_t raw_len)
{
	const uint8_t *t;

	if (v->family != 4 && v->family != 6)
		abort();
	if (v->len > raw_len || v->len > v->cap ||
	    v->payload_off + v->payload_len != v->len ||
	    v->l4off + 20 > v->payload_off || v->payload_off > v->len ||
	    v->payload_off - v->l4off > 60)
		abort();
	if (v->src.family != v->family || v->dst.family != v->family)
		abort();
	if (v->family == 4) {
		if (v->l4off < 20 || v->l4off > 60 || rd16(v->buf + 2) != v->len ||
		    v->l4off != (size_t)(v->buf[0] & 15) * 4 ||
		    memcmp(v->src.a, v->buf + 12, 4) != 0 ||
		    memcmp(v->dst.a, v->buf + 16, 4) != 0)
			abort();
	} else {
		if (v->l4off < 40 || (v->l4off - 40) % 8 != 0 ||
		    (size_t)rd16(v->buf + 4) + 40 != v->len ||
		    memcmp(v->src.a, v->buf + 8, 16) != 0 ||
		    memcmp(v->dst.a, v->buf + 24, 16) != 0)
			abort();
	}
	t = v->buf + v->l4off;
	if (v->sport != rd16(t) || v->dport != rd16(t + 2) ||
	    v->seq != rd32(t + 4) || v->ack != rd32(t + 8) ||
	    v->tcp_flags != t[13] ||
	    v->payload_off - v->l4off != (size_t)(t[12] >> 4) * 4)
		abort();
}

static void same_headers(const struct pkt_view *a, const struct pkt_view *b)
{
	if (a->family != b->family || a->l4off != b->l4off ||
	    a->payload_off != b->payload_off || a->sport != b->sport ||
	    a->dport != b->dport || a->seq != b->seq || a->ack != b->ack ||
	    a->tcp_flags != b->tcp_flags)
		abort();
}

static void sack_round_trip(struct pkt_view *v)
{
	uint32_t s[PKT_SACK_MAX][2], s2[PKT_SACK_MAX][2];
	uint8_t before[PKT_MAX];
	int n, k;

	n = pkt_get_sack(v, s);
	if (n < 0 || n > PKT_SACK_MAX)
		abort();
	memcpy(before, v->buf, v->len);
	/* writing back what was read changes nothing */
	pkt_set_sack(v, (const uint32_t (*)[2])s, n);
	if (memcmp(before, v->buf, v->len) != 0)
		abort();
	/* a changed set reads back as written; only the header changes */
	for (int i = 0; i < n; i++) {
		s2[i][0] = ~s[i][0];
		s2[i][1] = s[i][1] + 0x9e3779b9u;
	}
	pkt_set_sack(v, (const uint32_t (*)[2])s2, n);
	k = pkt_get_sack(v, s);
	if (k != n)
		abort();
	for (int i = 0; i < n; i++)
		if (s[i][0] != s2[i][0] || s[i][1] != s2[i][1])
			abort();
	if (memcmp(before, v->buf, v->l4off) != 0 ||
	    memcmp(before + v->payload_off, v->buf + v->payload_off,
	           v->payload_len) != 0)
		abort();
	/* a wrong count writes nothing */
	memcpy(before, v->buf, v->len);
	pkt_set_sack(v, (const uint32_t (*)[2])s2, n + 1);
	if (memcmp(before, v->buf, v->len) != 0)
		abort();
}

static void edit(struct pkt_view *v, const uint8_t ctl[3])
{
	static const uint8_t fill[256] = { 'Z' };
	uint8_t before[PKT_MAX];
	size_t off, old, nl, len0 = v->len, pl0 = v->payload_len, total, lf;
	struct pkt_view w;
	int r;

	off = ctl[1] % (pl0 + 1);
	old = ctl[2] % (pl0 - off + 1);
	nl = (size_t)(ctl[0] >> 2) * 3;
	memcpy(before, v->buf, v->len);

	/* out of range is refused and changes nothing */
	if (pkt_replace(v, pl0 + 1, 0, fill, 1) != -ERANGE ||
	    pkt_replace(v, off, pl0 - off + 1, fill, 1) != -ERANGE ||
	    pkt_replace(v, (size_t)-1, 2, fill, 1) != -ERANGE ||
	    v->len != len0 || memcmp(before, v->buf, len0) != 0)
		abort();

	total = len0 - old + nl;
	r = pkt_replace(v, off, old, fill, nl);
	if (total > v->cap || total > PKT_MAX) {
		if (r != -ENOSPC || v->len != len0 ||
		    memcmp(before, v->buf, len0) != 0)
			abort();
		return;
	}
	if (r != 0 || v->len != total || v->payload_len != pl0 - old + nl)
		abort();
	/* headers unchanged but for the IP length field */
	lf = v->family == 4 ? 2 : 4;
	if (memcmp(v->buf, before, lf) != 0 ||
	    memcmp(v->buf + lf + 2, before + lf + 2,
	           v->payload_off - lf - 2) != 0)
		abort();
	if (memcmp(v->buf + v->payload_off, before + v->payload_off, off) != 0 ||
	    memcmp(v->buf + v->payload_off + off, fill, nl) != 0 ||
	    memcmp(v->buf + v->payload_off + off + nl,
	           before + v->payload_off + off + old, pl0 - off - old) != 0)
		abort();
	/* the edited packet parses to the same headers */
	if (pkt_parse(&w, v->buf, v->len, v->cap) != 0)
		abort();
	check_view(&w, v->len);
	same_headers(v, &w);
	if (w.payload_len != v->payload_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_view v, w;
	uint8_t *b, *big;
	size_t n, cap;
	int r;

	if (size < 3)
		return 0;
	n = size - 3;
	/* exact size: ASan sees any read past the buffer */
	b = malloc(n ? n : 1);
	if (!b)
		return 0;
	memcpy(b, data + 3, n);
	r = pkt_parse(&v, b, n, n);
	if (r != 0) {
		if (r != -EINVAL && r != -EPROTONOSUPPORT && r != -EMSGSIZE)
			abort();
		free(b);
		return 0;
	}
	if (v.buf != b || v.cap != n)
		abort();
	check_view(&v, n);
	sack_round_trip(&v);

	/* checksums, then the same packet with room to grow */
	pkt_fix_checksums(&v);
	if (!pkt_checksums_ok(&v))
		abort();
	cap = v.len + (size_t)(data[0] & 3) * 40;
	big = malloc(cap);
	if (!big) {
		free(b);
		return 0;
	}
	memcpy(big, b, v.len);
	if (pkt_parse(&w, big, v.len, cap) != 0)
		abort();
	check_view(&w, v.len);
	same_headers(&v, &w);

	edit(&w, data);
	pkt_fix_checksums(&w);
	if (!pkt_checksums_ok(&w))
		abort();
	sack_round_trip(&w);

	/* truncation */
	if (pkt_truncate(&w, w.payload_len + 1) != -ERANGE)
		abort();
	if (pkt_truncate(&w, w.payload_len / 2) != 0 ||
	    w.payload_off + w.payload_len != w.len)
		abort();
	pkt_set_seq(&w, ~w.seq);
	pkt_set_ack(&w, w.ack + 1);
	pkt_fix_checksums(&w);
	if (!pkt_checksums_ok(&w))
		abort();
	if (pkt_parse(&v, big, w.len, cap) != 0)
		abort();
	check_view(&v, w.len);
	same_headers(&v, &w);

	free(big);
	free(b);
	return 0;
}
