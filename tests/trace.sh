#!/usr/bin/env bash
# `sockshim trace -- CMD` (issue 14): curl under the shim fetching from a
# kernel server prints, like strace -e trace=network, its socket and its
# connect with the address, the result and the errno; SOCKSHIM_TRACE=FILE
# appends to a file; without SOCKSHIM_TRACE nothing is printed.
source "$(dirname "$0")/lib.sh"
SOCKSHIM=${SOCKSHIM_BIN_DIR:-$ROOT/target/release}/sockshim
[ -x "$SOCKSHIM" ] || fail "missing $SOCKSHIM (cargo build --release -p cli)"
echo "traced body" > "$WORK/index.html"
bg in_ns python3 -m http.server --bind 10.7.0.1 --directory "$WORK" 8000
wait_tcp 10.7.0.1 8000 || fail "kernel http server"

in_ns "$SOCKSHIM" trace -- curl -sS -o "$WORK/got" http://10.7.0.1:8000/index.html 2> "$WORK/trace.txt" ||
  fail "trace -- curl: $(tail -5 "$WORK/trace.txt")"
cmp -s "$WORK/got" "$WORK/index.html" || fail "curl under trace: wrong body"
grep -E '^\[pid [0-9]+\] socket\(AF_INET, SOCK_STREAM, IPPROTO_TCP\) = [0-9]+$' "$WORK/trace.txt" >/dev/null ||
  fail "no socket line: $(cat "$WORK/trace.txt")"
fd=$(grep -oE 'socket\(AF_INET, SOCK_STREAM, IPPROTO_TCP\) = [0-9]+' "$WORK/trace.txt" | head -1 | grep -oE '[0-9]+$')
want="connect($fd, {sa_family=AF_INET, sin_port=htons(8000), sin_addr=inet_addr(\"10.7.0.1\")}, 16) = -1 EINPROGRESS (Operation now in progress)"
grep -qF "$want" "$WORK/trace.txt" || fail "no connect line like: $want; got: $(cat "$WORK/trace.txt")"
grep -qE "^\[pid [0-9]+\] (sendto|sendmsg)\($fd, .*GET /index.html" "$WORK/trace.txt" ||
  fail "no send of the request: $(cat "$WORK/trace.txt")"
pass "trace -- curl: $(grep -F "connect($fd" "$WORK/trace.txt")"

in_ns env SOCKSHIM_TRACE="$WORK/t2.txt" LD_PRELOAD="$SHIM" curl -sS -o /dev/null http://10.7.0.1:8000/index.html 2> "$WORK/err.txt" ||
  fail "curl with SOCKSHIM_TRACE=FILE: $(cat "$WORK/err.txt")"
[ -s "$WORK/err.txt" ] && fail "SOCKSHIM_TRACE=FILE still wrote to stderr: $(cat "$WORK/err.txt")"
grep -q "connect(" "$WORK/t2.txt" || fail "SOCKSHIM_TRACE=FILE: no connect in the file: $(cat "$WORK/t2.txt")"
pass "SOCKSHIM_TRACE=FILE: $(wc -l < "$WORK/t2.txt") lines in the file, none on stderr"

shimmed curl -sS -o /dev/null http://10.7.0.1:8000/index.html 2> "$WORK/off.txt" || fail "curl without trace"
[ -s "$WORK/off.txt" ] && fail "tracing off printed: $(cat "$WORK/off.txt")"
pass "no SOCKSHIM_TRACE: no trace lines"
