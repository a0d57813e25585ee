#!/usr/bin/env bash
# ftpgw-line: the core at an operator's fingertips (TAP).
set -u
cd "$(dirname "$0")/../.."
L=build/ftpgw-line
n=0
t() { # name expected actual
	n=$((n + 1))
	if [ "$2" = "$3" ]; then echo "ok $n - $1"
	else echo "not ok $n - $1"; echo "#   expected: $2"; echo "#   got:      $3"; fi
}
# field FIELD: read JSON objects on stdin, print FIELD of each ("-" if absent)
field() { python3 -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    v = o
    for k in sys.argv[1].split("."):
        v = v.get(k, "-") if isinstance(v, dict) else "-"
    print(v)' "$1"; }

A="--client-private 192.168.1.10 --client-public 203.0.113.1 --server-private 198.51.100.5"
B="--client-private 198.51.100.7 --server-private 10.0.0.5 --server-public 203.0.113.1"

out=$(printf 'S: 220 hi\nC: PORT 192,168,1,10,19,137\n' | $L $A)
t "PORT rewritten behind PAT" "rewrite" "$(echo "$out" | tail -1 | field verdict)"
t "PORT line as it leaves" "PORT 203,0,113,1,19,137" "$(echo "$out" | tail -1 | field line)"
t "active data: server connects to the public side" \
  "active 198.51.100.5 203.0.113.1 5001 192.168.1.10 5001" \
  "$(echo "$out" | tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d["mode"], d["from"], d["to"], d["to_port"], d["listener"], d["listener_port"])')"
t "greeting passes" "pass" "$(echo "$out" | head -1 | field verdict)"

out=$(printf 'S: 220 hi\nC: PASV\nS: 227 Entering Passive Mode (10,0,0,5,195,80).\n' | $L $B)
t "227 rewritten behind DNAT" "227 Entering Passive Mode (203,0,113,1,195,80)." \
  "$(echo "$out" | tail -1 | field line)"
t "passive data from the client" "passive 198.51.100.7" \
  "$(echo "$out" | tail -1 | field data.mode) $(echo "$out" | tail -1 | field data.from)"

out=$(printf 'S: 220 hi\nC: PORT 10,0,0,99,0,25\n' | $L $A)
t "bounce refused" "reject bounce FTPGW-REFUSED -" \
  "$(echo "$out" | tail -1 | field verdict) $(echo "$out" | tail -1 | field reason) $(echo "$out" | tail -1 | field line) $(echo "$out" | tail -1 | field data)"

out=$(printf 'S: 220 hi\nC: PORT 192,168,1,10,0,22\n' | $L $A)
t "own privileged port refused" "low-port" "$(echo "$out" | tail -1 | field reason)"

out=$(printf 'S: 220 hi\nC: PORT 192,168,1,10,0,22\n' | $L $A --policy allow-low-ports=yes --policy on-violation=reset)
t "policy from the command line" "rewrite" "$(echo "$out" | tail -1 | field verdict)"

out=$(printf 'S: 220 hi\nC: PORT 10,0,0,99,0,25\n' | $L $A --policy on-violation=reset)
t "on-violation=reset" "reset" "$(echo "$out" | tail -1 | field verdict)"

out=$(printf 'S: 220 hi\nC: PORT 192,168,1,10\\x00,4,1\n' | $L $A --escapes)
t "escapes: a NUL in PORT is malformed" "reject malformed" \
  "$(echo "$out" | tail -1 | field verdict) $(echo "$out" | tail -1 | field reason)"

out=$(printf 'S: 220 hi\nC: USER \\xff\\xfe"x\\\\\n' | $L $A --escapes)
t "JSON escapes untrusted bytes" 'USER \u00ff\u00fe\"x\\' \
  "$(echo "$out" | tail -1 | python3 -c 'import sys; s=sys.stdin.read(); print(s[s.index("\"line\":")+8:s.index("\"}")])')"

out=$(printf 'S: 220 hi\nC: AUTH TLS\nS: 234 go\n' | $L $A)
t "234 after AUTH: TLS, no longer inspected" "tls" "$(echo "$out" | tail -1 | field reason)"

out=$(printf 'C: PORT 192,168,1,10,4,1\n' | $L $A)
t "PORT before the greeting" "no-greeting" "$(echo "$out" | field reason)"
out=$(printf 'C: PORT 192,168,1,10,4,1\n' | $L $A --midstream)
t "--midstream: no greeting expected" "rewrite" "$(echo "$out" | field verdict)"

out=$(printf 'S: 220 hi\nC: EPRT |2|2001:db8:1::10|50000|\n' | $L --client-private 2001:db8:1::10 --server-private 2001:db8:2::5)
t "IPv6 EPRT: no NAT, pinhole only" "pass active ipv6" \
  "$(echo "$out" | tail -1 | field verdict) $(echo "$out" | tail -1 | field data.mode) $(echo "$out" | tail -1 | field data.family)"

all_json=$(printf 'S: 220 hi\nC: USER a\nS: 331 p\nC: PASS b\nS: 230 ok\nC: PASV\nS: 227 x (10,0,0,5,4,1)\n' | $L $B | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l)))')
t "one JSON object per input line" "7" "$all_json"

$L --client-private 1.2.3.4 </dev/null >/dev/null 2>&1; t "missing --server-private: usage, exit 2" 2 $?
$L $A --policy nosuch=1 </dev/null >/dev/null 2>/tmp/ftpgw-line.err.$$; rc=$?
t "unknown policy option: exit 2" 2 $rc
t "unknown policy option: says which" "ftpgw-line: --policy nosuch: unknown policy option 'nosuch'" "$(cat /tmp/ftpgw-line.err.$$)"
$L $A --policy passive-ports=5-1 </dev/null >/dev/null 2>/tmp/ftpgw-line.err.$$
t "bad range: says why" "ftpgw-line: --policy passive-ports: '5-1' is not a port range LO-HI within 1-65535" "$(cat /tmp/ftpgw-line.err.$$)"
$L --client-private 1.2.3.4 --server-private 2001:db8::1 </dev/null >/dev/null 2>&1
t "mixed families refused" 2 $?
printf 'S: 220 hi\nX: what\nC: NOOP\n' | $L $A >/dev/null 2>/tmp/ftpgw-line.err.$$; rc=$?
t "a line without C:/S: is an error with its line number" "1 ftpgw-line: stdin:2: expected 'C: ' or 'S: ' before the line" "$rc $(cat /tmp/ftpgw-line.err.$$)"
rm -f /tmp/ftpgw-line.err.$$
t "--show-policy prints the defaults" "passive-ports=1-65535" "$($L --show-policy | grep passive-ports)"
echo "1..$n"
