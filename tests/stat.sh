#!/usr/bin/env bash
# `sockshim stat` (issue 14): nginx (master + one worker) under the shim in
# service mode, three kernel-side clients holding connections open; stat
# lists the listener held by both nginx processes and the three live
# connections held by the worker, with the right pids and peer ports, in
# the table and in --json; and the stack's counters. Without a service
# (process mode) it says so in one line and fails.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || fail "nginx not installed"
SOCKSHIM=${SOCKSHIM_BIN_DIR:-$ROOT/target/release}/sockshim
[ -x "$SOCKSHIM" ] || fail "missing $SOCKSHIM (cargo build --release -p cli)"
[ -x "${SOCKSHIM_BIN_DIR:-$ROOT/target/release}/sockshimd" ] || fail "missing sockshimd (cargo build --release -p service)"

out=$(in_ns "$SOCKSHIM" stat 2>&1) && fail "stat without a service succeeded: $out"
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "SOCKSHIM_MODE=service" ||
  fail "stat without a service: want one line naming SOCKSHIM_MODE=service, got: $out"
pass "stat without a service: $out"

mkdir -p "$WORK/html" "$WORK/tmp" "$WORK/logs"
echo hello > "$WORK/html/index.html"
chmod -R a+rX "$WORK"
cat > "$WORK/nginx.conf" <<CONF
daemon off; master_process on; worker_processes 1;
error_log $WORK/logs/error.log warn; pid $WORK/nginx.pid;
events { worker_connections 64; }
http {
  access_log off; client_header_timeout 60s;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  server { listen 10.7.0.2:8080; root $WORK/html; }
}
CONF
bg ip netns exec "$NS" env LD_PRELOAD="$SHIM" SOCKSHIM_MODE=service SOCKSHIM_IDLE_MS=1000 \
  nginx -c "$WORK/nginx.conf" -p "$WORK"
wait_tcp 10.7.0.2 8080 || fail "nginx under the shim did not start: $(cat "$WORK/logs/error.log")"
master=$(cat "$WORK/nginx.pid")
worker=$(pgrep -P "$master" | head -1)
[ -n "$worker" ] || fail "no nginx worker"

# Three connections held open, each with half a request (nginx waits for
# the rest); their local ports go to a file.
bg in_ns python3 -c '
import socket, sys, time
cs = []
for _ in range(3):
    c = socket.create_connection(("10.7.0.2", 8080))
    c.sendall(b"GET / HTTP/1.1\r\n")
    cs.append(c)
open(sys.argv[1], "w").write(" ".join(str(c.getsockname()[1]) for c in cs))
time.sleep(60)
' "$WORK/ports"
wait_file "$WORK/ports" || fail "clients did not connect"
sleep 0.3

in_ns "$SOCKSHIM" stat > "$WORK/table.txt" 2>&1 || fail "stat: $(cat "$WORK/table.txt")"
in_ns "$SOCKSHIM" stat --json > "$WORK/stat.json" 2>&1 || fail "stat --json: $(cat "$WORK/stat.json")"
python3 - "$WORK/stat.json" "$master" "$worker" $(cat "$WORK/ports") <<'PY' || fail "stat --json: $(cat "$WORK/stat.json")"
import json, sys
d = json.load(open(sys.argv[1]))
master, worker = int(sys.argv[2]), int(sys.argv[3])
ports = sorted(int(p) for p in sys.argv[4:])
pids = lambda s: sorted({u["pid"] for u in s["users"]})
lst = [s for s in d["sockets"] if s["state_name"] == "LISTEN" and s["local"] == "10.7.0.2:8080"]
assert len(lst) == 1, ("listener", d["sockets"])
assert pids(lst[0]) == sorted([master, worker]), ("listener pids", lst[0]["users"], master, worker)
conns = [s for s in d["sockets"] if s["state_name"] == "ESTAB" and s["local"] == "10.7.0.2:8080"]
got = sorted(int(s["remote"].split(":")[1]) for s in conns)
assert got == ports, ("connections", got, ports)
for s in conns:
    assert pids(s) == [worker], ("connection pids", s["users"], worker)
    assert s["users"][0]["comm"] == "nginx" and s["users"][0]["fd"] > 2, s["users"]
    assert s["cwnd"] > 0 and s["rto_us"] >= 200000 and s["bytes_received"] == 16, s
assert d["counters"]["tcp_segs_in"] > 0 and "drop_checksum" in d["counters"], d["counters"]
print("listener pids %s, connections from ports %s held by worker %d" % (pids(lst[0]), got, worker))
PY
pass "stat --json: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["sockets"]), "sockets,", d["counters"]["tcp_segs_in"], "segments in")' "$WORK/stat.json")"
grep -q "^tcp   LISTEN .*10.7.0.2:8080 .*users:((\"nginx\",pid=$master,fd=[0-9]*),(\"nginx\",pid=$worker,fd=[0-9]*))\|^tcp   LISTEN .*10.7.0.2:8080 .*users:((\"nginx\",pid=$worker,fd=[0-9]*),(\"nginx\",pid=$master,fd=[0-9]*))" "$WORK/table.txt" ||
  fail "table: no listener line with both pids: $(cat "$WORK/table.txt")"
[ "$(grep -c "^tcp   ESTAB .*10.7.0.2:8080 .*users:((\"nginx\",pid=$worker," "$WORK/table.txt")" = 3 ] ||
  fail "table: want 3 ESTAB lines held by the worker: $(cat "$WORK/table.txt")"
grep -q "cwnd:" "$WORK/table.txt" && grep -q "^tcp_segs_in" "$WORK/table.txt" || fail "table: no TCP_INFO or counters: $(cat "$WORK/table.txt")"
cat "$WORK/table.txt"
pass "stat table: listener (pids $master, $worker) and 3 connections (worker $worker)"
