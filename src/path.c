/*
 * path.c - the packet path (see include/path.h).
 *
 * Each queued packet is copied into the worker's buffer, parsed, matched to
 * its session and, if it carries new control bytes, fed to the FTP core.
 * A segment that ends inside a line the core may still need to edit is cut
 * before that line (or dropped when nothing precedes it): the sender
 * retransmits the rest, and Linux merges small segments when it does, so
 * the line arrives whole. The FTP core's state is a plain struct, so
 * "un-feeding" is a copy back.
 */
#include "path.h"

#include <errno.h>
#include <ifaddrs.h>
#include <pthread.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/netfilter.h>

#include "log.h"
#include "pkt.h"
#include "seq.h"

#define MAX_EDITS 32
#define MAX_EVENTS 32

static const char *const counter_names[PATH_C__COUNT] = {
	[PATH_C_PACKETS] = "packets", [PATH_C_MANGLED] = "mangled",
	[PATH_C_SESSIONS] = "sessions", [PATH_C_MIDSTREAM] = "midstream",
	[PATH_C_SESS_FULL] = "session-table-full",
	[PATH_C_SESS_CLIENT_LIMIT] = "client-limit",
	[PATH_C_UNPARSED] = "unparsed", [PATH_C_OUT_OF_ORDER] = "out-of-order",
	[PATH_C_RETRANS] = "retransmissions",
	[PATH_C_PARTIAL_DROP] = "partial-line-held",
	[PATH_C_SPLIT_UNREWRITTEN] = "split-unrewritten",
	[PATH_C_ADJ_KERNEL] = "seqadj-kernel",
	[PATH_C_ADJ_FALLBACK] = "seqadj-fallback",
	[PATH_C_PINHOLES] = "pinholes", [PATH_C_PIN_ERRORS] = "pinhole-errors",
	[PATH_C_RESETS] = "resets", [PATH_C_CT_ERRORS] = "conntrack-errors",
	[PATH_C_ENCRYPTED] = "encrypted",
	[PATH_C_HIST_EVICTED] = "history-evicted",
};

const char *path_counter_name(unsigned i)
{
	return i < PATH_C__COUNT ? counter_names[i] : "?";
}

void path_cfg_default(struct path_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->ctl_ports[0] = 21;
	c->n_ctl_ports = 1;
	c->pin_timeout_ms = 30000;
	c->idle_timeout_s = 3600;
	c->close_grace_s = 2;
	c->max_sessions = 4096;
	c->per_client = 64;
	c->max_partial_drops = 3;
	c->ack_mark = 0x00200000;
}

int path_init(struct path_worker *w, const struct path_cfg *cfg,
              struct queue *q, struct rules *r, struct ct *ct)
{
	memset(w, 0, offsetof(struct path_worker, work));
	w->cfg = cfg;
	w->q = q;
	w->r = r;
	w->ct = ct;
	return sess_table_init(&w->tab, cfg->max_sessions, cfg->per_client);
}

/* Milliseconds for the session timers: the coarse monotonic clock (a few
 * ms of resolution, read without a system call) is enough for them. */
uint64_t path_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* both FINs or a RST: the close grace starts; the client's limit is freed */
static void closing(struct path_worker *w, struct sess *s)
{
	s->close_ms = w->now_ms;
	sess_closing(&w->tab, s);
}

/*
 * Who opened each pinhole last, for all workers of the process. The key
 * of a pinhole (the connecting side, the address and port it was told) is
 * not unique over time: a server hands the same passive port to the next
 * session once the last one has connected. A session that ends removes
 * the pinholes it opened only where it is still their owner; else it
 * would remove a later session's live pinhole (seen in `make bench`: 32
 * parallel sessions through a 101-port passive range lost a data
 * connection every few thousand). Lossy on purpose: a slot taken by
 * another key only leaves a pinhole to its timeout, never removes one
 * that is not ours. One lock, taken per pinhole added or session ended,
 * never per packet; held across the nft call so that an add and a
 * remove of one key cannot interleave.
 */
#define PIN_OWNERS 16384

struct pin_owner {
	uint8_t key[37];                /* family, saddr, daddr, dport */
	uint32_t sid;                   /* 0: free */
	const struct path_worker *w;
};

static struct pin_owner pin_owners[PIN_OWNERS];
static pthread_mutex_t pin_owners_lock = PTHREAD_MUTEX_INITIALIZER;

