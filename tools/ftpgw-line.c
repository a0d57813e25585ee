/*
 * ftpgw-line - what would the gateway do with this control line?
 *
 * Reads lines "C: <command>" (client to server) and "S: <reply>" (server to
 * client) from stdin, feeds them through the same FTP core and session
 * state the daemon uses, and prints one JSON object per input line.
 * See ftpgw-line(1).
 */
#include "ftp.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: ftpgw-line --client-private ADDR [--client-public ADDR]\n"
	      "                  --server-private ADDR [--server-public ADDR]\n"
	      "                  [--policy KEY=VALUE ...] [--midstream]\n"
	      "                  [--escapes] [--show-policy]\n"
	      "Reads 'C: <command>' and 'S: <reply>' lines on stdin; prints one\n"
	      "JSON object per line. See ftpgw-line(1).\n", f);
}

static void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode \\ \r \n \t \xHH in place; returns the new length. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 >= n) {
			s[o++] = s[i];
			continue;
		}
		char e = s[++i];
		if (e == 'r')
			s[o++] = '\r';
		else if (e == 'n')
			s[o++] = '\n';
		else if (e == 't')
			s[o++] = '\t';
		else if (e == 'x' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		         hexval(s[i + 2]) >= 0) {
			s[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else
			s[o++] = e;
	}
	return o;
}

static int verdict_rank(uint8_t v)
{
	static const int rank[] = { [FTP_V_PASS] = 0, [FTP_V_REWRITE] = 1,
	                            [FTP_V_REJECT] = 2, [FTP_V_RESET] = 3 };
	return v <= FTP_V_RESET ? rank[v] : 0;
}

static void print_data(FILE *f, const struct ftp_endpoints *ep,
                       const struct ftp_data *d)
{
	char a[64], b[64], c[64];
	bool active = d->mode == FTP_DATA_ACTIVE;

	/* the connecting side: the server (active) or the client (passive),
	 * as the listener's side sees it */
	ftp_addr_str(active ? &ep->server_priv : &ep->client_priv, a,
	             sizeof(a));
	ftp_addr_str(&d->pub_addr, b, sizeof(b));
	ftp_addr_str(&d->listen_addr, c, sizeof(c));
	fprintf(f, ",\"data\":{\"mode\":\"%s\",\"family\":\"ipv%u\","
	        "\"from\":\"%s\",\"to\":\"%s\",\"to_port\":%u,"
	        "\"listener\":\"%s\",\"listener_port\":%u}",
	        active ? "active" : "passive", d->listen_addr.family, a, b,
	        d->pub_port, c, d->listen_port);
}

struct edit {
	size_t start, len;
	char out[FTP_OUT_MAX];
	size_t out_len;
};

