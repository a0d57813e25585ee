# shellcheck shell=bash
# shellcheck disable=SC2034  # a library: its variables are for the scripts
# ftpgw end-to-end lab: network namespaces, an operator's router ruleset,
# FTP servers, FTP clients and TAP helpers. Sourced by tests/e2e/*.t.
#
#            veth                    veth
#   client ns ---- router ns (ALG) ---- server ns
#   eth0      lan0|wan0 or wan0|lan0     eth0
#
#   Scenario A, client behind PAT (masquerade), public server:
#     client  192.168.1.10/24 gw .1 --lan0 192.168.1.1 | wan0 203.0.113.1/24-- server 203.0.113.5/24
#     nat: oifname wan0 masquerade           (the server has no default route)
#   Scenario B, server behind DNAT (port-forward), announces its private address:
#     client  198.51.100.7/24 --wan0 198.51.100.1 | lan0 10.0.0.1/24-- server 10.0.0.5/24 gw .1
#     nat: wan0 tcp dport 21 to 198.51.100.1 -> dnat 10.0.0.5:21; oifname wan0 masquerade
#     (the client has no default route: 10.0.0.0/8 is unreachable from it, as on the Internet)
#   Scenario C, IPv6, no NAT:
#     client  2001:db8:1::10/64 gw ::1 --lan0 2001:db8:1::1 | wan0 2001:db8:2::1-- server 2001:db8:2::5/64 gw ::1
#
#   Router, every scenario (the "operator's" ruleset the gateway must live with):
#     table inet filter { chain forward { type filter hook forward priority 0; policy drop;
#         ct state established,related accept
#         [ct mark & $ACCEPT_MARK == $ACCEPT_MARK accept]   # only if LAB_OPERATOR_MARK_LINE=1
#         tcp dport 21 ct state new accept } }
#   Forwarding is enabled inside the router namespace only.
#
# Rules of the lab: nothing here touches the root namespace's firewall,
# addresses or sysctls; nothing modprobes; every process is started and
# killed by PID; every wait is a bounded poll; every client call has a
# timeout. All traffic stays between the three namespaces.

LAB_REPO=${LAB_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
REPO=$LAB_REPO
LAB_PREFIX=${LAB_PREFIX:-$REPO/build/e2e/root}   # private vsftpd install
LAB_PY=${LAB_PY:-/usr/bin/python3}   # Debian's python: has python3-pyftpdlib
LAB_TIMEOUT=${LAB_TIMEOUT:-20}       # whole client call, seconds
LAB_CONNECT_TIMEOUT=${LAB_CONNECT_TIMEOUT:-2}   # one TCP connect, seconds
LAB_IO_TIMEOUT=${LAB_IO_TIMEOUT:-10} # one control/data read, seconds
LAB_PASV_MIN=${LAB_PASV_MIN:-30000}
LAB_PASV_MAX=${LAB_PASV_MAX:-30100}
LAB_DATA_MB=${LAB_DATA_MB:-4}
LAB_REST_OFF=${LAB_REST_OFF:-1060977}  # op rest: bytes already local (REST offset)
LAB_MULTI=${LAB_MULTI:-20}            # op multi: RETRs in one control session
ACCEPT_MARK=${ACCEPT_MARK:-0x00100000}
LAB_OPERATOR_MARK_LINE=${LAB_OPERATOR_MARK_LINE:-0}
FTPGWD=${FTPGWD:-$REPO/build/ftpgwd}
# vsftpd's anonymous user: vsftpd chdirs to its home before chdir+chroot to
# anon_root, so its home must exist ("nobody" has /nonexistent); "daemon"
# (home /usr/sbin) is in every Debian base system.
LAB_VSFTPD_USER=${LAB_VSFTPD_USER:-daemon}

LAB_SFX="$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
NS_C=ftpgw-client-$LAB_SFX
NS_R=ftpgw-router-$LAB_SFX
NS_S=ftpgw-server-$LAB_SFX
LAB_NSS=()              # namespaces that exist now (created by us)
declare -A LAB_PIDS=()  # pid -> label, every process we started
LAB_LAST_PID=
LAB_RUN=                # per-run temp dir
LAB_SCEN=               # A, B or C
LAB_SERVER=             # vsftpd or pyftpdlib, when one runs
LAB_SERVER_PID=
LAB_SERVER_AUX_PID=     # a helper of the server (pure-ftpd's syslog listener)
LAB_SERVER_LOG=
LAB_GW=none
LAB_GW_PID=
LAB_GW_LOG=
LAB_CLEANED=0

# --------------------------------------------------------------- TAP
LAB_N=0 LAB_PASS=0 LAB_FAIL=0 LAB_SKIP=0 LAB_TODO=0

lab_diag() { local l; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done; }
lab_ok() { LAB_N=$((LAB_N + 1)); LAB_PASS=$((LAB_PASS + 1)); echo "ok $LAB_N - $*"; }
lab_not_ok() { LAB_N=$((LAB_N + 1)); LAB_FAIL=$((LAB_FAIL + 1)); echo "not ok $LAB_N - $*"; }
lab_skip() { # description reason
	LAB_N=$((LAB_N + 1)); LAB_SKIP=$((LAB_SKIP + 1)); echo "ok $LAB_N - $1 # SKIP ${2:-}"
}
lab_todo() { # description reason: a known failure, reported as such, not counted
	LAB_N=$((LAB_N + 1)); LAB_TODO=$((LAB_TODO + 1)); echo "not ok $LAB_N - $1 # TODO ${2:-}"
}
lab_plan() {
	echo "1..$LAB_N"
	lab_diag "$LAB_PASS passed, $LAB_FAIL failed, $LAB_SKIP skipped, $LAB_TODO todo"
}
lab_die() { echo "Bail out! $*"; exit 1; }

lab_now() { echo "${EPOCHREALTIME/,/.}"; }

# --------------------------------------------------------------- processes

# lab_spawn NS LABEL LOG CMD...: start CMD in namespace NS, output to LOG.
# Its PID is left in LAB_LAST_PID (ip netns exec does not fork: $! is CMD).
lab_spawn() {
	local ns=$1 label=$2 log=$3; shift 3
	ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
	LAB_LAST_PID=$!
	LAB_PIDS[$LAB_LAST_PID]=$label
}

# lab_wait_gone PID TRIES: poll (0.1 s) until PID is gone; 0 if gone.
lab_wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null
}

# lab_stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps it. Leaves its
# exit status in LAB_LAST_STATUS ("killed" if SIGTERM was not enough,
# "gone" if it had already exited before).
lab_stop_pid() {
	local pid=$1
	LAB_LAST_STATUS=
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		if lab_wait_gone "$pid" 50; then
			wait "$pid" 2>/dev/null; LAB_LAST_STATUS=$?
		else
			kill -KILL "$pid" 2>/dev/null; lab_wait_gone "$pid" 20
			wait "$pid" 2>/dev/null; LAB_LAST_STATUS=killed
		fi
	else
		wait "$pid" 2>/dev/null; LAB_LAST_STATUS="gone ($?)"
	fi
	unset "LAB_PIDS[$pid]"
	return 0
}

