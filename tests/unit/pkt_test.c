/*
 * pkt_test.c - the packet view: parsing IPv4/IPv6/TCP, every refusal,
 * payload replacement, SACK options, checksums.
 *
 * Checksums are checked three ways: pkt_checksums_ok(), a second
 * implementation below written differently (native-order 16-bit loads
 * with the end-around carry folded at every step, RFC 1071 section 2(B)),
 * and real packets whose checksums the Linux kernel computed.
 */
#include <errno.h>

#include "testutil.h"
#include "pkt.h"

/*
 * Real packets, emitted by the Linux 6.18 TCP stack (software checksums:
 * a tun device without offloads) in a private network namespace: a client
 * at 10.9.0.1 / 2001:db8:9::1 connected to port 21 of a scripted peer
 * whose initial sequence number was 0xffffff00 (so SACK edges wrap), sent
 * "PORT 10,9,0,1,4,1\r\n", then acknowledged out-of-order segments with
 * SACK. Their IPv4 and TCP checksums are the kernel's.
 */
#include "packets.h"

static const struct real {
	const char *name;
	const uint8_t *p;
	size_t len;
	uint8_t family;
	uint16_t sport;
	uint32_t seq, ack;
	uint8_t flags;
	size_t payload_len;
	int nsack;
} reals[] = {
	{ "v4ts_data", real_v4ts_data, sizeof(real_v4ts_data), 4, 0xaae4,
	  0x2956b962, 0xffffff01, 0x18, 19, 0 },
	{ "v6ts_data", real_v6ts_data, sizeof(real_v6ts_data), 6, 0xe770,
	  0xc8589120, 0xffffff01, 0x18, 19, 0 },
	{ "v4ts_sack3", real_v4ts_sack3, sizeof(real_v4ts_sack3), 4, 0xaae4,
	  0x2956b975, 0xffffff01, 0x10, 0, 3 },
	{ "v4nots_sack4", real_v4nots_sack4, sizeof(real_v4nots_sack4), 4,
	  0xaaf0, 0x93613c30, 0xffffff01, 0x10, 0, 4 },
	{ "v6ts_sack3", real_v6ts_sack3, sizeof(real_v6ts_sack3), 6, 0xe770,
	  0xc8589133, 0xffffff01, 0x10, 0, 3 },
};
#define NREAL (sizeof(reals) / sizeof(reals[0]))

/* the reference checksum (a different algorithm): ref_* in packets.h */

/* ---- building packets --------------------------------------------- */

static const uint8_t a4s[4] = { 192, 168, 1, 10 };
static const uint8_t a4d[4] = { 198, 51, 100, 5 };
static const uint8_t a6s[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 0x10 };
static const uint8_t a6d[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 0x05 };

#define T_SPORT 40000
#define T_DPORT 21
#define T_SEQ 0x01020304u
#define T_ACK 0xa0b0c0d0u

