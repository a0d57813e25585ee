/* sess_test.c - the session table: add, find, delete, limits, the edit
 * pool. */
#include "testutil.h"
#include "sess.h"

static struct sess_key key(uint32_t client, uint16_t cport)
{
	struct sess_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.caddr[0] = 10;
	k.caddr[1] = (uint8_t)(client >> 16);
	k.caddr[2] = (uint8_t)(client >> 8);
	k.caddr[3] = (uint8_t)client;
	k.saddr[0] = 198;
	k.saddr[3] = 5;
	k.cport = cport;
	k.sport = 21;
	return k;
}

static void test_add_find_del(void **st)
{
	struct sess_table t;
	struct sess *s, *s2;
	struct sess_key k = key(1, 40000);
	(void)st;
	assert_int_equal(sess_table_init(&t, 8, 0), 0);
	assert_null(sess_find(&t, &k));
	assert_int_equal(sess_add(&t, &k, &s), 0);
	assert_ptr_equal(sess_find(&t, &k), s);
	assert_int_equal(t.count, 1);
	k.cport++;
	assert_null(sess_find(&t, &k));
	assert_int_equal(sess_add(&t, &k, &s2), 0);
	assert_true(s2->sid != s->sid);
	sess_del(&t, s);
	k.cport--;
	assert_null(sess_find(&t, &k));
	sess_del(&t, s);                 /* twice: harmless */
	assert_int_equal(t.count, 1);
	sess_table_free(&t);
}

static void test_full(void **st)
{
	struct sess_table t;
	struct sess *s;
	struct sess_key k;
	(void)st;
	assert_int_equal(sess_table_init(&t, 100, 0), 0);
	for (uint32_t i = 0; i < 100; i++) {
		k = key(i, 1000);
		assert_int_equal(sess_add(&t, &k, &s), 0);
	}
	k = key(200, 1000);
	assert_int_equal(sess_add(&t, &k, &s), -ENOSPC);
	for (uint32_t i = 0; i < 100; i++) {
		k = key(i, 1000);
		s = sess_find(&t, &k);
		assert_non_null(s);
		sess_del(&t, s);
	}
	assert_int_equal(t.count, 0);
	k = key(200, 1000);
	assert_int_equal(sess_add(&t, &k, &s), 0);
	sess_table_free(&t);
}

/* A closing session no longer counts for its client: a client that opens
 * and closes sessions fast is limited by what it has open (a limit of 3
 * with sessions in their close grace used to refuse the 4th). */
static void test_closing_frees_client(void **st)
{
	struct sess_table t;
	struct sess *s[6];
	struct sess_key k;
	(void)st;
	assert_int_equal(sess_table_init(&t, 64, 3), 0);
	for (uint16_t p = 0; p < 3; p++) {
		k = key(7, (uint16_t)(2000 + p));
		assert_int_equal(sess_add(&t, &k, &s[p]), 0);
	}
	k = key(7, 2003);
	assert_int_equal(sess_add(&t, &k, &s[3]), -EDQUOT);
	sess_closing(&t, s[0]);
	sess_closing(&t, s[0]);             /* twice: counted once */
	assert_int_equal(sess_add(&t, &k, &s[3]), 0);
	k = key(7, 2004);
	assert_int_equal(sess_add(&t, &k, &s[4]), -EDQUOT);
	/* still in the table until deleted */
	k = key(7, 2000);
	assert_ptr_equal(sess_find(&t, &k), s[0]);
	assert_int_equal(t.count, 4);
	/* deleting the released one does not free another slot of the client */
	sess_del(&t, s[0]);
	k = key(7, 2004);
	assert_int_equal(sess_add(&t, &k, &s[4]), -EDQUOT);
	sess_del(&t, s[1]);
	assert_int_equal(sess_add(&t, &k, &s[4]), 0);
	/* the last of the client's sessions go */
	sess_closing(&t, s[2]);
	sess_closing(&t, s[3]);
	sess_closing(&t, s[4]);
	sess_del(&t, s[2]);
	sess_del(&t, s[3]);
	sess_del(&t, s[4]);
	assert_int_equal(t.count, 0);
	/* the client's count is back at 0: 3 fit again, not a 4th */
	for (uint16_t p = 0; p < 3; p++) {
		k = key(7, (uint16_t)(3000 + p));
		assert_int_equal(sess_add(&t, &k, &s[p]), 0);
	}
	k = key(7, 3003);
	assert_int_equal(sess_add(&t, &k, &s[3]), -EDQUOT);
	sess_table_free(&t);
}

