/*
 * pkt.c - bounds-checked view of one IPv4/IPv6 TCP packet and its edits.
 *
 * Every header field is read with byte arithmetic (the buffer has no
 * alignment guarantee), and every length taken from the packet is checked
 * against what is there before it becomes an offset.
 */
#include <errno.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include "pkt.h"

#define IP4_HDR_MIN 20
#define IP6_HDR_LEN 40
#define TCP_HDR_MIN 20
#define IP6_EXT_MAX 8          /* extension headers walked at most */
#define TCP_OFF_CHECK 16       /* TCP checksum field */
#define IP4_OFF_CHECK 10       /* IPv4 header checksum field */
#define SACK_BLOCK 8           /* bytes per SACK block */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void wr16(uint8_t *p, uint16_t x)
{
	p[0] = (uint8_t)(x >> 8);
	p[1] = (uint8_t)x;
}

static void wr32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)(x >> 24);
	p[1] = (uint8_t)(x >> 16);
	p[2] = (uint8_t)(x >> 8);
	p[3] = (uint8_t)x;
}

/* The TCP header at v->l4off, within v->len. */
static int parse_tcp(struct pkt_view *v)
{
	const uint8_t *t;
	size_t doff;

	if (v->len - v->l4off < TCP_HDR_MIN)
		return -EINVAL;
	t = v->buf + v->l4off;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_HDR_MIN || doff > v->len - v->l4off)
		return -EINVAL;
	v->payload_off = v->l4off + doff;
	v->payload_len = v->len - v->payload_off;
	v->sport = rd16(t);
	v->dport = rd16(t + 2);
	v->seq = rd32(t + 4);
	v->ack = rd32(t + 8);
	v->tcp_flags = t[13];
	return 0;
}

static int parse_v4(struct pkt_view *v, const uint8_t *b, size_t len)
{
	size_t ihl, tot;

	if (len < IP4_HDR_MIN)
		return -EINVAL;
	ihl = (size_t)(b[0] & 0x0f) * 4;
	tot = rd16(b + 2);
	if (ihl < IP4_HDR_MIN || tot < ihl || tot > len)
		return -EINVAL;
	if (rd16(b + 6) & (IP_MF | IP_OFFMASK))
		return -EMSGSIZE;
	if (b[9] != IPPROTO_TCP)
		return -EPROTONOSUPPORT;
	v->family = 4;
	v->len = tot;
	v->l4off = ihl;
	v->src.family = v->dst.family = 4;
	memcpy(v->src.a, b + 12, 4);
	memcpy(v->dst.a, b + 16, 4);
	return 0;
}

static int parse_v6(struct pkt_view *v, const uint8_t *b, size_t len)
{
	size_t off = IP6_HDR_LEN, end;
	uint8_t nh;
	int n = 0;

	if (len < IP6_HDR_LEN)
		return -EINVAL;
	end = IP6_HDR_LEN + (size_t)rd16(b + 4);
	if (end > len)
		return -EINVAL;
	nh = b[6];
	while (nh != IPPROTO_TCP) {
		size_t elen;

		if (nh == IPPROTO_FRAGMENT)
			return -EMSGSIZE;
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
		    nh != IPPROTO_DSTOPTS)
			return -EPROTONOSUPPORT;
		if (++n > IP6_EXT_MAX || end - off < 8)
			return -EINVAL;
		elen = ((size_t)b[off + 1] + 1) * 8;
		if (elen > end - off)
			return -EINVAL;
		/*
		 * With segments left, the TCP pseudo-header's destination is
		 * the final one inside the routing header, not the IPv6
		 * destination: no checksum we compute would be right.
		 */
		if (nh == IPPROTO_ROUTING && b[off + 3] != 0)
			return -EPROTONOSUPPORT;
		nh = b[off];
		off += elen;
	}
	v->family = 6;
	v->len = end;
	v->l4off = off;
	v->src.family = v->dst.family = 6;
	memcpy(v->src.a, b + 8, 16);
	memcpy(v->dst.a, b + 24, 16);
	return 0;
}

int pkt_parse(struct pkt_view *v, uint8_t *buf, size_t len, size_t cap)
{
	int r;

	memset(v, 0, sizeof(*v));
	if (!buf || len == 0 || cap < len)
		return -EINVAL;
	switch (buf[0] >> 4) {
	case 4:
		r = parse_v4(v, buf, len);
		break;
	case 6:
		r = parse_v6(v, buf, len);
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r == 0) {
		v->buf = buf;
		v->cap = cap;
		r = parse_tcp(v);
	}
	if (r != 0)
		memset(v, 0, sizeof(*v));
	return r;
}

/* Write v->len into the IP header's length field. */
static void set_ip_len(struct pkt_view *v)
{
	if (v->family == 4)
		wr16(v->buf + 2, (uint16_t)v->len);
	else
		wr16(v->buf + 4, (uint16_t)(v->len - IP6_HDR_LEN));
}