static void put16(uint8_t *p, uint16_t x)
{
	p[0] = (uint8_t)(x >> 8);
	p[1] = (uint8_t)x;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static size_t mk_tcp(uint8_t *t, const uint8_t *topt, size_t toptlen,
                     const void *data, size_t dlen)
{
	size_t thl = 20 + toptlen;

	assert_true(toptlen % 4 == 0 && toptlen <= 40);
	memset(t, 0, thl);
	put16(t, T_SPORT);
	put16(t + 2, T_DPORT);
	t[4] = 0x01; t[5] = 0x02; t[6] = 0x03; t[7] = 0x04;
	t[8] = 0xa0; t[9] = 0xb0; t[10] = 0xc0; t[11] = 0xd0;
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = PKT_ACK | 0x08;
	put16(t + 14, 65535);
	if (toptlen)
		memcpy(t + 20, topt, toptlen);
	if (dlen)
		memcpy(t + thl, data, dlen);
	return thl + dlen;
}

/* IPv4 with optional IP options; checksums set by the reference. */
static size_t mk4(uint8_t *b, const uint8_t *ipopt, size_t ipoptlen,
                  const uint8_t *topt, size_t toptlen, const void *data,
                  size_t dlen)
{
	size_t ihl = 20 + ipoptlen, len;

	assert_true(ipoptlen % 4 == 0 && ipoptlen <= 40);
	memset(b, 0, ihl);
	b[0] = (uint8_t)(0x40 | ihl / 4);
	put16(b + 4, 0x1234);
	b[6] = 0x40;                       /* DF */
	b[8] = 64;
	b[9] = 6;
	memcpy(b + 12, a4s, 4);
	memcpy(b + 16, a4d, 4);
	if (ipoptlen)
		memcpy(b + 20, ipopt, ipoptlen);
	len = ihl + mk_tcp(b + ihl, topt, toptlen, data, dlen);
	put16(b + 2, (uint16_t)len);
	ref_fix(b, len, ihl);
	return len;
}

/* IPv6; ext holds extension headers (their next-header bytes included),
 * nh is the IPv6 header's next header. */
static size_t mk6(uint8_t *b, const uint8_t *ext, size_t extlen, uint8_t nh,
                  const uint8_t *topt, size_t toptlen, const void *data,
                  size_t dlen)
{
	size_t len;

	memset(b, 0, 40);
	b[0] = 0x60;
	b[6] = nh;
	b[7] = 64;
	memcpy(b + 8, a6s, 16);
	memcpy(b + 24, a6d, 16);
	if (extlen)
		memcpy(b + 40, ext, extlen);
	len = 40 + extlen + mk_tcp(b + 40 + extlen, topt, toptlen, data, dlen);
	put16(b + 4, (uint16_t)(len - 40));
	ref_fix(b, len, 40 + extlen);
	return len;
}

/* hop-by-hop (PadN) then destination options (PadN), then TCP */
static const uint8_t ext_hd[] = {
	60, 0, 1, 4, 0, 0, 0, 0,
	6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* MSS, NOP, WS, SACK-permitted, TS, EOL EOL: 24 bytes */
static const uint8_t opt_misc[24] = {
	2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1,
	8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78,
};

static const char line[] = "PORT 192,168,1,10,4,1\r\n";
#define LINE_LEN (sizeof(line) - 1)

/* Parse a copy in an exact-size heap buffer (so ASan sees any read past
 * len) and return the result. */
static int parse_exact(const uint8_t *p, size_t len)
{
	struct pkt_view v;
	uint8_t *b = malloc(len ? len : 1);
	int r;

	assert_non_null(b);
	if (len)
		memcpy(b, p, len);
	r = pkt_parse(&v, b, len, len);
	free(b);
	return r;
}

/* ---- parsing ------------------------------------------------------- */

static void test_parse_v4(void **st)
{
	uint8_t b[256];
	static const uint8_t ipopt[4] = { 1, 1, 1, 0 };  /* NOP NOP NOP EOL */
	struct pkt_view v;
	size_t len;

	(void)st;
	len = mk4(b, NULL, 0, opt_misc, sizeof(opt_misc), line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	assert_ptr_equal(v.buf, b);
	assert_int_equal(v.len, len);
	assert_int_equal(v.cap, sizeof(b));
	assert_int_equal(v.family, 4);
	assert_int_equal(v.l4off, 20);
	assert_int_equal(v.payload_off, 20 + 20 + 24);
	assert_int_equal(v.payload_len, LINE_LEN);
	assert_int_equal(v.payload_off + v.payload_len, v.len);
	assert_memory_equal(b + v.payload_off, line, LINE_LEN);
	assert_int_equal(v.src.family, 4);
	assert_int_equal(v.dst.family, 4);
	assert_memory_equal(v.src.a, a4s, 4);
	assert_memory_equal(v.dst.a, a4d, 4);
	assert_int_equal(v.sport, T_SPORT);
	assert_int_equal(v.dport, T_DPORT);
	assert_int_equal(v.seq, T_SEQ);
	assert_int_equal(v.ack, T_ACK);
	assert_int_equal(v.tcp_flags, PKT_ACK | 0x08);
	assert_true(pkt_checksums_ok(&v));

	/* IP options: the TCP header starts after them */
	len = mk4(b, ipopt, 4, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	assert_int_equal(v.l4off, 24);
	assert_int_equal(v.payload_off, 44);
	assert_int_equal(v.payload_len, LINE_LEN);
	assert_int_equal(v.sport, T_SPORT);
	assert_true(pkt_checksums_ok(&v));

	/* bytes past the total length (link padding) are not the packet */
	len = mk4(b, NULL, 0, NULL, 0, "x", 1);
	memset(b + len, 0xee, 10);
	assert_int_equal(pkt_parse(&v, b, len + 10, sizeof(b)), 0);
	assert_int_equal(v.len, len);
	assert_int_equal(v.payload_len, 1);
	assert_true(pkt_checksums_ok(&v));

	/* no payload at all */
	len = mk4(b, NULL, 0, NULL, 0, NULL, 0);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	assert_int_equal(v.payload_len, 0);
	assert_int_equal(v.payload_off, len);
}

static void test_parse_v6_ext(void **st)
{
	uint8_t b[256];
	struct pkt_view v;
	size_t len;
	/* routing header type 4 with segments left 0, then TCP */
	static const uint8_t rh0[] = { 6, 2, 4, 0, 0, 0, 0, 0,
	                               0x20, 1, 0xd, 0xb8, 0, 0, 0, 0,
	                               0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t rh[sizeof(rh0)];

	(void)st;
	len = mk6(b, NULL, 0, 6, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	assert_int_equal(v.family, 6);
	assert_int_equal(v.l4off, 40);
	assert_int_equal(v.payload_off, 60);
	assert_int_equal(v.payload_len, LINE_LEN);
	assert_int_equal(v.len, len);
	assert_int_equal(v.src.family, 6);
	assert_memory_equal(v.src.a, a6s, 16);
	assert_memory_equal(v.dst.a, a6d, 16);
	assert_true(pkt_checksums_ok(&v));

	/* hop-by-hop + destination options */
	len = mk6(b, ext_hd, sizeof(ext_hd), 0, opt_misc, sizeof(opt_misc),
	          line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	assert_int_equal(v.l4off, 40 + sizeof(ext_hd));
	assert_int_equal(v.payload_off, 40 + sizeof(ext_hd) + 44);
	assert_int_equal(v.payload_len, LINE_LEN);
	assert_int_equal(v.sport, T_SPORT);
	assert_int_equal(v.dport, T_DPORT);
	assert_int_equal(v.seq, T_SEQ);
	assert_int_equal(v.ack, T_ACK);
	assert_memory_equal(b + v.payload_off, line, LINE_LEN);
	assert_true(pkt_checksums_ok(&v));

	/* padding past the payload length is ignored */
	memset(b + len, 0xee, 7);
	assert_int_equal(pkt_parse(&v, b, len + 7, sizeof(b)), 0);
	assert_int_equal(v.len, len);

	/* a routing header with no segments left is skipped */
	len = mk6(b, rh0, sizeof(rh0), 43, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	assert_int_equal(v.l4off, 40 + sizeof(rh0));
	assert_true(pkt_checksums_ok(&v));
	/* with segments left the pseudo-header's destination is elsewhere:
	 * refused rather than given a wrong checksum */
	memcpy(rh, rh0, sizeof(rh));
	rh[3] = 1;
	len = mk6(b, rh, sizeof(rh), 43, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len), -EPROTONOSUPPORT);
}

static void test_parse_real(void **st)
{
	(void)st;
	for (size_t i = 0; i < NREAL; i++) {
		const struct real *r = &reals[i];
		uint8_t b[128];
		struct pkt_view v;

		memcpy(b, r->p, r->len);
		assert_int_equal(pkt_parse(&v, b, r->len, sizeof(b)), 0);
		assert_int_equal(v.family, r->family);
		assert_int_equal(v.len, r->len);
		assert_int_equal(v.l4off, r->family == 4 ? 20 : 40);
		assert_int_equal(v.sport, r->sport);
		assert_int_equal(v.dport, 21);
		assert_int_equal(v.seq, r->seq);
		assert_int_equal(v.ack, r->ack);
		assert_int_equal(v.tcp_flags, r->flags);
		assert_int_equal(v.payload_len, r->payload_len);
		if (r->payload_len)
			assert_memory_equal(b + v.payload_off,
			                    "PORT 10,9,0,1,4,1\r\n", 19);
		assert_true(pkt_checksums_ok(&v));
		assert_true(ref_ok(b, v.len, v.l4off));
	}
}

/* ---- refusals ------------------------------------------------------ */

static void test_reject_ihl_version(void **st)
{
	uint8_t b[128];
	struct pkt_view v;
	size_t len;

	(void)st;
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
		b[0] = (uint8_t)(0x40 | ihl);
		assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
	}
	/* ihl larger than the total length */
	len = mk4(b, NULL, 0, NULL, 0, NULL, 0);
	b[0] = 0x4f;
	put16(b + 2, 40);
	assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
	/* ihl 6 leaves only 16 bytes for TCP */
	len = mk4(b, NULL, 0, NULL, 0, NULL, 0);
	b[0] = 0x46;
	assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
	for (uint8_t ver = 0; ver < 16; ver++) {
		if (ver == 4 || ver == 6)
			continue;
		len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
		b[0] = (uint8_t)(ver << 4 | 5);
		assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
	}
	/* an IPv6 header on a packet that says 4, and the reverse */
	len = mk6(b, NULL, 0, 6, NULL, 0, line, LINE_LEN);
	b[0] = 0x45;
	assert_int_not_equal(pkt_parse(&v, b, len, len), 0);
	assert_int_equal(pkt_parse(&v, NULL, 40, 40), -EINVAL);
	assert_int_equal(pkt_parse(&v, b, 0, 0), -EINVAL);
}

static void test_reject_doff(void **st)
{
	uint8_t b[128];
	struct pkt_view v;
	size_t len;

	(void)st;
	for (uint8_t doff = 0; doff < 5; doff++) {
		len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
		b[20 + 12] = (uint8_t)(doff << 4);
		assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
		len = mk6(b, ext_hd, sizeof(ext_hd), 0, NULL, 0, line, LINE_LEN);
		b[40 + sizeof(ext_hd) + 12] = (uint8_t)(doff << 4);
		assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
	}
	/* doff 15 (60 bytes) but only 20 + 8 there */
	len = mk4(b, NULL, 0, NULL, 0, "12345678", 8);
	b[20 + 12] = 0xf0;
	assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
	/* doff exactly the segment: no payload */
	b[20 + 12] = 0x70;
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	assert_int_equal(v.payload_len, 0);
}

/*
 * Every prefix of a packet, with the IP length left alone (so it exceeds
 * len) and with the IP length cut to match (so the TCP or extension
 * header itself is cut short).
 */
static void truncations(const uint8_t *p, size_t len)
{
	struct pkt_view v;
	uint8_t *b;
	size_t hdr;

	b = malloc(len);
	assert_non_null(b);
	memcpy(b, p, len);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	hdr = v.payload_off;
	free(b);
	for (size_t n = 0; n < len; n++) {
		int r = parse_exact(p, n);

		if (r != -EINVAL)
			fail_msg("prefix %zu of %zu: %d", n, len, r);
		if (n < (p[0] >> 4 == 4 ? 20u : 40u))
			continue;
		b = malloc(n);
		assert_non_null(b);
		memcpy(b, p, n);
		if (p[0] >> 4 == 4)
			put16(b + 2, (uint16_t)n);
		else
			put16(b + 4, (uint16_t)(n - 40));
		r = pkt_parse(&v, b, n, n);
		if (n < hdr ? r != -EINVAL : r != 0)
			fail_msg("cut at %zu (headers %zu): %d", n, hdr, r);
		if (r == 0)
			assert_int_equal(v.payload_len, n - hdr);
		free(b);
	}
}

static void test_reject_truncated(void **st)
{
	uint8_t b[256];
	size_t len;

	(void)st;
	len = mk4(b, NULL, 0, opt_misc, sizeof(opt_misc), line, LINE_LEN);
	truncations(b, len);
	len = mk4(b, (const uint8_t *)"\1\1\1\0", 4, NULL, 0, line, LINE_LEN);
	truncations(b, len);
	len = mk6(b, ext_hd, sizeof(ext_hd), 0, opt_misc, sizeof(opt_misc),
	          line, LINE_LEN);
	truncations(b, len);
	for (size_t i = 0; i < NREAL; i++)
		truncations(reals[i].p, reals[i].len);
}

static void test_reject_total_len(void **st)
{
	uint8_t b[256];
	struct pkt_view v;
	size_t len;

	(void)st;
	len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
	put16(b + 2, (uint16_t)(len + 1));
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	put16(b + 2, 0xffff);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	put16(b + 2, 0);                    /* TSO-style zero */
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	put16(b + 2, 19);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	/* shorter than len: the rest is ignored */
	put16(b + 2, (uint16_t)(len - 3));
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	assert_int_equal(v.len, len - 3);
	assert_int_equal(v.payload_len, LINE_LEN - 3);

	len = mk6(b, ext_hd, sizeof(ext_hd), 0, NULL, 0, line, LINE_LEN);
	put16(b + 4, (uint16_t)(len - 40 + 1));
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	put16(b + 4, 0);                    /* jumbogram */
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	/* payload length ending inside the extension headers */
	put16(b + 4, 12);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	/* a destination options header claiming more than there is */
	len = mk6(b, ext_hd, sizeof(ext_hd), 0, NULL, 0, line, LINE_LEN);
	b[40 + 8 + 1] = 40;
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), -EINVAL);
	/* ... or ending past the payload length, inside trailing bytes */
	len = mk6(b, ext_hd, sizeof(ext_hd), 0, NULL, 0, NULL, 0);
	memset(b + len, 0x50, 64);          /* would pass as doff 5 */
	b[40 + 8] = 6;
	b[40 + 8 + 1] = 5;                  /* 48 bytes, 12 past the end */
	put16(b + 4, 8 + 16 + 20);
	assert_int_equal(pkt_parse(&v, b, len + 64, sizeof(b)), -EINVAL);

	/* cap below len */
	len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len - 1), -EINVAL);
}

static void test_reject_fragments(void **st)
{
	uint8_t b[256];
	struct pkt_view v;
	size_t len;
	static const uint16_t frag[] = { 0x2000, 0x0001, 0x1fff, 0x2001,
	                                 0x6000, 0x4001, 0xffff, 0x00b9 };
	static const uint8_t fh[] = { 6, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t hbh_fh[] = { 44, 0, 1, 4, 0, 0, 0, 0,
	                                  6, 0, 0, 0, 0, 0, 0, 1 };

	(void)st;
	for (size_t i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
		put16(b + 6, frag[i]);
		assert_int_equal(pkt_parse(&v, b, len, len), -EMSGSIZE);
	}
	/* DF and the reserved bit alone are not fragments */
	len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
	put16(b + 6, 0xc000);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);

	/* IPv6 fragment header, first or after hop-by-hop; even an
	 * "atomic" fragment (offset 0, M clear) */
	len = mk6(b, fh, sizeof(fh), 44, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len), -EMSGSIZE);
	len = mk6(b, hbh_fh, sizeof(hbh_fh), 0, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len), -EMSGSIZE);
}

