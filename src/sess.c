/* sess.c - the session table (see include/sess.h). */
#include "sess.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct sess_client {
	uint8_t family;
	uint8_t addr[16];
	uint32_t n;                 /* 0: empty slot */
};

static uint32_t hash_bytes(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;     /* FNV-1a */
	return h;
}

static uint32_t word(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
	h = (h ^ v) * 0x9e3779b1u;
	return h ^ (h >> 15);
}

/* A word at a time, from the table's random seed (so which 4-tuples share
 * a chain cannot be known from outside); this runs for every packet. */
static uint32_t key_hash(const struct sess_table *t, const struct sess_key *k)
{
	uint32_t h = t->seed;
	unsigned nw = k->family == 6 ? 4 : 1;

	for (unsigned i = 0; i < nw; i++) {
		h = mix(h, word(k->caddr + 4 * i));
		h = mix(h, word(k->saddr + 4 * i));
	}
	h = mix(h, (uint32_t)k->cport << 16 | k->sport);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	return h ^ (h >> 13);
}

static bool key_eq(const struct sess_key *a, const struct sess_key *b)
{
	uint64_t x[4], y[4];

	if (a->family != b->family || a->cport != b->cport ||
	    a->sport != b->sport)
		return false;
	memcpy(x, a->caddr, 16);
	memcpy(x + 2, a->saddr, 16);
	memcpy(y, b->caddr, 16);
	memcpy(y + 2, b->saddr, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) |
	        (x[3] ^ y[3])) == 0;
}

/*
 * The pool entry of s's i-th edit of dir, or NULL when it has been taken
 * since by another edit: another session's, or this one's own after the
 * ring came round (the owner check includes the offset, and the offsets
 * of a direction only grow).
 */
static struct sess_edit *edit_live(const struct sess_table *t,
                                   const struct sess *s, int dir, unsigned i)
{
	struct sess_edit *e;
	uint32_t idx;

	if ((dir != 0 && dir != 1) || i >= s->nhist[dir] || s->sid == 0)
		return NULL;
	idx = s->hist_idx[dir][i];
	if (idx >= t->nedits)
		return NULL;
	e = &t->edits[idx];
	if (e->sid != s->sid || e->dir != dir ||
	    e->off != s->hist_off[dir][i] ||
	    e->old_len != s->hist_old_len[dir][i])
		return NULL;
	return e;
}

int sess_table_init(struct sess_table *t, uint32_t max, uint32_t per_client)
{
	memset(t, 0, sizeof(*t));
	if (max == 0 || max > (1u << 24))
		return -EINVAL;
	t->max = max;
	t->per_client = per_client;
	t->nbuckets = 1;
	while (t->nbuckets < max)
		t->nbuckets <<= 1;
	t->nclients = t->nbuckets * 2;
	t->nedits = SESS_EDITS(max);
	t->slots = calloc(max, sizeof(*t->slots));
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	t->clients = calloc(t->nclients, sizeof(*t->clients));
	t->edits = calloc(t->nedits, sizeof(*t->edits));
	if (!t->slots || !t->buckets || !t->clients || !t->edits) {
		sess_table_free(t);
		return -ENOMEM;
	}
	/* SESS_NONE is all ones: empty chains are 0xff bytes */
	memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets));
	t->free = SESS_NONE;
	for (uint32_t i = max; i-- > 0;) {
		t->slots[i].next = t->free;
		t->free = i;
	}
	t->next_sid = 1;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(t->seed))
		t->seed = (uint32_t)(uintptr_t)t ^ 0x5bd1e995u;
	return 0;
}

void sess_table_free(struct sess_table *t)
{
	free(t->slots);
	free(t->buckets);
	free(t->clients);
	free(t->edits);
	memset(t, 0, sizeof(*t));
}

struct sess *sess_find(struct sess_table *t, const struct sess_key *k)
{
	uint32_t i = t->buckets[key_hash(t, k) & (t->nbuckets - 1)];

	while (i < t->max) {
		struct sess *s = &t->slots[i];
		if (key_eq(&s->key, k))
			return s;
		i = s->next;
	}
	return NULL;
}

/* Find the client's counter slot (or the empty one where it would go). */
static struct sess_client *client_slot(struct sess_table *t,
                                       const struct sess_key *k)
{
	size_t al = k->family == 6 ? 16 : 4;
	uint32_t i = hash_bytes(2166136261u, k->caddr, al) & (t->nclients - 1);

	for (uint32_t probe = 0; probe < t->nclients; probe++) {
		struct sess_client *c = &t->clients[(i + probe) & (t->nclients - 1)];
		if (c->n == 0 ||
		    (c->family == k->family && memcmp(c->addr, k->caddr, 16) == 0))
			return c;
	}
	return NULL;      /* cannot happen: twice as many slots as sessions */
}

