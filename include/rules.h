/*
 * rules.h - the one owner of ftpgw's nftables table (libnftnl over libmnl).
 *
 * ftpgwd owns one table (family inet, default name "ftpgw") that it creates
 * in one atomic batch, fills with pinhole elements in batches, and deletes
 * on exit. Layout (docs/ARCHITECTURE.md and ftpgwd(8) show it in nft
 * syntax; rules/ftpgw.nft is the same as a snippet for --no-rules):
 *
 *   ct expectation "carrier4"/"carrier6"  size 0: attached to each new
 *       control connection, it gives the conntrack entry a helper
 *       extension with no helper, so NAT adds the kernel's seqadj
 *       extension and the kernel adjusts sequence numbers itself
 *   set ctl_ports      inet_service              control ports (21)
 *   set pin4 / pin6    saddr . daddr . dport     one-shot, flags timeout
 *   map dnat4 / dnat6  saddr . daddr . dport : addr . port, flags timeout
 *   chain carrier  filter prerouting -150: ct state new, tcp dport in
 *                  ctl_ports: ct expectation set carrier4/6
 *   chain pin      filter prerouting -150: ct state new, key in pin4/6:
 *                  delete the element (one shot), ct mark |= accept_mark,
 *                  meta mark |= accept_mark
 *   chain pin_nat  nat prerouting -110: ct mark & accept_mark, key in
 *                  dnat4/6: dnat to the mapped address and port
 *   chain ctl_fwd / ctl_in / ctl_out  filter forward/input/output -10:
 *                  a bare ACK (flags ACK only, no payload: IP length
 *                  = TCP header of 20 or 32 bytes) of a connection whose
 *                  ct mark has ack_mark: accept, not queued;
 *                  tcp dport or sport in ctl_ports: queue to the daemon
 *                  (nft "queue" where the kernel has it, else the xtables
 *                  NFQUEUE target through nft's compat expression);
 *                  absent with --no-rules
 *
 * Pinhole keys are as seen at prerouting before NAT: the connecting
 * side's own address, the address and port it was told.
 *
 * Every function returns 0 or a negative errno value; kernel errors are
 * mapped back to the object (or pinhole index) that caused them and
 * described in rules_strerror()-style text via the err buffer.
 */
#ifndef FTPGW_RULES_H
#define FTPGW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RULES_MAX_CTL_PORTS 16
#define RULES_TABLE_MAX 32

enum rules_queue_backend {
	RULES_Q_NONE = 0,
	RULES_Q_NFT,       /* nft "queue" expression */
	RULES_Q_XT,        /* xtables NFQUEUE target via nft compat */
};

struct rules_cfg {
	char table[RULES_TABLE_MAX];        /* default "ftpgw" */
	uint16_t ctl_ports[RULES_MAX_CTL_PORTS];
	unsigned n_ctl_ports;               /* default 1: port 21 */
	uint16_t queue_lo, queue_hi;        /* one queue, or a balanced range */
	bool fail_open;                     /* queue bypass when no daemon */
	bool no_rules;                      /* no queue chains (operator's) */
	uint32_t accept_mark;               /* default 0x00100000 */
	uint32_t ack_mark;                  /* default 0x00200000; 0: none.
	                                       A control connection whose ct
	                                       mark has these bits (ftpgwd sets
	                                       them where the kernel adjusts
	                                       its sequence numbers) sends its
	                                       bare ACKs past the queue */
};

void rules_cfg_default(struct rules_cfg *c);

/* One data connection to admit. */
struct rules_pin {
	uint8_t family;                     /* 4 or 6 */
	uint8_t saddr[16];                  /* the connecting side */
	uint8_t daddr[16];                  /* the address it was told */
	uint16_t dport;                     /* the port it was told */
	bool dnat;                          /* forward to another address */
	uint8_t to_addr[16];
	uint16_t to_port;
	uint32_t timeout_ms;                /* element lifetime */
};

struct rules;                           /* opaque: socket, seq, cfg */

/* Open the nfnetlink socket (needs CAP_NET_ADMIN). */
int rules_open(struct rules **r, const struct rules_cfg *cfg, char *err,
               size_t errlen);
void rules_close(struct rules *r);      /* NULL-safe */

/* Which queue statement this kernel runs (tries both in a throwaway
 * table, which it removes). */
int rules_probe_queue(struct rules *r, enum rules_queue_backend *be,
                      char *err, size_t errlen);

/* Does the table exist? (a previous instance left it: adopt it) */
int rules_table_exists(struct rules *r, bool *exists);

/* Create the whole table in one batch; -EEXIST if it exists. */
int rules_install(struct rules *r, enum rules_queue_backend be, char *err,
                  size_t errlen);

/* Delete the table and everything in it; 0 if it did not exist. */
int rules_remove(struct rules *r);

/*
 * Add n pinholes in one batch (all or nothing). On a kernel error,
 * *bad is set to the index of the pinhole that caused it (or -1).
 */
int rules_pin_add(struct rules *r, const struct rules_pin *p, size_t n,
                  int *bad, char *err, size_t errlen);

/* Remove pinholes; ones already gone (consumed, timed out) are fine. */
int rules_pin_del(struct rules *r, const struct rules_pin *p, size_t n);

/* Call fn for every pinhole in pin4/pin6 (for adoption after restart). */
int rules_pin_list(struct rules *r,
                   void (*fn)(const struct rules_pin *p, void *arg),
                   void *arg);

/*
 * Build the install batch into buf without a kernel (tests compare it by
 * parsing it back with libnftnl). Returns the length or a negative errno.
 */
long rules_build_install(const struct rules_cfg *cfg,
                         enum rules_queue_backend be, uint32_t seq,
                         void *buf, size_t len);

/* The table in nft syntax (for --check-config and the docs). */
size_t rules_format_nft(const struct rules_cfg *cfg,
                        enum rules_queue_backend be, char *buf, size_t len);

#endif
