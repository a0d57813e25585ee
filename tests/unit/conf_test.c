/* conf_test.c - the config file and option names. */
#include "testutil.h"
#include "conf.h"

static void test_lines(void **st)
{
	struct conf c;
	char err[256];
	static const char *const good[] = {
		"", "   ", "# comment", "queue 3", "queue 0:3", "queue = 5",
		"public-address 203.0.113.1", "public-address 2001:db8::1 # v6",
		"wan-interface ppp0", "public-ports 40000-40100",
		"control-ports 21,2121", "table ftpgw2", "no-rules yes",
		"fail-open no", "accept-mark 0x00100000", "pin-timeout 30",
		"passive-ports 30000-30100", "allow-fxp no", "max-line 512",
		"cpus 1", "cpus 0,1", "ack-mark 0", "ack-mark 0x00400000",
	};
	static const char *const bad[] = {
		"queue", "queue x", "queue 5:3", "queue 0:100", "queue 70000",
		"public-address 1.2.3", "wan-interface a/b",
		"wan-interface 12345678901234567", "public-ports 80-90",
		"public-ports 2000", "control-ports", "control-ports 0",
		"table a.b", "table ", "no-rules maybe", "accept-mark 0",
		"accept-mark 0x100000000", "pin-timeout 0", "nosuch 1",
		"passive-ports 5-1", "max-line 1", "wan-interface \n\nx",
		"wan-interface a b", "queue 1\n", "table x\x01",
		"cpus", "cpus x", "cpus 0,", "cpus ,1", "cpus 0,,1", "cpus 4096",
		"cpus -1", "ack-mark x", "ack-mark 0x100000000",
	};
	(void)st;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		conf_default(&c);
		if (conf_line(&c, good[i], err, sizeof(err)) < 0)
			fail_msg("'%s' refused: %s", good[i], err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_default(&c);
		err[0] = '\0';
		if (conf_line(&c, bad[i], err, sizeof(err)) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
	conf_default(&c);
	assert_int_equal(conf_line(&c, "queue 2:5", err, sizeof(err)), 0);
	assert_int_equal(c.rules.queue_lo, 2);
	assert_int_equal(c.rules.queue_hi, 5);
	assert_int_equal(conf_line(&c, "control-ports 21,990,2121", err,
	                           sizeof(err)), 0);
	assert_int_equal(c.path.n_ctl_ports, 3);
	assert_int_equal(c.rules.ctl_ports[2], 2121);
	assert_int_equal(conf_line(&c, "passive-ports=30000-30100", err,
	                           sizeof(err)), 0);
	assert_int_equal(c.pol.passive_ports.hi, 30100);
	assert_int_equal(conf_line(&c, "cpus 1,0,1", err, sizeof(err)), 0);
	assert_int_equal(c.ncpus, 3);
	assert_int_equal(c.cpus[0], 1);
	assert_int_equal(c.cpus[1], 0);
}

/* every bad line reported with file:line, and the count returned */
static void test_load(void **st)
{
	char path[] = "/tmp/ftpgw-conf-XXXXXX", *out = NULL;
	size_t outlen = 0;
	struct conf c;
	FILE *f, *errf;
	int fd;
	(void)st;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# ftpgwd.conf\nqueue 0\nbogus 1\n\npassive-ports 9-1\n"
	      "allow-fxp no\n", f);
	fclose(f);
	errf = open_memstream(&out, &outlen);
	conf_default(&c);
	assert_int_equal(conf_load(&c, path, errf), 2);
	fclose(errf);
	assert_non_null(strstr(out, ":3: unknown policy option 'bogus'"));
	assert_non_null(strstr(out, ":5: '9-1' is not a port range"));
	free(out);
	unlink(path);
	errf = open_memstream(&out, &outlen);
	assert_int_equal(conf_load(&c, "/nonexistent/ftpgw.conf", errf), -1);
	fclose(errf);
	free(out);
}

/* printed config reads back to the same */
static void test_print_roundtrip(void **st)
{
	struct conf c, d;
	char err[256], *a = NULL, *b = NULL, *save = NULL;
	size_t al = 0, bl = 0;
	FILE *f;
	(void)st;
	conf_default(&c);
	assert_int_equal(conf_line(&c, "queue 1:2", err, sizeof(err)), 0);
	assert_int_equal(conf_line(&c, "public-address 203.0.113.9", err,
	                           sizeof(err)), 0);
	assert_int_equal(conf_line(&c, "low-port-exceptions 20", err, sizeof(err)), 0);
	f = open_memstream(&a, &al);
	conf_print(&c, f);
	fclose(f);
	conf_default(&d);
	char *copy = strdup(a);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (conf_line(&d, l, err, sizeof(err)) < 0)
			fail_msg("'%s': %s", l, err);
	free(copy);
	f = open_memstream(&b, &bl);
	conf_print(&d, f);
	fclose(f);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_print_roundtrip),
	};
	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