static struct pin_owner *pin_owner_slot(const struct rules_pin *p,
                                        uint8_t key[37])
{
	uint32_t h = 2166136261u;

	key[0] = p->family;
	memcpy(key + 1, p->saddr, 16);
	memcpy(key + 17, p->daddr, 16);
	key[33] = (uint8_t)(p->dport >> 8);
	key[34] = (uint8_t)p->dport;
	key[35] = key[36] = 0;
	for (size_t i = 0; i < 35; i++)
		h = (h ^ key[i]) * 16777619u;
	return &pin_owners[h & (PIN_OWNERS - 1)];
}

/* rules_pin_add() for one pinhole, recording its owner */
static int pin_add_owned(struct path_worker *w, const struct sess *s,
                         const struct rules_pin *p, char *err, size_t errlen)
{
	uint8_t key[37];
	struct pin_owner *o = pin_owner_slot(p, key);
	int bad, rc;

	pthread_mutex_lock(&pin_owners_lock);
	rc = rules_pin_add(w->r, p, 1, &bad, err, errlen);
	if (rc == 0) {
		memcpy(o->key, key, sizeof(key));
		o->sid = s->sid;
		o->w = w;
	}
	pthread_mutex_unlock(&pin_owners_lock);
	return rc;
}

/* The session's pinholes it still owns go; the others are left to a
 * later session (or to their timeout). */
static void drop_pins(struct path_worker *w, struct sess *s)
{
	struct rules_pin mine[SESS_PINS];
	unsigned n = 0;

	if (!s->npins || !w->r) {
		s->npins = 0;
		return;
	}
	pthread_mutex_lock(&pin_owners_lock);
	for (unsigned i = 0; i < s->npins; i++) {
		uint8_t key[37];
		struct pin_owner *o = pin_owner_slot(&s->pins[i], key);

		if (o->sid == s->sid && o->w == w &&
		    memcmp(o->key, key, sizeof(key)) == 0) {
			o->sid = 0;
			mine[n++] = s->pins[i];
		}
	}
	if (n)
		rules_pin_del(w->r, mine, n);
	pthread_mutex_unlock(&pin_owners_lock);
	s->npins = 0;
}

static void fini_one(struct sess *s, void *arg)
{
	drop_pins(arg, s);
}

void path_fini(struct path_worker *w)
{
	if (w->tab.slots)
		sess_foreach(&w->tab, fini_one, w);
	sess_table_free(&w->tab);
}

static bool is_ctl(const struct path_cfg *c, uint16_t port)
{
	for (unsigned i = 0; i < c->n_ctl_ports; i++)
		if (c->ctl_ports[i] == port)
			return true;
	return false;
}

static void to_addr(struct ftp_addr *a, uint8_t family, const uint8_t *b)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->a, b, family == 6 ? 16 : 4);
}

static const char *astr(const struct ftp_addr *a, char *buf, size_t n)
{
	return ftp_addr_str(a, buf, n);
}

/* RFC 1918, 100.64/10 (CGN) and IPv6 ULA: the side a NAT hides */
static bool addr_private(const struct ftp_addr *a)
{
	const uint8_t *b = a->a;

	if (a->family == 4)
		return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		       (b[0] == 192 && b[1] == 168) ||
		       (b[0] == 100 && (b[1] & 0xc0) == 64);
	return (b[0] & 0xfe) == 0xfc;
}

/* The configured public address: public-address, else the first address
 * of wan-interface of that family, looked up now (it follows changes). */
static bool public_addr(const struct path_cfg *c, uint8_t family,
                        struct ftp_addr *out)
{
	const struct ftp_addr *fixed = family == 6 ? &c->public6 : &c->public4;
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (fixed->family) {
		*out = *fixed;
		return true;
	}
	if (!c->wan_if[0] || getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, c->wan_if) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		if (family == 4 && i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)i->ifa_addr;
			out->family = 4;
			memcpy(out->a, &sin->sin_addr, 4);
			found = true;
		} else if (family == 6 && i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const void *)i->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
				continue;
			out->family = 6;
			memcpy(out->a, &s6->sin6_addr, 16);
			found = true;
		}
	}
	freeifaddrs(ifa);
	return found;
}

/*
 * Learn the session's endpoints from conntrack (both sides of any NAT) and
 * who adjusts sequence numbers. The packet seen in the forward hook is
 * client_priv -> server_priv: that is the original tuple when only the
 * client side is NATed (or nothing), the reply tuple reversed when only
 * the server side is.
 */
