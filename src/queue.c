/* queue.c - NFQUEUE through libmnl (see include/queue.h). */
#include "queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#define QUEUE_BUF (0xffff + 4096)   /* one packet message, whole */
#define QUEUE_RCVBUF (8 << 20)

struct queue {
	struct mnl_socket *nl;
	uint32_t portid;
	uint16_t num;
	struct queue_stats st;
	void (*fn)(struct queue *, struct queue_pkt *, void *);
	void *arg;
	uint32_t batch_id;              /* highest deferred plain accept */
	bool batch;
	char rbuf[QUEUE_BUF];
	char sbuf[0xffff + 512];        /* verdicts */
};

static int cfg_send(struct queue *q, struct nlmsghdr *nlh)
{
	char ack[8192];
	int n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = (int)mnl_socket_recvfrom(q->nl, ack, sizeof(ack));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(ack, (size_t)n, 0, q->portid, NULL, NULL) < 0)
		return -errno;
	return 0;
}

int queue_open(struct queue **out, uint16_t num, uint32_t maxlen,
               bool fail_open, char *err, size_t errlen)
{
	struct queue *q = calloc(1, sizeof(*q));
	struct nlmsghdr *nlh;
	int rc, one = 1, sz = QUEUE_RCVBUF;
	uint32_t flags = NFQA_CFG_F_GSO | (fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);

	if (!q)
		return -ENOMEM;
	q->num = num;
	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		snprintf(err, errlen, "queue %u: netlink socket: %s", num,
		         strerror(-rc));
		goto fail;
	}
	q->portid = mnl_socket_get_portid(q->nl);
	/* a bigger receive buffer rides out bursts (root can force it) */
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE,
	               &sz, sizeof(sz)) < 0)
		setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF, &sz,
		           sizeof(sz));
	/* ENOBUFS is reported, not a reason to die */
	setsockopt(mnl_socket_get_fd(q->nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
	           &one, sizeof(one));
	one = 0;

	nlh = nfq_nlmsg_put(q->sbuf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if ((rc = cfg_send(q, nlh)) < 0) {
		snprintf(err, errlen, "queue %u: bind: %s%s", num, strerror(-rc),
		         rc == -EBUSY ? " (another program reads this queue)"
		                      : rc == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		goto fail;
	}
	nlh = nfq_nlmsg_put(q->sbuf, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	if (maxlen)
		nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	if ((rc = cfg_send(q, nlh)) < 0) {
		snprintf(err, errlen, "queue %u: configure: %s", num,
		         strerror(-rc));
		goto fail;
	}
	*out = q;
	return 0;
fail:
	queue_close(q);
	return rc;
}

void queue_close(struct queue *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q);
}

int queue_fd(const struct queue *q)
{
	return mnl_socket_get_fd(q->nl);
}

int queue_set_wait(struct queue *q, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
	                      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
	               sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/*
 * The per-packet netlink work is done here by hand, with every length
 * checked against what was received: it is most of a pass-through
 * packet's cost through the library's out-of-line helpers (make bench,
 * callgrind). Messages with a payload (a changed packet) still go through
 * libnetfilter_queue's builder below.
 */

/* One packet message: the two attributes used, in one walk. */
static void pkt_msg(struct queue *q, const struct nlmsghdr *nlh)
{
	const struct nfqnl_msg_packet_hdr *ph = NULL;
	const uint8_t *a = (const uint8_t *)nlh + NLMSG_HDRLEN +
	                   NLMSG_ALIGN(sizeof(struct nfgenmsg));
	size_t rem;
	struct queue_pkt p;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)))
		return;
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(struct nfgenmsg));
	p.data = NULL;
	p.len = 0;
	while (rem >= NLA_HDRLEN) {
		const struct nlattr *at = (const struct nlattr *)a;
		size_t len = at->nla_len, step = NLA_ALIGN(len);

		if (len < NLA_HDRLEN || len > rem)
			break;
		switch (at->nla_type & NLA_TYPE_MASK) {
		case NFQA_PACKET_HDR:
			if (len - NLA_HDRLEN >= sizeof(*ph))
				ph = (const void *)(a + NLA_HDRLEN);
			break;
		case NFQA_PAYLOAD:
			p.data = (uint8_t *)(uintptr_t)(a + NLA_HDRLEN);
			p.len = len - NLA_HDRLEN;
			break;
		default:
			break;
		}
		if (step >= rem)
			break;
		rem -= step;
		a += step;
	}
	if (!ph || !p.data)
		return;
	p.id = ntohl(ph->packet_id);
	p.hw_proto = ntohs(ph->hw_protocol);
	p.hook = ph->hook;
	q->st.packets++;
	q->fn(q, &p, q->arg);
}

