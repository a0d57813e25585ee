#!/usr/bin/env bash
# ftpgwd's packet path under stress, in the namespace lab (TAP).
#
#   bash tests/e2e/session.t            (as root; build/ftpgwd built)
#
# Topology and the operator's ruleset: tests/e2e/lib.sh (scenario A: client
# behind PAT, B: server behind DNAT announcing its private address). Every
# case drives ONE control session with tests/e2e/session-client.py against
# vsftpd, through ftpgwd:
#   long        a length-changing rewrite, then LIST, 200 NOOPs and a
#               sha256-checked download on the same control connection
#   split       every command in 9-byte segments (TCP_NODELAY): the address
#               line is held back, merged by the sender's retransmission
#               and rewritten
#   bytewise    every command one byte per segment: a PASV session works;
#               a PORT in 26 segments (more than the sender's window, so it
#               can never be merged) passes unchanged after the bounded
#               tries, the server refuses it, the session goes on
#   loss        5% of control packets dropped after the gateway (nft numgen
#               in the router's postrouting), forcing retransmissions of
#               rewritten segments; several sessions
#   restart     kill -9 of ftpgwd mid-session (offsets already non-zero), a
#               command sent while no daemon runs, a new ftpgwd adopting
#               the table; then 20 NOOPs, LIST and a download
#   fallback    the session starts before ftpgwd: the daemon's own sequence
#               adjustment, until the session ends
#   queues      --queue 0:1 with 16 client addresses: both workers used,
#               no session seen by two workers
# After every ftpgwd exit: no ftpgw table left in the router.
set -u
cd "$(dirname "$0")/../.." || exit 1
LAB_OPERATOR_MARK_LINE=1
# shellcheck source=lib.sh
. tests/e2e/lib.sh

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP the lab needs root (network namespaces)"
	exit 0
fi
[ -x "$FTPGWD" ] || { echo "Bail out! $FTPGWD not built"; exit 1; }
lab_need_tools >/dev/null || { echo "Bail out! lab tools missing"; exit 1; }
lab_need_vsftpd >/dev/null 2>&1 || { echo "Bail out! cannot install vsftpd"; exit 1; }
lab_init
CLIENT_PY=$LAB_REPO/tests/e2e/session-client.py
SYNC=$LAB_RUN/sync
mkdir -p "$SYNC"

# client ARGS...: run the session client in the client namespace
client() {
	ip netns exec "$NS_C" timeout -k 2 120 "$LAB_PY" "$CLIENT_PY" \
		--host "$LAB_CONNECT" --sha256 "$LAB_DATA_SHA" --timeout 15 \
		--sync "$SYNC" "$@"
}

# start_gw [ARGS]: ftpgwd in the router, waiting for ready
start_gw() {
	gw_ftpgwd "$@"
}

# stop_gw NAME: SIGTERM, exit 0, no table left
stop_gw() {
	local pid=$LAB_GW_PID
	lab_stop_pid "$pid"
	LAB_GW_PID=
	lab_diag "$1: ftpgwd sessions: $(grep -c 'sequence adjustment: kernel' "$LAB_GW_LOG") kernel-owned, $(grep -c 'sequence adjustment: fallback' "$LAB_GW_LOG") fallback; $(grep -h 'adopted pinholes' "$LAB_GW_LOG")"
	if [ "$LAB_LAST_STATUS" = 0 ]; then lab_ok "$1: ftpgwd exits 0 on SIGTERM"
	else lab_not_ok "$1: ftpgwd exit status $LAB_LAST_STATUS"; lab_diag "$(tail -20 "$LAB_GW_LOG")"; fi
	if ip netns exec "$NS_R" nft list tables | grep -q 'inet ftpgw'; then
		lab_not_ok "$1: table inet ftpgw removed"
		lab_diag "$(ip netns exec "$NS_R" nft list ruleset)"
	else
		lab_ok "$1: table inet ftpgw removed"
	fi
}

# check NAME LOG STATUS: one TAP line for a client run
check() {
	if [ "$3" = 0 ]; then lab_ok "$1"
	else
		lab_not_ok "$1"
		lab_diag "$(cat "$2")"
		lab_dump
	fi
}

# wait_file PATH: bounded poll (30 s)
wait_file() {
	local i
	for ((i = 0; i < 300; i++)); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}

adj_count() { # MODE: sessions whose log line names this adjustment
	grep -c "sequence adjustment: $1" "$LAB_GW_LOG"
}