static void setup_session(struct path_worker *w, struct sess *s)
{
	const struct sess_key *k = &s->key;
	struct ct_tuple t = { .family = k->family, .sport = k->cport,
	                      .dport = k->sport };
	struct ftp_endpoints ep;
	struct ct_entry e;
	char a[4][64];
	int rc;

	memcpy(t.src, k->caddr, 16);
	memcpy(t.dst, k->saddr, 16);
	rc = ct_get(w->ct, &t, false, &e);
	if (rc == -ENOENT) {
		struct ct_tuple r = { .family = k->family, .sport = k->sport,
		                      .dport = k->cport };
		memcpy(r.src, k->saddr, 16);
		memcpy(r.dst, k->caddr, 16);
		rc = ct_get(w->ct, &r, true, &e);
	}
	if (rc == 0) {
		to_addr(&ep.client_priv, k->family, e.orig.src);
		to_addr(&ep.client_pub, k->family, e.reply.dst);
		to_addr(&ep.server_pub, k->family, e.orig.dst);
		to_addr(&ep.server_priv, k->family, e.reply.src);
		s->ct_orig = e.orig;
		/* The ack mark goes on sessions the kernel adjusts: their
		 * bare ACKs need not come here (the ctl chains let them
		 * pass). A failure only means they keep coming. */
		uint32_t am = w->cfg->ack_mark;

		if (e.have_adj) {
			/* a previous instance wrote these: adopt them (and its
			 * mark, set unless it ran with another ack-mark) */
			s->adj[0] = e.adj[0];
			s->adj[1] = e.adj[1];
			s->adj_mode = SESS_ADJ_KERNEL;
			if ((e.mark & am) != am &&
			    ct_update(w->ct, &e.orig, NULL, am, true) < 0)
				w->count[PATH_C_CT_ERRORS]++;
		} else {
			/* Probe, with the mark in the same message: the kernel
			 * stores seqadj values only on an entry with the
			 * extension (our carrier gave it one); elsewhere the
			 * write succeeds and stores nothing but the mark,
			 * which then comes off again (rare: no NAT, or a
			 * session older than the daemon). */
			static const struct seq_adj zero[2];
			if (ct_update(w->ct, &e.orig, zero, am, true) == 0 &&
			    ct_get(w->ct, &e.orig, false, &e) == 0 && e.have_adj) {
				s->adj_mode = SESS_ADJ_KERNEL;
			} else {
				s->adj_mode = SESS_ADJ_FALLBACK;
				if (am && ct_update(w->ct, &s->ct_orig, NULL, am, false) < 0)
					w->count[PATH_C_CT_ERRORS]++;
			}
		}
	} else {
		/* No conntrack entry: take the public side from the
		 * configuration, for whichever endpoint has a private address
		 * (the one a NAT would hide). */
		struct ftp_addr pub;
		bool have_pub = public_addr(w->cfg, k->family, &pub);

		w->count[PATH_C_CT_ERRORS]++;
		to_addr(&ep.client_priv, k->family, k->caddr);
		to_addr(&ep.server_priv, k->family, k->saddr);
		ep.client_pub = ep.client_priv;
		ep.server_pub = ep.server_priv;
		if (have_pub && addr_private(&ep.client_priv) &&
		    !addr_private(&ep.server_priv))
			ep.client_pub = pub;
		else if (have_pub && addr_private(&ep.server_priv) &&
		         !addr_private(&ep.client_priv))
			ep.server_pub = pub;
		if (log_ratelimit(1))
			log_warn("#%u conntrack has no entry for the session (%s): "
			         "%s, own sequence adjustment", s->sid, strerror(-rc),
			         have_pub ? "public address from the configuration"
			                  : "no NAT assumed");
		s->adj_mode = SESS_ADJ_FALLBACK;
	}
	w->count[s->adj_mode == SESS_ADJ_KERNEL ? PATH_C_ADJ_KERNEL
	                                        : PATH_C_ADJ_FALLBACK]++;
	ftp_sess_init(&s->ftp, w->cfg->pol, &ep,
	              s->midstream ? FTP_SESS_MIDSTREAM : 0);
	log_info("#%u session %s:%u -> %s:%u (client public %s, server "
	         "private %s)%s, sequence adjustment: %s", s->sid,
	         astr(&ep.client_priv, a[0], sizeof(a[0])), k->cport,
	         astr(&ep.server_pub, a[1], sizeof(a[1])), k->sport,
	         astr(&ep.client_pub, a[2], sizeof(a[2])),
	         astr(&ep.server_priv, a[3], sizeof(a[3])),
	         s->midstream ? ", picked up mid-stream" : "",
	         s->adj_mode == SESS_ADJ_KERNEL ? "kernel" : "fallback (daemon)");
}

struct edit {
	size_t off, old_len, new_len;
	const char *data;
};

/* The pinhole for a data plan: keyed as the connecting side's packets
 * look at prerouting (before NAT). */
