/* sess.c - the session table (see include/sess.h). */
#include "sess.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static uint32_t key_hash(const struct sess_key *k)
{
	uint32_t h = 2166136261u;
	size_t al = k->family == 6 ? 16 : 4;

	h = hash_bytes(h, k->caddr, al);
	h = hash_bytes(h, k->saddr, al);
	h = hash_bytes(h, (const uint8_t *)&k->cport, 2);
	return hash_bytes(h, (const uint8_t *)&k->sport, 2);
}

static bool key_eq(const struct sess_key *a, const struct sess_key *b)
{
	return a->family == b->family && a->cport == b->cport &&
	       a->sport == b->sport && memcmp(a->caddr, b->caddr, 16) == 0 &&
	       memcmp(a->saddr, b->saddr, 16) == 0;
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
	t->slots = calloc(max, sizeof(*t->slots));
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->clients = calloc(t->nclients, sizeof(*t->clients));
	if (!t->slots || !t->buckets || !t->clients) {
		sess_table_free(t);
		return -ENOMEM;
	}
	for (uint32_t i = max; i-- > 0;) {
		t->slots[i].next = t->free;
		t->free = &t->slots[i];
	}
	t->next_sid = 1;
	return 0;
}

void sess_table_free(struct sess_table *t)
{
	free(t->slots);
	free(t->buckets);
	free(t->clients);
	memset(t, 0, sizeof(*t));
}

struct sess *sess_find(struct sess_table *t, const struct sess_key *k)
{
	struct sess *s = t->buckets[key_hash(k) & (t->nbuckets - 1)];

	for (; s; s = s->next)
		if (key_eq(&s->key, k))
			return s;
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

	if (!t->free || !c)
		return -ENOSPC;
	if (t->per_client && c->n >= t->per_client)
		return -EDQUOT;
	if (c->n == 0) {
		c->family = k->family;
		memcpy(c->addr, k->caddr, 16);
	}
	c->n++;
	s = t->free;
	t->free = s->next;
	memset(s, 0, sizeof(*s));
	s->key = *k;
	s->used = true;
	s->sid = t->next_sid++;
	if (t->next_sid == 0)
		t->next_sid = 1;
	b = key_hash(k) & (t->nbuckets - 1);
	s->bucket = b;
	s->next = t->buckets[b];
	t->buckets[b] = s;
	t->count++;
	*out = s;
	return 0;
}

void sess_del(struct sess_table *t, struct sess *s)
{
	struct sess **pp = &t->buckets[s->bucket];
	struct sess_client *c;

	if (!s->used)
		return;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	c = client_slot(t, &s->key);
	if (c && c->n > 0 && --c->n == 0)
		client_drop(t, c);
	s->used = false;
	s->next = t->free;
	t->free = s;
	t->count--;
}

void sess_foreach(struct sess_table *t, void (*fn)(struct sess *, void *),
                  void *arg)
{
	for (uint32_t i = 0; i < t->max; i++)
		if (t->slots[i].used)
			fn(&t->slots[i], arg);
}