static void test_reject_non_tcp(void **st)
{
	uint8_t b[256];
	struct pkt_view v;
	size_t len;
	static const uint8_t protos[] = { 1, 17, 58, 132, 50, 51, 59, 255, 0 };
	uint8_t dst_udp[8] = { 17, 0, 1, 4, 0, 0, 0, 0 };

	(void)st;
	for (size_t i = 0; i < sizeof(protos); i++) {
		len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
		b[9] = protos[i];
		assert_int_equal(pkt_parse(&v, b, len, len), -EPROTONOSUPPORT);
		if (protos[i] == 0)         /* hop-by-hop is not final in v6 */
			continue;
		len = mk6(b, NULL, 0, protos[i], NULL, 0, line, LINE_LEN);
		assert_int_equal(pkt_parse(&v, b, len, len), -EPROTONOSUPPORT);
	}
	/* UDP after a destination options header */
	len = mk6(b, dst_udp, sizeof(dst_udp), 60, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len), -EPROTONOSUPPORT);
}

static void test_reject_ext_count(void **st)
{
	uint8_t b[512], ext[9 * 8];
	struct pkt_view v;
	size_t len;

	(void)st;
	for (int n = 1; n <= 9; n++) {
		for (int i = 0; i < n; i++) {
			uint8_t *e = ext + i * 8;

			e[0] = i == n - 1 ? 6 : 60;
			e[1] = 0;
			e[2] = 1;          /* PadN, 4 */
			e[3] = 4;
			memset(e + 4, 0, 4);
		}
		len = mk6(b, ext, (size_t)n * 8, 60, NULL, 0, line, LINE_LEN);
		if (n <= 8) {
			assert_int_equal(pkt_parse(&v, b, len, len), 0);
			assert_int_equal(v.l4off, 40 + (size_t)n * 8);
			assert_true(pkt_checksums_ok(&v));
		} else {
			assert_int_equal(pkt_parse(&v, b, len, len), -EINVAL);
		}
	}
}

