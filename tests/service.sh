#!/usr/bin/env bash
# The stack service sockshimd on its own (issue 10): of four started at
# once for one device exactly one runs (the bind of the abstract name
# decides) and the others leave with code 3; it exits by itself once idle;
# started without --foreground it detaches and the starter gets 0 at once;
# a missing device is one line on stderr and code 4.
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
