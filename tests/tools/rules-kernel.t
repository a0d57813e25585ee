#!/usr/bin/env bash
# src/rules.c against the real kernel (TAP). Everything happens in three
# network namespaces made here with a per-run suffix:
#
#   cli 10.9.1.2 fd09:1::2 --- gw 10.9.1.1 fd09:1::1 | 10.9.2.1 fd09:2::1 --- srv 10.9.2.2 fd09:2::2
#
# gw routes between them and holds ftpgw's table and an "operator" table
# we did not design for: a forward chain with policy drop that accepts
# only established/related, the documented accept-mark line and FTP
# control. srv runs a tiny TCP server answering "hi <port>"; cli connects.
# No traffic leaves the namespaces; the root namespace is never touched.
# Skips (TAP SKIP) only when not root or namespaces are unavailable.
set -u
cd "$(dirname "$0")/../.."
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
t() { # name expected actual
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "expected: $2" "got:      $3"; fi
}
has() { # name needle haystack
	case $3 in *"$2"*) ok "$1" ;; *) nok "$1" "missing: $2" "in: $(echo "$3" | head -20 | tr '\n' '|')" ;; esac
}
lacks() { # name needle haystack
	case $3 in *"$2"*) nok "$1" "unexpected: $2" ;; *) ok "$1" ;; esac
}
skip_all() { echo "ok 1 - rules against the kernel # SKIP $1"; echo "1..1"; exit 0; }

[ "$(id -u)" = 0 ] || skip_all "not root"
command -v ip >/dev/null && command -v nft >/dev/null || skip_all "no ip or nft"

S=$$
C=ftpgwr-c$S G=ftpgwr-g$S V=ftpgwr-s$S
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ftpgwr.XXXXXX")
SRVPID=
cleanup() {
	[ -n "$SRVPID" ] && kill "$SRVPID" 2>/dev/null
	[ -n "$SRVPID" ] && wait "$SRVPID" 2>/dev/null
	for ns in $C $G $V; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! ip netns add "$G" 2>/dev/null; then
	skip_all "cannot create a network namespace"
fi
ip netns add "$C" && ip netns add "$V" || skip_all "cannot create network namespaces"

# The probe tool: build/rules-probe when the Makefile made it, else here.
P=build/rules-probe
if [ ! -x "$P" ] || [ tools/rules-probe.c -nt "$P" ] || [ src/rules.c -nt "$P" ] ||
    [ include/rules.h -nt "$P" ]; then
	P=$TMP/rules-probe
	if ! ${CC:-cc} -std=c11 -O2 -Iinclude -D_DEFAULT_SOURCE tools/rules-probe.c \
	    src/rules.c -o "$P" $(pkg-config --cflags --libs libnftnl libmnl) \
	    2>"$TMP/cc.log"; then
		nok "build tools/rules-probe" "$(cat "$TMP/cc.log")"
		echo "1..$n"; exit 1
	fi
fi
gw() { ip netns exec "$G" "$@"; }
rp() { ip netns exec "$G" "$P" "$@"; }

# --- the lab ---------------------------------------------------------------
ip -n "$C" link add c0 type veth peer name g1 netns "$G"
ip -n "$V" link add s0 type veth peer name g2 netns "$G"
for ns in $C $G $V; do ip -n "$ns" link set lo up; done
ip -n "$C" addr add 10.9.1.2/24 dev c0
ip -n "$C" addr add fd09:1::2/64 dev c0 nodad
ip -n "$G" addr add 10.9.1.1/24 dev g1
ip -n "$G" addr add fd09:1::1/64 dev g1 nodad
ip -n "$G" addr add 10.9.2.1/24 dev g2
ip -n "$G" addr add fd09:2::1/64 dev g2 nodad
ip -n "$V" addr add 10.9.2.2/24 dev s0
ip -n "$V" addr add fd09:2::2/64 dev s0 nodad
ip -n "$C" link set c0 up; ip -n "$G" link set g1 up
ip -n "$G" link set g2 up; ip -n "$V" link set s0 up
ip -n "$C" route add default via 10.9.1.1
ip -n "$C" -6 route add default via fd09:1::1
ip -n "$V" route add default via 10.9.2.1
ip -n "$V" -6 route add default via fd09:2::1
gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

MARK=0x00100000
gw nft -f - <<EOF
table inet op$S {
	chain forward_drop {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		ct mark & $MARK == $MARK accept
		tcp dport 21 accept
	}
}
EOF
t "operator table with policy drop in the gateway" 0 $?

cat >"$TMP/srv.py" <<'EOF'
import select, socket, sys, time
socks = []
for spec in sys.argv[2:]:
    addr, port = spec.rsplit(":", 1)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(16)
    socks.append(s)
open(sys.argv[1], "w").write("ready\n")
end = time.time() + 300
while time.time() < end:
    r, _, _ = select.select(socks, [], [], 1)
    for s in r:
        c, _ = s.accept()
        c.sendall(("hi %d\n" % s.getsockname()[1]).encode())
        c.close()
EOF
cat >"$TMP/cli.py" <<'EOF'
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.settimeout(2)
try:
    s.connect((addr, port))
    print(s.recv(64).decode().strip())
except (socket.timeout, TimeoutError):
    print("fail timeout")
except ConnectionRefusedError:
    print("fail refused")
except Exception as e:
    print("fail", type(e).__name__)
EOF
ip netns exec "$V" python3 "$TMP/srv.py" "$TMP/ready" 10.9.2.2:21 10.9.2.2:5000 \
	10.9.2.2:5001 10.9.2.2:5002 10.9.2.2:5003 fd09:2::2:6000 fd09:2::2:6001 \
	>"$TMP/srv.log" 2>&1 &
SRVPID=$!
for _ in $(seq 50); do [ -f "$TMP/ready" ] && break; sleep 0.1; done
t "test server up in its namespace" ready "$(cat "$TMP/ready" 2>/dev/null)"
conn() { ip netns exec "$C" timeout 10 python3 "$TMP/cli.py" "$1" "$2"; }
gwct() { gw cat /proc/net/nf_conntrack 2>/dev/null; }

# --- open and probe ------------------------------------------------------------
out=$(ip netns exec "$G" setpriv --reuid=65534 --regid=65534 --clear-groups "$P" open 2>&1)
has "rules_open without CAP_NET_ADMIN: EPERM, says so" "needs CAP_NET_ADMIN) (EPERM)" "$out"

be=$(rp probe 2>&1)
case $be in
nft|xt) ok "rules_probe_queue: this kernel queues with '$be'" ;;
*) nok "rules_probe_queue" "$be" ;;
esac
t "the probe left no table behind" "table inet op$S" "$(gw nft list tables)"

