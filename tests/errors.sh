#!/usr/bin/env bash
# Errors as Linux gives them: connection refused (curl exit 7, quickly),
# bind to a non-local address (EADDRNOTAVAIL), and programs that never open
# a socket run without touching the TUN device; a missing device gives one
# clear line and an errno, never a crash or hang.
source "$(dirname "$0")/lib.sh"
start=$(date +%s%N)
shimmed timeout 10 curl -sS http://10.7.0.1:1/ 2> "$WORK/err"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 7 ] || fail "curl to a closed port: exit $rc, want 7"
grep -qi "couldn't connect\|connection refused" "$WORK/err" || fail "curl message: $(cat "$WORK/err")"
[ $ms -lt 3000 ] || fail "refusal took ${ms} ms"
pass "connection refused (curl exit 7 in ${ms} ms)"

out=$(shimmed python3 -c "
import socket, errno
s = socket.socket()
try:
    s.bind(('10.9.9.9', 0)); print('bound')
except OSError as e:
    print(errno.errorcode[e.errno])")
[ "$out" = EADDRNOTAVAIL ] || fail "bind non-local: $out"
pass "bind to a non-local address: EADDRNOTAVAIL"

# No socket, no device: run in a namespace without sockshim0 at all.
ip netns add "$NS-bare"; trap 'ip netns del "$NS-bare" 2>/dev/null; cleanup' EXIT
out=$(ip netns exec "$NS-bare" env LD_PRELOAD="$SHIM" sh -c 'ls / >/dev/null && echo ran' 2>&1)
[ "$out" = ran ] || fail "program without sockets: '$out'"
pass "a program without sockets never touches the device"
out=$(ip netns exec "$NS-bare" env LD_PRELOAD="$SHIM" timeout 10 python3 -c "
import socket, errno
try:
    socket.socket()
except OSError as e:
    print(errno.errorcode[e.errno])" 2> "$WORK/msg")
[ "$out" = ENETDOWN ] || fail "missing device errno: '$out'"
[ "$(wc -l < "$WORK/msg")" -eq 1 ] && grep -q "netns-up" "$WORK/msg" || fail "missing device message: $(cat "$WORK/msg")"
pass "missing device: one clear line and ENETDOWN"
