/*
 * ftp_test.c - the FTP core: parsers, line assembly, commands, replies,
 * policy, rewrites, TLS, and mutation of whole transcripts.
 */
#include "testutil.h"

/* Scenario A: client behind PAT. */
#define A_CPRIV "192.168.1.10"
#define A_CPUB "203.0.113.1"
#define A_SRV "198.51.100.5"
/* Scenario B: server behind DNAT. */
#define B_CLI "198.51.100.7"
#define B_SPRIV "10.0.0.5"
#define B_SPUB "203.0.113.1"
/* Scenario C: IPv6, no NAT. */
#define C_CLI "2001:db8:1::10"
#define C_SRV "2001:db8:2::5"

static void scen_a(struct tsess *t)
{
	tsess_setup(t, A_CPRIV, A_CPUB, A_SRV, A_SRV, 0);
}

static void scen_b(struct tsess *t)
{
	tsess_setup(t, B_CLI, B_CLI, B_SPRIV, B_SPUB, 0);
}

static void scen_c(struct tsess *t)
{
	tsess_setup(t, C_CLI, C_CLI, C_SRV, C_SRV, 0);
}

/* ---- address parsers ------------------------------------------------ */

static int ptuple(const char *s, struct ftp_addr *a, uint16_t *p)
{
	return ftp_parse_tuple(s, strlen(s), a, p);
}