# ------------------------------------------------------------------ A and B
for scen in A B; do
	lab_topo $scen
	lab_server_start vsftpd || { lab_not_ok "$scen: vsftpd starts"; continue; }
	mode=port; [ $scen = B ] && mode=pasv
	# the rewrite changes the length in both: A PORT 192,168,1,10 ->
	# 203,0,113,1 (-1), B 227 10,0,0,5 -> 198,51,100,1 (+4)

	start_gw || { lab_not_ok "$scen: ftpgwd starts"; continue; }
	log=$LAB_RUN/logs/long-$scen.log
	client --mode $mode --steps "list,noop*200,get,quit" >"$log" 2>&1
	check "$scen long: ${mode^^} rewrite, LIST, 200 NOOPs, download" "$log" $?
	if [ "$(adj_count kernel)" -ge 1 ]; then lab_ok "$scen long: kernel-owned sequence adjustment"
	else lab_not_ok "$scen long: kernel-owned sequence adjustment"; lab_diag "$(cat "$LAB_GW_LOG")"; fi

	# the address line in a few segments (within the sender's window):
	# held, merged by the sender's retransmission, rewritten
	log=$LAB_RUN/logs/split-$scen.log
	client --mode $mode --chunk 9 --steps "list,get,noop*3,quit" >"$log" 2>&1
	check "$scen split: every command in 9-byte segments, rewritten" "$log" $?
	# one byte per segment: a PASV needs no client-side rewrite (in B the
	# 227 is rewritten, from the server); the commands arrive in pieces
	log=$LAB_RUN/logs/bytewise-$scen.log
	client --mode pasv --chunk 1 --steps "list,get,noop*3,quit" >"$log" 2>&1
	check "$scen bytewise: PASV session, every command in 1-byte segments" "$log" $?
	if [ $scen = A ]; then
		# PORT in 26 one-byte segments: more than the sender's window,
		# so the sender cannot merge them; after the bounded tries the
		# line passes unchanged (counted), the server refuses it, the
		# session goes on uncorrupted
		log=$LAB_RUN/logs/bytewise-port-$scen.log
		client --mode port --chunk 1 --steps "try-list,noop*3,try-list,quit" >"$log" 2>&1
		rc=$?
		lab_diag "$(grep -E '^(refused|ok try-list)' "$log")"
		check "$scen bytewise: PORT in 1-byte segments, never corrupted, session goes on" "$log" $rc
	fi

	# 5% loss on the control connection, after the gateway
	ip netns exec "$NS_R" nft -f - <<'EOF2'