static void make_pin(const struct sess *s, const struct ftp_data *d,
                     uint32_t timeout_ms, struct rules_pin *p)
{
	const struct ftp_endpoints *ep = &s->ftp.ep;
	const struct ftp_addr *from = d->mode == FTP_DATA_ACTIVE
	                              ? &ep->server_priv : &ep->client_priv;

	memset(p, 0, sizeof(*p));
	p->family = d->listen_addr.family;
	memcpy(p->saddr, from->a, 16);
	memcpy(p->daddr, d->pub_addr.a, 16);
	p->dport = d->pub_port;
	p->timeout_ms = timeout_ms;
	if (!ftp_addr_eq(&d->listen_addr, &d->pub_addr) ||
	    d->listen_port != d->pub_port) {
		p->dnat = true;
		memcpy(p->to_addr, d->listen_addr.a, 16);
		p->to_port = d->listen_port;
	}
}

static void remember_pin(struct sess *s, const struct rules_pin *p)
{
	if (s->npins == SESS_PINS) {
		memmove(&s->pins[0], &s->pins[1],
		        sizeof(s->pins[0]) * (SESS_PINS - 1));
		s->npins--;
	}
	s->pins[s->npins++] = *p;
}

/* Remember a rewrite for retransmissions (the table's edit pool). */
static int remember_edit(struct path_worker *w, struct sess *s, int dir,
                         uint64_t off, uint32_t seq, const struct ftp_event *ev)
{
	return sess_edit_remember(&w->tab, s, dir, off, seq, ev->edit_len,
	                          ev->out_len, ev->out);
}

static void log_event(struct path_worker *w, const struct sess *s,
                      const struct ftp_event *ev, const uint8_t *line,
                      size_t linelen)
{
	char what[40];
	bool warn = ev->verdict == FTP_V_REJECT || ev->verdict == FTP_V_RESET ||
	            (ev->reason != FTP_R_NONE && ev->reason != FTP_R_TLS &&
	             ev->reason != FTP_R_TLS_END);
	(void)w;

	if (!warn && ev->reason == FTP_R_NONE &&
	    (ev->data.mode == FTP_DATA_NONE || log_level() < LOG_L_DEBUG))
		return;             /* nothing to log: format nothing */
	if (ev->dir == FTP_DIR_CLIENT)
		snprintf(what, sizeof(what), "C %s", ftp_cmd_str(ev->cmd));
	else if (ev->cmd > FTP_CMD_OTHER)
		snprintf(what, sizeof(what), "S %u (to %s)", ev->code,
		         ftp_cmd_str(ev->cmd));
	else
		snprintf(what, sizeof(what), "S %u", ev->code);

	if (warn) {
		char esc[160];

		if (!log_ratelimit(2))
			return;
		if (line && !(ev->flags & FTP_EVF_SECRET))
			log_escape(esc, sizeof(esc), line, linelen);
		else
			snprintf(esc, sizeof(esc), "(%llu bytes)",
			         (unsigned long long)ev->line_len);
		log_warn("#%u %s: %s (%s): %s", s->sid, what,
		         ftp_verdict_str(ev->verdict), ftp_reason_str(ev->reason),
		         esc);
		return;
	}
	if (ev->reason == FTP_R_TLS || ev->reason == FTP_R_TLS_END) {
		log_info("#%u %s", s->sid, ev->reason == FTP_R_TLS
		         ? "TLS: no longer inspected" : "plaintext again");
		return;
	}
	if (ev->data.mode != FTP_DATA_NONE) {
		/* every data connection: debug (-v), not info. A busy gateway
		 * would log one line per transfer, and formatting it costs
		 * more than the rest of the rewrite; the counters have them. */
		char a[64], b[64];

		log_debug("#%u %s: %s, %s data to %s:%u via %s:%u", s->sid, what,
		         ftp_verdict_str(ev->verdict),
		         ev->data.mode == FTP_DATA_ACTIVE ? "active" : "passive",
		         astr(&ev->data.listen_addr, a, sizeof(a)),
		         ev->data.listen_port,
		         astr(&ev->data.pub_addr, b, sizeof(b)), ev->data.pub_port);
	}
}

/* Turn the packet into a RST towards its receiver. */
static void make_rst(struct pkt_view *v)
{
	pkt_truncate(v, 0);
	v->buf[v->l4off + 13] = PKT_RST | PKT_ACK;
	v->tcp_flags = PKT_RST | PKT_ACK;
}

static void verdict(struct path_worker *w, uint32_t id, struct pkt_view *v,
                    bool changed)
{
	if (changed) {
		pkt_fix_checksums(v);
		w->count[PATH_C_MANGLED]++;
		queue_verdict(w->q, id, NF_ACCEPT, v->buf, v->len);
	} else {
		queue_verdict(w->q, id, NF_ACCEPT, NULL, 0);
	}
}

