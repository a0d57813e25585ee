#!/usr/bin/env bash
# make demo: ftpgwd at work in a namespace lab, for a person to watch.
#
#   1. A home network behind PAT (tests/e2e/lib.sh scenario A): an
#      active-mode (PORT) download from a public FTP server, first with no
#      gateway (the server refuses the private address), then with ftpgwd
#      (the PORT line rewritten, a one-shot DNAT pinhole, the file arrives).
#   2. An FTP server behind a port-forward (scenario B), announcing its
#      private address in 227: the same, in passive mode.
#
# Everything runs in network namespaces made for this run and removed at
# the end, also on Ctrl-C; nothing touches this machine's own firewall or
# addresses. DEMO_HOLD=1 (the default on a terminal) leaves the lab up at
# the end until Enter, with commands to explore it by hand.
set -u
cd "$(dirname "$0")/.." || exit 1
LAB_OPERATOR_MARK_LINE=1
LAB_DATA_MB=1
# shellcheck source=../tests/e2e/lib.sh
. tests/e2e/lib.sh

if [ "$(id -u)" != 0 ]; then
	echo "make demo: run as root (it builds network namespaces)" >&2
	exit 1
fi
[ -x "$FTPGWD" ] || { echo "make demo: build/ftpgwd is missing (make all)" >&2; exit 1; }
lab_need_tools >/dev/null || exit 1
lab_need_vsftpd >/dev/null 2>&1 || { echo "make demo: cannot install vsftpd" >&2; exit 1; }
lab_init
SYNC=$LAB_RUN/sync
mkdir -p "$SYNC"
HOLD=${DEMO_HOLD:-$([ -t 0 ] && echo 1 || echo 0)}

b=$(tput bold 2>/dev/null || true) n=$(tput sgr0 2>/dev/null || true)
say() { printf '\n%s== %s%s\n' "$b" "$*" "$n"; }
show() { sed 's/^/    /'; }

client() { # MODE STEPS
	ip netns exec "$NS_C" timeout -k 2 60 "$LAB_PY" tests/e2e/session-client.py \
		--host "$LAB_CONNECT" --sha256 "$LAB_DATA_SHA" --timeout 5 --trace \
		--sync "$SYNC" --mode "$1" --steps "$2"
}

# the address lines the server saw (vsftpd's protocol log)
server_view() {
	grep -oE '"(PORT |227 )[^"]*"' "$LAB_RUN/logs/vsftpd-$LAB_SCEN.xfer.log" |
		tail -n 1 | tr -d '"'
}

part() { # SCEN MODE TITLE
	local scen=$1 mode=$2 log
	lab_topo "$scen"
	say "$3"
	echo "client $LAB_CLIENT_ADDR -> router (wan $LAB_ROUTER_WAN) -> server $LAB_SERVER_ADDR;" \
		"the client dials $LAB_CONNECT; the router's forward policy is drop"
	lab_server_start vsftpd || { echo "vsftpd did not start"; return 1; }

	say "without a gateway: ${mode^^} mode download"
	log=$LAB_RUN/logs/demo-$scen-none.log
	client "$mode" "get,quit" >"$log" 2>&1
	grep -E '^(C> (PORT|PASV)|S< (2(27|00)|[45][0-9][0-9])|FAIL|ok get)' "$log" | show
	echo "    -> $(grep -q '^ok get' "$log" && echo "it worked (unexpected)" || echo "it fails: no ALG")"

	say "with ftpgwd"
	gw_ftpgwd -v || { echo "ftpgwd did not start"; return 1; }
	rm -f "$SYNC"/*
	log=$LAB_RUN/logs/demo-$scen-ftpgwd.log
	client "$mode" "hold:open,get,quit" >"$log" 2>&1 &
	local cpid=$!
	LAB_PIDS[$cpid]=client
	local i
	for ((i = 0; i < 100; i++)); do [ -e "$SYNC/open.ready" ] && break; sleep 0.1; done
	echo "  what the client sent or got, and what the server saw:"
	echo "    client: $(grep -E '^(C> PORT|S< 227)' "$log" | tail -1 | cut -c4-)"
	echo "    server: $(server_view)"
	echo "  the pinhole, open for this one data connection (nft list table inet ftpgw):"
	ip netns exec "$NS_R" nft list table inet ftpgw 2>/dev/null |
		awk '/set pin4|map dnat4/{p=1} p&&/elements/{print} p&&/^\t}/{p=0}' | show
	touch "$SYNC/open.go"
	wait "$cpid"
	unset "LAB_PIDS[$cpid]"
	grep -E '^(ok get|FAIL)' "$log" | sed 's/^ok get/download checked by sha256: ok/' | show
	echo "  after the connection, the element is gone (one-shot):"
	ip netns exec "$NS_R" nft list set inet ftpgw pin4 2>/dev/null | grep -c elements |
		sed 's/^0$/    pin4 is empty/; s/^[1-9].*/    pin4 still has elements/'
	echo "  ftpgwd's log (the session table until ftpgwctl exists):"
	grep -E '#[0-9]+ ' "$LAB_GW_LOG" | show
	if [ "$HOLD" = 1 ]; then
		say "explore this lab by hand (it stays up until you press Enter)"
		cat <<EOF
    ip netns exec $NS_R nft list ruleset          # the operator's rules and ftpgw's
    ip netns exec $NS_R conntrack -L              # the control connection, seqadj
    ip netns exec $NS_C curl -v -P - ftp://$LAB_CONNECT/pub/listdir/   # active mode
    ip netns exec $NS_C curl -v --no-ftp-skip-pasv-ip ftp://$LAB_CONNECT/pub/listdir/
    tail -f $LAB_GW_LOG                           # ftpgwd; kill -USR1 $LAB_GW_PID for counters
EOF
		read -r _ || true
	fi
	lab_gw_stop
	echo "  ftpgwd stopped; ftpgw tables left: $(ip netns exec "$NS_R" nft list tables | grep -c ftpgw)"
	lab_server_stop
	lab_topo_down
}

part A port "1. a home network behind PAT, active mode (PORT)"
part B pasv "2. an FTP server behind a port-forward, passive mode (227 names 10.0.0.5)"
say "done: namespaces, processes and tables are removed on exit"