# lab_ns_reap NS: end what is left inside a namespace we created (a
# server's session children), by PID, as `ip netns pids` lists them.
lab_ns_reap() {
	local ns=$1 pids p i
	for i in 1 2; do
		pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
		[ -n "$pids" ] || return 0
		for p in $pids; do kill -"$([ $i = 1 ] && echo TERM || echo KILL)" "$p" 2>/dev/null; done
		for p in $pids; do lab_wait_gone "$p" 30; done
	done
}

lab_cleanup() {
	[ "$LAB_CLEANED" = 1 ] && return 0
	LAB_CLEANED=1
	local pid ns
	for pid in "${!LAB_PIDS[@]}"; do lab_stop_pid "$pid"; done
	for ns in "${LAB_NSS[@]}"; do lab_ns_reap "$ns"; ip netns del "$ns" 2>/dev/null; done
	LAB_NSS=()
	if [ -n "$LAB_RUN" ] && [ -d "$LAB_RUN" ]; then
		if [ "${LAB_KEEP:-0}" = 1 ]; then
			echo "# lab: kept $LAB_RUN" >&2
		else
			rm -rf "$LAB_RUN"
		fi
	fi
	return 0
}

lab_traps() {
	trap lab_cleanup EXIT
	trap 'lab_cleanup; trap - INT; kill -INT $$' INT
	trap 'lab_cleanup; trap - TERM; kill -TERM $$' TERM
	trap 'lab_cleanup; trap - HUP; kill -HUP $$' HUP
	trap 'lab_cleanup; trap - PIPE; kill -PIPE $$' PIPE
}

# --------------------------------------------------------------- installs

