#!/bin/sh
# Fail if an object defines a global symbol outside the module prefixes.
# usage: check-names.sh "ftp_ seq_ ..." obj...
set -eu
prefixes=$1; shift
bad=$(nm -g --defined-only "$@" | awk -v p="$prefixes" '
	BEGIN { n = split(p, pre, " ") }
	NF == 3 {
		ok = ($3 == "main")
		for (i = 1; i <= n; i++) if (index($3, pre[i]) == 1) ok = 1
		if (!ok) print $3
	}')
if [ -n "$bad" ]; then
	echo "check-names: globals without a module prefix ($prefixes):" >&2
	echo "$bad" >&2
	exit 1
fi
