/* ct.c - ctnetlink through libmnl (see include/ct.h). */
#include "ct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>

struct ct {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char buf[65536];        /* one netlink datagram */
};

int ct_open(struct ct **out, char *err, size_t errlen)
{
	struct ct *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!c->nl || mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		snprintf(err, errlen, "ctnetlink socket: %s", strerror(e));
		ct_close(c);
		return -e;
	}
	c->portid = mnl_socket_get_portid(c->nl);
	c->seq = (uint32_t)time(NULL);
	*out = c;
	return 0;
}

void ct_close(struct ct *c)
{
	if (!c)
		return;
	if (c->nl)
		mnl_socket_close(c->nl);
	free(c);
}

static struct nlmsghdr *put_hdr(struct ct *c, uint16_t type, uint16_t flags,
                                uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(c->buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_CTNETLINK << 8) | type);
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = ++c->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family == 6 ? AF_INET6 : AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

static void put_tuple(struct nlmsghdr *nlh, uint16_t type,
                      const struct ct_tuple *t)
{
	struct nlattr *nt = mnl_attr_nest_start(nlh, type);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	struct nlattr *pr;

	if (t->family == 6) {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, t->src);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, t->dst);
	} else {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, t->src);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, t->dst);
	}
	mnl_attr_nest_end(nlh, ip);
	pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, nt);
}

/* ---- parsing a conntrack message ------------------------------------ */

struct nest {
	const struct nlattr *tb[CTA_MAX + 1];
	unsigned max;
};

static int nest_cb(const struct nlattr *a, void *data)
{
	struct nest *n = data;
	unsigned t = mnl_attr_get_type(a);

	if (t <= n->max && t <= CTA_MAX)
		n->tb[t] = a;
	return MNL_CB_OK;
}

static int parse_nest(const struct nlattr *a, struct nest *n, unsigned max)
{
	memset(n, 0, sizeof(*n));
	n->max = max;
	return mnl_attr_parse_nested(a, nest_cb, n) < 0 ? -EINVAL : 0;
}

static int get_tuple(const struct nlattr *a, uint8_t family,
                     struct ct_tuple *t)
{
	struct nest tup, ip, pr;

	memset(t, 0, sizeof(*t));
	t->family = family;
	if (parse_nest(a, &tup, CTA_TUPLE_MAX) < 0 || !tup.tb[CTA_TUPLE_IP] ||
	    !tup.tb[CTA_TUPLE_PROTO] ||
	    parse_nest(tup.tb[CTA_TUPLE_IP], &ip, CTA_IP_MAX) < 0 ||
	    parse_nest(tup.tb[CTA_TUPLE_PROTO], &pr, CTA_PROTO_MAX) < 0)
		return -EINVAL;
	if (family == 6) {
		if (!ip.tb[CTA_IP_V6_SRC] || !ip.tb[CTA_IP_V6_DST] ||
		    mnl_attr_get_payload_len(ip.tb[CTA_IP_V6_SRC]) != 16 ||
		    mnl_attr_get_payload_len(ip.tb[CTA_IP_V6_DST]) != 16)
			return -EINVAL;
		memcpy(t->src, mnl_attr_get_payload(ip.tb[CTA_IP_V6_SRC]), 16);
		memcpy(t->dst, mnl_attr_get_payload(ip.tb[CTA_IP_V6_DST]), 16);
	} else {
		if (!ip.tb[CTA_IP_V4_SRC] || !ip.tb[CTA_IP_V4_DST] ||
		    mnl_attr_get_payload_len(ip.tb[CTA_IP_V4_SRC]) != 4 ||
		    mnl_attr_get_payload_len(ip.tb[CTA_IP_V4_DST]) != 4)
			return -EINVAL;
		memcpy(t->src, mnl_attr_get_payload(ip.tb[CTA_IP_V4_SRC]), 4);
		memcpy(t->dst, mnl_attr_get_payload(ip.tb[CTA_IP_V4_DST]), 4);
	}
	if (!pr.tb[CTA_PROTO_NUM] ||
	    mnl_attr_get_u8(pr.tb[CTA_PROTO_NUM]) != IPPROTO_TCP ||
	    !pr.tb[CTA_PROTO_SRC_PORT] || !pr.tb[CTA_PROTO_DST_PORT])
		return -EPROTONOSUPPORT;
	t->sport = ntohs(mnl_attr_get_u16(pr.tb[CTA_PROTO_SRC_PORT]));
	t->dport = ntohs(mnl_attr_get_u16(pr.tb[CTA_PROTO_DST_PORT]));
	return 0;
}

