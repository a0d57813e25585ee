/*
 * sess.h - the session table: one entry per FTP control connection,
 * keyed by its TCP 4-tuple as the router's forward hook sees it (client
 * side first), both directions in one entry. Slots are preallocated at
 * init; nothing is allocated per session or per packet. Not thread-safe:
 * one table per worker (both directions of a connection always reach the
 * same queue, hence the same worker).
 */
#ifndef FTPGW_SESS_H
#define FTPGW_SESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct.h"
#include "ftp.h"
#include "rules.h"
#include "seq.h"

struct sess_key {
	uint8_t family;
	uint8_t caddr[16], saddr[16];   /* client, server (as forwarded) */
	uint16_t cport, sport;
};

enum sess_adj_mode {
	SESS_ADJ_UNKNOWN = 0,   /* not decided yet (no conntrack look-up) */
	SESS_ADJ_KERNEL,        /* offsets live in conntrack (seqadj) */
	SESS_ADJ_FALLBACK,      /* the daemon adjusts SEQ/ACK/SACK itself */
};

#define SESS_HIST 2             /* rewrites remembered per direction */
#define SESS_PINS 2             /* pinholes remembered per session */

struct sess_edit {              /* a rewrite, for retransmissions */
	uint64_t off;               /* stream offset of the edit */
	uint32_t seq;               /* seq of the packet it was in */
	uint16_t old_len;
	uint8_t new_len;
	char data[FTP_OUT_MAX];
};

struct sess {
	struct sess_key key;
	uint32_t sid;
	uint32_t base[2];           /* seq of stream offset 0, per direction */
	uint8_t have_base;          /* bit per direction */
	uint8_t adj_mode;           /* enum sess_adj_mode */
	uint8_t fin;                /* bit per direction; 4: RST */
	uint8_t drops;              /* times the same partial line was dropped */
	uint8_t nhist[2];
	uint8_t npins;
	bool midstream;
	uint64_t drop_line;
	uint64_t last_ms, close_ms;
	struct seq_adj adj[2];      /* [0] client->server (conntrack orig) */
	struct ct_tuple ct_orig;    /* conntrack original tuple */
	struct sess_edit hist[2][SESS_HIST];
	struct rules_pin pins[SESS_PINS];
	struct ftp_sess ftp;
	/* table links */
	struct sess *next;
	uint32_t bucket;
	bool used;
};

struct sess_table {
	struct sess *slots;
	struct sess **buckets;
	struct sess *free;
	uint32_t max, nbuckets, count, next_sid, per_client;
	struct sess_client *clients;  /* per-client counts, open addressing */
	uint32_t nclients;
};

/* max sessions in all, per_client per client address (0: no limit). */
int sess_table_init(struct sess_table *t, uint32_t max, uint32_t per_client);
void sess_table_free(struct sess_table *t);

struct sess *sess_find(struct sess_table *t, const struct sess_key *k);

/* -ENOSPC when the table is full, -EDQUOT when the client has its limit. */
int sess_add(struct sess_table *t, const struct sess_key *k,
             struct sess **out);
void sess_del(struct sess_table *t, struct sess *s);

/* Call fn for each session; fn may sess_del() the one it is given. */
void sess_foreach(struct sess_table *t, void (*fn)(struct sess *, void *),
                  void *arg);

#endif