static void test_per_client(void **st)
{
	struct sess_table t;
	struct sess *s[5];
	struct sess_key k;
	(void)st;
	assert_int_equal(sess_table_init(&t, 64, 3), 0);
	for (uint16_t p = 0; p < 3; p++) {
		k = key(7, (uint16_t)(2000 + p));
		assert_int_equal(sess_add(&t, &k, &s[p]), 0);
	}
	k = key(7, 2003);
	assert_int_equal(sess_add(&t, &k, &s[3]), -EDQUOT);
	/* another client is not affected */
	k = key(8, 2003);
	assert_int_equal(sess_add(&t, &k, &s[4]), 0);
	/* one ends: room again */
	sess_del(&t, s[1]);
	k = key(7, 2003);
	assert_int_equal(sess_add(&t, &k, &s[3]), 0);
	sess_table_free(&t);
}

/* many clients coming and going keep the per-client counts exact */
static void test_client_churn(void **st)
{
	struct sess_table t;
	struct sess *held[256] = { 0 };
	uint32_t x = 1;
	(void)st;
	assert_int_equal(sess_table_init(&t, 256, 2), 0);
	for (int round = 0; round < 20000; round++) {
		x = x * 1103515245u + 12345u;
		unsigned i = (x >> 8) & 255;
		if (held[i]) {
			sess_del(&t, held[i]);
			held[i] = NULL;
		} else {
			struct sess_key k = key(i / 2, (uint16_t)(i & 1));
			assert_int_equal(sess_add(&t, &k, &held[i]), 0);
		}
	}
	for (unsigned i = 0; i < 256; i++) {
		if (!held[i])
			continue;
		struct sess_key k = key(i / 2, (uint16_t)(i & 1));
		assert_ptr_equal(sess_find(&t, &k), held[i]);
	}
	sess_table_free(&t);
}

/* --- the edit history (pool) --- */

static void fill(char *buf, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(c + (char)(i % 7));
}

/* remember (off, old_len, text) and check it comes back whole */
static void remember_ok(struct sess_table *t, struct sess *s, int dir,
                        uint64_t off, size_t old_len, size_t new_len, char c)
{
	char txt[FTP_OUT_MAX];

	fill(txt, new_len, c);
	assert_int_equal(sess_edit_remember(t, s, dir, off, (uint32_t)off + 7,
	                                    old_len, new_len, txt), 0);
}

static void check_edit(const struct sess_table *t, const struct sess *s,
                       int dir, unsigned i, uint64_t off, size_t old_len,
                       size_t new_len, char c)
{
	const struct sess_edit *e = sess_edit_get(t, s, dir, i);
	char txt[FTP_OUT_MAX];
	uint64_t o;
	size_t l;

	assert_true(sess_edit_span(s, dir, i, &o, &l));
	assert_int_equal(o, off);
	assert_int_equal(l, old_len);
	assert_non_null(e);
	assert_int_equal(e->off, off);
	assert_int_equal(e->old_len, old_len);
	assert_int_equal(e->new_len, new_len);
	assert_int_equal(e->seq, (uint32_t)off + 7);
	fill(txt, new_len, c);
	assert_memory_equal(e->data, txt, new_len);
}

