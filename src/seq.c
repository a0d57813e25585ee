/*
 * seq.c - TCP sequence adjustment with the kernel's seqadj arithmetic
 * (net/netfilter/nf_conntrack_seqadj.c), written from its semantics.
 *
 * Offsets are added modulo 2^32: the arithmetic goes through uint32_t so
 * that no signed overflow can happen.
 */
#include "seq.h"

static int32_t add_off(int32_t a, int32_t b)
{
	return (int32_t)((uint32_t)a + (uint32_t)b);
}

/*
 * The kernel's rule: a new correction position is taken only when no
 * length change is pending (before == after) or when this packet starts
 * after the last correction. Anything else -- a retransmit of the packet
 * that was rewritten, an older packet, or a second call for the same
 * packet -- changes nothing, so the caller records a packet's total
 * length change in one call.
 */
void seq_adj_set(struct seq_adj *a, uint32_t seq, int32_t off)
{
	if (off == 0)
		return;
	if (a->before == a->after || seq_after(seq, a->pos)) {
		a->pos = seq;
		a->before = a->after;
		a->after = add_off(a->after, off);
	}
}

int32_t seq_adj_seq_off(const struct seq_adj *a, uint32_t seq)
{
	return seq_after(seq, a->pos) ? a->after : a->before;
}

int32_t seq_adj_ack_off(const struct seq_adj *other, uint32_t ack)
{
	return seq_after(ack - (uint32_t)other->before, other->pos)
	       ? other->after : other->before;
}

void seq_adjust_packet(struct pkt_view *v, const struct seq_adj *this_way,
                       const struct seq_adj *other_way)
{
	uint32_t sack[PKT_SACK_MAX][2];
	int n;

	pkt_set_seq(v, v->seq + (uint32_t)seq_adj_seq_off(this_way, v->seq));
	/* like the kernel: no ACK flag, no ACK or SACK adjustment */
	if (!(v->tcp_flags & PKT_ACK))
		return;
	pkt_set_ack(v, v->ack - (uint32_t)seq_adj_ack_off(other_way, v->ack));
	n = pkt_get_sack(v, sack);
	for (int i = 0; i < n; i++) {
		sack[i][0] -= (uint32_t)seq_adj_ack_off(other_way, sack[i][0]);
		sack[i][1] -= (uint32_t)seq_adj_ack_off(other_way, sack[i][1]);
	}
	pkt_set_sack(v, (const uint32_t (*)[2])sack, n);
}
