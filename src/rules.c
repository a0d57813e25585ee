/*
 * rules.c - the one owner of ftpgw's nftables table (libnftnl over libmnl).
 *
 * The header is the contract and draws the table. What is worth knowing
 * here:
 *
 * - Every change is one nfnetlink batch (begin, messages, end). The kernel
 *   processes a batch synchronously inside sendmsg() and queues all its
 *   answers before sendmsg() returns, so the answers are drained without
 *   blocking. An error names the message by its sequence number; each
 *   batch keeps a small table (or, for pinholes, a walk of the caller's
 *   array) to map it back to the object. A commit error comes back with
 *   the sequence number of the batch-begin message.
 * - Rule bytecode is laid out as nft 1.0.6 compiles the same text (see
 *   rules_format_nft), so `nft list` shows our rules as the operator would
 *   have written them, and the unit test compares against nft's listing.
 * - Queueing: the nft `queue` expression where the kernel has it
 *   (CONFIG_NFT_QUEUE), else the xtables NFQUEUE target (revision 3)
 *   through nft's compat layer. The compat target is accepted in an inet
 *   table (checked on 6.18); the rule carries the compat info (l4 proto
 *   tcp, no flags) as iptables-nft does for `-p tcp`.
 * - Pinholes are added without NLM_F_EXCL (the same pinhole twice is
 *   idempotent; a DNAT pinhole with a different target fails) and deleted
 *   with NFT_MSG_DESTROYSETELEM (no error for a gone element; kernel >=
 *   6.3), falling back to one DELSETELEM batch per element elsewhere.
 */
#include "rules.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* --- constants ---------------------------------------------------------- */

#define PRIO_CARRIER (-150)          /* after conntrack (-200), before NAT */
#define PRIO_PIN (-150)
#define PRIO_PIN_NAT (-110)          /* nat prerouting, before dstnat (-100) */
#define PRIO_CTL (-10)               /* before the operator's filter (0) */

#define CARRIER_TIMEOUT 1000u        /* never used: size 0 creates nothing */
#define PIN_SET_SIZE 65535u          /* pinholes alive at once, per family */

#define BATCH_LIMIT (64u * 1024u)    /* one batch at most */
#define MSG_RESERVE (4u * 1024u)     /* room for the message that overflows */
#define RECV_SIZE (32u * 1024u)      /* a dump part is at most 32 KiB */
#define MAX_DESC 48                  /* messages in the install batch */
#define ANSWER_WAIT_MS 5000

/* Not in Debian 12's uapi headers (kernel 6.3+). */
#define MSG_DESTROYSETELEM 30

/* nft's datatype numbers; a concatenation is (a << 6 | b) << 6 | c. */
#define TYPE_IPV4 7u
#define TYPE_IPV6 8u
#define TYPE_SERVICE 13u
#define CAT2(a, b) (((a) << 6) | (b))
#define CAT3(a, b, c) ((((a) << 6 | (b)) << 6) | (c))

#define XT_INFO_LEN 8u               /* XT_ALIGN(sizeof(xt_NFQ_info_v3)) */
#define CT_STATE_NEW 0x08u           /* NF_CT_STATE_BIT(IP_CT_NEW) */

/* Per address family: names, offsets and register layout of the key. */
struct fam {
	uint8_t nfproto;
	uint8_t alen;                /* address length */
	const char *pin, *dnat, *carrier, *nftname, *l3name;
	uint32_t saddr_off, daddr_off;
	uint32_t reg_daddr, reg_dport;    /* key: saddr in NFT_REG_1 */
	uint32_t reg_to_port;             /* map data: addr in NFT_REG_1 */
	uint32_t key_type, key_len, data_type, data_len;
};

static const struct fam fams[2] = {
	{ NFPROTO_IPV4, 4, "pin4", "dnat4", "carrier4", "ip", "ipv4", 12, 16,
	  NFT_REG32_00 + 1, NFT_REG32_00 + 2, NFT_REG32_00 + 1,
	  CAT3(TYPE_IPV4, TYPE_IPV4, TYPE_SERVICE), 12,
	  CAT2(TYPE_IPV4, TYPE_SERVICE), 8 },
	{ NFPROTO_IPV6, 16, "pin6", "dnat6", "carrier6", "ip6", "ipv6", 8, 24,
	  NFT_REG_2, NFT_REG_3, NFT_REG_2,
	  CAT3(TYPE_IPV6, TYPE_IPV6, TYPE_SERVICE), 36,
	  CAT2(TYPE_IPV6, TYPE_SERVICE), 20 },
};

struct chain_def {
	const char *name, *type, *hookname;
	uint32_t hook;
	int prio;
	bool ctl;                    /* a queue chain (absent with no_rules) */
};

static const struct chain_def chain_defs[] = {
	{ "carrier", "filter", "prerouting", NF_INET_PRE_ROUTING, PRIO_CARRIER, false },
	{ "pin", "filter", "prerouting", NF_INET_PRE_ROUTING, PRIO_PIN, false },
	{ "pin_nat", "nat", "prerouting", NF_INET_PRE_ROUTING, PRIO_PIN_NAT, false },
	{ "ctl_fwd", "filter", "forward", NF_INET_FORWARD, PRIO_CTL, true },
	{ "ctl_in", "filter", "input", NF_INET_LOCAL_IN, PRIO_CTL, true },
	{ "ctl_out", "filter", "output", NF_INET_LOCAL_OUT, PRIO_CTL, true },
};
#define N_CHAINS (sizeof(chain_defs) / sizeof(chain_defs[0]))

enum { SET_ID_PORTS = 1, SET_ID_PIN4, SET_ID_PIN6, SET_ID_DNAT4, SET_ID_DNAT6 };

struct rules {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	struct rules_cfg cfg;
	_Alignas(8) char batch[BATCH_LIMIT + MSG_RESERVE];
	_Alignas(8) char rbuf[RECV_SIZE];
};

/* --- small helpers -------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n >= max)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int cfg_check(const struct rules_cfg *c, enum rules_queue_backend be,
                     char *err, size_t errlen)
{
	if (!name_ok(c->table, sizeof(c->table))) {
		seterr(err, errlen, "table name: must be 1-%zu letters, digits, "
		       "'_' or '-', starting with a letter", sizeof(c->table) - 1);
		return -EINVAL;
	}
	if (c->n_ctl_ports == 0 || c->n_ctl_ports > RULES_MAX_CTL_PORTS) {
		seterr(err, errlen, "set ctl_ports: %u ports (1-%d)",
		       c->n_ctl_ports, RULES_MAX_CTL_PORTS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_ctl_ports; i++) {
		if (c->ctl_ports[i] == 0) {
			seterr(err, errlen, "set ctl_ports: port 0");
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (c->ctl_ports[j] == c->ctl_ports[i]) {
				seterr(err, errlen, "set ctl_ports: port %u twice",
				       c->ctl_ports[i]);
				return -EINVAL;
			}
	}
	if (c->queue_lo > c->queue_hi) {
		seterr(err, errlen, "queue: range %u-%u", c->queue_lo, c->queue_hi);
		return -EINVAL;
	}
	if (c->accept_mark == 0) {
		seterr(err, errlen, "accept mark: 0 (needs at least one bit)");
		return -EINVAL;
	}
	if (c->ack_mark & c->accept_mark) {
		seterr(err, errlen, "ack mark 0x%08x shares bits with the accept "
		       "mark 0x%08x", c->ack_mark, c->accept_mark);
		return -EINVAL;
	}
	if (!c->no_rules && be != RULES_Q_NFT && be != RULES_Q_XT) {
		seterr(err, errlen, "queue: no backend (probe the kernel first)");
		return -EINVAL;
	}
	return 0;
}

void rules_cfg_default(struct rules_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->table, sizeof(c->table), "ftpgw");
	c->ctl_ports[0] = 21;
	c->n_ctl_ports = 1;
	c->queue_lo = c->queue_hi = 0;
	c->fail_open = false;
	c->no_rules = false;
	c->accept_mark = 0x00100000;
	c->ack_mark = 0x00200000;
}

/* --- batch building ------------------------------------------------------- */

struct desc {
	uint32_t seq;
	char what[72];
};

