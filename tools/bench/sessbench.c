/*
 * sessbench - the session table's cost, measured through the daemon's
 * real packet path: synthetic control connections are fed to
 * path_packet() as IPv4 packets (SYN, SYN/ACK, ACK, 220 greeting, USER,
 * 331, PASS, 230), so each session is made, looked up and filled by the
 * same code as in ftpgwd, and then left idle.
 *
 *   sessbench [--sessions N] [--lookups M] [--max-sessions X]
 *   sessbench --profile noop|port [--count N]
 *
 * It runs in a network namespace of its own (unshare, needs root), so the
 * queue it binds and the conntrack look-ups it makes (none find an entry:
 * the sessions take the daemon's own sequence adjustment) touch nothing
 * outside. Prints one JSON object:
 *   sessions, max_sessions, sizeof_sess, rss_base_kib, rss_kib,
 *   bytes_per_session (RSS growth / N, the table's arrays included),
 *   lookup_ns (median of 5 rounds of M sess_find() hits in random order),
 *   packet_ns (median of 5 rounds: path_packet() for a NOOP on a random
 *   idle session, all of it: parse, look-up, the FTP core, verdict)
 *
 * --profile is for callgrind (--toggle-collect=path_packet): one session
 * whose client, 10.0.0.1, has the public address 198.51.100.1 (so a PORT
 * is rewritten, 4 bytes longer, and opens a real pinhole in the private
 * namespace's table), a PORT and its reply, then N exchanges: NOOP / 200
 * (pass-through with a sequence delta active, the daemon's own adjuster:
 * the private namespace's conntrack has no entry) or PORT / 200 (each one
 * rewritten, with its pinhole). Prints {"packets":P}, the number of
 * path_packet() calls.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "pkt.h"

#define SRV_ADDR 0xcb007105u     /* 203.0.113.5 */

struct conn {
	uint32_t caddr;
	uint16_t cport;
	uint32_t cseq, sseq;
};