static int feed(struct sess *s, int dir, const uint8_t *p, size_t n,
                struct ftp_event *evs, int *nev)
{
	size_t off = 0, used;

	while (off < n) {
		if (*nev == MAX_EVENTS)
			return -1;
		if (!ftp_feed(&s->ftp, (enum ftp_dir)dir, p + off, n - off, &used,
		              &evs[*nev]))
			break;
		off += used;
		(*nev)++;
	}
	return 0;
}

void path_packet(struct queue *q, struct queue_pkt *p, void *arg)
{
	struct path_worker *w = arg;
	struct ftp_event evs[MAX_EVENTS];
	struct edit ed[MAX_EDITS];
	char htext[SESS_HIST][FTP_OUT_MAX];  /* re-applied texts: copies, as
	                                        a new edit may take the pool
	                                        entry before they are applied */
	unsigned nht = 0;
	struct pkt_view v;
	struct sess_key k;
	struct sess *s;
	int dir, nev = 0, ned = 0, rc;
	bool changed = false, reset = false;
	uint8_t *pl;
	uint64_t seg_start;
	size_t skip = 0, fed;
	int32_t delta = 0;

	(void)q;
	w->now_ms = path_clock_ms();
	w->count[PATH_C_PACKETS]++;
	if (p->len > 0xffff) {
		queue_verdict(w->q, p->id, NF_ACCEPT, NULL, 0);
		return;
	}
	memcpy(w->work, p->data, p->len);
	if (pkt_parse(&v, w->work, p->len, sizeof(w->work)) < 0) {
		w->count[PATH_C_UNPARSED]++;
		queue_verdict(w->q, p->id, NF_ACCEPT, NULL, 0);
		return;
	}
	if (is_ctl(w->cfg, v.dport))
		dir = FTP_DIR_CLIENT;
	else if (is_ctl(w->cfg, v.sport))
		dir = FTP_DIR_SERVER;
	else {
		queue_verdict(w->q, p->id, NF_ACCEPT, NULL, 0);
		return;
	}
	memset(&k, 0, sizeof(k));
	k.family = v.family;
	if (dir == FTP_DIR_CLIENT) {
		memcpy(k.caddr, v.src.a, 16);
		memcpy(k.saddr, v.dst.a, 16);
		k.cport = v.sport;
		k.sport = v.dport;
	} else {
		memcpy(k.caddr, v.dst.a, 16);
		memcpy(k.saddr, v.src.a, 16);
		k.cport = v.dport;
		k.sport = v.sport;
	}
	s = sess_find(&w->tab, &k);
	if (s && dir == FTP_DIR_CLIENT && (v.tcp_flags & PKT_SYN) &&
	    !(v.tcp_flags & PKT_ACK) && (s->have_base & 1) &&
	    v.seq + 1 != s->base[0]) {
		/* the same 4-tuple, a new connection */
		drop_pins(w, s);
		sess_del(&w->tab, s);
		s = NULL;
	}
	if (!s) {
		bool syn = (v.tcp_flags & PKT_SYN) && !(v.tcp_flags & PKT_ACK);
		if ((v.tcp_flags & (PKT_RST | PKT_FIN)) && !v.payload_len) {
			queue_verdict(w->q, p->id, NF_ACCEPT, NULL, 0);
			return;
		}
		rc = sess_add(&w->tab, &k, &s);
		if (rc < 0) {
			/* SECURITY: an untracked session gets no rewrite and,
			 * above all, no pinhole: it passes and is counted. */
			w->count[rc == -EDQUOT ? PATH_C_SESS_CLIENT_LIMIT
			                       : PATH_C_SESS_FULL]++;
			if (log_ratelimit(3))
				log_warn("%s: control connection not inspected",
				         rc == -EDQUOT ? "per-client session limit "
				         "reached" : "session table full");
			queue_verdict(w->q, p->id, NF_ACCEPT, NULL, 0);
			return;
		}
		w->count[PATH_C_SESSIONS]++;
		s->midstream = !(syn && dir == FTP_DIR_CLIENT);
		if (s->midstream)
			w->count[PATH_C_MIDSTREAM]++;
	}
	s->last_ms = w->now_ms;
	if (v.tcp_flags & PKT_SYN) {
		s->base[dir] = v.seq + 1;
		s->have_base |= (uint8_t)(1u << dir);
	} else if (!(s->have_base & (1u << dir))) {
		s->base[dir] = v.seq;      /* picked up: this byte is offset 0 */
		s->have_base |= (uint8_t)(1u << dir);
	}
	if (v.tcp_flags & PKT_RST) {
		s->fin |= 4;
		closing(w, s);
	}
	if (v.tcp_flags & PKT_FIN) {
		s->fin |= (uint8_t)(1u << dir);
		if ((s->fin & 3) == 3)
			closing(w, s);
	}
	if (!v.payload_len)
		goto finish;
	if (s->adj_mode == SESS_ADJ_UNKNOWN)
		setup_session(w, s);

	pl = v.buf + v.payload_off;
	{
		uint32_t expect = s->base[dir] + (uint32_t)s->ftp.d[dir].off;
		int32_t rel = (int32_t)(v.seq - expect);

		if (rel > 0) {
			/* a gap: an earlier segment is missing (lost, or held
			 * back by us); the sender will send it again */
			w->count[PATH_C_OUT_OF_ORDER]++;
			queue_verdict(w->q, p->id, NF_DROP, NULL, 0);
			return;
		}
		if (rel < 0) {
			uint64_t back = (uint64_t)(uint32_t)-rel;
			uint64_t first = s->ftp.d[dir].off - back;

			w->count[PATH_C_RETRANS]++;
			skip = back < v.payload_len ? (size_t)back : v.payload_len;
			/*
			 * A retransmission gets the same rewrites again. One
			 * that cuts through a rewritten stretch cannot be sent
			 * consistently, and one over a rewrite whose text has
			 * been evicted from the pool must never pass unrewritten
			 * (the private address, and the offsets): both are
			 * dropped, and the sender tries again.
			 */
			for (unsigned i = 0; i < sess_edit_count(s, dir); i++) {
				const struct sess_edit *h = sess_edit_get(&w->tab, s,
				                                          dir, i);
				uint64_t hoff;
				size_t hlen;
				bool covers, cuts;

				if (!sess_edit_span(s, dir, i, &hoff, &hlen))
					break;
				covers = hoff >= first && hoff + hlen <= first + skip;
				cuts = !covers && hoff < first + skip &&
				       hoff + hlen > first;
				if ((covers || cuts) && !h) {
					w->count[PATH_C_HIST_EVICTED]++;
					if (log_ratelimit(5))
						log_warn("#%u retransmission over a rewrite "
						         "whose text was evicted: dropped",
						         s->sid);
					queue_verdict(w->q, p->id, NF_DROP, NULL, 0);
					return;
				}
				if (h && covers && ned < MAX_EDITS &&
				    nht < SESS_HIST && h->new_len <= FTP_OUT_MAX) {
					memcpy(htext[nht], h->data, h->new_len);
					ed[ned++] = (struct edit){
						(size_t)(hoff - first), hlen,
						h->new_len, htext[nht++] };
				} else if (covers || cuts) {
					queue_verdict(w->q, p->id, NF_DROP, NULL, 0);
					return;
				}
			}
		}
	}
	seg_start = s->ftp.d[dir].off;
	fed = v.payload_len - skip;
	if (fed) {
		struct ftp_sess snap = s->ftp;
		uint64_t ls;
		int part;

		if (feed(s, dir, pl + skip, fed, evs, &nev) < 0)
			reset = true;
		part = ftp_partial(&s->ftp, (enum ftp_dir)dir, &ls);
		if (part == 2 && !reset && ls >= seg_start) {
			if (s->drop_line == ls && s->drops >= w->cfg->max_partial_drops) {
				/* bounds hit: pass it; the line will not be
				 * rewritten (counted when it ends) */
				if (log_ratelimit(4))
					log_warn("#%u line split over segments %u times:"
					         " passed as it is", s->sid, s->drops);
			} else {
				size_t keep = (size_t)(ls - seg_start);

				s->drops = s->drop_line == ls ? s->drops + 1 : 1;
				s->drop_line = ls;
				w->count[PATH_C_PARTIAL_DROP]++;
				s->ftp = snap;
				nev = 0;
				if (keep == 0 && skip == 0 && ned == 0) {
					queue_verdict(w->q, p->id, NF_DROP, NULL, 0);
					return;
				}
				feed(s, dir, pl + skip, keep, evs, &nev);
				pkt_truncate(&v, skip + keep);
				fed = keep;
				changed = true;
			}
		} else if (part != 2) {
			s->drops = 0;
		}
	}

	for (int i = 0; i < nev; i++) {
		struct ftp_event *ev = &evs[i];
		bool inside = ev->edit_start >= seg_start &&
		              ev->edit_start + ev->edit_len <= seg_start + fed;
		const uint8_t *line = NULL;
		size_t linelen = 0;

		w->reasons[ev->reason < FTP_R__COUNT ? ev->reason : 0]++;
		if (ev->line_start >= seg_start &&
		    ev->line_start + ev->line_len <= seg_start + fed) {
			line = pl + skip + (ev->line_start - seg_start);
			linelen = (size_t)ev->line_len;
			while (linelen && (line[linelen - 1] == '\n' ||
			                   line[linelen - 1] == '\r'))
				linelen--;
		}
		if (ev->flags & FTP_EVF_ENCRYPTED)
			w->count[PATH_C_ENCRYPTED]++;
		if (ev->verdict == FTP_V_RESET) {
			log_event(w, s, ev, line, linelen);
			reset = true;
			continue;
		}
		if ((ev->verdict == FTP_V_REWRITE || ev->verdict == FTP_V_REJECT) &&
		    !inside) {
			if (ev->verdict == FTP_V_REJECT) {
				reset = true;   /* cannot refuse what has passed */
				log_event(w, s, ev, line, linelen);
				continue;
			}
			w->count[PATH_C_SPLIT_UNREWRITTEN]++;
			ev->verdict = FTP_V_PASS;
			ev->data.mode = FTP_DATA_NONE;
			if (log_ratelimit(4))
				log_warn("#%u a split line could not be rewritten: "
				         "no data connection opened", s->sid);
		}
		if (ev->data.mode != FTP_DATA_NONE && w->cfg->public_ports.lo &&
		    !ftp_addr_eq(&ev->data.listen_addr, &ev->data.pub_addr)) {
			/* A NATed listener's port moves into the public range.
			 * Deterministic (a hash of the session and the port), so
			 * a retransmission after a restart gets the same bytes. */
			const struct ftp_portrange *pr = &w->cfg->public_ports;
			uint32_t h = 2166136261u;
			const uint8_t *kb = (const uint8_t *)&s->key;
			for (size_t j = 0; j < sizeof(s->key); j++)
				h = (h ^ kb[j]) * 16777619u;
			h = (h ^ ev->data.listen_port) * 16777619u;
			if (ftp_event_remap(ev, (uint16_t)(pr->lo + h %
			                    ((uint32_t)pr->hi - pr->lo + 1))) < 0)
				log_warn("#%u cannot remap the data port", s->sid);
		}
		if (ev->data.mode != FTP_DATA_NONE) {
			struct rules_pin pin;
			char err[160];

			make_pin(s, &ev->data, w->cfg->pin_timeout_ms, &pin);
			rc = w->r ? pin_add_owned(w, s, &pin, err, sizeof(err))
			          : -ENOTCONN;
			if (rc < 0) {
				w->count[PATH_C_PIN_ERRORS]++;
				log_err("#%u cannot open the data connection: %s", s->sid,
				        rc == -ENOTCONN ? "no nft socket" : err);
				if (ftp_event_refuse(ev, FTP_R_PINHOLE) < 0 ||
				    !(ev->edit_start >= seg_start &&
				      ev->edit_start + ev->edit_len <= seg_start + fed))
					reset = true;
				w->reasons[FTP_R_PINHOLE]++;
			} else {
				w->count[PATH_C_PINHOLES]++;
				remember_pin(s, &pin);
			}
		}
		log_event(w, s, ev, line, linelen);
		if ((ev->verdict == FTP_V_REWRITE || ev->verdict == FTP_V_REJECT) &&
		    ned < MAX_EDITS) {
			ed[ned++] = (struct edit){
				skip + (size_t)(ev->edit_start - seg_start),
				ev->edit_len, ev->out_len, ev->out };
			if (remember_edit(w, s, dir, ev->edit_start, v.seq, ev) < 0) {
				/* cannot happen (the core bounds both lengths);
				 * an edit a retransmission could miss: reset */
				log_err("#%u rewrite too long to remember: reset",
				        s->sid);
				reset = true;
			}
		}
	}

	if (reset) {
		w->count[PATH_C_RESETS]++;
		log_warn("#%u control connection reset", s->sid);
		make_rst(&v);
		s->fin |= 4;
		closing(w, s);
		changed = true;
		goto finish;
	}
	/* apply from the end so earlier offsets stay valid */
	for (int i = ned - 1; i >= 0; i--) {
		if (pkt_replace(&v, ed[i].off, ed[i].old_len,
		                (const uint8_t *)ed[i].data, ed[i].new_len) < 0) {
			/* cannot happen within PKT_MAX; never send a packet
			 * with some of its rewrites missing */
			log_err("#%u rewrite did not fit the packet: reset", s->sid);
			w->count[PATH_C_RESETS]++;
			make_rst(&v);
			s->fin |= 4;
			closing(w, s);
			delta = 0;
			changed = true;
			goto finish;
		}
		delta += (int32_t)ed[i].new_len - (int32_t)ed[i].old_len;
		changed = true;
	}
	if (delta != 0) {
		struct seq_adj *a = &s->adj[dir];
		/* a retransmission of a rewritten segment is already counted */
		if (a->before == a->after || seq_after(v.seq, a->pos)) {
			seq_adj_set(a, v.seq, delta);
			if (s->adj_mode == SESS_ADJ_KERNEL &&
			    (rc = ct_set_seqadj(w->ct, &s->ct_orig, s->adj)) < 0) {
				w->count[PATH_C_CT_ERRORS]++;
				log_err("#%u cannot store the sequence offset in "
				        "conntrack: %s", s->sid, strerror(-rc));
			}
		}
	}
finish:
	if (s->adj_mode == SESS_ADJ_FALLBACK &&
	    (s->adj[0].before || s->adj[0].after || s->adj[1].before ||
	     s->adj[1].after)) {
		seq_adjust_packet(&v, &s->adj[dir], &s->adj[dir ^ 1]);
		changed = true;
	}
	verdict(w, p->id, &v, changed);
}