/* ---- payload edits ------------------------------------------------- */

/* After an edit: the view matches a fresh parse, the IP length field
 * says v.len, checksums fixed are right by both computations. */
static void check_edited(struct pkt_view *v)
{
	struct pkt_view w;

	assert_int_equal(v->payload_off + v->payload_len, v->len);
	if (v->family == 4)
		assert_int_equal(get16(v->buf + 2), v->len);
	else
		assert_int_equal(get16(v->buf + 4) + 40, v->len);
	pkt_fix_checksums(v);
	assert_true(pkt_checksums_ok(v));
	assert_true(ref_ok(v->buf, v->len, v->l4off));
	assert_int_equal(pkt_parse(&w, v->buf, v->len, v->cap), 0);
	assert_int_equal(w.l4off, v->l4off);
	assert_int_equal(w.payload_off, v->payload_off);
	assert_int_equal(w.payload_len, v->payload_len);
	assert_int_equal(w.seq, v->seq);
}

struct edit_case {
	size_t off, old_len;
	const char *new;
	const char *expect;
};

static void test_replace(void **st)
{
	/* line is "PORT 192,168,1,10,4,1\r\n" */
	static const struct edit_case cases[] = {
		/* middle, growing */
		{ 5, 16, "203,0,113,100,4,1", "PORT 203,0,113,100,4,1\r\n" },
		/* middle, shrinking */
		{ 5, 16, "1,2,3,4,0,21", "PORT 1,2,3,4,0,21\r\n" },
		/* middle, same length */
		{ 5, 3, "010", "PORT 010,168,1,10,4,1\r\n" },
		/* at the start */
		{ 0, 4, "EPRT", "EPRT 192,168,1,10,4,1\r\n" },
		{ 0, 0, "NOOP\r\n", "NOOP\r\nPORT 192,168,1,10,4,1\r\n" },
		{ 0, 5, "", "192,168,1,10,4,1\r\n" },
		/* at the end */
		{ LINE_LEN, 0, "X\r\n", "PORT 192,168,1,10,4,1\r\nX\r\n" },
		{ LINE_LEN - 2, 2, "\n", "PORT 192,168,1,10,4,1\n" },
		{ LINE_LEN - 2, 2, "", "PORT 192,168,1,10,4,1" },
		/* all of it */
		{ 0, LINE_LEN, "500 no\r\n", "500 no\r\n" },
		{ 0, LINE_LEN, "", "" },
		/* nothing */
		{ 3, 0, "", "PORT 192,168,1,10,4,1\r\n" },
	};

	(void)st;
	for (int fam = 4; fam <= 6; fam += 2) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct edit_case *c = &cases[i];
			uint8_t b[512];
			struct pkt_view v;
			size_t len, hdr, nl = strlen(c->new);

			len = fam == 4
			      ? mk4(b, NULL, 0, opt_misc, sizeof(opt_misc),
			            line, LINE_LEN)
			      : mk6(b, ext_hd, sizeof(ext_hd), 0, opt_misc,
			            sizeof(opt_misc), line, LINE_LEN);
			memset(b + len, 0xaa, sizeof(b) - len);
			assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
			hdr = v.payload_off;
			assert_int_equal(pkt_replace(&v, c->off, c->old_len,
			                             (const uint8_t *)c->new, nl),
			                 0);
			assert_int_equal(v.payload_len, strlen(c->expect));
			assert_int_equal(v.len, hdr + strlen(c->expect));
			assert_int_equal(v.payload_off, hdr);
			assert_memory_equal(b + hdr, c->expect,
			                    strlen(c->expect));
			/* nothing written past the new end when shrinking */
			if (v.len < len)
				assert_int_equal(b[len], 0xaa);
			check_edited(&v);
		}
	}
}

