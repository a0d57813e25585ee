/*
 * seq_test.c - sequence adjustment: the kernel's update rule
 * (nf_ct_seqadj_set), the SEQ/ACK/SACK offsets (nf_ct_seq_adjust,
 * nf_ct_sack_block_adjust), wraparound at 2^32, and the fallback adjuster
 * on real packets.
 */
#include <errno.h>

#include "packets.h"
#include "testutil.h"
#include "pkt.h"
#include "seq.h"

/*
 * The real packets in packets.h (Linux 6.18 TCP stack, software checksums,
 * a tun device in a private netns): the client 10.9.0.1 /
 * 2001:db8:9::1 acknowledging out-of-order segments of a peer whose ISN
 * was 0xffffff00, NOP NOP TS then NOP NOP SACK with 3 blocks:
 * [0x2d,0x34) [0xffffffc9,0xffffffd3) [0xffffff65,0xffffff79), ACK
 * 0xffffff01. Before them the client sent "PORT 10,9,0,1,4,1\r\n" at SEQ
 * 0x2956b962 (IPv4) / 0xc8589120 (IPv6).
 */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

#define ADJ_EQ(a, p, b, f) do {                                         \
	assert_int_equal((a).pos, (uint32_t)(p));                       \
	assert_int_equal((a).before, (int32_t)(b));                     \
	assert_int_equal((a).after, (int32_t)(f));                      \
} while (0)

/* ---- the update rule ------------------------------------------------ */

static void test_set_first(void **st)
{
	struct seq_adj a = { 0, 0, 0 };

	(void)st;
	seq_adj_set(&a, 1000, 3);
	ADJ_EQ(a, 1000, 0, 3);
	/* the first rewrite may be at any seq, even "before" 0 */
	a = (struct seq_adj){ 0, 0, 0 };
	seq_adj_set(&a, 0x90000000u, -4);
	ADJ_EQ(a, 0x90000000u, 0, -4);
}

static void test_set_zero_off(void **st)
{
	struct seq_adj a = { 0, 0, 0 };

	(void)st;
	seq_adj_set(&a, 1000, 0);
	ADJ_EQ(a, 0, 0, 0);
	a = (struct seq_adj){ 1000, 0, 3 };
	seq_adj_set(&a, 2000, 0);
	ADJ_EQ(a, 1000, 0, 3);
}

/*
 * The kernel takes a new position only if nothing is pending (before ==
 * after) or the packet starts after the last one. A second call for the
 * packet at pos -- the same packet's retransmit rewritten again, or a
 * second edit in one packet -- records nothing: a packet's total change
 * must be recorded in one call (as nf_nat_sip does), else the kernel and
 * we would disagree.
 */
static void test_set_same_packet(void **st)
{
	struct seq_adj a = { 0, 0, 0 };

	(void)st;
	seq_adj_set(&a, 1000, 3);
	seq_adj_set(&a, 1000, 3);          /* retransmit, rewritten again */
	ADJ_EQ(a, 1000, 0, 3);
	seq_adj_set(&a, 1000, 2);          /* second edit, same packet */
	ADJ_EQ(a, 1000, 0, 3);
	seq_adj_set(&a, 1000, -3);
	ADJ_EQ(a, 1000, 0, 3);
}

static void test_set_retransmit_offsets(void **st)
{
	struct seq_adj a = { 0, 0, 0 };

	(void)st;
	seq_adj_set(&a, 1000, 3);
	/* the rewritten packet and its retransmits: 'before' */
	assert_int_equal(seq_adj_seq_off(&a, 1000), 0);
	assert_int_equal(seq_adj_seq_off(&a, 999), 0);
	assert_int_equal(seq_adj_seq_off(&a, 1000 - 0x7fffffffu), 0);
	/* anything after it: 'after' */
	assert_int_equal(seq_adj_seq_off(&a, 1001), 3);
	assert_int_equal(seq_adj_seq_off(&a, 1000 + 0x7fffffffu), 3);
}

