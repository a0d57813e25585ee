/*
 * ftpgwd.c - the daemon: options, start-up, one worker thread per queue,
 * shutdown. See ftpgwd(8).
 */
#define _GNU_SOURCE   /* pthread_setaffinity_np */
#include <errno.h>
#include <sched.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ct.h"
#include "log.h"
#include "path.h"
#include "queue.h"
#include "rules.h"

#define MAX_QUEUES 64

static volatile sig_atomic_t stop_flag, dump_flag;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_flag = 1;
	else
		stop_flag = 1;
}

struct worker {
	pthread_t th;
	uint16_t num;
	struct queue *q;
	struct rules *r;
	struct ct *ct;
	struct path_worker *pw;
	int cpu;                    /* -1: not pinned */
	bool started;
};


static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t last_tick = 0;

	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			log_warn("queue %u: cannot run on CPU %d (cpus)", w->num,
			         w->cpu);
	}

	/* no poll(): queue_recv() waits up to 1 s itself (one system call
	 * less per wake-up); the packet path reads the clock per packet */
	if (queue_set_wait(w->q, 1000) < 0)
		log_warn("queue %u: no receive timeout: shutdown and timers wait "
		         "for the next packet", w->num);
	while (!stop_flag) {
		int rc = queue_recv(w->q, path_packet, w->pw);
		uint64_t t = path_clock_ms();   /* the packets' clock */

		if (rc == -ENOBUFS && log_ratelimit(0))
			log_warn("queue %u: the kernel dropped packets "
			         "(receive buffer full)", w->num);
		if (t - last_tick >= 1000) {
			path_tick(w->pw, t);
			last_tick = t;
		}
	}
	return NULL;
}

static void usage(FILE *f)
{
	fputs("usage: ftpgwd [-f|--foreground] [-c|--config FILE] [--queue N | "
	      "--queue N:M]\n"
	      "              [--public-address ADDR] [--wan-interface IF]\n"
	      "              [--public-ports LO-HI] [--control-ports 21,2121]\n"
	      "              [--table NAME] [--no-rules] [--fail-open]\n"
	      "              [--accept-mark MASK] [--ack-mark MASK]\n"
	      "              [--cpus C,C,...]\n"
	      "              [--policy KEY=VALUE]\n"
	      "              [--check-config] [-v|--verbose]\n"
	      "See ftpgwd(8).\n", f);
}

static const struct option opts[] = {
	{ "foreground", no_argument, NULL, 'f' },
	{ "config", required_argument, NULL, 'c' },
	{ "queue", required_argument, NULL, 1 },
	{ "public-address", required_argument, NULL, 1 },
	{ "wan-interface", required_argument, NULL, 1 },
	{ "public-ports", required_argument, NULL, 1 },
	{ "control-ports", required_argument, NULL, 1 },
	{ "table", required_argument, NULL, 1 },
	{ "no-rules", no_argument, NULL, 2 },
	{ "fail-open", no_argument, NULL, 2 },
	{ "accept-mark", required_argument, NULL, 1 },
	{ "ack-mark", required_argument, NULL, 1 },
	{ "cpus", required_argument, NULL, 1 },
	{ "policy", required_argument, NULL, 'p' },
	{ "check-config", no_argument, NULL, 'C' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Apply the command line to c; pass 0 only finds -c and --help. */
static int parse_args(int argc, char **argv, struct conf *c, int pass,
                      const char **config, bool *check)
{
	char err[256];
	int ch, idx = -1, errors = 0;

	optind = 1;
	opterr = pass == 0;
	while ((ch = getopt_long(argc, argv, "fc:vhp:", opts, &idx)) != -1) {
		const char *key = idx >= 0 ? opts[idx].name : "";
		char *eq;

		if (pass == 0) {
			if (ch == 'c')
				*config = optarg;
			else if (ch == 'h') {
				usage(stdout);
				exit(0);
			} else if (ch == '?') {
				usage(stderr);
				exit(2);
			}
			idx = -1;
			continue;
		}
		switch (ch) {
		case 'f': c->foreground = true; break;
		case 'v': c->verbose++; break;
		case 'C': *check = true; break;
		case 'c': break;
		case 1:
			if (conf_set(c, key, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "ftpgwd: --%s\n", err);
				errors++;
			}
			break;
		case 2:
			conf_set(c, key, "yes", err, sizeof(err));
			break;
		case 'p':
			eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "ftpgwd: --policy %s: expected "
				        "KEY=VALUE\n", optarg);
				errors++;
				break;
			}
			*eq = '\0';
			if (ftp_policy_set(&c->pol, optarg, eq + 1, err,
			                   sizeof(err)) < 0) {
				fprintf(stderr, "ftpgwd: --policy %s: %s\n", optarg, err);
				errors++;
			}
			*eq = '=';
			break;
		default:
			break;
		}
		idx = -1;
	}
	if (pass && optind != argc) {
		fprintf(stderr, "ftpgwd: unexpected argument '%s'\n", argv[optind]);
		errors++;
	}
	return errors;
}

