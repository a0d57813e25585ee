/*
 * seq.h - TCP sequence adjustment after a rewrite changed a length.
 *
 * struct seq_adj mirrors the kernel's per-direction nf_ct_seqadj record
 * (correction position, offset before, offset after) and seq_adj_set()
 * applies exactly the kernel's update rule (nf_ct_seqadj_set), so the
 * values the daemon writes over ctnetlink (CTA_SEQ_ADJ_ORIG/REPLY) are
 * the values the kernel itself would hold. seq_adjust_packet() is the
 * fallback adjuster for sessions whose conntrack entry has no seqadj
 * extension: the same arithmetic as the kernel's nf_ct_seq_adjust (SEQ of
 * this direction, ACK and SACK against the other direction), done by the
 * daemon. Sequence arithmetic is modulo 2^32. Pure.
 */
#ifndef FTPGW_SEQ_H
#define FTPGW_SEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

struct seq_adj {
	uint32_t pos;      /* seq of the packet whose length changed last */
	int32_t before;    /* offset for seq <= pos (not after pos) */
	int32_t after;     /* offset for seq after pos */
};

/* a after b, modulo 2^32 (the kernel's after()) */
static inline bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) < 0;
}

/* Record that the packet with sequence number seq grew by off bytes
 * (negative: shrank). off == 0 changes nothing. */
void seq_adj_set(struct seq_adj *a, uint32_t seq, int32_t off);

/* The offset to add to a SEQ of this direction. */
int32_t seq_adj_seq_off(const struct seq_adj *a, uint32_t seq);

/* The offset to subtract from an ACK (or SACK edge) that acknowledges
 * the direction described by other. */
int32_t seq_adj_ack_off(const struct seq_adj *other, uint32_t ack);

/*
 * Fallback: adjust a parsed packet in place. this_way describes the
 * packet's own direction (its SEQ), other_way the opposite direction (the
 * data its ACK and SACK acknowledge). Checksums are not updated.
 */
void seq_adjust_packet(struct pkt_view *v, const struct seq_adj *this_way,
                       const struct seq_adj *other_way);

#endif