static void test_edit_remember_get(void **st)
{
	struct sess_table t;
	struct sess *s;
	struct sess_key k = key(1, 40000);
	uint64_t o;
	size_t l;
	(void)st;
	assert_int_equal(sess_table_init(&t, 8, 0), 0);
	assert_int_equal(t.nedits, 1024);
	assert_int_equal(sess_add(&t, &k, &s), 0);
	assert_int_equal(sess_edit_count(s, 0), 0);
	assert_null(sess_edit_get(&t, s, 0, 0));
	assert_false(sess_edit_span(s, 0, 0, &o, &l));

	remember_ok(&t, s, 0, 100, 26, 30, 'a');
	remember_ok(&t, s, 1, 5000000000ull, 40, FTP_OUT_MAX, 'A');
	assert_int_equal(sess_edit_count(s, 0), 1);
	assert_int_equal(sess_edit_count(s, 1), 1);
	check_edit(&t, s, 0, 0, 100, 26, 30, 'a');
	check_edit(&t, s, 1, 0, 5000000000ull, 40, FTP_OUT_MAX, 'A');
	/* nothing beyond what was remembered, no third direction */
	assert_null(sess_edit_get(&t, s, 0, 1));
	assert_false(sess_edit_span(s, 0, 1, &o, &l));
	assert_int_equal(sess_edit_count(s, 2), 0);
	assert_null(sess_edit_get(&t, s, 2, 0));
	assert_null(sess_edit_get(&t, s, -1, 0));
	/* an empty replacement (a deletion) is an edit too */
	remember_ok(&t, s, 0, 200, 5, 0, 'x');
	check_edit(&t, s, 0, 1, 200, 5, 0, 'x');
	sess_table_free(&t);
}

/* the session's own limit: the older of its two edits goes first */
static void test_edit_own_eviction(void **st)
{
	struct sess_table t;
	struct sess *s;
	struct sess_key k = key(1, 40000);
	(void)st;
	assert_int_equal(sess_table_init(&t, 8, 0), 0);
	assert_int_equal(sess_add(&t, &k, &s), 0);
	remember_ok(&t, s, 0, 10, 20, 21, 'a');
	remember_ok(&t, s, 0, 40, 22, 23, 'b');
	remember_ok(&t, s, 1, 15, 24, 25, 'z');
	check_edit(&t, s, 0, 0, 10, 20, 21, 'a');
	check_edit(&t, s, 0, 1, 40, 22, 23, 'b');
	remember_ok(&t, s, 0, 90, 26, 27, 'c');
	assert_int_equal(sess_edit_count(s, 0), SESS_HIST);
	check_edit(&t, s, 0, 0, 40, 22, 23, 'b');
	check_edit(&t, s, 0, 1, 90, 26, 27, 'c');
	remember_ok(&t, s, 0, 150, 28, 29, 'd');
	check_edit(&t, s, 0, 0, 90, 26, 27, 'c');
	check_edit(&t, s, 0, 1, 150, 28, 29, 'd');
	/* the other direction is untouched */
	assert_int_equal(sess_edit_count(s, 1), 1);
	check_edit(&t, s, 1, 0, 15, 24, 25, 'z');
	sess_table_free(&t);
}