/* A batch in a caller's buffer: messages are appended at pos; a message
 * that ends past limit (len - MSG_RESERVE) still fits the buffer and
 * fails the batch with -EMSGSIZE. */
struct bld {
	char *buf;
	size_t pos, limit;
	uint32_t seq;
	int err;                     /* -ENOMEM or -EMSGSIZE */
	struct desc *d;              /* optional */
	size_t nd, maxd;
};

static int bld_start(struct bld *x, void *buf, size_t len, uint32_t seq,
                     struct desc *d, size_t maxd)
{
	memset(x, 0, sizeof(*x));
	if (len < 2 * MSG_RESERVE)
		return -ENOBUFS;
	x->buf = buf;
	x->limit = len - MSG_RESERVE;
	x->seq = seq;
	x->d = d;
	x->maxd = maxd;
	return 0;
}

static char *bld_cur(struct bld *x)
{
	return x->buf + x->pos;
}

static void bld_note(struct bld *x, const char *what)
{
	if (x->d && what && x->nd < x->maxd) {
		x->d[x->nd].seq = x->seq;
		snprintf(x->d[x->nd].what, sizeof(x->d[x->nd].what), "%s", what);
		x->nd++;
	}
}

static void bld_next(struct bld *x)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)bld_cur(x);
	size_t n;

	if (x->err)
		return;
	n = NLMSG_ALIGN(nlh->nlmsg_len);
	if (n > x->limit - x->pos)
		x->err = -EMSGSIZE;
	else
		x->pos += n;
}

static void bld_begin(struct bld *x)
{
	bld_note(x, "batch");
	nftnl_batch_begin(bld_cur(x), x->seq++);
	bld_next(x);
}

static void bld_end(struct bld *x)
{
	if (x->err)
		return;
	nftnl_batch_end(bld_cur(x), x->seq++);
	bld_next(x);
}

static struct nlmsghdr *bld_hdr(struct bld *x, uint16_t type, uint16_t flags,
                                const char *what)
{
	if (x->err)
		return NULL;
	bld_note(x, what);
	return nftnl_nlmsg_build_hdr(bld_cur(x), type, NFPROTO_INET, flags,
	                             x->seq++);
}

static size_t bld_len(const struct bld *x)
{
	return x->pos;
}

/* --- expressions ---------------------------------------------------------- */

struct rb {
	struct nftnl_rule *r;
	int err;
};

static void rb_add(struct rb *b, struct nftnl_expr *e)
{
	if (!e) {
		b->err = -ENOMEM;
		return;
	}
	nftnl_rule_add_expr(b->r, e);
}

/* A meta or ct expression: load key into a register, or (sreg) set key
 * from one. */
static void x_keyreg(struct rb *b, const char *name, uint16_t key_attr,
                     uint32_t key, uint16_t reg_attr, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e) {
		nftnl_expr_set_u32(e, key_attr, key);
		nftnl_expr_set_u32(e, reg_attr, reg);
	}
	rb_add(b, e);
}

#define x_meta(b, key, dreg) \
	x_keyreg(b, "meta", NFTNL_EXPR_META_KEY, key, NFTNL_EXPR_META_DREG, dreg)
#define x_meta_set(b, key, sreg) \
	x_keyreg(b, "meta", NFTNL_EXPR_META_KEY, key, NFTNL_EXPR_META_SREG, sreg)
#define x_ct(b, key, dreg) \
	x_keyreg(b, "ct", NFTNL_EXPR_CT_KEY, key, NFTNL_EXPR_CT_DREG, dreg)
#define x_ct_set(b, key, sreg) \
	x_keyreg(b, "ct", NFTNL_EXPR_CT_KEY, key, NFTNL_EXPR_CT_SREG, sreg)

static void x_cmp(struct rb *b, uint32_t sreg, uint32_t op, const void *data,
                  uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		if (nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0) {
			nftnl_expr_free(e);
			e = NULL;
		}
	}
	rb_add(b, e);
}

static void x_cmp_u8(struct rb *b, uint8_t v)
{
	x_cmp(b, NFT_REG_1, NFT_CMP_EQ, &v, sizeof(v));
}

static void x_payload(struct rb *b, uint32_t base, uint32_t off, uint32_t len,
                      uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	rb_add(b, e);
}

/* reg1 = (reg1 & mask) ^ xor, 32 bits */
/* reg 1 = (reg 1 & mask) ^ 0 over the first len bytes (1-4) */
static void x_bitwise_n(struct rb *b, uint32_t len, uint32_t mask)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint32_t xor = 0;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		if (nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, len) < 0 ||
		    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, len) < 0) {
			nftnl_expr_free(e);
			e = NULL;
		}
	}
	rb_add(b, e);
}

static void x_accept(struct rb *b)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	}
	rb_add(b, e);
}

static void x_bitwise(struct rb *b, uint32_t mask, uint32_t xor)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		if (nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask,
		                   sizeof(mask)) < 0 ||
		    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor,
		                   sizeof(xor)) < 0) {
			nftnl_expr_free(e);
			e = NULL;
		}
	}
	rb_add(b, e);
}

/* reg 1 looked up in the set; map: the value into reg 1; not: match when
 * absent */
static void x_lookup_f(struct rb *b, const char *set, uint32_t set_id,
                       bool map, bool not)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		if (map)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_1);
		if (not)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS,
			                   NFT_LOOKUP_F_INV);
		if (nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set) < 0) {
			nftnl_expr_free(e);
			e = NULL;
		} else if (set_id) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
		}
	}
	rb_add(b, e);
}

static void x_lookup(struct rb *b, const char *set, uint32_t set_id,
                     bool map)
{
	x_lookup_f(b, set, set_id, map, false);
}

static void x_lookup_not(struct rb *b, const char *set, uint32_t set_id)
{
	x_lookup_f(b, set, set_id, false, true);
}

static void x_dynset_delete(struct rb *b, const char *set, uint32_t set_id)
{
	struct nftnl_expr *e = nftnl_expr_alloc("dynset");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_DELETE);
		if (nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set) < 0) {
			nftnl_expr_free(e);
			e = NULL;
		} else if (set_id) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, set_id);
		}
	}
	rb_add(b, e);
}

static void x_objref(struct rb *b, uint32_t type, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc("objref");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, type);
		if (nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name) < 0) {
			nftnl_expr_free(e);
			e = NULL;
		}
	}
	rb_add(b, e);
}

static void x_dnat(struct rb *b, uint32_t family, uint32_t reg_proto)
{
	struct nftnl_expr *e = nftnl_expr_alloc("nat");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MAX, reg_proto);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS,
		                   NF_NAT_RANGE_MAP_IPS |
		                   NF_NAT_RANGE_PROTO_SPECIFIED);
	}
	rb_add(b, e);
}

static uint16_t queue_flags(const struct rules_cfg *c)
{
	return c->fail_open ? NFT_QUEUE_FLAG_BYPASS : 0;
}

/* The queue statement, in whichever form the backend takes. */
static void x_queue(struct rb *b, const struct rules_cfg *c,
                    enum rules_queue_backend be)
{
	uint16_t total = (uint16_t)(c->queue_hi - c->queue_lo + 1);
	struct nftnl_expr *e;

	if (be == RULES_Q_NFT) {
		e = nftnl_expr_alloc("queue");
		if (e) {
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, c->queue_lo);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, total);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, queue_flags(c));
		}
	} else {
		/* xt_NFQ_info_v3 padded to XT_ALIGN, as iptables sends it */
		struct xt_NFQ_info_v3 info = {
			.queuenum = c->queue_lo,
			.queues_total = total,
			.flags = c->fail_open ? NFQ_FLAG_BYPASS : 0,
		};
		/* libnftnl keeps (and frees) the pointer it is given */
		uint8_t *raw = calloc(1, XT_INFO_LEN);

		_Static_assert(sizeof(info) <= XT_INFO_LEN, "NFQ info size");
		e = raw ? nftnl_expr_alloc("target") : NULL;
		if (e) {
			memcpy(raw, &info, sizeof(info));
			if (nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, raw,
			                   XT_INFO_LEN) < 0) {
				free(raw);
				nftnl_expr_free(e);
				e = NULL;
			} else if (nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME,
			                              "NFQUEUE") < 0) {
				nftnl_expr_free(e);
				e = NULL;
			} else {
				nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
			}
		} else {
			free(raw);
		}
		if (e) {
			/* like iptables-nft's "-p tcp": the target's entry info */
			nftnl_rule_set_u32(b->r, NFTNL_RULE_COMPAT_PROTO, IPPROTO_TCP);
			nftnl_rule_set_u32(b->r, NFTNL_RULE_COMPAT_FLAGS, 0);
		}
	}
	rb_add(b, e);
}

