#!/usr/bin/env bash
# The stack service sockshimd on its own (issue 10): of four started at
# once for one device exactly one runs (the bind of the abstract name
# decides) and the others leave with code 3; it exits by itself once idle;
# started without --foreground it detaches and the starter gets 0 at once;
# a missing device is one line on stderr and code 4; a program past its
# per-client socket cap gets EMFILE while another program does not.
source "$(dirname "$0")/lib.sh"
D=$ROOT/target/release/sockshimd
[ -x "$D" ] || fail "missing $D (cargo build --release -p service)"
svc() { ip netns exec "$NS" env SOCKSHIM_IDLE_MS=2500 "$D" "$@"; }
name_count() { in_ns ss -xl | grep -c '@sockshimd/sockshim0' || true; }

pids=()
for i in 1 2 3 4; do svc --foreground 2>"$WORK/err$i" & pids+=($!); PIDS+=($!); done
codes=()
for _ in $(seq 40); do
  alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive+1)); done
  [ $alive -le 1 ] && break; sleep 0.05
done
running=0 left=0
for p in "${pids[@]}"; do
  if kill -0 "$p" 2>/dev/null; then running=$((running+1)); else
    wait "$p"; c=$?; codes+=($c); [ $c = 3 ] && left=$((left+1)); fi
done
[ $running = 1 ] && [ $left = 3 ] || fail "want 1 running and 3 gone with code 3; running=$running codes=${codes[*]}"
[ "$(name_count)" = 1 ] || fail "the service name is bound $(name_count) times"
pass "four services started at once for one device: one runs, three left (code 3)"

for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && survivor=$p; done
t0=$(date +%s%N)
wait "$survivor"; c=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $c = 0 ] || fail "the idle service exited with $c"
[ $ms -ge 1000 ] && [ $ms -le 8000 ] || fail "idle exit after ${ms} ms (idle period 2500 ms)"
[ "$(name_count)" = 0 ] || fail "the name is still bound after the idle exit"
pass "the idle service exited by itself after ${ms} ms"

t0=$(date +%s%N)
svc || fail "a detaching start returned $?"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(name_count)" = 1 ] || fail "no service after a detaching start"
svc; c=$?
[ $c = 3 ] || fail "a second start while one runs returned $c, want 3"
for _ in $(seq 100); do [ "$(name_count)" = 0 ] && break; sleep 0.1; done
[ "$(name_count)" = 0 ] || fail "the detached service did not exit when idle"
pass "a detaching start returns at once (${ms} ms) and the detached service exits when idle"

ip netns exec "$NS" env SOCKSHIM_TUN=nodev0 "$D" 2>"$WORK/nodev"; c=$?
[ $c = 4 ] || fail "missing device: code $c, want 4"
[ "$(wc -l <"$WORK/nodev")" = 1 ] && grep -q "nodev0" "$WORK/nodev" || fail "missing device: $(cat "$WORK/nodev")"
pass "a missing device: one line ($(cat "$WORK/nodev" | cut -c1-60)...) and code 4"

# Per-client limits, as the program sees them: the service started by a
# program with SOCKSHIM_CLIENT_MAX_SOCKETS=6 gives its seventh socket()
# EMFILE; a second program (another client) still gets sockets, and a
# kernel client can still talk to the first program's listener.
cat >"$WORK/caps.py" <<'PY'
import errno, socket, sys, time
l = socket.socket(); l.bind(("10.7.0.2", 7300)); l.listen(8)
held = [l]
try:
    while len(held) < 100:
        held.append(socket.socket())
    print("no cap", flush=True)
except OSError as e:
    print("socket %d: %s" % (len(held) + 1, errno.errorcode[e.errno]), flush=True)
held.pop().close()
c, _ = l.accept()
c.sendall(c.recv(16).upper()); c.close()
PY
cat >"$WORK/other.py" <<'PY'
import socket
s = [socket.socket() for _ in range(6)]
print("other client: %d sockets" % len(s), flush=True)
PY
bg shimmed env SOCKSHIM_MODE=service SOCKSHIM_IDLE_MS=2000 SOCKSHIM_CLIENT_MAX_SOCKETS=6 \
  python3 "$WORK/caps.py" >"$WORK/caps.out" 2>&1
wait_file "$WORK/caps.out" || fail "caps: no output"
grep -q "^socket 7: EMFILE$" "$WORK/caps.out" || fail "caps: $(cat "$WORK/caps.out")"
shimmed env SOCKSHIM_MODE=service python3 "$WORK/other.py" >"$WORK/other.out" 2>&1
grep -q "other client: 6 sockets" "$WORK/other.out" || fail "another client: $(cat "$WORK/other.out")"
got=$(in_ns python3 -c '
import socket; s = socket.create_connection(("10.7.0.2", 7300), timeout=5)
s.sendall(b"hello"); print(s.recv(16).decode())')
[ "$got" = HELLO ] || fail "the capped program's listener: '$got'"
pass "per-client cap: socket 7 of 6 is EMFILE; another client gets its own 6; the capped program still serves"