/* The messages of one datagram: packets, and the kernel's answers to
 * verdicts it could not apply (counted). */
static void walk(struct queue *q, size_t n)
{
	const uint8_t *m = (const uint8_t *)q->rbuf;
	uint16_t pkt_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;

	while (n >= NLMSG_HDRLEN) {
		const struct nlmsghdr *nlh = (const void *)m;
		size_t len = nlh->nlmsg_len, step = NLMSG_ALIGN(len);

		if (len < NLMSG_HDRLEN || len > n)
			break;
		if (nlh->nlmsg_type == pkt_type)
			pkt_msg(q, nlh);
		else if (nlh->nlmsg_type == NLMSG_ERROR &&
		         len >= NLMSG_HDRLEN + sizeof(struct nlmsgerr) &&
		         ((const struct nlmsgerr *)NLMSG_DATA(nlh))->error != 0)
			q->st.verdict_errors++;
		if (step >= n)
			break;
		n -= step;
		m += step;
	}
}

/* A verdict without a packet: one fixed 32-byte message. */
struct vmsg {
	struct nlmsghdr nh;
	struct nfgenmsg g;
	struct nlattr a;
	struct nfqnl_msg_verdict_hdr v;
};

static int send_verdict(struct queue *q, uint16_t type, uint32_t id,
                        int verdict)
{
	struct vmsg m;

	_Static_assert(sizeof(m) == 32, "verdict message layout");
	m.nh.nlmsg_len = sizeof(m);
	m.nh.nlmsg_type = (uint16_t)((NFNL_SUBSYS_QUEUE << 8) | type);
	m.nh.nlmsg_flags = NLM_F_REQUEST;
	m.nh.nlmsg_seq = 0;
	m.nh.nlmsg_pid = 0;
	m.g.nfgen_family = AF_UNSPEC;
	m.g.version = NFNETLINK_V0;
	m.g.res_id = htons(q->num);
	m.a.nla_len = NLA_HDRLEN + sizeof(m.v);
	m.a.nla_type = NFQA_VERDICT_HDR;
	m.v.verdict = htonl((uint32_t)verdict);
	m.v.id = htonl(id);
	if (send(mnl_socket_get_fd(q->nl), &m, sizeof(m), 0) < 0) {
		q->st.verdict_errors++;
		return -errno;
	}
	return 0;
}

/* One batch verdict accepts every packet up to batch_id still queued:
 * packets are handled in order, so those are exactly the deferred ones. */
static int flush(struct queue *q)
{
	int rc;

	if (!q->batch)
		return 0;
	q->batch = false;
	rc = send_verdict(q, NFQNL_MSG_VERDICT_BATCH, q->batch_id, NF_ACCEPT);
	if (rc == 0)
		q->st.batches++;
	return rc;
}

int queue_recv(struct queue *q,
               void (*fn)(struct queue *q, struct queue_pkt *p, void *arg),
               void *arg)
{
	int rc = 0;

	q->fn = fn;
	q->arg = arg;
	/* what is waiting now, up to 64 packets, then one batch verdict for
	 * the plain accepts among them */
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(mnl_socket_get_fd(q->nl), q->rbuf, QUEUE_BUF,
		                 i ? MSG_DONTWAIT : 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			if (errno == ENOBUFS)
				q->st.enobufs++;
			rc = -errno;
			break;
		}
		walk(q, (size_t)n);
	}
	flush(q);
	return rc;
}

int queue_verdict(struct queue *q, uint32_t id, int verdict,
                  const void *data, size_t len)
{
	struct nlmsghdr *nlh;

	if (verdict == NF_ACCEPT && len == 0) {
		q->batch_id = id;
		q->batch = true;
		return 0;
	}
	if (len == 0)
		return send_verdict(q, NFQNL_MSG_VERDICT, id, verdict);
	nlh = nfq_nlmsg_put(q->sbuf, NFQNL_MSG_VERDICT, q->num);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	nfq_nlmsg_verdict_put_pkt(nlh, data, (uint32_t)len);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
		q->st.verdict_errors++;
		return -errno;
	}
	return 0;
}

void queue_stats(const struct queue *q, struct queue_stats *s)
{
	*s = q->st;
}
