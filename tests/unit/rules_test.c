/*
 * rules_test.c - build-parse-compare for src/rules.c, no kernel needed.
 *
 * rules_build_install() writes the install batch; every netlink message
 * is walked and parsed back with libnftnl (nftnl_*_nlmsg_parse), and the
 * names, hooks, priorities, set key types and flags and each rule's
 * expressions in order are compared with what they must be. The expected
 * expression listings are libnftnl's own text, and they are what nft
 * 1.0.6 compiles the same rules to (nft --debug=netlink of the text in
 * rules/ftpgw.nft).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "rules.h"

#define BUFSZ (128 * 1024)
#define MAXMSG 64

static char buf[BUFSZ];

struct msg {
	uint16_t subsys, type, flags;
	uint32_t seq;
	uint8_t family;
	uint16_t res_id;
	const struct nlmsghdr *nlh;
};

struct batch {
	struct msg m[MAXMSG];
	int n;
};

/* Build and walk: every message whole, in the buffer, less than 4 KiB. */
static void build(const struct rules_cfg *c, enum rules_queue_backend be,
                  uint32_t seq, struct batch *b)
{
	long len = rules_build_install(c, be, seq, buf, sizeof(buf));
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int left;

	assert_true(len > 0);
	left = (int)len;
	memset(b, 0, sizeof(*b));
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
		struct msg *m;

		assert_true(b->n < MAXMSG);
		assert_true(nlh->nlmsg_len < 4096);
		m = &b->m[b->n++];
		m->subsys = (uint16_t)(nlh->nlmsg_type >> 8);
		m->type = (uint16_t)NFNL_MSG_TYPE(nlh->nlmsg_type);
		m->flags = nlh->nlmsg_flags;
		m->seq = nlh->nlmsg_seq;
		m->family = g->nfgen_family;
		m->res_id = ntohs(g->res_id);
		m->nlh = nlh;
	}
	assert_int_equal(left, 0);
}

/* --- per-object checks ------------------------------------------------ */

static void is_nft(const struct msg *m, uint16_t type, uint16_t flags)
{
	assert_int_equal(m->subsys, NFNL_SUBSYS_NFTABLES);
	assert_int_equal(m->type, type);
	assert_int_equal(m->flags, NLM_F_REQUEST | flags);
	assert_int_equal(m->family, NFPROTO_INET);
}

static void check_table(const struct msg *m, const char *name)
{
	struct nftnl_table *t = nftnl_table_alloc();

	is_nft(m, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	assert_int_equal(nftnl_table_nlmsg_parse(m->nlh, t), 0);
	assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), name);
	nftnl_table_free(t);
}

static void check_carrier(const struct msg *m, const char *table,
                          const char *name, uint16_t l3)
{
	struct nftnl_obj *o = nftnl_obj_alloc();

	is_nft(m, NFT_MSG_NEWOBJ, NLM_F_CREATE | NLM_F_ACK);
	assert_int_equal(nftnl_obj_nlmsg_parse(m->nlh, o), 0);
	assert_string_equal(nftnl_obj_get_str(o, NFTNL_OBJ_TABLE), table);
	assert_string_equal(nftnl_obj_get_str(o, NFTNL_OBJ_NAME), name);
	assert_int_equal(nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE), NFT_OBJECT_CT_EXPECT);
	assert_int_equal(nftnl_obj_get_u16(o, NFTNL_OBJ_CT_EXPECT_L3PROTO), l3);
	assert_int_equal(nftnl_obj_get_u8(o, NFTNL_OBJ_CT_EXPECT_L4PROTO),
	                 IPPROTO_TCP);
	assert_int_equal(nftnl_obj_get_u16(o, NFTNL_OBJ_CT_EXPECT_DPORT), 0);
	assert_true(nftnl_obj_is_set(o, NFTNL_OBJ_CT_EXPECT_TIMEOUT));
	/* size 0: the kernel creates no expectation, only the helper ext */
	assert_true(nftnl_obj_is_set(o, NFTNL_OBJ_CT_EXPECT_SIZE));
	assert_int_equal(nftnl_obj_get_u8(o, NFTNL_OBJ_CT_EXPECT_SIZE), 0);
	nftnl_obj_free(o);
}

