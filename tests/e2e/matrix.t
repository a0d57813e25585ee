#!/usr/bin/env bash
# The FTP matrix through a router whose forward policy is drop (TAP).
#
#   GW=none|kernel|ftpgwd bash tests/e2e/matrix.t
#
# Scenarios A (client behind PAT), B (server behind DNAT, announcing its
# private address), C (IPv6, no NAT) -- lib.sh has the drawing. For each
# scenario, each server (each started once per scenario), each mode (PASV
# EPSV PORT EPRT on IPv4; EPSV EPRT on IPv6) and each client: a LIST, a
# download and an upload, both checked by sha256, a resumed download (REST,
# sha256 of the whole file) and $LAB_MULTI downloads in one control session
# (each checked); the mode checked in the client's trace (curl, lftp and
# tnftp fall back from EPSV to PASV and EPRT to PORT by themselves).
#
#   servers  vsftpd, pyftpdlib, pure-ftpd, proftpd; in B also vsftpd-pub,
#            pure-ftpd-pub, proftpd-pub: configured for their port-forward
#            (their 227 names 198.51.100.1; PASV only: the other modes
#            carry no server address)
#   clients  curl (--no-ftp-skip-pasv-ip: dials the 227 address),
#            curl-skip (curl's default: dials the control address; PASV only),
#            ftplib (trust_server_pasv_ipv4_address=True),
#            lftp (ftp:fix-pasv-address off: dials the 227 address; no EPRT
#            on IPv4: lftp has no setting for it),
#            lftp-fix (lftp's defaults: a private 227 address is replaced by
#            the control address; PASV only), tnftp (epsv4/epsv6 on or off)
#   ops      list get put for every client; rest and multi for
#            SESSION_CLIENTS (default "curl ftplib"; lftp and tnftp can)
#
# Expectations:
#   GW=none    every data connection needs an ALG (forward policy drop): a
#              case is "ok ... fails without an ALG (expected)" when it fails
#              at the data connection, "not ok" if it works or fails before.
#   GW=kernel  nf_conntrack_ftp + nf_nat_ftp, reported as it is; a failure
#              with a known cause in the helper is "not ok ... # TODO <cause>".
#   GW=ftpgwd  every case must pass. FTPGWD (binary), FTPGWD_ARGS and
#              FTPGWD_ARGS_A/_B/_C (per scenario, override FTPGWD_ARGS);
#              LAB_OPERATOR_MARK_LINE defaults to 1 (the accept-mark line).
# Subsets: SCENARIOS="A B C"
#          SERVERS="vsftpd pyftpdlib pure-ftpd proftpd vsftpd-pub pure-ftpd-pub proftpd-pub"
#          CLIENTS="curl curl-skip ftplib lftp lftp-fix tnftp" MODES="pasv epsv port eprt"
#          OPS="list get put rest multi" SESSION_CLIENTS="curl ftplib";
#          LAB_KEEP=1 keeps the run's temp dir.
set -u
cd "$(dirname "$0")/../.." || exit 1
GW=${GW:-none}
case $GW in
none|kernel) ;;
ftpgwd) LAB_OPERATOR_MARK_LINE=${LAB_OPERATOR_MARK_LINE:-1} ;;
*) echo "Bail out! GW=$GW: none, kernel or ftpgwd"; exit 1 ;;
esac
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP the lab needs root (network namespaces)"
	exit 0
fi

SCENARIOS=${SCENARIOS:-"A B C"}
SERVERS=${SERVERS:-"vsftpd pyftpdlib pure-ftpd proftpd vsftpd-pub pure-ftpd-pub proftpd-pub"}
CLIENTS=${CLIENTS:-"curl curl-skip ftplib lftp lftp-fix tnftp"}
MODES=${MODES:-"pasv epsv port eprt"}
OPS=${OPS:-"list get put rest multi"}
SESSION_CLIENTS=${SESSION_CLIENTS:-"curl ftplib"}   # clients that run ops rest and multi

in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