lab_apt_install() { # pkg...: install the missing Debian packages
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return 0
	[ "$(id -u)" = 0 ] || { echo "lab: missing packages: ${missing[*]}" >&2; return 1; }
	echo "# lab: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

lab_need_tools() {
	lab_apt_install iproute2 nftables conntrack curl procps python3 python3-pyftpdlib coreutils \
		lftp tnftp util-linux
}

# lab_need_deb PKG BIN LIBPKG...: the package PKG without its maintainer
# scripts. vsftpd, pure-ftpd and proftpd-core each declare Conflicts:
# ftp-server (dpkg holds one) and their scripts would start a service in
# the root namespace. `apt-get download` the .deb into build/e2e/debs/,
# unpack it with `dpkg-deb -x` into $LAB_PREFIX, install only its shared
# libraries (LIBPKG) as ordinary packages. Idempotent: 0 when BIN (under
# $LAB_PREFIX) runs with every library found.
lab_need_deb() {
	local pkg=$1 bin=$LAB_PREFIX/$2 dir deb; shift 2
	lab_apt_install "$@" || return 1
	if [ -f "$bin" ] && ! ldd "$bin" | grep -q 'not found'; then return 0; fi
	dir=$REPO/build/e2e/debs
	mkdir -p "$dir" "$LAB_PREFIX"
	local debs=("$dir/${pkg}"_*.deb)
	deb=${debs[0]}
	if [ ! -f "$deb" ]; then
		# apt-get download writes to the current directory; -o quiets the
		# _apt sandbox warning by not dropping privileges for a root dir.
		(cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
			(apt-get update -q >&2 && cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
			return 1
		debs=("$dir/${pkg}"_*.deb)
		deb=${debs[0]}
	fi
	[ -f "$deb" ] || return 1
	dpkg-deb -x "$deb" "$LAB_PREFIX" || return 1
	[ -f "$bin" ] && ! ldd "$bin" | grep -q 'not found'
}

lab_need_vsftpd() {
	LAB_VSFTPD=$LAB_PREFIX/usr/sbin/vsftpd
	lab_need_deb vsftpd usr/sbin/vsftpd libc6 libcap2 libpam0g libwrap0 libssl3
}

lab_need_pureftpd() { # pure-ftpd (without pure-ftpd-common: wrapper scripts only)
	LAB_PUREFTPD=$LAB_PREFIX/usr/sbin/pure-ftpd
	lab_need_deb pure-ftpd usr/sbin/pure-ftpd libc6 libcap2 libcrypt1 libpam0g libsodium23 libssl3
}

# proftpd-core, and proftpd-mod-crypto beside it (mod_tls.so, for FTPS
# later; not loaded by the lab's config)
lab_need_proftpd() {
	LAB_PROFTPD=$LAB_PREFIX/usr/sbin/proftpd
	lab_need_deb proftpd-core usr/sbin/proftpd libc6 libacl1 libcap2 libcrypt1 \
		libhiredis0.14 libidn2-0 libmemcached11 libmemcachedutil2 libncursesw6 \
		libpam0g libpcre2-8-0 libpcre2-posix3 libssl3 libtinfo6 zlib1g libsodium23 || return 1
	lab_need_deb proftpd-mod-crypto usr/lib/proftpd/mod_tls.so libsodium23 libssl3 zlib1g
}

# --------------------------------------------------------------- run dir

# lab_init: temp dir, traps, the file tree both servers serve:
#   ftp/               anon root (root 0755: vsftpd refuses a writable chroot)
#   ftp/pub/data.bin   $LAB_DATA_MB MiB of random data
#   ftp/pub/listdir/   a LIST-able directory: entry-01 .. entry-12
#   ftp/pub/small.bin  64 KiB of random data (op multi)
#   ftp/upload/        owned by $LAB_VSFTPD_USER (vsftpd's anonymous user) for STOR
lab_init() {
	local i
	lab_traps
	LAB_RUN=$(mktemp -d "${TMPDIR:-/tmp}/ftpgw-e2e.XXXXXX") || lab_die "mktemp"
	chmod 0755 "$LAB_RUN"
	mkdir -p "$LAB_RUN"/{logs,cases,out,etc} "$LAB_RUN"/ftp/{pub/listdir,upload} "$LAB_RUN/vsftpd-empty"
	head -c $((LAB_DATA_MB * 1048576)) /dev/urandom >"$LAB_RUN/ftp/pub/data.bin"
	for i in $(seq -w 1 12); do echo "entry $i" >"$LAB_RUN/ftp/pub/listdir/entry-$i"; done
	chmod -R a+rX,go-w "$LAB_RUN/ftp"
	chown "$LAB_VSFTPD_USER" "$LAB_RUN/ftp/upload"
	chmod 0755 "$LAB_RUN/ftp/upload"
	LAB_DATA=$LAB_RUN/ftp/pub/data.bin
	LAB_DATA_SHA=$(sha256sum "$LAB_DATA" | cut -d' ' -f1)
	# op multi fetches this one $LAB_MULTI times: many data connections, little data
	head -c 65536 /dev/urandom >"$LAB_RUN/ftp/pub/small.bin"
	chmod a+r "$LAB_RUN/ftp/pub/small.bin"
	LAB_SMALL=$LAB_RUN/ftp/pub/small.bin
	LAB_SMALL_SHA=$(sha256sum "$LAB_SMALL" | cut -d' ' -f1)
	lab_write_pyscripts
}

# --------------------------------------------------------------- topology

lab_ns_add() {
	ip netns add "$1" || lab_die "ip netns add $1"
	LAB_NSS+=("$1")
	ip -n "$1" link set lo up
}

lab_if_up() { # ns ifname: no IPv6 DAD (addresses usable at once), then up
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0"
	ip -n "$1" link set "$2" up
}

# lab_wait_addrs: bounded poll until no address in our namespaces is tentative
lab_wait_addrs() {
	local i ns busy
	for ((i = 0; i < 50; i++)); do
		busy=0
		for ns in "$NS_C" "$NS_R" "$NS_S"; do
			[ -n "$(ip -n "$ns" addr show tentative 2>/dev/null)" ] && busy=1
		done
		[ $busy = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# lab_topo A|B|C: build the three namespaces and the operator's ruleset.
# Exports LAB_FAMILY (4|6), LAB_CONNECT (address the client dials),
# LAB_CLIENT_ADDR, LAB_SERVER_ADDR, LAB_ROUTER_WAN, LAB_ROUTER_LAN,
# LAB_WAN_IF=wan0, LAB_LAN_IF=lan0.
lab_topo() {
	LAB_SCEN=$1
	lab_topo_down
	lab_ns_add "$NS_C"; lab_ns_add "$NS_R"; lab_ns_add "$NS_S"
	LAB_WAN_IF=wan0 LAB_LAN_IF=lan0
	local cl_if srv_if nat=""
	case $LAB_SCEN in
	A) cl_if=lan0 srv_if=wan0
	   LAB_FAMILY=4 LAB_CLIENT_ADDR=192.168.1.10 LAB_SERVER_ADDR=203.0.113.5
	   LAB_ROUTER_LAN=192.168.1.1 LAB_ROUTER_WAN=203.0.113.1 LAB_CONNECT=203.0.113.5 ;;
	B) cl_if=wan0 srv_if=lan0
	   LAB_FAMILY=4 LAB_CLIENT_ADDR=198.51.100.7 LAB_SERVER_ADDR=10.0.0.5
	   LAB_ROUTER_LAN=10.0.0.1 LAB_ROUTER_WAN=198.51.100.1 LAB_CONNECT=198.51.100.1 ;;
	C) cl_if=lan0 srv_if=wan0
	   LAB_FAMILY=6 LAB_CLIENT_ADDR=2001:db8:1::10 LAB_SERVER_ADDR=2001:db8:2::5
	   LAB_ROUTER_LAN=2001:db8:1::1 LAB_ROUTER_WAN=2001:db8:2::1 LAB_CONNECT=2001:db8:2::5 ;;
	*) lab_die "lab_topo: scenario $1?" ;;
	esac
	export LAB_SCEN LAB_FAMILY LAB_CLIENT_ADDR LAB_SERVER_ADDR LAB_ROUTER_LAN \
		LAB_ROUTER_WAN LAB_CONNECT LAB_WAN_IF LAB_LAN_IF
	ip -n "$NS_R" link add "$cl_if" type veth peer name eth0 netns "$NS_C" || lab_die "veth client"
	ip -n "$NS_R" link add "$srv_if" type veth peer name eth0 netns "$NS_S" || lab_die "veth server"
	case $LAB_SCEN in
	A)  ip -n "$NS_C" addr add 192.168.1.10/24 dev eth0
	    ip -n "$NS_R" addr add 192.168.1.1/24 dev lan0
	    ip -n "$NS_R" addr add 203.0.113.1/24 dev wan0
	    ip -n "$NS_S" addr add 203.0.113.5/24 dev eth0 ;;
	B)  ip -n "$NS_C" addr add 198.51.100.7/24 dev eth0
	    ip -n "$NS_R" addr add 198.51.100.1/24 dev wan0
	    ip -n "$NS_R" addr add 10.0.0.1/24 dev lan0
	    ip -n "$NS_S" addr add 10.0.0.5/24 dev eth0 ;;
	C)  ip -n "$NS_C" addr add 2001:db8:1::10/64 dev eth0 nodad
	    ip -n "$NS_R" addr add 2001:db8:1::1/64 dev lan0 nodad
	    ip -n "$NS_R" addr add 2001:db8:2::1/64 dev wan0 nodad
	    ip -n "$NS_S" addr add 2001:db8:2::5/64 dev eth0 nodad ;;
	esac
	lab_if_up "$NS_C" eth0; lab_if_up "$NS_S" eth0
	lab_if_up "$NS_R" lan0; lab_if_up "$NS_R" wan0
	case $LAB_SCEN in
	A)  ip -n "$NS_C" route add default via 192.168.1.1
	    ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1
	    nat='table ip nat {
	chain post { type nat hook postrouting priority 100; oifname "wan0" masquerade; }
}' ;;
	B)  ip -n "$NS_S" route add default via 10.0.0.1
	    ip netns exec "$NS_R" sysctl -qw net.ipv4.ip_forward=1
	    nat='table ip nat {
	chain pre { type nat hook prerouting priority -100; iifname "wan0" ip daddr 198.51.100.1 tcp dport 21 dnat to 10.0.0.5:21; }
	chain post { type nat hook postrouting priority 100; oifname "wan0" masquerade; }
}' ;;
	C)  ip -n "$NS_C" -6 route add default via 2001:db8:1::1
	    ip -n "$NS_S" -6 route add default via 2001:db8:2::1
	    ip netns exec "$NS_R" sysctl -qw net.ipv6.conf.all.forwarding=1 ;;
	esac
	local mark=""
	[ "$LAB_OPERATOR_MARK_LINE" = 1 ] &&
		mark="ct mark & $ACCEPT_MARK == $ACCEPT_MARK accept"
	cat >"$LAB_RUN/etc/operator-$LAB_SCEN.nft" <<EOF
table inet filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		$mark
		tcp dport 21 ct state new accept
	}
}
$nat
EOF
	ip netns exec "$NS_R" nft -f "$LAB_RUN/etc/operator-$LAB_SCEN.nft" ||
		lab_die "operator ruleset for $LAB_SCEN"
	lab_wait_addrs || lab_die "addresses still tentative"
}