static void check_set(const struct msg *m, const char *table, const char *name,
                      uint32_t flags, uint32_t ktype, uint32_t klen,
                      uint32_t dtype, uint32_t dlen, uint32_t size)
{
	struct nftnl_set *s = nftnl_set_alloc();

	is_nft(m, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_ACK);
	assert_int_equal(nftnl_set_nlmsg_parse(m->nlh, s), 0);
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_TABLE), table);
	assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_NAME), name);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), flags);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE), ktype);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), klen);
	assert_true(nftnl_set_is_set(s, NFTNL_SET_ID));
	if (flags & NFT_SET_MAP) {
		assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE), dtype);
		assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN), dlen);
	} else {
		assert_false(nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE));
	}
	if (size)
		assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE), size);
	else
		assert_false(nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE));
	nftnl_set_free(s);
}

/*
 * The ctl_ports elements. libnftnl 1.2.4 numbers the nested elements 1,
 * 2, 3... (the kernel ignores the nest type) but its parser wants every
 * one to be NFTA_LIST_ELEM, so a message with more than one element is
 * walked here with libmnl.
 */
static void check_ports(const struct msg *m, const struct rules_cfg *c)
{
	const struct nlattr *a, *el, *k;
	const char *table = NULL, *set = NULL;
	unsigned n = 0, seen = 0;

	is_nft(m, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_ACK);
	mnl_attr_for_each(a, m->nlh, sizeof(struct nfgenmsg)) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_LIST_TABLE:
			table = mnl_attr_get_str(a);
			break;
		case NFTA_SET_ELEM_LIST_SET:
			set = mnl_attr_get_str(a);
			break;
		case NFTA_SET_ELEM_LIST_ELEMENTS:
			mnl_attr_for_each_nested(el, a) {
				mnl_attr_for_each_nested(k, el) {
					const struct nlattr *v;

					if (mnl_attr_get_type(k) != NFTA_SET_ELEM_KEY)
						continue;
					v = mnl_attr_get_payload(k);
					assert_int_equal(mnl_attr_get_type(v), NFTA_DATA_VALUE);
					assert_int_equal(mnl_attr_get_payload_len(v), 2);
					for (unsigned i = 0; i < c->n_ctl_ports; i++)
						if (ntohs(mnl_attr_get_u16(v)) == c->ctl_ports[i])
							seen |= 1u << i;
					n++;
				}
			}
			break;
		default:
			break;
		}
	}
	assert_non_null(table);
	assert_string_equal(table, c->table);
	assert_non_null(set);
	assert_string_equal(set, "ctl_ports");
	assert_int_equal(n, c->n_ctl_ports);
	assert_int_equal(seen, (1u << c->n_ctl_ports) - 1);
}

static void check_chain(const struct msg *m, const char *table,
                        const char *name, const char *type, uint32_t hook,
                        int prio)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();

	is_nft(m, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_ACK);
	assert_int_equal(nftnl_chain_nlmsg_parse(m->nlh, ch), 0);
	assert_string_equal(nftnl_chain_get_str(ch, NFTNL_CHAIN_TABLE), table);
	assert_string_equal(nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME), name);
	assert_string_equal(nftnl_chain_get_str(ch, NFTNL_CHAIN_TYPE), type);
	assert_int_equal(nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM), hook);
	assert_int_equal(nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO), prio);
	assert_int_equal(nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY), NF_ACCEPT);
	nftnl_chain_free(ch);
}

/*
 * The rule's expressions as libnftnl prints them, one per line, without
 * the header line and userdata. libnftnl 1.2.4 sends the objref name
 * without its NUL (the kernel's NLA_STRING takes that) and then reads
 * past it when parsing its own message, so a carrier name is cut after
 * its 8 bytes.
 */