int main(int argc, char **argv)
{
	static struct conf c;
	struct worker ws[MAX_QUEUES];
	const char *config = NULL;
	bool check = false, adopted = false;
	struct rules *r = NULL;
	enum rules_queue_backend be = RULES_Q_NONE;
	char err[256];
	unsigned nq, i;
	int errors, rc, ret = 1;
	struct sigaction sa;

	conf_default(&c);
	parse_args(argc, argv, &c, 0, &config, &check);
	if (config) {
		errors = conf_load(&c, config, stderr);
		if (errors != 0) {
			fprintf(stderr, "ftpgwd: %s: %d error%s, nothing installed\n",
			        config, errors < 0 ? 1 : errors, errors == 1 ? "" : "s");
			return 2;
		}
	}
	if (parse_args(argc, argv, &c, 1, &config, &check) > 0) {
		fprintf(stderr, "ftpgwd: bad options, nothing installed\n");
		return 2;
	}
	c.path.pol = &c.pol;
	if (c.rules.ack_mark & c.rules.accept_mark) {
		fprintf(stderr, "ftpgwd: ack-mark 0x%08x and accept-mark 0x%08x "
		        "share bits, nothing installed\n", c.rules.ack_mark,
		        c.rules.accept_mark);
		return 2;
	}
	if (check) {
		char buf[8192];
		conf_print(&c, stdout);
		rules_format_nft(&c.rules, RULES_Q_XT, buf, sizeof(buf));
		fputs("\n# the nft table (shown with the xtables NFQUEUE target; the "
		      "daemon probes\n# at start and uses nft's queue statement "
		      "where the kernel has it)\n", stdout);
		fputs(buf, stdout);
		return 0;
	}
	log_init("ftpgwd", c.foreground, c.verbose >= 1 ? LOG_L_DEBUG : LOG_L_INFO);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	memset(ws, 0, sizeof(ws));
	nq = (unsigned)(c.rules.queue_hi - c.rules.queue_lo) + 1;

	if ((rc = rules_open(&r, &c.rules, err, sizeof(err))) < 0) {
		log_err("%s", err);
		return 1;
	}
	{
		bool exists = false;
		if ((rc = rules_table_exists(r, &exists)) < 0) {
			log_err("cannot list nft tables: %s", strerror(-rc));
			goto out;
		}
		adopted = exists;
	}
	/* Bind the queues before the rules exist: no packet waits for a
	 * reader that is not there yet. */
	for (i = 0; i < nq; i++) {
		struct worker *w = &ws[i];
		w->num = (uint16_t)(c.rules.queue_lo + i);
		w->cpu = c.ncpus ? (int)c.cpus[i % c.ncpus] : -1;
		if ((rc = queue_open(&w->q, w->num, 4096, c.rules.fail_open, err,
		                     sizeof(err))) < 0) {
			log_err("%s", err);
			goto out;
		}
		if ((rc = rules_open(&w->r, &c.rules, err, sizeof(err))) < 0 ||
		    (rc = ct_open(&w->ct, err, sizeof(err))) < 0) {
			log_err("%s", err);
			goto out;
		}
		w->pw = calloc(1, sizeof(*w->pw));
		if (!w->pw || path_init(w->pw, &c.path, w->q, w->r, w->ct) < 0) {
			log_err("cannot allocate the session table (%u sessions)",
			        c.path.max_sessions);
			goto out;
		}
	}
	if (adopted) {
		log_info("table inet %s exists: adopting it (a previous instance "
		         "left it; its rules and pinholes stay)", c.rules.table);
		if ((rc = path_reconcile(&c.path, r, ws[0].ct)) < 0)
			log_warn("cannot reconcile the adopted pinholes with "
			         "conntrack: %s (they time out by themselves)",
			         strerror(-rc));
	} else {
		if (!c.rules.no_rules &&
		    (rc = rules_probe_queue(r, &be, err, sizeof(err))) < 0) {
			log_err("no queue statement works here: %s", err);
			goto out;
		}
		if ((rc = rules_install(r, be, err, sizeof(err))) < 0) {
			log_err("cannot install table inet %s: %s", c.rules.table, err);
			goto out;
		}
		log_info("installed table inet %s (queue %u-%u, %s)", c.rules.table,
		         c.rules.queue_lo, c.rules.queue_hi,
		         c.rules.no_rules ? "no queue rules: --no-rules"
		         : be == RULES_Q_NFT ? "nft queue statement"
		                             : "xtables NFQUEUE target via nft compat");
	}
	{
		/* signals go to this thread only (the workers poll the flag) */
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	for (i = 0; i < nq; i++) {
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
			log_err("cannot start worker %u", i);
			stop_flag = 1;
			break;
		}
		ws[i].started = true;
	}
	if (!stop_flag) {
		fputs("ftpgwd: ready\n", stdout);
		fflush(stdout);
	}
	while (!stop_flag) {
		/* the workers run; this thread waits for signals (blocked
		 * everywhere else, unblocked only inside sigsuspend: no race) */
		sigset_t none;
		sigemptyset(&none);
		sigsuspend(&none);
		if (dump_flag) {
			dump_flag = 0;
			for (i = 0; i < nq; i++)
				path_log_counters(ws[i].pw, i);
		}
	}
	for (i = 0; i < nq; i++)
		if (ws[i].started)
			pthread_join(ws[i].th, NULL);
	for (i = 0; i < nq; i++)
		path_log_counters(ws[i].pw, i);
	ret = 0;
	log_info("stopping: removing table inet %s", c.rules.table);
out:
	for (i = 0; i < nq; i++) {
		if (ws[i].pw) {
			path_fini(ws[i].pw);
			free(ws[i].pw);
		}
		queue_close(ws[i].q);
		rules_close(ws[i].r);
		ct_close(ws[i].ct);
	}
	if (r && (ret == 0 || !adopted)) {
		if ((rc = rules_remove(r)) < 0)
			log_err("cannot remove table inet %s: %s", c.rules.table,
			        strerror(-rc));
	}
	rules_close(r);
	return ret;
}
