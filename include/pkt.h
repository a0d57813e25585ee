/*
 * pkt.h - a bounds-checked view of one IPv4/IPv6 TCP packet, as NFQUEUE
 * hands it over (starting at the IP header), and the edits the packet path
 * makes to it: payload replacement (length may change), SEQ/ACK/SACK
 * changes, checksums. Pure: no I/O, no allocation, no globals.
 *
 * The caller owns the buffer; cap is how far it may grow (payload
 * replacement that lengthens the packet needs room past len).
 * Functions return 0 or a negative errno value.
 */
#ifndef FTPGW_PKT_H
#define FTPGW_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftp.h"

#define PKT_MAX 65535          /* largest IP packet */
#define PKT_SACK_MAX 4         /* SACK blocks in one TCP option */

struct pkt_view {
	uint8_t *buf;              /* the packet, from the IP header */
	size_t len;                /* its length */
	size_t cap;                /* bytes usable at buf */
	uint8_t family;            /* 4 or 6 */
	size_t l4off;              /* TCP header offset (after IPv6 ext hdrs) */
	size_t payload_off;        /* TCP payload offset */
	size_t payload_len;
	struct ftp_addr src, dst;
	uint16_t sport, dport;     /* host order */
	uint32_t seq, ack;         /* host order */
	uint8_t tcp_flags;         /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 */
};

#define PKT_FIN 0x01u
#define PKT_SYN 0x02u
#define PKT_RST 0x04u
#define PKT_ACK 0x10u

/*
 * Parse buf[0..len). Accepts IPv4 (ihl >= 5, total length within len, not
 * a fragment) and IPv6 (hop-by-hop, routing and destination-options
 * extension headers skipped, at most 8; fragments refused) carrying TCP
 * (doff >= 5, header within the packet). Bytes past the IP total length
 * are ignored. -EINVAL for anything malformed, -EPROTONOSUPPORT for a
 * non-TCP packet, -EMSGSIZE for a fragment.
 */
int pkt_parse(struct pkt_view *v, uint8_t *buf, size_t len, size_t cap);

/*
 * Replace payload bytes [off, off + old_len) by new_len bytes (off is
 * relative to the payload start), moving what follows and updating the IP
 * length fields. -ERANGE if the range is outside the payload, -ENOSPC if
 * the packet would exceed cap or PKT_MAX. Checksums are NOT updated: call
 * pkt_fix_checksums() once after all edits.
 */
int pkt_replace(struct pkt_view *v, size_t off, size_t old_len,
                const uint8_t *data, size_t new_len);

/* Cut the payload to new_len bytes (new_len <= payload_len). */
int pkt_truncate(struct pkt_view *v, size_t new_len);

/* Write SEQ / ACK (host order) into the header and the view. */
void pkt_set_seq(struct pkt_view *v, uint32_t seq);
void pkt_set_ack(struct pkt_view *v, uint32_t ack);

/*
 * The SACK blocks of the TCP options: fills up to PKT_SACK_MAX pairs
 * (host order) and returns how many; pkt_set_sack() writes them back
 * (same count). Malformed options: 0 blocks.
 */
int pkt_get_sack(const struct pkt_view *v, uint32_t sack[][2]);
void pkt_set_sack(struct pkt_view *v, const uint32_t sack[][2], int n);

/* Recompute the IPv4 header checksum and the full TCP checksum. */
void pkt_fix_checksums(struct pkt_view *v);

/* Verify both checksums (tests, debugging): true if correct. */
bool pkt_checksums_ok(const struct pkt_view *v);

#endif