# the servers of a scenario
scen_servers() {
	local s out=""
	for s in vsftpd pyftpdlib pure-ftpd proftpd vsftpd-pub pure-ftpd-pub proftpd-pub; do
		case $s in *-pub) [ "$1" != B ] && continue ;; esac
		in_list $s "$SERVERS" && out="$out $s"
	done
	echo "$out"
}
# the modes of a scenario and server: PASV and PORT are IPv4 only;
# vsftpd-pub differs from vsftpd only in its 227
scen_modes() {
	local m out=""
	for m in pasv epsv port eprt; do
		[ "$1" = C ] && { [ $m = pasv ] || [ $m = port ]; } && continue
		case ${2:-} in *-pub) [ $m != pasv ] && continue ;; esac
		in_list $m "$MODES" && out="$out $m"
	done
	echo "$out"
}
# the clients of a scenario and mode: curl-skip and lftp-fix differ from
# curl and lftp only for PASV; lftp sends EPRT only on IPv6 (on IPv4 its
# active mode is PORT, and no setting changes that)
mode_clients() { # scen mode
	local c out=""
	for c in curl curl-skip ftplib lftp lftp-fix tnftp; do
		case $c in curl-skip|lftp-fix) [ "$2" != pasv ] && continue ;; esac
		[ $c = lftp ] && [ "$2" = eprt ] && [ "$1" != C ] && continue
		in_list $c "$CLIENTS" && out="$out $c"
	done
	echo "$out"
}
# the ops of a client: rest and multi only for SESSION_CLIENTS (default
# curl and ftplib; lftp and tnftp do them too, at a cost in run time --
# proftpd's standalone parent sleeps 0.4 s after each session ends before
# it accepts the next one). Never for curl-skip and lftp-fix: the same
# control session as curl and lftp, only the PASV dial differs.
client_ops() {
	local o out=""
	for o in $OPS; do
		case $o in rest|multi) in_list "$1" "$SESSION_CLIENTS" || continue ;; esac
		out="$out $o"
	done
	echo "$out"
}

# alg_need SCEN MODE CLIENT SERVER: why this case cannot work through the
# operator's router alone (empty: it can). With a forward policy of drop,
# every data connection is a new connection to a port other than 21, so
# every case needs at least a pinhole; NAT adds a rewrite where an address
# is wrong.
alg_need() {
	case $1.$2 in
	A.pasv|A.epsv) echo "the client's new connection to the server's passive port is dropped by the forward policy: needs a pinhole" ;;
	A.port) echo "PORT names the private 192.168.1.10: needs a rewrite to 203.0.113.1 and a DNAT pinhole for the server's connection back" ;;
	A.eprt) echo "EPRT names the private 192.168.1.10: needs a rewrite to 203.0.113.1 and a DNAT pinhole for the server's connection back" ;;
	B.pasv)
		if [ "${4%-pub}" != "$4" ]; then
			echo "the 227 already names 198.51.100.1 (no rewrite), but nothing forwards 198.51.100.1:<port>: needs a DNAT pinhole to 10.0.0.5"
		elif [ "$3" = curl-skip ] || [ "$3" = lftp-fix ]; then
			echo "$3 ignores the private 227 address and dials 198.51.100.1:<port>, which nothing forwards: needs a DNAT pinhole to 10.0.0.5 (no rewrite)"
		else
			echo "227 names the private 10.0.0.5, unreachable from the client: needs a rewrite to 198.51.100.1 and a DNAT pinhole"
		fi ;;
	B.epsv) echo "229 gives only the port; 198.51.100.1:<port> is not forwarded: needs a DNAT pinhole to 10.0.0.5" ;;
	B.port|B.eprt) echo "the client's address is public (no rewrite), but the server's new outbound data connection is dropped by the forward policy: needs a pinhole" ;;
	C.epsv) echo "no NAT, but the forward policy drops the client's new connection to the passive port: needs a pinhole" ;;
	C.eprt) echo "no NAT, but the forward policy drops the server's new connection to the client: needs a pinhole" ;;
	esac
}

# kernel_known SCEN MODE CLIENT SERVER: a known cause for the kernel's
# helper to fail this case (empty: none known)
kernel_known() {
	case $1.$2.$4 in
	B.pasv.*-pub) echo "nf_conntrack_ftp (loose=0) records no expectation for a 227 naming another address than the server's own 10.0.0.5, so nothing DNATs the data connection" ;;
	esac
}

ROWS=()   # summary rows
row() { ROWS+=("$(printf '%-2s %-4s %-9s %-10s %-4s %-17s %4s  %s' "$@")"); }