/* The text of the queue statement (also the xt rules' comment). */
static void queue_text(const struct rules_cfg *c, char *buf, size_t len)
{
	if (c->queue_hi > c->queue_lo)
		snprintf(buf, len, "queue num %u-%u%s", c->queue_lo, c->queue_hi,
		         c->fail_open ? " bypass" : "");
	else
		snprintf(buf, len, "queue num %u%s", c->queue_lo,
		         c->fail_open ? " bypass" : "");
}

/* meta nfproto X; ct state new-ish prefix pieces */
static void m_nfproto(struct rb *b, const struct fam *f)
{
	x_meta(b, NFT_META_NFPROTO, NFT_REG_1);
	x_cmp_u8(b, f->nfproto);
}

static void m_ct_new(struct rb *b)
{
	uint32_t zero = 0;

	x_ct(b, NFT_CT_STATE, NFT_REG_1);
	x_bitwise(b, CT_STATE_NEW, 0);
	x_cmp(b, NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero));
}

static void m_tcp(struct rb *b)
{
	x_meta(b, NFT_META_L4PROTO, NFT_REG_1);
	x_cmp_u8(b, IPPROTO_TCP);
}

/* saddr . daddr . tcp dport into NFT_REG_1 onwards */
static void m_key(struct rb *b, const struct fam *f)
{
	x_payload(b, NFT_PAYLOAD_NETWORK_HEADER, f->saddr_off, f->alen, NFT_REG_1);
	x_payload(b, NFT_PAYLOAD_NETWORK_HEADER, f->daddr_off, f->alen,
	          f->reg_daddr);
	x_payload(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, f->reg_dport);
}

/* Build one rule of a chain into the batch. which: rule index for the desc */
enum rule_kind { R_CARRIER, R_PIN, R_PIN_NAT, R_CTL_DPORT, R_CTL_SPORT,
                 R_ACK5, R_ACK8, R_SKIP_OLD, R_SKIP_NONTCP, R_SKIP_DATA };

/* A bare ACK: TCP header of doff words and nothing after it. */
static uint16_t ack_len(const struct fam *f, unsigned doff)
{
	return (uint16_t)((f->nfproto == NFPROTO_IPV4 ? 20 : 0) + doff * 4);
}

static void build_rule(struct bld *x, const struct rules_cfg *c,
                       enum rules_queue_backend be, const char *chain,
                       enum rule_kind kind, const struct fam *f, bool ids)
{
	struct rb b = { NULL, 0 };
	struct nlmsghdr *nlh;
	char what[72];
	uint32_t m = c->accept_mark;

	if (x->err)
		return;
	b.r = nftnl_rule_alloc();
	if (!b.r) {
		x->err = -ENOMEM;
		return;
	}
	if (nftnl_rule_set_str(b.r, NFTNL_RULE_TABLE, c->table) < 0 ||
	    nftnl_rule_set_str(b.r, NFTNL_RULE_CHAIN, chain) < 0)
		b.err = -ENOMEM;
	nftnl_rule_set_u32(b.r, NFTNL_RULE_FAMILY, NFPROTO_INET);

	switch (kind) {
	case R_CARRIER:
		m_nfproto(&b, f);
		m_ct_new(&b);
		m_tcp(&b);
		x_payload(&b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
		x_lookup(&b, "ctl_ports", ids ? SET_ID_PORTS : 0, false);
		x_objref(&b, NFT_OBJECT_CT_EXPECT, f->carrier);
		snprintf(what, sizeof(what), "chain %s rule (%s)", chain, f->l3name);
		break;
	case R_PIN:
		m_nfproto(&b, f);
		m_ct_new(&b);
		m_tcp(&b);
		m_key(&b, f);
		x_lookup(&b, f->pin, ids ? (f->nfproto == NFPROTO_IPV4 ?
		         SET_ID_PIN4 : SET_ID_PIN6) : 0, false);
		m_key(&b, f);
		x_dynset_delete(&b, f->pin, ids ? (f->nfproto == NFPROTO_IPV4 ?
		                SET_ID_PIN4 : SET_ID_PIN6) : 0);
		x_ct(&b, NFT_CT_MARK, NFT_REG_1);
		x_bitwise(&b, ~m, m);
		x_ct_set(&b, NFT_CT_MARK, NFT_REG_1);
		x_meta(&b, NFT_META_MARK, NFT_REG_1);
		x_bitwise(&b, ~m, m);
		x_meta_set(&b, NFT_META_MARK, NFT_REG_1);
		snprintf(what, sizeof(what), "chain %s rule (%s)", chain, f->l3name);
		break;
	case R_PIN_NAT:
		m_nfproto(&b, f);
		x_ct(&b, NFT_CT_MARK, NFT_REG_1);
		x_bitwise(&b, m, 0);
		x_cmp(&b, NFT_REG_1, NFT_CMP_EQ, &m, sizeof(m));
		m_tcp(&b);
		m_key(&b, f);
		x_lookup(&b, f->dnat, ids ? (f->nfproto == NFPROTO_IPV4 ?
		         SET_ID_DNAT4 : SET_ID_DNAT6) : 0, true);
		x_dnat(&b, f->nfproto, f->reg_to_port);
		snprintf(what, sizeof(what), "chain %s rule (%s)", chain, f->l3name);
		break;
	/* The first rules of the chains every forwarded packet crosses: what
	 * cannot match below leaves at once (a data connection's packets
	 * crossed ten rules in three chains otherwise; make bench measured
	 * bulk data 8% slower for it). */
	case R_SKIP_OLD: {
		uint32_t st = CT_STATE_NEW;

		x_ct(&b, NFT_CT_STATE, NFT_REG_1);
		x_cmp(&b, NFT_REG_1, NFT_CMP_NEQ, &st, sizeof(st));
		x_accept(&b);
		snprintf(what, sizeof(what), "chain %s rule (not new)", chain);
		break;
	}
	case R_SKIP_NONTCP: {
		uint8_t tcp = IPPROTO_TCP;

		x_meta(&b, NFT_META_L4PROTO, NFT_REG_1);
		x_cmp(&b, NFT_REG_1, NFT_CMP_NEQ, &tcp, sizeof(tcp));
		x_accept(&b);
		snprintf(what, sizeof(what), "chain %s rule (not tcp)", chain);
		break;
	}
	case R_SKIP_DATA:
		m_tcp(&b);
		x_payload(&b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
		x_lookup_not(&b, "ctl_ports", ids ? SET_ID_PORTS : 0);
		x_payload(&b, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NFT_REG_1);
		x_lookup_not(&b, "ctl_ports", ids ? SET_ID_PORTS : 0);
		x_accept(&b);
		snprintf(what, sizeof(what), "chain %s rule (not a control port)",
		         chain);
		break;
	case R_ACK5:
	case R_ACK8: {
		/* not queued: a bare ACK of a connection the kernel adjusts */
		unsigned doff = kind == R_ACK5 ? 5 : 8;
		uint16_t len = htons(ack_len(f, doff));
		uint32_t am = c->ack_mark;

		m_nfproto(&b, f);
		x_ct(&b, NFT_CT_MARK, NFT_REG_1);
		x_bitwise(&b, am, 0);
		x_cmp(&b, NFT_REG_1, NFT_CMP_EQ, &am, sizeof(am));
		m_tcp(&b);
		x_payload(&b, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NFT_REG_1);
		x_cmp_u8(&b, 0x10);
		x_payload(&b, NFT_PAYLOAD_NETWORK_HEADER,
		          f->nfproto == NFPROTO_IPV4 ? 2 : 4, 2, NFT_REG_1);
		x_cmp(&b, NFT_REG_1, NFT_CMP_EQ, &len, sizeof(len));
		x_payload(&b, NFT_PAYLOAD_TRANSPORT_HEADER, 12, 1, NFT_REG_1);
		x_bitwise_n(&b, 1, 0xf0);
		x_cmp_u8(&b, (uint8_t)(doff << 4));
		x_accept(&b);
		snprintf(what, sizeof(what), "chain %s rule (bare ACK, %s, doff %u)",
		         chain, f->l3name, doff);
		break;
	}
	case R_CTL_DPORT:
	case R_CTL_SPORT:
		m_tcp(&b);
		x_payload(&b, NFT_PAYLOAD_TRANSPORT_HEADER,
		          kind == R_CTL_DPORT ? 2 : 0, 2, NFT_REG_1);
		x_lookup(&b, "ctl_ports", ids ? SET_ID_PORTS : 0, false);
		x_queue(&b, c, be);
		if (be == RULES_Q_XT && !b.err) {
			/* nft cannot print the xt target: say what it is */
			struct nftnl_udata_buf *u =
				nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 2);
			char q[64], cm[NFTNL_UDATA_COMMENT_MAXLEN];

			queue_text(c, q, sizeof(q));
			snprintf(cm, sizeof(cm), "%s (xt NFQUEUE)", q);
			if (!u || !nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, cm) ||
			    nftnl_rule_set_data(b.r, NFTNL_RULE_USERDATA,
			                        nftnl_udata_buf_data(u),
			                        nftnl_udata_buf_len(u)) < 0)
				b.err = -ENOMEM;
			if (u)
				nftnl_udata_buf_free(u);
		}
		snprintf(what, sizeof(what), "chain %s rule (tcp %s, %s)", chain,
		         kind == R_CTL_DPORT ? "dport" : "sport",
		         be == RULES_Q_NFT ? "nft queue" : "xt NFQUEUE");
		break;
	default:
		b.err = -EINVAL;
		what[0] = '\0';
		break;
	}
	if (b.err) {
		x->err = b.err;
		nftnl_rule_free(b.r);
		return;
	}
	nlh = bld_hdr(x, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
	              what);
	nftnl_rule_nlmsg_build_payload(nlh, b.r);
	nftnl_rule_free(b.r);
	bld_next(x);
}