static void exprs_text(const struct nftnl_rule *r, char *out, size_t len)
{
	char raw[8192], *line, *save = NULL;
	size_t o = 0;

	nftnl_rule_snprintf(raw, sizeof(raw), r, NFTNL_OUTPUT_DEFAULT, 0);
	out[0] = '\0';
	for (line = strtok_r(raw, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p;

		if (strncmp(line, "  [ ", 4) != 0)
			continue;
		p = strstr(line, "[ objref type 9 name ");
		if (p) {
			p += strlen("[ objref type 9 name ");
			if (!strncmp(p, "carrier4", 8) || !strncmp(p, "carrier6", 8))
				snprintf(p + 8, 3, " ]");
		}
		o += (size_t)snprintf(out + o, len - o, "%s\n", line + 2);
		assert_true(o < len);
	}
}

static struct nftnl_rule *parse_rule(const struct msg *m, const char *table,
                                     const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	is_nft(m, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK);
	assert_int_equal(nftnl_rule_nlmsg_parse(m->nlh, r), 0);
	assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), table);
	assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain);
	return r;
}

static void check_rule(const struct msg *m, const char *table,
                       const char *chain, const char *expect)
{
	struct nftnl_rule *r = parse_rule(m, table, chain);
	char text[8192];

	exprs_text(r, text, sizeof(text));
	assert_string_equal(text, expect);
	nftnl_rule_free(r);
}

/* The one expression named name in the rule (there must be one). */
struct find {
	const char *name;
	struct nftnl_expr *e;
	int n;
};

static int find_cb(struct nftnl_expr *e, void *data)
{
	struct find *f = data;

	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), f->name)) {
		f->e = e;
		f->n++;
	}
	return 0;
}

static struct nftnl_expr *find_expr(struct nftnl_rule *r, const char *name)
{
	struct find f = { name, NULL, 0 };

	nftnl_expr_foreach(r, find_cb, &f);
	assert_int_equal(f.n, 1);
	return f.e;
}

/* Check a ctl_* rule's queue statement in the backend's form. */
static void check_queue(const struct msg *m, const struct rules_cfg *c,
                        const char *chain, enum rules_queue_backend be,
                        uint16_t port_off)
{
	struct nftnl_rule *r = parse_rule(m, c->table, chain);
	uint16_t total = (uint16_t)(c->queue_hi - c->queue_lo + 1);
	char text[8192], expect[1024], q[64];
	struct nftnl_expr *e;

	if (c->queue_hi > c->queue_lo)
		snprintf(q, sizeof(q), "queue num %u-%u%s", c->queue_lo, c->queue_hi,
		         c->fail_open ? " bypass" : "");
	else
		snprintf(q, sizeof(q), "queue num %u%s", c->queue_lo,
		         c->fail_open ? " bypass" : "");
	snprintf(expect, sizeof(expect),
	         "[ meta load l4proto => reg 1 ]\n"
	         "[ cmp eq reg 1 0x00000006 ]\n"
	         "[ payload load 2b @ transport header + %u => reg 1 ]\n"
	         "[ lookup reg 1 set ctl_ports ]\n"
	         "[ %s ]\n", port_off,
	         be == RULES_Q_NFT ? q : "target name NFQUEUE rev 3");
	exprs_text(r, text, sizeof(text));
	assert_string_equal(text, expect);

	if (be == RULES_Q_NFT) {
		e = find_expr(r, "queue");
		assert_int_equal(nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM),
		                 c->queue_lo);
		assert_int_equal(nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL), total);
		assert_int_equal(nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_FLAGS),
		                 c->fail_open ? NFT_QUEUE_FLAG_BYPASS : 0);
		assert_false(nftnl_rule_is_set(r, NFTNL_RULE_COMPAT_PROTO));
		assert_false(nftnl_rule_is_set(r, NFTNL_RULE_USERDATA));
	} else {
		struct xt_NFQ_info_v3 info;
		const void *data;
		const char *ud;
		uint32_t len = 0;
		char comment[96];

		e = find_expr(r, "target");
		assert_string_equal(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME),
		                    "NFQUEUE");
		assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV), 3);
		data = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);
		assert_non_null(data);
		assert_int_equal(len, 8);    /* XT_ALIGN(6) */
		memcpy(&info, data, sizeof(info));
		assert_int_equal(info.queuenum, c->queue_lo);
		assert_int_equal(info.queues_total, total);
		assert_int_equal(info.flags, c->fail_open ? NFQ_FLAG_BYPASS : 0);
		/* iptables-nft's "-p tcp": what the compat target sees */
		assert_int_equal(nftnl_rule_get_u32(r, NFTNL_RULE_COMPAT_PROTO),
		                 IPPROTO_TCP);
		assert_int_equal(nftnl_rule_get_u32(r, NFTNL_RULE_COMPAT_FLAGS), 0);
		/* the comment nft shows, as udata TLV {type 0, len, string} */
		ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
		assert_non_null(ud);
		snprintf(comment, sizeof(comment), "%s (xt NFQUEUE)", q);
		assert_int_equal(ud[0], 0);
		assert_int_equal((uint8_t)ud[1], strlen(comment) + 1);
		assert_int_equal(len, 2 + strlen(comment) + 1);
		assert_string_equal(ud + 2, comment);
	}
	nftnl_rule_free(r);
}