static int get_adj(const struct nlattr *a, struct seq_adj *adj)
{
	struct nest n;

	if (parse_nest(a, &n, CTA_SEQADJ_MAX) < 0 ||
	    !n.tb[CTA_SEQADJ_CORRECTION_POS] || !n.tb[CTA_SEQADJ_OFFSET_BEFORE] ||
	    !n.tb[CTA_SEQADJ_OFFSET_AFTER])
		return -EINVAL;
	adj->pos = ntohl(mnl_attr_get_u32(n.tb[CTA_SEQADJ_CORRECTION_POS]));
	adj->before = (int32_t)ntohl(mnl_attr_get_u32(n.tb[CTA_SEQADJ_OFFSET_BEFORE]));
	adj->after = (int32_t)ntohl(mnl_attr_get_u32(n.tb[CTA_SEQADJ_OFFSET_AFTER]));
	return 0;
}

static int parse_entry(const struct nlmsghdr *nlh, struct ct_entry *e)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	uint8_t fam = nfg->nfgen_family == AF_INET6 ? 6 : 4;
	struct nest tb;

	memset(e, 0, sizeof(*e));
	memset(&tb, 0, sizeof(tb));
	tb.max = CTA_MAX;
	if (mnl_attr_parse(nlh, sizeof(*nfg), nest_cb, &tb) < 0)
		return -EINVAL;
	if (!tb.tb[CTA_TUPLE_ORIG] || !tb.tb[CTA_TUPLE_REPLY])
		return -EINVAL;
	if (get_tuple(tb.tb[CTA_TUPLE_ORIG], fam, &e->orig) < 0 ||
	    get_tuple(tb.tb[CTA_TUPLE_REPLY], fam, &e->reply) < 0)
		return -EPROTONOSUPPORT;
	if (tb.tb[CTA_STATUS])
		e->status = ntohl(mnl_attr_get_u32(tb.tb[CTA_STATUS]));
	if (tb.tb[CTA_MARK])
		e->mark = ntohl(mnl_attr_get_u32(tb.tb[CTA_MARK]));
	if (tb.tb[CTA_SEQ_ADJ_ORIG] && tb.tb[CTA_SEQ_ADJ_REPLY] &&
	    get_adj(tb.tb[CTA_SEQ_ADJ_ORIG], &e->adj[0]) == 0 &&
	    get_adj(tb.tb[CTA_SEQ_ADJ_REPLY], &e->adj[1]) == 0)
		e->have_adj = true;
	if (tb.tb[CTA_PROTOINFO]) {
		struct nest pi, tcp;
		if (parse_nest(tb.tb[CTA_PROTOINFO], &pi, CTA_PROTOINFO_MAX) == 0 &&
		    pi.tb[CTA_PROTOINFO_TCP] &&
		    parse_nest(pi.tb[CTA_PROTOINFO_TCP], &tcp,
		               CTA_PROTOINFO_TCP_MAX) == 0 &&
		    tcp.tb[CTA_PROTOINFO_TCP_STATE])
			e->tcp_state = mnl_attr_get_u8(tcp.tb[CTA_PROTOINFO_TCP_STATE]);
	}
	return 0;
}

/* ---- requests ------------------------------------------------------- */

