/*
 * fuzz_ftp_feed - the FTP core's session state machine.
 * Input: byte 0 picks the policy and session flags; then records of
 * [dir+len byte][bytes], fed in that chunking. Aborts if an event breaks
 * the core's contract (edit outside its line, a data connection for an
 * address that is not the endpoint's own, a privileged data port).
 */
#include <stdlib.h>
#include <string.h>

#include "ftp.h"

static void check(const struct ftp_sess *s, const struct ftp_event *ev,
                  const struct ftp_policy *p)
{
	const struct ftp_endpoints *ep = &s->ep;

	if (ev->verdict > FTP_V_RESET || ev->reason >= FTP_R__COUNT ||
	    ev->out_len > FTP_OUT_MAX)
		abort();
	if (ev->verdict == FTP_V_REWRITE || ev->verdict == FTP_V_REJECT) {
		if (ev->edit_start < ev->line_start ||
		    ev->edit_start + ev->edit_len > ev->line_start + ev->line_len)
			abort();
	}
	if (ev->data.mode == FTP_DATA_NONE)
		return;
	if (ev->verdict != FTP_V_PASS && ev->verdict != FTP_V_REWRITE)
		abort();
	if (ev->data.listen_port == 0 ||
	    (ev->data.listen_port < 1024 && !p->allow_low_ports &&
	     p->n_low_port_exc == 0))
		abort();
	if (ev->data.mode == FTP_DATA_ACTIVE
	    ? !ftp_addr_eq(&ev->data.listen_addr, &ep->client_priv) ||
	      !ftp_addr_eq(&ev->data.pub_addr, &ep->client_pub)
	    : !ftp_addr_eq(&ev->data.listen_addr, &ep->server_priv) ||
	      !ftp_addr_eq(&ev->data.pub_addr, &ep->server_pub))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ftp_policy pol;
	struct ftp_endpoints ep;
	struct ftp_sess s;
	struct ftp_event ev;
	uint8_t sel;
	size_t i = 1;

	if (size < 1)
		return 0;
	sel = data[0];
	ftp_policy_default(&pol);
	pol.max_line = (sel & 0x01) ? 64 : 1024;
	pol.allow_fxp = sel & 0x02;
	pol.allow_lprt = sel & 0x04;
	pol.allow_foreign_pasv = sel & 0x08;
	pol.on_malformed = (sel & 0x10) ? FTP_ACT_PASS : FTP_ACT_REJECT;
	memset(&ep, 0, sizeof(ep));
	if (sel & 0x20) {
		ftp_addr_parse(&ep.client_priv, "2001:db8:1::10");
		ep.client_pub = ep.client_priv;
		ftp_addr_parse(&ep.server_priv, "2001:db8:2::5");
		ep.server_pub = ep.server_priv;
	} else {
		ftp_addr_parse(&ep.client_priv, "192.168.1.10");
		ftp_addr_parse(&ep.client_pub, "203.0.113.1");
		ftp_addr_parse(&ep.server_priv, "10.0.0.5");
		ftp_addr_parse(&ep.server_pub, "198.51.100.5");
	}
	ftp_sess_init(&s, &pol, &ep, ((sel & 0x40) ? FTP_SESS_MIDSTREAM : 0) |
	                              ((sel & 0x80) ? FTP_SESS_REPORT_ALL : 0));
	while (i < size) {
		enum ftp_dir dir = (data[i] & 0x80) ? FTP_DIR_SERVER
		                                    : FTP_DIR_CLIENT;
		size_t n = data[i] & 0x7f, off = 0, used;
		uint64_t ls;

		i++;
		if (n == 0 || n > size - i)
			n = size - i;
		while (off < n) {
			if (!ftp_feed(&s, dir, data + i + off, n - off, &used, &ev))
				break;
			if (used > n - off)
				abort();
			off += used;
			check(&s, &ev, &pol);
		}
		if (ftp_partial(&s, dir, &ls) > 2 || ls > s.d[dir].off)
			abort();
		i += n;
	}
	return 0;
}