static struct path_worker w;
static uint8_t pbuf[2048];
static uint32_t pid_next = 1;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* One IPv4/TCP packet of the connection, then path_packet() on it. */
static void send_pkt(struct conn *c, int from_client, uint8_t flags,
                     const char *payload)
{
	size_t n = payload ? strlen(payload) : 0, len = 20 + 20 + n;
	uint8_t *ip = pbuf, *tcp = pbuf + 20;
	uint32_t src = from_client ? c->caddr : SRV_ADDR;
	uint32_t dst = from_client ? SRV_ADDR : c->caddr;
	uint16_t sport = from_client ? c->cport : 21;
	uint16_t dport = from_client ? 21 : c->cport;
	uint32_t seq = from_client ? c->cseq : c->sseq;
	uint32_t ack = from_client ? c->sseq : c->cseq;
	struct pkt_view v;
	struct queue_pkt p;

	memset(pbuf, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(len >> 8);
	ip[3] = (uint8_t)len;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	src = htonl(src);
	dst = htonl(dst);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	tcp[0] = (uint8_t)(sport >> 8);
	tcp[1] = (uint8_t)sport;
	tcp[2] = (uint8_t)(dport >> 8);
	tcp[3] = (uint8_t)dport;
	seq = htonl(seq);
	ack = htonl(ack);
	memcpy(tcp + 4, &seq, 4);
	memcpy(tcp + 8, &ack, 4);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	tcp[14] = 0xfa;
	if (n)
		memcpy(tcp + 20, payload, n);
	if (pkt_parse(&v, pbuf, len, sizeof(pbuf)) == 0)
		pkt_fix_checksums(&v);
	if (from_client)
		c->cseq += (uint32_t)n + ((flags & 0x02) ? 1u : 0u);
	else
		c->sseq += (uint32_t)n + ((flags & 0x02) ? 1u : 0u);
	p.id = pid_next++;
	p.hw_proto = 0x0800;
	p.hook = 2;   /* NF_INET_FORWARD */
	p.data = pbuf;
	p.len = len;
	path_packet(w.q, &p, &w);
}

static void open_session(struct conn *c, uint32_t i)
{
	c->caddr = 0x0a000000u + (i / 8) + 1;   /* 10.x.y.z, 8 per client */
	c->cport = (uint16_t)(40000 + i % 8);
	c->cseq = 1000u + i;
	c->sseq = 500000u + i;
	send_pkt(c, 1, 0x02, NULL);               /* SYN */
	send_pkt(c, 0, 0x12, NULL);               /* SYN/ACK */
	send_pkt(c, 1, 0x10, NULL);               /* ACK */
	send_pkt(c, 0, 0x18, "220 sessbench ready\r\n");
	send_pkt(c, 1, 0x18, "USER anonymous\r\n");
	send_pkt(c, 0, 0x18, "331 Please specify the password.\r\n");
	send_pkt(c, 1, 0x18, "PASS bench@\r\n");
	send_pkt(c, 0, 0x18, "230 Login successful.\r\n");
}

static int profile(const char *what, unsigned long count)
{
	static struct path_cfg cfg;
	static struct ftp_policy pol;
	struct rules_cfg rc;
	struct rules *r = NULL;
	struct queue *q = NULL;
	struct ct *ct = NULL;
	struct conn c;
	char err[256], line[64];
	bool port = !strcmp(what, "port");

	if (!port && strcmp(what, "noop") != 0) {
		fprintf(stderr, "sessbench: --profile noop|port\n");
		return 2;
	}
	rules_cfg_default(&rc);
	rc.no_rules = true;
	if (rules_open(&r, &rc, err, sizeof(err)) < 0 ||
	    rules_install(r, RULES_Q_NONE, err, sizeof(err)) < 0 ||
	    queue_open(&q, 0, 0, false, err, sizeof(err)) < 0 ||
	    ct_open(&ct, err, sizeof(err)) < 0) {
		fprintf(stderr, "sessbench: %s\n", err);
		return 1;
	}
	path_cfg_default(&cfg);
	ftp_policy_default(&pol);
	cfg.pol = &pol;
	cfg.max_sessions = 16;
	ftp_addr_parse(&cfg.public4, "198.51.100.1");
	if (path_init(&w, &cfg, q, r, ct) < 0)
		return 1;
	w.now_ms = 1000;
	open_session(&c, 0);
	send_pkt(&c, 1, 0x18, "PORT 10,0,0,1,156,64\r\n");
	send_pkt(&c, 0, 0x18, "200 PORT command successful.\r\n");
	for (unsigned long i = 0; i < count; i++) {
		if (port) {
			unsigned p = 40000 + (unsigned)(i % 1000);
			snprintf(line, sizeof(line), "PORT 10,0,0,1,%u,%u\r\n", p >> 8,
			         p & 255);
			send_pkt(&c, 1, 0x18, line);
			send_pkt(&c, 0, 0x18, "200 PORT command successful.\r\n");
		} else {
			send_pkt(&c, 1, 0x18, "NOOP\r\n");
			send_pkt(&c, 0, 0x18, "200 NOOP ok.\r\n");
		}
	}
	if (w.count[PATH_C_PINHOLES] < (port ? count + 1 : 1) ||
	    w.count[PATH_C_PIN_ERRORS]) {
		fprintf(stderr, "sessbench: %llu rewritten, %llu pinhole errors: "
		        "not the path to profile\n",
		        (unsigned long long)w.count[PATH_C_MANGLED],
		        (unsigned long long)w.count[PATH_C_PIN_ERRORS]);
		return 1;
	}
	printf("{\"profile\":\"%s\",\"count\":%lu,\"packets\":%llu,"
	       "\"changed\":%llu,\"pinholes\":%llu}\n", what, count,
	       (unsigned long long)w.count[PATH_C_PACKETS],
	       (unsigned long long)w.count[PATH_C_MANGLED],
	       (unsigned long long)w.count[PATH_C_PINHOLES]);
	path_fini(&w);
	rules_remove(r);
	rules_close(r);
	queue_close(q);
	ct_close(ct);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median5(uint64_t r[5])
{
	qsort(r, 5, sizeof(r[0]), cmp_u64);
	return r[2];
}

int main(int argc, char **argv)
{
	static struct path_cfg cfg;
	static struct ftp_policy pol;
	uint32_t n = 10000, max = 0, i;
	unsigned long lookups = 1000000;
	struct queue *q = NULL;
	struct ct *ct = NULL;
	struct conn *cs;
	uint32_t *order;
	char err[256];
	long base, after;
	uint64_t lk[5], pk[5], found = 0;
	const char *prof = NULL;

	for (int a = 1; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--sessions"))
			n = (uint32_t)strtoul(argv[a + 1], NULL, 10);
		else if (!strcmp(argv[a], "--lookups"))
			lookups = strtoul(argv[a + 1], NULL, 10);
		else if (!strcmp(argv[a], "--max-sessions"))
			max = (uint32_t)strtoul(argv[a + 1], NULL, 10);
		else if (!strcmp(argv[a], "--profile"))
			prof = argv[a + 1];
		else if (!strcmp(argv[a], "--count"))
			lookups = strtoul(argv[a + 1], NULL, 10);
		else {
			fprintf(stderr, "usage: sessbench [--sessions N] "
			        "[--lookups M] [--max-sessions X]\n"
			        "       sessbench --profile noop|port [--count N]\n");
			return 2;
		}
	}
	if (max == 0)
		max = n;
	if (n == 0 || n > max || n > 1000000 || lookups == 0) {
		fprintf(stderr, "sessbench: need 0 < sessions <= max-sessions "
		        "<= 1000000\n");
		return 2;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "sessbench: unshare(CLONE_NEWNET): %s (needs "
		        "root)\n", strerror(errno));
		return 1;
	}
	log_init("sessbench", true, LOG_L_ERR);
	if (prof)
		return profile(prof, lookups);
	if (queue_open(&q, 0, 0, false, err, sizeof(err)) < 0 ||
	    ct_open(&ct, err, sizeof(err)) < 0) {
		fprintf(stderr, "sessbench: %s\n", err);
		return 1;
	}
	cs = calloc(n, sizeof(*cs));
	order = calloc(n, sizeof(*order));
	if (!cs || !order)
		return 1;
	path_cfg_default(&cfg);
	ftp_policy_default(&pol);
	cfg.pol = &pol;
	cfg.max_sessions = max;
	base = rss_kib();
	if (path_init(&w, &cfg, q, NULL, ct) < 0) {
		fprintf(stderr, "sessbench: path_init failed\n");
		return 1;
	}
	w.now_ms = 1000;
	for (i = 0; i < n; i++)
		open_session(&cs[i], i);
	after = rss_kib();
	if (w.tab.count != n) {
		fprintf(stderr, "sessbench: %u sessions in the table, not %u\n",
		        w.tab.count, n);
		return 1;
	}
	/* random order of look-ups (xorshift, fixed seed) */
	{
		uint32_t x = 2463534242u;
		for (i = 0; i < n; i++)
			order[i] = i;
		for (i = n - 1; i > 0; i--) {
			uint32_t j, t;
			x ^= x << 13; x ^= x >> 17; x ^= x << 5;
			j = x % (i + 1);
			t = order[i]; order[i] = order[j]; order[j] = t;
		}
	}
	for (int r = 0; r < 5; r++) {
		struct sess_key k;
		uint64_t t0;

		memset(&k, 0, sizeof(k));
		k.family = 4;
		k.saddr[0] = 203; k.saddr[2] = 113; k.saddr[3] = 5;
		k.sport = 21;
		t0 = now_ns();
		for (unsigned long m = 0; m < lookups; m++) {
			const struct conn *c = &cs[order[m % n]];
			uint32_t a = htonl(c->caddr);
			memcpy(k.caddr, &a, 4);
			k.cport = c->cport;
			found += sess_find(&w.tab, &k) != NULL;
		}
		lk[r] = (now_ns() - t0) * 1000 / lookups;   /* picoseconds */
		t0 = now_ns();
		for (unsigned long m = 0; m < lookups / 10; m++) {
			/* a NOOP and its reply: the session's FTP state ends
			 * where it started */
			send_pkt(&cs[order[m % n]], 1, 0x18, "NOOP\r\n");
			send_pkt(&cs[order[m % n]], 0, 0x18, "200 NOOP ok.\r\n");
		}
		pk[r] = (now_ns() - t0) * 1000 / (lookups / 10 ? 2 * (lookups / 10) : 1);
	}
	if (found != 5ull * lookups) {
		fprintf(stderr, "sessbench: %llu of %llu look-ups found their "
		        "session\n", (unsigned long long)found,
		        5ull * lookups);
		return 1;
	}
	printf("{\"sessions\":%u,\"max_sessions\":%u,\"sizeof_sess\":%zu,"
	       "\"rss_base_kib\":%ld,\"rss_kib\":%ld,\"bytes_per_session\":%.0f,"
	       "\"lookup_ns\":%.1f,\"packet_ns\":%.1f}\n", n, max,
	       sizeof(struct sess), base, after,
	       (double)(after - base) * 1024.0 / n, median5(lk) / 1000.0,
	       median5(pk) / 1000.0);
	path_fini(&w);
	queue_close(q);
	ct_close(ct);
	free(cs);
	free(order);
	return 0;
}
