/*
 * pinbench - what pinholes cost: add and remove N one-shot elements
 * through src/rules.c (the daemon's code: pin4 set elements with a
 * timeout), in batches of B and one by one.
 *
 *   pinbench [--pins N] [--batch B] [--dnat]
 *
 * Runs in a network namespace of its own (unshare, needs root) with the
 * table installed there without queue rules, so nothing outside changes.
 * Prints one JSON object: pins, batch, and for each of batch_add,
 * batch_del, single_add, single_del the total milliseconds and the
 * microseconds per element. Checks with rules_pin_list() that all N were
 * there after each add and none after each remove.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void count_pin(const struct rules_pin *p, void *arg)
{
	(void)p;
	(*(size_t *)arg)++;
}

static int listed(struct rules *r, size_t *n)
{
	*n = 0;
	return rules_pin_list(r, count_pin, n);
}

/* add (del=0) or remove pins [0, n) in calls of b */
static double run(struct rules *r, const struct rules_pin *p, size_t n,
                  size_t b, int del)
{
	char err[256];
	double t0 = now_ms();

	for (size_t i = 0; i < n; i += b) {
		size_t m = n - i < b ? n - i : b;
		int bad, rc = del ? rules_pin_del(r, p + i, m)
		                  : rules_pin_add(r, p + i, m, &bad, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "pinbench: %s at %zu: %s\n", del ? "del" : "add",
			        i, del ? strerror(-rc) : err);
			exit(1);
		}
	}
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	struct rules_cfg cfg;
	struct rules *r = NULL;
	struct rules_pin *p;
	size_t n = 10000, b = 256, have;
	bool dnat = false;
	char err[256];
	double t[4];
	static const char *names[4] = { "batch_add", "batch_del", "single_add",
	                                "single_del" };

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--pins") && a + 1 < argc)
			n = strtoul(argv[++a], NULL, 10);
		else if (!strcmp(argv[a], "--batch") && a + 1 < argc)
			b = strtoul(argv[++a], NULL, 10);
		else if (!strcmp(argv[a], "--dnat"))
			dnat = true;
		else {
			fprintf(stderr, "usage: pinbench [--pins N] [--batch B] "
			        "[--dnat]\n");
			return 2;
		}
	}
	if (n == 0 || n > 60000 || b == 0) {
		fprintf(stderr, "pinbench: need 0 < pins <= 60000 and batch > 0\n");
		return 2;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "pinbench: unshare(CLONE_NEWNET): %s (needs root)\n",
		        strerror(errno));
		return 1;
	}
	rules_cfg_default(&cfg);
	cfg.no_rules = true;
	if (rules_open(&r, &cfg, err, sizeof(err)) < 0 ||
	    rules_install(r, RULES_Q_NONE, err, sizeof(err)) < 0) {
		fprintf(stderr, "pinbench: %s\n", err);
		return 1;
	}
	p = calloc(n, sizeof(*p));
	if (!p)
		return 1;
	for (size_t i = 0; i < n; i++) {
		p[i].family = 4;
		p[i].saddr[0] = 203; p[i].saddr[2] = 113; p[i].saddr[3] = 5;
		p[i].daddr[0] = 198; p[i].daddr[1] = 51;
		p[i].daddr[2] = (uint8_t)(100 + i / 50000);
		p[i].daddr[3] = 1;
		p[i].dport = (uint16_t)(1024 + i % 50000);
		p[i].timeout_ms = 300000;
		if (dnat) {
			p[i].dnat = true;
			p[i].to_addr[0] = 10; p[i].to_addr[3] = 5;
			p[i].to_port = p[i].dport;
		}
	}
	for (int k = 0; k < 4; k++) {
		t[k] = run(r, p, n, k < 2 ? b : 1, k & 1);
		if (listed(r, &have) < 0 || have != ((k & 1) ? 0 : n)) {
			fprintf(stderr, "pinbench: after %s %zu pinholes listed, "
			        "expected %zu\n", names[k], have, (k & 1) ? 0 : n);
			return 1;
		}
	}
	printf("{\"pins\":%zu,\"batch\":%zu,\"dnat\":%s", n, b,
	       dnat ? "true" : "false");
	for (int k = 0; k < 4; k++)
		printf(",\"%s_ms\":%.1f,\"%s_us_per_pin\":%.2f", names[k], t[k],
		       names[k], t[k] * 1000.0 / (double)n);
	printf("}\n");
	rules_remove(r);
	rules_close(r);
	free(p);
	return 0;
}