struct recon {
	struct ct_entry *live;
	size_t n, cap;
	struct rules_pin *dead;
	size_t ndead, capdead;
	size_t kept;
};

static void recon_ct(const struct ct_entry *e, void *arg)
{
	struct recon *rc = arg;

	if (rc->n < rc->cap)
		rc->live[rc->n++] = *e;
}

static bool entry_has(const struct ct_entry *e, uint8_t family,
                      const uint8_t *a)
{
	size_t n = family == 6 ? 16 : 4;

	return e->orig.family == family &&
	       (!memcmp(e->orig.src, a, n) || !memcmp(e->orig.dst, a, n) ||
	        !memcmp(e->reply.src, a, n) || !memcmp(e->reply.dst, a, n));
}

static void recon_pin(const struct rules_pin *p, void *arg)
{
	struct recon *rc = arg;

	for (size_t i = 0; i < rc->n; i++)
		if (entry_has(&rc->live[i], p->family, p->saddr) &&
		    entry_has(&rc->live[i], p->family, p->dnat ? p->to_addr
		                                              : p->daddr)) {
			rc->kept++;
			return;
		}
	if (rc->ndead < rc->capdead)
		rc->dead[rc->ndead++] = *p;
}

int path_reconcile(const struct path_cfg *cfg, struct rules *r, struct ct *ct)
{
	struct recon rc = { .cap = 65536, .capdead = 4096 };
	int ret;

	rc.live = calloc(rc.cap, sizeof(*rc.live));
	rc.dead = calloc(rc.capdead, sizeof(*rc.dead));
	if (!rc.live || !rc.dead) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ct_dump_tcp(ct, cfg->ctl_ports, cfg->n_ctl_ports, recon_ct, &rc);
	if (ret < 0)
		goto out;
	ret = rules_pin_list(r, recon_pin, &rc);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < rc.ndead; i += 64) {
		size_t n = rc.ndead - i < 64 ? rc.ndead - i : 64;
		if ((ret = rules_pin_del(r, rc.dead + i, n)) < 0)
			goto out;
	}
	log_info("adopted pinholes: %zu kept (their control connection is "
	         "live), %zu removed", rc.kept, rc.ndead);
