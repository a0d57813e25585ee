/*
 * path.h - the packet path: one worker per queue. Takes each queued
 * control packet, finds its session, feeds the payload to the FTP core,
 * applies the edits, keeps sequence numbers right (the kernel's seqadj
 * where the entry has it, the daemon's own adjuster where not), opens
 * the negotiated data connections as nft pinholes, and gives the verdict.
 */
#ifndef FTPGW_PATH_H
#define FTPGW_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include "ct.h"
#include "ftp.h"
#include "queue.h"
#include "rules.h"
#include "sess.h"

struct path_cfg {
	const struct ftp_policy *pol;
	uint16_t ctl_ports[RULES_MAX_CTL_PORTS];
	unsigned n_ctl_ports;
	struct ftp_addr public4, public6;   /* public address when conntrack
	                                       has no mapping */
	char wan_if[16];                    /* or this interface's address,
	                                       looked up each time */
	struct ftp_portrange public_ports;  /* remap announced ports of NATed
	                                       listeners here (0-0: keep) */
	uint32_t pin_timeout_ms;            /* default 30000 */
	uint32_t idle_timeout_s;            /* default 3600 */
	uint32_t close_grace_s;             /* default 10 */
	uint32_t max_sessions;              /* default 4096 */
	uint32_t per_client;                /* default 64 */
	uint8_t max_partial_drops;          /* default 3 */
	uint32_t ack_mark;                  /* set in the ct mark of sessions
	                                       the kernel adjusts (their bare
	                                       ACKs skip the queue); 0: none */
};

void path_cfg_default(struct path_cfg *c);

enum {
	PATH_C_PACKETS = 0, PATH_C_MANGLED, PATH_C_SESSIONS, PATH_C_MIDSTREAM,
	PATH_C_SESS_FULL, PATH_C_SESS_CLIENT_LIMIT, PATH_C_UNPARSED,
	PATH_C_OUT_OF_ORDER, PATH_C_RETRANS, PATH_C_PARTIAL_DROP,
	PATH_C_SPLIT_UNREWRITTEN, PATH_C_ADJ_KERNEL, PATH_C_ADJ_FALLBACK,
	PATH_C_PINHOLES, PATH_C_PIN_ERRORS, PATH_C_RESETS, PATH_C_CT_ERRORS,
	PATH_C_ENCRYPTED,
	PATH_C_HIST_EVICTED,    /* retransmission over an evicted rewrite: dropped */
	PATH_C__COUNT
};

struct path_worker {
	const struct path_cfg *cfg;
	struct queue *q;
	struct rules *r;
	struct ct *ct;
	struct sess_table tab;
	uint64_t now_ms;
	uint64_t count[PATH_C__COUNT];
	uint64_t reasons[FTP_R__COUNT];
	uint8_t work[0xffff + 1024];        /* the packet being changed */
};

int path_init(struct path_worker *w, const struct path_cfg *cfg,
              struct queue *q, struct rules *r, struct ct *ct);
void path_fini(struct path_worker *w);      /* removes its pinholes */

/* queue_recv() callback */
void path_packet(struct queue *q, struct queue_pkt *p, void *arg);

/*
 * After adopting a table: remove the pinholes that belong to no live
 * control connection (conntrack shows which are); keep the rest. Logs
 * what it kept and removed.
 */
int path_reconcile(const struct path_cfg *cfg, struct rules *r,
                   struct ct *ct);

/* Log the counters (SIGUSR1, and at exit). */
void path_log_counters(const struct path_worker *w, unsigned worker);

/* The clock of the session timers (path_packet() reads it itself). */
uint64_t path_clock_ms(void);

/* Expire idle and closed sessions. */
void path_tick(struct path_worker *w, uint64_t now_ms);

const char *path_counter_name(unsigned i);

#endif