static void build_table(struct bld *x, uint16_t type, uint16_t flags,
                        const char *name)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	char what[72];

	if (x->err)
		return;
	t = nftnl_table_alloc();
	if (!t || nftnl_table_set_str(t, NFTNL_TABLE_NAME, name) < 0) {
		if (t)
			nftnl_table_free(t);
		x->err = -ENOMEM;
		return;
	}
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	snprintf(what, sizeof(what), "table inet %s", name);
	nlh = bld_hdr(x, type, flags, what);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	bld_next(x);
}

static void build_carrier(struct bld *x, const struct rules_cfg *c,
                          const struct fam *f)
{
	struct nftnl_obj *o;
	struct nlmsghdr *nlh;
	char what[72];

	if (x->err)
		return;
	o = nftnl_obj_alloc();
	if (!o)
		goto oom;
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, c->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, f->carrier);
	if (!nftnl_obj_is_set(o, NFTNL_OBJ_TABLE) ||
	    !nftnl_obj_is_set(o, NFTNL_OBJ_NAME))
		goto oom;
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_CT_EXPECT);
	nftnl_obj_set_u16(o, NFTNL_OBJ_CT_EXPECT_L3PROTO, f->nfproto);
	nftnl_obj_set_u8(o, NFTNL_OBJ_CT_EXPECT_L4PROTO, IPPROTO_TCP);
	nftnl_obj_set_u16(o, NFTNL_OBJ_CT_EXPECT_DPORT, 0);
	nftnl_obj_set_u32(o, NFTNL_OBJ_CT_EXPECT_TIMEOUT, CARRIER_TIMEOUT);
	nftnl_obj_set_u8(o, NFTNL_OBJ_CT_EXPECT_SIZE, 0);
	snprintf(what, sizeof(what), "ct expectation %s", f->carrier);
	nlh = bld_hdr(x, NFT_MSG_NEWOBJ, NLM_F_CREATE | NLM_F_ACK, what);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	bld_next(x);
	return;
oom:
	if (o)
		nftnl_obj_free(o);
	x->err = -ENOMEM;
}

static void build_set(struct bld *x, const struct rules_cfg *c,
                      const char *name, uint32_t id, uint32_t flags,
                      uint32_t ktype, uint32_t klen, uint32_t dtype,
                      uint32_t dlen)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	char what[72];

	if (x->err)
		return;
	s = nftnl_set_alloc();
	if (!s || nftnl_set_set_str(s, NFTNL_SET_TABLE, c->table) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0) {
		if (s)
			nftnl_set_free(s);
		x->err = -ENOMEM;
		return;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ktype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, klen);
	if (flags & NFT_SET_EVAL)    /* the kernel's default for dynset sets */
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, PIN_SET_SIZE);
	if (flags & NFT_SET_MAP) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, dtype);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, dlen);
	}
	snprintf(what, sizeof(what), "%s %s", flags & NFT_SET_MAP ? "map" : "set",
	         name);
	nlh = bld_hdr(x, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_ACK, what);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	bld_next(x);
}

static void build_ports(struct bld *x, const struct rules_cfg *c)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;

	if (x->err)
		return;
	s = nftnl_set_alloc();
	if (!s || nftnl_set_set_str(s, NFTNL_SET_TABLE, c->table) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, "ctl_ports") < 0)
		goto oom;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, SET_ID_PORTS);
	for (unsigned i = 0; i < c->n_ctl_ports; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		uint16_t port = htons(c->ctl_ports[i]);

		if (!e)
			goto oom;
		nftnl_set_elem_add(s, e);
		if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &port,
		                       sizeof(port)) < 0)
			goto oom;
	}
	nlh = bld_hdr(x, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_ACK,
	              "elements of set ctl_ports");
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	bld_next(x);
	return;
oom:
	if (s)
		nftnl_set_free(s);
	x->err = -ENOMEM;
}

static void build_chain(struct bld *x, const struct rules_cfg *c,
                        const struct chain_def *d)
{
	struct nftnl_chain *ch;
	struct nlmsghdr *nlh;
	char what[72];

	if (x->err)
		return;
	ch = nftnl_chain_alloc();
	if (!ch || nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, c->table) < 0 ||
	    nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, d->name) < 0 ||
	    nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, d->type) < 0) {
		if (ch)
			nftnl_chain_free(ch);
		x->err = -ENOMEM;
		return;
	}
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, d->hook);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, d->prio);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	snprintf(what, sizeof(what), "chain %s", d->name);
	nlh = bld_hdr(x, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_ACK, what);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	bld_next(x);
}