out:
	free(rc.live);
	free(rc.dead);
	return ret;
}

void path_log_counters(const struct path_worker *w, unsigned worker)
{
	char buf[1024];
	size_t o = 0;

	for (unsigned i = 0; i < PATH_C__COUNT && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s=%llu",
		                      i ? " " : "", counter_names[i],
		                      (unsigned long long)w->count[i]);
	log_info("worker %u: %s", worker, buf);
	o = 0;
	for (unsigned i = 1; i < FTP_R__COUNT && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s=%llu",
		                      i > 1 ? " " : "", ftp_reason_str(i),
		                      (unsigned long long)w->reasons[i]);
	log_info("worker %u: reasons %s", worker, buf);
}

static void tick_one(struct sess *s, void *arg)
{
	struct path_worker *w = arg;
	bool closed = (s->fin & 4) || (s->fin & 3) == 3;

	if ((closed && w->now_ms - s->close_ms > w->cfg->close_grace_s * 1000ull) ||
	    w->now_ms - s->last_ms > w->cfg->idle_timeout_s * 1000ull) {
		log_info("#%u session ended%s", s->sid, closed ? "" : " (idle)");
		drop_pins(w, s);
		sess_del(&w->tab, s);
	}
}

void path_tick(struct path_worker *w, uint64_t now_ms)
{
	w->now_ms = now_ms;
	sess_foreach(&w->tab, tick_one, w);
}
