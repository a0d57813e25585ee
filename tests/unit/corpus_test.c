/*
 * corpus_test.c - every real-world reply line under tests/data/replies/
 * (one file per server, sources named in each file) through the core.
 *
 * Line format: kind TAB address TAB port TAB reply (C-escaped).
 *   227/228: rewritten to the public address, the rest of the text kept
 *   229:     passed, data connection to the announced port
 *   bad:     no data connection, whatever else happens
 * Addresses no data connection may name (0.0.0.0, loopback...) are refused.
 */
#include <dirent.h>

#include "testutil.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "tests/data/replies"
#endif

#define PUB4 "203.0.113.1"
#define PUB6 "2001:db8:ffff::1"

static unsigned n_227, n_229, n_228, n_bad, n_special, n_fail;

/* report every wrong line, not only the first */
#define bad_line(...) do { print_error(__VA_ARGS__); print_error("\n"); \
                           n_fail++; return; } while (0)

static bool special(const struct ftp_addr *a)
{
	/* what the core refuses unless it is the peer's own */
	const uint8_t *b = a->a;
	return a->family == 4 && (b[0] == 0 || b[0] == 127 || b[0] >= 224);
}

static void check_line(const char *file, unsigned lineno, char *kind,
                       const char *addr, const char *port, const char *esc)
{
	char reply[2048], expect[2048], tup[FTP_OUT_MAX], pubtup[FTP_OUT_MAX];
	struct tsess t;
	struct tout o;
	struct ftp_addr a = { 0 }, pub;
	const char *spriv, *spub;
	size_t n = tunescape(esc, reply, sizeof(reply) - 2);
	int code = kind[0] == 'b' ? 0 : atoi(kind);
	unsigned long pnum = strtoul(port, NULL, 10);

	memcpy(reply + n, "\r\n", 3);
	n += 2;
	if (code == 227 || code == 228)
		assert_int_equal(ftp_addr_parse(&a, addr), 0);
	spriv = (code == 228 && a.family == 6) ? "2001:db8::5" : "10.0.0.5";
	spub = (code == 228 && a.family == 6) ? PUB6 : PUB4;
	if ((code == 227 || code == 228) && !special(&a)) {
		static char buf[64];
		ftp_addr_str(&a, buf, sizeof(buf));
		spriv = buf;
		if (strcmp(buf, spub) == 0)
			spub = a.family == 6 ? "2001:db8:fffe::1" : "198.51.100.200";
	}
	tsess_setup(&t, a.family == 6 ? "2001:db8:1::7" : "198.51.100.7",
	            a.family == 6 ? "2001:db8:1::7" : "198.51.100.7", spriv, spub,
	            0);
	t.pol.allow_lprt = true;
	greet(&t);
	tquiet(&t, C, code == 229 ? "EPSV\r\n" : code == 228 ? "LPSV\r\n"
	                                                     : "PASV\r\n");
	tfeed_chunked(&t, S, reply, n, 0, &o);
	if (code == 0) {
		n_bad++;
		for (int i = 0; i < o.nev; i++)
			if (o.ev[i].data.mode != FTP_DATA_NONE)
				bad_line("%s:%u: a data connection for a bad reply",
				         file, lineno);
		return;
	}
	if (o.nev != 1)
		bad_line("%s:%u: %d events for '%s'", file, lineno, o.nev, esc);
	const struct ftp_event *e = &o.ev[0];
	if ((code == 227 || code == 228) && special(&a)) {
		n_special++;
		if (e->reason != FTP_R_BAD_ADDR || e->data.mode != FTP_DATA_NONE)
			bad_line("%s:%u: %s address not refused (%s)", file, lineno,
			         addr, ftp_reason_str(e->reason));
		return;
	}
	if (e->reason != FTP_R_NONE || e->data.mode != FTP_DATA_PASSIVE)
		bad_line("%s:%u: '%s': verdict %s reason %s", file, lineno, esc,
		         ftp_verdict_str(e->verdict), ftp_reason_str(e->reason));
	if (e->data.listen_port != pnum)
		bad_line("%s:%u: port %u, file says %lu", file, lineno,
		         e->data.listen_port, pnum);
	if (code == 229) {
		n_229++;
		assert_int_equal(e->verdict, FTP_V_PASS);
		assert_string_equal(o.out, reply);
		return;
	}
	/* the tuple, written canonically, must be in the reply and be the
	 * only thing that changed */
	assert_int_equal(ftp_addr_parse(&pub, spub), 0);
	if (code == 227) {
		n_227++;
		ftp_format_tuple(tup, sizeof(tup), &a, (uint16_t)pnum);
		ftp_format_tuple(pubtup, sizeof(pubtup), &pub, (uint16_t)pnum);
	} else {
		n_228++;
		ftp_format_long(tup, sizeof(tup), &a, (uint16_t)pnum);
		ftp_format_long(pubtup, sizeof(pubtup), &pub, (uint16_t)pnum);
	}
	const char *at = strstr(reply, tup);
	if (!at)
		bad_line("%s:%u: '%s' not found in '%s'", file, lineno, tup, esc);
	snprintf(expect, sizeof(expect), "%.*s%s%s", (int)(at - reply), reply,
	         pubtup, at + strlen(tup));
	assert_int_equal(e->verdict, FTP_V_REWRITE);
	if (strcmp(o.out, expect) != 0)
		bad_line("%s:%u: got '%s' expected '%s'", file, lineno, o.out,
		         expect);
}

static void test_corpus(void **st)
{
	const char *dir = getenv("FTPGW_CORPUS") ? getenv("FTPGW_CORPUS")
	                                         : CORPUS_DIR;
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned files = 0;
	(void)st;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], line[4096];
		size_t l = strlen(de->d_name);
		unsigned lineno = 0;
		FILE *f;

		if (l < 5 || strcmp(de->d_name + l - 4, ".txt") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		files++;
		while (fgets(line, sizeof(line), f)) {
			char *fld[4], *p = line;
			int k;

			lineno++;
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '#' || line[0] == '\0')
				continue;
			for (k = 0; k < 4 && p; k++) {
				fld[k] = p;
				p = k < 3 ? strchr(p, '\t') : NULL;
				if (p)
					*p++ = '\0';
			}
			if (k != 4)
				fail_msg("%s:%u: expected 4 tab-separated fields",
				         path, lineno);
			check_line(path, lineno, fld[0], fld[1], fld[2], fld[3]);
		}
		fclose(f);
	}
	closedir(d);
	print_message("corpus: %u files, %u x 227, %u x 229, %u x 228, %u bad, "
	              "%u refused special addresses\n", files, n_227, n_229,
	              n_228, n_bad, n_special);
	assert_int_equal(n_fail, 0);
	/* the acceptance floor: 30 distinct real 227/229 lines, 10 servers */
	assert_true(n_227 + n_229 + n_special >= 30);
	assert_true(files >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests_name("corpus", tests, NULL, NULL);
}
