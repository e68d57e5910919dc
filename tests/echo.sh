#!/usr/bin/env bash
# TCP and UDP echo with socat, both ways: shim client to kernel server and
# kernel client to shim server.
source "$(dirname "$0")/lib.sh"
bg in_ns socat TCP-LISTEN:7000,bind=10.7.0.1,reuseaddr,fork EXEC:cat
bg in_ns socat UDP-LISTEN:7002,bind=10.7.0.1,fork EXEC:cat
wait_tcp 10.7.0.1 7000 || fail "kernel echo server"
out=$(echo hello-tcp | shimmed timeout 10 socat - TCP:10.7.0.1:7000) || fail "tcp client exit"
[ "$out" = hello-tcp ] || fail "tcp echo got '$out'"
pass "TCP echo, shim client"
out=$(echo hello-udp | shimmed timeout 10 socat -t 1 - UDP:10.7.0.1:7002) || fail "udp client exit"
[ "$out" = hello-udp ] || fail "udp echo got '$out'"
pass "UDP echo, shim client"

# The shimmed socat serves one connection: retry the client until it listens.
bg shimmed socat TCP-LISTEN:7001,bind=10.7.0.2,reuseaddr EXEC:cat
out=
for _ in $(seq 50); do
  out=$(echo hello-back | in_ns timeout 10 socat - TCP:10.7.0.2:7001 2>/dev/null) && break
  sleep 0.1
done
[ "$out" = hello-back ] || fail "tcp echo back got '$out'"
pass "TCP echo, shim server"
stop_last; sleep 0.2

bg shimmed socat UDP-LISTEN:7003,bind=10.7.0.2 EXEC:cat
sleep 0.5
out=$(echo hello-udp-back | in_ns timeout 10 socat -t 1 - UDP:10.7.0.2:7003) || fail "kernel udp client exit"
[ "$out" = hello-udp-back ] || fail "udp echo back got '$out'"
pass "UDP echo, shim server"