static void test_set_later(void **st)
{
	struct seq_adj a = { 0, 0, 0 };

	(void)st;
	seq_adj_set(&a, 1000, 3);
	seq_adj_set(&a, 2000, -5);
	ADJ_EQ(a, 2000, 3, -2);
	assert_int_equal(seq_adj_seq_off(&a, 1500), 3);
	assert_int_equal(seq_adj_seq_off(&a, 2000), 3);
	assert_int_equal(seq_adj_seq_off(&a, 2001), -2);
	/* one correction position only: a retransmit from before the first
	 * rewrite now gets 'before' too (the kernel's limitation) */
	assert_int_equal(seq_adj_seq_off(&a, 500), 3);
	/* an older packet rewritten late changes nothing */
	seq_adj_set(&a, 1500, 7);
	ADJ_EQ(a, 2000, 3, -2);
	seq_adj_set(&a, 2000, 7);
	ADJ_EQ(a, 2000, 3, -2);
	/* the next one does */
	seq_adj_set(&a, 2001, 7);
	ADJ_EQ(a, 2001, -2, 5);
}

static void test_set_before_eq_after(void **st)
{
	/* e.g. an offset taken over from the kernel (nf_ct_seqadj_init
	 * sets both): any seq, even an older one, starts a new position */
	struct seq_adj a = { 5000, 4, 4 };

	(void)st;
	seq_adj_set(&a, 100, 2);
	ADJ_EQ(a, 100, 4, 6);
	/* now before != after: older seqs are ignored again */
	seq_adj_set(&a, 50, 2);
	ADJ_EQ(a, 100, 4, 6);
}

static void test_set_accumulate(void **st)
{
	struct seq_adj a = { 0, 0, 0 };
	int32_t sum = 0, prev = 0;
	static const int32_t offs[] = { 4, -1, 17, -30, 2, 2, -60, 100, 1, -1 };

	(void)st;
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint32_t seq = 0xfffffc00u + 200u * (uint32_t)i; /* wraps */

		prev = sum;
		sum += offs[i];
		seq_adj_set(&a, seq, offs[i]);
		ADJ_EQ(a, seq, prev, sum);
		assert_int_equal(seq_adj_seq_off(&a, seq), prev);
		assert_int_equal(seq_adj_seq_off(&a, seq + 1), sum);
	}
	assert_int_equal(sum, 34);
}

static void test_set_negative(void **st)
{
	struct seq_adj a = { 0, 0, 0 };

	(void)st;
	seq_adj_set(&a, 7, -10);
	ADJ_EQ(a, 7, 0, -10);
	seq_adj_set(&a, 70, -10);
	ADJ_EQ(a, 70, -10, -20);
	assert_int_equal(seq_adj_seq_off(&a, 71), -20);
	/* a negative offset moves a seq back across 0 */
	assert_int_equal((uint32_t)(5u + (uint32_t)seq_adj_seq_off(&a, 71)),
	                 0xfffffff1u);
}

static void test_set_wrap(void **st)
{
	struct seq_adj a = { 0, 0, 0 };

	(void)st;
	seq_adj_set(&a, 0xfffffff0u, 3);
	seq_adj_set(&a, 0x10, 2);          /* after, across 2^32 */
	ADJ_EQ(a, 0x10, 3, 5);
	assert_int_equal(seq_adj_seq_off(&a, 0xfffffff5u), 3);
	assert_int_equal(seq_adj_seq_off(&a, 0x10), 3);
	assert_int_equal(seq_adj_seq_off(&a, 0x11), 5);
	seq_adj_set(&a, 0xffffffffu, 9);   /* before, across 2^32 */
	ADJ_EQ(a, 0x10, 3, 5);
	/* the offsets themselves wrap like the kernel's s32 (no UB) */
	a = (struct seq_adj){ 0, INT32_MAX, INT32_MAX };
	seq_adj_set(&a, 1, 1);
	ADJ_EQ(a, 1, INT32_MAX, INT32_MIN);
}