# lab_topo_down: stop the gateway and server, delete the namespaces.
lab_topo_down() {
	lab_server_stop
	lab_gw_stop
	local ns
	for ns in "${LAB_NSS[@]}"; do lab_ns_reap "$ns"; ip netns del "$ns" 2>/dev/null; done
	LAB_NSS=()
}

# --------------------------------------------------------------- gateways

gw_none() { LAB_GW=none; }

# The kernel's own helper (nf_conntrack_ftp + nf_nat_ftp, built in here),
# assigned explicitly: automatic helper assignment is off in new kernels.
gw_kernel() {
	LAB_GW=kernel
	cat >"$LAB_RUN/etc/kernel-helper.nft" <<'EOF'
table inet ftpgw_lab_helper {
	ct helper ftp-std {
		type "ftp" protocol tcp
		l3proto inet
	}
	chain pre {
		type filter hook prerouting priority -150; policy accept;
		tcp dport 21 ct helper set "ftp-std"
	}
}
EOF
	ip netns exec "$NS_R" nft -f "$LAB_RUN/etc/kernel-helper.nft" || {
		lab_diag "gw_kernel: nft -f failed"; return 1; }
	ip netns exec "$NS_R" nft list table inet ftpgw_lab_helper >/dev/null
}

# gw_ftpgwd ARGS...: "$FTPGWD" -f ARGS in the router namespace; waits
# (bounded, LAB_GW_WAIT tenths of a second, default 100) for "ftpgwd:
# ready" in its log; SIGTERM by PID at stop. LAB_GW_WRAP=(cmd args): a
# prefix for the command (taskset, valgrind: tools/bench/run.sh).
LAB_GW_WRAP=()
gw_ftpgwd() {
	LAB_GW=ftpgwd
	LAB_GW_LOG=$LAB_RUN/logs/ftpgwd-$LAB_SCEN.log
	if [ ! -x "$FTPGWD" ]; then
		lab_diag "gw_ftpgwd: $FTPGWD is not an executable (build it, or set FTPGWD=)"
		return 1
	fi
	lab_spawn "$NS_R" ftpgwd "$LAB_GW_LOG" "${LAB_GW_WRAP[@]}" "$FTPGWD" -f "$@"
	LAB_GW_PID=$LAB_LAST_PID
	local i
	for ((i = 0; i < ${LAB_GW_WAIT:-100}; i++)); do
		grep -q 'ftpgwd: ready' "$LAB_GW_LOG" 2>/dev/null && return 0
		kill -0 "$LAB_GW_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$LAB_GW_PID" 2>/dev/null; then
		lab_diag "gw_ftpgwd: no 'ftpgwd: ready' within $((${LAB_GW_WAIT:-100} / 10)) s; its log:"
	else
		wait "$LAB_GW_PID"
		lab_diag "gw_ftpgwd: ftpgwd exited (status $?) before 'ftpgwd: ready'; its log:"
	fi
	lab_diag "$(tail -n 50 "$LAB_GW_LOG")"
	lab_stop_pid "$LAB_GW_PID"; LAB_GW_PID=
	return 1
}

lab_gw_stop() {
	if [ -n "$LAB_GW_PID" ]; then lab_stop_pid "$LAB_GW_PID"; LAB_GW_PID=; fi
}

# --------------------------------------------------------------- servers

