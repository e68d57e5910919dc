#!/usr/bin/env bash
# IPv6 with real servers (issue 12): nginx under the shim with
# `listen [::]:8080 ipv6only=off` (one AF_INET6 socket, dual stack) serves a
# 1 MB file to kernel curl over IPv6 and over IPv4 and survives wrk over
# IPv6 without errors; iperf3 -6 runs 5 s each way (server under the shim
# with a kernel client, client under the shim with a kernel server).
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || fail "nginx not installed"
command -v iperf3 >/dev/null || fail "iperf3 not installed"
mkdir -p "$WORK/html" "$WORK/tmp" "$WORK/logs"
head -c 1000000 /dev/urandom > "$WORK/html/1m.bin"
echo ok > "$WORK/html/index.html"
cat > "$WORK/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
error_log $WORK/logs/error.log warn; pid $WORK/nginx.pid;
events { worker_connections 1024; }
http {
  access_log $WORK/logs/access.log; sendfile on; tcp_nodelay on;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  server { listen [::]:8080 ipv6only=off; root $WORK/html; }
}
CONF
bg shimmed nginx -c "$WORK/nginx.conf" -p "$WORK"
retry 100 in_ns curl -s -o /dev/null "http://[fd00:7::2]:8080/" || fail "nginx under the shim did not start: $(cat "$WORK/logs/error.log")"
for url in "http://[fd00:7::2]:8080/1m.bin" "http://10.7.0.2:8080/1m.bin"; do
  in_ns timeout 30 curl -sS -o "$WORK/got" "$url" || fail "GET $url exit $?"
  [ "$(sha "$WORK/got")" = "$(sha "$WORK/html/1m.bin")" ] || fail "GET $url: sha256 differs"
done
grep -q "^::ffff:10.7.0.1 " "$WORK/logs/access.log" || fail "IPv4 client not logged as ::ffff:10.7.0.1: $(cat "$WORK/logs/access.log")"
grep -q "^fd00:7::1 " "$WORK/logs/access.log" || fail "IPv6 client not logged: $(cat "$WORK/logs/access.log")"
pass "nginx listen [::]:8080 ipv6only=off under the shim: 1 MB over IPv6 and IPv4"
if command -v wrk >/dev/null; then
  in_ns timeout 30 wrk -t2 -c20 -d5s "http://[fd00:7::2]:8080/index.html" > "$WORK/wrk.txt" 2>&1 || fail "wrk exit $?"
  grep -q "Socket errors\|Non-2xx" "$WORK/wrk.txt" && fail "wrk over IPv6: errors: $(cat "$WORK/wrk.txt")"
  pass "wrk over IPv6 against nginx under the shim: $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt") requests/s, no errors"
fi
stop_last

secs=5
gbps() { awk '/receiver/ {print $(NF-2), $(NF-1)}' "$1" | tail -1; }
bg shimmed iperf3 -6 -s -B fd00:7::2 -1 > "$WORK/srv-a.txt" 2>&1
sleep 0.5
retry 30 in_ns timeout $((secs + 20)) iperf3 -6 -c fd00:7::2 -t "$secs" > "$WORK/a.txt" 2>&1 || fail "iperf3 -6 kernel client -> shim server: $(tail -3 "$WORK/a.txt")"
stop_last
bg in_ns iperf3 -6 -s -B fd00:7::1 -1 > "$WORK/srv-b.txt" 2>&1
sleep 0.5
retry 30 shimmed timeout $((secs + 20)) iperf3 -6 -c fd00:7::1 -t "$secs" > "$WORK/b.txt" 2>&1 || fail "iperf3 -6 shim client -> kernel server: $(tail -3 "$WORK/b.txt")"
pass "iperf3 -6 kernel client -> shim server: $(gbps "$WORK/a.txt")"
pass "iperf3 -6 shim client -> kernel server: $(gbps "$WORK/b.txt")"