/* --- the expected bytecode (what nft 1.0.6 compiles) ------------------- */

#define PRE_CT_NEW \
	"[ ct load state => reg 1 ]\n" \
	"[ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ]\n" \
	"[ cmp neq reg 1 0x00000000 ]\n"
#define TCP \
	"[ meta load l4proto => reg 1 ]\n" \
	"[ cmp eq reg 1 0x00000006 ]\n"
#define NFPROTO4 \
	"[ meta load nfproto => reg 1 ]\n" \
	"[ cmp eq reg 1 0x00000002 ]\n"
#define NFPROTO6 \
	"[ meta load nfproto => reg 1 ]\n" \
	"[ cmp eq reg 1 0x0000000a ]\n"
#define KEY4 \
	"[ payload load 4b @ network header + 12 => reg 1 ]\n" \
	"[ payload load 4b @ network header + 16 => reg 9 ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 10 ]\n"
#define KEY6 \
	"[ payload load 16b @ network header + 8 => reg 1 ]\n" \
	"[ payload load 16b @ network header + 24 => reg 2 ]\n" \
	"[ payload load 2b @ transport header + 2 => reg 3 ]\n"

static const char carrier4[] =
	NFPROTO4 PRE_CT_NEW TCP
	"[ payload load 2b @ transport header + 2 => reg 1 ]\n"
	"[ lookup reg 1 set ctl_ports ]\n"
	"[ objref type 9 name carrier4 ]\n";
static const char carrier6[] =
	NFPROTO6 PRE_CT_NEW TCP
	"[ payload load 2b @ transport header + 2 => reg 1 ]\n"
	"[ lookup reg 1 set ctl_ports ]\n"
	"[ objref type 9 name carrier6 ]\n";

/* the first rules: what cannot match below leaves the chain at once */
static const char skip_old[] =
	"[ ct load state => reg 1 ]\n"
	"[ cmp neq reg 1 0x00000008 ]\n"
	"[ immediate reg 0 accept ]\n";
static const char skip_nontcp[] =
	"[ meta load l4proto => reg 1 ]\n"
	"[ cmp neq reg 1 0x00000006 ]\n"
	"[ immediate reg 0 accept ]\n";
static const char skip_data[] =
	TCP
	"[ payload load 2b @ transport header + 2 => reg 1 ]\n"
	"[ lookup reg 1 set ctl_ports 0x1 ]\n"
	"[ payload load 2b @ transport header + 0 => reg 1 ]\n"
	"[ lookup reg 1 set ctl_ports 0x1 ]\n"
	"[ immediate reg 0 accept ]\n";

/* %1$s: the mark mask ~M, %2$s: M */
static void pin_expect(int fam, uint32_t mark, char *out, size_t len)
{
	snprintf(out, len, "%s" PRE_CT_NEW TCP "%s"
	         "[ lookup reg 1 set pin%d ]\n"
	         "%s"
	         "[ dynset delete reg_key 1 set pin%d ]\n"
	         "[ ct load mark => reg 1 ]\n"
	         "[ bitwise reg 1 = ( reg 1 & 0x%08x ) ^ 0x%08x ]\n"
	         "[ ct set mark with reg 1 ]\n"
	         "[ meta load mark => reg 1 ]\n"
	         "[ bitwise reg 1 = ( reg 1 & 0x%08x ) ^ 0x%08x ]\n"
	         "[ meta set mark with reg 1 ]\n",
	         fam == 4 ? NFPROTO4 : NFPROTO6, fam == 4 ? KEY4 : KEY6, fam,
	         fam == 4 ? KEY4 : KEY6, fam, ~mark, mark, ~mark, mark);
}