# --- install (the operator's ruleset queues: --no-rules) -------------------------
out=$(rp --no-rules install 2>&1)
t "rules_install --no-rules" "" "$out"
t "rules_table_exists" yes "$(rp exists)"
list=$(gw nft list table inet ftpgw 2>&1)
echo "$list" >"$TMP/list-norules"
has "ct expectation carrier4 with size 0 in the kernel" "size 0" "$list"
has "carrier chain sets the expectation" 'ct expectation set "carrier4"' "$list"
has "pin chain: one-shot delete" "delete @pin4 { ip saddr . ip daddr . tcp dport }" "$list"
has "pin chain: accept mark on ct and packet" "ct mark set ct mark | $MARK meta mark set meta mark | $MARK" "$list"
has "pin_nat: dnat through the map" "dnat ip6 to ip6 saddr . ip6 daddr . tcp dport map @dnat6" "$list"
lacks "--no-rules: no queue chains" "ctl_fwd" "$list"
out=$(rp --no-rules install 2>&1)
t "second install: EEXIST naming the table" "rules-probe: table inet ftpgw: File exists (EEXIST)" "$out"

# control connection through the carrier: passes, and creates no expectation
t "control connection (port 21) passes the carrier" "hi 21" "$(conn 10.9.2.2 21)"
t "the size-0 carrier creates no expectation" "" "$(gw cat /proc/net/nf_conntrack_expect)"

# --- one-shot pinholes ---------------------------------------------------------
t "no pinhole: the operator's policy drops" "fail timeout" "$(conn 10.9.2.2 5000)"
t "pin-add IPv4" "" "$(rp pin-add 10.9.1.2,10.9.2.2,5000,30000 2>&1)"
has "pin-list shows it" "4 10.9.1.2 10.9.2.2 5000 expires" "$(rp pin-list)"
t "first connection through the pinhole" "hi 5000" "$(conn 10.9.2.2 5000)"
has "its conntrack entry carries the accept mark" "mark=$((MARK))" \
	"$(gwct | grep 'dport=5000 ' | head -1)"
t "the pinhole is consumed" "" "$(rp pin-list)"
t "second connection with the same key is dropped" "fail timeout" "$(conn 10.9.2.2 5000)"

t "pin-add for another source address" "" "$(rp pin-add 10.9.1.99,10.9.2.2,5002,30000 2>&1)"
t "a pinhole admits only its own source" "fail timeout" "$(conn 10.9.2.2 5002)"
rp pin-del 10.9.1.99,10.9.2.2,5002,0

t "pin-add IPv4 DNAT (gateway 2121 -> server 5001)" "" \
	"$(rp pin-add 10.9.1.2,10.9.1.1,2121,30000,10.9.2.2,5001 2>&1)"
has "pin-list shows the DNAT target" "4 10.9.1.2 10.9.1.1 2121 dnat 10.9.2.2 5001" "$(rp pin-list)"
t "DNAT pinhole: first connection reaches server port 5001" "hi 5001" "$(conn 10.9.1.1 2121)"
has "its conntrack entry is DNATed" "src=10.9.2.2 dst=10.9.1.2 sport=5001" \
	"$(gwct | grep 'dport=2121 ' | head -1)"
t "DNAT pinhole: second connection is not forwarded" "fail refused" "$(conn 10.9.1.1 2121)"

t "pin-add IPv6 and IPv6 DNAT in one batch" "" \
	"$(rp pin-add fd09:1::2,fd09:2::2,6000,30000 fd09:1::2,fd09:1::1,2121,30000,fd09:2::2,6001 2>&1)"