table inet lab_loss {
	chain post {
		type filter hook postrouting priority 300; policy accept;
		tcp sport 21 numgen random mod 100 < 5 drop
		tcp dport 21 numgen random mod 100 < 5 drop
	}
}
EOF2
	fails=0
	for i in 1 2 3 4 5; do
		log=$LAB_RUN/logs/loss-$scen-$i.log
		client --mode $mode --steps "list,noop*30,get,list,quit" >"$log" 2>&1 || {
			fails=$((fails + 1)); lab_diag "loss run $i:" "$(cat "$log")"; }
	done
	ip netns exec "$NS_R" nft delete table inet lab_loss
	if [ $fails = 0 ]; then lab_ok "$scen loss: 5 sessions with 5% control packet loss"
	else lab_not_ok "$scen loss: $fails of 5 sessions failed"; lab_dump; fi

	# restart: kill -9 mid-session
	rm -f "$SYNC"/*
	log=$LAB_RUN/logs/restart-$scen.log
	client --mode $mode --steps "list,noop*5,pause:killed,noop*20,list,get,quit" >"$log" 2>&1 &
	cpid=$!
	LAB_PIDS[$cpid]=client
	if wait_file "$SYNC/killed.ready"; then
		kill -KILL "$LAB_GW_PID"; wait "$LAB_GW_PID" 2>/dev/null
		unset "LAB_PIDS[$LAB_GW_PID]"; LAB_GW_PID=
		if ip netns exec "$NS_R" nft list tables | grep -q 'inet ftpgw'; then
			lab_ok "$scen restart: the table survives kill -9"
		else
			lab_not_ok "$scen restart: the table survives kill -9"
		fi
		# the client's next NOOP goes out while no daemon reads the queue
		touch "$SYNC/killed.go"
		sleep 1
		start_gw || lab_not_ok "$scen restart: second ftpgwd starts"
		if grep -q adopting "$LAB_GW_LOG"; then lab_ok "$scen restart: the new ftpgwd adopts the table"
		else lab_not_ok "$scen restart: the new ftpgwd adopts the table"; lab_diag "$(cat "$LAB_GW_LOG")"; fi
	else
		lab_not_ok "$scen restart: client reached the pause"
	fi
	wait "$cpid"; rc=$?
	unset "LAB_PIDS[$cpid]"
	check "$scen restart: 20 NOOPs, LIST and a download after kill -9 and restart" "$log" $rc
	if grep -q "picked up mid-stream, sequence adjustment: kernel" "$LAB_GW_LOG"; then
		lab_ok "$scen restart: offsets taken back from conntrack"
	else
		lab_not_ok "$scen restart: offsets taken back from conntrack"; lab_diag "$(cat "$LAB_GW_LOG")"
	fi
	stop_gw "$scen restart"

	# fallback: the session is older than the daemon
	rm -f "$SYNC"/*
	[ $scen = B ] && ip netns exec "$NS_R" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1
	log=$LAB_RUN/logs/fallback-$scen.log
	client --mode $mode --steps "noop*2,pause:started,list,noop*20,get,list,quit" >"$log" 2>&1 &
	cpid=$!
	LAB_PIDS[$cpid]=client
	if wait_file "$SYNC/started.ready"; then
		start_gw || lab_not_ok "$scen fallback: ftpgwd starts"
		touch "$SYNC/started.go"
	fi
	wait "$cpid"; rc=$?
	unset "LAB_PIDS[$cpid]"
	check "$scen fallback: a session older than ftpgwd works until it ends" "$log" $rc
	if [ "$(adj_count fallback)" -ge 1 ]; then lab_ok "$scen fallback: it used the daemon's own adjustment"
	else lab_not_ok "$scen fallback: it used the daemon's own adjustment"; lab_diag "$(cat "$LAB_GW_LOG")"; fi
	stop_gw "$scen fallback"
	[ $scen = B ] && ip netns exec "$NS_R" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=0
	lab_server_stop
done

# ------------------------------------------------------------ port reuse
# A server hands the same passive port to the next session once the last
# one has connected. Session X uses port P and stays idle; session Y is
# told P too (its pinhole opens); X ends, and when X is forgotten (close
# grace, 2 s) ftpgwd removes X's pinholes - but only those X still owns,
# not Y's for the same address and port. Y's data connection must work.
lab_topo A
LAB_PASV_MIN=30077 LAB_PASV_MAX=30077 lab_server_start vsftpd ||
	lab_not_ok "reuse: vsftpd starts"
start_gw || lab_not_ok "reuse: ftpgwd starts"
rm -f "$SYNC"/*
logx=$LAB_RUN/logs/reuse-x.log logy=$LAB_RUN/logs/reuse-y.log
client --mode epsv --steps "list,pause:x,quit" >"$logx" 2>&1 &
xpid=$!
LAB_PIDS[$xpid]=client
wait_file "$SYNC/x.ready" || lab_diag "reuse: X did not reach its pause"
client --mode epsv --steps "hold:y,list,quit" >"$logy" 2>&1 &
ypid=$!
LAB_PIDS[$ypid]=client
wait_file "$SYNC/y.ready" || lab_diag "reuse: Y did not reach its hold"
touch "$SYNC/x.go"
wait "$xpid"; rc=$?
unset "LAB_PIDS[$xpid]"
check "reuse: session X, LIST through passive port 30077" "$logx" $rc
sleep 4      # X's close grace (2 s) and the next tick (1 s) have passed
touch "$SYNC/y.go"
wait "$ypid"; rc=$?
unset "LAB_PIDS[$ypid]"
check "reuse: session Y, told port 30077 before X ended, connects after X is gone" "$logy" $rc
stop_gw "reuse"
lab_server_stop

# ------------------------------------------------------------------ queues
lab_topo A
lab_server_start vsftpd || lab_not_ok "queues: vsftpd starts"
for i in $(seq 11 26); do ip -n "$NS_C" addr add 192.168.1.$i/24 dev eth0; done
lab_wait_addrs
start_gw --queue 0:1 || lab_not_ok "queues: ftpgwd starts"
fails=0
for i in $(seq 11 26); do
	log=$LAB_RUN/logs/queues-$i.log
	client --mode port --source 192.168.1.$i --steps "list,quit" >"$log" 2>&1 || {
		fails=$((fails + 1)); lab_diag "$(cat "$log")"; }
done
if [ $fails = 0 ]; then lab_ok "queues: 16 sessions from 16 addresses over 2 queues"
else lab_not_ok "queues: $fails of 16 sessions failed"; fi
kill -USR1 "$LAB_GW_PID"
for ((i = 0; i < 50; i++)); do grep -q 'worker 1: packets' "$LAB_GW_LOG" && break; sleep 0.1; done
w0=$(sed -n 's/.*worker 0: packets=[0-9]* mangled=[0-9]* sessions=\([0-9]*\) midstream=\([0-9]*\).*/\1 \2/p' "$LAB_GW_LOG" | tail -1)
w1=$(sed -n 's/.*worker 1: packets=[0-9]* mangled=[0-9]* sessions=\([0-9]*\) midstream=\([0-9]*\).*/\1 \2/p' "$LAB_GW_LOG" | tail -1)
read -r s0 m0 <<<"${w0:-0 0}"
read -r s1 m1 <<<"${w1:-0 0}"
lab_diag "worker 0: $s0 sessions ($m0 mid-stream), worker 1: $s1 sessions ($m1 mid-stream)"
if [ "${s0:-0}" -gt 0 ] && [ "${s1:-0}" -gt 0 ]; then lab_ok "queues: both workers had sessions"
else lab_not_ok "queues: both workers had sessions"; fi
if [ "$((s0 + s1))" = 16 ] && [ "$((m0 + m1))" = 0 ]; then
	lab_ok "queues: each session seen by one worker only (both directions on one queue)"
else
	lab_not_ok "queues: each session seen by one worker only"
fi
stop_gw "queues"
lab_server_stop
lab_topo_down
lab_plan
