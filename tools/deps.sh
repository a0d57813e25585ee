#!/bin/sh
# Install ftpgw's build and test dependencies from Debian packages.
# Idempotent and non-interactive: installs only what is missing.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev cppcheck
      libcmocka-dev scdoc binutils python3 perl
      libmnl-dev libnftnl-dev libnetfilter-queue-dev
      nftables conntrack iproute2 procps curl python3-pyftpdlib lftp libwrap0 libcap2 libpam0g libssl3"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