static void pin_nat_expect(int fam, uint32_t mark, char *out, size_t len)
{
	snprintf(out, len, "%s"
	         "[ ct load mark => reg 1 ]\n"
	         "[ bitwise reg 1 = ( reg 1 & 0x%08x ) ^ 0x00000000 ]\n"
	         "[ cmp eq reg 1 0x%08x ]\n"
	         TCP "%s"
	         "[ lookup reg 1 set dnat%d dreg 1 ]\n"
	         "[ nat dnat %s addr_min reg 1 addr_max reg 1 proto_min reg %d "
	         "proto_max reg %d flags 0x3 ]\n",
	         fam == 4 ? NFPROTO4 : NFPROTO6, mark, mark, fam == 4 ? KEY4 : KEY6,
	         fam, fam == 4 ? "ip" : "ip6", fam == 4 ? 9 : 2, fam == 4 ? 9 : 2);
}

/* A bare ACK of a connection whose ct mark has the ack mark: accepted in
 * the ctl chains, not queued (nft 1.0.6 compiles "meta nfproto ipv4 ct
 * mark & M == M tcp flags == ack ip length 40 tcp doff 5 accept" so). */
static void ack_expect(int fam, uint32_t mark, unsigned doff, char *out,
                       size_t len)
{
	unsigned l = (fam == 4 ? 20 : 0) + doff * 4;

	snprintf(out, len, "%s"
	         "[ ct load mark => reg 1 ]\n"
	         "[ bitwise reg 1 = ( reg 1 & 0x%08x ) ^ 0x00000000 ]\n"
	         "[ cmp eq reg 1 0x%08x ]\n"
	         TCP
	         "[ payload load 1b @ transport header + 13 => reg 1 ]\n"
	         "[ cmp eq reg 1 0x00000010 ]\n"
	         "[ payload load 2b @ network header + %d => reg 1 ]\n"
	         "[ cmp eq reg 1 0x0000%02x%02x ]\n"
	         "[ payload load 1b @ transport header + 12 => reg 1 ]\n"
	         "[ bitwise reg 1 = ( reg 1 & 0x000000f0 ) ^ 0x00000000 ]\n"
	         "[ cmp eq reg 1 0x000000%02x ]\n"
	         "[ immediate reg 0 accept ]\n",
	         fam == 4 ? NFPROTO4 : NFPROTO6, mark, mark, fam == 4 ? 2 : 4,
	         l & 0xff, l >> 8, doff << 4);
}