/* ---- ACK and SACK offsets ------------------------------------------ */

static void test_ack_off(void **st)
{
	struct seq_adj o = { 0, 0, 0 };

	(void)st;
	assert_int_equal(seq_adj_ack_off(&o, 12345), 0);
	seq_adj_set(&o, 1000, 3);
	/* ack - before compared with pos */
	assert_int_equal(seq_adj_ack_off(&o, 999), 0);
	assert_int_equal(seq_adj_ack_off(&o, 1000), 0);
	assert_int_equal(seq_adj_ack_off(&o, 1001), 3);
	seq_adj_set(&o, 2000, -5);         /* {2000, 3, -2} */
	assert_int_equal(seq_adj_ack_off(&o, 2002), 3);
	assert_int_equal(seq_adj_ack_off(&o, 2003), 3);   /* 2000: not after */
	assert_int_equal(seq_adj_ack_off(&o, 2004), -2);
	assert_int_equal(seq_adj_ack_off(&o, 1500), 3);
	/* around 2^32 */
	o = (struct seq_adj){ 0xfffffffeu, 5, 3 };
	assert_int_equal(seq_adj_ack_off(&o, 3), 5);      /* 3-5 = pos */
	assert_int_equal(seq_adj_ack_off(&o, 4), 3);
	assert_int_equal(seq_adj_ack_off(&o, 0xfffffff0u), 5);
	o = (struct seq_adj){ 2, -5, -9 };
	assert_int_equal(seq_adj_ack_off(&o, 0xfffffffdu), -5); /* +5 = 2 */
	assert_int_equal(seq_adj_ack_off(&o, 0xfffffffeu), -9);
}

/*
 * The model: the client's byte stream, one packet rewritten. What the
 * server acknowledges, mapped back, must be what the client sent.
 */
static void test_stream_model(void **st)
{
	struct seq_adj c = { 0, 0, 0 };    /* client -> server */
	const uint32_t isn = 0xfffffff8u;  /* wraps inside the stream */
	uint32_t p1 = isn, p2 = isn + 10, p3 = isn + 15;

	(void)st;
	/* P1: 10 bytes rewritten to 13 */
	seq_adj_set(&c, p1, 3);
	assert_int_equal(p1 + (uint32_t)seq_adj_seq_off(&c, p1), p1);
	/* P2 (5 bytes) goes out 3 later */
	assert_int_equal(p2 + (uint32_t)seq_adj_seq_off(&c, p2), isn + 13);
	/* server acks: all of P1 (isn+13), all of P2 (isn+18), nothing new */
	assert_int_equal(isn + 13 - (uint32_t)seq_adj_ack_off(&c, isn + 13),
	                 p2);
	assert_int_equal(isn + 18 - (uint32_t)seq_adj_ack_off(&c, isn + 18),
	                 p3);
	assert_int_equal(isn - (uint32_t)seq_adj_ack_off(&c, isn), isn);
	/* P3 rewritten 5 -> 2 */
	seq_adj_set(&c, p3, -3);
	ADJ_EQ(c, p3, 3, 0);
	assert_int_equal(p3 + (uint32_t)seq_adj_seq_off(&c, p3), isn + 18);
	assert_int_equal(isn + 25 + (uint32_t)seq_adj_seq_off(&c, isn + 25),
	                 isn + 25);
	/* an ack of P3's end on the server's side: isn + 18 + 2 */
	assert_int_equal(isn + 20 - (uint32_t)seq_adj_ack_off(&c, isn + 20),
	                 isn + 20);
	/* P2 retransmitted: 'before' (3), as when it was first sent */
	assert_int_equal(p2 + (uint32_t)seq_adj_seq_off(&c, p2), isn + 13);
}

/* ---- the fallback on real packets ---------------------------------- */