/* The whole install batch; d (optional) receives one entry per message. */
static long build_install(const struct rules_cfg *c, enum rules_queue_backend be,
                          uint32_t seq, void *buf, size_t len, struct desc *d,
                          size_t maxd, size_t *nd, uint32_t *next)
{
	struct bld x;
	int ret = cfg_check(c, be, NULL, 0);

	if (ret < 0)
		return ret;
	ret = bld_start(&x, buf, len, seq, d, maxd);
	if (ret < 0)
		return ret;
	bld_begin(&x);
	build_table(&x, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
	            c->table);
	build_carrier(&x, c, &fams[0]);
	build_carrier(&x, c, &fams[1]);
	build_set(&x, c, "ctl_ports", SET_ID_PORTS, 0, TYPE_SERVICE, 2, 0, 0);
	build_ports(&x, c);
	build_set(&x, c, "pin4", SET_ID_PIN4, NFT_SET_TIMEOUT | NFT_SET_EVAL,
	          fams[0].key_type, fams[0].key_len, 0, 0);
	build_set(&x, c, "pin6", SET_ID_PIN6, NFT_SET_TIMEOUT | NFT_SET_EVAL,
	          fams[1].key_type, fams[1].key_len, 0, 0);
	build_set(&x, c, "dnat4", SET_ID_DNAT4, NFT_SET_TIMEOUT | NFT_SET_MAP,
	          fams[0].key_type, fams[0].key_len, fams[0].data_type,
	          fams[0].data_len);
	build_set(&x, c, "dnat6", SET_ID_DNAT6, NFT_SET_TIMEOUT | NFT_SET_MAP,
	          fams[1].key_type, fams[1].key_len, fams[1].data_type,
	          fams[1].data_len);
	for (size_t i = 0; i < N_CHAINS; i++) {
		const struct chain_def *cd = &chain_defs[i];

		if (cd->ctl && c->no_rules)
			continue;
		build_chain(&x, c, cd);
		switch (i) {
		case 0:
			build_rule(&x, c, be, cd->name, R_SKIP_OLD, &fams[0], true);
			build_rule(&x, c, be, cd->name, R_CARRIER, &fams[0], true);
			build_rule(&x, c, be, cd->name, R_CARRIER, &fams[1], true);
			break;
		case 1:
			build_rule(&x, c, be, cd->name, R_SKIP_OLD, &fams[0], true);
			build_rule(&x, c, be, cd->name, R_PIN, &fams[0], true);
			build_rule(&x, c, be, cd->name, R_PIN, &fams[1], true);
			break;
		case 2:
			build_rule(&x, c, be, cd->name, R_PIN_NAT, &fams[0], true);
			build_rule(&x, c, be, cd->name, R_PIN_NAT, &fams[1], true);
			break;
		default:
			build_rule(&x, c, be, cd->name, R_SKIP_NONTCP, &fams[0], true);
			build_rule(&x, c, be, cd->name, R_SKIP_DATA, &fams[0], true);
			if (c->ack_mark)
				for (int k = 0; k < 2; k++) {
					build_rule(&x, c, be, cd->name, R_ACK5, &fams[k], true);
					build_rule(&x, c, be, cd->name, R_ACK8, &fams[k], true);
				}
			/* one rule for both families: the family is unused */
			build_rule(&x, c, be, cd->name, R_CTL_DPORT, &fams[0], true);
			build_rule(&x, c, be, cd->name, R_CTL_SPORT, &fams[0], true);
			break;
		}
	}
	bld_end(&x);
	if (nd)
		*nd = x.nd;
	if (next)
		*next = x.seq;
	if (x.err)
		return x.err;
	return (long)bld_len(&x);
}

long rules_build_install(const struct rules_cfg *cfg,
                         enum rules_queue_backend be, uint32_t seq,
                         void *buf, size_t len)
{
	if (!cfg || !buf)
		return -EINVAL;
	return build_install(cfg, be, seq, buf, len, NULL, 0, NULL, NULL);
}

/* --- talking to the kernel ------------------------------------------------ */

struct answer {
	uint32_t lo, hi;             /* the batch's sequence numbers */
	uint32_t last;               /* the message whose ACK ends it */
	int err;                     /* first error (negative), 0 */
	uint32_t err_seq;
	bool done;
	char ext[128];               /* extended ACK message, if any */
};

static bool seq_in(uint32_t s, uint32_t lo, uint32_t hi)
{
	return (uint32_t)(s - lo) <= (uint32_t)(hi - lo);
}

static void ext_msg(const struct nlmsghdr *nlh, const struct nlmsgerr *e,
                    char *out, size_t outlen)
{
	const struct nlattr *a;
	unsigned off;

	out[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	off = MNL_ALIGN(off);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
			snprintf(out, outlen, "%s", mnl_attr_get_str(a));
			return;
		}
	}
}

static void answers(struct rules *r, const char *buf, size_t len,
                    struct answer *a)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int n = (int)len;

	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
		const struct nlmsgerr *e;

		if (nlh->nlmsg_pid != r->portid || !seq_in(nlh->nlmsg_seq, a->lo, a->hi))
			continue;
		if (nlh->nlmsg_type != NLMSG_ERROR)
			continue;
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
			continue;
		e = mnl_nlmsg_get_payload(nlh);
		if (e->error && !a->err) {
			a->err = e->error < 0 ? e->error : -e->error;
			a->err_seq = nlh->nlmsg_seq;
			ext_msg(nlh, e, a->ext, sizeof(a->ext));
		}
		if (nlh->nlmsg_seq == a->last || e->error)
			a->done = true;
	}
}

/* Throw away anything left from an earlier exchange (answers lost to a
 * full receive buffer, a timed-out request). */
static void drain(struct rules *r)
{
	for (int i = 0; i < 1024; i++) {
		ssize_t n = recv(mnl_socket_get_fd(r->nl), r->rbuf, sizeof(r->rbuf),
		                 MSG_DONTWAIT);

		if (n <= 0 && errno != EINTR && errno != ENOBUFS)
			return;
	}
}

/* Send len bytes of r->batch and collect the answers. Returns 0 or a
 * negative errno for the transport; a->err holds the kernel's verdict. */
static int batch_talk(struct rules *r, size_t len, struct answer *a)
{
	int fd = mnl_socket_get_fd(r->nl);
	bool waited = false;

	drain(r);
	if (mnl_socket_sendto(r->nl, r->batch, len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, r->rbuf, sizeof(r->rbuf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (a->done)
					return 0;
				if (waited)
					return -ETIMEDOUT;
				/* everything should be queued by now; allow
				 * the kernel a moment in case it is not */
				waited = true;
				{
					struct timeval tv;
					fd_set fds;

					tv.tv_sec = ANSWER_WAIT_MS / 1000;
					tv.tv_usec = (ANSWER_WAIT_MS % 1000) * 1000;
					FD_ZERO(&fds);
					FD_SET(fd, &fds);
					if (select(fd + 1, &fds, NULL, NULL, &tv) <= 0)
						return -ETIMEDOUT;
				}
				continue;
			}
			if (errno == ENOBUFS && a->err)
				return 0;    /* lost the later errors; have one */
			return -errno;
		}
		answers(r, r->rbuf, (size_t)n, a);
	}
}

static void answer_init(struct answer *a, uint32_t lo, uint32_t hi,
                        uint32_t last)
{
	memset(a, 0, sizeof(*a));
	a->lo = lo;
	a->hi = hi;
	a->last = last;
}

static void describe(char *err, size_t errlen, const char *what,
                     const struct answer *a)
{
	if (a->ext[0])
		seterr(err, errlen, "%s: %s (%s)", what, strerror(-a->err), a->ext);
	else
		seterr(err, errlen, "%s: %s", what, strerror(-a->err));
}

struct cbdata {
	int err;
	void *p;
};

