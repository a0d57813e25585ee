/* conf.c - see include/conf.h */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void conf_default(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	ftp_policy_default(&c->pol);
	path_cfg_default(&c->path);
	rules_cfg_default(&c->rules);
	c->path.pol = &c->pol;
}

static int num(const char *s, unsigned long lo, unsigned long hi,
               unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int yesno(const char *s, bool *b)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") ||
	    !strcmp(s, "1"))
		*b = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") ||
	         !strcmp(s, "0"))
		*b = false;
	else
		return -1;
	return 0;
}

static int ports(const char *s, struct conf *c)
{
	char buf[128], *tok, *save = NULL;
	unsigned n = 0;
	unsigned long v;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == RULES_MAX_CTL_PORTS || num(tok, 1, 65535, &v) < 0)
			return -1;
		c->rules.ctl_ports[n] = (uint16_t)v;
		c->path.ctl_ports[n] = (uint16_t)v;
		n++;
	}
	if (n == 0)
		return -1;
	c->rules.n_ctl_ports = n;
	c->path.n_ctl_ports = n;
	return 0;
}

int conf_set(struct conf *c, const char *key, const char *val, char *err,
             size_t errlen)
{
	unsigned long v, w;
	const char *colon;

	if (!strcmp(key, "queue")) {
		colon = strchr(val, ':');
		if (colon) {
			char lo[8];
			size_t n = (size_t)(colon - val);
			if (n == 0 || n >= sizeof(lo))
				goto bad_queue;
			memcpy(lo, val, n);
			lo[n] = '\0';
			if (num(lo, 0, 65535, &v) < 0 || num(colon + 1, 0, 65535, &w) < 0 ||
			    w < v || w - v > 63)
				goto bad_queue;
		} else {
			if (num(val, 0, 65535, &v) < 0)
				goto bad_queue;
			w = v;
		}
		c->rules.queue_lo = (uint16_t)v;
		c->rules.queue_hi = (uint16_t)w;
		return 0;
bad_queue:
		snprintf(err, errlen, "queue: '%s' is not N or N:M (0-65535, at "
		         "most 64 queues)", val);
		return -1;
	}
	if (!strcmp(key, "cpus")) {
		/* a list of CPU numbers, worker i pinned to the i-th (cycling) */
		const char *q = val;
		unsigned n = 0;
		while (*q) {
			char one[8];
			size_t k = strcspn(q, ",");
			if (k == 0 || k >= sizeof(one) || n == CONF_MAX_CPUS)
				goto bad_cpus;
			memcpy(one, q, k);
			one[k] = '\0';
			if (num(one, 0, 4095, &v) < 0)
				goto bad_cpus;
			c->cpus[n++] = (uint16_t)v;
			q += k;
			if (*q == ',' && *++q == '\0')
				goto bad_cpus;
		}
		if (n == 0)
			goto bad_cpus;
		c->ncpus = n;
		return 0;
bad_cpus:
		snprintf(err, errlen, "cpus: '%s' is not a list of CPU numbers "
		         "(0-4095, at most %u, comma-separated)", val,
		         (unsigned)CONF_MAX_CPUS);
		return -1;
	}
	if (!strcmp(key, "public-address")) {
		struct ftp_addr a;
		if (ftp_addr_parse(&a, val) < 0) {
			snprintf(err, errlen, "public-address: '%s' is not an "
			         "IPv4 or IPv6 address", val);
			return -1;
		}
		if (a.family == 4)
			c->path.public4 = a;
		else
			c->path.public6 = a;
		return 0;
	}
	if (!strcmp(key, "wan-interface")) {
		bool ok = *val && strlen(val) < sizeof(c->wan_if);
		for (const char *q = val; ok && *q; q++)
			ok = isalnum((unsigned char)*q) || strchr("_.@-", *q);
		if (!ok) {
			snprintf(err, errlen, "wan-interface: '%s' is not an "
			         "interface name", val);
			return -1;
		}
		strcpy(c->wan_if, val);
		strcpy(c->path.wan_if, val);
		return 0;
	}
	if (!strcmp(key, "public-ports")) {
		char lo[8];
		const char *dash = strchr(val, '-');
		size_t n = dash ? (size_t)(dash - val) : 0;
		if (!dash || n == 0 || n >= sizeof(lo))
			goto bad_range;
		memcpy(lo, val, n);
		lo[n] = '\0';
		if (num(lo, 1024, 65535, &v) < 0 || num(dash + 1, 1024, 65535, &w) < 0 ||
		    w < v)
			goto bad_range;
		c->public_ports.lo = (uint16_t)v;
		c->public_ports.hi = (uint16_t)w;
		c->path.public_ports = c->public_ports;
		return 0;
bad_range:
		snprintf(err, errlen, "public-ports: '%s' is not LO-HI within "
		         "1024-65535", val);
		return -1;
	}
	if (!strcmp(key, "control-ports")) {
		if (ports(val, c) < 0) {
			snprintf(err, errlen, "control-ports: '%s' is not a list of "
			         "up to 16 ports", val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "table")) {
		size_t n = strlen(val);
		bool ok = n > 0 && n < sizeof(c->rules.table);
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)val[i]) || val[i] == '_' ||
			     val[i] == '-';
		if (!ok) {
			snprintf(err, errlen, "table: '%s' is not a name of up to "
			         "31 letters, digits, '-' or '_'", val);
			return -1;
		}
		strcpy(c->rules.table, val);
		return 0;
	}
	if (!strcmp(key, "no-rules") || !strcmp(key, "fail-open") ||
	    !strcmp(key, "foreground")) {
		bool *b = key[0] == 'n' ? &c->rules.no_rules
		          : key[0] == 'f' && key[1] == 'a' ? &c->rules.fail_open
		          : &c->foreground;
		if (yesno(val, b) < 0) {
			snprintf(err, errlen, "%s: '%s' is not yes or no", key, val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "accept-mark")) {
		if (num(val, 1, 0xffffffffUL, &v) < 0) {
			snprintf(err, errlen, "accept-mark: '%s' is not a non-zero "
			         "32-bit mask (e.g. 0x00100000)", val);
			return -1;
		}
		c->rules.accept_mark = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "ack-mark")) {
		if (num(val, 0, 0xffffffffUL, &v) < 0) {
			snprintf(err, errlen, "ack-mark: '%s' is not a 32-bit mask "
			         "(e.g. 0x00200000; 0: queue every control packet)",
			         val);
			return -1;
		}
		c->rules.ack_mark = (uint32_t)v;
		c->path.ack_mark = (uint32_t)v;
		return 0;
	}
	{
		static const struct { const char *k; unsigned long lo, hi; } nk[] = {
			{ "pin-timeout", 1, 3600 }, { "idle-timeout", 10, 604800 },
			{ "max-sessions", 1, 1000000 }, { "per-client", 0, 1000000 },
			{ "verbose", 0, 3 },
		};
		for (size_t i = 0; i < sizeof(nk) / sizeof(nk[0]); i++) {
			if (strcmp(key, nk[i].k))
				continue;
			if (num(val, nk[i].lo, nk[i].hi, &v) < 0) {
				snprintf(err, errlen, "%s: '%s' is not a number from "
				         "%lu to %lu", key, val, nk[i].lo, nk[i].hi);
				return -1;
			}
			switch (i) {
			case 0: c->path.pin_timeout_ms = (uint32_t)v * 1000; break;
			case 1: c->path.idle_timeout_s = (uint32_t)v; break;
			case 2: c->path.max_sessions = (uint32_t)v; break;
			case 3: c->path.per_client = (uint32_t)v; break;
			default: c->verbose = (int)v; break;
			}
			return 0;
		}
	}
	return ftp_policy_set(&c->pol, key, val, err, errlen);
}