lab_wait_listen() { # ns port tries(0.1 s): poll ss until a TCP listener on port
	local i
	for ((i = 0; i < $3; i++)); do
		ip netns exec "$1" ss -ltnH "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

lab_vsftpd_conf() { # [ANNOUNCE] -> path of a config for this scenario
	local conf=$LAB_RUN/etc/vsftpd-$LAB_SCEN.conf listen pasv_addr="" announce=${1:-$LAB_SERVER_ADDR}
	if [ "$LAB_FAMILY" = 6 ]; then
		listen="listen=NO
listen_ipv6=YES
listen_address6=$LAB_SERVER_ADDR"
	else
		listen="listen=YES
listen_ipv6=NO
listen_address=$LAB_SERVER_ADDR"
		# by default the server's own address: in scenario B its private
		# one, so the 227 names 10.0.0.5 (what an ALG has to fix)
		pasv_addr="pasv_address=$announce"
	fi
	cat >"$conf" <<EOF
# generated by tests/e2e/lib.sh for scenario $LAB_SCEN
$listen
listen_port=21
background=NO
# anonymous read from ftp/, anonymous STOR into ftp/upload (owned by the ftp user)
anonymous_enable=YES
no_anon_password=YES
anon_root=$LAB_RUN/ftp
ftp_username=$LAB_VSFTPD_USER
nopriv_user=nobody
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=NO
anon_other_write_enable=NO
anon_world_readable_only=YES
anon_umask=022
secure_chroot_dir=$LAB_RUN/vsftpd-empty
# data connections
pasv_enable=YES
$pasv_addr
pasv_min_port=$LAB_PASV_MIN
pasv_max_port=$LAB_PASV_MAX
port_enable=YES
connect_from_port_20=NO
pasv_promiscuous=NO
port_promiscuous=NO
connect_timeout=$LAB_CONNECT_TIMEOUT
accept_timeout=$((LAB_CONNECT_TIMEOUT + 3))
data_connection_timeout=30
idle_session_timeout=30
# running as root in a namespace
seccomp_sandbox=NO
isolate_network=NO
tcp_wrappers=NO
ssl_enable=NO
# logs
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=$LAB_RUN/logs/vsftpd-$LAB_SCEN.xfer.log
EOF
	echo "$conf"
}

# pure-ftpd's command line. No config file (Debian's pure-ftpd-common
# wrapper turns /etc/pure-ftpd/conf/* into options; the lab passes them):
#   -S ADDR,21 -4|-6   listen on the server's address only, one family
#   -e                 anonymous only; its root is the home of the system
#                      user "ftp": private-etc-dev.sh gives the process a
#                      passwd with ftp = $LAB_VSFTPD_USER's uid/gid, home ftp/
#   (no -i)            anonymous uploads allowed where the user may write
#                      (ftp/upload); -M (anonymous MKD) not needed
#   -p MIN:MAX         the passive range
#   -P ADDR            only for a server configured for its port-forward
#                      (the -pub variant): by default the 227 names the
#                      control connection's local address, its own private one
#   -H -d -d           no DNS lookups; every command and reply to syslog
#   -I 1 -g PIDFILE    idle timeout (minutes), pid file in the run dir
# Foreground by default (-B would daemonize).
lab_pureftpd_args() { # [ANNOUNCE]
	local fam=-4; [ "$LAB_FAMILY" = 6 ] && fam=-6
	local a=(-S "$LAB_SERVER_ADDR,21" "$fam" -e -p "$LAB_PASV_MIN:$LAB_PASV_MAX" -H -d -d
		-I 1 -C 64 -c 64 -g "$LAB_RUN/pure-ftpd-$LAB_SCEN.pid")
	[ -n "${1:-}" ] && a+=(-P "$1")
	printf '%s\n' "${a[@]}"
}

# proftpd's config, standalone, foreground (-n), as root in a namespace
lab_proftpd_conf() { # [ANNOUNCE] -> path
	local conf=$LAB_RUN/etc/proftpd-$LAB_SCEN.conf v6=off masq=""
	[ "$LAB_FAMILY" = 6 ] && v6=on
	[ -n "${1:-}" ] && masq="MasqueradeAddress $1"
	cat >"$conf" <<EOF
# generated by tests/e2e/lib.sh for scenario $LAB_SCEN
ServerName "ftpgw lab"
ServerType standalone
DefaultServer on
UseIPv6 $v6
DefaultAddress $LAB_SERVER_ADDR
SocketBindTight on
Port 21
User nobody
Group nogroup
Umask 022
MaxInstances 64
# no DNS, no ident, no login delay, no wtmp, no PAM: all local
UseReverseDNS off
<IfModule mod_ident.c>
  IdentLookups off
</IfModule>
<IfModule mod_delay.c>
  DelayEngine off
</IfModule>
<IfModule mod_auth_pam.c>
  AuthPAM off
</IfModule>
WtmpLog off
AuthOrder mod_auth_unix.c
RequireValidShell off
ScoreboardFile $LAB_RUN/proftpd-$LAB_SCEN.scoreboard
PidFile $LAB_RUN/proftpd-$LAB_SCEN.pid
# data connections; a MasqueradeAddress only for the -pub variant
PassivePorts $LAB_PASV_MIN $LAB_PASV_MAX
$masq
AllowForeignAddress off
TimeoutIdle 30
TimeoutNoTransfer 30
TimeoutStalled 30
AllowOverwrite on
# logs: every command and its reply, vsftpd-like ("CMD args" "227 ...")
SystemLog $LAB_RUN/logs/proftpd-$LAB_SCEN.system.log
TransferLog NONE
LogFormat proto "\"%r\" \"%s %S\""
ExtendedLog $LAB_RUN/logs/proftpd-$LAB_SCEN.proto.log ALL proto
<Anonymous $LAB_RUN/ftp>
  User $LAB_VSFTPD_USER
  Group $LAB_VSFTPD_USER
  UserAlias anonymous $LAB_VSFTPD_USER
  UserAlias ftp $LAB_VSFTPD_USER
  RequireValidShell off
  MaxClients 64
  <Limit WRITE>
    DenyAll
  </Limit>
  <Directory upload>
    <Limit STOR>
      AllowAll
    </Limit>
  </Directory>
</Anonymous>
EOF
	echo "$conf"
}

# lab_pure_passwd: the host's passwd plus an "ftp" user (pure-ftpd's
# anonymous user) whose home is the anonymous root
lab_pure_passwd() {
	local f=$LAB_RUN/etc/passwd-pure-ftpd uid gid
	uid=$(id -u "$LAB_VSFTPD_USER") gid=$(id -g "$LAB_VSFTPD_USER")
	grep -v '^ftp:' /etc/passwd >"$f"
	echo "ftp:x:$uid:$gid:ftpgw lab anonymous:$LAB_RUN/ftp:/usr/sbin/nologin" >>"$f"
	echo "$f"
}

# lab_server_start vsftpd|pyftpdlib|pure-ftpd|proftpd [ANNOUNCE]: in the
# server namespace, once per scenario; waits (bounded) for port 21 to
# listen. ANNOUNCE is the address its 227 names instead of its own (vsftpd
# pasv_address, pyftpdlib masquerade_address, pure-ftpd -P, proftpd
# MasqueradeAddress): a server configured for its port-forward.
lab_server_start() {
	lab_server_stop
	LAB_SERVER=$1
	local announce=() args
	[ -n "${2:-}" ] && announce=(--masquerade "$2")
	LAB_SERVER_LOG=$LAB_RUN/logs/$1-$LAB_SCEN.log
	case $1 in
	vsftpd)
		lab_need_vsftpd || { lab_diag "vsftpd: install failed"; return 1; }
		lab_spawn "$NS_S" vsftpd "$LAB_SERVER_LOG" "$LAB_VSFTPD" "$(lab_vsftpd_conf "${2:-}")" ;;
	pyftpdlib)
		lab_spawn "$NS_S" pyftpdlib "$LAB_SERVER_LOG" "$LAB_PY" "$LAB_RUN/pyftpd.py" \
			--addr "$LAB_SERVER_ADDR" --port 21 --root "$LAB_RUN/ftp" \
			--pasv "$LAB_PASV_MIN-$LAB_PASV_MAX" --connect-timeout "$LAB_CONNECT_TIMEOUT" \
			"${announce[@]}" ;;
	pure-ftpd)
		lab_need_pureftpd || { lab_diag "pure-ftpd: install failed"; return 1; }
		# its syslog: a datagram listener on a socket of the run dir,
		# which the server sees as /dev/log (private-etc-dev.sh)
		local sock=$LAB_RUN/pure-ftpd-$LAB_SCEN.syslog i
		rm -f "$sock"
		lab_spawn "$NS_S" syslog "$LAB_RUN/logs/syslog-$LAB_SCEN.err" "$LAB_PY" "$LAB_RUN/syslogd.py" \
			"$sock" "$LAB_RUN/logs/pure-ftpd-$LAB_SCEN.proto.log"
		LAB_SERVER_AUX_PID=$LAB_LAST_PID
		for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
		mapfile -t args < <(lab_pureftpd_args "${2:-}")
		lab_spawn "$NS_S" pure-ftpd "$LAB_SERVER_LOG" "$REPO/tests/e2e/private-etc-dev.sh" \
			"$(lab_pure_passwd)" "$sock" "$LAB_RUN/pure-ftpd-dev" "$LAB_PUREFTPD" "${args[@]}" ;;
	proftpd)
		lab_need_proftpd || { lab_diag "proftpd: install failed"; return 1; }
		lab_spawn "$NS_S" proftpd "$LAB_SERVER_LOG" "$LAB_PROFTPD" -n -c "$(lab_proftpd_conf "${2:-}")" ;;
	*) lab_diag "lab_server_start: $1?"; return 1 ;;
	esac
	LAB_SERVER_PID=$LAB_LAST_PID
	if ! lab_wait_listen "$NS_S" 21 100 || ! kill -0 "$LAB_SERVER_PID" 2>/dev/null; then
		lab_diag "$1 did not listen on port 21 within 10 s; its log:" "$(tail -n 30 "$LAB_SERVER_LOG")"
		lab_server_stop
		return 1
	fi
}