# the client's trace has the REST of a resumed download
rest_sent() { # client log
	case $1 in
	curl*) grep -q "^> REST $LAB_REST_OFF" "$2" ;;
	ftplib) grep -q "^\*cmd\* 'REST $LAB_REST_OFF'" "$2" ;;
	lftp*|tnftp) grep -q "^---> REST $LAB_REST_OFF" "$2" ;;
	esac
}
# how many times the client sent the mode's command, and logged in
mode_cmds() { # client mode log
	local m=${2^^}
	case $1 in
	curl*) grep -c "^> $m" "$3" ;;
	ftplib) grep -c "^\*cmd\* '$m" "$3" ;;
	lftp*|tnftp) grep -c "^---> $m" "$3" ;;
	esac
}
logins() { # client log
	case $1 in
	curl*) grep -c "^> USER " "$2" ;;
	ftplib) grep -c "^\*cmd\* 'USER " "$2" ;;
	lftp*|tnftp) grep -c "^---> USER " "$2" ;;
	esac
}

CASE_N=0
# run_case SERVER MODE CLIENT OP
run_case() {
	local srv=$1 mode=$2 client=$3 op=$4
	local remote lpath name="" log rc t0 secs detail="" why need known plog from=1 seen
	CASE_N=$((CASE_N + 1))
	local desc="$LAB_SCEN ${mode^^} $client $srv $op"
	local r=("$LAB_SCEN" "${mode^^}" "$client" "$srv" "$op")
	log=$LAB_RUN/cases/$CASE_N-$LAB_SCEN-$srv-$mode-$client-$op.log
	case $op in
	list) remote=/pub/listdir/ lpath=$LAB_RUN/out/$CASE_N.list
	      case $client in ftplib|tnftp) remote=/pub/listdir ;; esac ;;
	get)  remote=/pub/data.bin lpath=$LAB_RUN/out/$CASE_N.bin ;;
	rest) remote=/pub/data.bin lpath=$LAB_RUN/out/$CASE_N.bin
	      head -c "$LAB_REST_OFF" "$LAB_DATA" >"$lpath" ;;
	multi) remote=/pub/small.bin lpath=$LAB_RUN/out/$CASE_N.small ;;
	put)  name=up-$LAB_SCEN-$srv-$mode-$client.bin
	      remote=/upload/$name lpath=$LAB_DATA
	      rm -f "$(lab_server_file "$name")" ;;
	esac
	plog=$(lab_server_proto_log)
	[ -f "$plog" ] && from=$(($(wc -l <"$plog") + 1))
	t0=$(lab_now)
	lab_ftp "$client" "$mode" "$op" "$remote" "$lpath" "$log"
	rc=$?
	secs=$(awk -v a="$t0" -v b="$(lab_now)" 'BEGIN { printf "%.1f", b - a }')
	seen="client: $(lab_seen_client "$client" "$log") | server: $(lab_seen_server "$from")"
	if [ $rc != 0 ]; then
		detail="client status $rc: $(lab_why "$log")"
		why=$(lab_check_mode "$client" "$mode" "$log") || detail="$detail ($why)"
	elif ! why=$(lab_check_mode "$client" "$mode" "$log"); then
		detail="wrong mode: $why"
	else
		case $op in
		list)
			local i absent=""
			for i in $(seq -w 1 12); do grep -q "entry-$i" "$lpath" || absent="$absent entry-$i"; done
			[ -n "$absent" ] && detail="LIST lacks$absent" ;;
		get)
			[ "$(sha256sum <"$lpath" | cut -d' ' -f1)" = "$LAB_DATA_SHA" ] ||
				detail="download sha256 differs ($(stat -c %s "$lpath" 2>/dev/null || echo 0) bytes)" ;;
		rest)
			if ! rest_sent "$client" "$log"; then
				detail="no REST $LAB_REST_OFF sent"
			elif [ "$(sha256sum <"$lpath" | cut -d' ' -f1)" != "$LAB_DATA_SHA" ]; then
				detail="resumed download sha256 differs ($(stat -c %s "$lpath" 2>/dev/null || echo 0) bytes)"
			fi ;;
		multi)
			local i bad=0 cmds
			for ((i = 1; i <= LAB_MULTI; i++)); do
				[ "$(sha256sum <"$lpath.$i" 2>/dev/null | cut -d' ' -f1)" = "$LAB_SMALL_SHA" ] || bad=$((bad + 1))
			done
			cmds=$(mode_cmds "$client" "$mode" "$log")
			if [ $bad != 0 ]; then
				detail="$bad of $LAB_MULTI downloads differ"
			elif [ "$cmds" -lt "$LAB_MULTI" ] || [ "$(logins "$client" "$log")" != 1 ]; then
				detail="not $LAB_MULTI transfers in one session ($cmds ${mode^^}, $(logins "$client" "$log") logins)"
			fi ;;
		put)
			local f; f=$(lab_server_file "$name")
			[ -f "$f" ] && [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$LAB_DATA_SHA" ] ||
				detail="upload sha256 differs on the server ($(stat -c %s "$f" 2>/dev/null || echo 0) bytes)" ;;
		esac
	fi
	rm -f "$LAB_RUN/out/$CASE_N".*
	[ "$op" = multi ] && [ "$GW" != none ] && [ -z "$detail" ] && seen="$seen ($LAB_MULTI RETRs, one session)"
	need=$(alg_need "$LAB_SCEN" "$mode" "$client" "$srv")
	if [ "$GW" = none ] && [ -n "$need" ]; then
		if [ -n "$detail" ] && ! lab_sent_mode "$client" "$mode" "$log"; then
			# it must fail at the data connection, not before
			lab_not_ok "$desc failed before sending ${mode^^} ($detail)"
			lab_dump; lab_diag "--- client log" "$(tail -n 40 "$log")"
			row "${r[@]}" FAIL "$secs" "before ${mode^^}: $detail"
		elif [ -n "$detail" ]; then
			lab_ok "$desc fails without an ALG (expected)"
			lab_diag "  why it needs one: $need" "  how it failed: $detail" "  $seen"
			row "${r[@]}" "fail (expected)" "$secs" "$detail"
		else
			lab_not_ok "$desc works without an ALG (unexpected: $need)"
			lab_dump; lab_diag "--- client log" "$(tail -n 40 "$log")"
			row "${r[@]}" "PASS (unexpected)" "$secs" "$need"
		fi
		return
	fi
	known=""
	[ "$GW" = kernel ] && known=$(kernel_known "$LAB_SCEN" "$mode" "$client" "$srv")
	if [ -z "$detail" ]; then
		lab_ok "$desc"
		lab_diag "  $seen"
		row "${r[@]}" pass "$secs" "$seen"
	elif [ -n "$known" ]; then
		lab_todo "$desc ($detail)" "$known"
		lab_diag "  $seen"
		row "${r[@]}" "fail (known)" "$secs" "$detail"
	else
		lab_not_ok "$desc ($detail)"
		lab_diag "  $seen"
		lab_dump; lab_diag "--- client log" "$(tail -n 40 "$log")"
		row "${r[@]}" FAIL "$secs" "$detail"
	fi
}

