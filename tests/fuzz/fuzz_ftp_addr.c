/*
 * fuzz_ftp_addr - the address argument parsers. Whatever parses must
 * format and parse back to the same address and port.
 */
#include <stdlib.h>

#include "ftp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct ftp_addr a, b;
	uint16_t p, q;
	char buf[FTP_OUT_MAX], d, e;
	int n;

	if (ftp_parse_tuple(s, size, &a, &p) == 0) {
		n = ftp_format_tuple(buf, sizeof(buf), &a, p);
		if (n < 0 || ftp_parse_tuple(buf, (size_t)n, &b, &q) != 0 ||
		    !ftp_addr_eq(&a, &b) || p != q)
			abort();
	}
	if (ftp_parse_ext(s, size, &a, &p, &d) == 0) {
		n = ftp_format_ext(buf, sizeof(buf), &a, p, d);
		if (n < 0 || ftp_parse_ext(buf, (size_t)n, &b, &q, &e) != 0 ||
		    !ftp_addr_eq(&a, &b) || p != q || d != e)
			abort();
	}
	if (ftp_parse_long(s, size, &a, &p) == 0) {
		n = ftp_format_long(buf, sizeof(buf), &a, p);
		if (n < 0 || ftp_parse_long(buf, (size_t)n, &b, &q) != 0 ||
		    !ftp_addr_eq(&a, &b) || p != q)
			abort();
	}
	if (ftp_parse_extport(s, size, &p, &d) == 0 && p > 65535)
		abort();
	return 0;
}