/* The whole batch, in order, for any configuration. */
static void check_install(const struct rules_cfg *c, enum rules_queue_backend be,
                          uint32_t seq)
{
	struct batch b;
	char expect[4096];
	int i = 0;

	build(c, be, seq, &b);
	assert_int_equal(b.n, c->no_rules ? 22 : c->ack_mark ? 49 : 37);
	for (int k = 0; k < b.n; k++)
		assert_int_equal(b.m[k].seq, (uint32_t)(seq + (uint32_t)k));

	assert_int_equal(b.m[i].subsys, 0);
	assert_int_equal(b.m[i].type, NFNL_MSG_BATCH_BEGIN);
	assert_int_equal(b.m[i].res_id, NFNL_SUBSYS_NFTABLES);
	i++;
	check_table(&b.m[i++], c->table);
	check_carrier(&b.m[i++], c->table, "carrier4", NFPROTO_IPV4);
	check_carrier(&b.m[i++], c->table, "carrier6", NFPROTO_IPV6);
	check_set(&b.m[i++], c->table, "ctl_ports", 0, 13, 2, 0, 0, 0);
	check_ports(&b.m[i++], c);
	/* concatenated types: (a << 6 | b) << 6 | c, fields padded to 4 */
	check_set(&b.m[i++], c->table, "pin4", NFT_SET_TIMEOUT | NFT_SET_EVAL,
	          (7 << 12) | (7 << 6) | 13, 12, 0, 0, 65535);
	check_set(&b.m[i++], c->table, "pin6", NFT_SET_TIMEOUT | NFT_SET_EVAL,
	          (8 << 12) | (8 << 6) | 13, 36, 0, 0, 65535);
	check_set(&b.m[i++], c->table, "dnat4", NFT_SET_TIMEOUT | NFT_SET_MAP,
	          (7 << 12) | (7 << 6) | 13, 12, (7 << 6) | 13, 8, 0);
	check_set(&b.m[i++], c->table, "dnat6", NFT_SET_TIMEOUT | NFT_SET_MAP,
	          (8 << 12) | (8 << 6) | 13, 36, (8 << 6) | 13, 20, 0);

	check_chain(&b.m[i++], c->table, "carrier", "filter", NF_INET_PRE_ROUTING,
	            -150);
	check_rule(&b.m[i++], c->table, "carrier", skip_old);
	check_rule(&b.m[i++], c->table, "carrier", carrier4);
	check_rule(&b.m[i++], c->table, "carrier", carrier6);

	check_chain(&b.m[i++], c->table, "pin", "filter", NF_INET_PRE_ROUTING, -150);
	check_rule(&b.m[i++], c->table, "pin", skip_old);
	pin_expect(4, c->accept_mark, expect, sizeof(expect));
	check_rule(&b.m[i++], c->table, "pin", expect);
	pin_expect(6, c->accept_mark, expect, sizeof(expect));
	check_rule(&b.m[i++], c->table, "pin", expect);

	check_chain(&b.m[i++], c->table, "pin_nat", "nat", NF_INET_PRE_ROUTING,
	            -110);
	pin_nat_expect(4, c->accept_mark, expect, sizeof(expect));
	check_rule(&b.m[i++], c->table, "pin_nat", expect);
	pin_nat_expect(6, c->accept_mark, expect, sizeof(expect));
	check_rule(&b.m[i++], c->table, "pin_nat", expect);

	if (!c->no_rules) {
		static const struct { const char *name; uint32_t hook; } ctl[] = {
			{ "ctl_fwd", NF_INET_FORWARD },
			{ "ctl_in", NF_INET_LOCAL_IN },
			{ "ctl_out", NF_INET_LOCAL_OUT },
		};

		for (int k = 0; k < 3; k++) {
			check_chain(&b.m[i++], c->table, ctl[k].name, "filter",
			            ctl[k].hook, -10);
			check_rule(&b.m[i++], c->table, ctl[k].name, skip_nontcp);
			check_rule(&b.m[i++], c->table, ctl[k].name, skip_data);
			for (int fam = 4; c->ack_mark && fam <= 6; fam += 2)
				for (unsigned doff = 5; doff <= 8; doff += 3) {
					ack_expect(fam, c->ack_mark, doff, expect,
					           sizeof(expect));
					check_rule(&b.m[i++], c->table, ctl[k].name, expect);
				}
			check_queue(&b.m[i++], c, ctl[k].name, be, 2);
			check_queue(&b.m[i++], c, ctl[k].name, be, 0);
		}
	}
	assert_int_equal(b.m[i].subsys, 0);
	assert_int_equal(b.m[i].type, NFNL_MSG_BATCH_END);
	assert_int_equal(i + 1, b.n);
}

/* --- tests --------------------------------------------------------------- */

static void test_cfg_default(void **state)
{
	struct rules_cfg c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	rules_cfg_default(&c);
	assert_string_equal(c.table, "ftpgw");
	assert_int_equal(c.n_ctl_ports, 1);
	assert_int_equal(c.ctl_ports[0], 21);
	assert_int_equal(c.queue_lo, 0);
	assert_int_equal(c.queue_hi, 0);
	assert_false(c.fail_open);
	assert_false(c.no_rules);
	assert_int_equal(c.accept_mark, 0x00100000);
}

static void test_install_xt(void **state)
{
	struct rules_cfg c;

	(void)state;
	rules_cfg_default(&c);
	check_install(&c, RULES_Q_XT, 1000);
}

static void test_install_nft(void **state)
{
	struct rules_cfg c;

	(void)state;
	rules_cfg_default(&c);
	check_install(&c, RULES_Q_NFT, 7);
}

static void test_install_no_rules(void **state)
{
	struct rules_cfg c;

	(void)state;
	rules_cfg_default(&c);
	c.no_rules = true;
	check_install(&c, RULES_Q_NONE, 1);   /* no backend needed */
	check_install(&c, RULES_Q_XT, 1);     /* and none used */
}

