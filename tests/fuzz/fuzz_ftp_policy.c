/*
 * fuzz_ftp_policy - policy options from text ("key=value").
 * A refused value must leave the policy unchanged; an accepted policy
 * must survive format and parse back.
 */
#include <stdlib.h>
#include <string.h>

#include "ftp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ftp_policy p, q;
	char in[256], err[160], out[1024], *eq;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	eq = strchr(in, '=');
	if (!eq)
		return 0;
	*eq = '\0';
	ftp_policy_default(&p);
	q = p;
	if (ftp_policy_set(&p, in, eq + 1, err, sizeof(err)) < 0) {
		if (memcmp(&p, &q, sizeof(p)) != 0 || err[0] == '\0')
			abort();
		return 0;
	}
	if (ftp_policy_format(&p, out, sizeof(out)) >= sizeof(out))
		abort();
	ftp_policy_default(&q);
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char *e = strchr(l, '=');
		if (!e)
			abort();
		*e = '\0';
		if (ftp_policy_set(&q, l, e + 1, err, sizeof(err)) < 0)
			abort();
	}
	if (memcmp(&p, &q, sizeof(p)) != 0)
		abort();
	return 0;
}
