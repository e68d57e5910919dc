#!/usr/bin/env bash
# iperf3 10 s each direction through the shim (server under the shim with a
# kernel client, client under the shim with a kernel server), and the same
# on kernel sockets over a veth pair in this run, for comparison.
source "$(dirname "$0")/lib.sh"
command -v iperf3 >/dev/null || fail "iperf3 not installed"
secs=${IPERF_SECONDS:-10}
gbps() { awk '/receiver/ {print $(NF-2), $(NF-1)}' "$1" | tail -1; }
bg shimmed iperf3 -s -B 10.7.0.2 -1
sleep 0.5
retry 30 in_ns timeout $((secs + 20)) iperf3 -c 10.7.0.2 -t "$secs" > "$WORK/a.txt" 2>&1 || fail "kernel client -> shim server: $(tail -3 "$WORK/a.txt")"
bg in_ns iperf3 -s -B 10.7.0.1 -1
sleep 0.5
retry 30 shimmed timeout $((secs + 20)) iperf3 -c 10.7.0.1 -t "$secs" > "$WORK/b.txt" 2>&1 || fail "shim client -> kernel server: $(tail -3 "$WORK/b.txt")"
# TCP_CONGESTION through the shim as a real program uses it (iperf3 -C
# sets it, then reads back what runs for its report): bbr, this machine's
# default, and cubic chosen on the socket.
for cc in bbr cubic; do
  bg in_ns iperf3 -s -B 10.7.0.1 -1
  sleep 0.5
  retry 30 shimmed timeout 20 iperf3 -c 10.7.0.1 -t 1 -C "$cc" -J > "$WORK/c-$cc.json" 2>&1 || fail "shim client -C $cc: $(tail -3 "$WORK/c-$cc.json")"
  grep -q "\"sender_tcp_congestion\":[[:space:]]*\"$cc\"" "$WORK/c-$cc.json" || fail "-C $cc: $(grep -i congestion "$WORK/c-$cc.json")"
done
with_veth_pair || fail "veth pair"
ip netns exec "$VB" iperf3 -s -B 10.8.0.2 -1 >/dev/null 2>&1 & PIDS+=($!)
sleep 0.5
retry 30 ip netns exec "$VA" timeout $((secs + 20)) iperf3 -c 10.8.0.2 -t "$secs" > "$WORK/k.txt" 2>&1 || fail "kernel baseline"
pass "iperf3 kernel client -> shim server: $(gbps "$WORK/a.txt")"
pass "iperf3 shim client -> kernel server: $(gbps "$WORK/b.txt")"
pass "iperf3 kernel sockets over veth (baseline): $(gbps "$WORK/k.txt")"
pass "iperf3 -C bbr and -C cubic under the shim read back what runs"
