/*
 * floor - the machine's floor for a userspace NFQUEUE reader: accepts
 * every queued packet and does nothing else. `make bench` runs it on the
 * same queue rules as ftpgwd (installed by rules-probe) and reports
 * ftpgwd's per-packet figures as a ratio to it.
 *
 *   floor [--queue N | --queue N:M] [--cpus C,C,...]
 *
 * One thread per queue, thread i pinned to the i-th CPU of --cpus (if
 * given). It reads the same way ftpgwd does: the libmnl API of
 * libnetfilter_queue, whole-packet copy with NFQA_CFG_F_GSO, a 8 MiB
 * receive buffer, no poll() (the first recv() of a burst waits), bursts of
 * up to 64 datagrams, the messages walked by hand for the packet id, and
 * one VERDICT_BATCH per burst, a fixed message (as ftpgwd does). Prints
 * "floor: ready" once bound; on SIGTERM or SIGINT prints "floor: packets N
 * batches B enobufs E" and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define MAXQ 16
#define BUFSZ (0xffff + 4096)

struct reader {
	uint16_t num;
	int cpu;                    /* -1: not pinned */
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t last_id;
	bool pending;
	uint64_t packets, batches, enobufs;
	pthread_t th;
	char buf[BUFSZ];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int config(struct reader *r, struct nlmsghdr *nlh)
{
	char ack[4096];
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	n = mnl_socket_recvfrom(r->nl, ack, sizeof(ack));
	if (n < 0)
		return -1;
	return mnl_cb_run(ack, (size_t)n, 0, r->portid, NULL, NULL) < 0 ? -1 : 0;
}

static int reader_open(struct reader *r)
{
	char msg[512];
	struct nlmsghdr *nlh;
	int sz = 8 << 20, one = 1;
	uint32_t flags = NFQA_CFG_F_GSO;

	r->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!r->nl || mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	r->portid = mnl_socket_get_portid(r->nl);
	if (setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVBUFFORCE, &sz,
	               sizeof(sz)) < 0)
		setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVBUF, &sz,
		           sizeof(sz));
	setsockopt(mnl_socket_get_fd(r->nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
	           &one, sizeof(one));
	nlh = nfq_nlmsg_put(msg, NFQNL_MSG_CONFIG, r->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (config(r, nlh) < 0)
		return -1;
	nlh = nfq_nlmsg_put(msg, NFQNL_MSG_CONFIG, r->num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 4096);
	return config(r, nlh);
}

/* The packet ids of one datagram, by hand as ftpgwd does (src/queue.c):
 * every message and attribute length checked against what was read. */
static void walk(struct reader *r, size_t n)
{
	const uint8_t *m = (const uint8_t *)r->buf;
	uint16_t pkt_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;

	while (n >= NLMSG_HDRLEN) {
		const struct nlmsghdr *nlh = (const void *)m;
		size_t len = nlh->nlmsg_len, step = NLMSG_ALIGN(len);
		size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));

		if (len < NLMSG_HDRLEN || len > n)
			break;
		while (nlh->nlmsg_type == pkt_type && off + NLA_HDRLEN <= len) {
			const struct nlattr *a = (const void *)(m + off);
			const struct nfqnl_msg_packet_hdr *ph;

			if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
				break;
			if ((a->nla_type & NLA_TYPE_MASK) == NFQA_PACKET_HDR &&
			    (size_t)a->nla_len - NLA_HDRLEN >= sizeof(*ph)) {
				ph = (const void *)(m + off + NLA_HDRLEN);
				r->last_id = ntohl(ph->packet_id);
				r->pending = true;
				r->packets++;
				break;
			}
			off += NLA_ALIGN(a->nla_len);
		}
		if (step >= n)
			break;
		n -= step;
		m += step;
	}
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	int fd = mnl_socket_get_fd(r->nl);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };

	if (r->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(r->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			fprintf(stderr, "floor: queue %u: cannot pin to CPU %d\n",
			        r->num, r->cpu);
	}
	/* as ftpgwd: no poll(), the first recv() waits (at most 200 ms) */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!stop) {
		for (int i = 0; i < 64; i++) {
			ssize_t n = recv(fd, r->buf, sizeof(r->buf),
			                 i ? MSG_DONTWAIT : 0);
			if (n < 0) {
				if (errno == ENOBUFS)
					r->enobufs++;
				break;
			}
			walk(r, (size_t)n);
		}
		if (r->pending) {
			/* one batch verdict, a fixed 32-byte message */
			struct {
				struct nlmsghdr nh;
				struct nfgenmsg g;
				struct nlattr a;
				struct nfqnl_msg_verdict_hdr v;
			} vm = {
				{ 32, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH,
				  NLM_F_REQUEST, 0, 0 },
				{ AF_UNSPEC, NFNETLINK_V0, htons(r->num) },
				{ NLA_HDRLEN + sizeof(vm.v), NFQA_VERDICT_HDR },
				{ htonl(NF_ACCEPT), htonl(r->last_id) },
			};
			if (send(fd, &vm, sizeof(vm), 0) >= 0)
				r->batches++;
			r->pending = false;
		}
	}
	return NULL;
}

static void usage(void)
{
	fputs("usage: floor [--queue N | --queue N:M] [--cpus C,C,...]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct reader rs[MAXQ];
	int cpus[MAXQ] = { 0 }, ncpus = 0;
	unsigned lo = 0, hi = 0, n, i;
	struct sigaction sa;
	uint64_t packets = 0, batches = 0, enobufs = 0;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--queue") && a + 1 < argc) {
			char *end;
			lo = hi = (unsigned)strtoul(argv[++a], &end, 10);
			if (*end == ':' || *end == '-')
				hi = (unsigned)strtoul(end + 1, &end, 10);
			if (*end || hi < lo || hi > 65535 || hi - lo >= MAXQ)
				usage();
		} else if (!strcmp(argv[a], "--cpus") && a + 1 < argc) {
			char *s = argv[++a], *end;
			while (*s && ncpus < MAXQ) {
				cpus[ncpus++] = (int)strtol(s, &end, 10);
				if (end == s || (*end && *end != ','))
					usage();
				s = *end ? end + 1 : end;
			}
		} else {
			usage();
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	n = hi - lo + 1;
	for (i = 0; i < n; i++) {
		rs[i].num = (uint16_t)(lo + i);
		rs[i].cpu = (int)i < ncpus ? cpus[i] : -1;
		if (reader_open(&rs[i]) < 0) {
			fprintf(stderr, "floor: queue %u: %s\n", rs[i].num,
			        strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		if (pthread_create(&rs[i].th, NULL, reader_main, &rs[i]) != 0) {
			fputs("floor: cannot start a thread\n", stderr);
			return 1;
		}
	puts("floor: ready");
	fflush(stdout);
	for (i = 0; i < n; i++) {
		pthread_join(rs[i].th, NULL);
		packets += rs[i].packets;
		batches += rs[i].batches;
		enobufs += rs[i].enobufs;
		mnl_socket_close(rs[i].nl);
	}
	printf("floor: packets %llu batches %llu enobufs %llu\n",
	       (unsigned long long)packets, (unsigned long long)batches,
	       (unsigned long long)enobufs);
	return 0;
}