lab_server_stop() {
	if [ -n "$LAB_SERVER_PID" ]; then lab_stop_pid "$LAB_SERVER_PID"; LAB_SERVER_PID=; fi
	if [ -n "$LAB_SERVER_AUX_PID" ]; then lab_stop_pid "$LAB_SERVER_AUX_PID"; LAB_SERVER_AUX_PID=; fi
	# vsftpd's session processes are its children, not ours: end what is
	# left in the server namespace by PID
	[ -n "$LAB_SERVER" ] && [ ${#LAB_NSS[@]} -gt 0 ] && lab_ns_reap "$NS_S"
	LAB_SERVER=
}

# lab_server_file NAME: where an upload called NAME lands on the server
lab_server_file() { echo "$LAB_RUN/ftp/upload/$1"; }

# --------------------------------------------------------------- clients

lab_host_url() { # address -> URL host part
	case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac
}

# lab_ftp CLIENT MODE OP REMOTE LOCAL LOG
#   CLIENT: curl (honours the 227 address), curl-skip (curl's default:
#           ignores it, dials the control address), ftplib (trusts 227),
#           lftp (ftp:fix-pasv-address off: dials the 227 address),
#           lftp-fix (lftp's defaults: a private 227 address on a public
#           control connection is replaced by the control address), tnftp
#   MODE:   pasv epsv port eprt
#   OP:     get put list noop, rest (LOCAL holds the first $LAB_REST_OFF
#           bytes: REST and the rest), multi (REMOTE $LAB_MULTI times in one
#           control session, into LOCAL.1 .. LOCAL.N)
#   REMOTE: server path; LOCAL: file to write (get, list) or send (put)
# Runs in the client namespace under `timeout`; returns the client's status.
# Nothing is verified here but the mode: see lab_check_mode.
lab_ftp() {
	local client=$1 mode=$2 op=$3 remote=$4 lpath=$5 log=$6
	local url args=() i
	url="ftp://$(lab_host_url "$LAB_CONNECT")$remote"
	case $client in
	curl|curl-skip)
		args=(-sS -v --connect-timeout "$LAB_CONNECT_TIMEOUT" --max-time "$LAB_TIMEOUT" --user anonymous:lab@)
		case $mode in
		pasv) args+=(--ftp-pasv --disable-epsv) ;;
		epsv) args+=(--ftp-pasv) ;;             # EPSV first; a fallback to PASV is caught
		port) args+=(--ftp-port - --disable-eprt) ;;
		eprt) args+=(--ftp-port -) ;;           # EPRT first; a fallback to PORT is caught
		esac
		[ "$client" = curl ] && [ "$mode" = pasv ] && args+=(--no-ftp-skip-pasv-ip)
		case $op in
		get|list) args+=(-o "$lpath" "$url") ;;
		put) args+=(-T "$lpath" "$url") ;;
		noop) args+=(-I -o "$lpath" "$url") ;;   # SIZE/MDTM: no data connection
		rest) args+=(-C - -o "$lpath" "$url") ;; # REST <size of LOCAL>
		multi) # several URLs in one command: curl reuses the control
			# connection; --fail-early: stop at the first failed transfer
			# (else each of them waits out its own timeouts)
			args+=(--fail-early)
			for ((i = 1; i <= LAB_MULTI; i++)); do args+=(-o "$lpath.$i" "$url"); done ;;
		esac
		ip netns exec "$NS_C" timeout -k 2 $((LAB_TIMEOUT + 5)) curl "${args[@]}" >"$log" 2>&1
		;;
	ftplib)
		ip netns exec "$NS_C" timeout -k 2 $((LAB_TIMEOUT + 5)) "$LAB_PY" "$LAB_RUN/ftpc.py" \
			--host "$LAB_CONNECT" --mode "$mode" --op "$op" --remote "$remote" \
			--local "$lpath" --connect-timeout "$LAB_CONNECT_TIMEOUT" \
			--io-timeout "$LAB_IO_TIMEOUT" --count "$LAB_MULTI" >"$log" 2>&1
		;;
	lftp|lftp-fix)
		# a script of commands (-f), its debug trace (-d: "---> CMD",
		# "<--- reply") on stderr; cmd:fail-exit makes a failed command the
		# exit status. lftp sends EPRT only on IPv6 (no setting for IPv4).
		local scr=$log.lftp
		{
			echo "set cmd:fail-exit yes"
			echo "set cmd:interactive no"
			echo "set net:timeout $LAB_IO_TIMEOUT"
			echo "set net:max-retries 1"
			echo "set net:persist-retries 0"
			echo "set net:reconnect-interval-base 1"
			echo "set ftp:ssl-allow no"
			echo "set ftp:auto-passive-mode no"   # no switch to active by itself
			echo "set xfer:clobber yes"
			case $mode in
			pasv) echo "set ftp:passive-mode on"; echo "set ftp:prefer-epsv no" ;;
			epsv) echo "set ftp:passive-mode on"; echo "set ftp:prefer-epsv yes" ;;
			port|eprt) echo "set ftp:passive-mode off" ;;
			esac
			[ "$client" = lftp ] && echo "set ftp:fix-pasv-address no"
			echo "open -u anonymous,lab@ ftp://$(lab_host_url "$LAB_CONNECT")"
			case $op in
			get) echo "get $remote -o $lpath" ;;
			put) echo "put $lpath -o $remote" ;;
			list) echo "ls $remote > $lpath" ;;
			noop) echo "quote PWD"; echo "!: > $lpath" ;;
			rest) echo "get -c $remote -o $lpath" ;;
			multi) for ((i = 1; i <= LAB_MULTI; i++)); do echo "get $remote -o $lpath.$i"; done ;;
			esac
			echo "quit"
		} >"$scr"
		ip netns exec "$NS_C" timeout -k 2 $((LAB_TIMEOUT + 5)) lftp -d -f "$scr" >"$log" 2>&1
		;;
	tnftp)
		# commands on stdin; -d traces them ("---> CMD"), -v prints the
		# replies; -q quits a transfer stalled that long. tnftp's exit
		# status ignores failed commands: an error reply (4xx/5xx) after
		# login or a "tnftp: " error is a failure. epsv4/epsv6: EPSV and
		# EPRT on, else PASV and PORT.
		local scr=$log.tnftp ext=off fam=-4 host=$LAB_CONNECT
		case $mode in epsv|eprt) ext=on ;; esac
		[ "$LAB_FAMILY" = 6 ] && fam=-6
		{
			echo "user anonymous lab@"
			echo "prompt off"   # else "ls REMOTE LOCAL" asks to confirm LOCAL
			echo "binary"
			case $mode in pasv|epsv) echo "passive on" ;; *) echo "passive off" ;; esac
			echo "epsv4 $ext"; echo "epsv6 $ext"
			case $op in
			get) echo "get $remote $lpath" ;;
			put) echo "put $lpath $remote" ;;
			list) echo "ls $remote $lpath" ;;
			noop) echo "pwd"; : >"$lpath" ;;
			rest) echo "reget $remote $lpath" ;;
			multi) for ((i = 1; i <= LAB_MULTI; i++)); do echo "get $remote $lpath.$i"; done ;;
			esac
			echo "quit"
		} >"$scr"
		ip netns exec "$NS_C" timeout -k 2 $((LAB_TIMEOUT + 5)) tnftp -n -v -d "$fam" \
			-q "$LAB_IO_TIMEOUT" "$host" 21 <"$scr" >"$log" 2>&1 || return
		! awk '/^230 /{in_=1} in_ && /^[45][0-9][0-9] /{bad=1} /^t?n?ftp: /{bad=1} END{exit !bad}' "$log"
		;;
	*) echo "lab_ftp: client $client?" >"$log"; return 2 ;;
	esac
}