static void test_replace_several(void **st)
{
	uint8_t b[512];
	struct pkt_view v;
	size_t len;

	(void)st;
	len = mk6(b, ext_hd, sizeof(ext_hd), 0, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	/* two edits, the second at an offset in the edited payload */
	assert_int_equal(pkt_replace(&v, 0, 4, (const uint8_t *)"port", 4), 0);
	assert_int_equal(pkt_replace(&v, 5, 3, (const uint8_t *)"1", 1), 0);
	assert_int_equal(pkt_replace(&v, 7, 3, (const uint8_t *)"22,33", 5), 0);
	assert_int_equal(v.payload_len, LINE_LEN - 2 + 2);
	assert_memory_equal(b + v.payload_off, "port 1,22,33,1,10,4,1\r\n",
	                    v.payload_len);
	check_edited(&v);
}

static void test_replace_enospc(void **st)
{
	uint8_t b[256], copy[256];
	static uint8_t big[PKT_MAX + 128], fill[PKT_MAX];
	struct pkt_view v;
	size_t len;

	(void)st;
	len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
	memcpy(copy, b, sizeof(b));
	/* no room at all */
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	assert_int_equal(pkt_replace(&v, 5, 3, (const uint8_t *)"1234", 4),
	                 -ENOSPC);
	assert_memory_equal(b, copy, sizeof(b));
	assert_int_equal(v.len, len);
	/* shrinking or equal still works without room */
	assert_int_equal(pkt_replace(&v, 5, 3, (const uint8_t *)"123", 3), 0);
	/* exactly up to cap */
	len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len + 2), 0);
	assert_int_equal(pkt_replace(&v, 5, 3, (const uint8_t *)"12345", 5), 0);
	assert_int_equal(v.len, len + 2);
	assert_int_equal(pkt_replace(&v, 0, 0, (const uint8_t *)"x", 1),
	                 -ENOSPC);
	check_edited(&v);
	/* absurd new lengths must not wrap */
	assert_int_equal(pkt_replace(&v, 0, 1, (const uint8_t *)"x",
	                             (size_t)-1), -ENOSPC);
	assert_int_equal(pkt_replace(&v, 0, v.payload_len,
	                             (const uint8_t *)"x", (size_t)-1 - 10),
	                 -ENOSPC);

	/* PKT_MAX bounds it even with a larger cap */
	len = mk4(big, NULL, 0, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, big, len, sizeof(big)), 0);
	memset(fill, 'z', sizeof(fill));
	assert_int_equal(pkt_replace(&v, LINE_LEN, 0, fill, PKT_MAX - len + 1),
	                 -ENOSPC);
	assert_int_equal(v.len, len);
	assert_int_equal(pkt_replace(&v, LINE_LEN, 0, fill, PKT_MAX - len), 0);
	assert_int_equal(v.len, PKT_MAX);
	assert_int_equal(get16(big + 2), PKT_MAX);
	check_edited(&v);

	/* IPv6: the limit is the whole packet too */
	len = mk6(big, NULL, 0, 6, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, big, len, sizeof(big)), 0);
	assert_int_equal(pkt_replace(&v, 0, 0, fill, PKT_MAX - len + 1),
	                 -ENOSPC);
	assert_int_equal(pkt_replace(&v, 0, 0, fill, PKT_MAX - len), 0);
	assert_int_equal(get16(big + 4), PKT_MAX - 40);
	check_edited(&v);
}

static void test_replace_erange(void **st)
{
	uint8_t b[256], copy[256];
	struct pkt_view v, v0;
	size_t len;
	static const size_t bad[][2] = {
		{ LINE_LEN + 1, 0 }, { LINE_LEN, 1 }, { 0, LINE_LEN + 1 },
		{ 10, LINE_LEN - 9 }, { (size_t)-1, 0 }, { 1, (size_t)-1 },
		{ (size_t)-1, (size_t)-1 }, { LINE_LEN, (size_t)-LINE_LEN },
	};

	(void)st;
	len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
	memcpy(copy, b, sizeof(b));
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	v0 = v;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pkt_replace(&v, bad[i][0], bad[i][1],
		                             (const uint8_t *)"ab", 2), -ERANGE);
		assert_memory_equal(b, copy, sizeof(b));
		assert_memory_equal(&v, &v0, sizeof(v));
	}
	/* a packet without payload: only (0, 0) is inside */
	len = mk4(b, NULL, 0, NULL, 0, NULL, 0);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	assert_int_equal(pkt_replace(&v, 0, 1, NULL, 0), -ERANGE);
	assert_int_equal(pkt_replace(&v, 1, 0, NULL, 0), -ERANGE);
	assert_int_equal(pkt_replace(&v, 0, 0, (const uint8_t *)"ab", 2), 0);
	assert_memory_equal(b + v.payload_off, "ab", 2);
	check_edited(&v);
}

