#!/usr/bin/env bash
# Loopback beside the kernel (issue 19) with redis: a shimmed redis-cli
# talks to a kernel redis-server on 127.0.0.1, and kernel redis-cli and
# redis-benchmark talk to a shimmed redis-server on 127.0.0.1 (its shadow
# listener; epoll in redis-server sees both stacks).
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || fail "redis not installed"
if [ "${SOCKSHIM_MODE:-process}" = service ]; then
  # The service logs the stack's counters as each client goes.
  export SOCKSHIM_SERVICE_LOG=$WORK/svc.log SOCKSHIM_LOG=debug
fi
bg in_ns redis-server --bind 127.0.0.1 --port 6390 --save '' --appendonly no --dir "$WORK" --logfile "$WORK/k.log"
wait_tcp 127.0.0.1 6390 || fail "kernel redis did not start"
shimmed timeout 10 redis-cli -h 127.0.0.1 -p 6390 set k1 v1 >/dev/null || fail "shimmed redis-cli set: exit $?"
out=$(shimmed timeout 10 redis-cli -h 127.0.0.1 -p 6390 get k1) || fail "shimmed redis-cli get: exit $?"
[ "$out" = v1 ] || fail "shimmed redis-cli got '$out'"
pass "shimmed redis-cli -> kernel redis-server on 127.0.0.1"
stop_last

bg shimmed redis-server --bind 127.0.0.1 --port 6391 --save '' --appendonly no --dir "$WORK" --logfile "$WORK/s.log"
wait_tcp 127.0.0.1 6391 || fail "shimmed redis-server not reachable on 127.0.0.1"
in_ns timeout 10 redis-cli -h 127.0.0.1 -p 6391 set k2 v2 >/dev/null || fail "kernel redis-cli set: exit $?"
out=$(in_ns timeout 10 redis-cli -h 127.0.0.1 -p 6391 get k2) || fail "kernel redis-cli get: exit $?"
[ "$out" = v2 ] || fail "kernel redis-cli got '$out'"
in_ns timeout 120 redis-benchmark -h 127.0.0.1 -p 6391 -n 20000 -c 20 -q -t set,get > "$WORK/b.txt" 2>&1 || fail "redis-benchmark exit $?"
[ "$(tr '\r' '\n' < "$WORK/b.txt" | grep -v "rps=" | grep -ci error)" != 0 ] && fail "redis-benchmark errors"
get_rps=$(tr '\r' '\n' < "$WORK/b.txt" | awk '/^GET: [0-9]/ {print $2}')
[ -n "$get_rps" ] || fail "no benchmark result: $(tail -3 "$WORK/b.txt")"
pass "kernel redis-cli and redis-benchmark (GET $get_rps/s) -> shimmed redis-server on 127.0.0.1"
# With the service, a second shimmed process shares the stack: its
# redis-cli reaches the shimmed server on our stack. (In process mode one
# device serves one process.)
if [ "${SOCKSHIM_MODE:-process}" = service ]; then
  looped() { grep -o 'frames_looped: [0-9]*' "$WORK/svc.log" 2>/dev/null | tail -1 | cut -d' ' -f2; }
  before=$(looped)
  out=$(shimmed timeout 10 redis-cli -h 127.0.0.1 -p 6391 get k2 2>/dev/null) || fail "shimmed redis-cli to shimmed server: exit $?"
  [ "$out" = v2 ] || fail "shimmed redis-cli got '$out' from the shimmed server"
  sleep 0.3
  n=$(( $(looped) - ${before:-0} ))
  [ "$n" -ge 6 ] || fail "the service's counters: frames_looped grew by $n, want >= 6 (the connection stayed on our stack)"
  pass "shimmed redis-cli -> shimmed redis-server on 127.0.0.1 stays on our stack (service: $n frames looped)"
fi
