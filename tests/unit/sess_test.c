/* sess_test.c - the session table: add, find, delete, limits. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find_del),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_per_client),
		cmocka_unit_test(test_client_churn),
	};
	return cmocka_run_group_tests_name("sess", tests, NULL, NULL);
}