static void test_parse_tuple(void **st)
{
	struct ftp_addr a;
	uint16_t p;
	static const char *const bad[] = {
		"", "1,2,3,4,5", "1,2,3,4,5,6,7", "256,1,1,1,1,1",
		"1,2,3,4,5,256", "1,,3,4,5,6", "1,2,3,4,5,6,", ",1,2,3,4,5,6",
		"1 ,2,3,4,5,6", "1, 2,3,4,5,6", "+1,2,3,4,5,6", "-1,2,3,4,5,6",
		"0001,2,3,4,5,6", "1,2,3,4,5,6 ", "a,b,c,d,e,f", "1.2.3.4.5.6",
		"1,2,3,4,5,6)", "99999999999999999999,1,1,1,1,1",
	};
	(void)st;
	assert_int_equal(ptuple("192,168,1,2,19,137", &a, &p), 0);
	addr_is(&a, "192.168.1.2");
	assert_int_equal(p, 5001);
	assert_int_equal(ptuple("255,255,255,255,255,255", &a, &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(ptuple("010,000,000,001,004,001", &a, &p), 0);
	addr_is(&a, "10.0.0.1");
	assert_int_equal(p, 1025);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ptuple(bad[i], &a, &p) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static int pext(const char *s, struct ftp_addr *a, uint16_t *p, char *d)
{
	return ftp_parse_ext(s, strlen(s), a, p, d);
}

static void test_parse_ext(void **st)
{
	struct ftp_addr a;
	uint16_t p;
	char d;
	static const char *const bad[] = {
		"", "|1|1.2.3.4|5", "|1|1.2.3.4|5||", "|1|1.2.3|5|",
		"|1|1.2.3.4.5|5|", "|2|1.2.3.4|5|", "|1|::1|5|",
		"|1||5|", "|1|1.2.3.4||", "|1|1.2.3.4|65536|", "1|1.2.3.4|5|",
		"|1|1.2.3.4!5|", " |1|1.2.3.4|5|", "\x7f" "1\x7f" "1.2.3.4\x7f" "5\x7f",
		"|1| 1.2.3.4|5|", "|1|1.2.3.4|5| ", "|01.2.3.4|5|",
		"|2|2001:db8::1:2:3:4:5:6:7|1|",
	};
	(void)st;
	assert_int_equal(pext("|1|132.235.1.2|6275|", &a, &p, &d), 0);
	addr_is(&a, "132.235.1.2");
	assert_int_equal(p, 6275);
	assert_int_equal(d, '|');
	assert_int_equal(pext("|2|1080::8:800:200C:417A|5282|", &a, &p, &d), 0);
	addr_is(&a, "1080::8:800:200c:417a");
	assert_int_equal(p, 5282);
	assert_int_equal(pext("!1!10.0.0.1!1!", &a, &p, &d), 0);
	assert_int_equal(d, '!');
	assert_int_equal(pext("~2~::ffff:1.2.3.4~65535~", &a, &p, &d), 0);
	assert_int_equal(p, 65535);
	/* a protocol other than 1 and 2 is "unsupported", not malformed */
	assert_int_equal(pext("|3|1.2.3.4|5|", &a, &p, &d), -2);
	assert_int_equal(pext("|0|1.2.3.4|5|", &a, &p, &d), -2);
	/* a digit cannot be the delimiter */
	assert_int_equal(pext("1111.2.3.4151", &a, &p, &d), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pext(bad[i], &a, &p, &d) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_parse_extport(void **st)
{
	uint16_t p;
	char d;
	static const char *const bad[] = {
		"", "|||", "||||", "|||1", "||1|", "|!|1|", "|||1!", "|||65536|",
		"|||1||", "|||a|", "111111", " |||1|", "|||1|)",
	};
	(void)st;
	assert_int_equal(ftp_parse_extport("|||6446|", 8, &p, &d), 0);
	assert_int_equal(p, 6446);
	assert_int_equal(ftp_parse_extport("!!!1!", 5, &p, &d), 0);
	assert_int_equal(d, '!');
	assert_int_equal(p, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ftp_parse_extport(bad[i], strlen(bad[i]), &p, &d) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_parse_long(void **st)
{
	struct ftp_addr a;
	uint16_t p;
	const char *v6 = "6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,1,2,19,137";
	static const char *const bad[] = {
		"", "4,4,1,2,3,4,2,1", "4,4,1,2,3,4,3,1,2,3", "4,16,1,2,3,4,2,1,2",
		"6,4,1,2,3,4,2,1,2", "4,4,1,2,3,4,2,1,2,", "4,4,1,2,3,256,2,1,2",
		"5,4,1,2,3,4,2,1,2", "4,4,1,2,3,4,2,1,2,3",
	};
	(void)st;
	assert_int_equal(ftp_parse_long("4,4,192,168,0,1,2,19,137", 24, &a, &p),
	                 0);
	addr_is(&a, "192.168.0.1");
	assert_int_equal(p, 5001);
	assert_int_equal(ftp_parse_long(v6, strlen(v6), &a, &p), 0);
	addr_is(&a, "2001:db8::1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ftp_parse_long(bad[i], strlen(bad[i]), &a, &p) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

/* parse(format(x)) == x for many addresses and ports, every format */
static void test_round_trip(void **st)
{
	uint32_t x = 12345;
	(void)st;
	for (int i = 0; i < 2000; i++) {
		struct ftp_addr a = { 0 }, b;
		uint16_t port, q;
		char buf[FTP_OUT_MAX], d;
		int n;

		a.family = (i & 1) ? 6 : 4;
		for (int k = 0; k < 16; k++) {
			x = x * 1103515245u + 12345u;
			a.a[k] = (uint8_t)(x >> 16);
		}
		if (a.family == 4)
			memset(a.a + 4, 0, 12);
		x = x * 1103515245u + 12345u;
		port = (uint16_t)(x >> 8);
		if (a.family == 4) {
			n = ftp_format_tuple(buf, sizeof(buf), &a, port);
			assert_true(n > 0);
			assert_int_equal(ftp_parse_tuple(buf, (size_t)n, &b, &q), 0);
			assert_true(ftp_addr_eq(&a, &b));
			assert_int_equal(q, port);
		}
		n = ftp_format_ext(buf, sizeof(buf), &a, port, "|!#~"[i & 3]);
		assert_true(n > 0);
		assert_int_equal(ftp_parse_ext(buf, (size_t)n, &b, &q, &d), 0);
		assert_true(ftp_addr_eq(&a, &b));
		assert_int_equal(q, port);
		assert_int_equal(d, "|!#~"[i & 3]);
		n = ftp_format_long(buf, sizeof(buf), &a, port);
		assert_true(n > 0);
		assert_int_equal(ftp_parse_long(buf, (size_t)n, &b, &q), 0);
		assert_true(ftp_addr_eq(&a, &b));
		assert_int_equal(q, port);
		/* too small a buffer is an error, never a truncation */
		assert_int_equal(ftp_format_long(buf, 10, &a, port), -1);
	}
}

/* ---- line assembly -------------------------------------------------- */

static void test_crlf_and_lf(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	greet(&t);
	e = tone(&t, C, "PORT 192,168,1,10,19,137\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_string_equal(o.out, "PORT 203,0,113,1,19,137\r\n");
	assert_int_equal(e->line_len, 26);
	tquiet(&t, S, "200 ok\n");
	e = tone(&t, C, "PORT 192,168,1,10,19,138\n", &o);
	assert_string_equal(o.out, "PORT 203,0,113,1,19,138\n");
	assert_int_equal(e->line_len, 25);
	assert_int_equal(e->line_start, 26);
}

/* lines that end right after the verb or the code */
static void test_bare_lf(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_b(&t);
	tquiet(&t, S, "220\n");
	tquiet(&t, C, "PASV\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_int_equal(e->cmd, FTP_CMD_PASV);
	assert_string_equal(o.out, "227 Entering Passive Mode (203,0,113,1,4,1)\n");
	tquiet(&t, C, "NOOP\n");
	tquiet(&t, S, "200\n");
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227-Entering Passive Mode (10,0,0,5,4,2)\n227\n", &o);
	assert_int_equal(o.nev, 1);
	/* the multi-line reply closed with a bare "227": in step */
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,3)\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	e = tone(&t, C, "PORT\n", &o);
	assert_int_equal(e->reason, FTP_R_MALFORMED);
}

static void test_overlong(void **st)
{
	struct tsess t;
	struct tout o;
	char line[2100];
	(void)st;
	scen_a(&t);
	greet(&t);
	/* exactly max-line bytes including CRLF: fine */
	memset(line, 'a', sizeof(line));
	memcpy(line, "NOOP ", 5);
	memcpy(line + 1022, "\r\n", 3);
	tquiet(&t, C, line);
	tquiet(&t, S, "200 ok\r\n");
	/* one more byte: reported once, as soon as it is known */
	memcpy(line + 1022, "a\r\n", 4);
	tfeed(&t, C, line, &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].reason, FTP_R_OVERLONG);
	assert_int_equal(o.ev[0].verdict, FTP_V_PASS);
	assert_true(o.ev[0].flags & FTP_EVF_FINAL);
	tquiet(&t, S, "500 too long\r\n");
	/* a huge PORT line: reported mid-line, never rewritten */
	memset(line, '1', 2000);
	memcpy(line, "PORT ", 5);
	memcpy(line + 2000, "\r\n", 3);
	tfeed(&t, C, line, &o);
	assert_int_equal(o.nev, 1);
	assert_true(o.ev[0].flags & FTP_EVF_PARTIAL);
	assert_int_equal(o.ev[0].line_len, 1025);
	assert_int_equal(o.ev[0].cmd, FTP_CMD_PORT);
	assert_string_equal(o.out, line);
	tquiet(&t, S, "500 no\r\n");
	/* and the session goes on */
	tfeed(&t, C, "PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
	/* on-overlong=reset */
	assert_int_equal(ftp_policy_set(&t.pol, "on-overlong", "reset", NULL, 0), 0);
	tquiet(&t, S, "200 ok\r\n");
	tfeed(&t, C, line, &o);
	assert_int_equal(o.ev[0].verdict, FTP_V_RESET);
}

static void test_overlong_reply(void **st)
{
	struct tsess t;
	struct tout o;
	char line[1400];
	(void)st;
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "PASV\r\n");
	memset(line, 'x', sizeof(line));
	memcpy(line, "227 Entering Passive Mode (10,0,0,5,4,1)", 40);
	memcpy(line + 1300, "\r\n", 3);
	tfeed(&t, S, line, &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].reason, FTP_R_OVERLONG);
	assert_int_equal(o.ev[0].data.mode, FTP_DATA_NONE);
	/* the PASV was answered: the next 227 answers nothing */
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.ev[0].reason, FTP_R_UNSOLICITED);
}

/* Fuzzer find (fuzz_ftp_feed, minimised): an address inside an overlong
 * line of a multi-line 227 was kept and acted on at the next line, with
 * an edit in the line before. It is now dropped with its line. The
 * fuzzer's settings: max-line 64, FXP, LPRT and foreign PASV allowed,
 * malformed passed, picked up mid-stream, every line reported. */
static void test_overlong_multiline_reply(void **st)
{
	static const uint8_t in[] = {
		0x32, 0x32, 0x37, 0x2d, 0x45, 0x6e, 0x74, 0x65, 0xff, 0xff, 0xff,
		0x01, 0x80, 0x00, 0xff, 0x01, 0x3c, 0x06, 0x20, 0x31, 0x33, 0x33,
		0x20, 0x66, 0x74, 0x3a, 0x20, 0x32, 0x31, 0x20, 0x50, 0x61, 0x06,
		0x73, 0x69, 0x76, 0x65, 0x20, 0x00, 0x00, 0x64, 0x65, 0x20, 0x28,
		0x34, 0x2c, 0x34, 0x2c, 0x31, 0x30, 0x2c, 0x30, 0x2c, 0x30, 0x2c,
		0x35, 0x3c, 0x06, 0x30, 0x30, 0x30, 0x30, 0x7c, 0x0d, 0x0a, 0x0a
	};
	struct tsess t;
	struct tout o;
	(void)st;
	tsess_setup(&t, "192.168.1.10", "203.0.113.1", "10.0.0.5",
	            "198.51.100.5", FTP_SESS_MIDSTREAM | FTP_SESS_REPORT_ALL);
	t.pol.max_line = 64;
	t.pol.allow_fxp = true;
	t.pol.allow_lprt = true;
	t.pol.allow_foreign_pasv = true;
	t.pol.on_malformed = FTP_ACT_PASS;
	tsess_reset(&t);
	tfeed_chunked(&t, S, (const char *)in, sizeof(in), 0, &o);
	assert_true(o.nev >= 2);
	for (int i = 0; i < o.nev; i++) {
		const struct ftp_event *e = &o.ev[i];
		if (e->verdict == FTP_V_REWRITE || e->verdict == FTP_V_REJECT) {
			assert_true(e->edit_start >= e->line_start);
			assert_true(e->edit_start + e->edit_len <=
			            e->line_start + e->line_len);
		}
	}
}

static void test_telnet(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	t.flags = FTP_SESS_REPORT_ALL;
	tsess_reset(&t);
	greet(&t);
	/* IAC IP IAC DM before ABOR, as clients send it */
	e = tone(&t, C, "\xff\xf4\xff\xf2" "ABOR\r\n", &o);
	assert_int_equal(e->cmd, FTP_CMD_ABOR);
	tfeed(&t, S, "226 aborted\r\n", &o);
	/* IAC WILL x before the verb, IAC IAC inside a USER name */
	e = tone(&t, C, "\xff\xfb\x01USER a\xff\xff" "b\r\n", &o);
	assert_int_equal(e->cmd, FTP_CMD_USER);
	tfeed(&t, S, "331 pass\r\n", &o);
	/* leading IAC before PORT: still a PORT, rewritten, IAC kept */
	e = tone(&t, C, "\xff\xf1PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_string_equal(o.out, "\xff\xf1PORT 203,0,113,1,4,1\r\n");
	tfeed(&t, S, "200 ok\r\n", &o);
	/* IAC inside an address: malformed, refused */
	e = tone(&t, C, "PORT 192,168,1\xff\xf1,10,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REJECT);
	assert_int_equal(e->reason, FTP_R_MALFORMED);
	tfeed(&t, S, "500 no\r\n", &o);
	/* a verb split by IAC is not that verb */
	e = tone(&t, C, "PO\xff\xf1RT 10,0,0,99,0,22\r\n", &o);
	assert_int_equal(e->cmd, FTP_CMD_PORT);
	assert_int_equal(e->verdict, FTP_V_REJECT);
}

static void test_nul_and_8bit(void **st)
{
	struct tsess t;
	struct tout o;
	static const char port_nul[] = "PORT 192,168,1,10,4,1\0\r\n";
	static const char user8[] = "USER \xc3\xa9t\xe9\x00x\r\n";
	(void)st;
	scen_a(&t);
	greet(&t);
	tfeed_chunked(&t, C, user8, sizeof(user8) - 1, 0, &o);
	assert_int_equal(o.nev, 0);
	tquiet(&t, S, "331 ok\r\n");
	tfeed_chunked(&t, C, port_nul, sizeof(port_nul) - 1, 0, &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].reason, FTP_R_MALFORMED);
	assert_int_equal(o.ev[0].data.mode, FTP_DATA_NONE);
}

/* ---- commands ------------------------------------------------------- */

static void test_port_rewrite(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	greet(&t);
	e = tone(&t, C, "PORT 192,168,1,10,19,137\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_int_equal(e->cmd, FTP_CMD_PORT);
	assert_int_equal(e->data.mode, FTP_DATA_ACTIVE);
	addr_is(&e->data.listen_addr, A_CPRIV);
	assert_int_equal(e->data.listen_port, 5001);
	addr_is(&e->data.pub_addr, A_CPUB);
	assert_int_equal(e->data.pub_port, 5001);
	assert_int_equal(e->edit_start, 5);
	assert_int_equal(e->edit_len, 19);
	/* length change is visible to the caller */
	assert_int_equal((int)e->out_len - (int)e->edit_len, -1);
	tquiet(&t, S, "200 PORT command successful\r\n");
	/* case, blanks before and after are kept */
	tfeed(&t, C, "port   192,168,1,10,255,0  \r\n", &o);
	assert_string_equal(o.out, "port   203,0,113,1,255,0  \r\n");
	tquiet(&t, S, "200 ok\r\n");
	tfeed(&t, C, "Port\t192,168,1,10,4,1\r\n", &o);
	assert_string_equal(o.out, "Port\t203,0,113,1,4,1\r\n");
}

static void test_port_remap(void **st)
{
	struct tsess t;
	struct tout o;
	struct ftp_event e;
	(void)st;
	scen_a(&t);
	greet(&t);
	tfeed(&t, C, "PORT 192,168,1,10,19,137\r\n", &o);
	e = o.ev[0];
	assert_int_equal(ftp_event_remap(&e, 40001), 0);
	assert_int_equal(e.data.pub_port, 40001);
	assert_int_equal(e.data.listen_port, 5001);
	assert_memory_equal(e.out, "203,0,113,1,156,65", e.out_len);
	assert_int_equal(ftp_event_remap(&e, 0), -1);
}

static void test_port_public_addr(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	greet(&t);
	/* a client that already announces its public address */
	e = tone(&t, C, "PORT 203,0,113,1,19,137\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	assert_int_equal(e->data.mode, FTP_DATA_ACTIVE);
	addr_is(&e->data.listen_addr, A_CPRIV);
	assert_string_equal(o.out, "PORT 203,0,113,1,19,137\r\n");
}

static void test_eprt(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	greet(&t);
	e = tone(&t, C, "EPRT |1|192.168.1.10|6275|\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_string_equal(o.out, "EPRT |1|203.0.113.1|6275|\r\n");
	tquiet(&t, S, "200 EPRT ok\r\n");
	tfeed(&t, C, "EPRT !1!192.168.1.10!6276!\r\n", &o);
	assert_string_equal(o.out, "EPRT !1!203.0.113.1!6276!\r\n");
	tquiet(&t, S, "200 EPRT ok\r\n");
	/* an IPv6 address on an IPv4 control connection */
	e = tone(&t, C, "EPRT |2|2001:db8::1|6275|\r\n", &o);
	assert_int_equal(e->reason, FTP_R_FAMILY);
	assert_int_equal(e->verdict, FTP_V_REJECT);
	assert_string_equal(o.out, "FTPGW-REFUSED\r\n");
	tquiet(&t, S, "500 unknown\r\n");
	e = tone(&t, C, "EPRT |3|1.2.3.4|6275|\r\n", &o);
	assert_int_equal(e->reason, FTP_R_FAMILY);
}

static void test_eprt_v6(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_c(&t);
	greet(&t);
	e = tone(&t, C, "EPRT |2|2001:db8:1::10|50000|\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	assert_int_equal(e->data.mode, FTP_DATA_ACTIVE);
	assert_int_equal(e->data.listen_addr.family, 6);
	assert_int_equal(e->data.pub_port, 50000);
	tquiet(&t, S, "200 ok\r\n");
	e = tone(&t, C, "EPRT |1|10.0.0.1|50000|\r\n", &o);
	assert_int_equal(e->reason, FTP_R_FAMILY);
	tquiet(&t, S, "500 no\r\n");
	e = tone(&t, C, "PORT 10,0,0,1,4,1\r\n", &o);
	assert_int_equal(e->reason, FTP_R_FAMILY);
	tquiet(&t, S, "500 no\r\n");
	/* another host, and the link-local and mapped forms */
	e = tone(&t, C, "EPRT |2|2001:db8:1::11|50000|\r\n", &o);
	assert_int_equal(e->reason, FTP_R_BOUNCE);
	tquiet(&t, S, "500 no\r\n");
	e = tone(&t, C, "EPRT |2|fe80::1|50000|\r\n", &o);
	assert_int_equal(e->reason, FTP_R_BAD_ADDR);
	tquiet(&t, S, "500 no\r\n");
	e = tone(&t, C, "EPRT |2|::ffff:192.168.1.10|50000|\r\n", &o);
	assert_int_equal(e->reason, FTP_R_BAD_ADDR);
	tquiet(&t, S, "500 no\r\n");
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||6446|)\r\n", &o);
	assert_int_equal(e->data.mode, FTP_DATA_PASSIVE);
	assert_int_equal(e->data.listen_port, 6446);
	addr_is(&e->data.listen_addr, C_SRV);
	/* PASV on IPv6: a 227 is refused */
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,1,4,1)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_FAMILY);
}

struct refusal {
	const char *line;
	enum ftp_reason reason;
};

/* SECURITY: the FTP bounce attack (CERT CA-97.27) and its relatives. */
static void test_bounce(void **st)
{
	static const struct refusal cases[] = {
		{ "PORT 10,0,0,99,0,25\r\n", FTP_R_BOUNCE },
		{ "PORT 198,51,100,5,0,25\r\n", FTP_R_BOUNCE },   /* the server */
		{ "PORT 192,168,1,10,0,22\r\n", FTP_R_LOW_PORT }, /* own ssh */
		{ "PORT 203,0,113,1,0,22\r\n", FTP_R_LOW_PORT },
		{ "PORT 192,168,1,10,0,0\r\n", FTP_R_PORT_ZERO },
		{ "PORT 127,0,0,1,4,1\r\n", FTP_R_BAD_ADDR },
		{ "PORT 0,0,0,0,4,1\r\n", FTP_R_BAD_ADDR },
		{ "PORT 224,0,0,1,4,1\r\n", FTP_R_BAD_ADDR },
		{ "PORT 255,255,255,255,4,1\r\n", FTP_R_BAD_ADDR },
		{ "PORT 169,254,1,1,4,1\r\n", FTP_R_BAD_ADDR },
		{ "EPRT |1|10.0.0.99|25|\r\n", FTP_R_BOUNCE },
		{ "EPRT |1|192.168.1.10|22|\r\n", FTP_R_LOW_PORT },
		{ "LPRT 4,4,192,168,1,10,2,4,1\r\n", FTP_R_LPRT },
	};
	struct tsess t;
	struct tout o;
	(void)st;
	scen_a(&t);
	greet(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ftp_event *e = tone(&t, C, cases[i].line, &o);
		if (e->reason != cases[i].reason)
			fail_msg("'%s': reason %s, expected %s", cases[i].line,
			         ftp_reason_str(e->reason),
			         ftp_reason_str(cases[i].reason));
		assert_int_equal(e->verdict, FTP_V_REJECT);
		assert_int_equal(e->data.mode, FTP_DATA_NONE);
		/* the server sees a command it refuses, no address */
		assert_string_equal(o.out, "FTPGW-REFUSED\r\n");
		tquiet(&t, S, "500 unknown command\r\n");
	}
}

static void test_port_policy(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	assert_int_equal(ftp_policy_set(&t.pol, "low-port-exceptions", "20,21",
	                                NULL, 0), 0);
	assert_int_equal(ftp_policy_set(&t.pol, "active-ports", "20-6000",
	                                NULL, 0), 0);
	greet(&t);
	e = tone(&t, C, "PORT 192,168,1,10,0,20\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	tquiet(&t, S, "200 ok\r\n");
	e = tone(&t, C, "PORT 192,168,1,10,0,23\r\n", &o);
	assert_int_equal(e->reason, FTP_R_LOW_PORT);
	tquiet(&t, S, "500 no\r\n");
	e = tone(&t, C, "PORT 192,168,1,10,23,113\r\n", &o);  /* 6001 */
	assert_int_equal(e->reason, FTP_R_PORT_RANGE);
	tquiet(&t, S, "500 no\r\n");
	assert_int_equal(ftp_policy_set(&t.pol, "allow-low-ports", "yes", NULL,
	                                0), 0);
	e = tone(&t, C, "PORT 192,168,1,10,0,23\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	tquiet(&t, S, "200 ok\r\n");
	/* reset instead of reject */
	assert_int_equal(ftp_policy_set(&t.pol, "on-violation", "reset", NULL,
	                                0), 0);
	e = tone(&t, C, "PORT 10,0,0,99,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_RESET);
	assert_int_equal(e->reason, FTP_R_BOUNCE);
	assert_string_equal(o.out, "PORT 10,0,0,99,4,1\r\n");
}

static void test_fxp(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	assert_int_equal(ftp_policy_set(&t.pol, "allow-fxp", "yes", NULL, 0), 0);
	t.flags = FTP_SESS_REPORT_ALL;
	tsess_reset(&t);
	greet(&t);
	/* to a third server: allowed, unchanged, and no pinhole of ours */
	e = tone(&t, C, "PORT 198,51,100,99,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	assert_int_equal(e->data.mode, FTP_DATA_NONE);
	assert_string_equal(o.out, "PORT 198,51,100,99,4,1\r\n");
	tfeed(&t, S, "200 ok\r\n", &o);
	/* never to special addresses or privileged ports */
	e = tone(&t, C, "PORT 127,0,0,1,4,1\r\n", &o);
	assert_int_equal(e->reason, FTP_R_BAD_ADDR);
	tfeed(&t, S, "500 no\r\n", &o);
	e = tone(&t, C, "PORT 198,51,100,99,0,25\r\n", &o);
	assert_int_equal(e->reason, FTP_R_LOW_PORT);
}

static void test_malformed_cmds(void **st)
{
	static const char *const bad[] = {
		"PORT\r\n", "PORT \r\n", "PORT 192,168,1,10,4\r\n",
		"PORT 192,168,1,10,4,1,1\r\n", "PORT 192,168,1,10,4,256\r\n",
		"PORT 192.168.1.10.4.1\r\n", "PORT 192,168,1,10,4,1 x\r\n",
		"PORT (192,168,1,10,4,1)\r\n", "PORT 192, 168,1,10,4,1\r\n",
		"EPRT\r\n", "EPRT |1|192.168.1.10|4|x\r\n", "EPRT |1|192.168.1.10|\r\n",
		"EPRT 1|192.168.1.10|4|\r\n", "EPRT |1|192.168.1.010|4|\r\n",
		"EPRT |1|192.168.1.10|99999|\r\n",
		"PORT 1111111111111111111111111111111111111111111111111111111111"
		"111111111111111111111111111111111111111111111111111111111\r\n",
	};
	struct tsess t;
	struct tout o;
	(void)st;
	scen_a(&t);
	greet(&t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct ftp_event *e = tone(&t, C, bad[i], &o);
		if (e->reason != FTP_R_MALFORMED)
			fail_msg("'%s': reason %s", bad[i],
			         ftp_reason_str(e->reason));
		assert_int_equal(e->verdict, FTP_V_REJECT);
		assert_int_equal(e->data.mode, FTP_DATA_NONE);
		tquiet(&t, S, "501 syntax\r\n");
	}
	/* on-malformed=pass: unchanged, counted, still no pinhole */
	assert_int_equal(ftp_policy_set(&t.pol, "on-malformed", "pass", NULL, 0),
	                 0);
	const struct ftp_event *e = tone(&t, C, bad[2], &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	assert_int_equal(e->reason, FTP_R_MALFORMED);
	assert_int_equal(e->data.mode, FTP_DATA_NONE);
	assert_string_equal(o.out, bad[2]);
}

static void test_lprt(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_a(&t);
	greet(&t);
	e = tone(&t, C, "LPSV\r\n", &o);
	assert_int_equal(e->reason, FTP_R_LPRT);
	assert_string_equal(o.out, "FTPGW-REFUSED\r\n");
	tquiet(&t, S, "500 unknown\r\n");
	assert_int_equal(ftp_policy_set(&t.pol, "allow-lprt", "yes", NULL, 0), 0);
	e = tone(&t, C, "LPRT 4,4,192,168,1,10,2,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_string_equal(o.out, "LPRT 4,4,203,0,113,1,2,4,1\r\n");
	tquiet(&t, S, "200 ok\r\n");
	/* 228 for a server behind DNAT */
	scen_b(&t);
	assert_int_equal(ftp_policy_set(&t.pol, "allow-lprt", "yes", NULL, 0), 0);
	greet(&t);
	tquiet(&t, C, "LPSV\r\n");
	e = tone(&t, S, "228 Entering Long Passive Mode (4,4,10,0,0,5,2,19,137)\r\n",
	         &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_string_equal(o.out, "228 Entering Long Passive Mode "
	                    "(4,4,203,0,113,1,2,19,137)\r\n");
	/* without allow-lprt a 228 is refused */
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "NOOP\r\n");
	e = tone(&t, S, "228 Entering Long Passive Mode (4,4,10,0,0,5,2,19,137)\r\n",
	         &o);
	assert_int_equal(e->verdict, FTP_V_REJECT);
}

static void test_epsv_all(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "EPSV ALL\r\n");
	tquiet(&t, S, "200 EPSV ALL ok\r\n");
	e = tone(&t, C, "PORT 198,51,100,7,4,1\r\n", &o);
	assert_int_equal(e->reason, FTP_R_EPSV_ALL);
	tquiet(&t, S, "500 no\r\n");
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_EPSV_ALL);
	/* EPSV still works */
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||6446|)\r\n", &o);
	assert_int_equal(e->data.mode, FTP_DATA_PASSIVE);
	/* a server that refuses EPSV ALL leaves everything allowed */
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "EPSV ALL\r\n");
	tquiet(&t, S, "502 not implemented\r\n");
	e = tone(&t, C, "PORT 198,51,100,7,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	assert_int_equal(e->data.mode, FTP_DATA_ACTIVE);
	tquiet(&t, S, "200 ok\r\n");
	/* and a 229 does not answer EPSV ALL */
	tquiet(&t, C, "EPSV ALL\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||6446|)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_UNSOLICITED);
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_EPSV_ALL);
	/* REIN ends it */
	tquiet(&t, C, "REIN\r\n");
	tquiet(&t, S, "220 ready\r\n");
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
}

static void test_greeting(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	/* a PORT before any 220 */
	scen_a(&t);
	e = tone(&t, C, "PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(e->reason, FTP_R_NO_GREETING);
	/* NAT slipstreaming: the client spoke first (an HTTP request); a
	 * 220 later does not make its PORT lines acceptable */
	scen_a(&t);
	tquiet(&t, C, "POST / HTTP/1.1\r\n");
	tquiet(&t, S, "220 hello\r\n");
	e = tone(&t, C, "PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(e->reason, FTP_R_NO_GREETING);
	/* and the server side: a 227 before the greeting */
	scen_b(&t);
	tquiet(&t, C, "");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REJECT);
	/* 120 then 220, multi-line 220 */
	scen_a(&t);
	tquiet(&t, S, "120 wait\r\n220-welcome\r\n220-to\r\n220 ready\r\n");
	e = tone(&t, C, "PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	/* picked up mid-stream: no greeting expected */
	tsess_setup(&t, A_CPRIV, A_CPUB, A_SRV, A_SRV, FTP_SESS_MIDSTREAM);
	e = tone(&t, C, "PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	/* require-greeting=no */
	scen_a(&t);
	assert_int_equal(ftp_policy_set(&t.pol, "require-greeting", "no", NULL,
	                                0), 0);
	e = tone(&t, C, "PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
}

static void test_pass_secret(void **st)
{
	struct tsess t;
	struct tout o;
	(void)st;
	scen_a(&t);
	t.flags = FTP_SESS_REPORT_ALL;
	tsess_reset(&t);
	greet(&t);
	tfeed(&t, C, "USER anonymous\r\n", &o);
	assert_int_equal(o.ev[0].cmd, FTP_CMD_USER);
	assert_false(o.ev[0].flags & FTP_EVF_SECRET);
	tfeed(&t, S, "331 pass\r\n", &o);
	tfeed(&t, C, "PASS s3cret\r\n", &o);
	assert_int_equal(o.ev[0].cmd, FTP_CMD_PASS);
	assert_true(o.ev[0].flags & FTP_EVF_SECRET);
	tfeed(&t, C, "pass x\r\n", &o);
	assert_true(o.ev[0].flags & FTP_EVF_SECRET);
}

/* ---- replies -------------------------------------------------------- */

static void test_227_rewrite(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,195,80).\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	assert_int_equal(e->code, 227);
	assert_string_equal(o.out,
	                    "227 Entering Passive Mode (203,0,113,1,195,80).\r\n");
	assert_int_equal(e->data.mode, FTP_DATA_PASSIVE);
	addr_is(&e->data.listen_addr, B_SPRIV);
	addr_is(&e->data.pub_addr, B_SPUB);
	assert_int_equal(e->data.listen_port, 50000);
	/* remapped into a public range */
	struct ftp_event r = *e;
	assert_int_equal(ftp_event_remap(&r, 30001), 0);
	assert_memory_equal(r.out, "203,0,113,1,117,49", r.out_len);
	/* no parentheses, '=' form, text after */
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227 Entering Passive Mode 10,0,0,5,195,80\r\n", &o);
	assert_string_equal(o.out,
	                    "227 Entering Passive Mode 203,0,113,1,195,80\r\n");
	tquiet(&t, C, "pasv\r\n");
	tfeed(&t, S, "227 =10,0,0,5,195,80\r\n", &o);
	assert_string_equal(o.out, "227 =203,0,113,1,195,80\r\n");
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227 Passive 2 (10,0,0,5,195,80) ok 3\r\n", &o);
	assert_string_equal(o.out, "227 Passive 2 (203,0,113,1,195,80) ok 3\r\n");
	/* a server already announcing its public address */
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (203,0,113,1,195,80)\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	assert_int_equal(e->data.mode, FTP_DATA_PASSIVE);
	addr_is(&e->data.listen_addr, B_SPRIV);
}

static void test_227_refused(void **st)
{
	static const struct refusal cases[] = {
		{ "227 Entering Passive Mode (10,0,0,6,195,80)\r\n",
		  FTP_R_FOREIGN_PASV },
		{ "227 Entering Passive Mode (198,51,100,7,195,80)\r\n",
		  FTP_R_FOREIGN_PASV },       /* the client itself */
		{ "227 Entering Passive Mode (0,0,0,0,195,80)\r\n", FTP_R_BAD_ADDR },
		{ "227 Entering Passive Mode (127,0,0,1,195,80)\r\n", FTP_R_BAD_ADDR },
		{ "227 Entering Passive Mode (10,0,0,5,0,22)\r\n", FTP_R_LOW_PORT },
		{ "227 Entering Passive Mode (10,0,0,5,0,0)\r\n", FTP_R_PORT_ZERO },
		{ "227 Entering Passive Mode (10,0,0,5,195)\r\n", FTP_R_MALFORMED },
		{ "227 Entering Passive Mode\r\n", FTP_R_MALFORMED },
		{ "227 Entering Passive Mode (10,0,0,5,195,800)\r\n", FTP_R_MALFORMED },
		{ "227 Entering Passive Mode (10, 0, 0, 5, 195, 80)\r\n",
		  FTP_R_MALFORMED },
		{ "227 Entering Passive Mode (10,0,0,5,195,80,1)\r\n", FTP_R_MALFORMED },
		{ "227 Entering Passive Mode (10.0.0.5.195.80)\r\n", FTP_R_MALFORMED },
		{ "227 Entering Passive Mode (10,0,0,-5,195,80)\r\n", FTP_R_MALFORMED },
		{ "227 Entering Passive Mode (1000,0,0,5,195,80)\r\n",
		  FTP_R_MALFORMED },
		{ "227 Entering Passive Mode (10,0,0,5,195,80\x00)\r\n",
		  FTP_R_NONE },               /* NUL after the tuple: accepted */
	};
	struct tsess t;
	struct tout o;
	(void)st;
	scen_b(&t);
	greet(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ftp_event *e;
		size_t n = strlen(cases[i].line);

		if (cases[i].reason == FTP_R_NONE)
			n += 4;       /* the NUL case: count past it */
		tquiet(&t, C, "PASV\r\n");
		tfeed_chunked(&t, S, cases[i].line, n, 0, &o);
		assert_int_equal(o.nev, 1);
		e = &o.ev[0];
		if (e->reason != cases[i].reason)
			fail_msg("'%s': reason %s, expected %s", cases[i].line,
			         ftp_reason_str(e->reason),
			         ftp_reason_str(cases[i].reason));
		if (cases[i].reason == FTP_R_NONE)
			continue;
		assert_int_equal(e->verdict, FTP_V_REJECT);
		assert_int_equal(e->data.mode, FTP_DATA_NONE);
		assert_true(strncmp(o.out, "502 ftpgw: passive reply refused (",
		                    34) == 0);
	}
}

static void test_227_unsolicited(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_b(&t);
	greet(&t);
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_UNSOLICITED);
	assert_int_equal(e->data.mode, FTP_DATA_NONE);
	/* 227 answering EPSV, 229 answering PASV */
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_UNSOLICITED);
	tquiet(&t, C, "PASV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||6446|)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_UNSOLICITED);
	/* a 227 answering the command after PASV */
	tquiet(&t, C, "PASV\r\nNOOP\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n"
	      "227 Entering Passive Mode (10,0,0,5,4,2)\r\n", &o);
	assert_int_equal(o.nev, 2);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
	assert_int_equal(o.ev[1].reason, FTP_R_UNSOLICITED);
}

/* SECURITY: text inside other replies is never an address reply. */
static void test_reply_injection(void **st)
{
	struct tsess t;
	struct tout o;
	(void)st;
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "PASV\r\n");
	/* a 550 multi-line whose text looks like 227 lines */
	tquiet(&t, C, "RETR x\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.nev, 1);
	tfeed(&t, S, "550-No such file\r\n"
	      "227 Entering Passive Mode (10,0,0,5,0,22)\r\n"
	      " 227 Entering Passive Mode (10,0,0,5,4,2)\r\n"
	      "550 end\r\n", &o);
	assert_int_equal(o.nev, 0);
	/* a 230 banner naming tuples */
	tquiet(&t, C, "USER a\r\n");
	tfeed(&t, S, "230-227 Entering Passive Mode (10,0,0,5,4,3)\r\n230 ok\r\n",
	      &o);
	assert_int_equal(o.nev, 0);
	/* a multi-line 227 opened without a PASV */
	tfeed(&t, S, "227-Entering Passive Mode (10,0,0,5,4,3)\r\n227 ok\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].reason, FTP_R_UNSOLICITED);
	assert_int_equal(o.ev[0].verdict, FTP_V_REJECT);
	/* inside a multi-line reply only the tuple is neutralised */
	assert_string_equal(o.out, "227-Entering Passive Mode (0,0,0,0,0,0)\r\n"
	                    "227 ok\r\n");
}

static void test_227_multiline(void **st)
{
	struct tsess t;
	struct tout o;
	(void)st;
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227-Entering Passive Mode (10,0,0,5,4,1)\r\n227 OK\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
	assert_true(o.ev[0].flags & FTP_EVF_MULTILINE);
	assert_false(o.ev[0].flags & FTP_EVF_FINAL);
	assert_string_equal(o.out, "227-Entering Passive Mode (203,0,113,1,4,1)\r\n"
	                    "227 OK\r\n");
	/* the tuple on a continuation line; a second tuple ignored */
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227-Entering Passive Mode\r\n 10,0,0,5,4,2\r\n"
	      "227 (10,0,0,5,4,3)\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_string_equal(o.out, "227-Entering Passive Mode\r\n 203,0,113,1,4,2"
	                    "\r\n227 (10,0,0,5,4,3)\r\n");
	/* the tuple on the closing line */
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227-Entering Passive Mode\r\n227 (10,0,0,5,4,3)\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_true(o.ev[0].flags & FTP_EVF_FINAL);
	/* the reply is over: the next command is in step */
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,4)\r\n", &o);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
	/* no tuple anywhere in a multi-line 227: counted, nothing opened */
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227-Entering Passive Mode\r\n227 later\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].reason, FTP_R_MALFORMED);
	assert_int_equal(o.ev[0].data.mode, FTP_DATA_NONE);
}

static void test_229(void **st)
{
	struct tsess t;
	struct tout o;
	const struct ftp_event *e;
	(void)st;
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||6446|)\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	assert_int_equal(e->data.mode, FTP_DATA_PASSIVE);
	assert_int_equal(e->data.listen_port, 6446);
	addr_is(&e->data.listen_addr, B_SPRIV);
	addr_is(&e->data.pub_addr, B_SPUB);
	struct ftp_event r = *e;
	assert_int_equal(ftp_event_remap(&r, 30000), 0);
	assert_int_equal(r.verdict, FTP_V_REWRITE);
	assert_int_equal(r.edit_start - r.line_start, 39);
	assert_int_equal(r.edit_len, 4);
	assert_memory_equal(r.out, "30000", 5);
	/* other delimiters, no text, no closing parenthesis */
	tquiet(&t, C, "EPSV 1\r\n");
	e = tone(&t, S, "229 (!!!50000!)\r\n", &o);
	assert_int_equal(e->data.listen_port, 50000);
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||50001|\r\n", &o);
	assert_int_equal(e->data.listen_port, 50001);
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Extended (x) Passive Mode (|||50002|)\r\n", &o);
	assert_int_equal(e->data.listen_port, 50002);
	/* refusals */
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||22|)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_LOW_PORT);
	assert_string_equal(o.out, "502 ftpgw: passive reply refused (low-port)"
	                    "\r\n");
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (||6446|)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_MALFORMED);
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||65536|)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_MALFORMED);
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode |||6446|\r\n", &o);
	assert_int_equal(e->reason, FTP_R_MALFORMED);
	/* malformed 229 replies: refused, nothing opened */
	static const char *const bad229[] = {
		"229 Entering Extended Passive Mode (|||)\r\n",
		"229 Entering Extended Passive Mode (||||)\r\n",
		"229 Entering Extended Passive Mode (|||abc|)\r\n",
		"229 Entering Extended Passive Mode (|1|2|3|)\r\n",
		"229 Entering Extended Passive Mode (|||6446)\r\n",
		"229 Entering Extended Passive Mode (|||6446!)\r\n",
		"229 Entering Extended Passive Mode (111644611)\r\n",
		"229 Entering Extended Passive Mode (|||-1|)\r\n",
		"229 Entering Extended Passive Mode (||| 6446|)\r\n",
		"229 Entering Extended Passive Mode ()\r\n",
		"229 Entering Extended Passive Mode\r\n",
		"229 Entering Extended Passive Mode (|||6446|x)\r\n",
	};
	for (size_t i = 0; i < sizeof(bad229) / sizeof(bad229[0]); i++) {
		tquiet(&t, C, "EPSV\r\n");
		e = tone(&t, S, bad229[i], &o);
		if (e->reason != FTP_R_MALFORMED)
			fail_msg("'%s': %s", bad229[i], ftp_reason_str(e->reason));
		assert_int_equal(e->data.mode, FTP_DATA_NONE);
	}
	/* passive-ports */
	assert_int_equal(ftp_policy_set(&t.pol, "passive-ports", "30000-30100",
	                                NULL, 0), 0);
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||30100|)\r\n", &o);
	assert_int_equal(e->verdict, FTP_V_PASS);
	tquiet(&t, C, "EPSV\r\n");
	e = tone(&t, S, "229 Entering Extended Passive Mode (|||30101|)\r\n", &o);
	assert_int_equal(e->reason, FTP_R_PORT_RANGE);
}

static void test_pipeline_and_abor(void **st)
{
	struct tsess t;
	struct tout o;
	(void)st;
	scen_b(&t);
	greet(&t);
	/* RETR, 150, ABOR, 426 (for RETR), 226 (for ABOR), then PASV */
	tquiet(&t, C, "RETR f\r\n");
	tquiet(&t, S, "150 opening\r\n");
	tquiet(&t, C, "\xff\xf4\xff\xf2" "ABOR\r\n");
	tquiet(&t, S, "426 aborted\r\n226 ABOR ok\r\n");
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
	/* pipelined: NOOP TYPE PASV */
	tquiet(&t, C, "NOOP\r\nTYPE I\r\nPASV\r\n");
	tfeed(&t, S, "200 ok\r\n200 type\r\n227 Entering Passive Mode "
	      "(10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
	/* an unsolicited 421 does not shift the tracking */
	tquiet(&t, C, "PASV\r\n");
	tquiet(&t, S, "421 timeout soon\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.ev[0].verdict, FTP_V_REJECT);
	assert_int_equal(o.ev[0].reason, FTP_R_UNSOLICITED);
}

static void test_pipeline_overflow(void **st)
{
	struct tsess t;
	struct tout o;
	(void)st;
	scen_b(&t);
	greet(&t);
	for (int i = 0; i < FTP_PIPELINE + 4; i++)
		tquiet(&t, C, "NOOP\r\n");
	tquiet(&t, C, "PASV\r\n");
	for (int i = 0; i < FTP_PIPELINE + 4; i++)
		tquiet(&t, S, "200 ok\r\n");
	/* the PASV was past what is tracked: its 227 is refused, never
	 * guessed at */
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.ev[0].reason, FTP_R_UNSOLICITED);
	/* and once all are answered, the session is in step again */
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
}

static void test_midstream(void **st)
{
	struct tsess t;
	struct tout o;
	(void)st;
	tsess_setup(&t, B_CLI, B_CLI, B_SPRIV, B_SPUB, FTP_SESS_MIDSTREAM);
	/* a 227 whose PASV came before the pickup */
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.ev[0].verdict, FTP_V_REWRITE);
	/* once a full exchange is seen, replies must match again */
	tquiet(&t, C, "NOOP\r\n");
	tquiet(&t, S, "200 ok\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	assert_int_equal(o.ev[0].reason, FTP_R_UNSOLICITED);
}

static void test_bad_reply(void **st)
{
	static const char *const bad[] = {
		"hello\r\n", "\r\n", "22 x\r\n", "2270 x\r\n", "627 x\r\n",
		"\x00" "27 x\r\n", "-227 x\r\n",
	};
	struct tsess t;
	struct tout o;
	(void)st;
	scen_b(&t);
	greet(&t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = i == 5 ? 7 : strlen(bad[i]);
		tfeed_chunked(&t, S, bad[i], n, 0, &o);
		assert_int_equal(o.nev, 1);
		assert_int_equal(o.ev[0].reason, FTP_R_BAD_REPLY);
		assert_int_equal(o.ev[0].verdict, FTP_V_PASS);
	}
	/* a bare code is a reply */
	tquiet(&t, C, "NOOP\r\n");
	tquiet(&t, S, "200\r\n");
}

/* ---- TLS ------------------------------------------------------------ */

static void test_auth_tls(void **st)
{
	struct tsess t;
	struct tout o;
	static const char hello[] = "\x16\x03\x01\x00\x05" "ABCDE"
	                            "\x17\x03\x03\x00\x0aPORT 1,2,3";
	static const char appdata[] = "\x17\x03\x03\x00\x03" "\r\n\n"
	                              "\x15\x03\x03\x00\x02" "\x01\x00";
	(void)st;
	scen_a(&t);
	greet(&t);
	tquiet(&t, C, "AUTH TLS\r\n");
	tfeed(&t, S, "234 AUTH TLS ok\r\n", &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].reason, FTP_R_TLS);
	assert_true(o.ev[0].flags & FTP_EVF_ENCRYPTED);
	assert_true(ftp_sess_encrypted(&t.s));
	/* records, even split, even with FTP-looking bytes inside: ignored */
	tfeed_chunked(&t, C, hello, sizeof(hello) - 1, 3, &o);
	assert_int_equal(o.nev, 0);
	tfeed_chunked(&t, S, appdata, sizeof(appdata) - 1, 1, &o);
	assert_int_equal(o.nev, 0);
	tfeed_chunked(&t, C, "\x17\x03\x03\x00\x01" "x" "\x15\x03\x03\x00\x02"
	              "\x01\x00", 13, 0, &o);
	assert_int_equal(o.nev, 0);
	/* after CCC and close_notify: plaintext, inspected again */
	tfeed(&t, C, "PORT 192,168,1,10,4,1\r\n", &o);
	assert_int_equal(o.nev, 2);
	assert_int_equal(o.ev[0].reason, FTP_R_TLS_END);
	assert_int_equal(o.ev[1].verdict, FTP_V_REWRITE);
	assert_string_equal(o.out, "PORT 203,0,113,1,4,1\r\n");
}

static void test_implicit_tls(void **st)
{
	struct tsess t;
	struct tout o;
	static const char hello[] = "\x16\x03\x01\x00\x04" "PORT";
	(void)st;
	scen_a(&t);
	tfeed_chunked(&t, C, hello, sizeof(hello) - 1, 0, &o);
	assert_int_equal(o.nev, 1);
	assert_int_equal(o.ev[0].reason, FTP_R_TLS);
	assert_true(ftp_sess_encrypted(&t.s));
	/* a 234 that answers no AUTH changes nothing */
	scen_a(&t);
	greet(&t);
	tquiet(&t, C, "NOOP\r\n");
	tquiet(&t, S, "234 whatever\r\n");
	assert_false(ftp_sess_encrypted(&t.s));
}

/* ---- ftp_partial ---------------------------------------------------- */

static void test_partial(void **st)
{
	struct tsess t;
	struct tout o;
	uint64_t ls;
	(void)st;
	scen_b(&t);
	greet(&t);
	assert_int_equal(ftp_partial(&t.s, C, &ls), 0);
	tfeed(&t, C, "PO", &o);
	assert_int_equal(ftp_partial(&t.s, C, &ls), 2);
	tfeed(&t, C, "RT 1,2", &o);
	assert_int_equal(ftp_partial(&t.s, C, &ls), 2);
	tfeed(&t, C, "\r\n", &o);
	tquiet(&t, S, "500 x\r\n");
	tfeed(&t, C, "RETR some", &o);
	assert_int_equal(ftp_partial(&t.s, C, &ls), 1);
	assert_int_equal(ls, 10);
	tfeed(&t, C, "\r\n", &o);
	tfeed(&t, S, "15", &o);
	assert_int_equal(ftp_partial(&t.s, S, &ls), 2);
	tfeed(&t, S, "0 ok", &o);
	assert_int_equal(ftp_partial(&t.s, S, &ls), 1);
	tfeed(&t, S, "\r\n227 Entering", &o);
	assert_int_equal(ftp_partial(&t.s, S, &ls), 2);
}

/* ---- splitting and mutation ----------------------------------------- */

static const char transcript_c[] =
	"USER anonymous\r\nPASS x@y\r\nPASV\r\nPORT 192,168,1,10,19,137\r\n"
	"EPRT |1|192.168.1.10|6275|\r\nEPSV\r\nPORT 10,0,0,9,0,25\r\nQUIT\r\n";
static const char transcript_s[] =
	"220-hi\r\n220 ready\r\n331 pass\r\n230 ok\r\n"
	"227 Entering Passive Mode (198,51,100,5,195,80).\r\n"
	"200 PORT ok\r\n200 EPRT ok\r\n"
	"229 Entering Extended Passive Mode (|||6446|)\r\n500 no\r\n221 bye\r\n";

/* Feed the transcript interleaved line by line, chunk bytes at a time. */
static void run_transcript(size_t chunk, char *outc, char *outs, int *nev)
{
	struct tsess t;
	struct tout o;
	const char *pc = transcript_c, *ps = transcript_s;
	size_t oc = 0, os = 0;

	scen_a(&t);
	*nev = 0;
	/* greeting first, then one command, then its reply... */
	for (int i = 0; i < 2; i++) {
		const char *e = strchr(ps, '\n') + 1;
		tfeed_chunked(&t, S, ps, (size_t)(e - ps), chunk, &o);
		memcpy(outs + os, o.out, o.out_len);
		os += o.out_len;
		*nev += o.nev;
		ps = e;
	}
	while (*pc) {
		const char *e = strchr(pc, '\n') + 1;
		tfeed_chunked(&t, C, pc, (size_t)(e - pc), chunk, &o);
		memcpy(outc + oc, o.out, o.out_len);
		oc += o.out_len;
		*nev += o.nev;
		pc = e;
		e = strchr(ps, '\n') + 1;
		tfeed_chunked(&t, S, ps, (size_t)(e - ps), chunk, &o);
		memcpy(outs + os, o.out, o.out_len);
		os += o.out_len;
		*nev += o.nev;
		ps = e;
	}
	outc[oc] = outs[os] = '\0';
}

static void test_chunking(void **st)
{
	char c1[1024], s1[1024], c2[1024], s2[1024];
	int n1, n2;
	(void)st;
	run_transcript(0, c1, s1, &n1);
	assert_string_equal(c1,
	    "USER anonymous\r\nPASS x@y\r\nPASV\r\nPORT 203,0,113,1,19,137\r\n"
	    "EPRT |1|203.0.113.1|6275|\r\nEPSV\r\nFTPGW-REFUSED\r\nQUIT\r\n");
	assert_int_equal(n1, 5);
	for (size_t chunk = 1; chunk < 60; chunk++) {
		run_transcript(chunk, c2, s2, &n2);
		assert_string_equal(c1, c2);
		assert_string_equal(s1, s2);
		assert_int_equal(n1, n2);
	}
}

/* Split one stream at every offset into two feeds: same result. */
static void test_split_every_offset(void **st)
{
	const char *line = "227 Entering Passive Mode (10,0,0,5,195,80).\r\n";
	size_t n = strlen(line);
	(void)st;
	for (size_t cut = 0; cut <= n; cut++) {
		struct tsess t;
		struct tout o1, o2;

		scen_b(&t);
		greet(&t);
		tquiet(&t, C, "PASV\r\n");
		tfeed_chunked(&t, S, line, cut, 0, &o1);
		tfeed_chunked(&t, S, line + cut, n - cut, 0, &o2);
		/* the event comes with the LF, whichever feed has it */
		const struct tout *o = cut == n ? &o1 : &o2;
		assert_int_equal(o1.nev + o2.nev, 1);
		assert_int_equal(o->ev[0].verdict, FTP_V_REWRITE);
		assert_int_equal(o->ev[0].line_start, 11);
		assert_int_equal(o->ev[0].edit_start, 11 + 27);
		assert_int_equal(o->ev[0].edit_len, 15);
	}
}

/*
 * Mutations of every line of a transcript: truncation at every offset,
 * each byte replaced by interesting values, each bit flipped. Whatever
 * comes out must be defined: edits inside their line, and a data
 * connection only ever for an address that is the peer's own with a port
 * the policy allows.
 */
static void check_invariants(const struct tsess *t, const struct tout *o)
{
	for (int i = 0; i < o->nev; i++) {
		const struct ftp_event *e = &o->ev[i];

		assert_true(e->verdict <= FTP_V_RESET);
		assert_true(e->reason < FTP_R__COUNT);
		assert_true(e->out_len <= FTP_OUT_MAX);
		if (e->data.mode == FTP_DATA_NONE)
			continue;
		assert_true(e->verdict == FTP_V_PASS ||
		            e->verdict == FTP_V_REWRITE);
		assert_true(e->data.listen_port >= 1024);
		if (e->data.mode == FTP_DATA_ACTIVE) {
			assert_true(ftp_addr_eq(&e->data.listen_addr,
			                        &t->ep.client_priv));
			assert_true(ftp_addr_eq(&e->data.pub_addr,
			                        &t->ep.client_pub));
		} else {
			assert_true(ftp_addr_eq(&e->data.listen_addr,
			                        &t->ep.server_priv));
			assert_true(ftp_addr_eq(&e->data.pub_addr,
			                        &t->ep.server_pub));
		}
	}
}

static void mutate_one(enum ftp_dir dir, const char *line, size_t n,
                       bool scen_is_a)
{
	struct tsess t;
	struct tout o;

	if (scen_is_a)
		scen_a(&t);
	else
		scen_b(&t);
	greet(&t);
	if (dir == S)
		tquiet(&t, C, "PASV\r\nEPSV\r\n");
	tfeed_chunked(&t, dir, line, n, 0, &o);
	check_invariants(&t, &o);
	/* whatever it was, the session must go on */
	tfeed(&t, dir, "\r\n", &o);
	check_invariants(&t, &o);
}

static void test_mutation(void **st)
{
	static const char *const lines_c[] = {
		"PORT 192,168,1,10,19,137\r\n", "EPRT |1|192.168.1.10|6275|\r\n",
		"LPRT 4,4,192,168,1,10,2,4,1\r\n", "EPSV ALL\r\n", "AUTH TLS\r\n",
	};
	static const char *const lines_s[] = {
		"227 Entering Passive Mode (10,0,0,5,195,80).\r\n",
		"229 Entering Extended Passive Mode (|||6446|)\r\n",
		"227-Entering Passive Mode (10,0,0,5,4,1)\r\n227 OK\r\n",
		"228 Entering Long Passive Mode (4,4,10,0,0,5,2,19,137)\r\n",
	};
	static const uint8_t vals[] = { 0, '\r', '\n', ',', '|', '(', ')', '9',
	                                '0', ' ', 0xff, 0x16, '-', 'A' };
	char buf[256];
	(void)st;
	for (int side = 0; side < 2; side++) {
		const char *const *lines = side ? lines_s : lines_c;
		size_t cnt = side ? 4 : 5;

		for (size_t l = 0; l < cnt; l++) {
			size_t n = strlen(lines[l]);
			enum ftp_dir dir = side ? S : C;

			for (size_t cut = 0; cut <= n; cut++)
				mutate_one(dir, lines[l], cut, !side);
			for (size_t i = 0; i < n; i++) {
				for (size_t v = 0; v < sizeof(vals); v++) {
					memcpy(buf, lines[l], n);
					buf[i] = (char)vals[v];
					mutate_one(dir, buf, n, !side);
				}
				for (int b = 0; b < 8; b++) {
					memcpy(buf, lines[l], n);
					buf[i] = (char)(buf[i] ^ (1 << b));
					mutate_one(dir, buf, n, !side);
				}
			}
		}
	}
}

/* ---- policy options ------------------------------------------------- */

static void test_policy_set(void **st)
{
	struct ftp_policy p, q;
	char err[160], buf[1024];
	static const char *const good[][2] = {
		{ "max-line", "64" }, { "max-line", "65535" },
		{ "allow-fxp", "yes" }, { "allow-foreign-pasv", "true" },
		{ "allow-low-ports", "off" }, { "allow-lprt", "1" },
		{ "require-greeting", "no" }, { "active-ports", "1024-65535" },
		{ "passive-ports", "30000-30000" },
		{ "low-port-exceptions", "20,21" }, { "low-port-exceptions", "none" },
		{ "on-violation", "reset" }, { "on-malformed", "pass" },
		{ "on-overlong", "reset" },
	};
	static const char *const bad[][2] = {
		{ "max-line", "63" }, { "max-line", "65536" }, { "max-line", "" },
		{ "max-line", "12x" }, { "max-line", "-100" },
		{ "allow-fxp", "maybe" }, { "allow-fxp", "" },
		{ "active-ports", "0-100" }, { "active-ports", "100-50" },
		{ "active-ports", "100" }, { "passive-ports", "1-65536" },
		{ "passive-ports", "-5" }, { "low-port-exceptions", "20,,21" },
		{ "low-port-exceptions", "20," }, { "low-port-exceptions", "0" },
		{ "low-port-exceptions", "1,2,3,4,5,6,7,8,9" },
		{ "on-violation", "pass" }, { "on-overlong", "reject" },
		{ "on-malformed", "drop" }, { "no-such-option", "1" },
	};
	(void)st;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ftp_policy_default(&p);
		if (ftp_policy_set(&p, good[i][0], good[i][1], err, sizeof(err)))
			fail_msg("%s=%s refused: %s", good[i][0], good[i][1], err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ftp_policy_default(&p);
		q = p;
		if (ftp_policy_set(&p, bad[i][0], bad[i][1], err, sizeof(err)) == 0)
			fail_msg("%s=%s accepted", bad[i][0], bad[i][1]);
		assert_true(err[0] != '\0');
		/* a refused value leaves the policy as it was */
		assert_memory_equal(&p, &q, sizeof(p));
	}
	/* format, then set every line back: the same policy */
	ftp_policy_default(&p);
	ftp_policy_set(&p, "passive-ports", "30000-30100", err, sizeof(err));
	ftp_policy_set(&p, "low-port-exceptions", "20", err, sizeof(err));
	ftp_policy_set(&p, "on-malformed", "reset", err, sizeof(err));
	assert_true(ftp_policy_format(&p, buf, sizeof(buf)) < sizeof(buf));
	ftp_policy_default(&q);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');
		assert_non_null(eq);
		*eq = '\0';
		assert_int_equal(ftp_policy_set(&q, line, eq + 1, err, sizeof(err)),
		                 0);
	}
	assert_memory_equal(&p, &q, sizeof(p));
}

/* the caller could not open the data connection: refuse after the fact */
static void test_event_refuse(void **st)
{
	struct tsess t;
	struct tout o;
	struct ftp_event e;
	(void)st;
	scen_a(&t);
	greet(&t);
	tfeed(&t, C, "PORT 192,168,1,10,19,137\r\n", &o);
	e = o.ev[0];
	assert_int_equal(ftp_event_refuse(&e, FTP_R_PINHOLE), 0);
	assert_int_equal(e.verdict, FTP_V_REJECT);
	assert_int_equal(e.reason, FTP_R_PINHOLE);
	assert_int_equal(e.data.mode, FTP_DATA_NONE);
	assert_int_equal(e.edit_start, 0);
	assert_memory_equal(e.out, "FTPGW-REFUSED", e.out_len);
	tquiet(&t, S, "200 ok\r\n");
	scen_b(&t);
	greet(&t);
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227 Entering Passive Mode (10,0,0,5,4,1)\r\n", &o);
	e = o.ev[0];
	assert_int_equal(ftp_event_refuse(&e, FTP_R_PINHOLE), 0);
	assert_memory_equal(e.out, "502 ftpgw: passive reply refused (pinhole)",
	                    e.out_len);
	assert_int_equal(e.edit_len, 40);
	tquiet(&t, C, "PASV\r\n");
	tfeed(&t, S, "227-Entering Passive Mode (10,0,0,5,4,1)\r\n227 ok\r\n",
	      &o);
	e = o.ev[0];
	assert_int_equal(ftp_event_refuse(&e, FTP_R_PINHOLE), 0);
	assert_memory_equal(e.out, "0,0,0,0,0,0", e.out_len);
	/* not an address line */
	memset(&e, 0, sizeof(e));
	assert_int_equal(ftp_event_refuse(&e, FTP_R_PINHOLE), -1);
}

static void test_names(void **st)
{
	(void)st;
	for (int r = 0; r < FTP_R__COUNT; r++)
		assert_true(ftp_reason_str((enum ftp_reason)r)[0] != '\0');
	for (int c = 1; c < FTP_CMD__COUNT; c++)
		assert_true(ftp_cmd_str((enum ftp_cmd)c)[0] != '\0');
	assert_string_equal(ftp_verdict_str(FTP_V_REJECT), "reject");
	assert_string_equal(ftp_reason_str(FTP_R__COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_tuple),
		cmocka_unit_test(test_parse_ext),
		cmocka_unit_test(test_parse_extport),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_crlf_and_lf),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_overlong_reply),
		cmocka_unit_test(test_overlong_multiline_reply),
		cmocka_unit_test(test_telnet),
		cmocka_unit_test(test_nul_and_8bit),
		cmocka_unit_test(test_port_rewrite),
		cmocka_unit_test(test_port_remap),
		cmocka_unit_test(test_port_public_addr),
		cmocka_unit_test(test_eprt),
		cmocka_unit_test(test_eprt_v6),
		cmocka_unit_test(test_bounce),
		cmocka_unit_test(test_port_policy),
		cmocka_unit_test(test_fxp),
		cmocka_unit_test(test_malformed_cmds),
		cmocka_unit_test(test_lprt),
		cmocka_unit_test(test_epsv_all),
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_pass_secret),
		cmocka_unit_test(test_227_rewrite),
		cmocka_unit_test(test_227_refused),
		cmocka_unit_test(test_227_unsolicited),
		cmocka_unit_test(test_reply_injection),
		cmocka_unit_test(test_227_multiline),
		cmocka_unit_test(test_229),
		cmocka_unit_test(test_pipeline_and_abor),
		cmocka_unit_test(test_pipeline_overflow),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_bad_reply),
		cmocka_unit_test(test_auth_tls),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_split_every_offset),
		cmocka_unit_test(test_mutation),
		cmocka_unit_test(test_policy_set),
		cmocka_unit_test(test_event_refuse),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("ftp", tests, NULL, NULL);
}