int pkt_replace(struct pkt_view *v, size_t off, size_t old_len,
                const uint8_t *data, size_t new_len)
{
	size_t start, tail, total;

	if (off > v->payload_len || old_len > v->payload_len - off)
		return -ERANGE;
	if (new_len > PKT_MAX)
		return -ENOSPC;
	total = v->len - old_len + new_len;
	if (total > v->cap || total > PKT_MAX)
		return -ENOSPC;
	if (new_len > 0 && !data)
		return -EINVAL;
	start = v->payload_off + off;
	tail = v->len - start - old_len;
	if (new_len != old_len)
		memmove(v->buf + start + new_len, v->buf + start + old_len,
		        tail);
	if (new_len > 0)
		memcpy(v->buf + start, data, new_len);
	v->len = total;
	v->payload_len = total - v->payload_off;
	set_ip_len(v);
	return 0;
}

int pkt_truncate(struct pkt_view *v, size_t new_len)
{
	if (new_len > v->payload_len)
		return -ERANGE;
	return pkt_replace(v, new_len, v->payload_len - new_len, NULL, 0);
}

void pkt_set_seq(struct pkt_view *v, uint32_t seq)
{
	wr32(v->buf + v->l4off + 4, seq);
	v->seq = seq;
}

void pkt_set_ack(struct pkt_view *v, uint32_t ack)
{
	wr32(v->buf + v->l4off + 8, ack);
	v->ack = ack;
}

/*
 * Walk the TCP options and store the offset of every SACK block (across
 * every SACK option, as the kernel adjusts them all; the 40 bytes of
 * option space hold at most 4 blocks in total). Returns the count, or 0
 * if the options are malformed: an option without its length byte, a
 * length below 2 or past the header's end. EOL ends the walk. A SACK
 * option whose length is not 2 + 8n (n >= 1) is skipped, like the kernel.
 */
static int sack_walk(const struct pkt_view *v, size_t offs[PKT_SACK_MAX])
{
	const uint8_t *b = v->buf;
	size_t o = v->l4off + TCP_HDR_MIN, end = v->payload_off, olen;
	int n = 0;

	while (o < end) {
		if (b[o] == TCPOPT_EOL)
			break;
		if (b[o] == TCPOPT_NOP) {
			o++;
			continue;
		}
		if (end - o < 2)
			return 0;
		olen = b[o + 1];
		if (olen < 2 || olen > end - o)
			return 0;
		if (b[o] == TCPOPT_SACK && olen >= 2 + SACK_BLOCK &&
		    (olen - 2) % SACK_BLOCK == 0) {
			for (size_t s = o + 2; s < o + olen; s += SACK_BLOCK) {
				if (n == PKT_SACK_MAX)
					return 0;
				offs[n++] = s;
			}
		}
		o += olen;
	}
	return n;
}

int pkt_get_sack(const struct pkt_view *v, uint32_t sack[][2])
{
	size_t offs[PKT_SACK_MAX];
	int n = sack_walk(v, offs);

	for (int i = 0; i < n; i++) {
		sack[i][0] = rd32(v->buf + offs[i]);
		sack[i][1] = rd32(v->buf + offs[i] + 4);
	}
	return n;
}

void pkt_set_sack(struct pkt_view *v, const uint32_t sack[][2], int n)
{
	size_t offs[PKT_SACK_MAX];

	if (n <= 0 || sack_walk(v, offs) != n)
		return;
	for (int i = 0; i < n; i++) {
		wr32(v->buf + offs[i], sack[i][0]);
		wr32(v->buf + offs[i] + 4, sack[i][1]);
	}
}

/*
 * One's complement sum (RFC 1071) of p[0..n) added to acc, not yet
 * folded; an odd last byte is padded with zero. Big-endian 32-bit words
 * are summed whole: 2^16 is 1 modulo 0xffff, so each counts as its two
 * 16-bit halves, and 64 bits cannot overflow for a packet.
 */
static uint64_t csum_add(uint64_t acc, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)
		acc += rd32(p + i);
	if (i + 2 <= n) {
		acc += rd16(p + i);
		i += 2;
	}
	if (i < n)
		acc += (uint64_t)p[i] << 8;
	return acc;
}

static uint16_t csum_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* The sum of the TCP pseudo-header and the whole segment, checksum field
 * included as it is. */
static uint64_t tcp_sum(const struct pkt_view *v)
{
	size_t tlen = v->len - v->l4off;
	uint64_t acc;

	if (v->family == 4)
		acc = csum_add(0, v->buf + 12, 8);
	else
		acc = csum_add(0, v->buf + 8, 32);
	acc += IPPROTO_TCP + (uint64_t)tlen;
	return csum_add(acc, v->buf + v->l4off, tlen);
}

void pkt_fix_checksums(struct pkt_view *v)
{
	uint8_t *t = v->buf + v->l4off;

	if (v->family == 4) {
		wr16(v->buf + IP4_OFF_CHECK, 0);
		wr16(v->buf + IP4_OFF_CHECK,
		     (uint16_t)~csum_fold(csum_add(0, v->buf, v->l4off)));
	}
	wr16(t + TCP_OFF_CHECK, 0);
	wr16(t + TCP_OFF_CHECK, (uint16_t)~csum_fold(tcp_sum(v)));
}

bool pkt_checksums_ok(const struct pkt_view *v)
{
	if (v->family == 4 &&
	    csum_fold(csum_add(0, v->buf, v->l4off)) != 0xffff)
		return false;
	return csum_fold(tcp_sum(v)) == 0xffff;
}