/* Send one request (not a batch) and run cb on the answers until done. */
static int request(struct rules *r, struct nlmsghdr *nlh, mnl_cb_t cb,
                   void *data)
{
	uint32_t seq = nlh->nlmsg_seq;

	drain(r);
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(r->nl, r->rbuf, sizeof(r->rbuf));
		int ret;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		errno = 0;
		ret = mnl_cb_run(r->rbuf, (size_t)n, seq, r->portid, cb, data);
		if (ret < 0)
			return errno ? -errno : -EPROTO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* --- open / close ----------------------------------------------------------- */

int rules_open(struct rules **rp, const struct rules_cfg *cfg, char *err,
               size_t errlen)
{
	struct rules *r;
	struct nlmsghdr *nlh;
	struct timeval tv = { ANSWER_WAIT_MS / 1000, 0 };
	int one = 1, ret;
	int rcvbuf = 1 << 20;

	if (!rp) {
		seterr(err, errlen, "rules_open: no result pointer");
		return -EINVAL;
	}
	*rp = NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		seterr(err, errlen, "rules: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (cfg)
		r->cfg = *cfg;
	else
		rules_cfg_default(&r->cfg);
	ret = cfg_check(&r->cfg, RULES_Q_NFT, err, errlen);
	if (ret < 0)
		goto fail;
	r->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!r->nl) {
		ret = -errno;
		seterr(err, errlen, "nfnetlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		seterr(err, errlen, "nfnetlink bind: %s", strerror(errno));
		goto fail;
	}
	r->portid = mnl_socket_get_portid(r->nl);
	r->seq = (uint32_t)time(NULL);
	/* small ACKs, with the kernel's message when it has one */
	mnl_socket_setsockopt(r->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(r->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVBUFFORCE,
	               &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVBUF,
		           &rcvbuf, sizeof(rcvbuf));
	setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
	           sizeof(tv));

	/* Every nf_tables message needs CAP_NET_ADMIN: find out now. */
	nlh = nftnl_nlmsg_build_hdr(r->batch, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK,
	                            r->seq++);
	ret = request(r, nlh, NULL, NULL);
	if (ret < 0) {
		if (ret == -EPERM)
			seterr(err, errlen, "nf_tables: %s (needs CAP_NET_ADMIN)",
			       strerror(-ret));
		else
			seterr(err, errlen, "nf_tables: %s", strerror(-ret));
		goto fail;
	}
	*rp = r;
	return 0;
fail:
	rules_close(r);
	return ret;
}

void rules_close(struct rules *r)
{
	if (!r)
		return;
	if (r->nl)
		mnl_socket_close(r->nl);
	free(r);
}

/* --- queue probe ------------------------------------------------------------ */

/* One batch that creates a table with a regular (never hooked) chain and
 * a rule holding only the queue statement, then deletes the table: the
 * kernel checks the expression, nothing stays behind, and no packet is
 * ever queued by it. */
static int probe_one(struct rules *r, enum rules_queue_backend be,
                     struct answer *a)
{
	char tname[RULES_TABLE_MAX + 24];
	struct rules_cfg c = r->cfg;
	struct nftnl_chain *ch;
	struct nlmsghdr *nlh;
	struct bld x;
	struct rb b;
	uint32_t first;
	int ret;

	/* unique per socket, so two instances never meet */
	snprintf(tname, sizeof(tname), "%s_probe_%u", r->cfg.table, r->portid);
	ret = bld_start(&x, r->batch, sizeof(r->batch), r->seq, NULL, 0);
	if (ret < 0)
		return ret;
	first = x.seq;
	bld_begin(&x);
	build_table(&x, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
	            tname);
	ch = nftnl_chain_alloc();
	if (!ch || nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, tname) < 0 ||
	    nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, "probe") < 0) {
		if (ch)
			nftnl_chain_free(ch);
		return -ENOMEM;
	}
	nlh = bld_hdr(&x, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_ACK, "chain");
	if (nlh) {
		nftnl_chain_nlmsg_build_payload(nlh, ch);
		bld_next(&x);
	}
	nftnl_chain_free(ch);

	b.r = nftnl_rule_alloc();
	b.err = 0;
	if (!b.r || nftnl_rule_set_str(b.r, NFTNL_RULE_TABLE, tname) < 0 ||
	    nftnl_rule_set_str(b.r, NFTNL_RULE_CHAIN, "probe") < 0)
		b.err = -ENOMEM;
	if (!b.err)
		x_queue(&b, &c, be);
	if (b.err) {
		if (b.r)
			nftnl_rule_free(b.r);
		return b.err;
	}
	nlh = bld_hdr(&x, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
	              "rule");
	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, b.r);
		bld_next(&x);
	}
	nftnl_rule_free(b.r);
	build_table(&x, NFT_MSG_DELTABLE, NLM_F_ACK, tname);
	bld_end(&x);
	if (x.err)
		return x.err;
	r->seq = x.seq;
	answer_init(a, first, x.seq - 1, x.seq - 2);
	ret = batch_talk(r, bld_len(&x), a);
	if (ret < 0)
		return ret;
	if (a->err && a->err_seq != first + 3)
		return a->err;  /* something else than the queue statement */
	return 0;
}

int rules_probe_queue(struct rules *r, enum rules_queue_backend *be, char *err,
                      size_t errlen)
{
	struct answer a_nft, a_xt;
	int ret;

	if (!r || !be) {
		seterr(err, errlen, "queue probe: no handle");
		return -EINVAL;
	}
	*be = RULES_Q_NONE;
	ret = probe_one(r, RULES_Q_NFT, &a_nft);
	if (ret < 0) {
		seterr(err, errlen, "queue probe (table %s_probe_%u): %s",
		       r->cfg.table, r->portid, strerror(-ret));
		return ret;
	}
	if (!a_nft.err) {
		*be = RULES_Q_NFT;
		return 0;
	}
	ret = probe_one(r, RULES_Q_XT, &a_xt);
	if (ret < 0) {
		seterr(err, errlen, "queue probe (table %s_probe_%u): %s",
		       r->cfg.table, r->portid, strerror(-ret));
		return ret;
	}
	if (!a_xt.err) {
		*be = RULES_Q_XT;
		return 0;
	}
	seterr(err, errlen, "queue: nft queue: %s; xt NFQUEUE target: %s",
	       strerror(-a_nft.err), strerror(-a_xt.err));
	return a_xt.err == -ENOENT || a_xt.err == -EOPNOTSUPP ? -EOPNOTSUPP
	                                                      : a_xt.err;
}

/* --- table ------------------------------------------------------------------ */

int rules_table_exists(struct rules *r, bool *exists)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	int ret;

	if (!r || !exists)
		return -EINVAL;
	*exists = false;
	t = nftnl_table_alloc();
	if (!t || nftnl_table_set_str(t, NFTNL_TABLE_NAME, r->cfg.table) < 0) {
		if (t)
			nftnl_table_free(t);
		return -ENOMEM;
	}
	nlh = nftnl_nlmsg_build_hdr(r->batch, NFT_MSG_GETTABLE, NFPROTO_INET,
	                            NLM_F_ACK, r->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	ret = request(r, nlh, NULL, NULL);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	*exists = true;
	return 0;
}

int rules_install(struct rules *r, enum rules_queue_backend be, char *err,
                  size_t errlen)
{
	struct desc d[MAX_DESC];
	struct answer a;
	size_t nd = 0;
	uint32_t first, next = 0;
	long len;
	int ret;

	if (!r) {
		seterr(err, errlen, "install: no handle");
		return -EINVAL;
	}
	ret = cfg_check(&r->cfg, be, err, errlen);
	if (ret < 0)
		return ret;
	first = r->seq;
	len = build_install(&r->cfg, be, first, r->batch, sizeof(r->batch), d,
	                    MAX_DESC, &nd, &next);
	if (len < 0) {
		seterr(err, errlen, "table inet %s: building the batch: %s",
		       r->cfg.table, strerror((int)-len));
		return (int)len;
	}
	/* first: batch begin; next - 2: the last message; next - 1: end */
	r->seq = next;
	answer_init(&a, first, next - 1, next - 2);
	ret = batch_talk(r, (size_t)len, &a);
	if (ret < 0) {
		seterr(err, errlen, "table inet %s: %s", r->cfg.table,
		       strerror(-ret));
		return ret;
	}
	if (a.err) {
		const char *what = "commit";

		for (size_t i = 0; i < nd; i++)
			if (d[i].seq == a.err_seq && i > 0)
				what = d[i].what;
		describe(err, errlen, what, &a);
		return a.err;
	}
	return 0;
}

int rules_remove(struct rules *r)
{
	struct answer a;
	struct bld x;
	uint32_t first;
	int ret;

	if (!r)
		return -EINVAL;
	ret = bld_start(&x, r->batch, sizeof(r->batch), r->seq, NULL, 0);
	if (ret < 0)
		return ret;
	first = x.seq;
	bld_begin(&x);
	build_table(&x, NFT_MSG_DELTABLE, NLM_F_ACK, r->cfg.table);
	bld_end(&x);
	if (x.err)
		return x.err;
	r->seq = x.seq;
	answer_init(&a, first, x.seq - 1, first + 1);
	ret = batch_talk(r, bld_len(&x), &a);
	if (ret < 0)
		return ret;
	if (a.err == -ENOENT)
		return 0;
	return a.err;
}

/* --- pinholes ---------------------------------------------------------------- */

static void pin_key(const struct rules_pin *p, const struct fam *f,
                    uint8_t *key)
{
	uint16_t port = htons(p->dport);

	memset(key, 0, f->key_len);
	memcpy(key, p->saddr, f->alen);
	memcpy(key + f->alen, p->daddr, f->alen);
	memcpy(key + 2 * f->alen, &port, sizeof(port));
}

static void pin_data(const struct rules_pin *p, const struct fam *f,
                     uint8_t *data)
{
	uint16_t port = htons(p->to_port);

	memset(data, 0, f->data_len);
	memcpy(data, p->to_addr, f->alen);
	memcpy(data + f->alen, &port, sizeof(port));
}

