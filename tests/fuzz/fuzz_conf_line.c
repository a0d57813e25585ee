/*
 * fuzz_conf_line - config file lines. Every line gets 0, or -1 with a
 * message; an accepted configuration, printed and read back line by line,
 * prints the same again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print(const struct conf *c)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		abort();
	conf_print(c, f);
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c, d;
	char line[600], err[256], *p1, *p2, *save = NULL;

	if (size >= sizeof(line))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	conf_default(&c);
	err[0] = '\0';
	if (conf_line(&c, line, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	p1 = print(&c);
	conf_default(&d);
	p2 = strdup(p1);
	for (char *l = strtok_r(p2, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (conf_line(&d, l, err, sizeof(err)) < 0)
			abort();
	free(p2);
	p2 = print(&d);
	if (strcmp(p1, p2) != 0)
		abort();
	free(p1);
	free(p2);
	return 0;
}