static void test_truncate(void **st)
{
	uint8_t b[256];
	struct pkt_view v;
	size_t len;

	(void)st;
	for (int fam = 4; fam <= 6; fam += 2) {
		len = fam == 4 ? mk4(b, NULL, 0, opt_misc, sizeof(opt_misc),
		                     line, LINE_LEN)
		               : mk6(b, ext_hd, sizeof(ext_hd), 0, NULL, 0,
		                     line, LINE_LEN);
		assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
		assert_int_equal(pkt_truncate(&v, LINE_LEN + 1), -ERANGE);
		assert_int_equal(pkt_truncate(&v, (size_t)-1), -ERANGE);
		assert_int_equal(v.len, len);
		assert_int_equal(pkt_truncate(&v, LINE_LEN), 0);
		assert_int_equal(v.len, len);
		assert_int_equal(pkt_truncate(&v, 4), 0);
		assert_int_equal(v.payload_len, 4);
		assert_int_equal(v.len, len - LINE_LEN + 4);
		assert_memory_equal(b + v.payload_off, "PORT", 4);
		check_edited(&v);
		assert_int_equal(pkt_truncate(&v, 5), -ERANGE);
		assert_int_equal(pkt_truncate(&v, 0), 0);
		assert_int_equal(v.payload_len, 0);
		assert_int_equal(v.len, v.payload_off);
		check_edited(&v);
	}
}

static void test_set_seq_ack(void **st)
{
	uint8_t b[256];
	struct pkt_view v, w;
	size_t len;

	(void)st;
	len = mk6(b, ext_hd, sizeof(ext_hd), 0, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	pkt_set_seq(&v, 0xdeadbeef);
	pkt_set_ack(&v, 0x00000001);
	assert_int_equal(v.seq, 0xdeadbeef);
	assert_int_equal(v.ack, 1);
	assert_int_equal(get32(b + v.l4off + 4), 0xdeadbeef);
	assert_int_equal(get32(b + v.l4off + 8), 1);
	assert_int_equal(get16(b + v.l4off), T_SPORT);
	assert_int_equal(b[v.l4off + 12], 0x50);
	pkt_fix_checksums(&v);
	assert_true(ref_ok(b, len, v.l4off));
	assert_int_equal(pkt_parse(&w, b, len, sizeof(b)), 0);
	assert_int_equal(w.seq, 0xdeadbeef);
	assert_int_equal(w.ack, 1);
}

/* ---- SACK ---------------------------------------------------------- */

/* Options: NOP NOP SACK with n blocks, after an optional prefix. */
static size_t sack_opts(uint8_t *o, const uint8_t *pre, size_t prelen,
                        const uint32_t blk[][2], int n)
{
	size_t k = prelen;

	if (prelen)
		memcpy(o, pre, prelen);
	o[k++] = 1;
	o[k++] = 1;
	o[k++] = 5;
	o[k++] = (uint8_t)(2 + 8 * n);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < 2; j++) {
			o[k++] = (uint8_t)(blk[i][j] >> 24);
			o[k++] = (uint8_t)(blk[i][j] >> 16);
			o[k++] = (uint8_t)(blk[i][j] >> 8);
			o[k++] = (uint8_t)blk[i][j];
		}
	}
	while (k % 4)
		o[k++] = 0;                 /* EOL padding */
	return k;
}

static const uint32_t blocks[4][2] = {
	{ 0x10000000, 0x10000100 }, { 0xfffffff0, 0x00000010 },
	{ 0x7fffffff, 0x80000000 }, { 1, 2 },
};

static void check_sack_rw(uint8_t *b, size_t len, int n,
                          const uint32_t (*want)[2])
{
	struct pkt_view v;
	uint32_t got[PKT_SACK_MAX][2], neu[PKT_SACK_MAX][2];
	uint8_t before[512];

	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(pkt_get_sack(&v, got), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(got[i][0], want[i][0]);
		assert_int_equal(got[i][1], want[i][1]);
		neu[i][0] = got[i][0] + 0x01010101u * (uint32_t)(i + 1);
		neu[i][1] = got[i][1] - 7;
	}
	memcpy(before, b, len);
	pkt_set_sack(&v, (const uint32_t (*)[2])neu, n);
	assert_int_equal(pkt_get_sack(&v, got), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(got[i][0], neu[i][0]);
		assert_int_equal(got[i][1], neu[i][1]);
	}
	/* only SACK edges changed: 8n bytes at most */
	{
		size_t diff = 0;

		for (size_t i = 0; i < len; i++)
			diff += b[i] != before[i];
		assert_true(diff <= (size_t)8 * n);
		assert_true(n == 0 || diff > 0);
	}
	/* a different count writes nothing */
	memcpy(before, b, len);
	pkt_set_sack(&v, (const uint32_t (*)[2])neu, n + 1);
	if (n > 0)
		pkt_set_sack(&v, (const uint32_t (*)[2])neu, n - 1);
	assert_memory_equal(b, before, len);
	/* and back */
	pkt_set_sack(&v, want, n);
	pkt_fix_checksums(&v);
	assert_true(ref_ok(b, len, v.l4off));
}