# lab_sent_mode CLIENT MODE LOG: the client got as far as sending the
# mode's command (PASV, EPSV, PORT or EPRT): the control connection worked
lab_sent_mode() {
	local want=${2^^}
	case $1 in
	curl*) grep -q "^> $want" "$3" ;;
	ftplib) grep -q "^\*cmd\* '$want" "$3" ;;
	lftp*|tnftp) grep -q "^---> $want" "$3" ;;
	esac
}

# lab_check_mode CLIENT MODE LOG: the data connection was negotiated the
# way the case says (curl, lftp and tnftp fall back from EPSV to PASV and
# from EPRT to PORT by themselves). Prints what it found wrong.
lab_check_mode() {
	local client=$1 mode=$2 log=$3 bad
	case $mode in pasv) bad=EPSV ;; epsv) bad=PASV ;; port) bad=EPRT ;; eprt) bad=PORT ;; esac
	lab_sent_mode "$client" "$mode" "$log" || { echo "no ${mode^^} sent"; return 1; }
	case $client in
	curl*) ! grep -q "^> $bad" "$log" || { echo "curl fell back to $bad"; return 1; } ;;
	lftp*|tnftp) ! grep -q "^---> $bad" "$log" || { echo "$client fell back to $bad"; return 1; } ;;
	esac
}

# lab_why LOG: one line saying how a client call failed: the server's last
# error reply (if any), what curl dialed last, then the client's message
lab_why() {
	local reply msg dial
	reply=$(grep -E "^< [45][0-9][0-9][ -]|^\*resp\* '[45][0-9][0-9]|^<--- [45][0-9][0-9][ -]|^[45][0-9][0-9] " "$1" | tail -1 |
		sed -e 's/^< //' -e 's/^<--- //' -e "s/^\*resp\* '//" -e "s/'\$//")
	dial=$(grep -E '^\* +Trying ' "$1" | tail -1 | sed -E 's/^\* +Trying ([^ ]*)\.\.\.$/\1/')
	case $dial in *:21|"") dial= ;; esac
	msg=$(grep -E '^curl: \([0-9]+\)|^ftpc: |^tnftp: |^(get|put|ls|quote)[^ ]*: |^lftp: ' "$1" | tail -1)
	[ -n "$msg" ] || msg=$(tail -1 "$1")
	case $msg in *"$reply"*) reply= ;; esac
	msg="${reply:+server: $reply; }${dial:+dialed $dial; }$msg"
	printf '%s' "${msg:0:220}" | tr -d '\r'
}

# lab_addr_brief LINE: "227 ... (h1,h2,h3,h4,p1,p2)." -> "227 h1.h2.h3.h4:port",
# "PORT h1,...,p2" -> "PORT h1.h2.h3.h4:port", 229 and EPRT as sent
lab_addr_brief() {
	local l=${1%$'\r'} t a b c d p1 p2
	case $l in
	227*|PORT*)
		t=$(grep -oE '[0-9]+,[0-9]+,[0-9]+,[0-9]+,[0-9]+,[0-9]+' <<<"$l" | head -1)
		IFS=, read -r a b c d p1 p2 <<<"$t"
		[ -n "$p2" ] && echo "${l%% *} $a.$b.$c.$d:$((p1 * 256 + p2))" || echo "$l" ;;
	229*) echo "229 $(grep -oE '\([^)]*\)' <<<"$l" | head -1)" ;;
	EPRT*) echo "${l%% *} $(cut -d' ' -f2 <<<"$l")" ;;
	*) echo "$l" ;;
	esac
}

# lab_seen_client CLIENT LOG: the last address line the client sent or got
lab_seen_client() {
	local l
	case $1 in
	curl*) l=$(grep -E '^< 22[79] |^> (PORT|EPRT) ' "$2" | tail -1 | cut -c3-) ;;
	ftplib) l=$(grep -E "^\*(cmd|resp)\* '(22[79] |PORT |EPRT )" "$2" | tail -1 |
		sed -E "s/^\*(cmd|resp)\* '//; s/'\$//") ;;
	lftp*) l=$(grep -E '^<--- 22[79] |^---> (PORT|EPRT) ' "$2" | tail -1 | cut -c6-) ;;
	tnftp) l=$(grep -E '^22[79] |^---> (PORT|EPRT) ' "$2" | tail -1 | sed 's/^---> //') ;;
	esac
	[ -n "$l" ] && lab_addr_brief "$l"
}

# lab_server_proto_log: the server's protocol log (commands and replies)
lab_server_proto_log() {
	case $LAB_SERVER in
	vsftpd) echo "$LAB_RUN/logs/vsftpd-$LAB_SCEN.xfer.log" ;;
	pyftpdlib) echo "$LAB_SERVER_LOG" ;;
	pure-ftpd) echo "$LAB_RUN/logs/pure-ftpd-$LAB_SCEN.proto.log" ;;   # its syslog
	proftpd) echo "$LAB_RUN/logs/proftpd-$LAB_SCEN.proto.log" ;;       # ExtendedLog
	esac
}

# lab_seen_server FROM_LINE: the last address line the server got or sent,
# in its protocol log from line FROM_LINE on
lab_seen_server() {
	local f l; f=$(lab_server_proto_log)
	[ -f "$f" ] || return 0
	case $LAB_SERVER in
	vsftpd|proftpd) l=$(tail -n +"$1" "$f" | grep -oE '"(22[79] |PORT |EPRT )[^"]*"' | tail -1 | tr -d '"') ;;
	pure-ftpd) # "[DEBUG] Command [port] [h1,...]" and "[DEBUG] 227 Entering ..."
		l=$(tail -n +"$1" "$f" | grep -oE '\[DEBUG\] (Command \[(port|eprt)\] \[[^]]*\]|22[79] .*)' |
			tail -1 | sed -E 's/^\[DEBUG\] //; s/^Command \[([a-z]+)\] \[(.*)\]$/\U\1\E \2/') ;;
	pyftpdlib) l=$(tail -n +"$1" "$f" | grep -oE '(-> 22[79] |<- (PORT|EPRT) ).*' | tail -1 | cut -c4-) ;;
	esac
	[ -n "$l" ] && lab_addr_brief "$l"
}