static int run(struct ftp_sess *s, const struct ftp_endpoints *ep,
               bool escapes)
{
	char *line = NULL, *out = NULL;
	size_t cap = 0, outcap = 0;
	ssize_t got;
	unsigned long lineno = 0;
	int rc = 0;

	while ((got = getline(&line, &cap, stdin)) >= 0) {
		size_t n = (size_t)got;
		enum ftp_dir dir;
		struct ftp_event ev, keep;
		uint8_t verdict = FTP_V_PASS, reason = FTP_R_NONE;
		bool have_data = false, encrypted = false;
		struct edit ed[4];
		unsigned ned = 0;
		uint64_t base;
		char *p;
		size_t plen, off = 0, used, o;

		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (n < 2 || (line[0] != 'C' && line[0] != 'S') ||
		    line[1] != ':') {
			fprintf(stderr, "ftpgw-line: stdin:%lu: expected 'C: ' "
			        "or 'S: ' before the line\n", lineno);
			rc = 1;
			continue;
		}
		dir = line[0] == 'C' ? FTP_DIR_CLIENT : FTP_DIR_SERVER;
		p = line + 2;
		plen = n - 2;
		if (plen && *p == ' ') {
			p++;
			plen--;
		}
		if (escapes)
			plen = unescape(p, plen);
		if (plen + 2 > cap) {
			char *nl = realloc(line, plen + 3);
			if (!nl) {
				perror("ftpgw-line");
				free(line);
				free(out);
				return 2;
			}
			p = nl + (p - line);
			line = nl;
			cap = plen + 3;
		}
		p[plen] = '\r';
		p[plen + 1] = '\n';
		{
			uint64_t dummy;
			ftp_partial(s, dir, &dummy);
			base = dummy;
		}
		while (off < plen + 2) {
			if (!ftp_feed(s, dir, (const uint8_t *)p + off,
			              plen + 2 - off, &used, &ev)) {
				off = plen + 2;
				break;
			}
			off += used;
			if (verdict_rank(ev.verdict) > verdict_rank(verdict))
				verdict = ev.verdict;
			if (reason == FTP_R_NONE && ev.reason != FTP_R_NONE)
				reason = ev.reason;
			if (ev.flags & FTP_EVF_ENCRYPTED)
				encrypted = true;
			if (ev.data.mode != FTP_DATA_NONE) {
				keep = ev;
				have_data = true;
			}
			if ((ev.verdict == FTP_V_REWRITE ||
			     ev.verdict == FTP_V_REJECT) && ned < 4 &&
			    ev.edit_start >= base &&
			    ev.edit_start + ev.edit_len <= base + plen + 2) {
				ed[ned].start = (size_t)(ev.edit_start - base);
				ed[ned].len = ev.edit_len;
				memcpy(ed[ned].out, ev.out, ev.out_len);
				ed[ned].out_len = ev.out_len;
				ned++;
			}
		}
		if (reason == FTP_R_NONE && !encrypted && ftp_sess_encrypted(s))
			reason = FTP_R_TLS;   /* inside TLS: not inspected */
		/* apply edits (in order, none overlap) */
		if (outcap < plen + 2 + ned * FTP_OUT_MAX) {
			outcap = plen + 2 + ned * FTP_OUT_MAX;
			char *no = realloc(out, outcap);
			if (!no) {
				perror("ftpgw-line");
				free(line);
				free(out);
				return 2;
			}
			out = no;
		}
		o = 0;
		{
			size_t pos = 0;
			for (unsigned k = 0; k < ned; k++) {
				memcpy(out + o, p + pos, ed[k].start - pos);
				o += ed[k].start - pos;
				memcpy(out + o, ed[k].out, ed[k].out_len);
				o += ed[k].out_len;
				pos = ed[k].start + ed[k].len;
			}
			memcpy(out + o, p + pos, plen + 2 - pos);
			o += plen + 2 - pos;
		}
		while (o && (out[o - 1] == '\n' || out[o - 1] == '\r'))
			o--;
		printf("{\"dir\":\"%c\",\"verdict\":\"%s\",\"line\":", line[0],
		       ftp_verdict_str(verdict));
		json_str(stdout, out, o);
		if (reason != FTP_R_NONE)
			printf(",\"reason\":\"%s\"", ftp_reason_str(reason));
		if (have_data && verdict != FTP_V_REJECT &&
		    verdict != FTP_V_RESET)
			print_data(stdout, ep, &keep.data);
		fputs("}\n", stdout);
	}
	free(line);
	free(out);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client-private", required_argument, NULL, 'a' },
		{ "client-public", required_argument, NULL, 'b' },
		{ "server-private", required_argument, NULL, 'c' },
		{ "server-public", required_argument, NULL, 'd' },
		{ "policy", required_argument, NULL, 'p' },
		{ "midstream", no_argument, NULL, 'm' },
		{ "escapes", no_argument, NULL, 'e' },
		{ "show-policy", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cpriv = NULL, *cpub = NULL, *spriv = NULL, *spub = NULL;
	struct ftp_policy pol;
	struct ftp_endpoints ep;
	struct ftp_sess s;
	bool escapes = false, show = false;
	unsigned flags = FTP_SESS_REPORT_ALL;
	int c;

	ftp_policy_default(&pol);
	while ((c = getopt_long(argc, argv, "hem", opts, NULL)) != -1) {
		char err[160], *eq;
		switch (c) {
		case 'a': cpriv = optarg; break;
		case 'b': cpub = optarg; break;
		case 'c': spriv = optarg; break;
		case 'd': spub = optarg; break;
		case 'm': flags |= FTP_SESS_MIDSTREAM; break;
		case 'e': escapes = true; break;
		case 's': show = true; break;
		case 'p':
			eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "ftpgw-line: --policy %s: expected "
				        "KEY=VALUE\n", optarg);
				return 2;
			}
			*eq = '\0';
			if (ftp_policy_set(&pol, optarg, eq + 1, err,
			                   sizeof(err)) < 0) {
				fprintf(stderr, "ftpgw-line: --policy %s: %s\n",
				        optarg, err);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (show) {
		char buf[1024];
		ftp_policy_format(&pol, buf, sizeof(buf));
		fputs(buf, stdout);
		return 0;
	}
	if (optind != argc || !cpriv || !spriv) {
		usage(stderr);
		return 2;
	}
	memset(&ep, 0, sizeof(ep));
	if (ftp_addr_parse(&ep.client_priv, cpriv) < 0 ||
	    ftp_addr_parse(&ep.client_pub, cpub ? cpub : cpriv) < 0 ||
	    ftp_addr_parse(&ep.server_priv, spriv) < 0 ||
	    ftp_addr_parse(&ep.server_pub, spub ? spub : spriv) < 0) {
		fprintf(stderr, "ftpgw-line: an address is not IPv4 or IPv6\n");
		return 2;
	}
	if (ep.client_priv.family != ep.client_pub.family ||
	    ep.client_priv.family != ep.server_priv.family ||
	    ep.client_priv.family != ep.server_pub.family) {
		fprintf(stderr, "ftpgw-line: all four addresses must be of "
		        "one family (a control connection has one)\n");
		return 2;
	}
	ftp_sess_init(&s, &pol, &ep, flags);
	return run(&s, &ep, escapes);
}