struct req {
	struct ct_entry *e;
	bool got;
	void (*fn)(const struct ct_entry *, void *);
	void *arg;
	const uint16_t *ports;
	unsigned nports;
};

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req *r = data;
	struct ct_entry e;

	if (parse_entry(nlh, &e) < 0)
		return MNL_CB_OK;          /* not TCP, or odd: skip */
	if (r->e) {
		*r->e = e;
		r->got = true;
		return MNL_CB_OK;
	}
	for (unsigned i = 0; i < r->nports; i++)
		if (e.orig.dport == r->ports[i]) {
			r->fn(&e, r->arg);
			break;
		}
	return MNL_CB_OK;
}

static int talk(struct ct *c, struct nlmsghdr *nlh, struct req *r)
{
	uint32_t seq = nlh->nlmsg_seq;

	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (int guard = 0; guard < 100000; guard++) {
		int n = (int)mnl_socket_recvfrom(c->nl, c->buf, sizeof(c->buf));
		if (n < 0)
			return -errno;
		n = mnl_cb_run(c->buf, (size_t)n, seq, c->portid, data_cb, r);
		if (n < 0)
			return -errno;
		if (n == MNL_CB_STOP)
			return 0;
	}
	return -EIO;
}

int ct_get(struct ct *c, const struct ct_tuple *t, bool reply,
           struct ct_entry *e)
{
	struct nlmsghdr *nlh = put_hdr(c, IPCTNL_MSG_CT_GET,
	                               NLM_F_REQUEST | NLM_F_ACK, t->family);
	struct req r = { .e = e };
	int rc;

	put_tuple(nlh, reply ? CTA_TUPLE_REPLY : CTA_TUPLE_ORIG, t);
	rc = talk(c, nlh, &r);
	if (rc < 0)
		return rc;
	return r.got ? 0 : -ENOENT;
}

static void put_adj(struct nlmsghdr *nlh, uint16_t type,
                    const struct seq_adj *a)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	mnl_attr_put_u32(nlh, CTA_SEQADJ_CORRECTION_POS, htonl(a->pos));
	mnl_attr_put_u32(nlh, CTA_SEQADJ_OFFSET_BEFORE,
	                 htonl((uint32_t)a->before));
	mnl_attr_put_u32(nlh, CTA_SEQADJ_OFFSET_AFTER, htonl((uint32_t)a->after));
	mnl_attr_nest_end(nlh, n);
}

int ct_update(struct ct *c, const struct ct_tuple *orig,
              const struct seq_adj adj[2], uint32_t mark_bits, bool mark_on)
{
	struct nlmsghdr *nlh = put_hdr(c, IPCTNL_MSG_CT_NEW,
	                               NLM_F_REQUEST | NLM_F_ACK, orig->family);
	struct req r = { 0 };

	put_tuple(nlh, CTA_TUPLE_ORIG, orig);
	if (adj) {
		put_adj(nlh, CTA_SEQ_ADJ_ORIG, &adj[0]);
		put_adj(nlh, CTA_SEQ_ADJ_REPLY, &adj[1]);
	}
	if (mark_bits) {
		/* the kernel: new = (mark & ~MARK_MASK) ^ MARK */
		mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark_on ? mark_bits : 0));
		mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mark_bits));
	}
	return talk(c, nlh, &r);
}

int ct_set_seqadj(struct ct *c, const struct ct_tuple *orig,
                  const struct seq_adj adj[2])
{
	return ct_update(c, orig, adj, 0, false);
}

int ct_dump_tcp(struct ct *c, const uint16_t *ports, unsigned n,
                void (*fn)(const struct ct_entry *e, void *arg), void *arg)
{
	struct req r = { .fn = fn, .arg = arg, .ports = ports, .nports = n };

	for (int fam = 4; fam <= 6; fam += 2) {
		struct nlmsghdr *nlh = put_hdr(c, IPCTNL_MSG_CT_GET,
		                               NLM_F_REQUEST | NLM_F_DUMP,
		                               (uint8_t)fam);
		int rc = talk(c, nlh, &r);
		if (rc < 0)
			return rc;
	}
	return 0;
}