static void test_sack(void **st)
{
	uint8_t b[256], o[40];
	/* MSS, NOP, WS then the SACK */
	static const uint8_t mss_ws[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };
	/* NOP NOP TS then the SACK (what Linux sends) */
	static const uint8_t ts[] = { 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t ol, len;

	(void)st;
	for (int n = 1; n <= 4; n++) {
		ol = sack_opts(o, NULL, 0, blocks, n);
		len = mk4(b, NULL, 0, o, ol, line, LINE_LEN);
		check_sack_rw(b, len, n, blocks);
		len = mk6(b, ext_hd, sizeof(ext_hd), 0, o, ol, NULL, 0);
		check_sack_rw(b, len, n, blocks);
		if (n <= 3) {
			ol = sack_opts(o, ts, sizeof(ts), blocks, n);
			len = mk4(b, NULL, 0, o, ol, NULL, 0);
			check_sack_rw(b, len, n, blocks);
			ol = sack_opts(o, mss_ws, sizeof(mss_ws), blocks, n);
			len = mk6(b, NULL, 0, 6, o, ol, line, LINE_LEN);
			check_sack_rw(b, len, n, blocks);
		}
	}
	/* SACK first, then timestamps after it */
	ol = sack_opts(o, NULL, 0, blocks, 2);       /* 20 bytes, no pad */
	memcpy(o + ol, ts, sizeof(ts));
	len = mk4(b, NULL, 0, o, ol + sizeof(ts), line, LINE_LEN);
	check_sack_rw(b, len, 2, blocks);
	/* two SACK options: blocks of both, in order */
	{
		static const uint8_t two[] = {
			5, 10, 0, 0, 0, 1, 0, 0, 0, 2,
			5, 10, 0, 0, 0, 3, 0, 0, 0, 4,
		};
		static const uint32_t want[2][2] = { { 1, 2 }, { 3, 4 } };

		len = mk4(b, NULL, 0, two, sizeof(two), NULL, 0);
		check_sack_rw(b, len, 2, want);
	}
	/* no options, only others, SACK-permitted, empty SACK */
	len = mk4(b, NULL, 0, NULL, 0, line, LINE_LEN);
	check_sack_rw(b, len, 0, blocks);
	len = mk4(b, NULL, 0, opt_misc, sizeof(opt_misc), line, LINE_LEN);
	check_sack_rw(b, len, 0, blocks);
	/* the kernel's real SACKs */
	{
		static const uint32_t want4[4][2] = {
			{ 0x91, 0x96 }, { 0x2d, 0x34 },
			{ 0xffffffc9, 0xffffffd3 }, { 0xffffff65, 0xffffff79 },
		};

		memcpy(b, real_v4nots_sack4, sizeof(real_v4nots_sack4));
		check_sack_rw(b, sizeof(real_v4nots_sack4), 4, want4);
		assert_memory_equal(b, real_v4nots_sack4,
		                    sizeof(real_v4nots_sack4));
		memcpy(b, real_v4ts_sack3, sizeof(real_v4ts_sack3));
		check_sack_rw(b, sizeof(real_v4ts_sack3), 3, want4 + 1);
		assert_memory_equal(b, real_v4ts_sack3, sizeof(real_v4ts_sack3));
		memcpy(b, real_v6ts_sack3, sizeof(real_v6ts_sack3));
		check_sack_rw(b, sizeof(real_v6ts_sack3), 3, want4 + 1);
		assert_memory_equal(b, real_v6ts_sack3, sizeof(real_v6ts_sack3));
	}
}

/*
 * Malformed options: no blocks, nothing written, no read past the TCP
 * header (each case sits in an exact-size heap buffer whose packet ends
 * where the header does, so ASan reports any overread).
 */
static void test_sack_malformed(void **st)
{
	static const struct {
		uint8_t o[40];
		size_t len;
		int want;
	} cases[] = {
		/* SACK of length 0, 1 */
		{ { 5, 0, 0, 0 }, 4, 0 },
		{ { 5, 1, 0, 0 }, 4, 0 },
		/* any option of length 0 before a good SACK */
		{ { 8, 0, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0 }, 16, 0 },
		/* SACK running past the header */
		{ { 1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2 }, 12, 0 },
		{ { 1, 1, 5, 10, 0, 0, 0, 1 }, 8, 0 },
		/* a kind byte with no length byte at the very end */
		{ { 1, 1, 1, 5 }, 4, 0 },
		{ { 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 8 }, 12, 0 },
		/* a good SACK followed by garbage: refused as a whole */
		{ { 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 8, 30 }, 12, 0 },
		/* SACK lengths that are not 2 + 8n are skipped, not read */
		{ { 5, 2, 1, 1 }, 4, 0 },
		{ { 5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1 }, 12, 0 },
		{ { 5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0 }, 12, 0 },
		/* ... and what follows them still counts */
		{ { 5, 6, 0, 0, 0, 0, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2 }, 16, 1 },
		/* EOL ends the list: a SACK after it is not an option */
		{ { 0, 0, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2 }, 12, 0 },
		/* all NOPs, all EOLs, a full 40 bytes of NOP */
		{ { 1, 1, 1, 1 }, 4, 0 },
		{ { 0, 0, 0, 0 }, 4, 0 },
		{ { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5 },
		  40, 0 },
		/* a 40-byte SACK option (impossible 4.75 blocks) */
		{ { 5, 40 }, 40, 0 },
		/* 34-byte SACK: 4 blocks, fine */
		{ { 5, 34 }, 36, 4 },
		/* TS claiming 255 bytes */
		{ { 8, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 12, 0 },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t tmp[128], *b;
		struct pkt_view v;
		uint32_t s[PKT_SACK_MAX][2];
		static const uint32_t z[PKT_SACK_MAX][2];
		size_t len;

		/* no payload: the header is the end of the buffer */
		len = mk4(tmp, NULL, 0, cases[i].o, cases[i].len, NULL, 0);
		b = malloc(len);
		assert_non_null(b);
		memcpy(b, tmp, len);
		assert_int_equal(pkt_parse(&v, b, len, len), 0);
		if (pkt_get_sack(&v, s) != cases[i].want)
			fail_msg("case %zu: %d blocks, want %d", i,
			         pkt_get_sack(&v, s), cases[i].want);
		pkt_set_sack(&v, z, 1);
		pkt_set_sack(&v, z, 4);
		if (cases[i].want == 0)
			assert_memory_equal(b, tmp, len);
		pkt_set_sack(&v, z, 0);
		pkt_set_sack(&v, z, -1);
		free(b);
	}
}

/* ---- checksums ----------------------------------------------------- */

static void test_checksums_real(void **st)
{
	(void)st;
	for (size_t i = 0; i < NREAL; i++) {
		const struct real *r = &reals[i];
		uint8_t b[128];
		struct pkt_view v;

		memcpy(b, r->p, r->len);
		assert_int_equal(pkt_parse(&v, b, r->len, sizeof(b)), 0);
		assert_true(pkt_checksums_ok(&v));
		/* wrong and zeroed checksums are recomputed to the kernel's */
		b[v.l4off + 16] ^= 0x5a;
		assert_false(pkt_checksums_ok(&v));
		b[v.l4off + 17] = 0;
		if (r->family == 4) {
			b[10] = 0xff;
			b[11] = 0xff;
		}
		pkt_fix_checksums(&v);
		assert_memory_equal(b, r->p, r->len);
		/* an IPv4 header checksum alone wrong is caught */
		if (r->family == 4) {
			b[11] ^= 1;
			assert_false(pkt_checksums_ok(&v));
			b[11] ^= 1;
		}
		/* any byte of the pseudo-header or segment flipped is caught */
		for (size_t k = r->family == 4 ? 12 : 8; k < r->len; k++) {
			if (r->family == 6 && k >= 8 && k < 40) {
				b[k] ^= 0x80;
			} else {
				b[k] ^= 0x01;
			}
			if (pkt_checksums_ok(&v))
				fail_msg("%s: byte %zu flipped still ok",
				         r->name, k);
			memcpy(b, r->p, r->len);
		}
	}
}

static void test_checksums_built(void **st)
{
	static uint8_t b[PKT_MAX + 64];
	static uint8_t data[PKT_MAX];
	struct pkt_view v;
	size_t len, lens[] = { 0, 1, 2, 3, 19, 1459, 1460, 8191 };

	(void)st;
	/* odd and even lengths, IP options, ext headers */
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t k = 0; k < lens[i]; k++)
			data[k] = (uint8_t)(k * 37 + 11);
		len = mk4(b, (const uint8_t *)"\1\1\1\0", 4, opt_misc,
		          sizeof(opt_misc), data, lens[i]);
		assert_int_equal(pkt_parse(&v, b, len, len), 0);
		assert_true(pkt_checksums_ok(&v));
		b[10] ^= 0xff;
		b[v.l4off + 16] ^= 0x12;
		assert_false(pkt_checksums_ok(&v));
		pkt_fix_checksums(&v);
		assert_true(pkt_checksums_ok(&v));
		assert_true(ref_ok(b, len, v.l4off));

		len = mk6(b, ext_hd, sizeof(ext_hd), 0, opt_misc,
		          sizeof(opt_misc), data, lens[i]);
		assert_int_equal(pkt_parse(&v, b, len, len), 0);
		assert_true(pkt_checksums_ok(&v));
		b[v.l4off + 16] = 0;
		b[v.l4off + 17] = 0;
		pkt_fix_checksums(&v);
		assert_true(pkt_checksums_ok(&v));
		assert_true(ref_ok(b, len, v.l4off));
	}
	/* the largest packets, all 0xff: many carries */
	memset(data, 0xff, sizeof(data));
	len = mk4(b, NULL, 0, NULL, 0, data, PKT_MAX - 40);
	assert_int_equal(len, PKT_MAX);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	assert_true(pkt_checksums_ok(&v));
	b[v.l4off + 16] ^= 0xff;
	pkt_fix_checksums(&v);
	assert_true(ref_ok(b, len, v.l4off));
	len = mk6(b, NULL, 0, 6, NULL, 0, data, PKT_MAX - 60);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	assert_true(pkt_checksums_ok(&v));
	b[v.l4off + 17] ^= 0xff;
	assert_false(pkt_checksums_ok(&v));
	pkt_fix_checksums(&v);
	assert_true(ref_ok(b, len, v.l4off));
}

