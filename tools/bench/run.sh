#!/bin/bash
# tools/bench/run.sh - `make bench`: ftpgwd's cost, side by side with no
# ALG, the kernel's own ftp helper and an accept-all NFQUEUE reader (the
# floor), all in one run, in a namespace lab of its own (scenario A of
# tests/e2e/lib.sh: the client behind PAT, a public server).
#
# Benchmarks, not tests: nothing here passes or fails on a figure. Every
# figure is measured BENCH_RUNS times; tools/bench/report.py prints the
# medians with min and max, the ratios and the goals, and writes the JSON.
#
#   BENCH_RUNS=3         runs of each figure
#   BENCH_SECS=2         seconds of each session-rate and flood run
#   BENCH_OUT=bench/results.json
#   BENCH_ONLY="sessions bulk latency flood callgrind scale pins"
#
# Lab rules as in tests/e2e: our own namespaces (per-run names), nothing in
# the root namespace, processes stopped by PID, bounded waits.
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/e2e/lib.sh
. "$BENCH_DIR/../../tests/e2e/lib.sh"

BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_SECS=${BENCH_SECS:-2}
BENCH_OUT=${BENCH_OUT:-$REPO/bench/results.json}
BENCH_ONLY=${BENCH_ONLY:-sessions bulk latency flood callgrind scale pins}
BT=$REPO/build/bench
PROBE=$REPO/build/rules-probe
LAB_DATA_MB=${BENCH_DATA_MB:-1024}    # the bulk transfer's file
LAT_COUNT=${BENCH_LAT_COUNT:-2000}
CG_N1=${BENCH_CG_N1:-200} CG_N2=${BENCH_CG_N2:-1200}
FLOOD_CONNS=${BENCH_FLOOD_CONNS:-32} FLOOD_DEPTH=${BENCH_FLOOD_DEPTH:-4}

for t in floor ftpload sessbench pinbench; do
	[ -x "$BT/$t" ] || { echo "bench: $BT/$t missing (make bench builds it)" >&2; exit 1; }
done
[ -x "$FTPGWD" ] && [ -x "$PROBE" ] || { echo "bench: build ftpgwd and rules-probe first" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
want() { case " $BENCH_ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

RES=$(mktemp "${TMPDIR:-/tmp}/ftpgw-bench.XXXXXX")
T0=$SECONDS
note() { printf 'bench: [%3ds] %s\n' $((SECONDS - T0)) "$*" >&2; }
# rec BENCH GW METRIC VALUE [RUN]: one raw figure
rec() { printf '{"bench":"%s","gw":"%s","metric":"%s","value":%s,"run":%s}\n' \
	"$1" "$2" "$3" "$4" "${5:-0}" >>"$RES"; }
# jget JSON KEY: a number out of one flat JSON object
jget() { sed -n "s/.*\"$2\":\(-\?[0-9.]*\).*/\1/p" <<<"$1"; }

lab_init
lab_topo A
SRV=$LAB_SERVER_ADDR
# many short connections: wide port range and TIME_WAIT reuse, in our
# namespaces only
for ns in "$NS_C" "$NS_S"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" \
		net.ipv4.tcp_tw_reuse=1
done

# ------------------------------------------------------------ router set-ups

# the router's forward filter: open (everything from the LAN may go out: a
# router without an ALG that still works for passive mode), operator (the
# lab's policy-drop ruleset, for the kernel helper) or mark (the same with
# the operator's accept-mark line, for ftpgwd)
bench_filter() {
	local extra=""
	case $1 in
	open) extra='iifname "lan0" accept' ;;
	operator) extra='tcp dport 21 ct state new accept' ;;
	mark) extra="ct mark & $ACCEPT_MARK == $ACCEPT_MARK accept
		tcp dport 21 ct state new accept" ;;
	esac
	ip netns exec "$NS_R" nft delete table inet filter 2>/dev/null
	ip netns exec "$NS_R" nft -f - <<EOF
table inet filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		$extra
	}
}
EOF
}

