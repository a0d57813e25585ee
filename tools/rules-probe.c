/*
 * rules-probe - drive src/rules.c against the running kernel (for
 * tests/tools/rules-kernel.t and for looking at the table by hand).
 *
 *   rules-probe [options] command [args]
 *
 * options:  --table NAME  --ports 21,2121  --queue N | N-M  --fail-open
 *           --no-rules  --mark 0xMARK  --backend nft|xt|auto
 * commands: open                 open the socket (checks CAP_NET_ADMIN)
 *           probe                print the queue backend: nft or xt
 *           install              probe (unless --backend) and install
 *           remove               delete the table (0 if absent)
 *           exists               print yes or no
 *           pin-add PIN...       add pinholes in one batch
 *           pin-del PIN...       delete pinholes
 *           pin-list             print the pinholes
 *           format               print the table in nft syntax (no kernel)
 *
 * PIN is saddr,daddr,dport,timeout_ms[,to_addr,to_port] (IPv4 or IPv6).
 * Errors go to stderr as "rules-probe: <message> (<errno name>)", exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static void usage(void)
{
	fprintf(stderr, "usage: rules-probe [--table N] [--ports P,P] [--queue N[-M]] "
	        "[--fail-open] [--no-rules] [--mark M] [--backend nft|xt|auto]\n"
	        "       open|probe|install|remove|exists|pin-add PIN...|"
	        "pin-del PIN...|pin-list|format\n"
	        "PIN: saddr,daddr,dport,timeout_ms[,to_addr,to_port]\n");
	exit(2);
}

static const char *ename(int e)
{
	switch (e < 0 ? -e : e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EBUSY: return "EBUSY";
	case ENOMEM: return "ENOMEM";
	case EMSGSIZE: return "EMSGSIZE";
	default: return "other";
	}
}

static int fail(const char *msg, int ret)
{
	fprintf(stderr, "rules-probe: %s (%s)\n", msg, ename(ret));
	return 1;
}

static unsigned long num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max) {
		fprintf(stderr, "rules-probe: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int addr(const char *s, uint8_t *out)
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) == 1)
		return 6;
	fprintf(stderr, "rules-probe: bad address '%s'\n", s);
	exit(2);
}

static void parse_pin(const char *spec, struct rules_pin *p)
{
	char buf[256], *f[7], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ",", &save); t && n < 7;
	     t = strtok_r(NULL, ",", &save))
		f[n++] = t;
	if (n != 4 && n != 6) {
		fprintf(stderr, "rules-probe: bad pinhole '%s'\n", spec);
		exit(2);
	}
	memset(p, 0, sizeof(*p));
	p->family = (uint8_t)addr(f[0], p->saddr);
	if (addr(f[1], p->daddr) != p->family)
		usage();
	p->dport = (uint16_t)num(f[2], 65535);
	p->timeout_ms = (uint32_t)num(f[3], UINT32_MAX);
	if (n == 6) {
		p->dnat = true;
		if (addr(f[4], p->to_addr) != p->family)
			usage();
		p->to_port = (uint16_t)num(f[5], 65535);
	}
}

static void print_pin(const struct rules_pin *p, void *arg)
{
	int af = p->family == 4 ? AF_INET : AF_INET6;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	(void)arg;
	inet_ntop(af, p->saddr, s, sizeof(s));
	inet_ntop(af, p->daddr, d, sizeof(d));
	printf("%u %s %s %u", p->family, s, d, p->dport);
	if (p->dnat) {
		char t[INET6_ADDRSTRLEN];

		inet_ntop(af, p->to_addr, t, sizeof(t));
		printf(" dnat %s %u", t, p->to_port);
	}
	printf(" expires %u\n", p->timeout_ms);
}

int main(int argc, char **argv)
{
	struct rules_cfg cfg;
	enum rules_queue_backend be = RULES_Q_NONE;
	bool be_set = false;
	struct rules *r = NULL;
	char err[256] = "";
	const char *cmd;
	int i, ret;

	rules_cfg_default(&cfg);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i];

		if (!strcmp(o, "--fail-open")) {
			cfg.fail_open = true;
		} else if (!strcmp(o, "--no-rules")) {
			cfg.no_rules = true;
		} else if (i + 1 >= argc) {
			usage();
		} else if (!strcmp(o, "--table")) {
			snprintf(cfg.table, sizeof(cfg.table), "%s", argv[++i]);
		} else if (!strcmp(o, "--mark")) {
			cfg.accept_mark = (uint32_t)num(argv[++i], UINT32_MAX);
		} else if (!strcmp(o, "--queue")) {
			char buf[32], *dash;

			snprintf(buf, sizeof(buf), "%s", argv[++i]);
			dash = strchr(buf, '-');
			if (dash)
				*dash++ = '\0';
			cfg.queue_lo = (uint16_t)num(buf, 65535);
			cfg.queue_hi = dash ? (uint16_t)num(dash, 65535) : cfg.queue_lo;
		} else if (!strcmp(o, "--ports")) {
			char buf[128], *save = NULL;

			snprintf(buf, sizeof(buf), "%s", argv[++i]);
			cfg.n_ctl_ports = 0;
			for (char *t = strtok_r(buf, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (cfg.n_ctl_ports >= RULES_MAX_CTL_PORTS)
					usage();
				cfg.ctl_ports[cfg.n_ctl_ports++] = (uint16_t)num(t, 65535);
			}
		} else if (!strcmp(o, "--backend")) {
			const char *b = argv[++i];

			be_set = strcmp(b, "auto") != 0;
			if (!strcmp(b, "nft"))
				be = RULES_Q_NFT;
			else if (!strcmp(b, "xt"))
				be = RULES_Q_XT;
			else if (be_set)
				usage();
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();
	cmd = argv[i++];

	if (!strcmp(cmd, "format")) {
		static char out[65536];

		if (!be_set)
			be = RULES_Q_NFT;
		if (rules_format_nft(&cfg, be, out, sizeof(out)) == 0)
			return fail("format: bad configuration", -EINVAL);
		fputs(out, stdout);
		return 0;
	}

	ret = rules_open(&r, &cfg, err, sizeof(err));
	if (ret < 0)
		return fail(err, ret);

	if (!strcmp(cmd, "open")) {
		ret = 0;
	} else if (!strcmp(cmd, "probe")) {
		ret = rules_probe_queue(r, &be, err, sizeof(err));
		if (ret == 0)
			printf("%s\n", be == RULES_Q_NFT ? "nft" : "xt");
	} else if (!strcmp(cmd, "install")) {
		ret = 0;
		if (!be_set && !cfg.no_rules)
			ret = rules_probe_queue(r, &be, err, sizeof(err));
		if (ret == 0)
			ret = rules_install(r, be, err, sizeof(err));
	} else if (!strcmp(cmd, "remove")) {
		ret = rules_remove(r);
		snprintf(err, sizeof(err), "remove: %s", strerror(-ret));
	} else if (!strcmp(cmd, "exists")) {
		bool e = false;

		ret = rules_table_exists(r, &e);
		snprintf(err, sizeof(err), "exists: %s", strerror(-ret));
		if (ret == 0)
			printf("%s\n", e ? "yes" : "no");
	} else if (!strcmp(cmd, "pin-add") || !strcmp(cmd, "pin-del")) {
		size_t n = (size_t)(argc - i);
		struct rules_pin *p = calloc(n ? n : 1, sizeof(*p));
		int bad = -1;

		if (!p)
			return fail("out of memory", -ENOMEM);
		for (size_t k = 0; k < n; k++)
			parse_pin(argv[i + (int)k], &p[k]);
		if (cmd[4] == 'a') {
			ret = rules_pin_add(r, p, n, &bad, err, sizeof(err));
			if (ret < 0)
				fprintf(stderr, "rules-probe: bad index %d\n", bad);
		} else {
			ret = rules_pin_del(r, p, n);
			snprintf(err, sizeof(err), "pin-del: %s", strerror(-ret));
		}
		free(p);
	} else if (!strcmp(cmd, "pin-list")) {
		ret = rules_pin_list(r, print_pin, NULL);
		snprintf(err, sizeof(err), "pin-list: %s", strerror(-ret));
	} else {
		rules_close(r);
		usage();
	}
	rules_close(r);
	if (ret < 0)
		return fail(err, ret);
	return 0;
}