static const struct fam *pin_fam(const struct rules_pin *p)
{
	return p->family == 4 ? &fams[0] : p->family == 6 ? &fams[1] : NULL;
}

/* One element message into the batch, written with libmnl directly (what
 * libnftnl's set-element builder writes, without its allocations: this
 * runs for every data connection). */
static void build_elem(struct bld *x, uint16_t type, uint16_t flags,
                       const char *table, const char *set, const void *key,
                       uint32_t klen, const void *data, uint32_t dlen,
                       uint64_t timeout_ms)
{
	struct nlmsghdr *nlh;
	struct nlattr *list, *elem, *n;

	if (x->err)
		return;
	nlh = bld_hdr(x, type, flags, NULL);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	elem = mnl_attr_nest_start(nlh, 1);
	if (timeout_ms)
		mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(timeout_ms));
	n = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, klen, key);
	mnl_attr_nest_end(nlh, n);
	if (data) {
		n = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
		mnl_attr_put(nlh, NFTA_DATA_VALUE, dlen, data);
		mnl_attr_nest_end(nlh, n);
	}
	mnl_attr_nest_end(nlh, elem);
	mnl_attr_nest_end(nlh, list);
	bld_next(x);
}

/* Which pinhole (and set) is message number off (0 = the first after
 * batch begin)? Adds emit 1 or 2 messages per pinhole, deletes 2. */
static int pin_at(const struct rules_pin *p, size_t n, uint32_t off, bool del,
                  const char **set)
{
	for (size_t i = 0; i < n; i++) {
		const struct fam *f = pin_fam(&p[i]);
		uint32_t k = del || p[i].dnat ? 2 : 1;

		if (!f)
			return -1;
		if (off < k) {
			*set = off == 0 ? f->pin : f->dnat;
			return (int)i;
		}
		off -= k;
	}
	return -1;
}

int rules_pin_add(struct rules *r, const struct rules_pin *p, size_t n,
                  int *bad, char *err, size_t errlen)
{
	struct answer a;
	struct bld x;
	uint32_t first;
	int ret, dummy;

	if (!bad)
		bad = &dummy;
	*bad = -1;
	if (!r || (!p && n)) {
		seterr(err, errlen, "pinholes: no handle");
		return -EINVAL;
	}
	if (n == 0)
		return 0;
	if (n > (size_t)INT32_MAX) {
		seterr(err, errlen, "pinholes: %zu in one call", n);
		return -E2BIG;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;

		if (!pin_fam(&p[i]))
			why = "family is neither 4 nor 6";
		else if (p[i].dport == 0)
			why = "port 0";
		else if (p[i].timeout_ms == 0)
			why = "no timeout";
		else if (p[i].dnat && p[i].to_port == 0)
			why = "DNAT to port 0";
		if (why) {
			*bad = (int)i;
			seterr(err, errlen, "pinhole %zu: %s", i, why);
			return -EINVAL;
		}
	}
	ret = bld_start(&x, r->batch, sizeof(r->batch), r->seq, NULL, 0);
	if (ret < 0)
		return ret;
	first = x.seq;
	bld_begin(&x);
	for (size_t i = 0; i < n && !x.err; i++) {
		const struct fam *f = pin_fam(&p[i]);
		uint8_t key[36];
		bool last = i + 1 == n;

		pin_key(&p[i], f, key);
		build_elem(&x, NFT_MSG_NEWSETELEM,
		           NLM_F_CREATE | (last && !p[i].dnat ? NLM_F_ACK : 0),
		           r->cfg.table, f->pin, key, f->key_len, NULL, 0,
		           p[i].timeout_ms);
		if (p[i].dnat) {
			uint8_t data[20];

			pin_data(&p[i], f, data);
			build_elem(&x, NFT_MSG_NEWSETELEM,
			           NLM_F_CREATE | (last ? NLM_F_ACK : 0),
			           r->cfg.table, f->dnat, key, f->key_len, data,
			           f->data_len, p[i].timeout_ms);
		}
	}
	bld_end(&x);
	if (x.err) {
		if (x.err == -EMSGSIZE)
			seterr(err, errlen, "pinholes: %zu do not fit one batch", n);
		else
			seterr(err, errlen, "pinholes: %s", strerror(-x.err));
		return x.err;
	}
	r->seq = x.seq;
	answer_init(&a, first, x.seq - 1, x.seq - 2);
	ret = batch_talk(r, bld_len(&x), &a);
	if (ret < 0) {
		seterr(err, errlen, "pinholes: %s", strerror(-ret));
		return ret;
	}
	if (a.err) {
		const char *set = NULL;
		int i = a.err_seq == first ? -1
		        : pin_at(p, n, a.err_seq - first - 1, false, &set);
		char what[96];

		*bad = i;
		if (i >= 0)
			snprintf(what, sizeof(what), "pinhole %d (%s %s)", i,
			         set == fams[0].dnat || set == fams[1].dnat ? "map"
			                                                  : "set",
			         set);
		else
			snprintf(what, sizeof(what), "pinholes (commit)");
		describe(err, errlen, what, &a);
		return a.err;
	}
	return 0;
}

/* The old way, for kernels without DESTROYSETELEM: one batch each, so a
 * gone element (ENOENT) fails only itself. */
static int pin_del_each(struct rules *r, const struct rules_pin *p, size_t n)
{
	int first_err = 0;

	for (size_t i = 0; i < n; i++) {
		const struct fam *f = pin_fam(&p[i]);

		for (int k = 0; f && k < 2; k++) {
			uint8_t key[36];
			struct answer a;
			struct bld x;
			uint32_t first;
			int ret;

			pin_key(&p[i], f, key);
			ret = bld_start(&x, r->batch, sizeof(r->batch), r->seq, NULL, 0);
			if (ret < 0)
				return ret;
			first = x.seq;
			bld_begin(&x);
			build_elem(&x, NFT_MSG_DELSETELEM, NLM_F_ACK, r->cfg.table,
			           k ? f->dnat : f->pin, key, f->key_len, NULL, 0, 0);
			bld_end(&x);
			if (x.err)
				return x.err;
			r->seq = x.seq;
			answer_init(&a, first, x.seq - 1, first + 1);
			ret = batch_talk(r, bld_len(&x), &a);
			if (ret < 0)
				return ret;
			if (a.err && a.err != -ENOENT && !first_err)
				first_err = a.err;
		}
	}
	return first_err;
}