/* GSO/offload: the checksum field holds only the pseudo-header sum (or
 * anything); fix computes the full sum regardless. */
static void test_checksums_partial(void **st)
{
	uint8_t b[256];
	struct pkt_view v;
	size_t len;

	(void)st;
	len = mk6(b, NULL, 0, 6, NULL, 0, line, LINE_LEN);
	assert_int_equal(pkt_parse(&v, b, len, len), 0);
	/* what a CHECKSUM_PARTIAL packet carries: ~pseudo-header sum */
	{
		uint8_t ph[40] = { 0 };
		uint16_t s;

		memcpy(ph, b + 8, 32);
		ph[34] = (uint8_t)((len - 40) >> 8);
		ph[35] = (uint8_t)(len - 40);
		ph[39] = 6;
		s = ref_sum(0, ph, 40);
		memcpy(b + 40 + 16, &s, 2);
	}
	assert_false(pkt_checksums_ok(&v));
	assert_int_equal(pkt_replace(&v, 5, 3, (const uint8_t *)"10", 2), 0);
	pkt_fix_checksums(&v);
	assert_true(pkt_checksums_ok(&v));
	assert_true(ref_ok(b, v.len, v.l4off));
}

/* The edit path end to end on a real packet: the kernel's PORT line
 * rewritten, lengths and checksums right. */
static void test_replace_real(void **st)
{
	static const char want[] = "PORT 203,0,113,1,4,1\r\n";

	(void)st;
	for (size_t i = 0; i < 2; i++) {
		const struct real *r = &reals[i];
		uint8_t b[256];
		struct pkt_view v;

		memcpy(b, r->p, r->len);
		assert_int_equal(pkt_parse(&v, b, r->len, sizeof(b)), 0);
		assert_int_equal(pkt_replace(&v, 5, 8,
		                             (const uint8_t *)"203,0,113,1", 11),
		                 0);
		assert_int_equal(v.payload_len, sizeof(want) - 1);
		assert_memory_equal(b + v.payload_off, want, sizeof(want) - 1);
		assert_int_equal(v.len, r->len + 3);
		assert_false(pkt_checksums_ok(&v));
		check_edited(&v);
		/* and back: identical to what the kernel sent */
		assert_int_equal(pkt_replace(&v, 5, 11,
		                             (const uint8_t *)"10,9,0,1", 8), 0);
		pkt_fix_checksums(&v);
		assert_memory_equal(b, r->p, r->len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v4),
		cmocka_unit_test(test_parse_v6_ext),
		cmocka_unit_test(test_parse_real),
		cmocka_unit_test(test_reject_ihl_version),
		cmocka_unit_test(test_reject_doff),
		cmocka_unit_test(test_reject_truncated),
		cmocka_unit_test(test_reject_total_len),
		cmocka_unit_test(test_reject_fragments),
		cmocka_unit_test(test_reject_non_tcp),
		cmocka_unit_test(test_reject_ext_count),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_replace_several),
		cmocka_unit_test(test_replace_enospc),
		cmocka_unit_test(test_replace_erange),
		cmocka_unit_test(test_replace_real),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_set_seq_ack),
		cmocka_unit_test(test_sack),
		cmocka_unit_test(test_sack_malformed),
		cmocka_unit_test(test_checksums_real),
		cmocka_unit_test(test_checksums_built),
		cmocka_unit_test(test_checksums_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