# the control connection alone (login, PWD or SIZE/MDTM): the lab works
# whatever the gateway, so the expected failures above are data failures
control_case() { # server client
	local log=$LAB_RUN/cases/control-$LAB_SCEN-$1-$2.log
	if lab_ftp "$2" pasv noop /pub/data.bin "$LAB_RUN/out/noop" "$log"; then
		lab_ok "$LAB_SCEN control connection through the router ($2, $1, no data connection)"
	else
		lab_not_ok "$LAB_SCEN control connection through the router ($2, $1): $(lab_why "$log")"
		lab_dump; lab_diag "--- client log" "$(tail -n 40 "$log")"
	fi
}

# what the router's conntrack says about helpers on port 21
helper_case() {
	local ct
	ct=$(ip netns exec "$NS_R" conntrack -L -p tcp --dport 21 2>/dev/null)
	case $GW in
	kernel)
		if grep -q 'helper=ftp' <<<"$ct"; then
			lab_ok "$LAB_SCEN kernel ftp helper attached to the control connections"
		else
			lab_not_ok "$LAB_SCEN kernel ftp helper attached to the control connections"
			lab_diag "$ct"
		fi ;;
	none)
		if grep -q 'helper=' <<<"$ct"; then
			lab_not_ok "$LAB_SCEN no helper on the control connections without a gateway"
			lab_diag "$ct"
		else
			lab_ok "$LAB_SCEN no helper on the control connections without a gateway"
		fi ;;
	esac
}

start_gw() {
	local args=()
	case $GW in
	none) gw_none ;;
	kernel) gw_kernel ;;
	ftpgwd)
		local v=FTPGWD_ARGS_$LAB_SCEN
		read -ra args <<<"${!v-${FTPGWD_ARGS:-}}"
		gw_ftpgwd "${args[@]}" ;;
	esac
}