FLOOR_PID=
# bench_gw NAME [ftpgwd/floor args...]: none | kernel | floor | ftpgwd
bench_gw() {
	local gw=$1; shift
	bench_gw_stop
	BENCH_GW=$gw
	case $gw in
	none) bench_filter open ;;
	kernel) bench_filter operator && gw_kernel ;;
	floor)
		bench_filter open
		lab_spawn "$NS_R" floor "$LAB_RUN/logs/floor.log" "${BENCH_PIN[@]}" "$BT/floor" "$@"
		FLOOR_PID=$LAB_LAST_PID
		local i
		for ((i = 0; i < 300; i++)); do
			grep -q 'floor: ready' "$LAB_RUN/logs/floor.log" 2>/dev/null && break
			sleep 0.1
		done
		local q=0; [ "${1:-}" = --queue ] && q=${2/:/-}
		ip netns exec "$NS_R" "$PROBE" --queue "$q" install ;;
	ftpgwd)
		# lab's gw_ftpgwd, with the prefix (taskset, valgrind) and 60 s
		# to start under valgrind; its lab_diag lines go to stderr here
		bench_filter mark || return 1
		LAB_GW_WRAP=("${BENCH_PIN[@]}")
		LAB_GW_WAIT=600 gw_ftpgwd "$@" >&2
		local rc=$?
		LAB_GW_WRAP=()
		return $rc ;;
	esac
}

bench_gw_stop() {
	case ${BENCH_GW:-} in
	kernel) ip netns exec "$NS_R" nft delete table inet ftpgw_lab_helper 2>/dev/null ;;
	floor)
		lab_stop_pid "$FLOOR_PID"; FLOOR_PID=
		ip netns exec "$NS_R" "$PROBE" remove ;;
	ftpgwd) lab_gw_stop ;;
	esac
	BENCH_GW=
	# what the last set-up's connections left in conntrack goes too
	ip netns exec "$NS_R" conntrack -F >/dev/null 2>&1
	return 0
}

# queued packets and drops so far, over all queues: "ids dropped"
qstat() {
	ip netns exec "$NS_R" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
		awk '{ id += $8; dr += $6 + $7 } END { printf "%d %d\n", id, dr }'
}

BENCH_PIN=()
cli() { ip netns exec "$NS_C" "${CLI_PIN[@]}" "$BT/ftpload" "$@"; }
CLI_PIN=()

# ------------------------------------------------------------ 1, 6: vsftpd

if want sessions || want bulk; then
	lab_server_start vsftpd || { echo "bench: vsftpd did not start" >&2; exit 1; }
fi

