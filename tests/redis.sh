#!/usr/bin/env bash
# redis-server under the shim: redis-benchmark -n 100000 -c 50 -q from the
# kernel side completes without errors; redis-cli under the shim talks to a
# kernel-side redis.
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || fail "redis not installed"
bg shimmed redis-server --bind 10.7.0.2 --port 6379 --save '' --appendonly no --protected-mode no --dir "$WORK" --logfile "$WORK/redis.log"
wait_tcp 10.7.0.2 6379 || fail "redis under the shim did not start"
in_ns timeout 300 redis-benchmark -h 10.7.0.2 -n 100000 -c 50 -q > "$WORK/bench.txt" 2>&1 || fail "redis-benchmark exit $?"
[ "$(tr '\r' '\n' < "$WORK/bench.txt" | grep -v "rps=" | grep -ci "error")" != 0 ] && fail "redis-benchmark errors"
set_rps=$(tr '\r' '\n' < "$WORK/bench.txt" | awk '/^SET: [0-9]/ {print $2}')
get_rps=$(tr '\r' '\n' < "$WORK/bench.txt" | awk '/^GET: [0-9]/ {print $2}')
[ -n "$set_rps" ] && [ -n "$get_rps" ] || fail "no benchmark results: $(tail -5 "$WORK/bench.txt")"
pass "redis-benchmark -n 100000 -c 50 against redis under the shim: SET $set_rps/s, GET $get_rps/s"
stop_last

bg in_ns redis-server --bind 10.7.0.1 --port 6380 --save '' --appendonly no --protected-mode no --dir "$WORK" --logfile "$WORK/redis2.log"
wait_tcp 10.7.0.1 6380 || fail "kernel redis did not start"
shimmed timeout 10 redis-cli -h 10.7.0.1 -p 6380 set sockshim works >/dev/null || fail "redis-cli set"
out=$(shimmed timeout 10 redis-cli -h 10.7.0.1 -p 6380 get sockshim) || fail "redis-cli get"
[ "$out" = works ] || fail "redis-cli got '$out'"
pass "redis-cli under the shim against kernel redis"
