/*
 * sess.h - the session table: one entry per FTP control connection,
 * keyed by its TCP 4-tuple as the router's forward hook sees it (client
 * side first), both directions in one entry. Slots and the pool of
 * remembered rewrites (below) are allocated at init; nothing is allocated
 * per session or per packet. Not thread-safe: one table per worker (both
 * directions of a connection always reach the same queue, hence the same
 * worker).
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
#define SESS_NONE UINT32_MAX    /* no slot / no pool entry */

/*
 * The edit history. A rewritten segment may be retransmitted; the copy
 * must get the same rewrite again, so each session remembers its last
 * SESS_HIST rewrites per direction. The replacement texts (up to
 * FTP_OUT_MAX bytes each) live in a pool of the table, not in the session:
 * almost no idle session needs them. The pool is a ring: a new edit takes
 * the next entry, overwriting the oldest edit in the table, whoever owns
 * it. Each entry records its owner (session id, direction, stream offset),
 * so a session whose entry has been taken sees that its text is gone
 * (stale). The session keeps, per remembered edit, the pool index and
 * where the edit was (stream offset, old length), so it still knows which
 * bytes were rewritten after the text has been evicted: a retransmission
 * over them is then dropped, never passed unrewritten.
 */
struct sess_edit {              /* a pool entry: one rewrite */
	uint64_t off;               /* owner: stream offset of the edit */
	uint32_t sid;               /* owner: session id (0: free) */
	uint32_t seq;               /* seq of the packet it was in */
	uint16_t old_len;
	uint8_t dir;                /* owner: direction */
	uint8_t new_len;            /* <= FTP_OUT_MAX */
	char data[FTP_OUT_MAX];
};

/*
 * Fields are grouped by alignment (8, 4, 2, 1 bytes) so the struct has no
 * padding inside; tests/unit/sess_test.c checks its size.
 */
struct sess {
	struct ftp_sess ftp;
	uint64_t drop_line;
	uint64_t last_ms, close_ms;
	/* edit history: [dir][i], i = 0 the older; see sess_edit_*() */
	uint64_t hist_off[2][SESS_HIST];
	struct rules_pin pins[SESS_PINS];
	struct seq_adj adj[2];      /* [0] client->server (conntrack orig) */
	uint32_t hist_idx[2][SESS_HIST];
	uint32_t sid;
	uint32_t base[2];           /* seq of stream offset 0, per direction */
	uint32_t next;              /* table link: slot index or SESS_NONE */
	struct sess_key key;
	struct ct_tuple ct_orig;    /* conntrack original tuple */
	uint16_t hist_old_len[2][SESS_HIST];
	uint8_t have_base;          /* bit per direction */
	uint8_t adj_mode;           /* enum sess_adj_mode */
	uint8_t fin;                /* bit per direction; 4: RST */
	uint8_t drops;              /* times the same partial line was dropped */
	uint8_t nhist[2];
	uint8_t npins;
	bool midstream;
	bool released;              /* closing: not counted for its client */
	bool used;
};

struct sess_table {
	struct sess *slots;
	uint32_t *buckets;            /* slot index of the chain, SESS_NONE */
	uint32_t free;                /* free list: slot index, SESS_NONE */
	uint32_t max, nbuckets, count, next_sid, per_client;
	struct sess_client *clients;  /* per-client counts, open addressing */
	uint32_t nclients;
	struct sess_edit *edits;      /* the edit pool, a ring */
	uint32_t nedits, edit_next;   /* its size; the entry taken next */
	uint32_t seed;                /* of the 4-tuple hash (random) */
};

/* Entries in the edit pool of a table of max sessions. */
#define SESS_EDITS(max) ((max) / 2 > 1024 ? (max) / 2 : 1024)

/* max sessions in all, per_client per client address (0: no limit); the
 * edit pool gets SESS_EDITS(max) entries (calloc: pages never written cost
 * no memory). */
int sess_table_init(struct sess_table *t, uint32_t max, uint32_t per_client);
void sess_table_free(struct sess_table *t);

struct sess *sess_find(struct sess_table *t, const struct sess_key *k);

/* -ENOSPC when the table is full, -EDQUOT when the client has its limit. */
int sess_add(struct sess_table *t, const struct sess_key *k,
             struct sess **out);
/* Frees the slot and the pool entries of its edits; harmless twice. */
void sess_del(struct sess_table *t, struct sess *s);

/*
 * The connection is closing (FIN both ways, or RST): from now on it no
 * longer counts towards its client's per_client limit (a client that
 * opens and closes sessions quickly is limited by what it has open, not
 * by what is still in the close grace). It stays in the table, found by
 * sess_find(), until sess_del(). Idempotent.
 */
void sess_closing(struct sess_table *t, struct sess *s);

/* Call fn for each session; fn may sess_del() the one it is given. */
void sess_foreach(struct sess_table *t, void (*fn)(struct sess *, void *),
                  void *arg);

/*
 * Remember a rewrite of direction dir (0: client->server) of session s:
 * the old_len bytes at stream offset off (in the packet of sequence number
 * seq) were replaced by data[0..new_len). It takes the pool's next entry
 * (evicting the oldest edit in the table) and, when s already remembers
 * SESS_HIST edits of dir, forgets the older of them. The text is never
 * clipped: new_len > FTP_OUT_MAX, old_len > UINT16_MAX, data NULL with
 * new_len > 0, or dir not 0 or 1 is -EINVAL and changes nothing (a
 * shortened text, sent again, would differ from what was sent the first
 * time).
 */
int sess_edit_remember(struct sess_table *t, struct sess *s, int dir,
                       uint64_t off, uint32_t seq, size_t old_len,
                       size_t new_len, const void *data);

/* How many edits s remembers for dir (0..SESS_HIST). */
unsigned sess_edit_count(const struct sess *s, int dir);

/*
 * Where the i-th remembered edit of dir is (0: the older): its stream
 * offset and old length, known even when its text has been evicted.
 * false when there is no such edit.
 */
bool sess_edit_span(const struct sess *s, int dir, unsigned i, uint64_t *off,
                    size_t *old_len);

/*
 * The pool entry of the i-th remembered edit of dir (its text: new_len,
 * data), or NULL when there is no such edit or its entry has since been
 * taken by another edit (stale). Valid until the next sess_edit_remember()
 * or sess_del() on the table.
 */
const struct sess_edit *sess_edit_get(const struct sess_table *t,
                                      const struct sess *s, int dir,
                                      unsigned i);

#endif