/* the ring: the 1025th edit in the table takes the oldest one's entry */
static void test_edit_ring_stale(void **st)
{
	struct sess_table t;
	struct sess *a, *b;
	struct sess_key ka = key(1, 40000), kb = key(2, 40000);
	uint64_t o;
	size_t l;
	(void)st;
	assert_int_equal(sess_table_init(&t, 8, 0), 0);
	assert_int_equal(t.nedits, 1024);
	assert_int_equal(sess_add(&t, &ka, &a), 0);
	assert_int_equal(sess_add(&t, &kb, &b), 0);
	remember_ok(&t, a, 0, 1000, 27, 31, 'a');       /* entry 0 */
	remember_ok(&t, a, 1, 2000, 28, 32, 'b');       /* entry 1 */
	/* 1022 edits of another session: the pool is full, a's still there */
	for (uint64_t i = 0; i < 1022; i++)
		remember_ok(&t, b, (int)(i & 1), 100 * i, 10, 12, 'k');
	check_edit(&t, a, 0, 0, 1000, 27, 31, 'a');
	check_edit(&t, a, 1, 0, 2000, 28, 32, 'b');
	/* the 1025th takes entry 0: a's client-side text is gone */
	remember_ok(&t, b, 0, 200000, 10, 12, 'm');
	assert_null(sess_edit_get(&t, a, 0, 0));
	assert_int_equal(sess_edit_count(a, 0), 1);
	/* ... but where it was is still known, so the path can drop a
	 * retransmission over it rather than pass it unrewritten */
	assert_true(sess_edit_span(a, 0, 0, &o, &l));
	assert_int_equal(o, 1000);
	assert_int_equal(l, 27);
	check_edit(&t, a, 1, 0, 2000, 28, 32, 'b');
	/* b's own last two are live */
	check_edit(&t, b, 0, 1, 200000, 10, 12, 'm');
	check_edit(&t, b, 1, 1, 100 * 1021, 10, 12, 'k');
	/* the 1026th: a's server-side text goes too */
	remember_ok(&t, b, 1, 300000, 10, 12, 'n');
	assert_null(sess_edit_get(&t, a, 1, 0));
	assert_true(sess_edit_span(a, 1, 0, &o, &l));
	assert_int_equal(o, 2000);
	sess_table_free(&t);
}

/* the ring comes round to a session's own old entry: the old reference
 * must not see the new text (same owner sid and direction) */
static void test_edit_ring_own_entry(void **st)
{
	struct sess_table t;
	struct sess *a, *b;
	struct sess_key ka = key(1, 40000), kb = key(2, 40000);
	(void)st;
	assert_int_equal(sess_table_init(&t, 8, 0), 0);
	assert_int_equal(sess_add(&t, &ka, &a), 0);
	assert_int_equal(sess_add(&t, &kb, &b), 0);
	remember_ok(&t, a, 0, 1000, 27, 31, 'a');       /* entry 0 */
	for (uint64_t i = 0; i < 1023; i++)
		remember_ok(&t, b, 1, 100 * i, 10, 12, 'k');
	remember_ok(&t, a, 0, 5000, 29, 33, 'c');       /* entry 0 again */
	assert_int_equal(sess_edit_count(a, 0), 2);
	assert_null(sess_edit_get(&t, a, 0, 0));
	check_edit(&t, a, 0, 1, 5000, 29, 33, 'c');
	sess_table_free(&t);
}

/* a deleted slot, re-added, sees none of the previous session's edits */
static void test_edit_del_readd(void **st)
{
	struct sess_table t;
	struct sess *s, *s2;
	struct sess_key k = key(1, 40000);
	uint32_t old_sid, idx;
	(void)st;
	assert_int_equal(sess_table_init(&t, 8, 0), 0);
	assert_int_equal(sess_add(&t, &k, &s), 0);
	remember_ok(&t, s, 0, 1000, 27, 31, 'a');
	remember_ok(&t, s, 1, 2000, 28, 32, 'b');
	old_sid = s->sid;
	idx = s->hist_idx[0][0];
	sess_del(&t, s);
	/* its pool entries are free */
	assert_int_equal(t.edits[idx].sid, 0);
	assert_int_equal(sess_add(&t, &k, &s2), 0);
	assert_ptr_equal(s2, s);                /* the same slot */
	assert_true(s2->sid != old_sid);
	assert_int_equal(sess_edit_count(s2, 0), 0);
	assert_int_equal(sess_edit_count(s2, 1), 0);
	assert_null(sess_edit_get(&t, s2, 0, 0));
	assert_null(sess_edit_get(&t, s2, 1, 0));
	/* even a reference left in the slot would not reach them: the owner
	 * is checked, not just the index */
	s2->nhist[0] = 1;
	s2->hist_idx[0][0] = idx;
	s2->hist_off[0][0] = 1000;
	s2->hist_old_len[0][0] = 27;
	assert_null(sess_edit_get(&t, s2, 0, 0));
	/* nor would the old sid, now that the entry is free */
	s2->sid = old_sid;
	assert_null(sess_edit_get(&t, s2, 0, 0));
	sess_table_free(&t);
}