if want sessions; then
	# the floor too: what queueing every control packet costs by itself.
	# The gateways take turns, run after run (as for bulk below).
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		order=(none kernel floor ftpgwd none kernel floor)
		for gw in "${order[@]:$((r % 4)):4}"; do
			bench_gw $gw || continue
			note "session rate through $gw, run $r of $BENCH_RUNS"
			for spec in "epsv 1" "epsv 32" "pasv 32"; do
				set -- $spec
				out=$(cli sessions --connect "$SRV" --mode "$1" --parallel "$2" \
					--duration "$BENCH_SECS")
				rec sessions $gw "${1}_p$2_rate" "$(jget "$out" rate)" $r
				rec sessions $gw "${1}_p$2_errors" "$(jget "$out" errors)" $r
				[ "$(jget "$out" errors)" = 0 ] ||
					note "  $gw $1 x$2: $(sed -n 's/.*"first_error":"\([^"]*\)".*/\1/p' <<<"$out")"
			done
		done
	done
	bench_gw_stop
fi

if want bulk; then
	# the gateways take turns, run after run: a drift of the machine
	# (another guest, the page cache) is spread over all three
	ip netns exec "$NS_C" curl -s -o /dev/null --max-time 60 "ftp://$SRV/pub/data.bin"  # page cache
	for ((r = 1; r <= 2 * BENCH_RUNS + 1; r++)); do
		# the order rotates too: none is not always the first after a pause
		order=(none kernel ftpgwd none kernel)
		for gw in "${order[@]:$((r % 3)):3}"; do
			bench_gw $gw || continue
			[ $r = 1 ] && note "bulk download ($LAB_DATA_MB MiB) through $gw, $((2 * BENCH_RUNS + 1)) runs"
			read -r id0 _ < <(qstat)
			bps=$(ip netns exec "$NS_C" curl -s -o /dev/null --max-time 60 \
				-w '%{speed_download}' "ftp://$SRV/pub/data.bin")
			read -r id1 _ < <(qstat)
			rec bulk $gw mib_s "$(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1048576 }')" $r
			# what ftpgwd queued during the whole download: the control
			# connection's packets only, never the data connection's
			[ $gw = ftpgwd ] && rec bulk $gw queued_pkts $((id1 - id0)) $r
		done
	done
	bench_gw_stop
fi
lab_server_stop

# ------------------------------------------------------------ 2, 3, 5: responder

if want latency || want flood || want callgrind; then
	lab_spawn "$NS_S" ftpload-serve "$LAB_RUN/logs/serve.log" taskset -c 0 \
		"$BT/ftpload" serve --listen "$SRV" --port 21
	SERVE_PID=$LAB_LAST_PID
	lab_wait_listen "$NS_S" 21 50 || { echo "bench: responder did not listen" >&2; exit 1; }
fi

if want latency; then
	# everything on CPU 0: client, responder, the reader
	BENCH_PIN=(taskset -c 0) CLI_PIN=(taskset -c 0)
	for gw in none kernel floor ftpgwd; do
		bench_gw $gw || continue
		note "NOOP round trip through $gw"
		for ((r = 1; r <= BENCH_RUNS; r++)); do
			read -r id0 _ < <(qstat)
			out=$(cli latency --connect "$SRV" --count "$LAT_COUNT" --port-first)
			read -r id1 _ < <(qstat)
			rec latency $gw median_us "$(jget "$out" median_us)" $r
			rec latency $gw p99_us "$(jget "$out" p99_us)" $r
			rec latency $gw errors "$(jget "$out" errors)" $r
			# queued packets per exchange (warm-up and login included)
			[ "$gw" = floor ] || [ "$gw" = ftpgwd ] &&
				rec latency $gw pkts_per_exchange "$(awk -v d=$((id1 - id0)) -v n="$LAT_COUNT" \
					'BEGIN { printf "%.2f", d / (n + 100 + 4) }')" $r
		done
	done
	bench_gw_stop
	BENCH_PIN=() CLI_PIN=()
fi

if want flood; then
	# name|gateway|reader args|command. ftpgwd-1w/-2w queue every packet
	# (--ack-mark 0), as the floor does: the packet path's own limit;
	# -ackmark is the default, where bare ACKs pass by
	for spec in "none|none||noop" "kernel|kernel||noop" "kernel-port|kernel||port" \
		"floor-1w|floor|--queue 0 --cpus 1|noop" \
		"floor-2w|floor|--queue 0:1 --cpus 0,1|noop" \
		"ftpgwd-1w|ftpgwd|--queue 0 --cpus 1 --ack-mark 0|noop" \
		"ftpgwd-2w|ftpgwd|--queue 0:1 --cpus 0,1 --ack-mark 0|noop" \
		"ftpgwd-1w-ackmark|ftpgwd|--queue 0 --cpus 1|noop" \
		"ftpgwd-1w-port|ftpgwd|--queue 0 --cpus 1|port" \
		"ftpgwd-2w-port|ftpgwd|--queue 0:1 --cpus 0,1|port"; do
		IFS='|' read -r name gw args cmd <<<"$spec"
		# shellcheck disable=SC2086  # args are words
		bench_gw $gw $args || continue
		note "control-packet flood ($cmd) through $name"
		for ((r = 1; r <= BENCH_RUNS; r++)); do
			read -r id0 d0 < <(qstat)
			out=$(cli flood --connect "$SRV" --conns "$FLOOD_CONNS" --depth "$FLOOD_DEPTH" \
				--duration "$BENCH_SECS" --cmd "$cmd")
			read -r id1 d1 < <(qstat)
			secs=$(jget "$out" seconds)
			rec flood "$name" replies_s "$(jget "$out" rate)" $r
			rec flood "$name" errors "$(jget "$out" errors)" $r
			if [ "$gw" = floor ] || [ "$gw" = ftpgwd ]; then
				# packets queued over the whole run (login included) per
				# second of the measured window: an upper bound, the same
				# way for the floor and ftpgwd
				rec flood "$name" queued_pps "$(awk -v d=$((id1 - id0)) -v s="$secs" \
					'BEGIN { printf "%.0f", d / s }')" $r
				rec flood "$name" queue_drops $((d1 - d0)) $r
			fi
		done
	done
	bench_gw_stop
fi

if want callgrind; then
	command -v valgrind >/dev/null || lab_apt_install valgrind
	# cg_total FILE: the total instruction count of a callgrind profile
	cg_total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
	# cg_run NAME N CMD: one reader under callgrind, N exchanges; sets
	# CG_I (instructions) and CG_P (packets queued meanwhile)
	cg_run() {
		local name=$1 n=$2 cmd=$3 f=$LAB_RUN/cg.$1.$2.$3 id0 id1 extra=()
		CG_I= CG_P=
		[ "$cmd" = noop ] && extra=(--port-first)
		BENCH_PIN=(valgrind --tool=callgrind "--callgrind-out-file=$f")
		if [ "$name" = floor ]; then bench_gw floor --queue 0; else bench_gw ftpgwd --queue 0; fi ||
			{ BENCH_PIN=(); return 1; }
		read -r id0 _ < <(qstat)
		cli latency --connect "$SRV" --count "$n" --warmup 0 --cmd "$cmd" "${extra[@]}" >/dev/null
		read -r id1 _ < <(qstat)
		bench_gw_stop
		BENCH_PIN=()
		CG_I=$(cg_total "$f") CG_P=$((id1 - id0))
	}
	# cg_rec BENCH NAME CMD I1 P1 I2 P2 N: per packet and per exchange from
	# the difference of two runs (start-up and shutdown cancel out)
	cg_rec() {
		[ -n "$4" ] && [ -n "$6" ] && [ "$7" -gt "$5" ] || return 0
		rec callgrind "$2" "${3}_ir_per_pkt" "$(awk -v a="$4" -v b="$6" -v x="$5" -v y="$7" \
			'BEGIN { printf "%.0f", (b - a) / (y - x) }')"
		rec callgrind "$2" "${3}_ir_per_exchange" "$(awk -v a="$4" -v b="$6" -v n="$8" \
			'BEGIN { printf "%.0f", (b - a) / n }')"
		rec callgrind "$2" "${3}_pkts_per_exchange" "$(awk -v x="$5" -v y="$7" -v n="$8" \
			'BEGIN { printf "%.2f", (y - x) / n }')"
	}
	for name in floor ftpgwd; do
		for cmd in noop port; do
			[ $name = floor ] && [ $cmd = port ] && continue
			note "callgrind: $name, $cmd exchanges ($CG_N1 and $CG_N2)"
			cg_run $name "$CG_N1" $cmd; i1=$CG_I p1=$CG_P
			cg_run $name "$CG_N2" $cmd; i2=$CG_I p2=$CG_P
			cg_rec callgrind $name $cmd "$i1" "$p1" "$i2" "$p2" $((CG_N2 - CG_N1))
		done
	done
	# the packet path alone (no queue, no kernel): exactly repeatable
	declare -A PI PP
	for cmd in noop port; do
		note "callgrind: path_packet() alone, $cmd (sessbench --profile)"
		for n in "$CG_N1" "$CG_N2"; do
			f=$LAB_RUN/cg.path.$cmd.$n
			out=$(valgrind --tool=callgrind "--callgrind-out-file=$f" \
				--toggle-collect=path_packet "$BT/sessbench" --profile $cmd \
				--count "$n" 2>"$LAB_RUN/logs/sessbench-cg.$cmd.$n")
			PI[$n]=$(cg_total "$f") PP[$n]=$(jget "$out" packets)
		done
		cg_rec callgrind path $cmd "${PI[$CG_N1]}" "${PP[$CG_N1]}" "${PI[$CG_N2]}" \
			"${PP[$CG_N2]}" $((CG_N2 - CG_N1))
	done
fi
[ -n "${SERVE_PID:-}" ] && lab_stop_pid "$SERVE_PID"

# ------------------------------------------------------------ 4, 5: no lab

if want scale; then
	for n in 1000 10000 100000; do
		note "session table: $n idle sessions"
		out=$("$BT/sessbench" --sessions $n)
		for m in bytes_per_session lookup_ns packet_ns sizeof_sess; do
			rec scale "n$n" $m "$(jget "$out" $m)"
		done
	done
fi

if want pins; then
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for d in "" --dnat; do
			out=$("$BT/pinbench" --pins 10000 --batch 256 $d)
			k=pin; [ -n "$d" ] && k=pin_dnat
			for m in batch_add_ms batch_del_ms single_add_ms single_del_ms; do
				rec pins $k $m "$(jget "$out" $m)" $r
			done
		done
	done
fi

lab_topo_down
note "done in $((SECONDS - T0)) s"
mkdir -p "$(dirname "$BENCH_OUT")"
/usr/bin/python3 "$BENCH_DIR/report.py" "$RES" "$BENCH_OUT" "$BENCH_RUNS" "$((SECONDS - T0))"
rc=$?
rm -f "$RES"
exit $rc