/* Remove slot c by shifting back the run after it (linear probing). */
static void client_drop(struct sess_table *t, const struct sess_client *c)
{
	uint32_t mask = t->nclients - 1, i = (uint32_t)(c - t->clients);

	for (;;) {
		uint32_t j = i;
		t->clients[i].n = 0;
		for (;;) {
			struct sess_client *x;
			uint32_t home;
			j = (j + 1) & mask;
			x = &t->clients[j];
			if (x->n == 0)
				return;
			home = hash_bytes(2166136261u, x->addr,
			                  x->family == 6 ? 16 : 4) & mask;
			/* can x move back to i? (home not cyclically in (i, j]) */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		t->clients[i] = t->clients[j];
		i = j;
	}
}

int sess_add(struct sess_table *t, const struct sess_key *k,
             struct sess **out)
{
	struct sess_client *c = client_slot(t, k);
	struct sess *s;
	uint32_t b;

	if (t->free >= t->max || !c)
		return -ENOSPC;
	if (t->per_client && c->n >= t->per_client)
		return -EDQUOT;
	if (c->n == 0) {
		c->family = k->family;
		memcpy(c->addr, k->caddr, 16);
	}
	c->n++;
	s = &t->slots[t->free];
	t->free = s->next;
	/* no history: a new session cannot reach a previous one's edits
	 * (nhist is 0, and the pool entries carry the owner's sid) */
	memset(s, 0, sizeof(*s));
	s->key = *k;
	s->used = true;
	s->sid = t->next_sid++;
	if (t->next_sid == 0)
		t->next_sid = 1;
	b = key_hash(t, k) & (t->nbuckets - 1);
	s->next = t->buckets[b];
	t->buckets[b] = (uint32_t)(s - t->slots);
	t->count++;
	*out = s;
	return 0;
}

void sess_closing(struct sess_table *t, struct sess *s)
{
	struct sess_client *c;

	if (!s->used || s->released)
		return;
	s->released = true;
	c = client_slot(t, &s->key);
	if (c && c->n > 0 && --c->n == 0)
		client_drop(t, c);
}

void sess_del(struct sess_table *t, struct sess *s)
{
	uint32_t me = (uint32_t)(s - t->slots);
	uint32_t *pp = &t->buckets[key_hash(t, &s->key) & (t->nbuckets - 1)];

	if (!s->used)
		return;
	while (*pp < t->max && *pp != me)
		pp = &t->slots[*pp].next;
	if (*pp == me)
		*pp = s->next;
	if (!s->released) {
		struct sess_client *c = client_slot(t, &s->key);
		if (c && c->n > 0 && --c->n == 0)
			client_drop(t, c);
	}
	/* free its pool entries (the owner check alone would do; this keeps
	 * the pool's view of who owns what exact) */
	for (int dir = 0; dir < 2; dir++)
		for (unsigned i = 0; i < s->nhist[dir]; i++) {
			struct sess_edit *e = edit_live(t, s, dir, i);
			if (e)
				e->sid = 0;
		}
	s->nhist[0] = s->nhist[1] = 0;
	s->used = false;
	s->next = t->free;
	t->free = me;
	t->count--;
}

void sess_foreach(struct sess_table *t, void (*fn)(struct sess *, void *),
                  void *arg)
{
	for (uint32_t i = 0; i < t->max; i++)
		if (t->slots[i].used)
			fn(&t->slots[i], arg);
}

int sess_edit_remember(struct sess_table *t, struct sess *s, int dir,
                       uint64_t off, uint32_t seq, size_t old_len,
                       size_t new_len, const void *data)
{
	struct sess_edit *e;
	unsigned n;

	_Static_assert(FTP_OUT_MAX <= UINT8_MAX, "new_len is a uint8_t");
	if ((dir != 0 && dir != 1) || new_len > FTP_OUT_MAX ||
	    old_len > UINT16_MAX || (new_len && !data) || t->nedits == 0)
		return -EINVAL;
	n = s->nhist[dir];
	if (n == SESS_HIST) {
		/* forget the session's older edit (its entry ages out) */
		for (unsigned i = 1; i < SESS_HIST; i++) {
			s->hist_off[dir][i - 1] = s->hist_off[dir][i];
			s->hist_idx[dir][i - 1] = s->hist_idx[dir][i];
			s->hist_old_len[dir][i - 1] = s->hist_old_len[dir][i];
		}
		n--;
	}
	/* the ring: take the next entry, whoever had it */
	e = &t->edits[t->edit_next];
	s->hist_idx[dir][n] = t->edit_next;
	t->edit_next = t->edit_next + 1 < t->nedits ? t->edit_next + 1 : 0;
	s->hist_off[dir][n] = off;
	s->hist_old_len[dir][n] = (uint16_t)old_len;
	s->nhist[dir] = (uint8_t)(n + 1);
	e->off = off;
	e->sid = s->sid;
	e->seq = seq;
	e->old_len = (uint16_t)old_len;
	e->dir = (uint8_t)dir;
	e->new_len = (uint8_t)new_len;
	if (new_len)
		memcpy(e->data, data, new_len);
	return 0;
}

unsigned sess_edit_count(const struct sess *s, int dir)
{
	return dir == 0 || dir == 1 ? s->nhist[dir] : 0;
}

bool sess_edit_span(const struct sess *s, int dir, unsigned i, uint64_t *off,
                    size_t *old_len)
{
	if (i >= sess_edit_count(s, dir))
		return false;
	*off = s->hist_off[dir][i];
	*old_len = s->hist_old_len[dir][i];
	return true;
}

const struct sess_edit *sess_edit_get(const struct sess_table *t,
                                      const struct sess *s, int dir,
                                      unsigned i)
{
	return edit_live(t, s, dir, i);
}