/* texts are never clipped: too long is refused and changes nothing */
static void test_edit_bounds(void **st)
{
	struct sess_table t;
	struct sess *s;
	struct sess_key k = key(1, 40000);
	char big[FTP_OUT_MAX + 1];
	uint32_t next;
	(void)st;
	fill(big, sizeof(big), 'q');
	assert_int_equal(sess_table_init(&t, 8, 0), 0);
	assert_int_equal(sess_add(&t, &k, &s), 0);
	remember_ok(&t, s, 0, 10, 20, 21, 'a');
	next = t.edit_next;
	assert_int_equal(sess_edit_remember(&t, s, 0, 50, 1, 20, FTP_OUT_MAX + 1,
	                                    big), -EINVAL);
	assert_int_equal(sess_edit_remember(&t, s, 0, 50, 1, 65536, 10, big),
	                 -EINVAL);
	assert_int_equal(sess_edit_remember(&t, s, 2, 50, 1, 20, 10, big),
	                 -EINVAL);
	assert_int_equal(sess_edit_remember(&t, s, -1, 50, 1, 20, 10, big),
	                 -EINVAL);
	assert_int_equal(sess_edit_remember(&t, s, 0, 50, 1, 20, 10, NULL),
	                 -EINVAL);
	assert_int_equal(t.edit_next, next);
	assert_int_equal(sess_edit_count(s, 0), 1);
	check_edit(&t, s, 0, 0, 10, 20, 21, 'a');
	/* the limits themselves are fine */
	assert_int_equal(sess_edit_remember(&t, s, 0, 50, 57, 65535, FTP_OUT_MAX,
	                                    big), 0);
	check_edit(&t, s, 0, 1, 50, 65535, FTP_OUT_MAX, 'q');
	assert_int_equal(sess_edit_remember(&t, s, 1, 60, 67, 0, 0, NULL), 0);
	check_edit(&t, s, 1, 0, 60, 0, 0, 'x');
	sess_table_free(&t);
}

/* the memory goal: at most 1 KiB per session at 100,000 sessions, with
 * the table's arrays and every pool entry written */
static void test_memory(void **st)
{
	struct sess_table t;
	size_t total;
	(void)st;
	assert_true(sizeof(struct sess) <= 776);
	assert_int_equal(sess_table_init(&t, 100000, 64), 0);
	assert_int_equal(t.nedits, 50000);
	total = t.max * sizeof(struct sess) +
	        t.nbuckets * sizeof(*t.buckets) +
	        t.nclients * (size_t)24 +       /* struct sess_client, sess.c */
	        t.nedits * sizeof(struct sess_edit);
	print_message("struct sess %zu bytes, struct sess_edit %zu, "
	              "%zu bytes per session at %u sessions\n",
	              sizeof(struct sess), sizeof(struct sess_edit),
	              total / t.max, t.max);
	assert_true(total <= (size_t)t.max * 1024);
	sess_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find_del),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_per_client),
		cmocka_unit_test(test_closing_frees_client),
		cmocka_unit_test(test_client_churn),
		cmocka_unit_test(test_edit_remember_get),
		cmocka_unit_test(test_edit_own_eviction),
		cmocka_unit_test(test_edit_ring_stale),
		cmocka_unit_test(test_edit_ring_own_entry),
		cmocka_unit_test(test_edit_del_readd),
		cmocka_unit_test(test_edit_bounds),
		cmocka_unit_test(test_memory),
	};
	return cmocka_run_group_tests_name("sess", tests, NULL, NULL);
}