static void test_queue_range_bypass(void **state)
{
	struct rules_cfg c;

	(void)state;
	rules_cfg_default(&c);
	c.queue_lo = 4;
	c.queue_hi = 7;
	c.fail_open = true;
	check_install(&c, RULES_Q_XT, 50);
	check_install(&c, RULES_Q_NFT, 50);
	c.queue_lo = c.queue_hi = 65535;
	check_install(&c, RULES_Q_NFT, 50);
	check_install(&c, RULES_Q_XT, 50);
}

static void test_custom_cfg(void **state)
{
	struct rules_cfg c;

	(void)state;
	rules_cfg_default(&c);
	snprintf(c.table, sizeof(c.table), "gw_test-2");
	c.ctl_ports[0] = 21;
	c.ctl_ports[1] = 2121;
	c.ctl_ports[2] = 990;
	c.n_ctl_ports = 3;
	c.accept_mark = 0x4;
	check_install(&c, RULES_Q_XT, 0xfffffff0u);   /* seq wraps */
	c.n_ctl_ports = RULES_MAX_CTL_PORTS;
	for (unsigned i = 0; i < c.n_ctl_ports; i++)
		c.ctl_ports[i] = (uint16_t)(100 + i);
	snprintf(c.table, sizeof(c.table), "%s", "a234567890123456789012345678901");
	check_install(&c, RULES_Q_NFT, 3);
	c.ack_mark = 0x80000000u;
	check_install(&c, RULES_Q_XT, 7);
	c.ack_mark = 0;                          /* every packet queued */
	check_install(&c, RULES_Q_NFT, 7);
}

static void test_bad_cfg(void **state)
{
	struct rules_cfg c;
	static char small[9000];

	(void)state;
	rules_cfg_default(&c);
	assert_int_equal(rules_build_install(NULL, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, NULL, sizeof(buf)),
	                 -EINVAL);
	assert_int_equal(rules_build_install(&c, RULES_Q_NONE, 1, buf, sizeof(buf)),
	                 -EINVAL);
	assert_int_equal(rules_build_install(&c, (enum rules_queue_backend)9, 1, buf,
	                                     sizeof(buf)), -EINVAL);
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, 100), -ENOBUFS);
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, small, sizeof(small)),
	                 -EMSGSIZE);

	c.table[0] = '\0';
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	snprintf(c.table, sizeof(c.table), "bad name");
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	snprintf(c.table, sizeof(c.table), "1abc");
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	memset(c.table, 'a', sizeof(c.table));      /* not terminated */
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);

	rules_cfg_default(&c);
	c.ack_mark = c.accept_mark | 0x1;           /* shares a bit */
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);

	rules_cfg_default(&c);
	c.n_ctl_ports = 0;
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	c.n_ctl_ports = RULES_MAX_CTL_PORTS + 1;
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	c.n_ctl_ports = 2;
	c.ctl_ports[1] = 21;                        /* twice */
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	c.ctl_ports[1] = 0;
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);

	rules_cfg_default(&c);
	c.queue_lo = 2;
	c.queue_hi = 1;
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
	rules_cfg_default(&c);
	c.accept_mark = 0;
	assert_int_equal(rules_build_install(&c, RULES_Q_XT, 1, buf, sizeof(buf)),
	                 -EINVAL);
}