/*
 * The client rewrote the PORT packet (+3); the server made two rewrites,
 * the last at srv_pos (+5, then -2).
 */
static void adjust_real(const uint8_t *pkt, size_t len, uint32_t seq0,
                        uint32_t srv_pos, const uint32_t (*want)[2])
{
	uint8_t b[128];
	struct pkt_view v;
	struct seq_adj cli = { seq0, 0, 3 };
	struct seq_adj srv = { srv_pos, 5, 3 };
	uint32_t s[PKT_SACK_MAX][2];
	size_t l4;

	memcpy(b, pkt, len);
	assert_int_equal(pkt_parse(&v, b, len, sizeof(b)), 0);
	l4 = v.l4off;
	seq_adjust_packet(&v, &cli, &srv);
	assert_int_equal(v.seq, get32(pkt + l4 + 4) + 3);
	assert_int_equal(get32(b + l4 + 4), v.seq);
	assert_int_equal(v.ack, 0xfffffefcu);           /* 0xffffff01 - 5 */
	assert_int_equal(get32(b + l4 + 8), 0xfffffefcu);
	assert_int_equal(pkt_get_sack(&v, s), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s[i][0], want[i][0]);
		assert_int_equal(s[i][1], want[i][1]);
	}
	/* nothing else moved: IP header, ports, flags, window, TS */
	assert_memory_equal(b, pkt, l4 + 4);
	assert_memory_equal(b + l4 + 12, pkt + l4 + 12, 4);
	assert_memory_equal(b + l4 + 18, pkt + l4 + 18, 16);
	/* checksums: stale until fixed, then right by both computations */
	assert_false(pkt_checksums_ok(&v));
	pkt_fix_checksums(&v);
	assert_true(pkt_checksums_ok(&v));
	assert_true(ref_ok(b, len, l4));
}

static void test_adjust_real(void **st)
{
	/* SACK [0x2d,0x34) [0xffffffc9,0xffffffd3) [0xffffff65,0xffffff79) */
	static const uint32_t at_pos[3][2] = {
		{ 0x2a, 0x31 },                     /* after pos: -3 */
		{ 0xffffffc6u, 0xffffffd0u },       /* after pos: -3 */
		{ 0xffffff60u, 0xffffff74u },       /* -5: the end is pos */
	};
	static const uint32_t straddle[3][2] = {
		{ 0x2a, 0x31 },
		{ 0xffffffc6u, 0xffffffd0u },
		{ 0xffffff60u, 0xffffff76u },       /* -5 and -3 */
	};

	(void)st;
	adjust_real(real_v4ts_sack3, sizeof(real_v4ts_sack3), 0x2956b962u,
	            0xffffff74u, at_pos);
	adjust_real(real_v6ts_sack3, sizeof(real_v6ts_sack3), 0xc8589120u,
	            0xffffff74u, at_pos);
	adjust_real(real_v4ts_sack3, sizeof(real_v4ts_sack3), 0x2956b962u,
	            0xffffff70u, straddle);
	adjust_real(real_v6ts_sack3, sizeof(real_v6ts_sack3), 0xc8589120u,
	            0xffffff70u, straddle);
}

/* The rewritten packet itself keeps 'before' on its SEQ. */
static void test_adjust_rewritten_packet(void **st)
{
	uint8_t b[128];
	struct pkt_view v;
	struct seq_adj cli = { 0, 0, 0 }, srv = { 0xffffff00u, 0, -2 };

	(void)st;
	memcpy(b, real_v4ts_data, sizeof(real_v4ts_data));
	assert_int_equal(pkt_parse(&v, b, sizeof(real_v4ts_data), sizeof(b)),
	                 0);
	seq_adj_set(&cli, v.seq, 3);
	seq_adjust_packet(&v, &cli, &srv);
	assert_int_equal(v.seq, 0x2956b962u);
	assert_int_equal(v.ack, 0xffffff03u);           /* after: -(-2) */
	pkt_fix_checksums(&v);
	assert_true(pkt_checksums_ok(&v));
	assert_true(ref_ok(b, v.len, v.l4off));
}