int conf_line(struct conf *c, const char *line, char *err, size_t errlen)
{
	char buf[512], *p, *key, *val, *end;

	if (strlen(line) >= sizeof(buf)) {
		snprintf(err, errlen, "line too long");
		return -1;
	}
	for (const char *q = line; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			snprintf(err, errlen, "control character 0x%02x in the line",
			         (unsigned char)*q);
			return -1;
		}
	strcpy(buf, line);
	p = strchr(buf, '#');
	if (p)
		*p = '\0';
	for (p = buf; isspace((unsigned char)*p); p++)
		;
	if (!*p)
		return 0;
	key = p;
	while (*p && !isspace((unsigned char)*p) && *p != '=')
		p++;
	if (*p) {
		*p++ = '\0';
		while (isspace((unsigned char)*p) || *p == '=')
			p++;
	}
	val = p;
	end = val + strlen(val);
	while (end > val && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*val) {
		snprintf(err, errlen, "%s: missing value", key);
		return -1;
	}
	return conf_set(c, key, val, err, errlen);
}

int conf_load(struct conf *c, const char *path, FILE *errf)
{
	char line[1024], err[256];
	unsigned lineno = 0;
	int errors = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(errf, "ftpgwd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		lineno++;
		if (n && line[n - 1] != '\n' && !feof(f)) {
			int ch;
			fprintf(errf, "%s:%u: line too long\n", path, lineno);
			errors++;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (conf_line(c, line, err, sizeof(err)) < 0) {
			fprintf(errf, "%s:%u: %s\n", path, lineno, err);
			errors++;
		}
	}
	fclose(f);
	return errors;
}

void conf_print(const struct conf *c, FILE *f)
{
	char buf[1024], a[64];

	fprintf(f, "table %s\nqueue %u:%u\ncontrol-ports ", c->rules.table,
	        c->rules.queue_lo, c->rules.queue_hi);
	for (unsigned i = 0; i < c->rules.n_ctl_ports; i++)
		fprintf(f, "%s%u", i ? "," : "", c->rules.ctl_ports[i]);
	fprintf(f, "\nno-rules %s\nfail-open %s\naccept-mark 0x%08x\n"
	        "ack-mark 0x%08x\n", c->rules.no_rules ? "yes" : "no",
	        c->rules.fail_open ? "yes" : "no", c->rules.accept_mark,
	        c->rules.ack_mark);
	if (c->path.public4.family)
		fprintf(f, "public-address %s\n",
		        ftp_addr_str(&c->path.public4, a, sizeof(a)));
	if (c->path.public6.family)
		fprintf(f, "public-address %s\n",
		        ftp_addr_str(&c->path.public6, a, sizeof(a)));
	if (c->wan_if[0])
		fprintf(f, "wan-interface %s\n", c->wan_if);
	for (unsigned i = 0; i < c->ncpus; i++)
		fprintf(f, "%s%u%s", i ? "," : "cpus ", c->cpus[i],
		        i + 1 == c->ncpus ? "\n" : "");
	if (c->public_ports.lo)
		fprintf(f, "public-ports %u-%u\n", c->public_ports.lo,
		        c->public_ports.hi);
	fprintf(f, "pin-timeout %u\nidle-timeout %u\nmax-sessions %u\n"
	        "per-client %u\n", c->path.pin_timeout_ms / 1000,
	        c->path.idle_timeout_s, c->path.max_sessions, c->path.per_client);
	ftp_policy_format(&c->pol, buf, sizeof(buf));
	for (char *l = buf; *l;) {
		char *nl = strchr(l, '\n'), *eq = strchr(l, '=');
		if (!nl || !eq)
			break;
		fprintf(f, "%.*s %.*s\n", (int)(eq - l), l, (int)(nl - eq - 1), eq + 1);
		l = nl + 1;
	}
}
