#!/bin/sh
# private-etc-dev.sh PASSWD LOGSOCK SCRATCH CMD...: exec CMD with its own
# /etc/passwd and a /dev/log of its own, without touching the host's.
#
# Run under `ip netns exec`, which gives the process a mount namespace of
# its own whose mounts do not propagate back (/ is rslave there). pure-ftpd
# needs both: its anonymous root is the home of the system user "ftp" (no
# option sets it), and it logs only through syslog(3), to /dev/log, which
# does not exist here. So, in this mount namespace only:
#   /etc/passwd  <- PASSWD bind-mounted (the host's plus an "ftp" line)
#   /dev         <- a tmpfs holding the usual nodes (bind-mounted from the
#                   real /dev, kept at SCRATCH) and log -> LOGSOCK, a
#                   datagram socket the lab's syslog listener reads
set -eu
passwd=$1 sock=$2 scratch=$3; shift 3
mount --bind "$passwd" /etc/passwd
mkdir -p "$scratch"
mount --bind /dev "$scratch"
mount -t tmpfs -o mode=0755,size=64k ftpgw-lab-dev /dev
for n in null zero full random urandom tty; do
	[ -e "$scratch/$n" ] || continue
	: >"/dev/$n"
	mount --bind "$scratch/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
ln -s "$sock" /dev/log
exec "$@"