t "IPv6: first connection through" "hi 6000" "$(conn fd09:2::2 6000)"
t "IPv6: second connection dropped" "fail timeout" "$(conn fd09:2::2 6000)"
t "IPv6 DNAT: first connection reaches port 6001" "hi 6001" "$(conn fd09:1::1 2121)"
t "IPv6 DNAT: second connection not forwarded" "fail refused" "$(conn fd09:1::1 2121)"

t "pin-add with a 1 s timeout" "" "$(rp pin-add 10.9.1.2,10.9.2.2,5003,1000 2>&1)"
sleep 2
t "the element timed out: connection dropped" "fail timeout" "$(conn 10.9.2.2 5003)"
rp pin-add 10.9.1.2,10.9.2.2,5003,30000
t "pin-del (twice, and a gone one: fine)" "0" \
	"$(rp pin-del 10.9.1.2,10.9.2.2,5003,0 10.9.1.2,10.9.2.2,5003,0 10.9.1.7,10.9.2.2,1,0 >/dev/null 2>&1; echo $?)"
t "deleted pinhole admits nothing" "fail timeout" "$(conn 10.9.2.2 5003)"

# all or nothing, and the error names the pinhole
rp pin-add 10.9.1.2,10.9.1.1,2200,30000,10.9.2.2,5001
out=$(rp pin-add 10.9.1.2,10.9.2.2,5002,30000 10.9.1.2,10.9.1.1,2200,30000,10.9.2.2,5000 2>&1)
has "conflicting DNAT pinhole: the error names it" "pinhole 1 (map dnat4): File exists (EEXIST)" "$out"
has "and gives its index" "bad index 1" "$out"
lacks "all or nothing: pinhole 0 was not added" "10.9.2.2 5002" "$(rp pin-list)"
out=$(rp --table nosuch pin-add 10.9.1.2,10.9.2.2,5002,30000 2>&1)
has "missing table: names the set" "pinhole 0 (set pin4): No such file or directory (ENOENT)" "$out"

# --- remove ----------------------------------------------------------------------
t "rules_remove" "" "$(rp remove 2>&1)"
t "the table is gone" "table inet op$S" "$(gw nft list tables)"
t "rules_remove again: 0" "" "$(rp remove 2>&1)"
t "rules_table_exists after remove" no "$(rp exists)"

# --- queue chains (the daemon's own rules) ------------------------------------------
out=$(rp --queue 3 install 2>&1)
t "rules_install with queue chains ($be)" "" "$out"
list=$(gw nft list table inet ftpgw 2>/dev/null)
echo "$list" >"$TMP/list-rules"
has "ctl_fwd at forward -10" "type filter hook forward priority filter - 10; policy accept;" "$list"
has "ctl_out at output" "type filter hook output priority filter - 10; policy accept;" "$list"
if [ "$be" = xt ]; then
	has "xt rules say what they are" 'tcp dport @ctl_ports  comment "queue num 3 (xt NFQUEUE)"' "$list"
else
	has "nft queue statement" "queue" "$list"
fi
t "queued control packet, no daemon, no bypass: dropped" "fail timeout" "$(conn 10.9.2.2 21)"
rp remove
out=$(rp --queue 3-4 --fail-open install 2>&1)
t "rules_install with a balanced range and bypass" "" "$out"
t "queued control packet, no daemon, bypass: passes" "hi 21" "$(conn 10.9.2.2 21)"
t "a data port is not queued" "fail timeout" "$(conn 10.9.2.2 5000)"
rp remove
t "nothing of ours is left" "table inet op$S" "$(gw nft list tables)"

# --- rules_format_nft is nft syntax the kernel takes ---------------------------------
# nft 1.0.x refuses "dport 0" and "size 0" in a ct expectation ("missing
# options"), so those two become 1 for this check; nft -c runs the whole
# batch through the kernel and aborts it.
"$P" --no-rules format | sed 's/dport 0$/dport 1/; s/size 0$/size 1/' >"$TMP/fmt.nft"
out=$(gw nft -c -f "$TMP/fmt.nft" 2>&1)
t "format --no-rules: nft and the kernel accept it (nft -c)" "" "$out"
"$P" format | sed 's/dport 0$/dport 1/; s/size 0$/size 1/' >"$TMP/fmt.nft"
out=$(gw nft -c -f "$TMP/fmt.nft" 2>&1)
if [ "$be" = nft ]; then
	t "format: nft and the kernel accept it (nft -c)" "" "$out"
else
	has "format: only the queue statement is refused (no nft queue here)" \
		"Error: Could not process rule: No such file or directory" "$out"
	lacks "format: no syntax error" "syntax error" "$out"
fi
t "nft -c left nothing" "table inet op$S" "$(gw nft list tables)"

if [ -n "${RULES_KERNEL_SHOW:-}" ]; then
	echo "# --- nft list table inet ftpgw (--no-rules) ---"; sed 's/^/# /' "$TMP/list-norules"
	echo "# --- nft list table inet ftpgw (queue 3) ---"; sed 's/^/# /' "$TMP/list-rules"
fi
echo "1..$n"