static void test_open_bad_cfg(void **state)
{
	struct rules_cfg c;
	struct rules *r = (struct rules *)&c;
	char err[128] = "";

	(void)state;
	/* refused before any socket is opened */
	rules_cfg_default(&c);
	c.accept_mark = 0;
	assert_int_equal(rules_open(&r, &c, err, sizeof(err)), -EINVAL);
	assert_null(r);
	assert_string_equal(err, "accept mark: 0 (needs at least one bit)");
	rules_cfg_default(&c);
	c.n_ctl_ports = 0;
	assert_int_equal(rules_open(&r, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "set ctl_ports: 0 ports (1-16)");
	assert_int_equal(rules_open(NULL, &c, err, sizeof(err)), -EINVAL);
	rules_close(NULL);
}

/* Lines that are neither blank nor comments. */
static void strip_comments(const char *in, char *out, size_t len)
{
	size_t o = 0;

	while (*in) {
		const char *nl = strchr(in, '\n');
		size_t n = nl ? (size_t)(nl - in) : strlen(in);
		size_t k = 0;

		while (k < n && (in[k] == ' ' || in[k] == '\t'))
			k++;
		if (k < n && in[k] != '#') {
			assert_true(o + n + 2 < len);
			memcpy(out + o, in, n);
			o += n;
			out[o++] = '\n';
		}
		in += n + (nl ? 1 : 0);
	}
	out[o] = '\0';
}

static void test_format_matches_snippet(void **state)
{
	static char text[65536], file[65536], a[65536], b[65536];
	struct rules_cfg c;
	size_t n, got;
	FILE *f;

	(void)state;
	rules_cfg_default(&c);
	n = rules_format_nft(&c, RULES_Q_NFT, text, sizeof(text));
	assert_true(n > 0 && n < sizeof(text));
	assert_int_equal(strlen(text), n);
	f = fopen("rules/ftpgw.nft", "r");
	if (!f)
		fail_msg("rules/ftpgw.nft: cannot open (run from the repository root)");
	got = fread(file, 1, sizeof(file) - 1, f);
	fclose(f);
	file[got] = '\0';
	strip_comments(text, a, sizeof(a));
	strip_comments(file, b, sizeof(b));
	assert_string_equal(a, b);
}

static void test_format_variants(void **state)
{
	static char text[65536];
	char small[64];
	struct rules_cfg c;
	size_t n;

	(void)state;
	rules_cfg_default(&c);
	c.no_rules = true;
	rules_format_nft(&c, RULES_Q_NONE, text, sizeof(text));
	assert_null(strstr(text, "chain ctl_"));
	assert_null(strstr(text, "queue"));
	assert_non_null(strstr(text, "chain pin_nat {"));
	/* the table closes right after the last chain */
	assert_non_null(strstr(text, "dnat6\n\t}\n}\n"));

	rules_cfg_default(&c);
	c.queue_lo = 2;
	c.queue_hi = 5;
	c.fail_open = true;
	c.accept_mark = 0x80;
	c.ctl_ports[1] = 2121;
	c.n_ctl_ports = 2;
	snprintf(c.table, sizeof(c.table), "gw");
	rules_format_nft(&c, RULES_Q_XT, text, sizeof(text));
	assert_non_null(strstr(text, "table inet gw {\n"));
	assert_non_null(strstr(text, "elements = { 21, 2121 }"));
	assert_non_null(strstr(text, "tcp dport @ctl_ports queue num 2-5 bypass\n"));
	assert_non_null(strstr(text, "# the kernel runs these as the xtables NFQUEUE"));
	assert_non_null(strstr(text, "ct mark & 0x00000080 == 0x00000080 dnat ip to"));
	assert_non_null(strstr(text, "meta mark set meta mark | 0x00000080\n"));

	/* snprintf-like: the full length, truncated and terminated */
	n = rules_format_nft(&c, RULES_Q_XT, text, sizeof(text));
	assert_int_equal(rules_format_nft(&c, RULES_Q_XT, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, text, sizeof(small) - 1);
	assert_int_equal(rules_format_nft(&c, RULES_Q_XT, NULL, 0), n);

	/* a bad configuration formats nothing */
	c.queue_hi = 1;
	assert_int_equal(rules_format_nft(&c, RULES_Q_XT, small, sizeof(small)), 0);
	assert_string_equal(small, "");
	rules_cfg_default(&c);
	assert_int_equal(rules_format_nft(&c, RULES_Q_NONE, small, sizeof(small)), 0);
	assert_int_equal(rules_format_nft(NULL, RULES_Q_NFT, small, sizeof(small)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg_default),
		cmocka_unit_test(test_install_xt),
		cmocka_unit_test(test_install_nft),
		cmocka_unit_test(test_install_no_rules),
		cmocka_unit_test(test_queue_range_bypass),
		cmocka_unit_test(test_custom_cfg),
		cmocka_unit_test(test_bad_cfg),
		cmocka_unit_test(test_open_bad_cfg),
		cmocka_unit_test(test_format_matches_snippet),
		cmocka_unit_test(test_format_variants),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
