/*
 * ct.h - the one owner of ctnetlink (conntrack over netlink, libmnl).
 *
 * What ftpgwd asks conntrack: the NAT mapping of a control connection
 * (its original and reply tuples), the kernel-held sequence adjustment of
 * an entry (CTA_SEQ_ADJ_ORIG/REPLY), writing it, and a dump of control
 * connections after a restart. Every function returns 0 or a negative
 * errno (-ENOENT: no such entry).
 */
#ifndef FTPGW_CT_H
#define FTPGW_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seq.h"

struct ct_tuple {
	uint8_t family;          /* 4 or 6 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;   /* host order */
};

struct ct_entry {
	struct ct_tuple orig, reply;
	uint32_t status;         /* IPS_* bits */
	uint32_t mark;
	bool have_adj;           /* the kernel holds seqadj values */
	struct seq_adj adj[2];   /* [0] original direction, [1] reply */
	uint8_t tcp_state;       /* TCP_CONNTRACK_* */
};

struct ct;

int ct_open(struct ct **c, char *err, size_t errlen);
void ct_close(struct ct *c);     /* NULL-safe */

/* Look an entry up by a tuple of either direction (reply: t is the reply
 * tuple). */
int ct_get(struct ct *c, const struct ct_tuple *t, bool reply,
           struct ct_entry *e);

/*
 * Write both directions' adjustment of the entry whose original tuple is
 * orig. On an entry without the seqadj extension the kernel answers
 * success and stores nothing: read it back with ct_get to know.
 */
int ct_set_seqadj(struct ct *c, const struct ct_tuple *orig,
                  const struct seq_adj adj[2]);

/*
 * One update message for the entry whose original tuple is orig: both
 * adjustments (adj, unless NULL) and the mark_bits of its mark set
 * (mark_on) or cleared, the other bits left (mark_bits 0: mark untouched).
 * The kernel applies the mark whether or not it stores the adjustments.
 */
int ct_update(struct ct *c, const struct ct_tuple *orig,
              const struct seq_adj adj[2], uint32_t mark_bits, bool mark_on);

/* Call fn for every TCP entry whose original destination port is one of
 * ports[0..n). */
int ct_dump_tcp(struct ct *c, const uint16_t *ports, unsigned n,
                void (*fn)(const struct ct_entry *e, void *arg), void *arg);

#endif