# --------------------------------------------------------------- diagnostics

lab_dump() { # everything that explains a failure, as TAP comments
	local ns
	lab_diag "--- router: nft list ruleset" "$(ip netns exec "$NS_R" nft list ruleset 2>&1)"
	lab_diag "--- router: conntrack -L" "$(ip netns exec "$NS_R" conntrack -L 2>&1 | tail -n 30)"
	lab_diag "--- router: conntrack -L expect" "$(ip netns exec "$NS_R" conntrack -L expect 2>&1 | tail -n 30)"
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		lab_diag "--- ss -tanp in ${ns%-"$LAB_SFX"}" "$(ip netns exec "$ns" ss -tanp 2>&1 | tail -n 20)"
	done
	[ -s "$LAB_SERVER_LOG" ] && lab_diag "--- server log (${LAB_SERVER_LOG##*/})" "$(tail -n 15 "$LAB_SERVER_LOG" 2>&1)"
	local plog; plog=$(lab_server_proto_log)
	[ -n "$plog" ] && [ "$plog" != "$LAB_SERVER_LOG" ] && [ -f "$plog" ] &&
		lab_diag "--- $LAB_SERVER protocol log" "$(tail -n 15 "$plog")"
	[ -n "$LAB_GW_LOG" ] && [ -f "$LAB_GW_LOG" ] &&
		lab_diag "--- gateway log (${LAB_GW_LOG##*/})" "$(tail -n 30 "$LAB_GW_LOG")"
	return 0
}

# --------------------------------------------------------------- python

lab_write_pyscripts() {
	cat >"$LAB_RUN/pyftpd.py" <<'EOF'
# pyftpdlib server for the ftpgw lab. ThreadedFTPServer: the default
# single-process FTPServer stalled sessions under concurrent active mode.
import argparse, logging, sys, warnings
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, ActiveDTP, DTPHandler
from pyftpdlib.servers import ThreadedFTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--addr", required=True)
ap.add_argument("--port", type=int, default=21)
ap.add_argument("--root", required=True)
ap.add_argument("--pasv", default="30000-30100")
ap.add_argument("--masquerade", default=None)
ap.add_argument("--connect-timeout", type=int, default=2)
a = ap.parse_args()
warnings.simplefilter("ignore")   # "write permissions assigned to anonymous user"
# DEBUG: every command and reply ("<- PORT ...", "-> 227 ..."), for the summary
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                    format="%(asctime)s %(message)s")
auth = DummyAuthorizer()
auth.add_anonymous(a.root, perm="elrw")
lo, hi = (int(x) for x in a.pasv.split("-"))
FTPHandler.authorizer = auth
FTPHandler.passive_ports = range(lo, hi + 1)
FTPHandler.timeout = 30
if a.masquerade:
    FTPHandler.masquerade_address = a.masquerade
ActiveDTP.timeout = a.connect_timeout
DTPHandler.timeout = 30
srv = ThreadedFTPServer((a.addr, a.port), FTPHandler)
srv.serve_forever()
EOF
	cat >"$LAB_RUN/syslogd.py" <<'EOF'
# syslogd.py SOCK LOG: the lab's syslog for pure-ftpd (which logs only
# through syslog(3)): every datagram on the unix socket SOCK, a line in LOG
import os, socket, sys
sock, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock)
os.chmod(sock, 0o666)
with open(log, "a", buffering=1) as out:
    while True:
        m = s.recv(65536).decode("utf-8", "replace").rstrip("\n\0")
        out.write(m + "\n")
EOF
	cat >"$LAB_RUN/ftpc.py" <<'EOF'
# python ftplib client for the ftpgw lab: one operation, one mode.
import argparse, ftplib, socket, sys

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, default=21)
ap.add_argument("--mode", choices=["pasv", "epsv", "port", "eprt"], required=True)
ap.add_argument("--op", choices=["get", "put", "list", "noop", "rest", "multi"], required=True)
ap.add_argument("--count", type=int, default=20)
ap.add_argument("--remote", required=True)
ap.add_argument("--local", required=True)
ap.add_argument("--connect-timeout", type=float, default=2)
ap.add_argument("--io-timeout", type=float, default=10)
a = ap.parse_args()

class C(ftplib.FTP):
    # honour the 227 address: that is what an ALG has to get right
    trust_server_pasv_ipv4_address = True

    def makepasv(self):
        if a.mode == "pasv":
            if self.af != socket.AF_INET:
                raise ftplib.Error("PASV on IPv6")
            return super().makepasv()
        return ftplib.parse229(self.sendcmd("EPSV"), self.sock.getpeername())

    def makeport(self):
        host = self.sock.getsockname()[0]
        sock = socket.create_server((host, 0), family=self.af, backlog=1)
        port = sock.getsockname()[1]
        if a.mode == "port":
            self.sendport(host, port)
        else:
            self.sendeprt(host, port)
        sock.settimeout(a.connect_timeout + 3)
        return sock

    def ntransfercmd(self, cmd, rest=None):
        # the data connection's connect uses the short timeout, its reads the long one
        saved, self.timeout = self.timeout, a.connect_timeout
        try:
            conn, size = super().ntransfercmd(cmd, rest)
        finally:
            self.timeout = saved
        conn.settimeout(a.io_timeout)
        return conn, size

try:
    f = C(timeout=a.io_timeout)
    f.set_debuglevel(1)
    f.connect(a.host, a.port)
    f.login()
    f.set_pasv(a.mode in ("pasv", "epsv"))
    if a.op == "get":
        with open(a.local, "wb") as out:
            f.retrbinary("RETR " + a.remote, out.write)
    elif a.op == "rest":
        # resume: REST <bytes already in LOCAL>, then append the rest
        import os
        with open(a.local, "ab") as out:
            f.retrbinary("RETR " + a.remote, out.write, rest=os.path.getsize(a.local))
    elif a.op == "multi":
        # many data connections on one control connection
        for i in range(1, a.count + 1):
            with open("%s.%d" % (a.local, i), "wb") as out:
                f.retrbinary("RETR " + a.remote, out.write)
    elif a.op == "put":
        with open(a.local, "rb") as inp:
            f.storbinary("STOR " + a.remote, inp)
    elif a.op == "list":
        lines = []
        f.retrlines("LIST " + a.remote, lines.append)
        with open(a.local, "w") as out:
            out.write("\n".join(lines) + "\n")
    else:
        f.sendcmd("PWD")
        open(a.local, "w").close()
    f.quit()
except Exception as e:
    sys.stdout.flush()
    print("ftpc: %s: %s" % (type(e).__name__, e))
    sys.exit(1)
EOF
}