start_server() { # label
	case $1 in
	*-pub) lab_server_start "${1%-pub}" "$LAB_ROUTER_WAN" ;;
	*) lab_server_start "$1" ;;
	esac
}

T0=$(lab_now)
lab_init
lab_diag "ftpgw e2e matrix: GW=$GW, run dir $LAB_RUN, suffix $LAB_SFX"
lab_need_tools >/dev/null || echo "Bail out! tools missing (iproute2 nftables conntrack curl python3-pyftpdlib)"
# the servers installed from unpacked .debs (lib.sh, lab_need_deb)
declare -A HAVE=([pyftpdlib]=1)
lab_need_vsftpd >/dev/null && HAVE[vsftpd]=1
lab_need_pureftpd >/dev/null && HAVE[pure-ftpd]=1
lab_need_proftpd >/dev/null && HAVE[proftpd]=1

for scen in $SCENARIOS; do
	lab_topo "$scen"
	lab_diag "scenario $scen: client $LAB_CLIENT_ADDR dials $LAB_CONNECT; server $LAB_SERVER_ADDR"
	if ! start_gw; then
		lab_not_ok "$scen gateway $GW started"
		lab_dump
		lab_topo_down
		continue
	fi
	[ "$GW" = none ] || lab_ok "$scen gateway $GW started"
	for srv in $(scen_servers "$scen"); do
		if [ -z "${HAVE[${srv%-pub}]:-}" ]; then
			lab_skip "$scen $srv cases" "${srv%-pub} could not be installed (lib.sh, lab_need_deb)"
			continue
		fi
		if ! start_server "$srv"; then
			lab_not_ok "$scen $srv started in the server namespace"
			continue
		fi
		for c in curl ftplib lftp tnftp; do in_list $c "$CLIENTS" && control_case "$srv" $c; done
		for mode in $(scen_modes "$scen" "$srv"); do
			for client in $(mode_clients "$scen" "$mode"); do
				for op in $(client_ops "$client"); do run_case "$srv" "$mode" "$client" "$op"; done
			done
		done
		lab_server_stop
	done
	helper_case
	if [ "$GW" = ftpgwd ]; then
		if kill -0 "$LAB_GW_PID" 2>/dev/null; then
			lab_ok "$scen ftpgwd still running after the scenario"
		else
			lab_not_ok "$scen ftpgwd still running after the scenario"
			lab_diag "$(tail -n 50 "$LAB_GW_LOG")"
		fi
		lab_gw_stop
		if [ "$LAB_LAST_STATUS" = 0 ]; then
			lab_ok "$scen ftpgwd exits 0 on SIGTERM"
		else
			lab_not_ok "$scen ftpgwd exits 0 on SIGTERM (status $LAB_LAST_STATUS)"
			lab_diag "$(tail -n 20 "$LAB_GW_LOG")"
		fi
		lab_diag "$scen ftpgwd sessions: $(grep -c 'sequence adjustment: kernel' "$LAB_GW_LOG") kernel-owned, $(grep -c 'sequence adjustment: fallback' "$LAB_GW_LOG") fallback sequence adjustment"
		if ip netns exec "$NS_R" nft list tables | grep -q 'inet ftpgw'; then
			lab_not_ok "$scen no ftpgw table left after SIGTERM"
		else
			lab_ok "$scen no ftpgw table left after SIGTERM"
		fi
	fi
	lab_topo_down
done

lab_diag "" "summary, GW=$GW ($(awk -v a="$T0" -v b="$(lab_now)" 'BEGIN { printf "%d", b - a }') s):"
lab_diag "$(printf '%-2s %-4s %-9s %-10s %-4s %-17s %4s  %s' sc mode client server op result secs note)"
for r in "${ROWS[@]}"; do lab_diag "$r"; done
lab_diag "" "why each case needs an ALG (forward policy drop, plus NAT where an address is wrong):"
for scen in $SCENARIOS; do
	for srv in $(scen_servers "$scen"); do
		for mode in $(scen_modes "$scen" "$srv"); do
			for client in $(mode_clients "$scen" "$mode"); do
				case $srv in vsftpd|vsftpd-pub) ;; *) continue ;; esac   # the others: the same reasons
				srvnote=""; [ "$srv" = vsftpd-pub ] && srvnote=" (a -pub server)"
				lab_diag "  $scen ${mode^^} $client$srvnote: $(alg_need "$scen" "$mode" "$client" "$srv")"
			done
		done
	done
done
lab_plan
[ "$LAB_FAIL" = 0 ]
