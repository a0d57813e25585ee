/*
 * conf.h - ftpgwd's configuration: the config file (fed one line at a
 * time, so tests and fuzzers can drive it) and the command-line flags
 * share one set of names: every key of the file is a long option of
 * ftpgwd, and every FTP policy option (ftp_policy_set) is a key too.
 */
#ifndef FTPGW_CONF_H
#define FTPGW_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ftp.h"
#include "path.h"
#include "rules.h"

#define CONF_MAX_CPUS 64

struct conf {
	struct ftp_policy pol;
	struct path_cfg path;
	struct rules_cfg rules;
	char wan_if[16];
	struct ftp_portrange public_ports;   /* 0-0: keep the ports */
	uint16_t cpus[CONF_MAX_CPUS];        /* worker i runs on cpus[i % n] */
	unsigned ncpus;                      /* 0: not pinned */
	bool foreground;
	int verbose;
};

void conf_default(struct conf *c);

/* Set one option by name; 0, or -1 with a message in err. */
int conf_set(struct conf *c, const char *key, const char *value, char *err,
             size_t errlen);

/*
 * One line of a config file: "key value", "key = value", "# comment" or
 * blank. Returns 0, or -1 with a message in err.
 */
int conf_line(struct conf *c, const char *line, char *err, size_t errlen);

/* Read a file; every bad line reported to errf as "file:line: message".
 * Returns the number of errors (-1 if the file cannot be read). */
int conf_load(struct conf *c, const char *path, FILE *errf);

/* The effective configuration as config-file lines. */
void conf_print(const struct conf *c, FILE *f);

#endif