static void test_adjust_identity(void **st)
{
	uint8_t b[128];
	struct pkt_view v;
	const struct seq_adj z = { 0, 0, 0 };
	const struct seq_adj far = { 0x12345678u, 0, 0 };

	(void)st;
	memcpy(b, real_v6ts_sack3, sizeof(real_v6ts_sack3));
	assert_int_equal(pkt_parse(&v, b, sizeof(real_v6ts_sack3), sizeof(b)),
	                 0);
	seq_adjust_packet(&v, &z, &far);
	assert_memory_equal(b, real_v6ts_sack3, sizeof(real_v6ts_sack3));
	assert_true(pkt_checksums_ok(&v));
}

/* Without the ACK flag the kernel moves only SEQ. */
static void test_adjust_no_ack_flag(void **st)
{
	uint8_t b[128], orig[128];
	struct pkt_view v;
	const struct seq_adj cli = { 0, 0, 7 }, srv = { 0, 0, 9 };

	(void)st;
	memcpy(b, real_v4ts_sack3, sizeof(real_v4ts_sack3));
	b[20 + 13] = 0x08;                 /* PSH only */
	assert_int_equal(pkt_parse(&v, b, sizeof(real_v4ts_sack3), sizeof(b)),
	                 0);
	pkt_fix_checksums(&v);
	memcpy(orig, b, sizeof(real_v4ts_sack3));
	seq_adjust_packet(&v, &cli, &srv);
	assert_int_equal(v.seq, 0x2956b975u + 7);
	assert_int_equal(v.ack, 0xffffff01u);
	/* ACK, SACK, everything after SEQ: as it was */
	assert_memory_equal(b + 28, orig + 28, sizeof(real_v4ts_sack3) - 28);
}

/* Malformed options: SEQ and ACK move, the SACK bytes are left alone
 * (the kernel would also refuse the packet; see seq.h's caller). */
static void test_adjust_malformed_options(void **st)
{
	uint8_t b[128], orig[128];
	struct pkt_view v;
	const struct seq_adj cli = { 0, 0, 1 }, srv = { 0xffff0000u, 0, 2 };
	const size_t sack_at = 20 + 20 + 12;

	(void)st;
	memcpy(b, real_v4ts_sack3, sizeof(real_v4ts_sack3));
	b[20 + 20 + 3] = 30;               /* TS length past the header */
	assert_int_equal(pkt_parse(&v, b, sizeof(real_v4ts_sack3), sizeof(b)),
	                 0);
	memcpy(orig, b, sizeof(real_v4ts_sack3));
	seq_adjust_packet(&v, &cli, &srv);
	assert_int_equal(v.seq, 0x2956b975u + 1);
	assert_int_equal(v.ack, 0xffffff01u - 2);
	assert_memory_equal(b + sack_at, orig + sack_at,
	                    sizeof(real_v4ts_sack3) - sack_at);
	pkt_fix_checksums(&v);
	assert_true(ref_ok(b, v.len, v.l4off));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_first),
		cmocka_unit_test(test_set_zero_off),
		cmocka_unit_test(test_set_same_packet),
		cmocka_unit_test(test_set_retransmit_offsets),
		cmocka_unit_test(test_set_later),
		cmocka_unit_test(test_set_before_eq_after),
		cmocka_unit_test(test_set_accumulate),
		cmocka_unit_test(test_set_negative),
		cmocka_unit_test(test_set_wrap),
		cmocka_unit_test(test_ack_off),
		cmocka_unit_test(test_stream_model),
		cmocka_unit_test(test_adjust_real),
		cmocka_unit_test(test_adjust_rewritten_packet),
		cmocka_unit_test(test_adjust_identity),
		cmocka_unit_test(test_adjust_no_ack_flag),
		cmocka_unit_test(test_adjust_malformed_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