int rules_pin_del(struct rules *r, const struct rules_pin *p, size_t n)
{
	struct answer a;
	struct bld x;
	uint32_t first;
	int ret;

	if (!r || (!p && n))
		return -EINVAL;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!pin_fam(&p[i]))
			return -EINVAL;
	ret = bld_start(&x, r->batch, sizeof(r->batch), r->seq, NULL, 0);
	if (ret < 0)
		return ret;
	first = x.seq;
	bld_begin(&x);
	for (size_t i = 0; i < n && !x.err; i++) {
		const struct fam *f = pin_fam(&p[i]);
		uint8_t key[36];

		/* both: a consumed pinhole may have left its DNAT entry */
		pin_key(&p[i], f, key);
		build_elem(&x, MSG_DESTROYSETELEM, 0, r->cfg.table, f->pin, key,
		           f->key_len, NULL, 0, 0);
		build_elem(&x, MSG_DESTROYSETELEM, i + 1 == n ? NLM_F_ACK : 0,
		           r->cfg.table, f->dnat, key, f->key_len, NULL, 0, 0);
	}
	bld_end(&x);
	if (x.err)
		return x.err;
	r->seq = x.seq;
	answer_init(&a, first, x.seq - 1, x.seq - 2);
	ret = batch_talk(r, bld_len(&x), &a);
	if (ret < 0)
		return ret;
	if (a.err == -EINVAL || a.err == -EOPNOTSUPP) {
		/* an older kernel does not know the message type */
		return pin_del_each(r, p, n);
	}
	return a.err;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cbdata *d = data;

	if (nftnl_set_elems_nlmsg_parse(nlh, d->p) < 0) {
		d->err = -EPROTO;
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int dump_elems(struct rules *r, const char *name, struct nftnl_set *s)
{
	struct cbdata d = { 0, s };
	struct nlmsghdr *nlh;

	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, r->cfg.table) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(r->batch, NFT_MSG_GETSETELEM, NFPROTO_INET,
	                            NLM_F_DUMP, r->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	return request(r, nlh, elems_cb, &d);
}

struct list_ctx {
	const struct fam *f;
	struct nftnl_set *maps;
	void (*fn)(const struct rules_pin *p, void *arg);
	void *arg;
	struct rules_pin *p;         /* the pinhole being looked up */
	const uint8_t *key;
};

/* Fill in the DNAT target of ctx->p if the map has its key; stops the
 * walk (negative) when found. */
static int map_find_cb(struct nftnl_set_elem *me, void *data)
{
	struct list_ctx *c = data;
	const uint8_t *mk, *md;
	uint32_t mklen = 0, mdlen = 0;
	uint16_t port;

	mk = nftnl_set_elem_get(me, NFTNL_SET_ELEM_KEY, &mklen);
	if (!mk || mklen != c->f->key_len || memcmp(mk, c->key, mklen))
		return 0;
	md = nftnl_set_elem_get(me, NFTNL_SET_ELEM_DATA, &mdlen);
	if (md && mdlen == c->f->data_len) {
		c->p->dnat = true;
		memcpy(c->p->to_addr, md, c->f->alen);
		memcpy(&port, md + c->f->alen, sizeof(port));
		c->p->to_port = ntohs(port);
	}
	return -1;
}

static int pin_list_cb(struct nftnl_set_elem *e, void *data)
{
	struct list_ctx *c = data;
	const struct fam *f = c->f;
	struct rules_pin p;
	const uint8_t *key;
	uint32_t klen = 0;
	uint64_t exp = 0;
	uint16_t port;

	key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
	if (!key || klen != f->key_len)
		return 0;
	memset(&p, 0, sizeof(p));
	p.family = f->nfproto == NFPROTO_IPV4 ? 4 : 6;
	memcpy(p.saddr, key, f->alen);
	memcpy(p.daddr, key + f->alen, f->alen);
	memcpy(&port, key + 2 * f->alen, sizeof(port));
	p.dport = ntohs(port);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
		exp = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
	else if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
		exp = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
	p.timeout_ms = exp > UINT32_MAX ? UINT32_MAX : (uint32_t)exp;
	/* pinholes live seconds, so the map is small: a linear search */
	c->p = &p;
	c->key = key;
	nftnl_set_elem_foreach(c->maps, map_find_cb, c);
	c->fn(&p, c->arg);
	return 0;
}

int rules_pin_list(struct rules *r,
                   void (*fn)(const struct rules_pin *p, void *arg), void *arg)
{
	int ret = 0;

	if (!r || !fn)
		return -EINVAL;
	for (int k = 0; k < 2 && !ret; k++) {
		struct list_ctx c = { &fams[k], nftnl_set_alloc(), fn, arg, NULL,
		                      NULL };
		struct nftnl_set *pins = nftnl_set_alloc();

		if (!pins || !c.maps)
			ret = -ENOMEM;
		if (!ret)
			ret = dump_elems(r, fams[k].dnat, c.maps);
		if (!ret)
			ret = dump_elems(r, fams[k].pin, pins);
		if (!ret)
			nftnl_set_elem_foreach(pins, pin_list_cb, &c);
		if (pins)
			nftnl_set_free(pins);
		if (c.maps)
			nftnl_set_free(c.maps);
	}
	return ret;
}

/* --- nft syntax ----------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, pos;
};

__attribute__((format(printf, 2, 3)))
static void outf(struct out *o, const char *fmt, ...)
{
	size_t room = o->pos < o->len ? o->len - o->pos : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

size_t rules_format_nft(const struct rules_cfg *c, enum rules_queue_backend be,
                        char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	char q[64];
	uint32_t m;

	if (buf && len)
		buf[0] = '\0';
	if (!c || cfg_check(c, c->no_rules ? RULES_Q_NFT : be, NULL, 0) < 0)
		return 0;
	if (!buf)
		o.len = 0;
	m = c->accept_mark;
	queue_text(c, q, sizeof(q));

	outf(&o, "table inet %s {\n", c->table);
	for (int k = 0; k < 2; k++)
		outf(&o,
		     "\tct expectation %s {\n"
		     "\t\tprotocol tcp\n"
		     "\t\tdport 0\n"
		     "\t\ttimeout 1s\n"
		     "\t\tsize 0\n"
		     "\t\tl3proto %s\n"
		     "\t}\n\n", fams[k].carrier, fams[k].nftname);

	outf(&o, "\tset ctl_ports {\n\t\ttype inet_service\n\t\telements = { ");
	for (unsigned i = 0; i < c->n_ctl_ports; i++)
		outf(&o, "%s%u", i ? ", " : "", c->ctl_ports[i]);
	outf(&o, " }\n\t}\n\n");
	for (int k = 0; k < 2; k++) {
		const char *a = k ? "ipv6_addr" : "ipv4_addr";

		outf(&o, "\tset %s {\n\t\ttype %s . %s . inet_service\n"
		     "\t\tsize %u\n\t\tflags dynamic,timeout\n\t}\n\n",
		     fams[k].pin, a, a, PIN_SET_SIZE);
	}
	for (int k = 0; k < 2; k++) {
		const char *a = k ? "ipv6_addr" : "ipv4_addr";

		outf(&o, "\tmap %s {\n\t\ttype %s . %s . inet_service : "
		     "%s . inet_service\n\t\tflags timeout\n\t}\n\n",
		     fams[k].dnat, a, a, a);
	}

	for (size_t i = 0; i < N_CHAINS; i++) {
		const struct chain_def *d = &chain_defs[i];

		if (d->ctl && c->no_rules)
			continue;
		outf(&o, "\tchain %s {\n\t\ttype %s hook %s priority %d; "
		     "policy accept;\n", d->name, d->type, d->hookname, d->prio);
		if (i < 2)
			outf(&o, "\t\tct state != new accept\n");
		if (d->ctl)
			outf(&o, "\t\tmeta l4proto != tcp accept\n"
			     "\t\ttcp dport != @ctl_ports tcp sport != @ctl_ports "
			     "accept\n");
		for (int k = 0; k < 2 && i < 3; k++) {
			const struct fam *f = &fams[k];
			const char *ip = f->nftname;

			if (i == 0)
				outf(&o, "\t\tmeta nfproto %s ct state new tcp dport "
				     "@ctl_ports ct expectation set \"%s\"\n",
				     f->l3name, f->carrier);
			else if (i == 1)
				outf(&o, "\t\tmeta nfproto %s ct state new "
				     "%s saddr . %s daddr . tcp dport @%s "
				     "delete @%s { %s saddr . %s daddr . tcp dport } "
				     "ct mark set ct mark | 0x%08x "
				     "meta mark set meta mark | 0x%08x\n",
				     f->l3name, ip, ip, f->pin, f->pin, ip, ip, m, m);
			else
				outf(&o, "\t\tmeta nfproto %s ct mark & 0x%08x == 0x%08x "
				     "dnat %s to %s saddr . %s daddr . tcp dport "
				     "map @%s\n", f->l3name, m, m, ip, ip, ip, f->dnat);
		}
		if (d->ctl && c->ack_mark)
			for (int k = 0; k < 2; k++)
				for (unsigned doff = 5; doff <= 8; doff += 3)
					outf(&o, "\t\tmeta nfproto %s ct mark & 0x%08x == "
					     "0x%08x tcp flags == ack %s length %u tcp doff %u "
					     "accept\n", fams[k].l3name, c->ack_mark,
					     c->ack_mark, fams[k].nftname,
					     ack_len(&fams[k], doff), doff);
		if (d->ctl) {
			if (be == RULES_Q_XT)
				outf(&o, "\t\t# the kernel runs these as the xtables "
				     "NFQUEUE target (no nft queue)\n");
			outf(&o, "\t\ttcp dport @ctl_ports %s\n"
			     "\t\ttcp sport @ctl_ports %s\n", q, q);
		}
		outf(&o, "\t}\n%s", i + 1 < N_CHAINS &&
		     !(c->no_rules && chain_defs[i + 1].ctl) ? "\n" : "");
	}
	outf(&o, "}\n");
	return o.pos;
}
